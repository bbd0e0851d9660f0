"""Which job a resource may touch: idempotent Create across a crash, another namespace's job,
adoption, read-only, and the region/endpoint annotations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from hpo_emulator.config import EmulatorConfig
from hpo_emulator.server import RunningEmulator, run_in_thread
from hpo_operator.model.translate import spec_to_request
from support.crash_after_create import CRASH_AFTER_CREATE, EXIT_CODE
from support.operator_harness import Jobs, OperatorProcess, job_name, stats, tuning_job, wait_for


def sagemaker(url: str, region: str = "us-west-2") -> Any:
    """A plain boto3 client on an emulator: jobs made outside Kubernetes."""
    return boto3.client(
        "sagemaker",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}),
    )


def create_outside(emulator: RunningEmulator, name: str, max_jobs: int = 2) -> str:
    request = spec_to_request(tuning_job("x", name, max_jobs=max_jobs, parallel=1)["spec"])
    arn: str = sagemaker(emulator.url).create_hyper_parameter_tuning_job(**request)[
        "HyperParameterTuningJobArn"
    ]
    return arn


def calls(emulator: RunningEmulator, operation: str) -> dict[str, int]:
    found: dict[str, int] = stats(emulator)["operations"].get(operation, {})
    return dict(found)


def test_kill_between_create_and_status_write_makes_no_duplicate(
    namespace: str,
    jobs: Jobs,
    emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    name = job_name("crash")
    doomed = start_operator(namespace, command=CRASH_AFTER_CREATE)
    jobs.apply(namespace, tuning_job("crashy", name))
    assert doomed.wait_exit(timeout=60) == EXIT_CODE
    assert name.lower() in emulator.store.jobs  # SageMaker has the job...
    assert "ackResourceMetadata" not in jobs.status(namespace, "crashy")  # ...status does not

    start_operator(namespace)
    status = jobs.wait_state(namespace, "crashy", "Completed", timeout=60)
    assert status["ackResourceMetadata"]["arn"].endswith(f"/{name}")
    assert [j for j in emulator.store.jobs if j == name.lower()] == [name.lower()]
    # kopf posts Events from a queue of its own, after the status write: wait for it.
    wait_for(
        lambda: "Adopted" in [e["reason"] for e in jobs.events(namespace, "crashy")],
        30,
        "the Adopted Event",
    )
    assert jobs.condition(namespace, "crashy", "ACK.Terminal") is None


def test_other_namespace_naming_the_same_job_is_refused_and_never_touches_it(
    namespace: str,
    other_namespace: str,
    jobs: Jobs,
    emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    start_operator(namespace, other_namespace)
    name = job_name("shared")
    jobs.apply(namespace, tuning_job("owner", name, max_jobs=50, parallel=1))
    owner = jobs.wait_state(namespace, "owner", "InProgress", timeout=30)

    jobs.apply(other_namespace, tuning_job("intruder", name))
    terminal = jobs.wait_condition(other_namespace, "intruder", "ACK.Terminal")
    assert terminal["reason"] == "NameInUse"
    assert "does not own" in terminal["message"]
    intruder = jobs.status(other_namespace, "intruder")
    assert "ackResourceMetadata" not in intruder
    assert "hyperParameterTuningJobStatus" not in intruder

    stops = calls(emulator, "StopHyperParameterTuningJob")
    jobs.delete(other_namespace, "intruder")
    jobs.wait_gone(other_namespace, "intruder", timeout=30)
    assert calls(emulator, "StopHyperParameterTuningJob") == stops
    job = emulator.store.jobs[name.lower()]
    assert job.status(emulator.emulator.clock()) == "InProgress"
    tags = {t["Key"]: t["Value"] for t in job.tags}
    assert tags["services.k8s.aws/namespace"] == namespace
    after = jobs.status(namespace, "owner")
    assert after["ackResourceMetadata"] == owner["ackResourceMetadata"]


def test_adoption_follows_an_existing_job_without_creating(
    namespace: str, jobs: Jobs, emulator: RunningEmulator, operator: OperatorProcess
) -> None:
    name = job_name("adopt")
    arn = create_outside(emulator, name)
    creates = calls(emulator, "CreateHyperParameterTuningJob")
    annotations = {
        "services.k8s.aws/adoption-policy": "adopt",
        "services.k8s.aws/adoption-fields": f'{{"hyperParameterTuningJobName": "{name}"}}',
    }
    jobs.apply(namespace, tuning_job("adopted", name, annotations=annotations))
    status = jobs.wait_state(namespace, "adopted", "Completed", timeout=60)
    assert status["ackResourceMetadata"]["arn"] == arn
    assert status["bestTrainingJob"]["trainingJobName"]
    assert calls(emulator, "CreateHyperParameterTuningJob") == creates
    assert "Adopted" in [e["reason"] for e in jobs.events(namespace, "adopted")]


def test_read_only_describes_and_never_creates_or_stops(
    namespace: str, jobs: Jobs, emulator: RunningEmulator, operator: OperatorProcess
) -> None:
    ro = {"services.k8s.aws/read-only": "true"}
    missing = job_name("ro-missing")
    jobs.apply(namespace, tuning_job("ghost", missing, annotations=ro))
    waiting = jobs.wait_condition(namespace, "ghost", "ACK.Recoverable")
    assert "never create" in waiting["message"]
    assert missing.lower() not in emulator.store.jobs

    name = job_name("ro")
    create_outside(emulator, name, max_jobs=50)
    jobs.apply(namespace, tuning_job("watcher", name, annotations=ro))
    status = jobs.wait_state(namespace, "watcher", "InProgress", timeout=30)
    assert status["ackResourceMetadata"]["arn"].endswith(f"/{name}")
    stops = calls(emulator, "StopHyperParameterTuningJob")
    jobs.delete(namespace, "watcher")
    jobs.wait_gone(namespace, "watcher", timeout=30)
    assert calls(emulator, "StopHyperParameterTuningJob") == stops
    assert emulator.store.jobs[name.lower()].status(emulator.emulator.clock()) == "InProgress"


@pytest.fixture
def eu_emulator() -> Iterator[RunningEmulator]:
    """A second SageMaker, for eu-west-1."""
    config = EmulatorConfig(region="eu-west-1", training_seconds=1.0, stop_seconds=1.0, quotas={})
    with run_in_thread(config) as em:
        yield em


def test_region_annotation_and_namespace_endpoint(
    namespace: str,
    jobs: Jobs,
    emulator: RunningEmulator,
    eu_emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    # Annotated before the operator starts: kopf fills its namespace index before any handler.
    jobs.annotate_namespace(namespace, {"services.k8s.aws/endpoint-url": eu_emulator.url})
    start_operator(namespace)
    name = job_name("eu")
    region = {"services.k8s.aws/region": "eu-west-1"}
    jobs.apply(namespace, tuning_job("eu", name, annotations=region))
    status = jobs.wait_state(namespace, "eu", "Completed", timeout=60)
    meta = status["ackResourceMetadata"]
    assert meta["region"] == "eu-west-1"
    assert meta["arn"].startswith("arn:aws:sagemaker:eu-west-1:")
    assert name.lower() in eu_emulator.store.jobs
    assert name.lower() not in emulator.store.jobs
