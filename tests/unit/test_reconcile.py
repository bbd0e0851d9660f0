"""The reconciler's decisions, run against an in-memory SageMaker: no Kubernetes, no AWS.

Each test plays the operator's part with `drive` and then applies the outcome the way the shell
does (status replaced, annotations merged), so whole lifecycles read top to bottom.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from hpo_operator.core import conditions as c
from hpo_operator.core.driver import drive
from hpo_operator.core.outcome import parse_arn, spec_hash, untagged_hash
from hpo_operator.core.target import target_of
from hpo_operator.core.types import (
    AwsFailure,
    Call,
    ErrorKind,
    Mode,
    Op,
    ReconcileSettings,
    Resource,
    Retry,
    Step,
    Trigger,
)
from hpo_operator.identity import (
    ANN_ADOPTION_FIELDS,
    ANN_ADOPTION_POLICY,
    ANN_DEFAULT_REGION,
    ANN_DELETION_POLICY,
    ANN_ENDPOINT_URL,
    ANN_JOB_NAME,
    ANN_READ_ONLY,
    ANN_REGION,
    ANN_SPEC_HASH,
    ANN_UNTAGGED_HASH,
)
from hpo_operator.shell.backoff import backoff_delay, jittered
from hpo_operator.shell.mergepatch import merge_patch

ACCOUNT = "123456789012"
NOW = "2026-03-01T10:00:00Z"
SETTINGS = ReconcileSettings(default_region="us-west-2", operator_version="1.2.3")
SPEC: dict[str, Any] = {
    "hyperParameterTuningJobName": "xgb-tuning-1",
    "hyperParameterTuningJobConfig": {
        "strategy": "Bayesian",
        "hyperParameterTuningJobObjective": {"type_": "Minimize", "metricName": "validation:error"},
        "resourceLimits": {"maxNumberOfTrainingJobs": 4, "maxParallelTrainingJobs": 2},
        "parameterRanges": {
            "integerParameterRanges": [
                {"name": "num_round", "minValue": "10", "maxValue": "20", "scalingType": "Linear"}
            ]
        },
    },
    "trainingJobDefinition": {
        "staticHyperParameters": {"base_score": "0.5"},
        "algorithmSpecification": {
            "trainingImage": "433757028032.dkr.ecr.us-west-2.amazonaws.com/xgboost:1",
            "trainingInputMode": "File",
        },
        "roleARN": "arn:aws:iam::123456789012:role/sagemaker-execution",
        "inputDataConfig": [
            {
                "channelName": "train",
                "dataSource": {
                    "s3DataSource": {
                        "s3DataType": "S3Prefix",
                        "s3URI": "s3://bucket/train",
                        "s3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "outputDataConfig": {"s3OutputPath": "s3://bucket/output"},
        "resourceConfig": {"instanceType": "ml.m5.large", "instanceCount": 1, "volumeSizeInGB": 25},
        "stoppingCondition": {"maxRuntimeInSeconds": 3600},
    },
    "tags": [{"key": "team", "value": "ml"}],
}


class FakeSageMaker:
    """Just enough SageMaker: one region, jobs by name, tags by ARN, scripted failures."""

    def __init__(self, region: str = "us-west-2") -> None:
        self.region = region
        self.jobs: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, list[dict[str, str]]] = {}
        self.calls: list[Op] = []
        self.requests: list[Mapping[str, Any]] = []
        self.failures: dict[Op, AwsFailure] = {}
        # A job's training jobs, as ListTrainingJobsForHyperParameterTuningJob summarises them.
        self.trainings: dict[str, list[dict[str, Any]]] = {}
        # What the operator process keeps per resource uid: the job proven its own (`Step.proven`);
        # one FakeSageMaker is one operator process (clear it to play a restart).
        self.proven: dict[str, str] = {}

    def arn(self, name: str) -> str:
        return (
            f"arn:aws:sagemaker:{self.region}:{ACCOUNT}:hyper-parameter-tuning-job/{name.lower()}"
        )

    def add_job(self, name: str, tags: list[dict[str, str]], state: str = "InProgress") -> str:
        arn = self.arn(name)
        self.jobs[name] = {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobArn": arn,
            "HyperParameterTuningJobStatus": state,
            "CreationTime": "2026-03-01T09:59:00Z",
            "LastModifiedTime": "2026-03-01T09:59:00Z",
            "TrainingJobStatusCounters": {"Completed": 0, "InProgress": 2},
        }
        self.tags[arn] = tags
        return arn

    def set_state(self, name: str, state: str, **extra: Any) -> None:
        self.jobs[name]["HyperParameterTuningJobStatus"] = state
        self.jobs[name].update(extra)

    def top_trainings(self, job: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """One page sorted by FinalObjectiveMetricValue (those without one left out, as AWS)."""
        assert request["SortBy"] == "FinalObjectiveMetricValue"
        scored = [
            t
            for t in self.trainings.get(job, [])
            if "FinalHyperParameterTuningJobObjectiveMetric" in t
        ]
        scored.sort(
            key=lambda t: t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
            reverse=request["SortOrder"] == "Descending",
        )
        return {"TrainingJobSummaries": copy.deepcopy(scored[: request["MaxResults"]])}

    async def __call__(self, call: Call) -> Mapping[str, Any] | AwsFailure:
        self.calls.append(call.op)
        if call.op in self.failures:
            return self.failures[call.op]
        job = self.jobs.get(call.job_name)
        if call.op is Op.CREATE:
            assert call.request is not None
            self.requests.append(call.request)
            if job is not None:
                return AwsFailure(call.op, "ResourceInUse", "name in use", ErrorKind.IN_USE)
            arn = self.add_job(call.job_name, list(call.request.get("Tags", [])))
            return {"HyperParameterTuningJobArn": arn}
        if job is None:
            return AwsFailure(call.op, "ResourceNotFound", "no such job", ErrorKind.NOT_FOUND)
        if call.op is Op.DESCRIBE:
            return copy.deepcopy(job)
        if call.op is Op.LIST_TRAININGS:
            return self.top_trainings(call.job_name, call.request or {})
        if call.op is Op.DESCRIBE_TRAINING:
            name = str((call.request or {})["TrainingJobName"])
            path = f"s3://bucket/output/{name}/output/model.tar.gz"
            return {"TrainingJobName": name, "ModelArtifacts": {"S3ModelArtifacts": path}}
        if call.op is Op.STOP:
            if job["HyperParameterTuningJobStatus"] != "InProgress":
                return AwsFailure(call.op, "ValidationException", "not running", ErrorKind.TERMINAL)
            job["HyperParameterTuningJobStatus"] = "Stopping"
            return {}
        if call.op is Op.ADD_TAGS:
            added = list((call.request or {})["Tags"])
            keys = {t["Key"] for t in added}
            kept = [t for t in self.tags[call.arn or ""] if t["Key"] not in keys]
            self.tags[call.arn or ""] = kept + added
            return {"Tags": added}
        if call.op is Op.DELETE_TAGS:
            gone = set((call.request or {})["TagKeys"])
            self.tags[call.arn or ""] = [
                t for t in self.tags[call.arn or ""] if t["Key"] not in gone
            ]
            return {}
        return {"Tags": self.tags[call.arn or ""]}


def resource(**changes: Any) -> Resource:
    base = Resource(
        namespace="team-a",
        name="tuning",
        uid="uid-1",
        generation=1,
        spec=copy.deepcopy(SPEC),
        status={},
    )
    return replace(base, **changes)


def run(r: Resource, sm: FakeSageMaker, trigger: Trigger = Trigger.CHANGE, **settings: Any) -> Step:
    cfg = replace(SETTINGS, **settings)
    step = asyncio.run(drive(r, cfg, trigger, sm, lambda: NOW, known=sm.proven.get(r.uid)))
    if step.proven is not None:
        sm.proven[r.uid] = step.proven
    return step


def apply(r: Resource, step: Step) -> Resource:
    """What the shell does with a step: replace status, merge annotations."""
    status = step.status if step.status is not None else r.status
    return replace(
        r, status=copy.deepcopy(dict(status)), annotations={**r.annotations, **step.annotations}
    )


def condition(r: Resource | Step, kind: str) -> Mapping[str, Any] | None:
    status = r.status if isinstance(r, Resource) else (r.status or {})
    return c.find(status.get("conditions"), kind)


def reasons(step: Step) -> list[str]:
    return [e.reason for e in step.events]


# --- Create -------------------------------------------------------------------------------------


def test_create_sends_the_translated_spec_plus_system_tags_and_writes_metadata() -> None:
    sm = FakeSageMaker()
    step = run(resource(), sm)
    assert sm.calls == [Op.CREATE, Op.DESCRIBE]
    request = sm.requests[0]
    assert request["HyperParameterTuningJobName"] == "xgb-tuning-1"
    assert request["TrainingJobDefinition"]["RoleArn"].endswith("sagemaker-execution")
    tags = {t["Key"]: t["Value"] for t in request["Tags"]}
    assert tags["team"] == "ml"
    assert tags["services.k8s.aws/namespace"] == "team-a"
    assert tags["services.k8s.aws/name"] == "tuning"
    assert tags["services.k8s.aws/uid"] == "uid-1"
    assert step.status is not None
    assert step.status["ackResourceMetadata"] == {
        "arn": sm.arn("xgb-tuning-1"),
        "ownerAccountID": ACCOUNT,
        "region": "us-west-2",
        "partition": "aws",
    }
    assert step.status["hyperParameterTuningJobStatus"] == "InProgress"
    assert step.status["observedGeneration"] == 1
    synced = condition(step, c.SYNCED)
    assert synced is not None and synced["status"] == "False"
    assert reasons(step) == ["Created", "JobInProgress"]
    assert step.annotations == {
        ANN_JOB_NAME: "xgb-tuning-1",
        ANN_SPEC_HASH: spec_hash(SPEC),
        ANN_UNTAGGED_HASH: untagged_hash(SPEC),
    }
    assert step.retry is None and not step.release


def test_poll_until_completed_then_zero_calls_and_no_writes() -> None:
    sm = FakeSageMaker()
    r = apply(resource(), run(resource(), sm))
    sm.calls.clear()
    sm.set_state("xgb-tuning-1", "InProgress", TrainingJobStatusCounters={"Completed": 1})
    step = run(r, sm, Trigger.POLL)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TRAININGS]  # a training job completed: the top
    assert step.events == ()  # counters changed, not the state
    ready_before = condition(r, c.READY)
    r2 = apply(r, step)
    assert condition(r2, c.READY)["lastTransitionTime"] == ready_before["lastTransitionTime"]  # type: ignore[index]
    assert r2.status["trainingJobStatusCounters"] == {"completed": 1}
    best = {
        "TrainingJobName": "xgb-tuning-1-003-abc",
        "TrainingJobStatus": "Completed",
        "FinalHyperParameterTuningJobObjectiveMetric": {
            "MetricName": "validation:error",
            "Value": 0.125,
        },
        "TunedHyperParameters": {"num_round": "17"},
    }
    sm.set_state("xgb-tuning-1", "Completed", BestTrainingJob=best)
    sm.calls.clear()
    step = run(r2, sm, Trigger.POLL)
    assert sm.calls == [Op.DESCRIBE, Op.DESCRIBE_TRAINING]  # a new best job: its model
    r3 = apply(r2, step)
    assert r3.status["bestTrainingJob"]["trainingJobName"] == "xgb-tuning-1-003-abc"
    assert condition(r3, c.SYNCED)["status"] == "True"  # type: ignore[index]
    assert condition(r3, c.READY)["status"] == "True"  # type: ignore[index]
    assert condition(r3, c.TERMINAL) is None
    assert reasons(step) == ["JobCompleted", "BestTrainingJobChanged"]
    assert "validation:error=0.125" in step.events[0].message
    assert r3.status["bestTrainingJobModelArtifacts"]["trainingJobName"] == "xgb-tuning-1-003-abc"
    sm.calls.clear()
    idle = run(r3, sm, Trigger.POLL)
    again = run(r3, sm, Trigger.CHANGE)
    assert sm.calls == []  # an idle finished job costs nothing
    assert merge_patch(r3.status, idle.status or {}) == {}
    assert merge_patch(r3.status, again.status or {}) == {}
    assert idle.events == () and again.events == ()


def test_failed_job_is_terminal_with_the_failure_reason() -> None:
    sm = FakeSageMaker()
    r = apply(resource(), run(resource(), sm))
    sm.set_state("xgb-tuning-1", "Failed", FailureReason="ClientError: image not found")
    step = run(r, sm, Trigger.POLL)
    r2 = apply(r, step)
    terminal = condition(r2, c.TERMINAL)
    assert terminal is not None and terminal["status"] == "True"
    assert "ClientError: image not found" in terminal["message"]
    assert "new hyperParameterTuningJobName" in terminal["message"]
    assert condition(r2, c.READY)["status"] == "False"  # type: ignore[index]
    assert condition(r2, c.SYNCED)["status"] == "True"  # type: ignore[index]
    assert r2.status["failureReason"] == "ClientError: image not found"
    assert [(e.type, e.reason) for e in step.events] == [("Warning", "JobFailed")]
    # Listed first, so Argo CD's stock ACK check meets it before Ready (Degraded, not Progressing).
    assert r2.status["conditions"][0]["type"] == c.TERMINAL


def test_failure_reason_ending_in_a_period_reads_as_one_sentence() -> None:
    sm = FakeSageMaker()
    r = apply(resource(), run(resource(), sm))
    sm.set_state("xgb-tuning-1", "Failed", FailureReason="No training job succeeded.")
    r2 = apply(r, run(r, sm, Trigger.POLL))
    terminal = condition(r2, c.TERMINAL)
    assert terminal is not None
    assert "failed: No training job succeeded. Fix the cause" in terminal["message"]


def test_stopped_job_is_synced_not_ready_and_not_terminal() -> None:
    sm = FakeSageMaker()
    r = apply(resource(), run(resource(), sm))
    sm.set_state("xgb-tuning-1", "Stopped")
    r2 = apply(r, run(r, sm, Trigger.POLL))
    assert condition(r2, c.SYNCED)["status"] == "True"  # type: ignore[index]
    assert condition(r2, c.READY)["status"] == "False"  # type: ignore[index]
    assert condition(r2, c.TERMINAL) is None


# --- Bad input ----------------------------------------------------------------------------------


def test_invalid_spec_is_terminal_without_any_call_until_the_spec_changes() -> None:
    sm = FakeSageMaker()
    bad = copy.deepcopy(SPEC)
    bad["hyperParameterTuningJobConfig"]["resourceLimits"]["maxParallelTrainingJobs"] = 9
    r = apply(resource(spec=bad), run(resource(spec=bad), sm))
    terminal = condition(r, c.TERMINAL)
    assert terminal is not None and terminal["reason"] == "InvalidSpec"
    assert (
        "spec.hyperParameterTuningJobConfig.resourceLimits.maxParallelTrainingJobs"
        in (terminal["message"])
    )
    assert sm.calls == []
    assert run(r, sm).status is None  # same generation: nothing to do, nothing to write
    fixed = replace(r, spec=copy.deepcopy(SPEC), generation=2)
    r2 = apply(fixed, run(fixed, sm))
    assert sm.calls == [Op.CREATE, Op.DESCRIBE]
    assert condition(r2, c.TERMINAL) is None
    assert r2.status["observedGeneration"] == 2


def test_aws_validation_exception_is_terminal_and_not_retried_until_spec_changes() -> None:
    sm = FakeSageMaker()
    sm.failures[Op.CREATE] = AwsFailure(
        Op.CREATE, "ValidationException", "Parent job warm-1 not found", ErrorKind.TERMINAL
    )
    step = run(resource(), sm)
    r = apply(resource(), step)
    terminal = condition(r, c.TERMINAL)
    assert terminal is not None and "Parent job warm-1 not found" in terminal["message"]
    assert step.retry is None
    assert [(e.type, e.reason) for e in step.events] == [("Warning", "ValidationException")]
    assert "ackResourceMetadata" not in r.status
    sm.calls.clear()
    run(r, sm)
    assert sm.calls == []
    del sm.failures[Op.CREATE]
    edited = replace(r, generation=2)
    r2 = apply(edited, run(edited, sm))
    assert sm.calls == [Op.CREATE, Op.DESCRIBE]
    assert condition(r2, c.TERMINAL) is None


@pytest.mark.parametrize(
    ("code", "throttled"), [("ThrottlingException", True), ("AccessDeniedException", False)]
)
def test_recoverable_create_failure_retries_with_backoff_and_one_event(
    code: str, throttled: bool
) -> None:
    sm = FakeSageMaker()
    sm.failures[Op.CREATE] = AwsFailure(
        Op.CREATE, code, "check the operator's IAM role", ErrorKind.RECOVERABLE, throttled
    )
    step = run(resource(), sm)
    assert step.retry is Retry.BACKOFF
    r = apply(resource(), step)
    recoverable = condition(r, c.RECOVERABLE)
    assert recoverable is not None and "check the operator's IAM role" in recoverable["message"]
    assert condition(r, c.SYNCED)["status"] == "False"  # type: ignore[index]
    assert reasons(step) == [code]
    again = run(r, sm)
    assert again.events == ()  # the same problem again: no second Event
    del sm.failures[Op.CREATE]
    r2 = apply(r, run(r, sm))
    assert condition(r2, c.RECOVERABLE) is None
    assert r2.status["hyperParameterTuningJobStatus"] == "InProgress"


# --- Idempotency and ownership ------------------------------------------------------------------


def test_interrupted_create_is_adopted_not_duplicated() -> None:
    sm = FakeSageMaker()
    run(resource(), sm)  # created, but the status write never happened
    sm.calls.clear()
    step = run(resource(), sm)
    assert sm.calls == [Op.CREATE, Op.DESCRIBE, Op.LIST_TAGS]
    assert len(sm.jobs) == 1
    assert step.status is not None
    assert step.status["ackResourceMetadata"]["arn"] == sm.arn("xgb-tuning-1")
    assert "Adopted" in reasons(step)
    assert step.annotations[ANN_JOB_NAME] == "xgb-tuning-1"


def test_name_taken_by_another_namespace_is_refused_and_never_touched() -> None:
    sm = FakeSageMaker()
    owner = apply(resource(), run(resource(), sm))
    intruder = resource(namespace="team-b", uid="uid-2")
    step = run(intruder, sm)
    r = apply(intruder, step)
    terminal = condition(r, c.TERMINAL)
    assert terminal is not None and terminal["reason"] == "NameInUse"
    assert "does not own" in terminal["message"]
    assert set(r.status) == {"conditions", "observedGeneration"}  # nothing of the other job
    assert step.annotations == {}
    sm.calls.clear()
    gone = run(replace(r, deleting=True), sm, Trigger.DELETE)
    assert gone.release and sm.calls == []
    assert sm.jobs["xgb-tuning-1"]["HyperParameterTuningJobStatus"] == "InProgress"
    assert owner.status["ackResourceMetadata"]["arn"] == sm.arn("xgb-tuning-1")


def test_same_name_and_namespace_but_new_uid_is_not_ours() -> None:
    sm = FakeSageMaker()
    run(resource(), sm)
    recreated = resource(uid="uid-9")
    r = apply(recreated, run(recreated, sm))
    assert condition(r, c.TERMINAL)["reason"] == "NameInUse"  # type: ignore[index]


def test_job_deleted_outside_kubernetes_is_terminal_and_not_polled_forever() -> None:
    sm = FakeSageMaker()
    r = apply(resource(), run(resource(), sm))
    sm.jobs.clear()
    r2 = apply(r, run(r, sm, Trigger.POLL))
    terminal = condition(r2, c.TERMINAL)
    assert terminal is not None and terminal["reason"] == "JobNotFound"
    assert r2.status["ackResourceMetadata"] == r.status["ackResourceMetadata"]
    sm.calls.clear()
    run(r2, sm, Trigger.POLL)
    assert sm.calls == []
    run(r2, sm, Trigger.CHANGE)  # a change (or a restart) looks once more
    assert sm.calls == [Op.DESCRIBE]


# --- Spec edits ---------------------------------------------------------------------------------


def test_spec_edit_after_create_is_terminal_while_status_keeps_refreshing() -> None:
    sm = FakeSageMaker()
    r = apply(resource(), run(resource(), sm))
    edited_spec = copy.deepcopy(SPEC)
    edited_spec["hyperParameterTuningJobConfig"]["resourceLimits"]["maxNumberOfTrainingJobs"] = 8
    edited = replace(r, spec=edited_spec, generation=2)
    sm.set_state("xgb-tuning-1", "InProgress", TrainingJobStatusCounters={"Completed": 2})
    step = run(edited, sm)
    r2 = apply(edited, step)
    terminal = condition(r2, c.TERMINAL)
    assert terminal is not None and terminal["reason"] == "SpecImmutable"
    assert terminal["message"].startswith("SageMaker cannot update a tuning job;")
    assert r2.status["trainingJobStatusCounters"] == {"completed": 2}
    assert r2.status["topTrainingJobs"] == [] and r2.status["topTrainingJobsCompleted"] == 2
    assert r2.status["observedGeneration"] == 2
    assert "SpecImmutable" in reasons(step)
    assert len(sm.requests) == 1  # no second Create
    sm.set_state("xgb-tuning-1", "Completed")
    r3 = apply(r2, run(r2, sm, Trigger.POLL))
    assert r3.status["hyperParameterTuningJobStatus"] == "Completed"  # never frozen
    assert condition(r3, c.TERMINAL)["reason"] == "SpecImmutable"  # type: ignore[index]
    reverted = replace(r3, spec=copy.deepcopy(SPEC), generation=3)
    r4 = apply(reverted, run(reverted, sm))
    assert condition(r4, c.TERMINAL) is None
    assert condition(r4, c.READY)["status"] == "True"  # type: ignore[index]


def test_with_the_shared_poller_create_makes_no_describe_and_says_created() -> None:
    sm = FakeSageMaker()
    step = run(resource(), sm, describe_after_create=False)
    assert sm.calls == [Op.CREATE]
    r = apply(resource(), step)
    assert r.status["ackResourceMetadata"]["arn"].endswith("/xgb-tuning-1")
    assert "hyperParameterTuningJobStatus" not in r.status
    assert condition(r, c.READY)["reason"] == "Created"  # type: ignore[index]
    assert "Created" in reasons(step)
    later = apply(r, run(r, sm, Trigger.POLL))  # the poller's first look
    assert later.status["hyperParameterTuningJobStatus"] == "InProgress"


def test_resume_trusts_a_running_jobs_status_only_with_the_shared_poller() -> None:
    """A restart with the shared poller costs no Describe per running job (its first sweep
    checks them all); without it, or for a job whose state is not known to run, resume looks."""
    sm = FakeSageMaker()
    r = apply(resource(), run(resource(), sm))
    assert r.status["hyperParameterTuningJobStatus"] == "InProgress"
    calls = len(sm.calls)
    step = run(r, sm, Trigger.RESUME, resume_from_status=True)
    assert len(sm.calls) == calls
    assert apply(r, step).status == r.status and step.events == ()
    run(r, sm, Trigger.RESUME)  # per-resource polling: resume describes
    assert sm.calls[calls:] == [Op.DESCRIBE]
    created_only = replace(r, status={**r.status, "hyperParameterTuningJobStatus": None})
    run(created_only, sm, Trigger.RESUME, resume_from_status=True)
    assert sm.calls[calls + 1 :] == [Op.DESCRIBE]
    edited_spec = copy.deepcopy(SPEC)
    edited_spec["hyperParameterTuningJobConfig"]["resourceLimits"]["maxNumberOfTrainingJobs"] = 8
    edited = replace(r, spec=edited_spec, generation=2)
    step = run(edited, sm, Trigger.RESUME, resume_from_status=True)
    assert condition(step, c.TERMINAL)["reason"] == "SpecImmutable"  # type: ignore[index]


# --- Delete -------------------------------------------------------------------------------------


def test_delete_in_progress_stops_then_waits_then_releases() -> None:
    sm = FakeSageMaker()
    r = replace(apply(resource(), run(resource(), sm)), deleting=True)
    sm.calls.clear()
    step = run(r, sm, Trigger.DELETE)
    assert sm.calls == [Op.DESCRIBE, Op.STOP, Op.DESCRIBE]
    assert not step.release and step.retry is Retry.POLL
    assert "Stopping" in reasons(step)
    r2 = apply(r, step)
    assert r2.status["hyperParameterTuningJobStatus"] == "Stopping"
    sm.calls.clear()
    waiting = run(r2, sm, Trigger.DELETE)
    assert sm.calls == [Op.DESCRIBE] and not waiting.release and waiting.events == ()
    sm.set_state("xgb-tuning-1", "Stopped")
    done = run(apply(r2, waiting), sm, Trigger.DELETE)
    assert done.release


@pytest.mark.parametrize("state", ["Completed", "Failed", "Stopped"])
def test_delete_of_a_finished_job_releases_at_once(state: str) -> None:
    sm = FakeSageMaker()
    r = apply(resource(), run(resource(), sm))
    sm.set_state("xgb-tuning-1", state)
    r = replace(apply(r, run(r, sm, Trigger.POLL)), deleting=True)
    sm.calls.clear()
    assert run(r, sm, Trigger.DELETE).release
    assert sm.calls == []


def test_delete_of_a_job_gone_from_sagemaker_releases() -> None:
    sm = FakeSageMaker()
    r = replace(apply(resource(), run(resource(), sm)), deleting=True)
    sm.jobs.clear()
    assert run(r, sm, Trigger.DELETE).release


def test_delete_never_created_looks_once_and_releases() -> None:
    sm = FakeSageMaker()
    step = run(resource(deleting=True), sm, Trigger.DELETE)
    assert step.release and sm.calls == [Op.DESCRIBE]


def test_delete_after_interrupted_create_stops_our_job() -> None:
    sm = FakeSageMaker()
    run(resource(), sm)  # created; status never written
    sm.calls.clear()
    step = run(resource(deleting=True), sm, Trigger.DELETE)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TAGS, Op.STOP, Op.DESCRIBE]
    assert not step.release


@pytest.mark.parametrize(
    ("resource_ann", "namespace_ann", "default", "stops"),
    [
        ({ANN_DELETION_POLICY: "retain"}, {}, "delete", False),
        ({}, {"services.k8s.aws/deletion-policy": "retain"}, "delete", False),
        ({}, {"sagemaker.services.k8s.aws/deletion-policy": "retain"}, "delete", False),
        ({}, {}, "retain", False),
        (
            {ANN_DELETION_POLICY: "delete"},
            {"services.k8s.aws/deletion-policy": "retain"},
            "retain",
            True,
        ),
    ],
)
def test_deletion_policy_order(
    resource_ann: dict[str, str], namespace_ann: dict[str, str], default: str, stops: bool
) -> None:
    sm = FakeSageMaker()
    r = apply(resource(), run(resource(), sm))
    r = replace(r, deleting=True, annotations={**r.annotations, **resource_ann})
    r = replace(r, namespace_annotations=namespace_ann)
    sm.calls.clear()
    step = run(r, sm, Trigger.DELETE, deletion_policy=default)
    assert (Op.STOP in sm.calls) is stops
    assert step.release is not stops


# --- Adoption and read-only ---------------------------------------------------------------------


def test_adopt_an_existing_job_by_adoption_fields() -> None:
    sm = FakeSageMaker()
    sm.add_job("made-by-hand", tags=[{"Key": "team", "Value": "ml"}])
    ann = {
        ANN_ADOPTION_POLICY: "adopt",
        ANN_ADOPTION_FIELDS: '{"hyperParameterTuningJobName": "made-by-hand"}',
    }
    r = resource(annotations=ann)
    step = run(r, sm)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TAGS, Op.ADD_TAGS]  # the adoption goes on the job
    tags = {t["Key"]: t["Value"] for t in sm.tags[sm.arn("made-by-hand")]}
    assert tags["team"] == "ml"
    assert tags["services.k8s.aws/namespace"] == "team-a"
    assert tags["services.k8s.aws/name"] == "tuning"
    assert tags["services.k8s.aws/uid"] == "uid-1"
    assert reasons(step)[0] == "Adopted"
    r2 = apply(r, step)
    assert r2.status["ackResourceMetadata"]["arn"] == sm.arn("made-by-hand")
    assert r2.annotations[ANN_JOB_NAME] == "made-by-hand"
    sm.calls.clear()
    run(r2, sm, Trigger.POLL)
    assert sm.calls == [Op.DESCRIBE]
    assert "made-by-hand" in sm.jobs and len(sm.jobs) == 1


def test_adoption_of_another_resources_job_is_refused() -> None:
    sm = FakeSageMaker()
    run(resource(), sm)
    ann = {
        ANN_ADOPTION_POLICY: "adopt",
        ANN_ADOPTION_FIELDS: '{"hyperParameterTuningJobName": "xgb-tuning-1"}',
    }
    thief = resource(namespace="team-b", name="thief", uid="uid-2", annotations=ann)
    step = run(thief, sm)
    r = apply(thief, step)
    terminal = condition(r, c.TERMINAL)
    assert terminal is not None and terminal["reason"] == "OwnedByAnotherResource"
    # The refusal names nothing of the owner's: neither its namespace nor its name (F10).
    texts = [terminal["message"], *(e.message for e in step.events)]
    assert [t for t in texts if "team-a" in t or "/tuning" in t] == []
    assert Op.ADD_TAGS not in sm.calls and Op.STOP not in sm.calls
    assert "ackResourceMetadata" not in r.status


def test_adopt_missing_job_waits_and_never_creates() -> None:
    sm = FakeSageMaker()
    r = resource(annotations={ANN_ADOPTION_POLICY: "adopt"})
    step = run(r, sm)
    assert sm.calls == [Op.DESCRIBE] and step.retry is Retry.POLL
    assert condition(step, c.RECOVERABLE) is not None


def test_read_only_describes_and_never_creates_or_stops() -> None:
    sm = FakeSageMaker()
    ro = resource(annotations={ANN_READ_ONLY: "true"})
    missing = run(ro, sm)
    assert sm.calls == [Op.DESCRIBE] and missing.retry is Retry.POLL
    sm.add_job("xgb-tuning-1", tags=[])
    r = apply(ro, run(ro, sm))
    assert r.status["hyperParameterTuningJobStatus"] == "InProgress"
    assert r.annotations == ro.annotations  # no bookkeeping: nothing to protect
    sm.calls.clear()
    gone = run(replace(r, deleting=True), sm, Trigger.DELETE)
    assert gone.release and sm.calls == []
    assert Op.CREATE not in sm.calls and Op.STOP not in sm.calls


# --- Targets ------------------------------------------------------------------------------------


def test_region_order_resource_then_namespace_then_settings() -> None:
    ns = {ANN_DEFAULT_REGION: "eu-west-1"}
    assert target_of(resource(), SETTINGS).region == "us-west-2"
    assert target_of(resource(namespace_annotations=ns), SETTINGS).region == "eu-west-1"
    both = resource(annotations={ANN_REGION: "ap-south-1"}, namespace_annotations=ns)
    assert target_of(both, SETTINGS).region == "ap-south-1"


def test_region_lands_in_ack_resource_metadata() -> None:
    sm = FakeSageMaker(region="eu-central-1")
    r = resource(annotations={ANN_REGION: "eu-central-1"})
    step = run(r, sm)
    assert step.status is not None
    assert step.status["ackResourceMetadata"]["region"] == "eu-central-1"


def test_no_region_anywhere_is_a_recoverable_problem_with_a_fix() -> None:
    sm = FakeSageMaker()
    step = run(resource(), sm, default_region=None)
    assert sm.calls == [] and step.retry is Retry.POLL
    recoverable = condition(step, c.RECOVERABLE)
    assert recoverable is not None and "--region" in recoverable["message"]


def test_bad_adoption_fields_are_reported() -> None:
    ann = {ANN_ADOPTION_POLICY: "adopt", ANN_ADOPTION_FIELDS: "{not json"}
    t = target_of(resource(annotations=ann), SETTINGS)
    assert t.mode is Mode.ADOPT and t.problem is not None and "not JSON" in t.problem


# --- Small pure helpers -------------------------------------------------------------------------


def test_parse_arn() -> None:
    assert parse_arn(
        "arn:aws-cn:sagemaker:cn-north-1:111122223333:hyper-parameter-tuning-job/x"
    ) == {
        "arn": "arn:aws-cn:sagemaker:cn-north-1:111122223333:hyper-parameter-tuning-job/x",
        "partition": "aws-cn",
        "region": "cn-north-1",
        "ownerAccountID": "111122223333",
    }
    assert parse_arn("garbage") == {"arn": "garbage"}


def test_merge_patch_round_trip() -> None:
    old = {"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2], "gone": True}
    new = {"a": 1, "b": {"c": 2, "x": 4}, "e": [1]}
    patch = merge_patch(old, new)
    assert patch == {"gone": None, "b": {"d": None, "x": 4}, "e": [1]}
    assert merge_patch(new, copy.deepcopy(new)) == {}


def test_backoff_grows_is_capped_and_jittered() -> None:
    delays = [backoff_delay(n, base=1.0, cap=60.0, rand=1.0) for n in range(10)]
    assert delays[:4] == [1.0, 2.0, 4.0, 8.0]
    assert max(delays) == 60.0
    assert backoff_delay(3, base=1.0, cap=60.0, rand=0.0) == 4.0
    assert 24.0 <= jittered(30.0, 0.0) <= jittered(30.0, 0.5) <= jittered(30.0, 0.999) <= 36.0


# --- Migration from ACK -------------------------------------------------------------------------

# The tags ACK's controller puts on the jobs it creates (captured from v1.9.1): no name, no uid.
ACK_TAGS = [
    {"Key": "services.k8s.aws/controller-version", "Value": "sagemaker-v1.2.13"},
    {"Key": "services.k8s.aws/namespace", "Value": "team-a"},
]


def test_a_resource_created_by_acks_controller_is_followed_never_created_again() -> None:
    """After a switch from ACK: its ARN in status, none of this operator's annotations, and ACK's
    own tags on the job (no name or uid). The job is followed from its ARN, never re-created."""
    sm = FakeSageMaker()
    arn = sm.add_job("xgb-tuning-1", ACK_TAGS)
    ack_status = {
        "ackResourceMetadata": {"arn": arn, "ownerAccountID": ACCOUNT, "region": "us-west-2"},
        "hyperParameterTuningJobStatus": "InProgress",
        "conditions": [{"type": "ACK.ResourceSynced", "status": "False"}],
    }
    r = resource(status=ack_status)
    step = run(r, sm)
    assert Op.CREATE not in sm.calls and Op.STOP not in sm.calls
    # ACK's tags name this namespace: the resource records itself on the job, then follows it.
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TAGS, Op.ADD_TAGS]
    assert {t["Key"]: t["Value"] for t in sm.tags[arn]}["services.k8s.aws/uid"] == "uid-1"
    assert step.status is not None and step.status["ackResourceMetadata"]["arn"] == arn
    assert step.annotations.get(ANN_SPEC_HASH) == spec_hash(SPEC)
    terminal = condition(step, "ACK.Terminal")
    assert terminal is None or terminal["status"] != "True"
    sm.set_state("xgb-tuning-1", "Completed")
    later = run(apply(r, step), sm)
    assert later.status is not None and later.status["hyperParameterTuningJobStatus"] == "Completed"
    assert sm.calls.count(Op.CREATE) == 0


def _ack_status(arn: str, state: str) -> dict[str, Any]:
    """What ACK v1.9.1 wrote (captured for finished jobs: Ready=True even for Failed, no
    ACK.Terminal, ACK.LateInitialized, no observedGeneration, no counters)."""
    message = f"HyperParameterTuningJob is in {state} status."
    status: dict[str, Any] = {
        "ackResourceMetadata": {"arn": arn, "ownerAccountID": ACCOUNT, "region": "us-west-2"},
        "hyperParameterTuningJobStatus": state,
        "conditions": [
            {"type": "ACK.ResourceSynced", "status": "True", "message": message},
            {"type": "ACK.LateInitialized", "status": "True"},
            {"type": "Ready", "status": "True", "message": message},
        ],
    }
    if state == "Failed":
        status["failureReason"] = "No training job succeeded after 2 attempts."
    return status


@pytest.mark.parametrize("state", ["Completed", "Failed"])
def test_a_finished_job_with_acks_status_is_described_once_then_never(state: str) -> None:
    """ACK's status lacks counters, times and observedGeneration: one Describe fills them, and
    the conditions become this operator's (Failed: ACK.Terminal first, Ready=False)."""
    sm = FakeSageMaker()
    extra = {"FailureReason": "No training job succeeded after 2 attempts."}
    arn = sm.add_job("xgb-tuning-1", ACK_TAGS, state=state)
    sm.set_state("xgb-tuning-1", state, **(extra if state == "Failed" else {}))
    r = resource(status=_ack_status(arn, state))
    step = run(r, sm)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TAGS, Op.ADD_TAGS]
    assert step.status is not None
    assert step.status["observedGeneration"] == 1
    assert step.status["trainingJobStatusCounters"] == {"completed": 0, "inProgress": 2}
    kinds = [cond["type"] for cond in step.status["conditions"]]
    assert "ACK.LateInitialized" not in kinds
    ready = condition(step, "Ready")
    assert ready is not None and ready["status"] == ("True" if state == "Completed" else "False")
    if state == "Failed":
        assert kinds[0] == "ACK.Terminal"
    assert not step.events  # no transition: the job was already in this state
    run(apply(r, step), sm)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TAGS, Op.ADD_TAGS]  # the status is ours: no more calls


