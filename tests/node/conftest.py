"""Node tier fixtures: one DevNode per session (API server + controllers + a kubelet that runs
pods through containerd), the operator image imported into it, and an emulator pods can reach.

The image is an input: `HPO_NODE_IMAGE_TAR` (a `docker save` archive) or `HPO_NODE_IMAGE` (an
image in the local Docker, saved here); else it is built as the container tier builds it
(`ship.container.build_image`: `make image` on hack/base-image.sh's base, the same tag, so one
session builds it once and Docker's cache makes later sessions fast).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hpo_devtools.cluster import Binaries
from hpo_devtools.node import (
    DevNode,
    DevNodeError,
    NodeBinaries,
    cannot_run_pods,
    sweep_stale_nodes,
)
from hpo_emulator.config import EmulatorConfig
from hpo_emulator.server import RunningEmulator, run_in_thread
from ship.chart import REPO, Helm
from ship.container import build_image, engine_unavailable_reason
from support.kube import Kubectl, unique_name
from support.tools import tool

BUILD_NODE = REPO / "hack" / "build-node.sh"
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def _node_env() -> dict[str, str]:
    if os.environ.get("HPO_NODE_BIN") and os.environ.get("HPO_PAUSE_IMAGE_TAR"):
        return {k: os.environ[k] for k in ("HPO_NODE_BIN", "HPO_PAUSE_IMAGE_TAR")}
    result = subprocess.run(
        [str(BUILD_NODE), "--print-env"], capture_output=True, text=True, check=False,
        timeout=3 * 3600,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"{BUILD_NODE} --print-env failed:\n{result.stderr}")
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


def _timing(what: str, seconds: float) -> None:
    sys.stderr.write(f"\n[node tier] {what}: {seconds:.1f} s\n")


@pytest.fixture(scope="session")
def node() -> Iterator[DevNode]:
    """The session's node. Skipped only where pods cannot run at all (not Linux, not root, no
    cgroups); under CI (`CI` or `HPO_REQUIRE_NODE` set) that is a failure instead."""
    reason = cannot_run_pods()
    if reason:
        if os.environ.get("HPO_REQUIRE_NODE") or os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    # A node whose owner died earlier (a killed run) is swept first, as the node's start would do
    # anyway: its routes and rules are not this session's to keep.
    sweep_stale_nodes()
    host_before = _host_network()
    env = _node_env()
    binaries = NodeBinaries.from_env(env["HPO_NODE_BIN"], env["HPO_PAUSE_IMAGE_TAR"])
    cluster_binaries = Binaries.from_assets(tool("KUBEBUILDER_ASSETS"))
    node = DevNode.temporary(binaries=binaries, cluster_binaries=cluster_binaries)
    try:
        node.start()
    except DevNodeError:
        node.stop()
        raise
    _timing(f"node start {node.timings.seconds}", node.start_seconds or 0.0)
    network = node.network
    try:
        yield node
    finally:
        began = time.monotonic()
        containers = node.container_ids()
        node.stop()
        stops = {k: v for k, v in node.timings.seconds.items() if k.startswith("stop-")}
        _timing(f"node stop {stops}", time.monotonic() - began)
    # The host is as it was: no container, namespace, veth, route or iptables rule left behind.
    assert network is not None
    assert not DevNode.leftovers(containers, network), DevNode.leftovers(containers, network)
    # Nothing this session added is left. (Lines may also vanish: another process's node, e.g. a
    # detached `make demo` node, may stop meanwhile; that is not this session's doing.)
    added = _added_lines(host_before, _host_network())
    assert not added, added


def _run(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout


def _added_lines(before: tuple[str, str], after: tuple[str, str]) -> list[str]:
    """Route and iptables lines present after but not before."""
    return [
        line
        for old, new in zip(before, after, strict=True)
        for line in new.splitlines()
        if line not in set(old.splitlines())
    ]


def _host_network() -> tuple[str, str]:
    """The host's routes and iptables rules (without packet counters)."""
    rules = "\n".join(
        line for line in _run(["iptables-save"]).splitlines() if not line.startswith(("#", ":"))
    )
    return _run(["ip", "route"]), rules


@pytest.fixture(scope="session")
def node_kubectl(node: DevNode) -> Kubectl:
    return Kubectl(binary=tool("KUBECTL"), kubeconfig=node.kubeconfig)


@pytest.fixture(scope="session")
def node_kubectl_binary() -> str:
    return tool("KUBECTL")


@pytest.fixture(scope="session")
def node_helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(binary=Path(tool("HELM")), home=tmp_path_factory.mktemp("node-helm-home"))


@pytest.fixture(scope="session")
def node_api(node: DevNode) -> Iterator[Any]:
    """A `kubernetes.client.ApiClient` for the node's cluster, as admin."""
    from kubernetes import config

    client = config.new_client_from_config(config_file=str(node.kubeconfig))
    yield client
    client.close()


@pytest.fixture
def node_namespace(node_kubectl: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace enforcing the "restricted" Pod Security Standard; deleted afterwards."""
    name = unique_name(f"n-{request.node.name}", max_length=50)
    node_kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
            },
        }
    )
    yield name
    node_kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


def _archive_name(archive: Path) -> str:
    """The first RepoTag of a `docker save` archive."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None, f"{archive} has no manifest.json"
        manifest = json.load(member)
    tags: list[str] = manifest[0].get("RepoTags") or []
    assert tags, f"{archive} names no image (RepoTags is empty)"
    return tags[0]


@pytest.fixture(scope="session")
def operator_image(node: DevNode, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The operator image's reference, imported into the node's containerd."""
    began = time.monotonic()
    archive_env = os.environ.get("HPO_NODE_IMAGE_TAR")
    if archive_env:
        archive = Path(archive_env)
    else:
        reason = engine_unavailable_reason()
        if reason:  # no image can be built or saved: give one with HPO_NODE_IMAGE_TAR
            if os.environ.get("HPO_REQUIRE_NODE") or os.environ.get("CI"):
                pytest.fail(f"no Docker engine to build the operator image: {reason}")
            pytest.skip(f"no Docker engine to build the operator image ({reason}), and no "
                        "HPO_NODE_IMAGE_TAR")  # fmt: skip
        image = os.environ.get("HPO_NODE_IMAGE")
        if not image:
            image = f"hpo-operator:{VERSION}"
            build_image(image)
        archive = tmp_path_factory.mktemp("image") / "operator.tar"
        with archive.open("wb") as out:
            subprocess.run(["docker", "save", image], stdout=out, check=True, timeout=600)
    node.import_image(archive)
    _timing("operator image built/saved/imported", time.monotonic() - began)
    return _archive_name(archive)


@pytest.fixture(scope="session")
def node_emulator(node: DevNode) -> Iterator[RunningEmulator]:
    """The SageMaker emulator on the host's veth address, where pods reach it."""
    config = EmulatorConfig(host=node.host_address, training_seconds=1.0, stop_seconds=1.0,
                            quotas={})  # fmt: skip
    with run_in_thread(config) as emulator:
        yield emulator
