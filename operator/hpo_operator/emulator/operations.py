"""The SageMaker operations the emulator serves: request in, response document out.

Each request is checked against botocore's model first (`hpo_operator.validate`), then by the
rules that need the emulator's own semantics or state (Grid and Hyperband rules here; names and
warm-start parents in the store).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from hpo_operator.emulator import errors, search
from hpo_operator.emulator.space import NumericParameter
from hpo_operator.emulator.store import Store
from hpo_operator.emulator.tuningjob import Training, TuningJob, definitions, failure_reason
from hpo_operator.validate import Problem, validate_request

Handler = Callable[[Store, Mapping[str, Any], float], dict[str, Any]]


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, separators=(",", ":"), default=str)
    return text if len(text) <= 200 else text[:197] + "..."


def _lookup(params: Mapping[str, Any], path: tuple[str | int, ...]) -> Any:
    current: Any = params
    for segment in path:
        if isinstance(segment, int):
            ok = isinstance(current, list) and 0 <= segment < len(current)
            current = current[segment] if ok else None
        else:
            current = current.get(segment) if isinstance(current, Mapping) else None
    return current


# The validator's phrases, as AWS words the same constraints.
_AWS_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^is required$"), "Member must not be null"),
    (
        re.compile(r"^must match pattern (.*)$"),
        r"Member must satisfy regular expression pattern: \1",
    ),
    (
        re.compile(r"^must be at most (\d+) characters? long$"),
        r"Member must have length less than or equal to \1",
    ),
    (
        re.compile(r"^must be at least (\d+) characters? long$"),
        r"Member must have length greater than or equal to \1",
    ),
    (re.compile(r"^must be ≥ (\S+)$"), r"Member must have value greater than or equal to \1"),
    (re.compile(r"^must be ≤ (\S+)$"), r"Member must have value less than or equal to \1"),
    (re.compile(r"^must be one of: (.*)$"), r"Member must satisfy enum value set: [\1]"),
)


def aws_phrase(message: str) -> str:
    """A validator message in AWS's words (`Member must ...`)."""
    for pattern, replacement in _AWS_PHRASES:
        if pattern.match(message):
            return pattern.sub(replacement, message)
    return f"Member {message}" if message.startswith("must") else message


def format_problems(params: Mapping[str, Any], problems: list[Problem]) -> str:
    """AWS's message: `N validation errors detected: Value 'x' at 'a.b' failed to satisfy
    constraint: Member must ...; ...`."""
    parts = []
    for problem in problems:
        value = _lookup(params, problem.path)
        shown = "null" if value is None else f"'{_value_text(value)}'"
        message = aws_phrase(problem.message)
        parts.append(
            f"Value {shown} at '{problem.aws_path()}' failed to satisfy constraint: {message}"
        )
    count = len(parts)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(parts)


