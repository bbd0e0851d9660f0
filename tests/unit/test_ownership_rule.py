"""Ownership is proven, never assumed (issue 13, item 1): the pure decisions, with no Kubernetes
and no AWS. The operator follows, reports, stops or tags a job only if its tags prove it is this
resource's; a status ARN, an annotation or a name pointing elsewhere changes nothing in AWS.

Each `FakeSageMaker` plays one operator process: it keeps the proof of each resource the way the
shell does (`Step.proven`); `sm.proven.clear()` plays a restart.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from test_reconcile import ACK_TAGS, FakeSageMaker, apply, condition, resource, run

from hpo_operator.core import conditions as c
from hpo_operator.core.target import choose_job_name
from hpo_operator.core.types import AwsFailure, ErrorKind, Op, Resource, Trigger
from hpo_operator.identity import (
    ANN_ADOPTION_FIELDS,
    ANN_ADOPTION_POLICY,
    ANN_JOB_NAME,
)
from hpo_operator.model.translate import system_tags

A_JOB = "a-job"
B_JOB = "xgb-tuning-1"  # the spec's name (test_reconcile.SPEC)
ADOPT = {ANN_ADOPTION_POLICY: "adopt", ANN_ADOPTION_FIELDS: '{"hyperParameterTuningJobName": "x"}'}


def tenant_a_job(sm: FakeSageMaker) -> str:
    """Namespace team-x's running job, created by its resource `secret`."""
    return sm.add_job(A_JOB, system_tags("team-x", "secret", "uid-a", "1.2.3"))


def b_running(sm: FakeSageMaker) -> Resource:
    """Tenant B's resource, its own job created and running."""
    return apply(resource(), run(resource(), sm))


def forged(r: Resource, arn: str) -> Resource:
    """B wrote another job's ARN into its status (status subresource write)."""
    meta = {**r.status["ackResourceMetadata"], "arn": arn}
    return replace(r, status={**r.status, "ackResourceMetadata": meta})


def shows(r: Resource | Any, text: str) -> bool:
    status = r.status if isinstance(r, Resource) else (r.status or {})
    return text.lower() in repr(status).lower()


# --- F1: a status ARN pointing at another tenant's job ---------------------------------------


@pytest.mark.parametrize("restarted", [False, True])
def test_a_forged_status_arn_is_ignored_and_the_own_job_followed(restarted: bool) -> None:
    sm = FakeSageMaker()
    a_arn = tenant_a_job(sm)
    r = forged(b_running(sm), a_arn)
    if restarted:
        sm.proven.clear()
    sm.calls.clear()
    step = run(r, sm, Trigger.POLL)
    assert sm.calls == ([Op.DESCRIBE, Op.LIST_TAGS] if restarted else [Op.DESCRIBE])
    after = apply(r, step)
    assert after.status["ackResourceMetadata"]["arn"] == sm.arn(B_JOB)
    assert not shows(after, A_JOB)
    assert step.proven is not None and step.proven.endswith(f"|{B_JOB}")


@pytest.mark.parametrize("restarted", [False, True])
def test_delete_with_a_forged_status_arn_stops_the_own_job_only(restarted: bool) -> None:
    sm = FakeSageMaker()
    a_arn = tenant_a_job(sm)
    r = replace(forged(b_running(sm), a_arn), deleting=True)
    if restarted:
        sm.proven.clear()
    sm.calls.clear()
    step = run(r, sm, Trigger.DELETE)
    ops = [Op.DESCRIBE, Op.STOP, Op.DESCRIBE]
    assert sm.calls == ([Op.DESCRIBE, Op.LIST_TAGS, *ops[1:]] if restarted else ops)
    assert sm.jobs[A_JOB]["HyperParameterTuningJobStatus"] == "InProgress"
    assert sm.jobs[B_JOB]["HyperParameterTuningJobStatus"] == "Stopping"
    assert not shows(step, A_JOB)