def test_a_finished_job_deleted_from_sagemaker_keeps_acks_status() -> None:
    sm = FakeSageMaker()
    arn = sm.arn("gone-job")
    r = resource(status=_ack_status(arn, "Completed"))
    step = run(r, sm)
    assert sm.calls == [Op.DESCRIBE]
    assert step.status is not None and step.status["hyperParameterTuningJobStatus"] == "Completed"
    assert condition(step, "ACK.Terminal") is None
    ready = condition(step, "Ready")
    assert ready is not None and ready["status"] == "True"


def test_resume_never_trusts_acks_running_status() -> None:
    """With the shared poller a resume trusts a running job's status, but only one it wrote."""
    sm = FakeSageMaker()
    arn = sm.add_job("xgb-tuning-1", ACK_TAGS)
    ack_status = _ack_status(arn, "InProgress")
    step = run(resource(status=ack_status), sm, Trigger.RESUME, resume_from_status=True)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TAGS, Op.ADD_TAGS]
    assert step.status is not None and step.status["observedGeneration"] == 1


# --- Deletion never waits for what cannot exist (issue 13, F8) ----------------------------------

UNSAFE_ENDPOINT = "http://192.0.2.50:8080"


@pytest.mark.parametrize(
    ("annotations", "namespace_annotations", "why"),
    [
        ({ANN_REGION: "not a region"}, {}, "services.k8s.aws/region"),
        ({}, {ANN_DEFAULT_REGION: "us_west_2"}, "services.k8s.aws/default-region"),
        ({}, {ANN_ENDPOINT_URL: UNSAFE_ENDPOINT}, "services.k8s.aws/endpoint-url"),
        ({}, {ANN_ENDPOINT_URL: "ftp://nowhere"}, "services.k8s.aws/endpoint-url"),
        ({ANN_ADOPTION_POLICY: "steal"}, {}, "services.k8s.aws/adoption-policy"),
        ({ANN_ADOPTION_POLICY: "adopt", ANN_ADOPTION_FIELDS: "{not json"}, {}, "adoption-fields"),
    ],
)
def test_delete_of_a_resource_that_can_have_no_job_releases_at_once_without_a_call(
    annotations: dict[str, str], namespace_annotations: dict[str, str], why: str
) -> None:
    sm = FakeSageMaker()
    r = resource(annotations=annotations, namespace_annotations=namespace_annotations)
    r = apply(r, run(r, sm))  # what the operator wrote while the resource lived
    assert sm.calls == []
    step = run(replace(r, deleting=True), sm, Trigger.DELETE)
    assert step.release and sm.calls == []
    assert reasons(step) == ["Released"]
    # Also when the operator never got to write a status (it was down, or slow to start).
    fresh = resource(annotations=annotations, namespace_annotations=namespace_annotations)
    assert run(replace(fresh, deleting=True), sm, Trigger.DELETE).release and sm.calls == []
    assert why in (target_of(fresh, SETTINGS).problem or "")


