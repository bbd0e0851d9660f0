"""Running the built image the way the chart's Deployment runs it, with Docker standing in for a
kubelet: `docker run` flags derived from the rendered pod spec, never written by hand.

Why derive them: a hand-copied `--user 65532 --read-only` stays green when the chart changes. Here
every security setting, env var, port, volume and the grace period come from `helm template`
output; a pod-spec field this translation does not know fails the test, so the chart cannot gain
a setting the container tier silently ignores.

What a kubelet adds is given as a kubelet gives it: the ServiceAccount's token, CA and namespace
mounted read-only at the in-cluster path, `KUBERNETES_SERVICE_HOST`/`_PORT` naming the API server,
`fsGroup` as a supplementary group, the pod's name as host name, emptyDir volumes (as tmpfs, with
their size limit). Containers use the host's network (no traffic leaves loopback here).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hpo_devtools.operator import http_status
from ship.chart import REPO, memory_bytes

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_GRACE_SECONDS = 30  # the pod spec's default terminationGracePeriodSeconds

# The pod and container fields translated below; any other set field fails the derivation.
POD_FIELDS = {
    "serviceAccountName", "automountServiceAccountToken", "securityContext", "containers",
    "volumes", "terminationGracePeriodSeconds",
}  # fmt: skip
POD_SECURITY = {"runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup", "seccompProfile"}
CONTAINER_FIELDS = {
    "name", "image", "imagePullPolicy", "env", "ports", "livenessProbe", "readinessProbe",
    "securityContext", "resources", "volumeMounts", "args", "command",
}  # fmt: skip
CONTAINER_SECURITY = {
    "allowPrivilegeEscalation", "readOnlyRootFilesystem", "runAsNonRoot", "runAsUser",
    "runAsGroup", "capabilities", "seccompProfile", "privileged",
}  # fmt: skip


class DockerError(AssertionError):
    """docker failed; the message has the command and its stderr."""


def docker(
    *args: str, check: bool = True, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=False, timeout=timeout
    )
    if check and result.returncode != 0:
        raise DockerError(f"docker {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


def start_engine() -> str | None:
    """Start a Docker engine unless one answers (hack/docker-up.sh); None, or why it cannot."""
    result = subprocess.run(
        [str(REPO / "hack" / "docker-up.sh")], capture_output=True, text=True, check=False
    )
    return None if result.returncode == 0 else result.stderr.strip() or "docker-up.sh failed"


def build_image(tag: str) -> None:
    """`make image` (the unchanged Dockerfile) on a base image made by hack/base-image.sh."""
    base = subprocess.run(
        [str(REPO / "hack" / "base-image.sh")], capture_output=True, text=True, check=False,
        timeout=1800,
    )  # fmt: skip
    if base.returncode != 0:
        raise DockerError(f"hack/base-image.sh failed:\n{base.stderr}")
    made = subprocess.run(
        ["make", "-C", str(REPO), "image", f"IMAGE={tag}", f"PYTHON_IMAGE={base.stdout.strip()}"],
        capture_output=True, text=True, check=False, timeout=1800,
    )  # fmt: skip
    if made.returncode != 0:
        raise DockerError(f"make image failed:\n{made.stdout[-3000:]}\n{made.stderr[-3000:]}")


@dataclass(frozen=True)
class Probe:
    path: str
    port: int


@dataclass(frozen=True)
class PodRun:
    """One container of a rendered Deployment, as `docker run` arguments."""

    image: str
    flags: tuple[str, ...]
    args: tuple[str, ...]
    uid: int
    gid: int
    supplementary: tuple[int, ...]
    grace_seconds: int
    read_only_root: bool
    probes: Mapping[str, Probe] = field(default_factory=dict)
    memory_limit: str | None = None


def _unknown(where: str, obj: Mapping[str, Any], known: set[str]) -> None:
    extra = sorted(k for k, v in obj.items() if v not in (None, [], {}) and k not in known)
    assert not extra, f"{where} sets {extra}: teach tests/ship/container.py what a kubelet does"


def _memory(quantity: str) -> str:
    """A Kubernetes memory quantity (`384Mi`) as Docker's `--memory` (bytes)."""
    return str(memory_bytes(quantity))


