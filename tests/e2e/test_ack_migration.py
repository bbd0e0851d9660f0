"""Migrating from ACK, end to end, with what ACK's controller really left behind.

Each test takes one resource exactly as ACK's sagemaker-controller v1.9.1 left it
(`../shared/ack/captured-v1.9.1/*.yaml`: ACK's real status, its finalizer and its late-initialized
spec), and a SageMaker (a fresh emulator) holding that job, created with the Create body ACK
really sent (`sagemaker-calls.jsonl`) and driven to the captured state. ACK is stopped (it never
runs here), the CRD is this operator's (README "Migrating a cluster from ACK", steps 1 and 2), and
then the operator starts. Expected: no Create, the status refreshed from the job, this operator's
conditions, and the spec never written.

The last test runs the README's steps whole on a cluster of its own that starts with ACK's CRD:
the four resources in `default` as ACK wrote them, step 2's command read from the README.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hpo_devtools.cluster import Binaries, DevCluster
from hpo_emulator.config import EmulatorConfig
from hpo_emulator.server import RunningEmulator, run_in_thread
from hpo_operator.identity import FINALIZER, FINISHED_LABEL
from support import ack_capture as ack
from support.emulator_client import client
from support.kube import Kubectl
from support.operator_harness import (
    GROUP,
    PLURAL,
    REPO,
    VERSION,
    Jobs,
    OperatorProcess,
    stats,
    wait_for,
)
from support.tools import tool

pytestmark = [pytest.mark.skipif(not ack.present(), reason=ack.ABSENT)]

OPERATOR_STATUS_KEYS = {"observedGeneration", "trainingJobStatusCounters", "lastModifiedTime"}


def _emulator(training_seconds: float) -> Iterator[RunningEmulator]:
    config = EmulatorConfig(training_seconds=training_seconds, stop_seconds=1.0, quotas={})
    with run_in_thread(config) as em:
        yield em


@pytest.fixture
def fast_sagemaker() -> Iterator[RunningEmulator]:
    """A SageMaker of its own (job names exactly ACK's), whose jobs finish in seconds."""
    yield from _emulator(1.0)


@pytest.fixture
def slow_sagemaker() -> Iterator[RunningEmulator]:
    """A SageMaker of its own whose jobs stay InProgress for the test."""
    yield from _emulator(600.0)


def create_as_ack_did(emulator: RunningEmulator, job: str, namespace: str) -> str:
    """The job, from ACK's own Create body (its system tags name the resource's namespace)."""
    body = copy.deepcopy(ack.create_bodies()[job])
    for tag in body["Tags"]:
        if tag["Key"] == "services.k8s.aws/namespace":
            tag["Value"] = namespace
    arn: str = client(emulator.url).create_hyper_parameter_tuning_job(**body)[
        "HyperParameterTuningJobArn"
    ]
    return arn


def job_state(emulator: RunningEmulator, job: str) -> str:
    """The job's state, as SageMaker describes it (the emulator's jobs advance when asked)."""
    found = client(emulator.url).describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=job
    )
    state: str = found["HyperParameterTuningJobStatus"]
    return state


def apply_as_ack_left_it(jobs: Jobs, namespace: str, job: str) -> dict[str, Any]:
    """The captured resource in `namespace`: metadata as ACK left it (finalizer, last-applied
    annotation), ACK's late-initialized spec, then ACK's status through the status subresource."""
    captured = ack.resource(job)
    metadata = captured["metadata"]
    manifest = {
        "apiVersion": captured["apiVersion"],
        "kind": captured["kind"],
        "metadata": {
            "name": metadata["name"],
            "annotations": dict(metadata["annotations"]),
            "finalizers": list(metadata["finalizers"]),
        },
        "spec": captured["spec"],
    }
    jobs.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(manifest))
    jobs.api.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, metadata["name"], {"status": captured["status"]}
    )
    body = jobs.get(namespace, metadata["name"])
    assert body is not None
    # The operator's CRD holds ACK's status as ACK wrote it (a superset of ACK's schema).
    assert body["status"] == captured["status"]
    return body


def calls(emulator: RunningEmulator) -> dict[str, int]:
    """Calls per operation since the last reset, every outcome counted."""
    return {op: sum(outcomes.values()) for op, outcomes in stats(emulator)["operations"].items()}