def test_delete_of_a_resource_with_an_invalid_spec_releases_without_a_call() -> None:
    sm = FakeSageMaker()
    spec = copy.deepcopy(SPEC)
    spec["trainingJobDefinition"].pop("roleARN")
    r = resource(spec=spec, deleting=True)  # no status yet: the Terminal was never written
    step = run(r, sm, Trigger.DELETE)
    assert step.release and sm.calls == []
    assert "spec is invalid" in step.events[0].message


def test_a_refused_endpoint_is_terminal_names_the_annotation_and_sends_nothing() -> None:
    sm = FakeSageMaker()
    r = resource(namespace_annotations={ANN_ENDPOINT_URL: UNSAFE_ENDPOINT})
    step = run(r, sm)
    assert sm.calls == [] and step.retry is Retry.POLL  # looked at again: no handler fires
    terminal = condition(step, c.TERMINAL)
    assert terminal is not None and terminal["reason"] == "InvalidAnnotation"
    assert "namespace annotation services.k8s.aws/endpoint-url" in terminal["message"]
    assert "--allow-unsafe-aws-endpoint-urls=http://192.0.2.50:8080" in terminal["message"]
    assert reasons(step) == ["InvalidAnnotation"]
    again = run(apply(r, step), sm)
    assert again.events == () and sm.calls == []


