"""Fixtures for the shipping tests: helm with a private HOME, a release name, the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hpo_emulator.config import EmulatorConfig
from hpo_emulator.server import RunningEmulator, run_in_thread
from ship.chart import Helm
from support.kube import unique_name


@pytest.fixture(scope="session")
def helm(helm_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    """The pinned helm (`$HELM`), isolated from the user's helm config and repositories."""
    return Helm(binary=helm_bin, home=tmp_path_factory.mktemp("helm-home"))


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    """An in-process SageMaker emulator with a fast lifecycle and no request quotas."""
    with run_in_thread(EmulatorConfig(training_seconds=1.0, stop_seconds=1.0, quotas={})) as em:
        yield em


@pytest.fixture
def release(helm: Helm, kubeconfig: Path, namespace: str) -> Iterator[str]:
    """A release name in the test namespace, uninstalled afterwards."""
    name = unique_name("live", max_length=20)
    yield name
    helm("uninstall", name, "--namespace", namespace, "--kubeconfig", str(kubeconfig), check=False)
