"""E2E helpers: manifests, waiting on conditions, the resources through the API, the operator as a
real subprocess (`hpo-operator run`, killable with -9) and the emulator's call counts.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hpo_devtools.operator import EMULATOR_CREDENTIALS
from hpo_devtools.operator import OperatorProcess as DevOperatorProcess
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


class JobReads:
    """HyperParameterTuningJob objects read through the Kubernetes API: what `Jobs` (writes with
    kubectl, as a user does) and the chaos tier's `faultkit.Resources` (writes through the API,
    faster) share."""

    def __init__(self, k8s_api: Any) -> None:
        from kubernetes import client

        self.api = client.CustomObjectsApi(k8s_api)
        self.core = client.CoreV1Api(k8s_api)

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return get_job(self.api, namespace, name)

    def status(self, namespace: str, name: str) -> dict[str, Any]:
        body = self.get(namespace, name) or {}
        status: dict[str, Any] = body.get("status") or {}
        return status

    def wait_gone(self, namespace: str, name: str, timeout: float = 60.0) -> None:
        wait_for(lambda: self.get(namespace, name) is None, timeout, f"{namespace}/{name} gone")


class Jobs(JobReads):
    """HyperParameterTuningJob resources through the Kubernetes API (reads) and kubectl (writes)."""

    def __init__(self, kubectl: Kubectl, k8s_api: Any) -> None:
        super().__init__(k8s_api)
        self.kubectl = kubectl

    def apply(self, namespace: str, manifest: dict[str, Any]) -> None:
        self.kubectl.apply(manifest, "-n", namespace)

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


class OperatorProcess(DevOperatorProcess):
    """`hpo-operator run` watching `namespaces` against `endpoint` (the emulator), with the e2e
    tier's flags; the process handling is `hpo_devtools.operator`'s."""

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
        """`real_aws`: keep the caller's AWS credentials, no endpoint override; `command`: what
        runs `hpo-operator` (the package, or a test wrapper such as support/crash_after_create)."""
        args: list[str] = []
        for namespace in namespaces:
            args += ["--namespace", namespace]
        if endpoint:
            args += ["--endpoint-url", endpoint]
        args += ["--region", region, "--poll-interval", str(poll_interval), "--log-format", "text"]
        args += ["--log-level", "DEBUG" if os.environ.get("HPO_E2E_DEBUG") else "INFO"]
        super().__init__(
            kubeconfig,
            log_path,
            args,
            extra_env,
            command=command,
            credentials=None if real_aws else EMULATOR_CREDENTIALS,
        )
        self.endpoint = endpoint
        self.namespaces = namespaces


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