@pytest.mark.parametrize(
    ("endpoint", "allowed"),
    [
        ("https://sagemaker.vpce.example.com", frozenset()),
        ("http://127.0.0.1:8090", frozenset()),
        ("http://[::1]:8090", frozenset()),
        ("http://localhost:8090", frozenset()),
        (UNSAFE_ENDPOINT, frozenset({"http://192.0.2.50:8080"})),
        (UNSAFE_ENDPOINT, frozenset({"*"})),
    ],
)
def test_endpoints_that_may_get_credentials(endpoint: str, allowed: frozenset[str]) -> None:
    r = resource(namespace_annotations={ANN_ENDPOINT_URL: endpoint})
    t = target_of(r, replace(SETTINGS, unsafe_endpoints=allowed))
    assert t.unreachable is None and t.endpoint_url == endpoint


def test_delete_after_an_interrupted_create_still_finds_and_stops_the_job() -> None:
    """A Create whose answer was lost leaves no ARN: with a usable configuration delete looks."""
    sm = FakeSageMaker()
    run(resource(), sm)  # created; the answer never recorded
    sm.calls.clear()
    timeout = AwsFailure(Op.CREATE, "Timeout", "no answer", ErrorKind.RECOVERABLE)
    in_doubt = apply(resource(), run(resource(), FailingCreate(timeout)))
    step = run(replace(in_doubt, deleting=True), sm, Trigger.DELETE)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TAGS, Op.STOP, Op.DESCRIBE]
    assert not step.release