def to_epoch(value: Any) -> float | None:
    """A request timestamp (epoch seconds from botocore, or ISO 8601) as epoch seconds."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _strategy_rules(params: Mapping[str, Any]) -> list[Problem]:
    """Grid and Hyperband rules of CreateHyperParameterTuningJob that the model cannot say."""
    config = params["HyperParameterTuningJobConfig"]
    strategy = config.get("Strategy")
    limits = config.get("ResourceLimits") or {}
    base = ("HyperParameterTuningJobConfig",)
    problems: list[Problem] = []
    if strategy == "Grid":
        for i, definition in enumerate(definitions(params)):
            for p in definition.space.parameters:
                if isinstance(p, NumericParameter):
                    where: tuple[str | int, ...] = (*base, "ParameterRanges")
                    if params.get("TrainingJobDefinitions"):
                        where = ("TrainingJobDefinitions", i, "HyperParameterRanges")
                    problems.append(
                        Problem(
                            where,
                            f"must hold only CategoricalParameterRanges with the Grid strategy "
                            f"('{p.name}' is not categorical)",
                        )
                    )
    elif limits.get("MaxNumberOfTrainingJobs") is None:
        problems.append(
            Problem(
                (*base, "ResourceLimits", "MaxNumberOfTrainingJobs"),
                f"must be set unless the strategy is Grid (it is {strategy})",
            )
        )
    if strategy == "Hyperband" and config.get("TrainingJobEarlyStoppingType") == "Auto":
        problems.append(
            Problem(
                (*base, "TrainingJobEarlyStoppingType"),
                "must be Off with the Hyperband strategy (it stops training jobs early itself)",
            )
        )
    if config.get("StrategyConfig") and strategy != "Hyperband":
        problems.append(
            Problem((*base, "StrategyConfig"), "must be set only with the Hyperband strategy")
        )
    return problems


def _create(store: Store, params: Mapping[str, Any], now: float) -> dict[str, Any]:
    problems = _strategy_rules(params)
    if problems:
        raise errors.validation(format_problems(params, problems))
    job = store.create(params, now)
    return {"HyperParameterTuningJobArn": job.arn}


def _describe(store: Store, params: Mapping[str, Any], now: float) -> dict[str, Any]:
    job = store.get(str(params["HyperParameterTuningJobName"]))
    return job.describe(now)


def _list(store: Store, params: Mapping[str, Any], now: float) -> dict[str, Any]:
    filters = dict(params)
    for key in (
        "CreationTimeAfter",
        "CreationTimeBefore",
        "LastModifiedTimeAfter",
        "LastModifiedTimeBefore",
    ):
        filters[key] = to_epoch(params.get(key))
    return store.list_jobs(filters, now)


def _stop(store: Store, params: Mapping[str, Any], now: float) -> dict[str, Any]:
    store.stop(str(params["HyperParameterTuningJobName"]), now)
    return {}


def _delete(store: Store, params: Mapping[str, Any], now: float) -> dict[str, Any]:
    store.delete(str(params["HyperParameterTuningJobName"]), now)
    return {}


def _list_trainings(store: Store, params: Mapping[str, Any], now: float) -> dict[str, Any]:
    return store.list_trainings(params, now)


def _describe_training(store: Store, params: Mapping[str, Any], now: float) -> dict[str, Any]:
    job, t = store.training(str(params["TrainingJobName"]), now)
    return describe_training(job, t, now)


def _add_tags(store: Store, params: Mapping[str, Any], now: float) -> dict[str, Any]:
    return {"Tags": store.add_tags(str(params["ResourceArn"]), list(params["Tags"]))}


def _list_tags(store: Store, params: Mapping[str, Any], now: float) -> dict[str, Any]:
    job = store.by_arn(str(params["ResourceArn"]))
    size = int(params.get("MaxResults") or 50)
    start = 0
    token = params.get("NextToken")
    if token:
        if not str(token).isdigit():
            raise errors.validation("Invalid pagination token: the NextToken is not valid.")
        start = int(token)
    tags = job.tags[start : start + size]
    out: dict[str, Any] = {"Tags": [dict(t) for t in tags]}
    if start + size < len(job.tags):
        out["NextToken"] = str(start + size)
    return out


def _delete_tags(store: Store, params: Mapping[str, Any], now: float) -> dict[str, Any]:
    store.delete_tags(str(params["ResourceArn"]), [str(k) for k in params["TagKeys"]])
    return {}


def _search(store: Store, params: Mapping[str, Any], now: float) -> dict[str, Any]:
    return search.search(store, params, now, store.config.faults.search_lag)


OPERATIONS: dict[str, Handler] = {
    "CreateHyperParameterTuningJob": _create,
    "DescribeHyperParameterTuningJob": _describe,
    "ListHyperParameterTuningJobs": _list,
    "StopHyperParameterTuningJob": _stop,
    "DeleteHyperParameterTuningJob": _delete,
    "ListTrainingJobsForHyperParameterTuningJob": _list_trainings,
    "DescribeTrainingJob": _describe_training,
    "AddTags": _add_tags,
    "ListTags": _list_tags,
    "DeleteTags": _delete_tags,
    "Search": _search,
}


def call(store: Store, operation: str, params: Any, now: float) -> dict[str, Any]:
    """Run one operation: model validation, then the handler, at the instant `now`."""
    handler = OPERATIONS.get(operation)
    if handler is None:
        raise errors.unknown_operation(operation)
    if not isinstance(params, Mapping):
        raise errors.ApiError("SerializationException", "The request body must be a JSON object.")
    problems = validate_request(operation, params)
    if problems:
        raise errors.validation(format_problems(params, problems))
    store.tick(now)
    return handler(store, params, now)


def describe_training(job: TuningJob, t: Training, now: float) -> dict[str, Any]:
    """DescribeTrainingJob for a training job a tuning job launched."""
    definition = job.definition_of(t)
    raw = definition.raw
    summary = job.summary(t, now)
    status = summary["TrainingJobStatus"]
    output = raw.get("OutputDataConfig") or {}
    algo = dict(raw.get("AlgorithmSpecification") or {})
    algo.setdefault("TrainingInputMode", "File")
    hyper = dict(raw.get("StaticHyperParameters") or {})
    if definition.metric:
        hyper.setdefault("_tuning_objective_metric", definition.metric)
    hyper.update(t.tuned)
    resources = raw.get("ResourceConfig") or raw.get("HyperParameterTuningResourceConfig") or {}
    resource_config = {
        k: v
        for k, v in resources.items()
        if k in ("InstanceType", "InstanceCount", "VolumeSizeInGB", "VolumeKmsKeyId")
    }
    resource_config.setdefault("VolumeSizeInGB", 30)
    out: dict[str, Any] = {
        "TrainingJobName": t.name,
        "TrainingJobArn": job.training_arn(t),
        "TuningJobArn": job.arn,
        "ModelArtifacts": {
            "S3ModelArtifacts": f"{str(output.get('S3OutputPath', '')).rstrip('/')}/{t.name}"
            "/output/model.tar.gz"
        },
        "TrainingJobStatus": status,
        "SecondaryStatus": _secondary(status, "TrainingStartTime" in summary),
        "HyperParameters": hyper,
        "AlgorithmSpecification": algo,
        "RoleArn": raw.get("RoleArn"),
        "InputDataConfig": raw.get("InputDataConfig") or [],
        "OutputDataConfig": output,
        "ResourceConfig": resource_config,
        "StoppingCondition": raw.get("StoppingCondition") or {},
        "CreationTime": t.start,
        "LastModifiedTime": max(
            summary.get("TrainingEndTime", 0.0), summary.get("TrainingStartTime", t.start)
        ),
        "SecondaryStatusTransitions": _transitions(summary, status),
        "EnableNetworkIsolation": bool(raw.get("EnableNetworkIsolation", False)),
        "EnableInterContainerTrafficEncryption": bool(
            raw.get("EnableInterContainerTrafficEncryption", False)
        ),
        "EnableManagedSpotTraining": bool(raw.get("EnableManagedSpotTraining", False)),
    }
    for key in ("VpcConfig", "CheckpointConfig", "Environment", "RetryStrategy"):
        if raw.get(key):
            out[key] = raw[key]
    for key in ("TrainingStartTime", "TrainingEndTime", "FailureReason"):
        if key in summary:
            out[key] = summary[key]
    if status == "Failed":
        out["FailureReason"] = failure_reason(definition.image)
    if "TrainingStartTime" in summary and "TrainingEndTime" in summary:
        seconds = max(0, int(summary["TrainingEndTime"] - summary["TrainingStartTime"]))
        out["TrainingTimeInSeconds"] = seconds
        out["BillableTimeInSeconds"] = seconds
    if status == "Completed":
        out["FinalMetricDataList"] = [
            {"MetricName": definition.metric, "Value": t.value, "Timestamp": t.end}
        ]
    return out


def _secondary(status: str, started: bool) -> str:
    if status == "InProgress":
        return "Training" if started else "Starting"
    return status


def _transitions(summary: Mapping[str, Any], status: str) -> list[dict[str, Any]]:
    created = summary["CreationTime"]
    started = summary.get("TrainingStartTime")
    ended = summary.get("TrainingEndTime")
    steps: list[dict[str, Any]] = [
        {"Status": "Starting", "StartTime": created, "StatusMessage": "Preparing the instances"}
    ]
    if started is not None:
        steps[0]["EndTime"] = started
        steps.append(
            {"Status": "Training", "StartTime": started, "StatusMessage": "Training in progress"}
        )
    if status != "InProgress":
        at = ended if ended is not None else steps[-1]["StartTime"]
        steps[-1].setdefault("EndTime", at)
        step: dict[str, Any] = {"Status": status, "StartTime": at, "StatusMessage": status}
        if ended is not None:
            step["EndTime"] = ended
        steps.append(step)
    return steps
