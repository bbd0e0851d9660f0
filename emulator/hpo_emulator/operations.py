"""The SageMaker operations the emulator serves: request in, response document out.

Each request is first judged by the emulator's own checks (`checks.py`: botocore's ParamValidator,
the model's traits, the documented cross-field rules), then by the rules that need the store's
state (names in use, warm-start parents, limits).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from hpo_emulator import checks, errors, search
from hpo_emulator.store import Store
from hpo_emulator.tuningjob import Training, TuningJob, failure_reason
from hpo_operator.model.timestamps import parse_timestamp

Handler = Callable[[Store, Mapping[str, Any], float], dict[str, Any]]


def to_epoch(value: Any) -> float | None:
    """A request timestamp (epoch seconds from botocore, or ISO 8601) as epoch seconds."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return parse_timestamp(value if isinstance(value, datetime) else str(value)).timestamp()


def _create(store: Store, params: Mapping[str, Any], now: float) -> dict[str, Any]:
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
    params = checks.check(operation, params, store.region)
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