def test_a_create_in_doubt_keeps_the_finalizer_when_the_endpoint_is_then_refused() -> None:
    """The Create may have reached SageMaker; an endpoint changed since must not release it
    unseen, nor may anything be sent to the refused one: the finalizer stays, with the fix."""
    sm = FakeSageMaker()
    timeout = AwsFailure(Op.CREATE, "Timeout", "no answer", ErrorKind.RECOVERABLE)
    r = apply(resource(), run(resource(), FailingCreate(timeout)))
    r = replace(r, namespace_annotations={ANN_ENDPOINT_URL: UNSAFE_ENDPOINT})
    r = apply(r, run(r, sm))  # the refused endpoint is reported; the doubt is kept
    assert condition(r, c.TERMINAL) is not None and condition(r, c.RECOVERABLE) is not None
    step = run(replace(r, deleting=True), sm, Trigger.DELETE)
    assert not step.release and step.retry is Retry.POLL and sm.calls == []
    terminal = condition(step, c.TERMINAL)
    assert terminal is not None and "deletion-policy=retain" in terminal["message"]
    retained = replace(r, deleting=True, annotations={ANN_DELETION_POLICY: "retain"})
    assert run(retained, sm, Trigger.DELETE).release and sm.calls == []


def test_delete_of_a_running_job_behind_a_refused_endpoint_waits_without_a_call() -> None:
    sm = FakeSageMaker()
    r = apply(resource(), run(resource(), sm))
    sm.calls.clear()
    r = replace(r, deleting=True, namespace_annotations={ANN_ENDPOINT_URL: UNSAFE_ENDPOINT})
    step = run(r, sm, Trigger.DELETE)
    assert not step.release and sm.calls == []
    assert step.status is not None and step.status["ackResourceMetadata"]["arn"]