def refreshed(jobs: Jobs, namespace: str, name: str, *, results: bool = False) -> dict[str, Any]:
    """The status, once this operator has written it (it has what ACK's never has); with
    `results`, once its second write (the finished job's results) is in too."""
    keys = OPERATOR_STATUS_KEYS | ({"bestTrainingJobModelArtifacts"} if results else set())

    def done() -> dict[str, Any] | None:
        status = jobs.status(namespace, name)
        return status if set(status) >= keys else None

    found: dict[str, Any] = wait_for(done, 60, f"{namespace}/{name} refreshed by the operator")
    return found


def shape(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, JSON type) of every leaf; list items share one path; map keys are data."""
    if isinstance(value, dict) and not path.endswith("tunedHyperParameters"):
        for key, item in value.items():
            yield from shape(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from shape(item, f"{path}[]")
    else:
        yield path, type(value).__name__


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def assert_spec_untouched(jobs: Jobs, namespace: str, before: dict[str, Any]) -> None:
    after = jobs.get(namespace, before["metadata"]["name"])
    assert after is not None
    assert after["spec"] == before["spec"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    # The finalizer stays, or goes with the parking label once the job is finished (`parking`).
    finalizers = before["metadata"]["finalizers"]
    if FINISHED_LABEL in (after["metadata"].get("labels") or {}):
        finalizers = [f for f in finalizers if f != FINALIZER]
    assert after["metadata"].get("finalizers", []) == finalizers


@pytest.mark.parametrize("job", ["xgboost-tuning", "ack-e2e-xgboost"])
def test_a_completed_job_from_ack_is_refreshed_once_never_created(
    job: str,
    namespace: str,
    jobs: Jobs,
    fast_sagemaker: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    arn = create_as_ack_did(fast_sagemaker, job, namespace)
    wait_for(lambda: job_state(fast_sagemaker, job) == "Completed", 30, f"{job} Completed")
    before = apply_as_ack_left_it(jobs, namespace, job)
    fast_sagemaker.emulator.stats.reset()

    start_operator(namespace, endpoint=fast_sagemaker.url)
    status = refreshed(jobs, namespace, job, results=True)  # results are the second write
    # One Describe, one ListTags (ACK's tags name this namespace) and one AddTags: the resource
    # records itself on the job, then follows it; its results (which ACK never read) once: one
    # page of the top training jobs and the best one's model artifact.
    assert calls(fast_sagemaker) == {
        "DescribeHyperParameterTuningJob": 1,
        "ListTags": 1,
        "AddTags": 1,
        "ListTrainingJobsForHyperParameterTuningJob": 1,
        "DescribeTrainingJob": 1,
    }
    assert status["hyperParameterTuningJobStatus"] == "Completed"
    assert status["ackResourceMetadata"]["arn"] == arn
    assert status["observedGeneration"] == before["metadata"]["generation"]
    assert status["trainingJobStatusCounters"]["completed"] == 2
    described = client(fast_sagemaker.url).describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=job
    )
    assert (
        status["bestTrainingJob"]["trainingJobName"]
        == (described["BestTrainingJob"]["TrainingJobName"])
    )
    found = conditions(status)
    assert found["Ready"]["status"] == "True" and found["ACK.ResourceSynced"]["status"] == "True"
    assert "ACK.Terminal" not in found and "ACK.LateInitialized" not in found
    # Every field ACK's status has, ours has, with the same JSON type.
    ours = set(shape(status))
    theirs = set(shape(ack.resource(job)["status"]))
    assert theirs <= ours, sorted(theirs - ours)
    # The Ready condition kept ACK's transition time: it was True before and is True now.
    ack_ready = conditions(ack.resource(job)["status"])["Ready"]
    assert found["Ready"]["lastTransitionTime"] == ack_ready["lastTransitionTime"]
    assert_spec_untouched(jobs, namespace, before)


def test_a_failed_job_from_ack_becomes_terminal(
    namespace: str,
    jobs: Jobs,
    fast_sagemaker: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    job = "failing-tuning"
    create_as_ack_did(fast_sagemaker, job, namespace)
    wait_for(lambda: job_state(fast_sagemaker, job) == "Failed", 30, f"{job} Failed")
    before = apply_as_ack_left_it(jobs, namespace, job)
    ack_conditions = conditions(before["status"])
    assert ack_conditions["Ready"]["status"] == "True" and "ACK.Terminal" not in ack_conditions
    fast_sagemaker.emulator.stats.reset()

    start_operator(namespace, endpoint=fast_sagemaker.url)
    status = refreshed(jobs, namespace, job)
    assert status["hyperParameterTuningJobStatus"] == "Failed"
    assert status["failureReason"] == before["status"]["failureReason"]
    assert status["trainingJobStatusCounters"]["nonRetryableError"] == 2
    types = [c["type"] for c in status["conditions"]]
    assert types[0] == "ACK.Terminal"  # first: Argo CD's stock check answers Degraded
    found = conditions(status)
    assert found["ACK.Terminal"]["status"] == "True"
    assert status["failureReason"].rstrip(". ") in found["ACK.Terminal"]["message"]
    assert found["Ready"]["status"] == "False"
    assert found["ACK.ResourceSynced"]["status"] == "True"
    # One Describe, one ListTags (ACK's tags name this namespace) and one AddTags: the resource
    # records itself on the job, then follows it.
    assert calls(fast_sagemaker) == {
        "DescribeHyperParameterTuningJob": 1,
        "ListTags": 1,
        "AddTags": 1,
    }
    assert_spec_untouched(jobs, namespace, before)


def test_an_in_progress_job_from_ack_is_followed_and_stopped_on_delete(
    namespace: str,
    jobs: Jobs,
    slow_sagemaker: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    """ACK's `delete-test`: InProgress when captured, then deleted (ACK stopped it)."""
    job = "delete-test"
    create_as_ack_did(slow_sagemaker, job, namespace)
    before = apply_as_ack_left_it(jobs, namespace, job)
    slow_sagemaker.emulator.stats.reset()

    start_operator(namespace, endpoint=slow_sagemaker.url)
    status = refreshed(jobs, namespace, job)
    assert status["hyperParameterTuningJobStatus"] == "InProgress"
    found = conditions(status)
    assert found["Ready"]["status"] == "False"
    assert found["ACK.ResourceSynced"]["status"] == "False"
    assert "ACK.Terminal" not in found and "ACK.LateInitialized" not in found
    assert "CreateHyperParameterTuningJob" not in calls(slow_sagemaker)
    assert_spec_untouched(jobs, namespace, before)

    jobs.delete(namespace, job)
    jobs.wait_gone(namespace, job, timeout=60)
    assert job_state(slow_sagemaker, job) == "Stopped"
    made = calls(slow_sagemaker)
    assert made.get("StopHyperParameterTuningJob") == 1
    assert "CreateHyperParameterTuningJob" not in made


