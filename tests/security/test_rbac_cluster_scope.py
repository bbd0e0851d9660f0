"""The operator under exactly the chart's cluster-scope RBAC, on a real API server: the whole
lifecycle passes (create → Completed, delete while InProgress → Stopped and released), no call is
refused, and the ServiceAccount can do nothing it does not need (a few probes of the rest).

How: `helm template` renders the chart (installScope cluster); only its ServiceAccount and RBAC
objects are applied (no kubelet runs the Deployment); a token is minted for the ServiceAccount
with the TokenRequest API; the operator runs locally, all namespaces, with a kubeconfig holding
that token. A private API server keeps the cluster-wide operator away from other tests'
resources. tests/ship/test_rbac_live.py does the same for the namespace scope.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from hpo_devtools.cluster import DevCluster
from ship.chart import CHART
from support.faultkit import Emulator, Resources, report
from support.kube import Kubectl
from support.operator_harness import OperatorProcess, job_name, tuning_job
from support.tools import tool

RELEASE, SYSTEM = "hpo", "hpo-system"
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
REFUSAL = re.compile(r"APIForbiddenError|is forbidden: User|Not enough permissions")


def chart_rbac(helm_bin: Path, tmp_path: Path) -> list[dict[str, Any]]:
    import subprocess

    home = tmp_path / "helm-home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "HELM_CACHE_HOME": str(home / "c"),
           "HELM_CONFIG_HOME": str(home / "f"), "HELM_DATA_HOME": str(home / "d")}  # fmt: skip
    rendered = subprocess.run(
        [str(helm_bin), "template", RELEASE, str(CHART), "--namespace", SYSTEM,
         "--set", "installScope=cluster"],
        capture_output=True, text=True, check=True, env=env, timeout=120,
    ).stdout  # fmt: skip
    return [o for o in yaml.safe_load_all(rendered) if o and o.get("kind") in RBAC_KINDS]


def token_kubeconfig(admin: Path, core: Any, account: str, path: Path) -> Path:
    """A kubeconfig for the same cluster that authenticates with a TokenRequest token."""
    from kubernetes import client

    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
    )
    token = core.create_namespaced_service_account_token(account, SYSTEM, request).status.token
    config = yaml.safe_load(admin.read_text())
    cluster = config["clusters"][0]
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [cluster],
                "users": [{"name": account, "user": {"token": token}}],
                "contexts": [
                    {"name": account, "context": {"cluster": cluster["name"], "user": account}}
                ],
                "current-context": account,
            }
        )
    )
    return path


def test_full_lifecycle_under_the_charts_cluster_scope_rbac(
    own_cluster: DevCluster,
    own_api: Any,
    helm_bin: Path,
    emulators: Callable[..., Emulator],
    operators: Callable[..., OperatorProcess],
    tmp_path: Path,
) -> None:
    from kubernetes import client

    core = client.CoreV1Api(own_api)
    admin = Kubectl(binary=tool("KUBECTL"), kubeconfig=own_cluster.kubeconfig)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=SYSTEM)))
    objects = chart_rbac(helm_bin, tmp_path)
    assert {o["kind"] for o in objects} >= {"ServiceAccount", "ClusterRole", "ClusterRoleBinding"}
    for obj in objects:
        admin.apply(obj, "-n", SYSTEM)
    (account,) = [o["metadata"]["name"] for o in objects if o["kind"] == "ServiceAccount"]
    config = token_kubeconfig(own_cluster.kubeconfig, core, account, tmp_path / "sa.kubeconfig")
    as_operator = Kubectl(binary=tool("KUBECTL"), kubeconfig=config)

    team = "team-rbac"
    core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(
                name=team, annotations={"services.k8s.aws/default-region": "us-west-2"}
            )
        )
    )
    emulator = emulators(training_seconds=1.0, stop_seconds=0.5)
    # No --namespace: all namespaces. The role maps are read where the chart says (its
    # HPO_CARM_NAMESPACE is the release namespace), under the chart's Role for them there.
    operator = operators(emulator.url, [], config=config, HPO_CARM_NAMESPACE=SYSTEM)
    resources = Resources(own_api)

    done, stopped = job_name("rbac-done"), job_name("rbac-stop")
    resources.create(team, tuning_job("done", done))
    resources.create(team, tuning_job("stopped", stopped, max_jobs=200, parallel=1))
    resources.wait_state(team, "done", {"Completed"}, timeout=90)
    resources.wait_state(team, "stopped", {"InProgress"}, timeout=60)
    resources.delete(team, "stopped")
    resources.wait_gone(team, "stopped", timeout=60)
    resources.delete(team, "done")
    resources.wait_gone(team, "done", timeout=60)
    jobs = emulator.job_states()
    assert jobs[stopped.lower()][0] == "Stopped" and jobs[done.lower()][0] == "Completed"
    reasons = {e.reason for e in resources.events(team)}
    assert {"Created", "JobCompleted", "Stopping", "Released"} <= reasons

    log = Path(operator.log_path).read_text(errors="replace")
    refusals = [line for line in log.splitlines() if REFUSAL.search(line)]
    assert refusals == [], refusals[:10]

    # What the ServiceAccount must not be able to do.
    denied = [
        ("get", "secrets", team),
        ("list", "secrets", SYSTEM),
        ("create", "pods", team),
        ("delete", "hyperparametertuningjobs.sagemaker.services.k8s.aws", team),
        ("update", "hyperparametertuningjobs.sagemaker.services.k8s.aws", team),
        ("patch", "customresourcedefinitions.apiextensions.k8s.io", ""),
        ("create", "serviceaccounts/token", SYSTEM),
        ("patch", "namespaces", ""),
    ]
    allowed = []
    for verb, resource, namespace in denied:
        args = ["auth", "can-i", verb, resource] + (["-n", namespace] if namespace else [])
        answer = as_operator(*args, check=False).stdout.strip()
        if answer != "no":
            allowed.append((verb, resource, answer))
    assert allowed == []
    report(
        "rbac_cluster_scope",
        {
            "rbac_objects": sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objects),
            "lifecycle": "Completed; deleted while InProgress → Stopped, released",
            "refused_calls": 0,
            "denied_probes": len(denied),
        },
    )
