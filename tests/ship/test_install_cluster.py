"""Installing on the real test API server: helm install (both scopes), a server-side dry-run of
every rendered object, restricted Pod Security admission, and the plain dist/install.yaml.

Why: rendering is not installing. Only the API server says whether every object is valid for its
schema, whether the RBAC really lets the ServiceAccount do what the operator does (and nothing
else), and whether the pod would be admitted under the "restricted" Pod Security Standard. The
test cluster has no kubelet, so pods never run: these tests check objects and authorization.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hpo_operator.identity import FIELD_EXPORT_CRD_NAME
from ship.chart import CHART, REPO, Helm, one, only, parse
from support.kube import Kubectl, unique_name

pytestmark = pytest.mark.cluster

JOBS = "hyperparametertuningjobs.sagemaker.services.k8s.aws"


def can(kubectl: Kubectl, account: str, *args: str) -> bool:
    """`kubectl auth can-i ARGS --as ACCOUNT`: what the API server's authorizer answers."""
    result = kubectl("auth", "can-i", *args, f"--as={account}", check=False)
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), result.stderr
    return answer == "yes"


@pytest.fixture
def extra_namespaces(kubectl: Kubectl) -> Iterator[list[str]]:
    """Two more fresh namespaces, for a namespace install that watches several."""
    names = [unique_name(f"t-watched-{i}", max_length=40) for i in range(2)]
    for name in names:
        kubectl("create", "namespace", name)
    yield names
    for name in names:
        kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


def install(
    helm: Helm, kubeconfig: Path, release: str, namespace: str, values: dict[str, Any]
) -> str:
    path = helm.home / f"{release}.json"
    path.write_text(json.dumps(values))
    result = helm(
        "install",
        release,
        str(CHART),
        "--namespace",
        namespace,
        "--values",
        str(path),
        "--kubeconfig",
        str(kubeconfig),
        "--wait=false",
    )
    return result.stdout


def uninstall(helm: Helm, kubeconfig: Path, release: str, namespace: str) -> None:
    helm("uninstall", release, "--namespace", namespace, "--kubeconfig", str(kubeconfig))


