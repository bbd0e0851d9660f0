"""Running the operator as an installed chart would: as the chart's ServiceAccount, with its env.

There is no kubelet in the test cluster, so the Deployment's pod never runs; instead the operator
runs as a local process with a kubeconfig holding a token of the chart's ServiceAccount, so the API
server applies exactly the chart's RBAC to every call it makes.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import Any

import pytest
import yaml

from hpo_devtools.operator import OperatorProcess
from hpo_devtools.samples import example_image
from ship.chart import CHART, REPO, Helm
from support.kube import Kubectl

JOBS = "hyperparametertuningjobs.sagemaker.services.k8s.aws"
JOB_SAMPLE = REPO / ".." / "shared" / "ack" / "e2e_xgboost_hpojob.yaml"
# How a refused call shows in the log: kopf's APIForbiddenError carrying the API server's
# "... is forbidden: User ..." message, or kopf's "Not enough permissions" warning.
REFUSAL = re.compile(r"APIForbiddenError|is forbidden: User|Not enough permissions")


def service_account_kubeconfig(
    admin: Path, kubectl: Kubectl, namespace: str, account: str, path: Path
) -> Path:
    """A kubeconfig for the admin kubeconfig's cluster, authenticated as the ServiceAccount."""
    token = kubectl("create", "token", account, "-n", namespace, "--duration=1h").stdout.strip()
    config = yaml.safe_load(admin.read_text())
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    cluster = next(c for c in config["clusters"] if c["name"] == context["context"]["cluster"])
    user = {"name": account, "user": {"token": token}}
    context = {"name": account, "context": {"cluster": cluster["name"], "user": account}}
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [cluster],
                "users": [user],
                "contexts": [context],
                "current-context": account,
            }
        )
    )
    return path


def sample_job(name: str) -> dict[str, Any]:
    """ACK's e2e sample manifest with its placeholders filled (skip when ../shared is absent)."""
    if not JOB_SAMPLE.exists():
        pytest.skip(f"{JOB_SAMPLE} is absent (../shared is not mounted)")
    text = string.Template(JOB_SAMPLE.read_text()).substitute(
        HPO_JOB_NAME=name,
        SAGEMAKER_DATA_BUCKET="example-bucket",
        SAGEMAKER_EXECUTION_ROLE_ARN="arn:aws:iam::123456789012:role/SageMakerExecution",
        XGBOOST_IMAGE_URI=example_image(),
    )
    manifest: dict[str, Any] = yaml.safe_load(text)
    return manifest


class Operator(OperatorProcess):
    """`hpo-operator run` configured the chart's way, by `HPO_*` environment only, started at
    once without waiting (callers wait for `ready()`)."""

    def __init__(self, kubeconfig: Path, log_path: Path, env: dict[str, str]) -> None:
        base = {"HPO_REGION": "us-west-2", "HPO_POLL_INTERVAL": "0.5", "HPO_LOG_FORMAT": "text"}
        super().__init__(kubeconfig, log_path, env={**base, **env})
        self.start(wait=False)

    def refusals(self) -> list[str]:
        return [line for line in self.log().splitlines() if REFUSAL.search(line)]


def install(
    helm: Helm, kubeconfig: Path, release: str, namespace: str, values: dict[str, Any]
) -> None:
    """`helm install` of the chart with these values."""
    path = helm.home / f"{release}.json"
    path.write_text(json.dumps(values))
    helm("install", release, str(CHART), "--namespace", namespace, "--values", str(path),
         "--kubeconfig", str(kubeconfig))  # fmt: skip


def completed(kubectl: Kubectl, namespace: str, name: str) -> bool:
    body = kubectl.json("get", JOBS, name, "-n", namespace)
    return (body.get("status") or {}).get("hyperParameterTuningJobStatus") == "Completed"


def operator_under_chart(
    helm: Helm,
    kubeconfig: Path,
    kubectl: Kubectl,
    release: str,
    namespace: str,
    emulator_url: str,
    tmp_path: Path,
    values: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> Operator:
    """Install the chart in namespace scope (with `values` too) and start `hpo-operator run` with
    its ServiceAccount's token (and `env`, the settings those values give): the operator then has
    exactly the permissions the chart grants."""
    install(helm, kubeconfig, release, namespace, {"installScope": "namespace", **(values or {})})
    kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{JOBS}")
    account = service_account_kubeconfig(
        kubeconfig, kubectl, namespace, f"{release}-hpo-operator", tmp_path / "sa.kubeconfig"
    )
    return Operator(
        account,
        tmp_path / "operator.log",
        # The role maps are read where the chart puts them (its HPO_CARM_NAMESPACE): the release
        # namespace, where the chart's Role grants `get` on them by name.
        {
            "HPO_NAMESPACES": namespace,
            "HPO_ENDPOINT_URL": emulator_url,
            "HPO_CARM_NAMESPACE": namespace,
            **(env or {}),
        },
    )
