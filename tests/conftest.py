"""Fixtures shared by every test tier. Add new ones below; put their helpers in tests/support/.

The kit: tests/support is one package (pytest puts tests/ and the repo root on sys.path, the
`pythonpath` option in pyproject.toml); its fixture modules load here through `pytest_plugins`.
Markers come from where a test lives (TIER_MARKERS) and from the fixtures it uses (TOOL_FIXTURES
give `tools`), so `make unit` (`not e2e and not cluster and not node and not tools`) never builds
or starts a binary.

The cluster: `HPO_TEST_KUBECONFIG` names an existing one (kind, k3d), else one local etcd +
kube-apiserver (hpo_devtools.cluster) is started once per session. It has no controller
manager: deleted namespaces stay Terminating and nothing is garbage-collected.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings

from hpo_devtools.cluster import Binaries, DevCluster
from support.kube import Kubectl, unique_name
from support.tools import tool

pytest_plugins = ["support.fault_fixtures"]

# Every test under tests/<tier>/ gets these markers.
TIER_MARKERS: dict[str, tuple[str, ...]] = {
    "aws": ("aws",),
    "chaos": ("chaos", "e2e"),
    "cluster": ("cluster",),
    "e2e": ("e2e",),
    "fuzz": ("chaos",),
    "node": ("node",),
    "security": ("chaos", "e2e"),
}
# Fixtures that build (hack/build-tools.sh, on a cold cache) or start a binary: a test using one,
# directly or through another fixture, gets the `tools` marker.
TOOL_FIXTURES = frozenset(
    {"kubeconfig", "helm_bin", "own_cluster", "node", "node_helm", "node_kubectl_binary"}
)
TESTS = Path(__file__).resolve().parent

# CI runs property tests derandomized (the same examples every run: a red run is reproducible and a
# green one does not flake) and without the shrink phase, which can stall for minutes on 2 cores.
hypothesis_settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
    suppress_health_check=[HealthCheck.too_slow],
)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        relative = item.path.relative_to(TESTS)
        if len(relative.parts) > 1:
            for marker in TIER_MARKERS.get(relative.parts[0], ()):
                item.add_marker(marker)
        if TOOL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker("tools")


@pytest.fixture(scope="session")
def kubeconfig() -> Iterator[Path]:
    """Path of an admin kubeconfig for the session's cluster."""
    existing = os.environ.get("HPO_TEST_KUBECONFIG")
    if existing:
        yield Path(existing)
        return
    binaries = Binaries.from_assets(tool("KUBEBUILDER_ASSETS"))
    with DevCluster.temporary(binaries=binaries) as cluster:
        yield cluster.kubeconfig


@pytest.fixture(scope="session")
def kubectl(kubeconfig: Path) -> Kubectl:
    """The pinned kubectl (`$KUBECTL`) bound to the session's kubeconfig."""
    return Kubectl(binary=tool("KUBECTL"), kubeconfig=kubeconfig)


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    """The pinned helm binary (`$HELM`)."""
    return Path(tool("HELM"))


@pytest.fixture(scope="session")
def k8s_api(kubeconfig: Path) -> Iterator[Any]:
    """A `kubernetes.client.ApiClient` for the session's cluster, as admin."""
    from kubernetes import config

    client = config.new_client_from_config(config_file=str(kubeconfig))
    yield client
    client.close()


@pytest.fixture
def namespace(k8s_api: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace named after the test, deleted afterwards (without waiting for it)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(k8s_api)
    name = unique_name(f"t-{request.node.name}", max_length=50)
    core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(name=name, labels={"hpo-operator.test/scope": "test"})
        )
    )
    yield name
    try:
        core.delete_namespace(name)
    except ApiException as error:
        if error.status != 404:
            raise