def test_an_in_progress_job_from_ack_that_finished_meanwhile_is_reported_completed(
    namespace: str,
    jobs: Jobs,
    fast_sagemaker: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    """ACK stopped while the job ran (migration step 1); it completed before the operator came."""
    job = "delete-test"
    create_as_ack_did(fast_sagemaker, job, namespace)
    wait_for(lambda: job_state(fast_sagemaker, job) == "Completed", 30, f"{job} Completed")
    before = apply_as_ack_left_it(jobs, namespace, job)
    assert before["status"]["hyperParameterTuningJobStatus"] == "InProgress"
    fast_sagemaker.emulator.stats.reset()

    start_operator(namespace, endpoint=fast_sagemaker.url)
    status = jobs.wait_state(namespace, job, "Completed", timeout=60)
    found = conditions(status)
    assert found["Ready"]["status"] == "True" and found["ACK.ResourceSynced"]["status"] == "True"
    assert status["observedGeneration"] == before["metadata"]["generation"]
    # kopf posts Events in the background, after the status write: wait for it.
    wait_for(
        lambda: "JobCompleted" in [e["reason"] for e in jobs.events(namespace, job)],
        30,
        "the JobCompleted Event",
    )
    assert "CreateHyperParameterTuningJob" not in calls(fast_sagemaker)
    assert_spec_untouched(jobs, namespace, before)


# --- The README's migration steps, on a cluster of its own that starts with ACK's CRD ----------


class SteppedClock:
    """Wall time plus an offset a test can move forward (the emulator's jobs follow it)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def readme_crd_replacement() -> list[str]:
    """Migration step 2's command, as the README gives it (kubectl's arguments)."""
    readme = " ".join((REPO / "README.md").read_text().split())
    section = readme.split("Migrating a cluster from ACK:", 1)[1]
    match = re.search(r"`(kubectl apply [^`]*-f crds/)`", section)
    assert match, "README migration step 2 names the kubectl command that replaces the CRD"
    program, *args = shlex.split(match.group(1))
    assert program == "kubectl"
    return [str(REPO / "crds") if arg == "crds/" else arg for arg in args]


def wait_established(kubectl: Kubectl) -> dict[str, Any]:
    def established() -> dict[str, Any] | None:
        crd: dict[str, Any] = kubectl.json("get", "crd", f"{PLURAL}.{GROUP}")
        found = crd.get("status", {}).get("conditions") or []
        ok = any(c["type"] == "Established" and c["status"] == "True" for c in found)
        return crd if ok else None

    crd: dict[str, Any] = wait_for(established, 60, "the CRD to be Established")
    return crd


def test_the_readme_migration_steps_from_acks_crd_and_resources(tmp_path: Path) -> None:
    """ACK's CRD installed, the four resources ACK left in `default` (as ACK wrote them), their
    jobs in SageMaker; then README step 1 (ACK stopped: it never runs here), step 2 (its command,
    read from the README, replaces the CRD) and step 3 (the operator starts)."""
    from kubernetes import config

    with contextlib.ExitStack() as stack:
        cluster = stack.enter_context(
            DevCluster.temporary(binaries=Binaries.from_assets(tool("KUBEBUILDER_ASSETS")))
        )
        kubectl = Kubectl(binary=tool("KUBECTL"), kubeconfig=cluster.kubeconfig)
        api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
        stack.callback(api.close)
        jobs = Jobs(kubectl, api)
        kubectl("create", "-f", str(ack.ACK_CRD))  # as ACK's Helm chart installs it
        assert "BEST" not in json.dumps(wait_established(kubectl))  # ACK's, not ours

        clock = SteppedClock()
        emulator = stack.enter_context(
            run_in_thread(
                EmulatorConfig(training_seconds=600.0, stop_seconds=1.0, quotas={}), clock
            )
        )
        finished = ["xgboost-tuning", "ack-e2e-xgboost", "failing-tuning"]
        for job in finished:
            create_as_ack_did(emulator, job, "default")
        clock.offset += 3600  # those three finish; the next one runs for ten minutes
        create_as_ack_did(emulator, "delete-test", "default")
        for job in ack.RESOURCE_FILES:
            captured = ack.resource(job)["status"]["hyperParameterTuningJobStatus"]
            assert job_state(emulator, job) == captured, job
        before = {job: apply_as_ack_left_it(jobs, "default", job) for job in ack.RESOURCE_FILES}

        kubectl(*readme_crd_replacement())
        assert "BEST" in json.dumps(wait_established(kubectl))  # ours now
        for job, body in before.items():
            assert jobs.status("default", job) == body["status"], job  # kept as ACK wrote it
        emulator.emulator.stats.reset()

        proc = OperatorProcess(cluster.kubeconfig, emulator.url, ["default"], tmp_path / "op.log")
        stack.callback(lambda: sys.stderr.write(f"\n--- operator log ---\n{proc.tail(40)}\n"))
        stack.callback(proc.stop)
        proc.start()

        for job in ack.RESOURCE_FILES:
            status = refreshed(jobs, "default", job)
            state = before[job]["status"]["hyperParameterTuningJobStatus"]
            assert status["hyperParameterTuningJobStatus"] == state, job
            found = conditions(status)
            ready = {"Completed": "True", "Failed": "False", "InProgress": "False"}[state]
            assert found["Ready"]["status"] == ready, job
            assert (found.get("ACK.Terminal") or {}).get("status") == (
                "True" if state == "Failed" else None
            ), job
            assert "ACK.LateInitialized" not in found
            assert_spec_untouched(jobs, "default", before[job])
        made = calls(emulator)
        assert "CreateHyperParameterTuningJob" not in made
        assert made["DescribeHyperParameterTuningJob"] >= len(ack.RESOURCE_FILES)

        jobs.delete("default", "delete-test")
        jobs.wait_gone("default", "delete-test", timeout=60)
        assert job_state(emulator, "delete-test") == "Stopped"
        assert calls(emulator).get("StopHyperParameterTuningJob") == 1
