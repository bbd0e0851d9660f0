"""`make demo`: a local API server, the SageMaker emulator and the operator run a sample tuning job.

Starts etcd + kube-apiserver (hpo_devtools.cluster), `hpo-operator emulator` with a fast
lifecycle, installs crds/, runs `hpo-operator run` against the emulator, applies
examples/xgboost-tuning.yaml, shows `kubectl get hyperparametertuningjobs` until the job ends,
prints the final status and the best training job, and removes everything (Ctrl-C included).
Needs KUBEBUILDER_ASSETS and KUBECTL (the Makefile exports them from `make tools`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import yaml

from hpo_devtools.cluster import Binaries, DevCluster
from hpo_devtools.wait import wait_for
from hpo_operator.cli import kubeyaml

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "xgboost-tuning.yaml"
RESOURCE = "hyperparametertuningjobs.sagemaker.services.k8s.aws"
NAMESPACE = "default"
DEADLINE = 180.0


def say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def kubectl(kubeconfig: Path, *args: str, check: bool = True) -> str:
    binary = os.environ.get("KUBECTL", "kubectl")
    result = subprocess.run(
        [binary, f"--kubeconfig={kubeconfig}", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if check and result.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


@contextmanager
def child(argv: Sequence[str], log: Path, env: dict[str, str] | None = None) -> Iterator[Any]:
    """A child process writing to `log`, terminated (then killed) on the way out."""
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def wait_line(log: Path, process: Any, timeout: float = 30.0) -> str:
    """The first line a child writes (the emulator prints its URL first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = log.read_text(errors="replace").splitlines() if log.exists() else []
        if lines:
            return lines[0].strip()
        if process.poll() is not None:
            raise SystemExit(f"{process.args[0]} exited:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)
    raise SystemExit(f"no output from {process.args} in {timeout}s")


def main() -> int:
    started = time.monotonic()
    hpo = [sys.executable, "-m", "hpo_operator.cli"]
    work = Path(tempfile.mkdtemp(prefix="hpo-demo-"))
    with ExitStack() as stack:
        say("Starting a local Kubernetes API server (etcd + kube-apiserver)")
        cluster = stack.enter_context(DevCluster.temporary(binaries=Binaries.from_assets()))
        kubeconfig = cluster.kubeconfig
        print(f"    {cluster.server}  (kubeconfig: {kubeconfig})")

        say("Starting the SageMaker emulator (each training job takes 2 s)")
        emulator_log = work / "emulator.log"
        emulator = stack.enter_context(
            child([*hpo, "emulator", "--port", "0", "--training-seconds", "2"], emulator_log)
        )
        endpoint = wait_line(emulator_log, emulator)
        print(f"    {endpoint}")

        say("Installing the CustomResourceDefinition from crds/")
        kubectl(kubeconfig, "apply", "--server-side", "-f", str(REPO / "crds"))
        _wait_established(kubeconfig)

        say("Starting the operator: hpo-operator run --endpoint-url " + endpoint)
        operator_log = work / "operator.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HPO_"))}
        env.update(
            KUBECONFIG=str(kubeconfig),
            AWS_ACCESS_KEY_ID="demo",  # the emulator accepts any credentials
            AWS_SECRET_ACCESS_KEY="demo",
            AWS_EC2_METADATA_DISABLED="true",
        )
        argv = [*hpo, "run", "--namespace", NAMESPACE, "--region", "us-west-2"]
        argv += ["--endpoint-url", endpoint, "--poll-interval", "1", "--log-format", "text"]
        argv += ["--metrics-port", "0", "--health-port", "0"]
        operator = stack.enter_context(child(argv, operator_log, env))
        print(f"    logs: {operator_log}")

        say(f"Applying {EXAMPLE.relative_to(REPO)}")
        print(kubectl(kubeconfig, "apply", "-n", NAMESPACE, "-f", str(EXAMPLE)).rstrip())
        name = str(kubeyaml.load_all(EXAMPLE.read_text())[0]["metadata"]["name"])
        stack.callback(_delete, kubeconfig, name)  # runs before the operator stops

        say("kubectl get hyperparametertuningjobs (refreshed while the job runs)")
        state = _watch(kubeconfig, name, operator)
        body = json.loads(kubectl(kubeconfig, "get", RESOURCE, name, "-n", NAMESPACE, "-o", "json"))
        status = body.get("status", {})

        say("Final status")
        print(yaml.safe_dump(status, sort_keys=False).rstrip())
        best = status.get("bestTrainingJob") or {}
        metric = best.get("finalHyperParameterTuningJobObjectiveMetric") or {}
        say(
            f"Best training job: {best.get('trainingJobName')} "
            f"{metric.get('metricName')}={metric.get('value')} "
            f"with {best.get('tunedHyperParameters')}"
        )
        say("Cleaning up (resource, operator, emulator, API server)")
        ok = state == "Completed"
    print(f"\nDemo {'finished' if ok else 'FAILED'} in {time.monotonic() - started:.0f} s.")
    return 0 if ok else 1


def _watch(kubeconfig: Path, name: str, operator: Any) -> str:
    deadline = time.monotonic() + DEADLINE
    shown = ""
    state = ""
    while time.monotonic() < deadline:
        if operator.poll() is not None:
            raise SystemExit(f"the operator exited with {operator.returncode}")
        table = kubectl(kubeconfig, "get", RESOURCE, "-n", NAMESPACE, check=False)
        if table and table != shown:
            print(table.rstrip(), flush=True)
            shown = table
        state = kubectl(
            kubeconfig,
            "get",
            RESOURCE,
            name,
            "-n",
            NAMESPACE,
            "-o",
            "jsonpath={.status.hyperParameterTuningJobStatus}",
            check=False,
        ).strip()
        if state in ("Completed", "Failed", "Stopped"):
            return state
        time.sleep(1.0)
    raise SystemExit(f"the job did not finish within {DEADLINE:.0f} s (last state {state!r})")


def _wait_established(kubeconfig: Path, timeout: float = 60.0) -> None:
    # `kubectl wait` fails at once while the CRD has no conditions yet, so ask until it answers.
    def established() -> bool:
        out = kubectl(
            kubeconfig,
            "get",
            f"crd/{RESOURCE}",
            "-o",
            'jsonpath={.status.conditions[?(@.type=="Established")].status}',
            check=False,
        )
        return out.strip() == "True"

    try:
        wait_for(established, timeout, f"crd/{RESOURCE} to be Established")
    except AssertionError as late:
        raise SystemExit(str(late)) from None


def _delete(kubeconfig: Path, name: str) -> None:
    kubectl(kubeconfig, "delete", RESOURCE, name, "-n", NAMESPACE, "--timeout=30s", check=False)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started with SIGINT ignored (`cmd &`)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nInterrupted; everything started by the demo was stopped.", file=sys.stderr)
        sys.exit(130)
