"""E2E helpers: manifests, waiting on conditions, the resources through the API, the operator as a
real subprocess (`hpo-operator run`, killable with -9) and the emulator's call counts.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hpo_devtools.ports import free_port
from hpo_devtools.samples import example_image, sample_job
from hpo_devtools.wait import wait_for
from hpo_emulator.server import RunningEmulator
from support.kube import Kubectl, unique_name

REPO = Path(__file__).resolve().parents[2]
GROUP, VERSION, PLURAL = "sagemaker.services.k8s.aws", "v1alpha1", "hyperparametertuningjobs"
POLL_INTERVAL = 0.5
IMAGE = example_image()
FAILING_IMAGE = IMAGE.rsplit(":", 1)[0] + ":fail"  # the emulator fails jobs of a :fail image


def tuning_job(
    name: str,
    job_name: str | None = None,
    *,
    image: str = IMAGE,
    max_jobs: int = 2,
    parallel: int = 2,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The repository's example (`hpo_devtools.samples`) as resource `name`, tagged team=e2e."""
    return sample_job(
        name,
        job_name,
        image=image,
        max_jobs=max_jobs,
        parallel=parallel,
        annotations=annotations,
        tags=[{"key": "team", "value": "e2e"}],
    )


def get_job(api: Any, namespace: str, name: str) -> dict[str, Any] | None:
    """One HyperParameterTuningJob through a CustomObjectsApi, or None when it does not exist."""
    from kubernetes.client.exceptions import ApiException

    try:
        found: dict[str, Any] = api.get_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name
        )
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    return found


class Jobs:
    """HyperParameterTuningJob resources through the Kubernetes API (reads) and kubectl (writes)."""

    def __init__(self, kubectl: Kubectl, k8s_api: Any) -> None:
        from kubernetes import client

        self.kubectl = kubectl
        self.api = client.CustomObjectsApi(k8s_api)
        self.core = client.CoreV1Api(k8s_api)

    def apply(self, namespace: str, manifest: dict[str, Any]) -> None:
        self.kubectl.apply(manifest, "-n", namespace)

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return get_job(self.api, namespace, name)

    def status(self, namespace: str, name: str) -> dict[str, Any]:
        body = self.get(namespace, name) or {}
        status: dict[str, Any] = body.get("status") or {}
        return status

    def condition(self, namespace: str, name: str, kind: str) -> dict[str, Any] | None:
        for item in self.status(namespace, name).get("conditions") or []:
            if item.get("type") == kind:
                found: dict[str, Any] = item
                return found
        return None

    def wait_state(
        self, namespace: str, name: str, state: str, timeout: float = 90.0
    ) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            status = self.status(namespace, name)
            return status if status.get("hyperParameterTuningJobStatus") == state else None

        found: dict[str, Any] = wait_for(reached, timeout, f"{namespace}/{name} to be {state}")
        return found

    def wait_condition(
        self, namespace: str, name: str, kind: str, status: str = "True", timeout: float = 60.0
    ) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            found = self.condition(namespace, name, kind)
            return found if found and found.get("status") == status else None

        found: dict[str, Any] = wait_for(reached, timeout, f"{namespace}/{name} {kind}={status}")
        return found

    def delete(self, namespace: str, name: str) -> None:
        self.kubectl("delete", PLURAL, name, "-n", namespace, "--wait=false")

    def wait_gone(self, namespace: str, name: str, timeout: float = 60.0) -> None:
        wait_for(lambda: self.get(namespace, name) is None, timeout, f"{namespace}/{name} gone")

    def events(self, namespace: str, name: str) -> list[dict[str, str]]:
        found = self.core.list_namespaced_event(
            namespace, field_selector=f"involvedObject.name={name}"
        )
        return [
            {"type": e.type, "reason": e.reason, "message": e.message}
            for e in found.items
            if e.involved_object.kind == "HyperParameterTuningJob"
        ]

    def annotate_namespace(self, namespace: str, annotations: dict[str, str]) -> None:
        self.core.patch_namespace(namespace, {"metadata": {"annotations": annotations}})


