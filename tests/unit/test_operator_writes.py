"""`handlers.Operator` over fake Kubernetes and SageMaker: what it writes and which Events it posts
when a kopf handler and the shared poller's report race for the same resource."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import kopf
import pytest

from hpo_operator.core.types import AwsFailure, Call, ErrorKind, Op, Trigger
from hpo_operator.identity import FINISHED_LABEL
from hpo_operator.model.translate import system_tags
from hpo_operator.polling.strategy import Delivery, Owner, Prefetched
from hpo_operator.shell.handlers import Operator, status_digest
from hpo_operator.shell.health import Health
from hpo_operator.shell.metrics import Metrics
from hpo_operator.shell.settings import Settings

ARN = "arn:aws:sagemaker:us-west-2:123456789012:hyper-parameter-tuning-job/xgb"
UID = "0b4c6d1e-0000-4000-8000-000000000001"


def merged(old: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7386 merge patch, as the API server applies it."""
    out = dict(old)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


class FakeKube:
    """One stored object; GET and merge-PATCH of its status, counted."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.gets = 0
        self.status_writes = 0

    async def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.gets += 1
        return copy.deepcopy(self.body)

    async def patch_status(
        self, namespace: str, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        self.status_writes += 1
        self.body["status"] = merged(self.body.get("status") or {}, status)
        return copy.deepcopy(self.body["status"])

    async def patch_metadata(self, namespace: str, name: str, patch: Mapping[str, Any]) -> bool:
        self.body = merged(self.body, patch)
        return True

    async def patch_annotations(self, namespace: str, name: str, annotations: Any) -> str | None:
        annotated = self.body["metadata"].setdefault("annotations", {})
        annotated.update(annotations)
        return "8"


class FakeSageMaker:
    """Describe answers with `state`; every call is counted."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.calls: list[Op] = []

    async def get(
        self, region: str, endpoint_url: str | None, role_arn: str | None = None
    ) -> FakeSageMaker:
        return self

    async def execute(self, call: Call) -> Mapping[str, Any]:
        self.calls.append(call.op)
        if call.op is Op.LIST_TAGS:  # once per resource and process: the job is this resource's
            return {"Tags": system_tags("team-a", "tuning", UID, "0.0.0")}
        assert call.op is Op.DESCRIBE, call
        return self.described()

    def described(self) -> dict[str, Any]:
        return {
            "HyperParameterTuningJobName": "xgb",
            "HyperParameterTuningJobArn": ARN,
            "HyperParameterTuningJobStatus": self.state,
            "CreationTime": datetime(2026, 11, 1, tzinfo=UTC),
            "LastModifiedTime": datetime(2026, 11, 1, 1, tzinfo=UTC),
        }

    def close(self) -> None:
        pass


def running_body() -> dict[str, Any]:
    return {
        "apiVersion": "sagemaker.services.k8s.aws/v1alpha1",
        "kind": "HyperParameterTuningJob",
        "metadata": {"namespace": "team-a", "name": "tuning", "uid": UID, "generation": 1},
        "spec": {"hyperParameterTuningJobName": "xgb"},
        "status": {
            "ackResourceMetadata": {"arn": ARN, "ownerAccountID": "123456789012"},
            "hyperParameterTuningJobStatus": "InProgress",
            "observedGeneration": 1,
        },
    }


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    posted: list[str] = []
    monkeypatch.setattr(kopf, "event", lambda body, *, type, reason, message: posted.append(reason))
    return posted


def build(kube: FakeKube, sagemaker: FakeSageMaker) -> Operator:
    settings = Settings(region="us-west-2", polling="per-resource")
    operator = Operator(settings, sagemaker, Metrics(), Health())
    operator.kube = kube
    return operator


def news(sagemaker: FakeSageMaker) -> Prefetched:
    """The shared poller's Describe of the job, as it hands it to `reconcile_polled`."""
    return Prefetched("xgb", sagemaker.described())


def test_a_handler_with_a_body_older_than_the_pollers_write_posts_no_second_event(
    events: list[str],
) -> None:
    kube, sagemaker = FakeKube(running_body()), FakeSageMaker("Completed")
    operator = build(kube, sagemaker)
    stale = copy.deepcopy(kube.body)  # kopf read it before the poller's write below

    async def scenario() -> None:
        await operator.reconcile_polled(Owner("team-a", "tuning", UID), news(sagemaker))
        assert kube.body["status"]["hyperParameterTuningJobStatus"] == "Completed"
        writes = kube.status_writes
        await operator.reconcile(Trigger.CHANGE, stale, None, {})
        assert kube.status_writes == writes  # the status was already right: nothing to write

    asyncio.run(scenario())
    assert events == ["JobCompleted"]  # posted once, by the poller's reconcile
    # The poller's read, the read that parks the finished resource (`parking`), then the
    # handler's re-read of its stale body.
    assert kube.gets == 3


