"""The built image, run as the chart runs it: `make image` from the unchanged Dockerfile, started
by Docker with flags derived from `helm template` output (tests/ship/container.py), as the chart's
ServiceAccount, against the real API server and the SageMaker emulator.

Asserted: it starts and stays up; the kubelet's probes answer; a job reaches Completed; a deleted
InProgress job is Stopped; SIGTERM exits 0 within the pod's grace period; nothing is written to
the root filesystem; all of it as the chart's UID and as an arbitrary UID with no passwd entry.

Skipped only where no Docker engine can be started; under CI a missing engine fails instead.
"""

from __future__ import annotations

import json
import os
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hpo_devtools.ports import free_port
from hpo_devtools.wait import wait_for
from hpo_emulator.config import EmulatorConfig
from hpo_emulator.server import RunningEmulator, run_in_thread
from ship.chart import REPO, Helm, one, parse
from ship.container import (
    Container,
    PodRun,
    api_server_address,
    build_image,
    engine_unavailable_reason,
    flags_value,
    pod_run,
    service_account_files,
)
from ship.live import JOBS, REFUSAL, completed, install, sample_job
from support.kube import Kubectl, unique_name

pytestmark = pytest.mark.cluster

VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
IDS = "import os; print(os.getuid(), os.getgid(), *os.getgroups())"
ARBITRARY_UID = 1000770000  # as OpenShift's restricted policy assigns: no passwd entry


@pytest.fixture(scope="session")
def operator_image() -> str:
    """`make image` built on a local base image; the tag is the chart's default image."""
    reason = engine_unavailable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the image: no Docker engine ({reason})")
        pytest.skip(f"no Docker engine can be started here: {reason}")
    tag = f"hpo-operator:{VERSION}"
    build_image(tag)
    return tag


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    """The emulator on loopback, which the container reaches through the host network."""
    with run_in_thread(EmulatorConfig(training_seconds=1.0, stop_seconds=1.0, quotas={})) as em:
        yield em


def chart_values(emulator: RunningEmulator) -> dict[str, Any]:
    return {
        "installScope": "namespace",
        "aws": {"region": "us-west-2", "endpointUrl": emulator.url},
        "pollInterval": 1,
        "health": {"port": free_port()},
        "metrics": {"port": free_port()},
        "extraEnv": [
            {"name": "AWS_ACCESS_KEY_ID", "value": "emulator"},
            {"name": "AWS_SECRET_ACCESS_KEY", "value": "emulator"},
            {"name": "AWS_EC2_METADATA_DISABLED", "value": "true"},
        ],
    }


def long_job(name: str) -> dict[str, Any]:
    """ACK's sample with 50 training jobs one at a time: InProgress for a minute here."""
    manifest = sample_job(name)
    manifest["spec"]["hyperParameterTuningJobConfig"]["resourceLimits"] = {
        "maxNumberOfTrainingJobs": 50,
        "maxParallelTrainingJobs": 1,
    }
    return manifest


def state(kubectl: Kubectl, namespace: str, name: str) -> str | None:
    body = kubectl.json("get", JOBS, name, "-n", namespace)
    return (body.get("status") or {}).get("hyperParameterTuningJobStatus")


def apply(kubectl: Kubectl, namespace: str, manifest: dict[str, Any]) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest))


def run_chart_pod(
    helm: Helm,
    kubeconfig: Path,
    kubectl: Kubectl,
    namespace: str,
    emulator: RunningEmulator,
    tmp_path: Path,
    uid: int | None,
    api_server: tuple[str, int] | None = None,
) -> tuple[Container, PodRun]:
    """helm install (ServiceAccount, RBAC, CRD), then the Deployment's pod from `helm template`
    of the same values, started by Docker with a token of that ServiceAccount."""
    release = unique_name("img", max_length=20)
    values = chart_values(emulator)
    install(helm, kubeconfig, release, namespace, values)
    kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{JOBS}")
    rendered = helm.template(values, release=release, namespace=namespace)
    deployment = one(parse(rendered), "Deployment")
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    token = kubectl("create", "token", account, "-n", namespace, "--duration=1h").stdout.strip()
    run = pod_run(
        deployment,
        container="operator",
        hostname=f"{deployment['metadata']['name']}-{unique_name('p', max_length=8)[-5:]}",
        service_account=service_account_files(kubeconfig, token, namespace, tmp_path / "sa"),
        api_server=api_server or api_server_address(kubeconfig),
        uid=uid,
    )
    container = Container.start(run, name=unique_name(release, max_length=40))
    return container, run


