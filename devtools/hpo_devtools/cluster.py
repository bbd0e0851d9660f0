"""A local etcd + kube-apiserver: the real Kubernetes API for tests, `make cluster-up` and the demo.

Why: the operator's tests must meet a real API server (structural schemas and pruning, the status
subresource, watches, finalizers, RBAC, TokenRequest), never a mock. This is envtest's idea in
Python: two binaries from `$KUBEBUILDER_ASSETS` on free loopback ports, certificates made with the
`openssl` CLI, an admin client certificate in `system:masters`, and a kubeconfig.

There is no kube-controller-manager, scheduler or kubelet, so: deleted namespaces stay Terminating,
owner references are not garbage-collected, no pod runs and no `default` ServiceAccount appears.
`serve_pods=True` prepares the API server for a node (`hpo_devtools.node`, which adds those):
it listens on `address` (a veth the node reaches) instead of loopback, publishes itself as the
`kubernetes` Service's endpoint, admits pods with ServiceAccount tokens, and its certificate names
the Service's ClusterIP and DNS names, so pods reach it the in-cluster way.

In-process (pytest):

    with DevCluster.temporary() as cluster:
        use(cluster.kubeconfig)

CLI (`make cluster-up` / `make cluster-down`):

    python -m hpo_devtools.cluster up --dir DIR    # prints DIR/kubeconfig
    python -m hpo_devtools.cluster down --dir DIR  # idempotent
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from hpo_devtools import process as devprocess

__all__ = ["Binaries", "DevCluster", "DevClusterError", "main"]

LOOPBACK = "127.0.0.1"
SERVICE_CIDR = "10.0.0.0/24"
KUBERNETES_SERVICE_IP = "10.0.0.1"  # the first address of SERVICE_CIDR
KUBERNETES_SERVICE_NAMES = (
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
CONTEXT_NAME = "hpo-devcluster"

# Admission plugins that only act on pods, nodes, volumes and quotas. No pod runs here (no kubelet,
# no controller manager), and the ServiceAccount plugin would reject every pod because nothing
# creates the `default` ServiceAccount. ServiceAccount tokens, TokenRequest and RBAC do not depend
# on any of these. PodSecurity stays on: the chart's pod is checked against "restricted".
DISABLED_ADMISSION_PLUGINS = (
    "ServiceAccount",
    "TaintNodesByCondition",
    "Priority",
    "DefaultTolerationSeconds",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "PersistentVolumeClaimResize",
    "RuntimeClass",
    "DefaultIngressClass",
    "LimitRanger",
    "ResourceQuota",
)

# Files and folders this module creates inside its directory; `stop` removes exactly these.
_STATE = "state.json"
_KUBECONFIG = "kubeconfig"
_CERTS = "certs"
_ETCD_DATA = "etcd-data"
_LOGS = ("etcd.log", "kube-apiserver.log")
_OWNED = (_STATE, _KUBECONFIG, _CERTS, _ETCD_DATA, *_LOGS)

_PORT_IN_USE = "address already in use"

# With a node (`serve_pods=True`) the ServiceAccount plugin is on: it mounts the projected token.
_POD_ADMISSION_PLUGINS = ("ServiceAccount",)


class DevClusterError(RuntimeError):
    """The local cluster could not start or stop; the message carries the relevant log tail."""


class _PortTaken(DevClusterError):
    """A free port was taken by someone else between choosing it and binding it: retry."""


@dataclass(frozen=True)
class Binaries:
    """Paths of the two server binaries."""

    etcd: Path
    kube_apiserver: Path

    @classmethod
    def from_assets(cls, assets: str | os.PathLike[str] | None = None) -> Binaries:
        """Find etcd and kube-apiserver in `assets`, else in `$KUBEBUILDER_ASSETS`.

        Why a clear error: a missing binary otherwise surfaces as an obscure FileNotFoundError in
        the middle of a test session.
        """
        folder = assets if assets is not None else os.environ.get("KUBEBUILDER_ASSETS")
        if not folder:
            raise DevClusterError(
                "KUBEBUILDER_ASSETS is not set: run `make tools` (or `hack/build-tools.sh "
                "--print-env`) and export the folder that holds etcd and kube-apiserver"
            )
        root = Path(folder)
        found = cls(etcd=root / "etcd", kube_apiserver=root / "kube-apiserver")
        for path in (found.etcd, found.kube_apiserver):
            if not (path.is_file() and os.access(path, os.X_OK)):
                raise DevClusterError(f"{path} is missing or not executable")
        return found


@dataclass(frozen=True)
class _Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int


class DevCluster:
    """etcd + kube-apiserver in `directory`, started by `start()` and removed by `stop()`.

    `detached=True` is for the CLI: the servers get their own session, outlive this Python process
    and are found again through `state.json`. Otherwise the servers are killed if this process dies
    (Linux parent-death signal), so a killed test run leaves nothing behind.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        binaries: Binaries | None = None,
        start_timeout: float = 120.0,
        stop_timeout: float = 15.0,
        detached: bool = False,
        remove_directory: bool = False,
        address: str = LOOPBACK,
        serve_pods: bool = False,
    ) -> None:
        self.directory = Path(directory).resolve()
        self.address = address
        self.serve_pods = serve_pods
        self._binaries = binaries
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.detached = detached
        self._remove_directory = remove_directory
        self._processes: list[devprocess.Process] = []
        self._server: str | None = None
        self.start_seconds: float | None = None
        self._apiserver_argv: list[str] | None = None  # kept by stop_apiserver()

    @classmethod
    def temporary(
        cls,
        *,
        binaries: Binaries | None = None,
        start_timeout: float = 120.0,
        address: str = LOOPBACK,
        serve_pods: bool = False,
    ) -> Self:
        """A cluster in a fresh temporary directory that `stop()` deletes entirely."""
        directory = tempfile.mkdtemp(prefix="hpo-devcluster-")
        return cls(
            directory,
            binaries=binaries,
            start_timeout=start_timeout,
            remove_directory=True,
            address=address,
            serve_pods=serve_pods,
        )

    # -- public surface -------------------------------------------------------------------------

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (client certificate in `system:masters`, all data inline)."""
        return self.directory / _KUBECONFIG

    @property
    def server(self) -> str:
        """The API server's URL, e.g. `https://127.0.0.1:41234`."""
        if self._server is None:
            raise DevClusterError("the cluster is not started")
        return self._server

    @property
    def certs_dir(self) -> Path:
        """The CA (`ca.crt`), admin client pair (`admin.*`) and ServiceAccount keys (`sa.*`)."""
        return self.directory / _CERTS

    @property
    def pids(self) -> dict[str, int]:
        """Process ids by server name, as written to `state.json`."""
        return {p.name: p.pid for p in self._processes}

    def start(self) -> None:
        """Start etcd, then kube-apiserver, and return once `/readyz` answers 200.

        Raises DevClusterError with the failing server's log tail; nothing is left running then.
        """
        if self._processes:
            raise DevClusterError(f"the cluster in {self.directory} is already started")
        binaries = self._binaries or Binaries.from_assets()
        began = time.monotonic()
        deadline = began + self.start_timeout
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            sans = [f"IP:{self.address}", f"IP:{LOOPBACK}", "DNS:localhost"]
            if self.serve_pods:
                sans += [f"IP:{KUBERNETES_SERVICE_IP}"]
                sans += [f"DNS:{name}" for name in KUBERNETES_SERVICE_NAMES]
            certs = _make_certs(self.directory / _CERTS, sorted(set(sans)))
            for attempt in range(3):
                try:
                    self._start_once(binaries, certs, _free_ports(self.address), deadline)
                    break
                except _PortTaken:
                    self._terminate_all()
                    if attempt == 2:
                        raise
        except BaseException:
            self._terminate_all()
            self._remove_owned(keep_logs=not self._remove_directory)  # the error has the tail
            if self._remove_directory:
                shutil.rmtree(self.directory, ignore_errors=True)
            raise
        self.start_seconds = time.monotonic() - began

    def stop(self) -> None:
        """Stop both servers (SIGTERM, then SIGKILL after `stop_timeout`) and remove their files.

        Idempotent: stopping a stopped cluster, or a directory without a cluster, does nothing.
        """
        if not self._processes:
            self._processes = _read_state(self.directory)
        self._terminate_all()
        self._remove_owned(keep_logs=False)
        self._server = None
        if self._remove_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def is_running(self) -> bool:
        """True when every server recorded in `state.json` is alive and `/readyz` answers 200."""
        processes = self._processes or _read_state(self.directory)
        if {p.name for p in processes} != {"etcd", "kube-apiserver"}:
            return False
        if not all(devprocess.alive(p) for p in processes):
            return False
        try:
            server = str(json.loads((self.directory / _STATE).read_text())["server"])
            context = _tls_context(self.directory / _CERTS)
        except (OSError, ValueError, KeyError):
            return False
        return _readyz(server, context, timeout=2.0)

    def stop_apiserver(self) -> None:
        """Stop only kube-apiserver (SIGTERM); etcd and its data stay. For the fault suite.

        `start_apiserver()` brings it back with the same flags on the same port, so clients
        (and their kubeconfigs) reconnect to the same URL and find the same objects.
        """
        process = next((p for p in self._processes if p.name == "kube-apiserver"), None)
        if process is None:
            raise DevClusterError("kube-apiserver is not running under this DevCluster")
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        self._apiserver_argv = [arg.decode() for arg in cmdline.split(b"\0") if arg]
        devprocess.terminate(process, self.stop_timeout, DevClusterError)
        self._processes.remove(process)

    def start_apiserver(self, timeout: float = 120.0) -> None:
        """Start kube-apiserver again after `stop_apiserver()`; returns once `/readyz` is 200."""
        argv = self._apiserver_argv
        if argv is None:
            raise DevClusterError("start_apiserver() needs a stop_apiserver() first")
        previous = self.directory / "kube-apiserver.log"
        if previous.exists():  # keep the log of the first run next to the new one
            previous.replace(self.directory / "kube-apiserver.previous.log")
        process = self._spawn("kube-apiserver", argv)
        context = _tls_context(self.directory / _CERTS)
        _wait_until(
            lambda: _readyz(self.server, context, timeout=5.0),
            process,
            time.monotonic() + timeout,
            what=f"kube-apiserver at {self.server}/readyz",
        )
        state = json.loads((self.directory / _STATE).read_text())
        state["pids"] = self.pids
        _write_json(self.directory / _STATE, state)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- starting -------------------------------------------------------------------------------

    def _start_once(
        self, binaries: Binaries, certs: _Certs, ports: _Ports, deadline: float
    ) -> None:
        etcd_url = f"http://{LOOPBACK}:{ports.etcd_client}"
        peer_url = f"http://{LOOPBACK}:{ports.etcd_peer}"
        data = self.directory / _ETCD_DATA
        shutil.rmtree(data, ignore_errors=True)
        etcd = self._spawn(
            "etcd",
            [
                str(binaries.etcd),
                "--name=default",
                f"--data-dir={data}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        _wait_until(
            lambda: _etcd_healthy(etcd_url), etcd, deadline, what=f"etcd at {etcd_url}/health"
        )

        self._server = f"https://{self.address}:{ports.apiserver}"
        if self.serve_pods:
            disabled = [p for p in DISABLED_ADMISSION_PLUGINS if p not in _POD_ADMISSION_PLUGINS]
            node_flags = [
                # The `kubernetes` Service's endpoint is this address, kept by the lease
                # reconciler; the API server dials kubelets by their InternalIP with the admin
                # certificate (kubectl logs, exec).
                "--endpoint-reconciler-type=lease",
                f"--kubelet-client-certificate={certs.admin_cert}",
                f"--kubelet-client-key={certs.admin_key}",
                "--kubelet-preferred-address-types=InternalIP",
            ]
        else:
            disabled = list(DISABLED_ADMISSION_PLUGINS)
            node_flags = ["--endpoint-reconciler-type=none"]  # loopback cannot be an endpoint
        apiserver = self._spawn(
            "kube-apiserver",
            [
                str(binaries.kube_apiserver),
                f"--etcd-servers={etcd_url}",
                f"--bind-address={self.address}",
                f"--advertise-address={self.address}",
                f"--secure-port={ports.apiserver}",
                f"--cert-dir={certs.root}",
                f"--tls-cert-file={certs.serving_cert}",
                f"--tls-private-key-file={certs.serving_key}",
                f"--client-ca-file={certs.ca_cert}",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={certs.sa_public}",
                f"--service-account-signing-key-file={certs.sa_key}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--allow-privileged=true",
                f"--disable-admission-plugins={','.join(disabled)}",
                *node_flags,
                "--profiling=false",
            ],
        )
        context = _tls_context(certs.root)
        _wait_until(
            lambda: _readyz(self.server, context, timeout=5.0),
            apiserver,
            deadline,
            what=f"kube-apiserver at {self.server}/readyz",
        )
        _write_kubeconfig(self.kubeconfig, self.server, certs)
        _write_json(
            self.directory / _STATE,
            {
                "server": self.server,
                "kubeconfig": str(self.kubeconfig),
                "pids": self.pids,
                "ports": {
                    "etcd_client": ports.etcd_client,
                    "etcd_peer": ports.etcd_peer,
                    "apiserver": ports.apiserver,
                },
            },
        )

    def _spawn(self, name: str, argv: list[str]) -> devprocess.Process:
        process = devprocess.spawn(self.directory, name, argv, detached=self.detached)
        self._processes.append(process)
        return process

    # -- stopping -------------------------------------------------------------------------------

    def _terminate_all(self) -> None:
        # The API server first, so that it does not log a storm of etcd connection errors.
        for process in reversed(self._processes):
            devprocess.terminate(process, self.stop_timeout, DevClusterError)
        self._processes = []

    def _remove_owned(self, *, keep_logs: bool) -> None:
        for name in _OWNED:
            if keep_logs and name in _LOGS:
                continue
            path = self.directory / name
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty (logs kept, or the user's files): keep it
            self.directory.rmdir()


# -- certificates -------------------------------------------------------------------------------


class _Certs:
    """The file names of the cluster's keys and certificates under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ca_cert, self.ca_key = root / "ca.crt", root / "ca.key"
        self.serving_cert, self.serving_key = root / "apiserver.crt", root / "apiserver.key"
        self.admin_cert, self.admin_key = root / "admin.crt", root / "admin.key"
        self.sa_key, self.sa_public = root / "sa.key", root / "sa.pub"


_REQ_CONFIG = "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n"
_SERVING_EXT = (
    "basicConstraints = critical, CA:FALSE\n"
    "keyUsage = critical, digitalSignature, keyEncipherment\n"
    "extendedKeyUsage = serverAuth\n"
    "subjectAltName = {sans}\n"
)
_CLIENT_EXT = (
    "basicConstraints = critical, CA:FALSE\n"
    "keyUsage = critical, digitalSignature, keyEncipherment\n"
    "extendedKeyUsage = clientAuth\n"
)


def _make_certs(root: Path, sans: Sequence[str] = (f"IP:{LOOPBACK}", "DNS:localhost")) -> _Certs:
    """A throwaway CA, the serving certificate, the admin client certificate and the SA key.

    P-256 keys: RSA key generation would cost seconds on a busy machine, for nothing.
    """
    certs = _Certs(root)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    config = root / "req.cnf"
    config.write_text(_REQ_CONFIG)
    for key in (certs.ca_key, certs.serving_key, certs.admin_key, certs.sa_key):
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
    _openssl("pkey", "-in", certs.sa_key, "-pubout", "-out", certs.sa_public)
    _openssl(
        "req", "-x509", "-new", "-config", config, "-key", certs.ca_key, "-days", "3650",
        "-subj", "/CN=hpo-devcluster-ca",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-out", certs.ca_cert,
    )  # fmt: skip
    serving_ext = _SERVING_EXT.format(sans=", ".join(sans))
    _sign(certs, config, certs.serving_key, "/CN=kube-apiserver", serving_ext, certs.serving_cert)
    _sign(certs, config, certs.admin_key, "/O=system:masters/CN=hpo-admin", _CLIENT_EXT,
          certs.admin_cert)  # fmt: skip
    return certs


def _sign(certs: _Certs, config: Path, key: Path, subject: str, ext: str, out: Path) -> None:
    csr = out.with_suffix(".csr")
    extfile = out.with_suffix(".ext")
    extfile.write_text(ext)
    _openssl("req", "-new", "-config", config, "-key", key, "-subj", subject, "-out", csr)
    _openssl(
        "x509", "-req", "-in", csr, "-CA", certs.ca_cert, "-CAkey", certs.ca_key,
        "-set_serial", f"0x{secrets.token_hex(16)}", "-days", "3650", "-extfile", extfile,
        "-out", out,
    )  # fmt: skip
    csr.unlink()
    extfile.unlink()


def _openssl(*args: str | Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise DevClusterError("the openssl command is needed to make the cluster's certificates")
    result = subprocess.run(
        [openssl, *map(str, args)], capture_output=True, text=True, check=False, timeout=60
    )
    if result.returncode != 0:
        raise DevClusterError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def _tls_context(certs_root: Path) -> ssl.SSLContext:
    certs = _Certs(certs_root)
    context = ssl.create_default_context(cafile=str(certs.ca_cert))
    context.load_cert_chain(str(certs.admin_cert), str(certs.admin_key))
    return context


def _write_kubeconfig(path: Path, server: str, certs: _Certs) -> None:
    """A self-contained kubeconfig (JSON is YAML): certificates inline, so it can be copied."""

    def data(file: Path) -> str:
        return base64.b64encode(file.read_bytes()).decode("ascii")

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CONTEXT_NAME,
                "cluster": {"server": server, "certificate-authority-data": data(certs.ca_cert)},
            }
        ],
        "users": [
            {
                "name": "hpo-admin",
                "user": {
                    "client-certificate-data": data(certs.admin_cert),
                    "client-key-data": data(certs.admin_key),
                },
            }
        ],
        "contexts": [
            {"name": CONTEXT_NAME, "context": {"cluster": CONTEXT_NAME, "user": "hpo-admin"}}
        ],
        "current-context": CONTEXT_NAME,
        "preferences": {},
    }
    _write_json(path, config)
    os.chmod(path, 0o600)


def _write_json(path: Path, value: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    tmp.replace(path)


# -- processes ----------------------------------------------------------------------------------


def _free_ports(address: str = LOOPBACK) -> _Ports:
    """Three distinct free ports, held open together so they cannot repeat.

    etcd's two stay on loopback; the API server's is free on `address`, where it listens.
    """
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for host in (LOOPBACK, LOOPBACK, address):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(int(sock.getsockname()[1]))
    return _Ports(etcd_client=ports[0], etcd_peer=ports[1], apiserver=ports[2])


def _read_state(directory: Path) -> list[devprocess.Process]:
    """The processes `up` recorded, keeping only pids that still run one of our servers.

    Why the command-line check: after a reboot a recorded pid may belong to someone else.
    """
    try:
        state = json.loads((directory / _STATE).read_text())
    except (OSError, ValueError):
        return []
    processes = []
    for name, pid in dict(state.get("pids", {})).items():
        try:
            cmdline = Path(f"/proc/{int(pid)}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(directory) in cmdline:
            processes.append(
                devprocess.Process(name=str(name), pid=int(pid), log=directory / f"{name}.log")
            )
    return processes


def _wait_until(
    condition: Callable[[], bool], process: devprocess.Process, deadline: float, what: str
) -> None:
    """Wait for `condition`; fail fast with the log tail if the process exits or time runs out."""
    failure = devprocess.wait_for(condition, process, deadline)
    if failure is None:
        return
    tail = devprocess.tail(process.log)
    if _PORT_IN_USE in tail.lower():
        raise _PortTaken(f"{process.name}: a port was taken meanwhile:\n{tail}")
    raise DevClusterError(
        f"{failure} before {what} was ready; last lines of {process.log}:\n{tail}"
    )


def _open(url: str, timeout: float, context: ssl.SSLContext | None = None) -> Any:
    """GET `url` directly: an HTTP(S)_PROXY in the environment must not see loopback traffic."""
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    return urllib.request.build_opener(*handlers).open(url, timeout=timeout)


def _etcd_healthy(url: str) -> bool:
    try:
        with _open(f"{url}/health", timeout=2.0) as response:
            healthy = response.status == 200 and json.loads(response.read()).get("health")
            return bool(healthy == "true")
    except (OSError, http.client.HTTPException, ValueError):
        return False


def _readyz(server: str, context: ssl.SSLContext, timeout: float) -> bool:
    try:
        with _open(f"{server}/readyz", timeout, context) as r:
            return bool(r.status == 200)
    except (OSError, http.client.HTTPException):
        return False


# -- CLI ----------------------------------------------------------------------------------------


def _up(directory: Path, timeout: float) -> int:
    cluster = DevCluster(directory, detached=True, start_timeout=timeout)
    if cluster.is_running():
        print(cluster.kubeconfig)
        return 0
    cluster.stop()  # leftovers of a crashed or half-stopped cluster
    try:
        cluster.start()
    except DevClusterError as error:
        print(f"devcluster: {error}", file=sys.stderr)
        return 1
    print(
        f"devcluster: API server {cluster.server} ready in {cluster.start_seconds:.1f}s",
        file=sys.stderr,
    )
    print(cluster.kubeconfig)
    return 0


def _down(directory: Path) -> int:
    try:
        DevCluster(directory, detached=True).stop()
    except DevClusterError as error:
        print(f"devcluster: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`up --dir DIR`: start detached servers, print the kubeconfig. `down --dir DIR`: end them."""
    parser = argparse.ArgumentParser(
        prog="python -m hpo_devtools.cluster",
        description="A local etcd + kube-apiserver (binaries from $KUBEBUILDER_ASSETS).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start detached servers; print the kubeconfig path")
    up.add_argument("--dir", required=True, type=Path, help="state, logs and kubeconfig")
    up.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for /readyz")
    down = sub.add_parser("down", help="stop the servers and remove their files (idempotent)")
    down.add_argument("--dir", required=True, type=Path)
    args = parser.parse_args(argv)
    directory = Path(args.dir).resolve()
    if args.command == "up":
        return _up(directory, float(args.timeout))
    return _down(directory)


if __name__ == "__main__":
    sys.exit(main())