def test_a_forged_arn_without_the_recorded_name_is_refused_by_the_tags() -> None:
    """The recorded name removed too: the ARN's job is the only candidate; its tags name another
    namespace's resource, so nothing of it is reported and nothing is changed."""
    sm = FakeSageMaker()
    a_arn = tenant_a_job(sm)
    r = forged(b_running(sm), a_arn)
    r = replace(r, annotations={k: v for k, v in r.annotations.items() if k != ANN_JOB_NAME})
    for trigger in (Trigger.POLL, Trigger.CHANGE):
        sm.calls.clear()
        step = run(r, sm, trigger)
        assert sm.calls == [Op.DESCRIBE, Op.LIST_TAGS]
        terminal = condition(step, c.TERMINAL)
        assert terminal is not None and terminal["reason"] == "NotOwned"
        assert "team-x" not in terminal["message"] and "secret" not in terminal["message"]
        assert step.status is not None and "ackResourceMetadata" not in step.status
        assert "hyperParameterTuningJobStatus" not in step.status
        assert step.proven is None
    sm.calls.clear()
    resumed = run(r, sm, Trigger.RESUME, resume_from_status=True)
    assert sm.calls == [Op.LIST_TAGS]  # a running status is trusted only once proven
    assert condition(resumed, c.TERMINAL)["reason"] == "NotOwned"  # type: ignore[index]
    sm.calls.clear()
    gone = run(replace(r, deleting=True), sm, Trigger.DELETE)
    assert gone.release and Op.STOP not in sm.calls
    assert sm.jobs[A_JOB]["HyperParameterTuningJobStatus"] == "InProgress"


def test_a_status_arn_naming_a_job_made_outside_kubernetes_is_not_followed() -> None:
    sm = FakeSageMaker()
    free = sm.add_job("by-hand", [{"Key": "team", "Value": "ml"}])
    r = forged(b_running(sm), free)
    r = replace(r, annotations={k: v for k, v in r.annotations.items() if k != ANN_JOB_NAME})
    step = run(r, sm, Trigger.POLL)
    assert condition(step, c.TERMINAL)["reason"] == "NotOwned"  # type: ignore[index]
    assert Op.ADD_TAGS not in sm.calls


def test_a_resume_trusts_a_running_status_only_after_one_listtags_per_process() -> None:
    sm = FakeSageMaker()
    r = b_running(sm)
    sm.proven.clear()
    sm.calls.clear()
    run(r, sm, Trigger.RESUME, resume_from_status=True)
    run(r, sm, Trigger.RESUME, resume_from_status=True)
    assert sm.calls == [Op.LIST_TAGS]


@pytest.mark.parametrize(
    ("recorded", "arn_job", "spec", "chosen"),
    [
        ("b", "b", "b", "b"),
        ("b", "a", "b", "b"),  # F1: a forged status ARN is outvoted
        ("a", "b", "b", "b"),  # an edited bookkeeping annotation is outvoted
        ("b", "b", "a", "b"),  # the spec renamed after Create (reported as immutable)
        (None, "b", "B", "B"),  # ACK's resources: no recorded name; case-insensitive
        (None, "a", "b", "a"),  # only the ARN: followed only if its tags prove it
        ("c", "a", "b", "c"),  # all differ: the recorded name
        ("b", None, "a", "b"),
        (None, None, "b", "b"),
    ],
)
def test_the_job_name_comes_from_agreeing_sources(
    recorded: str | None, arn_job: str | None, spec: str, chosen: str
) -> None:
    arn = f"arn:aws:sagemaker:us-west-2:1:hyper-parameter-tuning-job/{arn_job}" if arn_job else None
    assert choose_job_name(recorded, arn, spec) == chosen


# --- F2: adoption is recorded on the job -----------------------------------------------------


def adopter(namespace: str, name: str, uid: str, job: str) -> Resource:
    fields = f'{{"hyperParameterTuningJobName": "{job}"}}'
    ann = {ANN_ADOPTION_POLICY: "adopt", ANN_ADOPTION_FIELDS: fields}
    return resource(namespace=namespace, name=name, uid=uid, annotations=ann)


