"""The test ground itself: a real API server that serves, stores, validates and authorizes.

Why these checks: every later tier trusts this cluster, so it must behave like Kubernetes where the
operator depends on it (CRDs, RBAC, ServiceAccount tokens) and must never leak processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from hpo_devtools.cluster import Binaries, DevCluster, DevClusterError
from hpo_devtools.wait import eventually
from support.kube import Kubectl, unique_name
from support.tools import tool

pytestmark = pytest.mark.cluster


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie lingers where PID 1 does not reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _processes_mentioning(text: str) -> list[int]:
    """Running processes whose command line contains `text` (our servers name their directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and _running(int(entry.name)):
            found.append(int(entry.name))
    return found


def test_server_answers_version_and_readyz(k8s_api: Any, kubectl: Kubectl) -> None:
    version = client.VersionApi(k8s_api).get_code()
    assert version.git_version.startswith("v1."), version.git_version
    assert kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"


def test_kubectl_get_namespaces(kubectl: Kubectl) -> None:
    names = kubectl("get", "namespaces", "-o", "name").stdout.split()
    assert {"namespace/default", "namespace/kube-system"} <= set(names)


def test_configmap_create_get_delete(k8s_api: Any, namespace: str) -> None:
    core = client.CoreV1Api(k8s_api)
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="probe"), data={"k": "v"})
    core.create_namespaced_config_map(namespace, body)
    assert core.read_namespaced_config_map("probe", namespace).data == {"k": "v"}
    core.delete_namespaced_config_map("probe", namespace)
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("probe", namespace)
    assert missing.value.status == 404


def test_crd_becomes_established_and_serves(kubectl: Kubectl, namespace: str) -> None:
    group = f"{unique_name('g', 12)}.devcluster.test"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer"}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    kubectl.apply(crd)
    try:
        kubectl.wait_for_condition(f"crd/widgets.{group}", "Established")
        widget = {
            "apiVersion": f"{group}/v1",
            "kind": "Widget",
            "metadata": {"name": "w", "namespace": namespace},
            "spec": {"size": 3},
        }
        # Discovery of a new group can lag Established by a moment; retry the first write.
        eventually(lambda: kubectl.apply(widget))
        got = kubectl.json("get", f"widgets.{group}", "w", "-n", namespace)
        assert got["spec"] == {"size": 3}
    finally:
        kubectl("delete", "crd", f"widgets.{group}", "--wait=false", check=False)


def test_rbac_denies_a_service_account_without_binding(
    kubeconfig: Path, kubectl: Kubectl, namespace: str
) -> None:
    kubectl("create", "serviceaccount", "robot", "-n", namespace)
    token = kubectl("create", "token", "robot", "-n", namespace, "--duration=10m").stdout.strip()

    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    configuration.cert_file = configuration.key_file = None  # authenticate by the token only
    configuration.api_key = {"authorization": f"Bearer {token}"}
    with client.ApiClient(configuration) as as_robot:
        review = client.AuthenticationV1Api(as_robot).create_self_subject_review(
            client.V1SelfSubjectReview()
        )
        assert review.status is not None and review.status.user_info is not None
        assert review.status.user_info.username == f"system:serviceaccount:{namespace}:robot"

        core = client.CoreV1Api(as_robot)
        with pytest.raises(ApiException) as denied:
            core.list_namespaced_config_map(namespace)
        assert denied.value.status == 403

        kubectl(
            "create", "role", "read-cm", "--verb=list", "--resource=configmaps", "-n", namespace
        )  # fmt: skip
        kubectl(
            "create", "rolebinding", "robot-read-cm", "--role=read-cm",
            f"--serviceaccount={namespace}:robot", "-n", namespace,
        )  # fmt: skip
        eventually(  # the RBAC authorizer's cache catches up
            lambda: core.list_namespaced_config_map(namespace), retry_on=(ApiException,)
        )
        with pytest.raises(ApiException) as still_denied:
            core.list_namespaced_secret(namespace)
        assert still_denied.value.status == 403


def _devcluster_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBEBUILDER_ASSETS": tool("KUBEBUILDER_ASSETS")}
    return subprocess.run(
        [sys.executable, "-m", "hpo_devtools.cluster", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


def test_cli_up_then_down_leaves_no_process(tmp_path: Path) -> None:
    directory = tmp_path / "cluster"
    began = time.monotonic()
    up = _devcluster_cli("up", "--dir", str(directory))
    assert up.returncode == 0, up.stderr
    print(f"devcluster up took {time.monotonic() - began:.1f}s: {up.stderr.strip()}")
    kubeconfig = Path(up.stdout.strip())
    assert kubeconfig == directory / "kubeconfig"
    try:
        pids = json.loads((directory / "state.json").read_text())["pids"]
        assert set(pids) == {"etcd", "kube-apiserver"}
        assert all(_running(pid) for pid in pids.values())
        names = Kubectl(tool("KUBECTL"), kubeconfig)("get", "ns", "-o", "name").stdout
        assert "namespace/default" in names.split()

        again = _devcluster_cli("up", "--dir", str(directory))  # already up: same cluster
        assert again.returncode == 0, again.stderr
        assert json.loads((directory / "state.json").read_text())["pids"] == pids
    finally:
        down = _devcluster_cli("down", "--dir", str(directory))
    assert down.returncode == 0, down.stderr
    assert not any(_running(pid) for pid in pids.values())
    assert _processes_mentioning(str(directory)) == []
    assert not directory.exists()
    assert _devcluster_cli("down", "--dir", str(directory)).returncode == 0  # idempotent


def test_start_failure_raises_with_log_tail_and_cleans_up(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "kube-apiserver"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'E0000 fake apiserver: refusing to start' >&2\nexit 3\n")
    fake.chmod(0o755)
    real = Binaries.from_assets(tool("KUBEBUILDER_ASSETS"))
    cluster = DevCluster(tmp_path / "c", binaries=Binaries(etcd=real.etcd, kube_apiserver=fake))
    with pytest.raises(DevClusterError, match="refusing to start") as failure:
        cluster.start()
    assert "exited with code 3" in str(failure.value)
    assert _processes_mentioning(str(tmp_path / "c")) == []  # etcd was stopped too
    assert not (tmp_path / "c" / "etcd-data").exists()