class OperatorProcess:
    """`hpo-operator run` as a child process, with its log kept for failure messages."""

    def __init__(
        self,
        kubeconfig: Path,
        endpoint: str | None,
        namespaces: list[str],
        log_path: Path,
        extra_env: dict[str, str] | None = None,
        *,
        region: str = "us-west-2",
        poll_interval: float = POLL_INTERVAL,
        real_aws: bool = False,
        command: Sequence[str] | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.endpoint = endpoint
        self.namespaces = namespaces
        self.log_path = log_path
        self.extra_env = dict(extra_env or {})
        self.region = region
        self.poll_interval = poll_interval
        self.real_aws = real_aws  # keep the caller's AWS credentials; no endpoint override
        # What runs `hpo-operator`: the installed package, or a test wrapper of it
        # (support/crash_after_create.py).
        self.command = list(command or [sys.executable, "-m", "hpo_operator.cli"])
        self.health_port = free_port()
        self.metrics_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, **extra_env: str) -> OperatorProcess:
        dropped = ("HPO_", "KUBECONFIG") if self.real_aws else ("HPO_", "AWS_", "KUBECONFIG")
        env = {key: value for key, value in os.environ.items() if not key.startswith(dropped)}
        env["KUBECONFIG"] = str(self.kubeconfig)
        if not self.real_aws:
            env.update(
                AWS_ACCESS_KEY_ID="emulator",
                AWS_SECRET_ACCESS_KEY="emulator",
                AWS_EC2_METADATA_DISABLED="true",
            )
        env.update(self.extra_env)
        env.update(extra_env)
        argv = [*self.command, "run"]
        for namespace in self.namespaces:
            argv += ["--namespace", namespace]
        if self.endpoint:
            argv += ["--endpoint-url", self.endpoint]
        argv += [
            "--region",
            self.region,
            "--poll-interval",
            str(self.poll_interval),
            "--log-format",
            "text",
            "--log-level",
            "DEBUG" if os.environ.get("HPO_E2E_DEBUG") else "INFO",
            "--health-port",
            str(self.health_port),
            "--metrics-port",
            str(self.metrics_port),
        ]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(self._healthy, 60, f"operator health on :{self.health_port}\n{self.tail()}")
        return self

    def _healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"operator exited {self.process.returncode}:\n{self.tail()}")
        return self.probe("/healthz") == 200

    def probe(self, path: str) -> int | None:
        try:
            url = f"http://127.0.0.1:{self.health_port}{path}"
            with urllib.request.urlopen(url, timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            return None

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text: str = response.read().decode()
            return text

    def metric(self, name: str, labels: str = "") -> float:
        """One sample of /metrics, e.g. `metric("hpo_parking_total", '{action="park"}')`; 0 when
        it is absent (a labelled counter appears once first counted)."""
        pattern = rf"^{re.escape(name)}{re.escape(labels)} (\S+)$"
        found = re.search(pattern, self.metrics(), re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    def wait_exit(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def job_name(hint: str) -> str:
    """A SageMaker job name unique across the session (the emulator is shared)."""
    return unique_name(hint, max_length=32)


def stats(emulator: RunningEmulator) -> dict[str, Any]:
    """The emulator's call counts, by operation and outcome."""
    import json

    with urllib.request.urlopen(f"{emulator.url}/_emulator/stats", timeout=5) as response:
        document: dict[str, Any] = json.loads(response.read())
        return document


def stop_throttling(emulator: RunningEmulator) -> None:
    """Tell the emulator to throttle nothing from now on."""
    body = json.dumps({"throttle_rate": 0.0}).encode()
    request = urllib.request.Request(f"{emulator.url}/_emulator/faults", data=body)
    urllib.request.urlopen(request, timeout=5).close()