def pod_run(
    deployment: Mapping[str, Any],
    *,
    container: str,
    hostname: str,
    service_account: Path,
    api_server: tuple[str, int],
    uid: int | None = None,
) -> PodRun:
    """`docker run` for `container` of `deployment` as a kubelet would start it.

    `service_account` is a folder holding `token`, `ca.crt` and `namespace`. `uid` replaces the
    spec's user (OpenShift's restricted policy picks one: then the group is 0 and the UID is also
    added as a group, as that policy does).
    """
    pod = deployment["spec"]["template"]["spec"]
    _unknown("the pod spec", pod, POD_FIELDS)
    (spec,) = [c for c in pod["containers"] if c["name"] == container]
    _unknown(f"container {container}", spec, CONTAINER_FIELDS)
    pod_sec = pod.get("securityContext") or {}
    sec = spec.get("securityContext") or {}
    _unknown("the pod securityContext", pod_sec, POD_SECURITY)
    _unknown(f"container {container}'s securityContext", sec, CONTAINER_SECURITY)

    def setting(key: str) -> Any:
        return sec.get(key, pod_sec.get(key))

    run_uid, run_gid = setting("runAsUser"), setting("runAsGroup")
    groups = [pod_sec["fsGroup"]] if "fsGroup" in pod_sec else []
    if uid is not None:
        run_uid, run_gid, groups = uid, 0, [uid]
    assert run_uid is not None and run_gid is not None, "the chart must pin the user and group"
    if setting("runAsNonRoot"):
        assert run_uid != 0, "runAsNonRoot with UID 0: the kubelet would refuse to start it"
    flags = ["--network=host", f"--hostname={hostname}", f"--user={run_uid}:{run_gid}"]
    flags += [f"--group-add={g}" for g in groups]
    if sec.get("readOnlyRootFilesystem"):
        flags.append("--read-only")
    assert not sec.get("privileged"), "privileged container"
    if sec.get("allowPrivilegeEscalation") is False:
        flags.append("--security-opt=no-new-privileges")
    caps = sec.get("capabilities") or {}
    flags += [f"--cap-drop={c}" for c in caps.get("drop", [])]
    flags += [f"--cap-add={c}" for c in caps.get("add", [])]
    for profile in (pod_sec.get("seccompProfile"), sec.get("seccompProfile")):
        # RuntimeDefault is the engine's default profile: Docker applies it unless told otherwise.
        assert profile in (None, {"type": "RuntimeDefault"}), f"seccomp profile {profile}"

    env = {"KUBERNETES_SERVICE_HOST": api_server[0], "KUBERNETES_SERVICE_PORT": str(api_server[1])}
    for item in spec.get("env", []):
        source = item.get("valueFrom")
        if source is not None:
            # The pod's IP: with the host's network the probes below dial loopback.
            assert source == {"fieldRef": {"fieldPath": "status.podIP"}}, (
                f"env {item['name']} uses valueFrom {source}: translate it here"
            )
            env[item["name"]] = "127.0.0.1"
            continue
        # $(NAME) of an earlier variable is expanded, as the kubelet does.
        value = re.sub(
            r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
            lambda m: env.get(m.group(1), m.group(0)),
            item.get("value", ""),
        )
        env[item["name"]] = value
    for name, value in env.items():
        flags.append(f"--env={name}={value}")

    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in spec.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        assert set(volume) == {"name", "emptyDir"}, f"volume {volume}: only emptyDir is translated"
        size = (volume["emptyDir"] or {}).get("sizeLimit")
        options = ["rw", "mode=1777"] + ([f"size={_memory(size)}"] if size else [])
        flags.append(f"--tmpfs={mount['mountPath']}:{','.join(options)}")
    if pod.get("automountServiceAccountToken", True):
        flags.append(f"--volume={service_account}:{SERVICE_ACCOUNT_DIR}:ro")

    limit = ((spec.get("resources") or {}).get("limits") or {}).get("memory")
    if limit:
        flags.append(f"--memory={_memory(limit)}")
    if spec.get("command"):
        flags.append(f"--entrypoint={spec['command'][0]}")
    args = [*spec.get("command", [])[1:], *spec.get("args", [])]

    ports = {p["name"]: int(p["containerPort"]) for p in spec.get("ports", [])}
    probes = {}
    for kind in ("livenessProbe", "readinessProbe"):
        http = (spec.get(kind) or {}).get("httpGet")
        if http:
            port = http["port"]
            probes[kind] = Probe(http["path"], ports[port] if isinstance(port, str) else int(port))
    return PodRun(
        image=spec["image"],
        flags=tuple(flags),
        args=tuple(args),
        uid=int(run_uid),
        gid=int(run_gid),
        supplementary=tuple(int(g) for g in groups),
        grace_seconds=int(pod.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)),
        read_only_root=bool(sec.get("readOnlyRootFilesystem")),
        probes=probes,
        memory_limit=limit,
    )


