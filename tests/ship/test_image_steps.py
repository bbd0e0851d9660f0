"""The container image without Docker: the Dockerfile's install steps, run in a clean venv.

Why: there is no Docker engine here, so the image is proven by running what its build stage runs
(hack/install-wheel.sh, on exactly the files the Dockerfile copies) and starting the entrypoint's
program from the result. The static checks pin what the runtime stage promises: non-root numeric
UID, read-only-friendly environment, the `hpo-operator run` entrypoint and OCI labels.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hpo_devtools.operator import http_status
from hpo_devtools.ports import free_port
from hpo_devtools.wait import wait_for
from hpo_emulator.config import EmulatorConfig
from hpo_emulator.server import run_in_thread
from ship.live import sample_job
from support.kube import Kubectl, unique_name

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"


@dataclass
class Stage:
    """One FROM ... stage: its instructions as (keyword, argument text) pairs."""

    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [text for kw, text in self.instructions if kw == keyword]


def stages() -> list[Stage]:
    """The Dockerfile's stages, with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else str(len(result))
            result.append(Stage(name))
        elif result:
            result[-1].instructions.append((keyword, rest.strip()))
    return result


def pyproject_version() -> str:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    return str(data["project"]["version"])


def test_build_stage_runs_only_the_shared_install_script() -> None:
    build = stages()[0]
    assert build.name == "build"
    assert build.args("RUN") == ["hack/install-wheel.sh /src /opt/hpo-operator"]
    assert build.args("WORKDIR") == ["/src"]


