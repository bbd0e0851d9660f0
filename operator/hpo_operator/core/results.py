"""A job's results beyond its Describe: its best training jobs and the best one's model artifact.

Status lists the top N training jobs (`topTrainingJobs`: ListTrainingJobsForHyperParameterTuningJob
sorted by FinalObjectiveMetricValue, the objective's best first; AWS leaves out training jobs
without an objective) and the S3 path of BestTrainingJob's model (`bestTrainingJobModelArtifacts`,
from DescribeTrainingJob). Both cost calls, so each is read only when it can have changed:

- the List, one page of N: when TrainingJobStatusCounters.Completed differs from the count it was
  last read at (`topTrainingJobsCompleted`): only a newly completed training job can enter the top;
- DescribeTrainingJob: when BestTrainingJob names another job than the one the artifact was read
  for (`bestTrainingJobModelArtifacts.trainingJobName`).

A reconcile reads each at most once (the observation keeps the answer), only for a job proven the
resource's, never while it is being deleted; the shell sends both through the account's budget.
What was read at is in status, so a restart reads nothing again. A read that failed leaves the
last results; a finished job's reconcile is then retried with backoff (no poll would come back to
it), a running job's next change reads again. A read AWS refuses for good (AccessDenied, say) is
not repeated for the same count or job, and says why in a Warning Event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from hpo_operator.core.outcome import status_arn
from hpo_operator.core.types import (
    FINISHED,
    STATUS_JOB_STATE,
    AwsFailure,
    Call,
    ErrorKind,
    Event,
    Observation,
    Op,
    ReconcileSettings,
    Resource,
    Retry,
    Step,
)
from hpo_operator.model.translate import (
    BEST_MODEL_ARTIFACTS,
    RESULT_FIELDS,
    TOP_TRAINING_JOBS,
    TOP_TRAINING_JOBS_COMPLETED,
    model_artifacts_to_status,
    trainings_to_status,
)

MAX_TOP_TRAINING_JOBS = 20  # status stays small: ~0.5 kB a training job
BEST_CHANGED = "BestTrainingJobChanged"


def completed(status: Mapping[str, Any]) -> int:
    """TrainingJobStatusCounters.Completed as status shows it (0 when absent)."""
    counters = status.get("trainingJobStatusCounters")
    value = counters.get("completed") if isinstance(counters, Mapping) else None
    return value if isinstance(value, int) else 0


def best_job(status: Mapping[str, Any]) -> str | None:
    """BestTrainingJob's name in status."""
    best = status.get("bestTrainingJob")
    name = best.get("trainingJobName") if isinstance(best, Mapping) else None
    return str(name) if name else None


def best_objective(status: Mapping[str, Any]) -> tuple[str, float] | None:
    """BestTrainingJob's objective (metric name, value) in status."""
    best = status.get("bestTrainingJob")
    metric = best.get("finalHyperParameterTuningJobObjectiveMetric") if best else None
    if not isinstance(metric, Mapping) or not isinstance(metric.get("value"), int | float):
        return None
    return str(metric.get("metricName") or ""), float(metric["value"])


def artifacts_job(status: Mapping[str, Any]) -> str | None:
    """The training job whose model artifact status holds."""
    found = status.get(BEST_MODEL_ARTIFACTS)
    name = found.get("trainingJobName") if isinstance(found, Mapping) else None
    return str(name) if name else None


def sort_order(r: Resource, described: Mapping[str, Any] | None) -> str | None:
    """Ascending for Minimize, Descending for Maximize (best first): the objective of the job's
    config, else of its first training job definition; None when neither names one."""
    config = (described or {}).get("HyperParameterTuningJobConfig") or {}
    kind = (config.get("HyperParameterTuningJobObjective") or {}).get("Type")
    if kind is None:
        spec_config = r.spec.get("hyperParameterTuningJobConfig") or {}
        kind = (spec_config.get("hyperParameterTuningJobObjective") or {}).get("type_")
    if kind is None:
        definitions = r.spec.get("trainingJobDefinitions") or ()
        first = definitions[0] if definitions and isinstance(definitions[0], Mapping) else {}
        kind = (first.get("tuningObjective") or {}).get("type_")
    return {"Minimize": "Ascending", "Maximize": "Descending"}.get(str(kind))


