"""The container image without Docker: the Dockerfile's install steps, run in a clean venv.

Why: there is no Docker engine here, so the image is proven by running what its build stage runs
(hack/install-wheel.sh, on exactly the files the Dockerfile copies) and starting the entrypoint's
program from the result. The static checks pin what the runtime stage promises: non-root numeric
UID, read-only-friendly environment, the `hpo-operator run` entrypoint and OCI labels.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

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
    assert runtime.args("ARG") == [f"VERSION={pyproject_version()}"], "keep it = pyproject's"


def test_dockerignore_admits_every_copied_path() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    admitted = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    for text in stages()[0].args("COPY"):
        *sources, _ = shlex.split(text)
        for source in sources:
            assert source.rstrip("/") in admitted, f"{source} is excluded by .dockerignore"


@pytest.mark.slow
def test_install_steps_in_a_clean_venv(tmp_path: Path) -> None:
    """Copy what the build stage copies, run its RUN step, then start the installed program."""
    context = tmp_path / "src"
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
    venv = tmp_path / "venv"
    (command,) = stages()[0].args("RUN")
    argv = shlex.split(
        command.replace("/src", str(context)).replace("/opt/hpo-operator", str(venv))
    )
    install = subprocess.run(
        argv, cwd=context, capture_output=True, text=True, timeout=900, check=False
    )
    assert install.returncode == 0, install.stderr[-4000:]

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


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (REPO / "requirements" / "lock.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            pins[_normalize(match.group(1))] = match.group(2)
    return pins
