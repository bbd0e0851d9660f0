"""Fixtures of the fault suite: the CRD installed, emulators that can be restarted on the same
port, and operators as subprocesses (`hpo-operator run`, killable with -9).

It reuses tests/e2e/operator_harness.py (OperatorProcess, manifests, waits) and faultkit.py.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

for _folder in ("e2e", "chaos"):
    _path = str(Path(__file__).resolve().parents[1] / _folder)
    if _path not in sys.path:
        sys.path.insert(0, _path)

from faultkit import Emulator, Resources  # noqa: E402
from operator_harness import GROUP, PLURAL, REPO, OperatorProcess  # noqa: E402

from hpo_operator.emulator.config import EmulatorConfig  # noqa: E402
from support.kube import Kubectl  # noqa: E402


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
    """`operators(endpoint, namespaces, kubeconfig=..., **env)`: a started operator subprocess."""
    started: list[OperatorProcess] = []

    def start(
        endpoint: str, namespaces: list[str], config: Path | None = None, **env: str
    ) -> OperatorProcess:
        log = tmp_path / f"operator-{len(started)}.log"
        proc = OperatorProcess(config or kubeconfig, endpoint, namespaces, log, env)
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.stop()
    if started:
        sys.stderr.write(f"\n--- last operator log {started[-1].log_path} ---\n")
        sys.stderr.write(started[-1].tail(30) + "\n")