def carried(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """`after` with the results `before` held for the same job (a Describe does not bring them)."""
    out = dict(after)
    if status_arn(before) and status_arn(before) == status_arn(after):
        for key in RESULT_FIELDS:
            if key not in out and key in before:
                out[key] = before[key]
    return out


def wanted(status: Mapping[str, Any], cfg: ReconcileSettings) -> tuple[bool, bool]:
    """(the top training jobs, the best one's model artifact) are out of date in `status`."""
    count = completed(status)
    top = cfg.top_training_jobs > 0 and count > 0
    stale_top = top and status.get(TOP_TRAINING_JOBS_COMPLETED) != count
    best = best_job(status)
    return stale_top, best is not None and best != artifacts_job(status)


def results_pending(
    status: Mapping[str, Any], meta: Mapping[str, Any], cfg: ReconcileSettings
) -> bool:
    """A finished job's results are out of date (a read failed) and the resource stays: the
    shared poller keeps reporting it until they are read."""
    if meta.get("deletionTimestamp") or status.get(STATUS_JOB_STATE) not in FINISHED:
        return False
    return status_arn(status) is not None and any(wanted(status, cfg))


def _settled(result: Mapping[str, Any] | AwsFailure | None) -> bool:
    """A read that answered, or that AWS refused for good (not to be repeated)."""
    if result is None:
        return False
    if isinstance(result, AwsFailure):
        return result.kind in (ErrorKind.TERMINAL, ErrorKind.NOT_FOUND)
    return True


def next_call(
    r: Resource, status: Mapping[str, Any], obs: Observation, cfg: ReconcileSettings
) -> Call | None:
    """The results read this reconcile still needs for `status` (the step's, results carried)."""
    name = _job_name(status)
    if name is None:
        return None
    stale_top, stale_model = wanted(status, cfg)
    order = sort_order(r, obs.described)
    if stale_top and order is None and obs.described is None and obs.trainings is None:
        return Call(Op.DESCRIBE, name)  # the spec names no objective (adopted, read-only)
    if stale_top and order is not None and obs.trainings is None:
        request = {
            "HyperParameterTuningJobName": name,
            "SortBy": "FinalObjectiveMetricValue",
            "SortOrder": order,
            "MaxResults": min(cfg.top_training_jobs, MAX_TOP_TRAINING_JOBS),
        }
        return Call(Op.LIST_TRAININGS, name, request=request)
    best = best_job(status)
    if stale_model and best is not None and obs.training is None:
        return Call(Op.DESCRIBE_TRAINING, name, request={"TrainingJobName": best})
    return None


def _job_name(status: Mapping[str, Any]) -> str | None:
    arn = status_arn(status)
    return arn.rsplit("/", 1)[-1] if arn and "/" in arn else None


def apply(
    r: Resource, step: Step, obs: Observation, cfg: ReconcileSettings
) -> tuple[Step, Call | None]:
    """The step with the results in its status, and the Event of a new best training job; or the
    read to make first."""
    if step.status is None:
        return step, None
    status = carried(r.status, step.status)
    call = next_call(r, status, obs, cfg)
    if call is not None:
        return replace(step, status=status), call
    events: list[Event] = []
    retry = False
    count = completed(status)
    n = min(cfg.top_training_jobs, MAX_TOP_TRAINING_JOBS)
    if isinstance(obs.trainings, Mapping):
        status[TOP_TRAINING_JOBS] = trainings_to_status(obs.trainings)[:n]
        status[TOP_TRAINING_JOBS_COMPLETED] = count
    elif obs.trainings is not None:
        retry = not _settled(obs.trainings)
        if not retry:
            status[TOP_TRAINING_JOBS_COMPLETED] = count
            events.append(_refused(obs.trainings, "the job's best training jobs"))
    if n <= 0:
        status.pop(TOP_TRAINING_JOBS, None)
        status.pop(TOP_TRAINING_JOBS_COMPLETED, None)
    elif isinstance(status.get(TOP_TRAINING_JOBS), list):
        status[TOP_TRAINING_JOBS] = status[TOP_TRAINING_JOBS][:n]
    best = best_job(status)
    if best is not None and obs.training is not None:
        if isinstance(obs.training, Mapping):
            status[BEST_MODEL_ARTIFACTS] = model_artifacts_to_status(best, obs.training)
        elif _settled(obs.training):
            status[BEST_MODEL_ARTIFACTS] = {"trainingJobName": best}
            if obs.training.kind is ErrorKind.TERMINAL:
                events.append(_refused(obs.training, f"the model artifact of {best}"))
        else:
            retry = True
    events.extend(best_changed(r.status, status))
    out = replace(step, status=status, events=step.events + tuple(events))
    if retry and step.retry is None and status.get(STATUS_JOB_STATE) in FINISHED:
        out = replace(out, retry=Retry.BACKOFF)
    return out, None


def best_changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[Event, ...]:
    """The Event of a new BestTrainingJob, naming its objective."""
    best = best_job(after)
    old = best_job(before)
    if best is None or best == old:
        return ()
    objective = best_objective(after)
    message = f"Best training job is now {best}"
    if objective is not None:
        message += f": {objective[0]} = {objective[1]:g}"
    if old is not None:
        message += f" (was {old})"
    return (Event("Normal", BEST_CHANGED, message),)


def _refused(failure: AwsFailure, what: str) -> Event:
    return Event(
        "Warning",
        "ResultsUnavailable",
        f"SageMaker refused {failure.op.value} for {what} ({failure.code}: {failure.message}); "
        "status keeps the last results",
    )