def test_runtime_stage_is_slim_non_root_and_read_only_friendly() -> None:
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in DOCKERFILE.read_text()
    runtime = stages()[-1]
    assert runtime.args("COPY") == ["--from=build /opt/hpo-operator /opt/hpo-operator"]
    assert runtime.args("RUN") == [], "the runtime stage installs nothing of its own"
    (user,) = runtime.args("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit() and int(gid) > 0
    env = " ".join(runtime.args("ENV"))
    for setting in ("HOME=/tmp", "TMPDIR=/tmp", "PYTHONDONTWRITEBYTECODE=1"):
        assert setting in env
    assert runtime.args("ENTRYPOINT") == [json.dumps(["hpo-operator", "run"])]


def test_oci_labels_and_version() -> None:
    runtime = stages()[-1]
    labels = " ".join(runtime.args("LABEL"))
    for key in ("title", "description", "version", "licenses", "base.name"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert f"VERSION={pyproject_version()}" in runtime.args("ARG"), "keep it = pyproject's"
    # The base image's label names the build argument, never a registry.
    assert "PYTHON_IMAGE" in runtime.args("ARG") and 'base.name="${PYTHON_IMAGE}"' in labels


def test_dockerignore_admits_every_copied_path() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    admitted = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    for text in stages()[0].args("COPY"):
        *sources, _ = shlex.split(text)
        for source in sources:
            assert source.rstrip("/") in admitted, f"{source} is excluded by .dockerignore"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv made by the build stage's RUN step, from exactly the files the build stage copies."""
    root = tmp_path_factory.mktemp("image")
    context = root / "src"
    for text in stages()[0].args("COPY"):
        *sources, target = shlex.split(text)
        for source in sources:
            origin = REPO / source
            destination = context / target if target not in ("./", ".") else context / source
            destination.parent.mkdir(parents=True, exist_ok=True)
            if origin.is_dir():
                shutil.copytree(
                    origin,
                    destination,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
                )
            else:
                shutil.copy2(origin, destination)
    venv = root / "venv"
    (command,) = stages()[0].args("RUN")
    argv = shlex.split(
        command.replace("/src", str(context)).replace("/opt/hpo-operator", str(venv))
    )
    install = subprocess.run(
        argv, cwd=context, capture_output=True, text=True, timeout=900, check=False
    )
    assert install.returncode == 0, install.stderr[-4000:]
    return venv


@pytest.mark.slow
def test_install_steps_in_a_clean_venv(installed: Path) -> None:
    """The build stage's steps work, and the result starts with locked runtime deps only."""
    venv = installed
    version = subprocess.run(
        [str(venv / "bin" / "hpo-operator"), "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert version.stdout.strip() == f"hpo-operator {pyproject_version()}"

    # The entrypoint's module imports kopf, boto3, aiohttp and prometheus_client: all installed.
    run_help = subprocess.run(
        [str(venv / "bin" / "hpo-operator"), "run", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run_help.returncode == 0, run_help.stderr
    assert "--all-namespaces" in run_help.stdout

    check = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr

    frozen = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    locked = _lock_pins()
    installed = dict(
        line.split("==", 1) for line in frozen.splitlines() if "==" in line and "@" not in line
    )
    for name, pin in installed.items():
        key = _normalize(name)
        if key in locked:
            assert pin == locked[key], f"{name} {pin} is not the locked {locked[key]}"
    assert "pytest" not in {_normalize(n) for n in installed}, "dev extras leaked into the image"

    package = next((venv / "lib").glob("python3*/site-packages/hpo_operator"))
    sources = sorted(package.rglob("*.py"))
    assert sources
    for source in sources:
        cached = list((source.parent / "__pycache__").glob(f"{source.stem}.*.pyc"))
        assert cached, f"{source} was not compiled at install time"


@pytest.mark.slow
def test_image_carries_neither_the_emulator_nor_the_dev_tooling(installed: Path) -> None:
    """The image holds what the operator runs: its own package, nothing from emulator/ or
    devtools/ (separate distributions, docs/design.md); `hpo-operator emulator` says so."""
    site = next((installed / "lib").glob("python3*/site-packages"))
    ours = {_normalize(name) for name in ("sagemaker-hpo-operator", "hpo-operator-emulator",
                                          "hpo-operator-devtools")}  # fmt: skip
    listed = subprocess.run(
        [str(installed / "bin" / "python"), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    distributions = {_normalize(d["name"]) for d in json.loads(listed)}
    assert distributions & ours == {_normalize("sagemaker-hpo-operator")}
    assert sorted(p.name for p in site.glob("hpo_*")) == ["hpo_operator"]
    # Inside the package: exactly the layers of pyproject.toml's layer contract.
    package = site / "hpo_operator"
    found = {p.name for p in package.iterdir() if p.is_dir() and p.name != "__pycache__"}
    found |= {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    assert found == _contract_layers()
    missing = subprocess.run(
        [str(installed / "bin" / "hpo-operator"), "emulator", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        # as in the image: only the install's own site-packages, whatever this process's path
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1 and "hpo-operator-emulator" in missing.stderr


def _contract_layers() -> set[str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    (layers,) = [c["layers"] for c in data["tool"]["importlinter"]["contracts"] if "layers" in c]
    return {str(layer).removeprefix("hpo_operator.") for layer in layers}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (REPO / "requirements" / "lock.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            pins[_normalize(match.group(1))] = match.group(2)
    return pins


@pytest.mark.slow
@pytest.mark.e2e
def test_installed_operator_runs_from_a_read_only_install(
    installed: Path, kubeconfig: Path, kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    """The image's promise: with the install and Python read-only and only /tmp writable (the
    chart's emptyDir), the operator starts, gets ready and runs a job to Completed."""
    probe = tmp_path / "probe"
    probe.mkdir()
    private_mount = f"mount --bind {probe} {probe} && mount -o remount,ro,bind {probe} {probe}"
    if (
        shutil.which("unshare") is None
        or subprocess.run(
            ["unshare", "--mount", "sh", "-c", private_mount], capture_output=True, check=False
        ).returncode
    ):
        pytest.skip("cannot make a private read-only mount here (unshare needs CAP_SYS_ADMIN)")
    base = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import sys; print(sys.base_prefix)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    writable = tmp_path / "tmp"  # stands in for the emptyDir on /tmp
    writable.mkdir()
    kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
    kubectl("wait", "--for=condition=Established", "--timeout=60s",
            "crd/hyperparametertuningjobs.sagemaker.services.k8s.aws")  # fmt: skip
    env = {"PATH": f"{installed / 'bin'}:/usr/bin:/bin"}
    for text in stages()[-1].args("ENV"):
        for pair in shlex.split(text):
            key, _, value = pair.partition("=")
            if key != "PATH":
                env[key] = str(writable) if value == "/tmp" else value
    health_port = free_port()
    with run_in_thread(EmulatorConfig(training_seconds=1.0, stop_seconds=1.0, quotas={})) as em:
        env.update(
            KUBECONFIG=str(kubeconfig),
            AWS_ACCESS_KEY_ID="emulator",
            AWS_SECRET_ACCESS_KEY="emulator",
            AWS_EC2_METADATA_DISABLED="true",
            HPO_NAMESPACES=namespace,
            HPO_REGION="us-west-2",
            HPO_ENDPOINT_URL=em.url,
            HPO_POLL_INTERVAL="0.5",
            HPO_LOG_FORMAT="text",
            HPO_HEALTH_PORT=str(health_port),
            HPO_METRICS_PORT=str(free_port()),
        )
        read_only = [str(installed), base]
        script = " && ".join(
            [f"mount --bind {d} {d} && mount -o remount,ro,bind {d} {d}" for d in read_only]
            + [f"! touch {installed}/.probe 2>/dev/null", f"! touch {base}/.probe 2>/dev/null"]
            + ['exec "$0" run']
        )
        log_path = tmp_path / "operator.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                ["unshare", "--mount", "sh", "-c", script, str(installed / "bin" / "hpo-operator")],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:

            def ready() -> bool:
                if process.poll() is not None:
                    raise AssertionError(
                        f"operator exited {process.returncode} (1 with no output: a path stayed"
                        f" writable):\n{log_path.read_text()[-3000:]}"
                    )
                return http_status(f"http://127.0.0.1:{health_port}/readyz") == 200

            wait_for(ready, 90, "the operator's /readyz")
            manifest = sample_job(unique_name("ro", max_length=32))
            name = manifest["metadata"]["name"]
            kubectl.apply(manifest, "-n", namespace)

            def completed() -> bool:
                body = kubectl.json("get", "hyperparametertuningjobs", name, "-n", namespace)
                return (body.get("status") or {}).get("hyperParameterTuningJobStatus") == (
                    "Completed"
                )

            wait_for(completed, 120, f"{name} to complete")
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    text = log_path.read_text(errors="replace")
    assert "Read-only file system" not in text and "PermissionError" not in text, text[-3000:]
    assert not (installed / ".probe").exists()
