"""The fault suite's fixtures: the CRD installed, emulators that can be restarted on the same port,
operators as subprocesses (`hpo-operator run`, killable with -9), and a private cluster for tests
that restart the API server or need a cluster no other test writes to.

A pytest plugin (tests/conftest.py's `pytest_plugins`) used by tests/chaos and tests/security;
reuses support/operator_harness.py.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from hpo_devtools.cluster import Binaries, DevCluster
from hpo_emulator.config import EmulatorConfig
from support.faultkit import Emulator, Resources
from support.kube import Kubectl
from support.operator_harness import GROUP, PLURAL, REPO, OperatorProcess
from support.tools import tool


def install_crds(kubectl: Kubectl) -> None:
    """The generated CRD, applied and Established."""
    kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
    kubectl.wait_for_condition(f"crd/{PLURAL}.{GROUP}", "Established", timeout=60)


@pytest.fixture(scope="session")
def chaos_crds(kubectl: Kubectl) -> None:
    install_crds(kubectl)


@pytest.fixture
def resources(k8s_api: Any, chaos_crds: None) -> Resources:
    return Resources(k8s_api)


@pytest.fixture
def emulators() -> Iterator[Callable[..., Emulator]]:
    """`emulators(**EmulatorConfig fields)`: a started emulator, stopped after the test."""
    made: list[Emulator] = []

    def start(**config: Any) -> Emulator:
        defaults: dict[str, Any] = {"training_seconds": 1.0, "stop_seconds": 0.5, "quotas": {}}
        emulator = Emulator(EmulatorConfig(**{**defaults, **config}))
        made.append(emulator)
        return emulator.start()

    yield start
    for emulator in made:
        emulator.stop()


@pytest.fixture
def operators(
    kubeconfig: Path, tmp_path: Path, chaos_crds: None
) -> Iterator[Callable[..., OperatorProcess]]:
    """`operators(endpoint, namespaces, config=..., command=..., **env)`: a started operator
    subprocess (`command`: e.g. support.crash_after_create.CRASH_AFTER_CREATE)."""
    started: list[OperatorProcess] = []

    def start(
        endpoint: str,
        namespaces: list[str],
        config: Path | None = None,
        command: Sequence[str] | None = None,
        **env: str,
    ) -> OperatorProcess:
        log = tmp_path / f"operator-{len(started)}.log"
        proc = OperatorProcess(
            config or kubeconfig, endpoint, namespaces, log, env, command=command
        )
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.stop()
    if started:
        sys.stderr.write(f"\n--- last operator log {started[-1].log_path} ---\n")
        sys.stderr.write(started[-1].tail(30) + "\n")


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[DevCluster]:
    """A private etcd + kube-apiserver with the CRD, for this test module alone."""
    binaries = Binaries.from_assets(tool("KUBEBUILDER_ASSETS"))
    with DevCluster.temporary(binaries=binaries) as cluster:
        install_crds(Kubectl(binary=tool("KUBECTL"), kubeconfig=cluster.kubeconfig))
        yield cluster


@pytest.fixture(scope="module")
def own_api(own_cluster: DevCluster) -> Iterator[Any]:
    """A kubernetes ApiClient, as admin, on the private cluster."""
    from kubernetes import config

    client = config.new_client_from_config(config_file=str(own_cluster.kubeconfig))
    yield client
    client.close()
