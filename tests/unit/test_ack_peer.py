"""ACK's real controller as the peer: what sagemaker-controller v1.9.1 sent and wrote, captured
against this project's emulator (`../shared/ack/captured-v1.9.1/`, read at test time).

- The operator's CreateHyperParameterTuningJob body for the same spec equals ACK's captured one,
  except the system tags (`services.k8s.aws/...`).
- What the README says ACK does (its status for a Failed job, its polling cost, the fields it
  late-initializes, its finalizer) is what ACK did.

The migration itself (a resource carrying ACK's status, followed by this operator) runs end to end
in tests/e2e/test_ack_migration.py.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hpo_operator import __version__
from hpo_operator.core.driver import drive
from hpo_operator.core.reconcile import create_request
from hpo_operator.core.types import Call, Op, ReconcileSettings, Resource, Trigger
from hpo_operator.identity import FINALIZER, TAG_CONTROLLER_VERSION, TAG_NAMESPACE
from hpo_operator.model.validate import validate_spec
from support import ack_capture as ack

pytestmark = pytest.mark.skipif(not ack.present(), reason=ack.ABSENT)

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
NAMESPACE = "default"  # where ACK's resources were applied


def operator_create_body(spec: dict[str, Any], name: str) -> dict[str, Any]:
    """The exact request the operator sends for this spec (reconcile's pure builder)."""
    resource = Resource(
        namespace=NAMESPACE, name=name, uid="0000-uid", generation=1, spec=spec, status={}
    )
    return create_request(resource, ReconcileSettings(operator_version=__version__))


def _example(path: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((REPO / path).read_text())
    return manifest


def _sources() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(label, job name, spec): the examples, ACK's e2e sample and the specs ACK was given."""
    if not ack.present():
        return
    for path in sorted(p.relative_to(REPO).as_posix() for p in (REPO / "examples").glob("*.yaml")):
        spec = _example(path)["spec"]
        yield path, spec["hyperParameterTuningJobName"], spec
    sample = ack.e2e_sample()["spec"]
    yield "e2e_xgboost_hpojob.yaml", sample["hyperParameterTuningJobName"], sample
    for job in ack.RESOURCE_FILES:
        yield f"{ack.RESOURCE_FILES[job]} (as applied)", job, ack.applied_spec(job)


SOURCES = list(_sources())


def test_every_captured_create_is_compared() -> None:
    """Each Create ACK sent has a source here, and each example was run through ACK."""
    assert sorted({job for _, job, _ in SOURCES}) == sorted(ack.create_bodies())
    examples = [label for label, _, _ in SOURCES if label.startswith("examples/")]
    assert len(examples) == len(list((REPO / "examples").glob("*.yaml"))) >= 2


@pytest.mark.parametrize(("label", "job", "spec"), SOURCES, ids=[s[0] for s in SOURCES])
def test_create_body_equals_acks_except_system_tags(
    label: str, job: str, spec: dict[str, Any]
) -> None:
    ours = operator_create_body(spec, job)
    theirs = ack.create_bodies()[job]
    assert ack.without_system_tags(ours) == ack.without_system_tags(theirs), label
    # The user's tags come first in both, the system tags after them.
    assert [t["Key"] for t in ours["Tags"]][: len(spec.get("tags") or [])] == [
        t["key"] for t in spec.get("tags") or []
    ]
    # System tags: ACK's keys are a subset of ours (we add name and uid to prove ownership), with
    # the same namespace; the controller-version value names the controller that created the job.
    mine, acks = ack.system_tags(ours), ack.system_tags(theirs)
    assert set(acks) == {TAG_CONTROLLER_VERSION, TAG_NAMESPACE}
    assert set(acks) < set(mine)
    assert mine[TAG_NAMESPACE] == acks[TAG_NAMESPACE] == NAMESPACE
    assert acks[TAG_CONTROLLER_VERSION] == "sagemaker-v1.9.1"
    assert mine[TAG_CONTROLLER_VERSION] == f"hpo-operator-{__version__}"


@pytest.mark.parametrize("path", ["examples/xgboost-tuning.yaml", "examples/failing-tuning.yaml"])
def test_the_examples_are_what_ack_was_given(path: str) -> None:
    spec = _example(path)["spec"]
    assert spec == ack.applied_spec(spec["hyperParameterTuningJobName"])


def test_the_e2e_sample_is_what_ack_was_given() -> None:
    assert ack.e2e_sample()["spec"] == ack.applied_spec("ack-e2e-xgboost")


def _differences(a: Any, b: Any, path: str = "") -> Iterator[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            yield from _differences(a.get(key), b.get(key), f"{path}.{key}" if path else key)
    elif a != b:
        yield path


# What ACK v1.9.1 wrote into spec after Create (late initialization), in every captured resource.
LATE_INITIALIZED = {
    "trainingJobDefinition.algorithmSpecification.metricDefinitions",
    "trainingJobDefinition.enableManagedSpotTraining",
}


@pytest.mark.parametrize("job", list(ack.RESOURCE_FILES))
def test_ack_late_initialized_two_spec_fields(job: str) -> None:
    """ACK rewrites spec after Create; those fields are valid for this operator, and a Create from
    ACK's rewritten spec would differ from the one ACK sent in exactly those fields (the operator
    never sends it: a migrated resource is followed from its ARN, never created again)."""
    written = ack.resource(job)["spec"]
    applied = ack.applied_spec(job)
    assert set(_differences(applied, written)) == LATE_INITIALIZED
    assert validate_spec(written) == []
    request = ack.without_system_tags(operator_create_body(written, job))
    assert set(_differences(ack.without_system_tags(ack.create_bodies()[job]), request)) == {
        "TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions",
        "TrainingJobDefinition.EnableManagedSpotTraining",
    }


# --- The README's sentences about ACK, against what ACK did ----------------------------------

# "ACK writes `Ready=True` and no `ACK.Terminal` for a Failed job"
WRITES = re.compile(r"ACK writes ((?:`[\w.]+=\w+`)(?: and no `[\w.]+`)*) for an? (\w+) job")


def _readme_text() -> str:
    return " ".join(README.read_text().split())  # sentences wrap across lines


def _captured_in_state(state: str) -> list[dict[str, Any]]:
    found = [ack.resource(job) for job in ack.RESOURCE_FILES]
    return [r for r in found if r["status"].get("hyperParameterTuningJobStatus") == state]


def test_readme_says_what_acks_status_holds_for_each_state() -> None:
    claims = WRITES.findall(_readme_text())
    assert len(claims) >= 2, "the README's comparison (Argo CD and Compatibility sections)"
    for written, state in claims:
        resources = _captured_in_state(state)
        assert resources, f"no captured ACK resource is {state}"
        for resource in resources:
            conditions = {c["type"]: c["status"] for c in resource["status"]["conditions"]}
            for kind, value in re.findall(r"`([\w.]+)=(\w+)`", written):
                assert conditions.get(kind) == value, (state, kind, conditions)
            for kind in re.findall(r"and no `([\w.]+)`", written):
                assert kind not in conditions, (state, kind, conditions)


def test_ack_shows_a_failed_job_as_ready_with_no_terminal() -> None:
    """The capture itself (issue 12): Ready=True, ACK.ResourceSynced=True, no ACK.Terminal, the
    failure reason in status. This operator writes ACK.Terminal=True and Ready=False instead."""
    (failed,) = _captured_in_state("Failed")
    conditions = {c["type"]: c for c in failed["status"]["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["ACK.ResourceSynced"]["status"] == "True"
    assert "ACK.Terminal" not in conditions
    assert failed["status"]["failureReason"].startswith("No training job succeeded")


def test_readme_says_acks_status_has_no_observed_generation() -> None:
    assert "its status has no `observedGeneration`" in _readme_text()
    for job in ack.RESOURCE_FILES:
        assert "observedGeneration" not in ack.resource(job)["status"], job


def test_readme_names_the_fields_ack_late_initializes() -> None:
    text = _readme_text()
    match = re.search(r"ACK late-initializes ((?:`\w+`(?:, | and )?)+)", text)
    assert match, "the README's 'No drift' point names what ACK writes into spec"
    named = set(re.findall(r"`(\w+)`", match.group(1)))
    assert named == {path.rsplit(".", 1)[-1] for path in LATE_INITIALIZED}


def test_readme_gives_acks_measured_calls_per_job_hour() -> None:
    """README: 'ACK ... (240.6 calls per job-hour ...)': the steady window's calls divided by the
    in-progress job-hours (N jobs held InProgress for the window)."""
    steady = ack.stats("scale-n100-steady-600s-stats.json")
    job_hours = steady["active_jobs"] * 600 / 3600
    measured = round(steady["total"] / job_hours, 1)
    assert measured == 240.6
    match = re.search(
        r"ACK describes every running job twice every 30 s \(([\d.]+) calls", (_readme_text())
    )
    assert match and float(match.group(1)) == measured


def test_the_finalizer_is_acks() -> None:
    """Migration step 3: existing resources keep their finalizer, which is this operator's."""
    for job in ack.RESOURCE_FILES:
        assert ack.resource(job)["metadata"]["finalizers"] == [FINALIZER]


# --- The calls around a Create ----------------------------------------------------------------


def _acks_named_calls(job: str) -> list[tuple[str, int]]:
    """ACK's calls whose logged body names the job (the log keeps the body of a Describe only
    when it failed, and of every Create and Stop), with their HTTP status."""
    found: list[tuple[str, int]] = []
    for call in ack.calls():
        body = json.loads(call["req"]) if call.get("req") else {}
        if body.get("HyperParameterTuningJobName") == job:
            found.append((ack.operation(call), int(call["status"])))
    return found


def _operator_calls(job: str, describe_after_create: bool) -> list[Op]:
    """The calls of the operator's first reconcile of the resource ACK was given."""
    made: list[Op] = []

    async def port(call: Call) -> dict[str, Any]:
        made.append(call.op)
        if call.op is Op.CREATE:
            assert call.request is not None
            request = ack.without_system_tags(dict(call.request))
            assert request == ack.without_system_tags(ack.create_bodies()[job])
            return {"HyperParameterTuningJobArn": f"arn:aws:sagemaker:us-west-2:1:x/{job}"}
        return {"HyperParameterTuningJobStatus": "InProgress"}

    spec = ack.applied_spec(job)
    resource = Resource(namespace=NAMESPACE, name=job, uid="u", generation=1, spec=spec, status={})
    settings = ReconcileSettings(
        default_region="us-west-2", describe_after_create=describe_after_create
    )
    asyncio.run(drive(resource, settings, Trigger.CHANGE, port, lambda: "2026-11-26T15:21:16Z"))
    return made


@pytest.mark.parametrize("job", ["xgboost-tuning", "failing-tuning", "ack-e2e-xgboost"])
def test_ack_describes_before_create_and_the_operator_does_not(job: str) -> None:
    """ACK's reconcile reads first: a Describe answered ResourceNotFound, then the Create, then
    Describes. The operator creates at once (a name in use comes back as ResourceInUse, which
    it resolves by the job's tags), and with the shared poller makes no Describe after it."""
    assert _acks_named_calls(job) == [
        ("DescribeHyperParameterTuningJob", 400),
        ("CreateHyperParameterTuningJob", 200),
    ]
    assert _operator_calls(job, describe_after_create=False) == [Op.CREATE]  # shared poller
    assert _operator_calls(job, describe_after_create=True) == [Op.CREATE, Op.DESCRIBE]


def test_readme_names_acks_system_tags_as_captured() -> None:
    """README: ACK's `controller-version` says `sagemaker-v1.9.1`, ours add `name` and `uid`."""
    text = _readme_text()
    said = re.search(r"ACK's `controller-version` says `([^`]+)`", text)
    added = re.search(r"ours add `(\w+)` and `(\w+)` beside `(\w+)`", text)
    assert said and added
    for body in ack.create_bodies().values():
        tags = ack.system_tags(body)
        assert tags[TAG_CONTROLLER_VERSION] == said.group(1)
        assert {key.removeprefix(ack.SYSTEM_TAG_PREFIX) for key in tags} == {
            "controller-version",
            added.group(3),
        }
    ours = ack.system_tags(operator_create_body(ack.applied_spec("xgboost-tuning"), "x"))
    assert {key.removeprefix(ack.SYSTEM_TAG_PREFIX) for key in ours} == {
        "controller-version",
        *added.groups(),
    }
