"""Fuzzing the reconcile core: any resource (spec, hand-edited status, broken annotations, a
namespace's annotations) against any sequence of SageMaker answers.

`decide` must never raise, must finish within `driver.MAX_CALLS`, and must keep its promises:
Create only for a valid spec on a change, never in read-only or adoption mode; Stop only on
delete with the delete policy, and only a job the status or the job's own tags tie to this
resource; an invalid spec's ACK.Terminal message names the first broken field.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mutations import JSON, apply, mutations
from sizes import fuzz_settings

from hpo_operator.core import conditions as cond
from hpo_operator.core.driver import MAX_CALLS
from hpo_operator.core.outcome import status_arn
from hpo_operator.core.reconcile import decide, record, spec_problems
from hpo_operator.core.target import target_of
from hpo_operator.core.types import (
    AwsFailure,
    Call,
    ErrorKind,
    Mode,
    Observation,
    Op,
    ReconcileSettings,
    Resource,
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
    ANN_NS_DELETION_POLICY,
    ANN_READ_ONLY,
    ANN_REGION,
    ANN_SPEC_HASH,
    TAG_NAME,
    TAG_NAMESPACE,
    TAG_UID,
)
from support.model_strategies import valid_specs

pytestmark = pytest.mark.timeout(3600)  # 1,000 cases take minutes

NOW = "2026-03-01T10:00:00Z"
NAMESPACE, NAME, UID = "team-a", "tuning", "5d0c2a1e-0000-4000-8000-000000000001"
STATES = ["InProgress", "Completed", "Failed", "Stopping", "Stopped", "Deleting", "DeleteFailed"]
ARN = "arn:aws:sagemaker:us-west-2:123456789012:hyper-parameter-tuning-job/"

arns = st.one_of(
    st.just(ARN + "xgb"),
    st.text(max_size=30),
    st.builds(lambda job: ARN + job, st.text(min_size=1, max_size=20)),
    st.just("arn:aws:sagemaker"),
    st.just(""),
)
conditions = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from([cond.READY, cond.SYNCED, cond.TERMINAL, cond.RECOVERABLE]),
            "status": st.sampled_from(["True", "False", "Unknown"]),
        },
        optional={
            "reason": st.text(max_size=10),
            "message": st.text(max_size=20),
            "lastTransitionTime": st.text(max_size=25),
        },
    ),
    max_size=5,
)
# What the CRD's structural schema lets a hand edit write: right types, any values.
typed_status = st.fixed_dictionaries(
    {},
    optional={
        "ackResourceMetadata": st.fixed_dictionaries(
            {"arn": arns},
            optional={"region": st.text(max_size=12), "ownerAccountID": st.text(max_size=12)},
        ),
        "hyperParameterTuningJobStatus": st.one_of(st.sampled_from(STATES), st.text(max_size=12)),
        "conditions": conditions,
        "observedGeneration": st.integers(0, 5),
        "failureReason": st.text(max_size=30),
        "trainingJobStatusCounters": st.dictionaries(
            st.sampled_from(["completed", "inProgress", "stopped", "nonRetryableError"]),
            st.integers(0, 10),
        ),
        "bestTrainingJob": st.fixed_dictionaries(
            {}, optional={"trainingJobName": st.text(max_size=10)}
        ),
    },
)
# Wrong types under the status keys the operator reads (only a schema-less client could write
# them, but the core must not trust the API server's schema to stay up).
STATUS_KEYS = [
    "ackResourceMetadata",
    "hyperParameterTuningJobStatus",
    "conditions",
    "observedGeneration",
    "trainingJobStatusCounters",
    "bestTrainingJob",
    "lastModifiedTime",
]
untyped_status = st.dictionaries(st.sampled_from(STATUS_KEYS), JSON, max_size=4)
statuses = st.one_of(typed_status, untyped_status)
annotation_values = st.one_of(
    st.sampled_from(["true", "false", "adopt", "delete", "retain", "Retain", "us-west-2", ""]),
    st.text(max_size=30),
    st.builds(json.dumps, JSON),
    st.just('{"hyperParameterTuningJobName": "xgb"}'),
    st.just('{"hyperParameterTuningJobName": '),
)
resource_annotations = st.dictionaries(
    st.sampled_from(
        [
            ANN_REGION,
            ANN_DELETION_POLICY,
            ANN_ADOPTION_POLICY,
            ANN_ADOPTION_FIELDS,
            ANN_READ_ONLY,
            ANN_JOB_NAME,
            ANN_SPEC_HASH,
            "unrelated/annotation",
        ]
    ),
    annotation_values,
    max_size=4,
)
namespace_annotations = st.dictionaries(
    st.sampled_from(
        [ANN_DEFAULT_REGION, ANN_ENDPOINT_URL, ANN_NS_DELETION_POLICY, ANN_DELETION_POLICY]
    ),
    annotation_values,
    max_size=3,
)


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid spec, one broken in one place, or any JSON object."""
    kind = draw(st.sampled_from(["valid", "broken", "arbitrary"]))
    if kind == "arbitrary":
        found: dict[str, Any] = draw(st.dictionaries(st.text(max_size=30), JSON, max_size=4))
        return found
    spec = draw(valid_specs())
    spec["hyperParameterTuningJobName"] = "xgb"
    if kind == "broken":
        spec = apply(spec, draw(mutations(spec)))
    return spec