def test_a_job_adopted_by_one_namespace_cannot_be_adopted_by_another() -> None:
    sm = FakeSageMaker()
    sm.add_job("by-hand", [{"Key": "team", "Value": "ml"}])
    first = adopter("team-a", "adopter", "uid-a", "by-hand")
    run(first, sm)
    assert Op.ADD_TAGS in sm.calls
    sm.calls.clear()
    second = adopter("team-b", "second", "uid-b", "by-hand")
    step = run(second, sm)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TAGS]
    terminal = condition(step, c.TERMINAL)
    assert terminal is not None and terminal["reason"] == "OwnedByAnotherResource"
    texts = [terminal["message"], *(e.message for e in step.events)]
    assert [t for t in texts if "team-a" in t or "adopter" in t] == []
    sm.calls.clear()
    gone = run(replace(apply(second, step), deleting=True), sm, Trigger.DELETE)
    assert gone.release and sm.calls == []
    tags = {t["Key"]: t["Value"] for t in sm.tags[sm.arn("by-hand")]}
    assert (tags["services.k8s.aws/namespace"], tags["services.k8s.aws/uid"]) == ("team-a", "uid-a")


def test_a_job_adopted_before_adoptions_were_recorded_is_recorded_on_the_next_follow() -> None:
    sm = FakeSageMaker()
    arn = sm.add_job("by-hand", [])
    old = adopter("team-a", "adopter", "uid-a", "by-hand")
    old = replace(old, status={"ackResourceMetadata": {"arn": arn}, "observedGeneration": 1})
    step = run(old, sm, Trigger.RESUME)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TAGS, Op.ADD_TAGS]
    assert step.status is not None and step.status["ackResourceMetadata"]["arn"] == arn
    assert "services.k8s.aws/uid" in {t["Key"] for t in sm.tags[arn]}


def test_acks_jobs_are_taken_over_once_in_their_namespace_only() -> None:
    """ACK's tags name the namespace only: the first resource of that namespace that follows the
    job records itself on it; another namespace's, or a second resource of the same one, cannot."""
    sm = FakeSageMaker()
    arn = sm.add_job(B_JOB, ACK_TAGS)  # ACK made it for namespace team-a
    status = {"ackResourceMetadata": {"arn": arn}, "hyperParameterTuningJobStatus": "InProgress"}
    theirs = run(resource(namespace="team-b", uid="uid-b", status=status), sm)
    assert condition(theirs, c.TERMINAL)["reason"] == "NotOwned"  # type: ignore[index]
    assert Op.ADD_TAGS not in sm.calls
    ours = run(resource(status=status), sm)
    assert condition(ours, c.TERMINAL) is None and Op.ADD_TAGS in sm.calls
    sibling = run(resource(name="sibling", uid="uid-s", status=status), sm)
    assert condition(sibling, c.TERMINAL)["reason"] == "NotOwned"  # type: ignore[index]


def test_a_job_whose_tags_cannot_record_the_resource_is_terminal_and_deletes_release() -> None:
    """AWS refuses the AddTags for good (the job has 50 tags already): ACK.Terminal, no retry
    loop, and the delete releases without stopping a job the resource could not take over."""
    sm = FakeSageMaker()
    sm.add_job("by-hand", [])
    sm.failures[Op.ADD_TAGS] = AwsFailure(
        Op.ADD_TAGS, "ValidationException", "at most 50 tags", ErrorKind.TERMINAL
    )
    r = adopter("team-a", "adopter", "uid-a", "by-hand")
    step = run(r, sm)
    terminal = condition(step, c.TERMINAL)
    assert terminal is not None and terminal["reason"] == "OwnershipNotRecorded"
    assert "at most 50 tags" in terminal["message"] and step.retry is None
    assert step.status is not None and "ackResourceMetadata" not in step.status
    status = {"ackResourceMetadata": {"arn": sm.arn("by-hand")}, "observedGeneration": 1}
    gone = run(replace(r, status=status, deleting=True), sm, Trigger.DELETE)
    assert gone.release and Op.STOP not in sm.calls
