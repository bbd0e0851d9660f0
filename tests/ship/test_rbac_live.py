"""The operator running under exactly the chart's RBAC: a job goes to Completed, nothing is refused.

Why: the Role is compared with hpo_operator.rbac in test_chart_rbac.py, but only running the real
operator with the chart's ServiceAccount token proves the list is complete (kopf's own calls
included). The operator runs as a local process (no kubelet here) with a kubeconfig holding that
ServiceAccount's token, against the SageMaker emulator.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hpo_operator.emulator.config import EmulatorConfig
from hpo_operator.emulator.server import RunningEmulator, run_in_thread
from ship.chart import CHART, REPO, Helm
from support.kube import Kubectl, unique_name

pytestmark = pytest.mark.e2e

JOB_SAMPLE = REPO / ".." / "shared" / "ack" / "e2e_xgboost_hpojob.yaml"
REFUSALS = ("403", "Forbidden", "forbidden", "Not enough permissions")


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def status_code(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return None


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with run_in_thread(EmulatorConfig(training_seconds=1.0, stop_seconds=1.0, quotas={})) as em:
        yield em


def service_account_kubeconfig(
    admin: Path, kubectl: Kubectl, namespace: str, account: str, path: Path
) -> Path:
    """A kubeconfig for the admin kubeconfig's cluster, authenticated as the ServiceAccount."""
    token = kubectl("create", "token", account, "-n", namespace, "--duration=1h").stdout.strip()
    config = yaml.safe_load(admin.read_text())
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    cluster = next(c for c in config["clusters"] if c["name"] == context["context"]["cluster"])
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [cluster],
                "users": [{"name": account, "user": {"token": token}}],
                "contexts": [
                    {
                        "name": account,
                        "context": {"cluster": cluster["name"], "user": account},
                    }
                ],
                "current-context": account,
            }
        )
    )
    return path


def sample_job(name: str) -> dict[str, Any]:
    """ACK's e2e sample manifest, renamed (skipped when ../shared is absent)."""
    if not JOB_SAMPLE.exists():
        pytest.skip(f"{JOB_SAMPLE} is absent (../shared is not mounted)")
    text = string.Template(JOB_SAMPLE.read_text()).substitute(
        HPO_JOB_NAME=name,
        SAGEMAKER_DATA_BUCKET="example-bucket",
        SAGEMAKER_EXECUTION_ROLE_ARN="arn:aws:iam::123456789012:role/SageMakerExecution",
        XGBOOST_IMAGE_URI="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
    )
    manifest: dict[str, Any] = yaml.safe_load(text)
    return manifest


def test_operator_under_namespace_scope_rbac(
    helm: Helm,
    kubeconfig: Path,
    kubectl: Kubectl,
    namespace: str,
    emulator: RunningEmulator,
    tmp_path: Path,
) -> None:
    release = unique_name("live", max_length=20)
    fullname = f"{release}-hpo-operator"
    manifest = sample_job(unique_name("rbac-live", max_length=32))
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"installScope": "namespace"}))
    helm(
        "install",
        release,
        str(CHART),
        "--namespace",
        namespace,
        "--values",
        str(values),
        "--kubeconfig",
        str(kubeconfig),
    )
    kubectl("wait", "--for=condition=Established", "--timeout=60s",
            "crd/hyperparametertuningjobs.sagemaker.services.k8s.aws")  # fmt: skip
    account_config = service_account_kubeconfig(
        kubeconfig, kubectl, namespace, fullname, tmp_path / "sa.kubeconfig"
    )
    health_port, metrics_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HPO_", "AWS_", "KUBE"))}
    env.update(
        KUBECONFIG=str(account_config),
        AWS_ACCESS_KEY_ID="emulator",
        AWS_SECRET_ACCESS_KEY="emulator",
        AWS_EC2_METADATA_DISABLED="true",
        HPO_NAMESPACES=namespace,
        HPO_REGION="us-west-2",
        HPO_ENDPOINT_URL=emulator.url,
        HPO_POLL_INTERVAL="0.5",
        HPO_LOG_FORMAT="text",
        HPO_HEALTH_PORT=str(health_port),
        HPO_METRICS_PORT=str(metrics_port),
    )
    log_path = tmp_path / "operator.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "hpo_operator.cli", "run"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        ready = f"http://127.0.0.1:{health_port}/readyz"

        def is_ready() -> bool:
            assert process.poll() is None, log_path.read_text()
            return status_code(ready) == 200

        wait_for(is_ready, 60, "the operator's /readyz")
        kubectl.apply(manifest, "-n", namespace)
        name = manifest["metadata"]["name"]

        def completed() -> bool:
            body = kubectl.json("get", "hyperparametertuningjobs", name, "-n", namespace)
            return (body.get("status") or {}).get("hyperParameterTuningJobStatus") == "Completed"

        wait_for(completed, 120, f"{name} to complete\n{log_path.read_text()[-3000:]}")
        events = kubectl.json(
            "get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}"
        )
        assert events["items"], "the operator could not post Events"
        # Deleting goes through the finalizer, also under the chart's RBAC.
        kubectl("delete", "hyperparametertuningjobs", name, "-n", namespace, "--timeout=60s")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        helm("uninstall", release, "--namespace", namespace, "--kubeconfig", str(kubeconfig))
    text = log_path.read_text(errors="replace")
    refused = [line for line in text.splitlines() if any(word in line for word in REFUSALS)]
    assert not refused, "\n".join(refused[:20])