def test_helm_install_cluster_scope(
    helm: Helm, kubeconfig: Path, kubectl: Kubectl, namespace: str
) -> None:
    release = unique_name("hc", max_length=20)
    notes = install(helm, kubeconfig, release, namespace, {"aws": {"region": "us-west-2"}})
    fullname = f"{release}-hpo-operator"
    account = f"system:serviceaccount:{namespace}:{fullname}"
    try:
        for needle in ("get pods", f"logs deploy/{fullname}", "get hyperparametertuningjobs"):
            assert needle in notes
        assert "SYNCED" in notes

        deployment = kubectl.json("get", "deployment", fullname, "-n", namespace)
        pod = deployment["spec"]["template"]["spec"]
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"]["type"] == "Recreate"
        assert pod["serviceAccountName"] == fullname
        assert pod["containers"][0]["image"] == "hpo-operator:0.1.0"
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        assert env["HPO_ALL_NAMESPACES"] == "true" and env["HPO_REGION"] == "us-west-2"
        kubectl("get", "serviceaccount", fullname, "-n", namespace)
        kubectl("get", "service", f"{fullname}-metrics", "-n", namespace)
        kubectl("get", "crd", JOBS)

        # What the operator does, anywhere in the cluster...
        for args in (
            ("get", JOBS, "-n", "default"),
            ("list", JOBS, "-A"),
            ("watch", JOBS, "-A"),
            ("patch", JOBS, "-n", "default"),
            ("patch", f"{JOBS}/status", "-n", "default"),
            ("create", "events", "-n", "default"),
            ("list", "namespaces"),
            ("watch", "customresourcedefinitions.apiextensions.k8s.io"),
        ):
            assert can(kubectl, account, *args), args
        # ...and nothing else.
        for args in (
            ("create", JOBS, "-n", "default"),
            ("update", JOBS, "-n", "default"),
            ("delete", JOBS, "-n", "default"),
            ("update", f"{JOBS}/status", "-n", "default"),
            ("get", "secrets", "-n", namespace),
            ("list", "pods", "-A"),
            ("patch", "namespaces"),
            ("create", "customresourcedefinitions.apiextensions.k8s.io"),
            ("patch", "clusterkopfpeerings.kopf.dev"),
        ):
            assert not can(kubectl, account, *args), args
    finally:
        uninstall(helm, kubeconfig, release, namespace)
    gone = kubectl("get", "clusterrole", fullname, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr


def test_helm_install_namespace_scope_with_peering(
    helm: Helm,
    kubeconfig: Path,
    kubectl: Kubectl,
    namespace: str,
    extra_namespaces: list[str],
) -> None:
    release = unique_name("hn", max_length=20)
    values = {
        "installScope": "namespace",
        "watchNamespaces": extra_namespaces,
        "replicaCount": 2,
        "leaderElection": {"enabled": False},
    }
    install(helm, kubeconfig, release, namespace, values)
    fullname = f"{release}-hpo-operator"
    account = f"system:serviceaccount:{namespace}:{fullname}"
    try:
        deployment = kubectl.json("get", "deployment", fullname, "-n", namespace)
        env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]
               ["containers"][0]["env"]}  # fmt: skip
        assert env["HPO_NAMESPACES"] == ",".join(extra_namespaces)
        assert env["HPO_PEERING_NAME"] == fullname
        assert deployment["spec"]["replicas"] == 2

        peerings = {}
        for watched in extra_namespaces:
            kubectl("get", "role,rolebinding", fullname, "-n", watched)
            peering = kubectl.json("get", "kopfpeerings.kopf.dev", fullname, "-n", watched)
            peerings[watched] = peering["metadata"]["uid"]
            for args in (
                ("list", JOBS),
                ("watch", JOBS),
                ("patch", JOBS),
                ("patch", f"{JOBS}/status"),
                ("create", "events"),
                ("patch", "kopfpeerings.kopf.dev"),
                ("watch", "kopfpeerings.kopf.dev"),
            ):
                assert can(kubectl, account, *args, "-n", watched), (watched, args)
            assert not can(kubectl, account, "delete", JOBS, "-n", watched)
            assert not can(kubectl, account, "get", "secrets", "-n", watched)
        # Not in the namespaces it does not watch, not even its own.
        for other in (namespace, "default"):
            assert not can(kubectl, account, "list", JOBS, "-n", other)
            assert not can(kubectl, account, "create", "events", "-n", other)
        assert not can(kubectl, account, "list", JOBS, "-A")
        # Cluster-wide, only the reads kopf and the namespace index need.
        assert can(kubectl, account, "watch", "namespaces")
        assert can(kubectl, account, "list", "customresourcedefinitions.apiextensions.k8s.io")
        assert not can(kubectl, account, "patch", "namespaces")

        # An upgrade keeps the peering objects (and the keep-alives in them).
        helm(
            "upgrade",
            release,
            str(CHART),
            "--namespace",
            namespace,
            "--reuse-values",
            "--set",
            "log.level=DEBUG",
            "--kubeconfig",
            str(kubeconfig),
        )
        for watched, uid in peerings.items():
            peering = kubectl.json("get", "kopfpeerings.kopf.dev", fullname, "-n", watched)
            assert peering["metadata"]["uid"] == uid
    finally:
        uninstall(helm, kubeconfig, release, namespace)
    # The kopf peering CRD is shared with any other kopf operator: kept on uninstall.
    kubectl("get", "crd", "kopfpeerings.kopf.dev")


