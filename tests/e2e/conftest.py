"""E2E fixtures: the CRD installed, an in-process SageMaker emulator (fast lifecycle), and
`start_operator`/`operator`: the operator as a subprocess watching only the test's namespaces;
`accounts_emulator` and `carm` for the cross-account tests (test_accounts*.py, support/carm.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from hpo_emulator.config import EmulatorConfig, Faults
from hpo_emulator.server import RunningEmulator, run_in_thread
from support.carm import OTHER, Carm
from support.kube import Kubectl, unique_name
from support.operator_harness import GROUP, PLURAL, REPO, Jobs, OperatorProcess, wait_for


@pytest.fixture(scope="session")
def crds(kubectl: Kubectl) -> None:
    """The generated CRD installed and established."""
    kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
    established = 'jsonpath={.status.conditions[?(@.type=="Established")].status}'
    wait_for(
        lambda: (
            kubectl("get", f"crd/{PLURAL}.{GROUP}", "-o", established, check=False).stdout == "True"
        ),
        60,
        "the CRD to be Established",
    )


@pytest.fixture(scope="session")
def emulator() -> Iterator[RunningEmulator]:
    """One in-process SageMaker emulator (us-west-2) with a fast lifecycle; no request quotas."""
    with run_in_thread(EmulatorConfig(training_seconds=1.0, stop_seconds=1.0, quotas={})) as em:
        yield em


@pytest.fixture
def throttling_emulator() -> Iterator[RunningEmulator]:
    """An emulator that throttles every Create until told otherwise (`stop_throttling`)."""
    faults = Faults(throttle_rate=1.0, operations=["CreateHyperParameterTuningJob"])
    with run_in_thread(EmulatorConfig(training_seconds=1.0, quotas={}, faults=faults)) as em:
        yield em


@pytest.fixture
def jobs(kubectl: Kubectl, k8s_api: Any, crds: None) -> Jobs:
    """Read and write HyperParameterTuningJob resources."""
    return Jobs(kubectl, k8s_api)


@pytest.fixture
def start_operator(
    kubeconfig: Path, emulator: RunningEmulator, tmp_path: Path, crds: None
) -> Iterator[Callable[..., OperatorProcess]]:
    """Start `hpo-operator run` for some namespaces; stopped (and its log shown) afterwards."""
    started: list[OperatorProcess] = []

    def start(
        *namespaces: str,
        endpoint: str | None = None,
        command: Sequence[str] | None = None,
        **env: str,
    ) -> OperatorProcess:
        log = tmp_path / f"operator-{len(started)}.log"
        proc = OperatorProcess(
            kubeconfig, endpoint or emulator.url, list(namespaces), log, env, command=command
        )
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.stop()
        sys.stderr.write(f"\n--- operator log {proc.log_path} ---\n{proc.tail(40)}\n")


@pytest.fixture
def operator(namespace: str, start_operator: Callable[..., OperatorProcess]) -> OperatorProcess:
    """The operator watching the test's namespace."""
    return start_operator(namespace)


@pytest.fixture
def other_namespace(jobs: Jobs) -> Iterator[str]:
    """A second namespace, deleted afterwards (without waiting for it)."""
    from kubernetes import client

    name = unique_name("t-other", max_length=40)
    jobs.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    jobs.core.delete_namespace(name)


@pytest.fixture
def accounts_emulator() -> Iterator[RunningEmulator]:
    """An emulator of this test's own (its call counts are this test's), one role refused."""
    config = EmulatorConfig(
        training_seconds=3.0,
        stop_seconds=1.0,
        quotas={},
        denied_roles=[f"arn:aws:iam::{OTHER}:role/refused"],
    )
    with run_in_thread(config) as emulator:
        yield emulator


@pytest.fixture
def carm(
    namespace: str,
    jobs: Jobs,
    k8s_api: Any,
    accounts_emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> Carm:
    return Carm(namespace, jobs, accounts_emulator, k8s_api, start_operator)
