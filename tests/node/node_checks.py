"""What the node tests check on a running install: the operator's pod really runs the chart's
settings (identity, fsGroup, the /tmp emptyDir, the in-cluster API address), and the operator takes
one job to Completed and stops another on delete, against the emulator on the host's veth.

A module, not a conftest, so both install tests import it under one name."""

from __future__ import annotations

import json
from typing import Any

from hpo_devtools.cluster import KUBERNETES_SERVICE_IP
from hpo_devtools.samples import sample_job
from hpo_devtools.wait import eventually
from hpo_emulator.server import RunningEmulator
from support.kube import Kubectl, unique_name

JOBS = "hyperparametertuningjobs.sagemaker.services.k8s.aws"
FAKE_CREDENTIALS = [
    {"name": "AWS_ACCESS_KEY_ID", "value": "emulator"},
    {"name": "AWS_SECRET_ACCESS_KEY", "value": "emulator"},
]


def operator_values(image: str, emulator: RunningEmulator) -> dict[str, Any]:
    """Chart values for the node: the local image (never pulled), the emulator, fake creds."""
    repository, _, tag = image.rpartition(":")
    return {
        "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        # The emulator is plain HTTP on the host's veth address: allowed explicitly (issue 13).
        "aws": {
            "region": "us-west-2",
            "endpointUrl": emulator.url,
            "allowUnsafeEndpointURLs": [emulator.url],
        },
        "pollInterval": 1,
        "log": {"format": "text"},
        "extraEnv": FAKE_CREDENTIALS,
    }


def wait_deployment_ready(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    """The Deployment's pod Ready by the kubelet's readiness probe; returns that pod."""

    def ready() -> dict[str, Any]:
        pods = kubectl.json("get", "pods", "-n", namespace, "-l", "app.kubernetes.io/instance")
        running = [
            p for p in pods["items"]
            if p["metadata"].get("ownerReferences") and not p["metadata"].get("deletionTimestamp")
            and any(c["type"] == "Ready" and c["status"] == "True"
                    for c in p["status"].get("conditions", []))
        ]  # fmt: skip
        assert running, _describe(kubectl, namespace)
        return running[0]

    kubectl.wait_for_condition(f"deployment/{name}", "Available", "-n", namespace, timeout=180)
    pod: dict[str, Any] = eventually(ready, 180)
    return pod


def _describe(kubectl: Kubectl, namespace: str) -> str:
    return kubectl("describe", "pods", "-n", namespace, check=False).stdout[-3000:]


def check_pod_runtime(kubectl: Kubectl, namespace: str, pod: dict[str, Any]) -> None:
    """Inside the running container: UID, fsGroup, a writable /tmp (the emptyDir, on a read-only
    root), the projected token, and the API server found the in-cluster ways (the Service's
    environment variables, and `kubernetes.default.svc` through the cluster DNS)."""
    name = pod["metadata"]["name"]
    script = (
        "import json, os, pathlib, socket\n"
        "pathlib.Path('/tmp/probe').write_text('x')\n"
        "try:\n"
        "    open('/etc/probe', 'w')\n"
        "    ro = False\n"
        "except OSError:\n"
        "    ro = True\n"
        "sa = pathlib.Path('/var/run/secrets/kubernetes.io/serviceaccount')\n"
        "print(json.dumps({'uid': os.getuid(), 'groups': os.getgroups(), 'root_ro': ro,\n"
        "    'tmp_gid': os.stat('/tmp').st_gid, 'host': os.environ['KUBERNETES_SERVICE_HOST'],\n"
        "    'token': (sa / 'token').read_text().count('.'), 'ca': (sa / 'ca.crt').exists(),\n"
        "    'dns': socket.gethostbyname('kubernetes.default.svc')}))\n"
    )
    out = kubectl("exec", name, "-n", namespace, "--", "python3", "-c", script).stdout
    seen = json.loads(out)
    assert seen["uid"] == 65532 and 65532 in seen["groups"], seen
    assert seen["tmp_gid"] == 65532, seen  # fsGroup applied to the emptyDir
    assert seen["root_ro"], seen
    assert seen["host"] == KUBERNETES_SERVICE_IP, seen  # the `kubernetes` Service, via kube-proxy
    assert seen["dns"] == KUBERNETES_SERVICE_IP, seen  # and its name, via the kube-dns Service
    assert seen["token"] == 2 and seen["ca"], seen  # a JWT: the projected ServiceAccount token
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert any(name.startswith("kube-api-access-") and "projected" in v
               for name, v in volumes.items()), volumes  # fmt: skip


def tuning_job(name: str, *, long: bool = False) -> dict[str, Any]:
    """The example under a unique name; `long`: 50 trainings, one at a time."""
    return sample_job(
        name,
        unique_name(name, max_length=32),
        max_jobs=50 if long else None,
        parallel=1 if long else None,
    )


def job_state(kubectl: Kubectl, namespace: str, name: str) -> str | None:
    job = kubectl.json("get", JOBS, name, "-n", namespace)
    state: str | None = (job.get("status") or {}).get("hyperParameterTuningJobStatus")
    return state


def wait_state(kubectl: Kubectl, namespace: str, name: str, state: str, log: str = "") -> None:
    def reached() -> None:
        seen = job_state(kubectl, namespace, name)
        assert seen == state, f"{namespace}/{name} is {seen}, waiting for {state}"

    eventually(reached, 180)


def run_jobs(
    kubectl: Kubectl, emulator: RunningEmulator, namespace: str, operator_pod: str
) -> None:
    """One job to Completed; one deleted while InProgress ends Stopped in the emulator."""
    done = tuning_job("done")
    kubectl.apply(done, "-n", namespace)
    try:
        wait_state(kubectl, namespace, "done", "Completed")
    except AssertionError as error:
        logs = kubectl("logs", operator_pod, "-n", namespace, "--tail=40", check=False).stdout
        raise AssertionError(f"{error}\n--- operator log ---\n{logs}") from None
    kubectl("delete", JOBS, "done", "-n", namespace, "--wait=true", timeout=120)

    long = tuning_job("long", long=True)
    kubectl.apply(long, "-n", namespace)
    wait_state(kubectl, namespace, "long", "InProgress")
    kubectl("delete", JOBS, "long", "-n", namespace, "--wait=true", timeout=120)
    job_name = long["spec"]["hyperParameterTuningJobName"]
    job = emulator.store.jobs[job_name.lower()]
    assert job.status(emulator.emulator.clock()) == "Stopped"
    # The kubelet's liveness probe passed all along: the container never restarted.
    pod = kubectl.json("get", "pod", operator_pod, "-n", namespace)
    restarts = [c["restartCount"] for c in pod["status"]["containerStatuses"]]
    assert restarts == [0], pod["status"]["containerStatuses"]