class FailingCreate(FakeSageMaker):
    """Every Create fails with `failure` (which may or may not have created the job)."""

    def __init__(self, failure: AwsFailure) -> None:
        super().__init__()
        self.failures[Op.CREATE] = failure


# --- The operator's own rate limiting is no Event per resource (issue 13, item 6) ---------------


def test_a_call_the_operators_own_budget_deferred_posts_no_event() -> None:
    sm = FakeSageMaker()
    r = replace(apply(resource(), run(resource(), sm)), deleting=True)
    sm.failures[Op.DESCRIBE] = AwsFailure(
        Op.DESCRIBE, "ClientRateLimited", "budget spent", ErrorKind.RECOVERABLE, True, local=True
    )
    step = run(r, sm, Trigger.DELETE)
    assert step.retry is Retry.BACKOFF and step.events == ()
    recoverable = condition(step, c.RECOVERABLE)
    assert recoverable is not None and recoverable["reason"] == "ClientRateLimited"
    sm.failures[Op.DESCRIBE] = AwsFailure(
        Op.DESCRIBE, "ThrottlingException", "Rate exceeded", ErrorKind.RECOVERABLE, True
    )
    assert reasons(run(r, sm, Trigger.DELETE)) == ["ThrottlingException"]  # AWS's: visible