def service_account_files(kubeconfig: Path, token: str, namespace: str, folder: Path) -> Path:
    """What the kubelet mounts for a pod's ServiceAccount: `token`, `ca.crt`, `namespace`."""
    config = yaml.safe_load(kubeconfig.read_text())
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    cluster = next(c for c in config["clusters"] if c["name"] == context["context"]["cluster"])
    data = cluster["cluster"].get("certificate-authority-data")
    if data:
        ca = base64.b64decode(data)
    else:
        ca = Path(cluster["cluster"]["certificate-authority"]).read_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    for name, content in (
        ("token", token.encode()),
        ("ca.crt", ca),
        ("namespace", namespace.encode()),
    ):
        path = folder / name
        path.write_bytes(content)
        path.chmod(0o644)
    return folder


def api_server_address(kubeconfig: Path) -> tuple[str, int]:
    """The API server's host and port from the kubeconfig's current cluster."""
    config = yaml.safe_load(kubeconfig.read_text())
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    cluster = next(c for c in config["clusters"] if c["name"] == context["context"]["cluster"])
    match = re.fullmatch(r"https://([^:/]+):(\d+)/?", cluster["cluster"]["server"])
    assert match, cluster["cluster"]["server"]
    return match[1], int(match[2])


@dataclass
class Container:
    """A running container started from a PodRun."""

    run: PodRun
    id: str

    @classmethod
    def start(cls, run: PodRun, name: str) -> Container:
        result = docker("run", "--detach", f"--name={name}", *run.flags, run.image, *run.args)
        return cls(run, result.stdout.strip())

    def state(self) -> dict[str, Any]:
        inspected = json.loads(docker("inspect", self.id).stdout)
        state: dict[str, Any] = inspected[0]["State"]
        return state

    def logs(self) -> str:
        result = docker("logs", self.id, check=False)
        return result.stdout + result.stderr

    def probe(self, kind: str) -> int | None:
        """The HTTP status of a probe, as the kubelet would get it (None: no answer)."""
        probe = self.run.probes[kind]
        return http_status(f"http://127.0.0.1:{probe.port}{probe.path}")

    def exec(self, *argv: str) -> str:
        return docker("exec", self.id, *argv).stdout

    def changes(self) -> list[str]:
        """`docker diff`: paths added, changed or deleted in the root filesystem, less the mount
        points the engine itself makes for the volumes (and their parent folders)."""
        mounts = [m.split(":")[1] for m in flags_value(self.run.flags, "volume")]
        mounts += [m.split(":")[0] for m in flags_value(self.run.flags, "tmpfs")]
        # /var/run is a link to /run in Debian-based images: the engine reports the real path.
        mounts += [m.replace("/var/run/", "/run/", 1) for m in mounts if m.startswith("/var/run/")]
        made = {str(p) for m in mounts for p in (Path(m), *Path(m).parents)}
        lines = docker("diff", self.id).stdout.splitlines()
        return [line for line in lines if line.strip() and line.split(" ", 1)[1] not in made]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after the pod's grace period: what the kubelet does."""
        docker(
            "stop", f"--time={self.run.grace_seconds}", self.id, timeout=self.run.grace_seconds + 60
        )

    def remove(self) -> None:
        docker("rm", "--force", self.id, check=False)


def engine_unavailable_reason() -> str | None:
    """Why no Docker engine can be used here, or None. CI must have one (the test fails there)."""
    if not any((Path(p) / "docker").exists() for p in os.environ.get("PATH", "").split(":")):
        return "no docker CLI on PATH"
    return start_engine()


def flags_value(flags: Sequence[str], name: str) -> list[str]:
    """The values given to `--name=` in `flags`."""
    return [f.split("=", 1)[1] for f in flags if f.startswith(f"--{name}=")]
