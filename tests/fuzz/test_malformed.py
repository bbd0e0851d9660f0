"""Malformed objects through the reconcile core: broken annotations, a status edited by hand,
wrong types, and maps at AWS's limits. Each gives a clear condition, and nothing raises.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from store_port import StorePort

from hpo_operator.cli.render import API_VERSION, render_manifest
from hpo_operator.core import conditions as cond
from hpo_operator.core.driver import drive
from hpo_operator.core.reconcile import spec_problems
from hpo_operator.core.types import ReconcileSettings, Resource, Step, Trigger
from hpo_operator.identity import (
    ANN_ADOPTION_FIELDS,
    ANN_ADOPTION_POLICY,
    ANN_DELETION_POLICY,
    ANN_JOB_NAME,
)

CFG = ReconcileSettings(default_region="us-west-2", operator_version="0.1.0")
NOW = "2026-03-01T10:00:00Z"
ARN = "arn:aws:sagemaker:us-west-2:123456789012:hyper-parameter-tuning-job/"


def spec(name: str = "xgb-tuning", **definition: Any) -> dict[str, Any]:
    return {
        "hyperParameterTuningJobName": name,
        "hyperParameterTuningJobConfig": {
            "strategy": "Random",
            "hyperParameterTuningJobObjective": {"type_": "Minimize", "metricName": "loss"},
            "resourceLimits": {"maxNumberOfTrainingJobs": 2, "maxParallelTrainingJobs": 1},
        },
        "trainingJobDefinition": {
            "algorithmSpecification": {
                "trainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/xgboost:1",
                "trainingInputMode": "File",
                "metricDefinitions": [{"name": "loss", "regex": "loss=(.*)"}],
            },
            "roleARN": "arn:aws:iam::123456789012:role/SageMaker",
            "outputDataConfig": {"s3OutputPath": "s3://bucket/out"},
            "resourceConfig": {
                "instanceType": "ml.m5.large",
                "instanceCount": 1,
                "volumeSizeInGB": 10,
            },
            "stoppingCondition": {"maxRuntimeInSeconds": 3600},
            **definition,
        },
    }


def resource(
    body: Mapping[str, Any] | None = None,
    *,
    status: Mapping[str, Any] | None = None,
    annotations: Mapping[str, str] | None = None,
    name: str = "tuning",
    namespace: str = "team-a",
) -> Resource:
    return Resource(
        namespace=namespace,
        name=name,
        uid=f"uid-{namespace}-{name}",
        generation=1,
        spec=body or spec(),
        status=status or {},
        annotations=annotations or {},
    )


def reconcile(r: Resource, port: StorePort, trigger: Trigger = Trigger.CHANGE) -> Step:
    return asyncio.run(drive(r, CFG, trigger, port, lambda: NOW))


def condition(step: Step, kind: str) -> Mapping[str, Any]:
    assert step.status is not None
    found = cond.find(step.status["conditions"], kind)
    assert found is not None, step.status["conditions"]
    return found


def written(r: Resource, step: Step) -> Resource:
    """The resource after the shell applied the step (status replaced, annotations merged)."""
    status = step.status if step.status is not None else r.status
    return replace(r, status=status, annotations={**r.annotations, **step.annotations})


@pytest.mark.parametrize(
    "fields",
    ['{"hyperParameterTuningJobName": ', "[1, 2]", '{"name": "x"}', "null", "🙂"],
)
def test_broken_adoption_fields_is_a_recoverable_condition_and_no_call(fields: str) -> None:
    port = StorePort()
    annotations = {ANN_ADOPTION_POLICY: "adopt", ANN_ADOPTION_FIELDS: fields}
    step = reconcile(resource(annotations=annotations), port)
    problem = condition(step, cond.RECOVERABLE)
    assert problem["reason"] == "InvalidAnnotation"
    assert ANN_ADOPTION_FIELDS in problem["message"]
    assert sum(port.calls.values()) == 0


def test_unknown_deletion_policy_is_named_and_delete_never_stops_the_job() -> None:
    port = StorePort()
    created = written(r := resource(), reconcile(r, port))
    assert created.status["hyperParameterTuningJobStatus"] == "InProgress"
    odd = replace(created, annotations={**created.annotations, ANN_DELETION_POLICY: "shred"})
    step = reconcile(odd, port, Trigger.POLL)
    problem = condition(step, cond.RECOVERABLE)
    assert ANN_DELETION_POLICY in problem["message"] and "shred" in problem["message"]
    released = reconcile(replace(odd, deleting=True), port, Trigger.DELETE)
    assert released.release
    assert port.calls["StopHyperParameterTuningJob"] == 0
    assert port.store.get("xgb-tuning").status(time.time()) in ("InProgress", "Completed")


@pytest.mark.parametrize(
    "arn", ["garbage", "", "arn:aws:sagemaker", ARN, "arn:aws:iam::1:role/x", 'x"; DROP']
)
def test_hand_edited_garbage_arn_never_crashes_and_is_repaired_or_reported(arn: str) -> None:
    port = StorePort()
    created = written(r := resource(), reconcile(r, port))
    edited = replace(created, status={**created.status, "ackResourceMetadata": {"arn": arn}})
    reconcile(edited, port, Trigger.POLL)
    step = reconcile(edited, port, Trigger.CHANGE)  # a resume or an edit; an empty ARN: InUse
    assert step.status is not None
    meta = step.status.get("ackResourceMetadata") or {}
    if meta.get("arn", "").endswith("/xgb-tuning"):
        assert step.status["hyperParameterTuningJobStatus"] in ("InProgress", "Completed")
    else:  # an ARN that names no job: said so, and the job is not lost
        assert condition(step, cond.TERMINAL)["reason"] == "JobNotFound"
    assert list(port.store.jobs) == ["xgb-tuning"]  # a second Create is refused as InUse
    deleted = reconcile(replace(edited, deleting=True), port, Trigger.DELETE)
    assert deleted.status is not None or deleted.release


@pytest.mark.parametrize(
    "status",
    [
        {"conditions": 5},
        {"conditions": "Ready"},
        {"conditions": [1, "x", None, {"type": 3}]},
        {"ackResourceMetadata": "arn"},
        {"ackResourceMetadata": {"arn": 12}},
        {"hyperParameterTuningJobStatus": ["Completed"], "ackResourceMetadata": {"arn": "a"}},
        {"observedGeneration": "one", "conditions": [{"type": "ACK.Terminal", "status": "True"}]},
        {"trainingJobStatusCounters": [1, 2], "hyperParameterTuningJobStatus": "InProgress"},
        {"bestTrainingJob": "best"},
    ],
)
@pytest.mark.parametrize("trigger", list(Trigger))
def test_wrong_types_in_status_never_crash(status: dict[str, Any], trigger: Trigger) -> None:
    port = StorePort()
    step = reconcile(resource(status=status), port, trigger)
    if step.status is not None:
        assert isinstance(step.status["conditions"], list)
    assert sum(port.calls.values()) <= 6


def test_edited_job_name_annotation_cannot_point_at_another_job() -> None:
    """The bookkeeping annotation is plain metadata anyone who can edit the resource can change:
    the ARN in status, not the annotation, names the job to follow and to stop."""
    port = StorePort()
    victim = written(v := resource(spec("victim-job"), namespace="team-a"), reconcile(v, port))
    mine = written(m := resource(spec("my-job"), namespace="team-b"), reconcile(m, port))
    port.calls.clear()
    port.log.clear()
    hostile = replace(mine, annotations={**mine.annotations, ANN_JOB_NAME: "victim-job"})
    renamed = replace(mine, spec=spec("victim-job"), annotations={})
    for edited in (hostile, renamed):
        step = reconcile(edited, port, Trigger.POLL)
        assert step.status is not None
        assert step.status["ackResourceMetadata"]["arn"].endswith("/my-job")
        reconcile(replace(edited, deleting=True), port, Trigger.DELETE)
    assert {c.job_name for c in port.log} == {"my-job"}
    assert port.store.get("victim-job").status(time.time()) in ("InProgress", "Completed")
    assert victim.status["ackResourceMetadata"]["arn"].endswith("/victim-job")


def test_static_hyper_parameters_at_the_model_maximum_are_sent_whole() -> None:
    big = {f"k{i:03d}" + "k" * 252: "v" * 2500 for i in range(100)}  # 100 × (256 + 2,500)
    port = StorePort()
    step = reconcile(resource(spec(staticHyperParameters=big)), port)
    assert step.status is not None and step.status["hyperParameterTuningJobStatus"]
    sent = port.log[0].request
    assert sent is not None
    assert sent["TrainingJobDefinition"]["StaticHyperParameters"] == big


def test_one_entry_over_the_maximum_is_terminal_and_names_the_map() -> None:
    big = {f"k{i:03d}": "v" for i in range(101)}
    port = StorePort()
    step = reconcile(resource(spec(staticHyperParameters=big)), port)
    terminal = condition(step, cond.TERMINAL)
    assert "spec.trainingJobDefinition.staticHyperParameters" in terminal["message"]
    assert "at most 100" in terminal["message"]
    assert sum(port.calls.values()) == 0


def test_tags_that_leave_no_room_for_the_system_tags_are_named_by_render() -> None:
    """47 spec tags + the 4 system tags pass AWS's 50: render and the operator say so alike."""
    tags = [{"key": f"k{i}", "value": "v"} for i in range(47)]
    manifest = {
        "apiVersion": API_VERSION,
        "kind": "HyperParameterTuningJob",
        "metadata": {"name": "tagged", "namespace": "ns"},
        "spec": {**spec(), "tags": tags},
    }
    rendered = render_manifest(manifest)
    assert rendered.request is None
    expected = (
        "spec.tags: must have at most 46 items, not 47: the operator adds 4 system tags "
        "(services.k8s.aws/controller-version, services.k8s.aws/namespace, "
        "services.k8s.aws/name, services.k8s.aws/uid) and AWS allows 50 in all"
    )
    assert [str(p) for p in rendered.problems] == [expected]
    assert spec_problems(manifest["spec"], "us-west-2") == [expected]