def test_helm_upgrade_to_two_replicas_creates_the_peering_object(
    helm: Helm, kubeconfig: Path, kubectl: Kubectl, namespace: str
) -> None:
    release = unique_name("hu", max_length=20)
    fullname = f"{release}-hpo-operator"
    install(helm, kubeconfig, release, namespace, {"installScope": "namespace"})
    try:
        absent = kubectl("get", "kopfpeerings.kopf.dev", fullname, "-n", namespace, check=False)
        assert absent.returncode != 0
        helm("upgrade", release, str(CHART), "--namespace", namespace, "--reuse-values",
             "--set", "replicaCount=2", "--set", "leaderElection.enabled=false",
             "--kubeconfig", str(kubeconfig))  # fmt: skip
        kubectl("get", "kopfpeerings.kopf.dev", fullname, "-n", namespace)
        env = {
            e["name"]: e.get("value")
            for e in kubectl.json("get", "deployment", fullname, "-n", namespace)["spec"][
                "template"
            ]["spec"]["containers"][0]["env"]
        }
        assert env["HPO_PEERING_NAME"] == fullname
    finally:
        uninstall(helm, kubeconfig, release, namespace)


def test_helm_upgrade_to_two_replicas_grants_only_its_lease(
    helm: Helm, kubeconfig: Path, kubectl: Kubectl, namespace: str
) -> None:
    """The chart's default for more than one replica: leader election, and a Role that lets the
    operator's ServiceAccount create Leases and read and renew its own, in its namespace only."""
    release = unique_name("hl", max_length=20)
    fullname = f"{release}-hpo-operator"
    account = f"system:serviceaccount:{namespace}:{fullname}"
    lease = f"leases.coordination.k8s.io/{fullname}-leader"
    install(helm, kubeconfig, release, namespace, {"installScope": "namespace"})
    try:
        assert not can(kubectl, account, "get", lease, "-n", namespace)
        helm("upgrade", release, str(CHART), "--namespace", namespace, "--reuse-values",
             "--set", "replicaCount=2", "--kubeconfig", str(kubeconfig))  # fmt: skip
        for verb in ("get", "update"):
            assert can(kubectl, account, verb, lease, "-n", namespace), verb
        assert can(kubectl, account, "create", "leases.coordination.k8s.io", "-n", namespace)
        other = "leases.coordination.k8s.io/someone-elses"
        assert not can(kubectl, account, "update", other, "-n", namespace)
        assert not can(kubectl, account, "delete", lease, "-n", namespace)
        assert not can(kubectl, account, "get", lease, "-n", "default")
        absent = kubectl("get", "kopfpeerings.kopf.dev", fullname, "-n", namespace, check=False)
        assert absent.returncode != 0
    finally:
        uninstall(helm, kubeconfig, release, namespace)


@pytest.mark.parametrize("scope", ["cluster", "namespace"])
def test_server_side_dry_run_of_every_rendered_object(
    helm: Helm, kubectl: Kubectl, namespace: str, scope: str
) -> None:
    release = unique_name(f"d{scope[0]}", max_length=20)
    values: dict[str, Any] = {"installScope": scope, "replicaCount": 2}
    if scope == "namespace":
        values["watchNamespaces"] = [namespace]
    rendered = parse(helm.template(values, release=release, namespace=namespace))
    crds = [*parse((CHART / "crds").joinpath(
        "sagemaker.services.k8s.aws_hyperparametertuningjobs.yaml").read_text()),
        *only(rendered, "CustomResourceDefinition")]  # fmt: skip
    # Custom resources need their CRD for real before a dry-run can validate them.
    for crd in crds:
        kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(crd))
        kubectl(
            "wait", "--for=condition=Established", "--timeout=60s", f"crd/{crd['metadata']['name']}"
        )
    rest = [o for o in rendered if o["kind"] != "CustomResourceDefinition"]
    assert {o["kind"] for o in rest} >= {"ServiceAccount", "ClusterRole", "Deployment", "Service"}
    document = yaml.safe_dump_all(rest)
    result = kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=hpo-test",
        "-o",
        "name",
        "-f",
        "-",
        input=document,
    )
    applied = result.stdout.split()
    assert len(applied) == len(rest), result.stdout
    for obj in rest:
        kind = obj["kind"].lower()
        assert any(line.startswith(kind) and line.endswith("/" + obj["metadata"]["name"])
                   for line in applied), (kind, applied)  # fmt: skip