def test_fixing_an_unusable_region_lifts_the_terminal_and_creates() -> None:
    """The Terminal of an unusable region or endpoint is no spec problem: once the annotation is
    fixed (no spec change, same generation) the job is created."""
    sm = FakeSageMaker()
    r = resource(annotations={ANN_REGION: "mars 1!"})
    r = apply(r, run(r, sm))
    assert condition(r, c.TERMINAL) is not None and sm.calls == []
    fixed = replace(r, annotations={ANN_REGION: "us-west-2"})
    step = run(fixed, sm)
    assert sm.calls == [Op.CREATE, Op.DESCRIBE] and condition(step, c.TERMINAL) is None


def test_a_stale_region_terminal_does_not_release_without_looking() -> None:
    """Fixed, then created, then the operator died before writing status: the status still holds
    the old Terminal, but the job may exist, so delete looks for it and stops it."""
    sm = FakeSageMaker()
    r = resource(annotations={ANN_REGION: "mars 1!"})
    r = apply(r, run(r, sm))
    fixed = replace(r, annotations={ANN_REGION: "us-west-2"})
    run(fixed, sm)  # created; the status write is lost
    sm.calls.clear()
    step = run(replace(fixed, deleting=True), sm, Trigger.DELETE)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TAGS, Op.STOP, Op.DESCRIBE] and not step.release


