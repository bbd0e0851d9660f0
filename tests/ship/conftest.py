"""Fixtures for the shipping tests: a helm runner with a private HOME."""

from __future__ import annotations

from pathlib import Path

import pytest

from ship.chart import Helm


@pytest.fixture(scope="session")
def helm(helm_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    """The pinned helm (`$HELM`), isolated from the user's helm config and repositories."""
    return Helm(binary=helm_bin, home=tmp_path_factory.mktemp("helm-home"))