@st.composite
def resources(draw: st.DrawFn) -> Resource:
    return Resource(
        namespace=NAMESPACE,
        name=NAME,
        uid=UID,
        generation=draw(st.integers(0, 5)),
        spec=draw(specs()),
        status=draw(statuses),
        annotations=draw(resource_annotations),
        namespace_annotations=draw(namespace_annotations),
        deleting=draw(st.booleans()),
    )


def tags_for(draw: st.DrawFn) -> list[dict[str, str]]:
    owner = draw(st.sampled_from(["this", "other", "none", "partial"]))
    tags = [{"Key": "team", "Value": "ml"}]
    if owner == "this":
        tags += [
            {"Key": TAG_NAMESPACE, "Value": NAMESPACE},
            {"Key": TAG_NAME, "Value": NAME},
            {"Key": TAG_UID, "Value": UID},
        ]
    elif owner == "other":
        tags += [
            {"Key": TAG_NAMESPACE, "Value": "team-b"},
            {"Key": TAG_NAME, "Value": NAME},
            {"Key": TAG_UID, "Value": "another-uid"},
        ]
    elif owner == "partial":
        tags += [{"Key": TAG_NAMESPACE, "Value": NAMESPACE}, {"Key": TAG_NAME, "Value": NAME}]
    return tags


def answer(draw: st.DrawFn, call: Call) -> dict[str, Any] | AwsFailure:
    """What a (possibly faulty) SageMaker says to `call`: typed like boto3's output."""
    if draw(st.integers(0, 3)) == 0:
        kind = draw(st.sampled_from(list(ErrorKind)))
        code = draw(st.sampled_from(["ThrottlingException", "InternalFailure", "ResourceInUse"]))
        message = draw(st.text(max_size=20))
        return AwsFailure(call.op, code, message, kind, throttled=code == "ThrottlingException")
    if call.op is Op.CREATE:
        return {"HyperParameterTuningJobArn": ARN + call.job_name}
    if call.op is Op.STOP:
        return {}
    if call.op is Op.LIST_TAGS:
        return {"Tags": tags_for(draw)}
    if call.op is Op.ADD_TAGS:
        return {"Tags": list((call.request or {})["Tags"])}
    described: dict[str, Any] = {
        "HyperParameterTuningJobName": call.job_name,
        "HyperParameterTuningJobArn": draw(st.sampled_from([ARN + call.job_name, ARN + "x"])),
        "HyperParameterTuningJobStatus": draw(
            st.one_of(st.sampled_from(STATES), st.text(max_size=8))
        ),
        "CreationTime": datetime(2026, 3, 1, tzinfo=UTC),
    }
    if draw(st.booleans()):
        described["TrainingJobStatusCounters"] = {"Completed": draw(st.integers(0, 9))}
        described["FailureReason"] = draw(st.text(max_size=40))
    return described


def run(draw: st.DrawFn, r: Resource, cfg: ReconcileSettings, trigger: Trigger) -> tuple:
    """Play the driver's loop with drawn answers; (calls made, answers, final step)."""
    obs = Observation()
    calls: list[Call] = []
    answers: list[Any] = []
    for _ in range(MAX_CALLS + 1):
        step = decide(r, obs, NOW, cfg, trigger)
        if step.call is None:
            return calls, answers, step
        calls.append(step.call)
        result = answer(draw, step.call)
        answers.append(result)
        obs = record(obs, step.call, result)
    raise AssertionError(f"no outcome after {MAX_CALLS} calls: {[c.op for c in calls]}")