def test_a_handler_whose_body_has_the_last_written_status_reads_nothing(
    events: list[str],
) -> None:
    kube, sagemaker = FakeKube(running_body()), FakeSageMaker("Completed")
    operator = build(kube, sagemaker)

    async def scenario() -> None:
        await operator.reconcile_polled(Owner("team-a", "tuning", UID), news(sagemaker))
        assert operator.written[UID] == status_digest(kube.body["status"])
        await operator.reconcile(Trigger.CHANGE, copy.deepcopy(kube.body), None, {})

    asyncio.run(scenario())
    assert kube.gets == 2  # the poller's and the parking's: the handler's body was current
    assert events == ["JobCompleted"]


def test_before_any_write_the_handler_trusts_kopfs_body(events: list[str]) -> None:
    kube, sagemaker = FakeKube(running_body()), FakeSageMaker("Completed")
    operator = build(kube, sagemaker)
    asyncio.run(operator.reconcile(Trigger.CHANGE, copy.deepcopy(kube.body), None, {}))
    assert kube.gets == 0 and kube.status_writes == 1
    assert events == ["JobCompleted"]


def test_a_resource_gone_without_the_delete_handler_leaves_no_trace(
    events: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    kube, sagemaker = FakeKube(running_body()), FakeSageMaker("InProgress")
    operator = build(kube, sagemaker)
    asyncio.run(operator.reconcile(Trigger.CHANGE, copy.deepcopy(kube.body), None, {}))
    assert operator.metrics.state_of(UID) == "InProgress" and UID in operator.written
    assert b'hpo_tuning_jobs{status="InProgress"} 1.0' in operator.metrics.render()

    operator.forget(copy.deepcopy(kube.body))  # the DELETED watch event, finalizer stripped
    assert operator.metrics.state_of(UID) is None
    assert UID not in operator.written and UID not in operator.locks
    assert b'hpo_tuning_jobs{status="InProgress"} 0.0' in operator.metrics.render()
    assert "left as it is" in caplog.text  # the running job is named, not silently dropped


def test_a_status_written_by_someone_else_is_read_once_not_on_every_handler(
    events: list[str],
) -> None:
    """Another replica (a peering handover) writes a newer status than this one last wrote:
    the next handler reads it, and the ones after that trust kopf's body again."""
    kube, sagemaker = FakeKube(running_body()), FakeSageMaker("InProgress")
    this, other = build(kube, sagemaker), build(kube, sagemaker)

    async def scenario() -> None:
        await this.reconcile(Trigger.CHANGE, copy.deepcopy(kube.body), None, {})
        sagemaker.state = "Completed"
        await other.reconcile_polled(Owner("team-a", "tuning", UID), news(sagemaker))
        writes, gets = kube.status_writes, kube.gets
        for _ in range(3):  # e.g. annotation edits: the status is already right, nothing written
            await this.reconcile(Trigger.CHANGE, copy.deepcopy(kube.body), None, {})
        assert kube.status_writes == writes
        assert kube.gets == gets + 1

    asyncio.run(scenario())
    assert events == ["JobCompleted"]  # posted by the replica that saw the change, only


def test_a_job_the_poller_saw_finish_is_parked_and_forgotten_at_once(events: list[str]) -> None:
    """`parking`: the label and the finalizer in one patch, and no lock left behind for a
    resource that leaves the watch (kopf's DELETED event may come while the lock is held)."""
    from hpo_operator.identity import BOOKKEEPING_PREFIX, FINALIZER

    body = running_body()
    body["metadata"].update(
        resourceVersion="7",
        finalizers=[FINALIZER],
        annotations={f"{BOOKKEEPING_PREFIX}/last-handled-configuration": "{}"},
    )
    kube, sagemaker = FakeKube(body), FakeSageMaker("Completed")
    operator = build(kube, sagemaker)
    asyncio.run(operator.reconcile_polled(Owner("team-a", "tuning", UID), news(sagemaker)))
    assert kube.body["metadata"]["labels"] == {FINISHED_LABEL: "Completed"}
    assert kube.body["metadata"]["finalizers"] == []
    assert UID not in operator.locks and UID not in operator.written
    assert (
        operator.metrics.registry.get_sample_value("hpo_tuning_jobs", {"status": "Completed"}) == 1
    )


BEST = {
    "TrainingJobName": "xgb-001-abc",
    "TrainingJobStatus": "Completed",
    "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "validation:error", "Value": 0.1},
    "TunedHyperParameters": {"eta": "0.2"},
}


class ResultsSageMaker(FakeSageMaker):
    """A Completed job of one training job, whose List of best ones is throttled while
    `throttled`."""

    def __init__(self) -> None:
        super().__init__("Completed")
        self.throttled = True

    async def execute(self, call: Call) -> Mapping[str, Any]:
        if call.op is Op.LIST_TRAININGS:
            self.calls.append(call.op)
            if self.throttled:
                return AwsFailure(
                    call.op, "ThrottlingException", "Rate exceeded", ErrorKind.RECOVERABLE
                )
            return {"TrainingJobSummaries": [BEST]}
        if call.op is Op.DESCRIBE_TRAINING:
            self.calls.append(call.op)
            path = "s3://bucket/out/xgb-001-abc/output/model.tar.gz"
            return {"TrainingJobName": "xgb-001-abc", "ModelArtifacts": {"S3ModelArtifacts": path}}
        return await super().execute(call)

    def described(self) -> dict[str, Any]:
        objective = {"Type": "Minimize", "MetricName": "validation:error"}
        return {
            **super().described(),
            "HyperParameterTuningJobConfig": {"HyperParameterTuningJobObjective": objective},
            "TrainingJobStatusCounters": {"Completed": 1},
            "BestTrainingJob": BEST,
        }


def test_a_finished_job_whose_results_read_failed_is_reported_again_before_parking(
    events: list[str],
) -> None:
    kube, sagemaker = FakeKube(running_body()), ResultsSageMaker()
    operator = build(kube, sagemaker)
    owner = Owner("team-a", "tuning", UID)

    async def scenario() -> list[Delivery]:
        first = await operator.reconcile_polled(owner, news(sagemaker))
        assert kube.gets == 1  # the report's read only: no read to park it (`_park`)
        assert kube.body["status"]["hyperParameterTuningJobStatus"] == "Completed"
        assert "topTrainingJobs" not in kube.body["status"]
        sagemaker.throttled = False
        second = await operator.reconcile_polled(owner, news(sagemaker))
        return [first, second]

    assert asyncio.run(scenario()) == [Delivery.RETRY, Delivery.DONE]
    assert kube.body["status"]["topTrainingJobs"][0]["trainingJobName"] == "xgb-001-abc"
    assert kube.body["status"]["topTrainingJobsCompleted"] == 1
    assert kube.gets == 3  # the second report's read, then the read that parks it
    assert sagemaker.calls.count(Op.LIST_TRAININGS) == 2
    assert sagemaker.calls.count(Op.DESCRIBE_TRAINING) == 1
    assert events.count("BestTrainingJobChanged") == 1


class FakePolling:
    """The shared poller as the operator tells it: which resources' jobs it follows."""

    def __init__(self) -> None:
        self.followed: dict[str, Mapping[str, Any]] = {}

    def install(self, registry: Any, poll: Any) -> None:
        pass

    def follow(self, owner: Owner, target: Any, status: Mapping[str, Any] | None) -> None:
        if status is None:
            self.followed.pop(owner.uid, None)
        else:
            self.followed[owner.uid] = status

    def following(self, owner: Owner) -> bool:
        return owner.uid in self.followed

    def queue_create(self, owner: Owner, target: Any) -> bool:
        return False


def test_a_running_job_nothing_follows_is_found_and_followed_again(events: list[str]) -> None:
    """The stall sweep's net (`Operator.unfollowed`, `refollow`): a resource kopf is done with
    whose running job no poller follows would keep its last status for good."""
    kube, sagemaker = FakeKube(running_body()), FakeSageMaker("InProgress")
    operator = build(kube, sagemaker)
    polling = operator.polling = FakePolling()
    owner = Owner("team-a", "tuning", UID)
    assert not operator.unfollowed(kube.body)  # never reconciled here (a paused kopf peer)
    operator.metrics.job_state(UID, "InProgress")  # a reconcile here counted its state
    assert operator.unfollowed(kube.body)
    asyncio.run(operator.refollow(owner))
    assert sagemaker.calls == [Op.DESCRIBE, Op.LIST_TAGS]  # described, proven this resource's
    assert polling.following(owner) and not operator.unfollowed(kube.body)
    asyncio.run(operator.refollow(owner))  # followed now: nothing to do, no call
    assert sagemaker.calls == [Op.DESCRIBE, Op.LIST_TAGS]


def test_refollowing_a_job_that_finished_meanwhile_writes_its_end(events: list[str]) -> None:
    kube, sagemaker = FakeKube(running_body()), FakeSageMaker("Completed")
    operator = build(kube, sagemaker)
    polling = operator.polling = FakePolling()
    operator.metrics.job_state(UID, "InProgress")
    asyncio.run(operator.refollow(Owner("team-a", "tuning", UID)))
    assert kube.body["status"]["hyperParameterTuningJobStatus"] == "Completed"
    assert "JobCompleted" in events and polling.followed == {}


def test_only_running_jobs_without_a_terminal_condition_count_as_unfollowed() -> None:
    operator = build(FakeKube(running_body()), FakeSageMaker("InProgress"))
    operator.metrics.job_state(UID, "InProgress")
    assert not operator.unfollowed(running_body())  # no shared poller: kopf's timers follow
    operator.polling = FakePolling()
    finished = running_body()
    finished["status"]["hyperParameterTuningJobStatus"] = "Completed"
    finished["status"]["conditions"] = []
    terminal = running_body()
    terminal["status"]["conditions"] = [
        {"type": "ACK.Terminal", "status": "True", "reason": "NotOwned", "message": "m"}
    ]
    deleting = running_body()
    deleting["metadata"]["deletionTimestamp"] = "2026-11-27T03:00:00Z"
    unknown = running_body()
    del unknown["status"]["ackResourceMetadata"]
    assert operator.unfollowed(running_body())
    for body in (finished, terminal, deleting, unknown):  # finished: no results to read
        assert not operator.unfollowed(body), body
