"""The operator end to end: real kube-apiserver, the SageMaker emulator, `hpo-operator run`.

Create → poll → Completed/Failed, stop on delete, retain, AWS's ValidationException, spec edits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hpo_emulator.config import EmulatorConfig, Faults
from hpo_emulator.server import RunningEmulator, run_in_thread
from hpo_operator.identity import FINALIZER, FINISHED_LABEL
from support.operator_harness import (
    FAILING_IMAGE,
    Jobs,
    OperatorProcess,
    job_name,
    stats,
    tuning_job,
    wait_for,
)


def test_full_lifecycle_to_completed_with_best_training_job(
    namespace: str, jobs: Jobs, emulator: RunningEmulator, operator: OperatorProcess
) -> None:
    name = job_name("lifecycle")
    jobs.apply(namespace, tuning_job("xgb", name))
    in_progress = jobs.wait_state(namespace, "xgb", "InProgress", timeout=30)
    meta = in_progress["ackResourceMetadata"]
    assert meta["arn"].endswith(f":hyper-parameter-tuning-job/{name}")
    assert meta["ownerAccountID"] == "123456789012"
    assert meta["region"] == "us-west-2" and meta["partition"] == "aws"
    synced = jobs.condition(namespace, "xgb", "ACK.ResourceSynced")
    assert synced is not None and synced["status"] == "False"
    running = jobs.get(namespace, "xgb")
    assert running is not None
    # Held by the finalizer until finished; then parked (`parking`): one or the other, always.
    held = FINALIZER in (running["metadata"].get("finalizers") or [])
    assert held or FINISHED_LABEL in (running["metadata"].get("labels") or {})

    done = jobs.wait_state(namespace, "xgb", "Completed", timeout=60)
    best = done["bestTrainingJob"]
    assert best["trainingJobName"] and best["trainingJobStatus"] == "Completed"
    assert best["finalHyperParameterTuningJobObjectiveMetric"]["metricName"] == "validation:error"
    assert done["observedGeneration"] == 1
    assert done["trainingJobStatusCounters"]["completed"] == 2
    conditions = {c["type"]: c for c in done["conditions"]}
    assert conditions["ACK.ResourceSynced"]["status"] == "True"
    assert conditions["Ready"]["status"] == "True"
    assert "ACK.Terminal" not in conditions

    body = jobs.get(namespace, "xgb")
    assert body is not None
    assert set(body["status"]) <= {  # only what the CRD declares (the server prunes the rest)
        "ackResourceMetadata",
        "conditions",
        "observedGeneration",
        "hyperParameterTuningJobStatus",
        "bestTrainingJob",
        "overallBestTrainingJob",
        "failureReason",
        "trainingJobStatusCounters",
        "objectiveStatusCounters",
        "creationTime",
        "hyperParameterTuningEndTime",
        "lastModifiedTime",
        "consumedResources",
        "tuningJobCompletionDetails",
        "topTrainingJobs",
        "topTrainingJobsCompleted",
        "bestTrainingJobModelArtifacts",
    }
    assert "kopf" not in body["status"]
    annotations = body["metadata"]["annotations"]
    assert not [k for k in annotations if k.startswith("kopf.zalando.org")]
    assert any(k.startswith("hpo-operator.sagemaker.services.k8s.aws/") for k in annotations)

    job = emulator.store.jobs[name.lower()]
    tags = {t["Key"]: t["Value"] for t in job.tags}
    assert tags["services.k8s.aws/namespace"] == namespace
    assert tags["services.k8s.aws/name"] == "xgb"
    assert tags["services.k8s.aws/uid"] == body["metadata"]["uid"]
    assert tags["team"] == "e2e"

    reasons = [e["reason"] for e in jobs.events(namespace, "xgb")]
    assert "Created" in reasons and "JobCompleted" in reasons

    # An idle finished job costs no SageMaker call.
    before = stats(emulator)["operations"].get("DescribeHyperParameterTuningJob", {})
    wait_for(lambda: "hpo_tuning_jobs" in operator.metrics(), 10, "metrics")
    time.sleep(6 * 0.5)  # six poll intervals: the only sleep here, and it asserts an absence
    after = stats(emulator)["operations"].get("DescribeHyperParameterTuningJob", {})
    assert after == before
    text = operator.metrics()
    assert (
        'hpo_sagemaker_calls_total{account="own",operation="CreateHyperParameterTuningJob",'
        'outcome="ok",region="us-west-2"}' in text
    )
    assert 'hpo_tuning_jobs{status="Completed"} 1.0' in text
    assert operator.probe("/readyz") == 200

    jobs.delete(namespace, "xgb")
    jobs.wait_gone(namespace, "xgb")


def test_per_resource_polling_reaches_completed_and_stops_polling(
    namespace: str,
    jobs: Jobs,
    emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    start_operator(namespace, HPO_POLLING="per-resource")
    jobs.apply(namespace, tuning_job("timer", job_name("timer")))
    done = jobs.wait_state(namespace, "timer", "Completed", timeout=60)
    assert done["bestTrainingJob"]["trainingJobName"]
    before = _calls(emulator, "DescribeHyperParameterTuningJob")
    time.sleep(6 * 0.5)  # six poll intervals: asserts an absence (no timer on a finished job)
    assert _calls(emulator, "DescribeHyperParameterTuningJob") == before


def test_failed_job_sets_terminal_with_the_failure_reason(
    namespace: str, jobs: Jobs, operator: OperatorProcess
) -> None:
    jobs.apply(namespace, tuning_job("bad", job_name("failing"), image=FAILING_IMAGE))
    status = jobs.wait_state(namespace, "bad", "Failed", timeout=60)
    assert status["failureReason"]
    terminal = jobs.wait_condition(namespace, "bad", "ACK.Terminal")
    assert status["failureReason"] in terminal["message"]
    ready = jobs.condition(namespace, "bad", "Ready")
    assert ready is not None and ready["status"] == "False"
    synced = jobs.condition(namespace, "bad", "ACK.ResourceSynced")
    assert synced is not None and synced["status"] == "True"
    warnings = [e for e in jobs.events(namespace, "bad") if e["type"] == "Warning"]
    assert any(e["reason"] == "JobFailed" for e in warnings)


def test_delete_while_in_progress_stops_then_releases(
    namespace: str, jobs: Jobs, emulator: RunningEmulator, operator: OperatorProcess
) -> None:
    name = job_name("stop")
    jobs.apply(namespace, tuning_job("long", name, max_jobs=50, parallel=1))
    jobs.wait_state(namespace, "long", "InProgress", timeout=30)
    jobs.delete(namespace, "long")
    jobs.wait_gone(namespace, "long", timeout=60)
    job = emulator.store.jobs[name.lower()]
    assert job.status(emulator.emulator.clock()) == "Stopped"
    reasons = [e["reason"] for e in jobs.events(namespace, "long")]
    assert "Stopping" in reasons


def test_retain_policy_releases_without_stopping(
    namespace: str, jobs: Jobs, emulator: RunningEmulator, operator: OperatorProcess
) -> None:
    name = job_name("retain")
    manifest = tuning_job(
        "kept", name, max_jobs=50, parallel=1,
        annotations={"services.k8s.aws/deletion-policy": "retain"},
    )  # fmt: skip
    jobs.apply(namespace, manifest)
    jobs.wait_state(namespace, "kept", "InProgress", timeout=30)
    stops = _calls(emulator, "StopHyperParameterTuningJob")
    jobs.delete(namespace, "kept")
    jobs.wait_gone(namespace, "kept", timeout=30)
    job = emulator.store.jobs[name.lower()]
    assert job.status(emulator.emulator.clock()) == "InProgress"
    assert _calls(emulator, "StopHyperParameterTuningJob") == stops


def test_a_finalizer_removed_by_hand_leaves_no_stale_metric(
    namespace: str, jobs: Jobs, start_operator: Callable[..., OperatorProcess]
) -> None:
    """A deletion stuck on a failing Stop, then the finalizer stripped by hand: Kubernetes lets
    the job run on, as asked, but the operator forgets the resource (no job counted without a
    resource) and says in its log which job it left running."""
    stop_fails = Faults(error_rate=1.0, operations=["StopHyperParameterTuningJob"])
    config = EmulatorConfig(training_seconds=600.0, quotas={}, faults=stop_fails)
    with run_in_thread(config) as emulator:
        operator = start_operator(namespace, endpoint=emulator.url, HPO_BACKOFF_CAP="2")
        name = job_name("stripped")
        jobs.apply(namespace, tuning_job("stripped", name))
        jobs.wait_state(namespace, "stripped", "InProgress", timeout=30)
        running = 'hpo_tuning_jobs{status="InProgress"} 1.0'
        wait_for(lambda: running in operator.metrics(), 30, "the job counted as InProgress")
        jobs.delete(namespace, "stripped")
        wait_for(lambda: _calls(emulator, "StopHyperParameterTuningJob"), 30, "a failed Stop")
        jobs.kubectl(
            "patch", "hyperparametertuningjobs", "stripped", "-n", namespace, "--type=merge",
            "-p", '{"metadata": {"finalizers": null}}',
        )  # fmt: skip
        jobs.wait_gone(namespace, "stripped", timeout=30)
        gone = 'hpo_tuning_jobs{status="InProgress"} 0.0'
        wait_for(lambda: gone in operator.metrics(), 30, "the job no longer counted")
        wait_for(lambda: "left as it is" in operator.tail(200), 30, "a warning naming the job")
        assert emulator.store.jobs[name.lower()].status(emulator.emulator.clock()) == "InProgress"


def test_aws_validation_exception_is_terminal_until_the_spec_changes(
    namespace: str, jobs: Jobs, emulator: RunningEmulator, operator: OperatorProcess
) -> None:
    name = job_name("warm")
    manifest = tuning_job("warm", name)
    manifest["spec"]["warmStartConfig"] = {
        "parentHyperParameterTuningJobs": [{"hyperParameterTuningJobName": "no-such-parent"}],
        "warmStartType": "IdenticalDataAndAlgorithm",
    }
    jobs.apply(namespace, manifest)
    terminal = jobs.wait_condition(namespace, "warm", "ACK.Terminal")
    assert "no-such-parent" in terminal["message"]
    assert terminal["reason"] == "ValidationException"
    assert name.lower() not in emulator.store.jobs
    creates = _creates(emulator)
    time.sleep(3)  # no retry while the spec is unchanged: an absence, so a short fixed wait
    assert _creates(emulator) == creates
    del manifest["spec"]["warmStartConfig"]
    jobs.apply(namespace, manifest)
    jobs.wait_state(namespace, "warm", "InProgress", timeout=30)
    assert jobs.condition(namespace, "warm", "ACK.Terminal") is None


def test_spec_edit_after_create_is_terminal_and_status_keeps_refreshing(
    namespace: str, jobs: Jobs, emulator: RunningEmulator, operator: OperatorProcess
) -> None:
    name = job_name("edit")
    manifest = tuning_job("edited", name, max_jobs=4, parallel=1)
    jobs.apply(namespace, manifest)
    jobs.wait_state(namespace, "edited", "InProgress", timeout=30)
    manifest["spec"]["hyperParameterTuningJobConfig"]["resourceLimits"][
        "maxNumberOfTrainingJobs"
    ] = 3
    jobs.apply(namespace, manifest)
    terminal = jobs.wait_condition(namespace, "edited", "ACK.Terminal")
    assert terminal["message"].startswith("SageMaker cannot update a tuning job;")
    done = jobs.wait_state(namespace, "edited", "Completed", timeout=60)
    assert done["observedGeneration"] == 2
    assert done["trainingJobStatusCounters"]["completed"] == 4  # the job as created
    assert _creates(emulator).get("ok", 0) >= 1
    assert len([j for j in emulator.store.jobs if j == name.lower()]) == 1


def _calls(emulator: RunningEmulator, operation: str) -> int:
    return sum(stats(emulator)["operations"].get(operation, {}).values())


def _creates(emulator: RunningEmulator) -> dict[str, Any]:
    found: dict[str, Any] = stats(emulator)["operations"].get("CreateHyperParameterTuningJob", {})
    return found