def test_pod_is_admitted_under_restricted_pod_security(
    helm: Helm, kubectl: Kubectl, namespace: str
) -> None:
    """The Deployment's pod, created (dry-run) where Pod Security enforces "restricted"."""
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    rendered = helm.objects(release="psa", namespace=namespace)
    kubectl.apply(one(rendered, "ServiceAccount"))
    template = one(rendered, "Deployment")["spec"]["template"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "psa-probe", "namespace": namespace, **template["metadata"]},
        "spec": template["spec"],
    }
    # The check needs teeth: the same pod running as root must be refused. The local test API
    # server runs the PodSecurity admission plugin; a cluster given by HPO_TEST_KUBECONFIG may not.
    root = json.loads(json.dumps(pod))
    root["spec"]["securityContext"]["runAsNonRoot"] = False
    root["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] = False
    refused = dry_run_create(kubectl, root)
    if refused.returncode == 0 and os.environ.get("HPO_TEST_KUBECONFIG"):
        pytest.skip("this API server does not enforce Pod Security (PodSecurity plugin disabled)")
    assert refused.returncode != 0, "the local API server admitted a root pod: PodSecurity is off"
    assert "restricted" in refused.stderr, refused.stderr
    result = dry_run_create(kubectl, pod)
    assert result.returncode == 0, result.stderr
    assert "violate" not in result.stderr, result.stderr


def dry_run_create(kubectl: Kubectl, obj: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return kubectl(
        "create", "--dry-run=server", "-o", "name", "-f", "-", input=json.dumps(obj), check=False
    )


def test_install_manifest_server_side_apply(kubectl: Kubectl, helm: Helm) -> None:
    """`make manifests` output applies server-side, twice (idempotent), as the README says."""
    text = subprocess.run(
        [sys.executable, str(REPO / "hack" / "manifests.py"), "--helm", str(helm.binary)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    objects = parse(text)
    assert objects[0]["kind"] == "Namespace" and objects[0]["metadata"]["name"] == "hpo-operator"
    crds = {o["metadata"]["name"] for o in objects if o["kind"] == "CustomResourceDefinition"}
    assert crds == {JOBS, FIELD_EXPORT_CRD_NAME}  # ACK's FieldExport too, either way
    assert {o["kind"] for o in objects} == {
        "Namespace",
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",  # get on the CARM role maps, by name, in the operator's namespace
        "RoleBinding",
        "Service",
        "Deployment",
    }
    for obj in objects:
        if obj["kind"] not in ("Namespace", "CustomResourceDefinition", "ClusterRole",
                               "ClusterRoleBinding"):  # fmt: skip
            assert obj["metadata"]["namespace"] == "hpo-operator", obj["metadata"]
    path = helm.home / "install.yaml"
    path.write_text(text)
    try:
        for _ in range(2):
            kubectl("apply", "--server-side", "--field-manager=hpo-install-test", "-f", str(path))
        deployment = kubectl.json("get", "deployment", "hpo-operator", "-n", "hpo-operator")
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "hpo-operator"
        kubectl("get", "crd", JOBS)
        assert can(kubectl, "system:serviceaccount:hpo-operator:hpo-operator", "patch", JOBS, "-A")
    finally:
        # The namespace and the CRD stay: with no controller manager a deleted namespace never
        # finishes terminating, and other tests share the CRD.
        for obj in reversed(objects):
            if obj["kind"] in ("Namespace", "CustomResourceDefinition"):
                continue
            args = ["delete", obj["kind"].lower(), obj["metadata"]["name"], "--ignore-not-found"]
            if "namespace" in obj["metadata"]:
                args += ["-n", obj["metadata"]["namespace"]]
            kubectl(*args, "--wait=false")