def exercise(
    container: Container, run: PodRun, kubectl: Kubectl, namespace: str, emulator: RunningEmulator
) -> None:
    """Probes, a Completed job, a Stopped one on delete, a clean SIGTERM, a clean root fs."""

    def up() -> bool:
        state = container.state()
        assert state["Running"], f"the container exited:\n{container.logs()[-4000:]}"
        return container.probe("readinessProbe") == 200

    wait_for(up, 120, "/readyz to answer 200")
    assert container.probe("livenessProbe") == 200

    ids = container.exec(
        "python3", "-c", "import os; print(os.getuid(), os.getgid(), *os.getgroups())"
    )
    uid, gid, *groups = (int(x) for x in ids.split())
    assert (uid, gid) == (run.uid, run.gid)
    assert set(run.supplementary) <= set(groups)

    done = unique_name("done", max_length=30)
    apply(kubectl, namespace, sample_job(done))
    wait_for(lambda: completed(kubectl, namespace, done), 120, f"{done} to be Completed")
    body = kubectl.json("get", JOBS, done, "-n", namespace)
    assert body["status"]["bestTrainingJob"]["trainingJobName"]

    long = unique_name("long", max_length=30)
    apply(kubectl, namespace, long_job(long))
    wait_for(lambda: state(kubectl, namespace, long) == "InProgress", 60, f"{long} InProgress")
    kubectl("delete", JOBS, long, "-n", namespace, "--wait=false")
    wait_for(
        lambda: kubectl("get", JOBS, long, "-n", namespace, check=False).returncode != 0,
        60,
        f"{long} to be released",
    )
    job = emulator.store.jobs[long.lower()]  # sample_job names the SageMaker job like the resource
    wait_for(lambda: job.status(emulator.emulator.clock()) == "Stopped", 30, f"{long} Stopped")

    assert container.changes() == [], "the image wrote outside its volumes"
    started = time.monotonic()
    container.stop()
    took = time.monotonic() - started
    final = container.state()
    logs = container.logs()
    assert final["ExitCode"] == 0 and not final["OOMKilled"], f"exit {final}:\n{logs[-4000:]}"
    assert took < run.grace_seconds, f"SIGTERM took {took:.1f}s of {run.grace_seconds}s"
    assert "Traceback" not in logs, logs[-4000:]
    assert not [line for line in logs.splitlines() if REFUSAL.search(line)], logs[-4000:]


def test_derived_flags_carry_the_charts_security_settings(helm: Helm, tmp_path: Path) -> None:
    """The derivation itself: the chart's pod settings become the engine's flags."""
    rendered = helm.template({"installScope": "namespace"}, namespace="hpo-system")
    run = pod_run(
        one(parse(rendered), "Deployment"),
        container="operator",
        hostname="pod",
        service_account=tmp_path,
        api_server=("127.0.0.1", 6443),
    )
    assert run.image == f"hpo-operator:{VERSION}"
    assert (run.uid, run.gid, run.supplementary) == (65532, 65532, (65532,))
    assert {"--read-only", "--cap-drop=ALL", "--security-opt=no-new-privileges"} <= set(run.flags)
    assert flags_value(run.flags, "tmpfs") == ["/tmp:rw,mode=1777,size=67108864"]
    env = dict(v.split("=", 1) for v in flags_value(run.flags, "env"))
    assert env["HPO_NAMESPACES"] == "hpo-system" and env["KUBERNETES_SERVICE_PORT"] == "6443"
    assert {p.path for p in run.probes.values()} == {"/healthz", "/readyz"}


@pytest.mark.parametrize("uid", [None, ARBITRARY_UID], ids=["chart-uid", "arbitrary-uid"])
def test_image_runs_as_the_chart_runs_it(
    operator_image: str,
    helm: Helm,
    kubeconfig: Path,
    kubectl: Kubectl,
    namespace: str,
    emulator: RunningEmulator,
    tmp_path: Path,
    uid: int | None,
) -> None:
    container, run = run_chart_pod(helm, kubeconfig, kubectl, namespace, emulator, tmp_path, uid)
    try:
        assert run.image == operator_image
        exercise(container, run, kubectl, namespace, emulator)
    except AssertionError as failure:
        log = container.logs()[-6000:]
        raise AssertionError(f"{failure}\n--- the container's log ---\n{log}") from failure
    finally:
        container.remove()


def test_image_is_not_ready_while_the_api_server_is_unreachable(
    operator_image: str,
    helm: Helm,
    kubeconfig: Path,
    kubectl: Kubectl,
    namespace: str,
    emulator: RunningEmulator,
    tmp_path: Path,
) -> None:
    """The kubelet names an API server address that nothing answers: /readyz says so (503, with
    the reason), /healthz stays 200 (a restart would not help), and SIGTERM still exits 0."""
    nowhere = ("127.0.0.1", free_port())
    container, _ = run_chart_pod(
        helm, kubeconfig, kubectl, namespace, emulator, tmp_path, None, api_server=nowhere
    )
    try:
        wait_for(lambda: container.probe("livenessProbe") == 200, 120, "/healthz to answer 200")
        wait_for(lambda: container.probe("readinessProbe") == 503, 120, "/readyz to answer 503")
        assert container.state()["Running"]
        container.stop()
        assert container.state()["ExitCode"] == 0, container.logs()[-4000:]
    finally:
        container.remove()