def test_an_unusable_operator_region_is_named_as_the_operators() -> None:
    sm = FakeSageMaker()
    step = run(resource(), sm, default_region="somewhere")
    terminal = condition(step, c.TERMINAL)
    assert sm.calls == [] and terminal is not None
    assert terminal["reason"] == "InvalidConfiguration"
    assert terminal["message"].startswith("the operator's --region: 'somewhere'")


# --- A Create the account's Create queue holds (issue 12, item 5) -----------------------------


def test_a_create_the_queue_holds_briefly_writes_nothing_and_leaves_the_retry_to_it() -> None:
    sm = FakeSageMaker()
    sm.failures[Op.CREATE] = AwsFailure(
        Op.CREATE, "CreateQueued", "3 ahead", ErrorKind.RECOVERABLE, local=True, queued=60.0
    )
    step = run(resource(), sm, quiet_queue_wait=60.0)
    assert step.retry is Retry.QUEUE
    assert step.status is None and step.events == () and step.annotations == {}
    assert sm.calls == [Op.CREATE]


def test_a_create_the_queue_holds_longer_than_a_call_may_wait_says_why_in_status() -> None:
    """Never silent (issue 14): a wait longer than a call may take for a token is visible."""
    sm = FakeSageMaker()
    sm.failures[Op.CREATE] = AwsFailure(
        Op.CREATE, "CreateQueued", "90 ahead", ErrorKind.RECOVERABLE, local=True, queued=61.0
    )
    step = run(resource(), sm, quiet_queue_wait=60.0)
    assert step.retry is Retry.QUEUE and step.events == ()
    recoverable = condition(step, c.RECOVERABLE)
    assert recoverable is not None and recoverable["reason"] == "CreateQueued"
    assert "90 ahead" in recoverable["message"]