def check_status(step: Step) -> None:
    if step.status is None:
        return
    json.dumps(step.status)  # a JSON merge patch must be able to carry it
    for item in step.status.get("conditions", []):
        assert item["type"] in cond.ORDER and item["status"] in ("True", "False"), item
        assert len(item["message"]) <= cond.MESSAGE_LIMIT


settings_choices = st.sampled_from(
    [
        ReconcileSettings(default_region="us-west-2", operator_version="0.1.0"),
        ReconcileSettings(default_region=None, operator_version="0.1.0"),
        ReconcileSettings(
            default_region="eu-west-1", deletion_policy="retain", operator_version="0.1.0"
        ),
    ]
)


@fuzz_settings(ci=30)
@given(resources(), settings_choices, st.sampled_from(list(Trigger)), st.data())
def test_decide_keeps_its_promises_on_any_input(
    r: Resource, cfg: ReconcileSettings, trigger: Trigger, data: st.DataObject
) -> None:
    calls, answers, step = run(data.draw, r, cfg, trigger)
    check_status(step)
    target = target_of(r, cfg)
    deleting = r.deleting or trigger is Trigger.DELETE
    ops = [c.op for c in calls]
    known_arn = status_arn(r.status)

    if Op.CREATE in ops:
        # A change creates; so does a restart that finds no job in status (a create that was
        # interrupted, a status lost in a restore). A poll never does.
        assert trigger in (Trigger.CHANGE, Trigger.RESUME) and not deleting
        assert target.mode is Mode.MANAGED and target.problem is None and not known_arn
        assert spec_problems(r.spec, target.region) == []
    if Op.STOP in ops:
        assert deleting and target.mode is not Mode.READ_ONLY
        assert target.deletion_policy == "delete" and target.region
        # Ownership is proven before a Stop: by this reconcile's ListTags (no process cache here),
        # whose tags name this resource or (ACK's) its namespace, or by recording an adoption.
        listed = [a for c, a in zip(calls, answers, strict=True) if c.op is Op.LIST_TAGS]
        assert listed and isinstance(listed[-1], dict), answers
        tags = {t["Key"]: t["Value"] for t in listed[-1]["Tags"]}
        assert Op.ADD_TAGS in ops or tags.get(TAG_NAMESPACE) == r.namespace, tags
        if not known_arn and target.mode is Mode.MANAGED:
            # A job the status does not name is stopped only when its tags name this resource.
            listed = [a for c, a in zip(calls, answers, strict=True) if c.op is Op.LIST_TAGS]
            assert listed and isinstance(listed[-1], dict), answers
            tags = {t["Key"]: t["Value"] for t in listed[-1]["Tags"]}
            assert tags.get(TAG_UID) == UID, tags
    # Every call is about the one job the resource means (`choose_job_name`): never a second one
    # named by a status ARN, an annotation or a spec that the others outvote.
    assert {c.job_name.lower() for c in calls} <= {target.job_name.lower()}, calls
    if Op.ADD_TAGS in ops:  # an adoption or an ACK job's migration, never over another's tags
        assert target.mode is not Mode.READ_ONLY, ops
        listed = [a for c, a in zip(calls, answers, strict=True) if c.op is Op.LIST_TAGS]
        tags = {t["Key"]: t["Value"] for t in listed[-1]["Tags"]}
        assert tags.get(TAG_UID) is None and tags.get(TAG_NAMESPACE) in (None, r.namespace), tags
    if step.release:
        assert deleting
    if not deleting and step.status is not None:
        assert step.status.get("observedGeneration") == r.generation


@fuzz_settings(ci=12)
@given(st.data())
def test_an_invalid_spec_is_terminal_with_the_field_named(data: st.DataObject) -> None:
    spec = data.draw(valid_specs())
    spec["hyperParameterTuningJobName"] = "xgb"
    broken = apply(spec, data.draw(mutations(spec)))
    problems = spec_problems(broken, "us-west-2")
    r = Resource(NAMESPACE, NAME, UID, 1, broken, {})
    cfg = ReconcileSettings(default_region="us-west-2")
    calls, _, step = run(data.draw, r, cfg, Trigger.CHANGE)
    if not problems:
        assert [c.op for c in calls][:1] == [Op.CREATE]
        return
    if target_of(r, cfg).problem is not None:  # the name itself was broken: named there
        assert step.status is not None
        return
    assert calls == []
    assert step.status is not None
    terminal = cond.find(step.status["conditions"], cond.TERMINAL)
    assert terminal is not None and terminal["status"] == "True"
    first_field = problems[0].split(": ", 1)[0]  # the path, or a prefix of it
    assert first_field in terminal["message"], (first_field, terminal["message"])
