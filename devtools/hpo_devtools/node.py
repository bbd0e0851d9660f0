"""A local Kubernetes node that runs pods: the node tier of the tests, and `make node-up`.

Why: the chart's Deployment is only proven when a kubelet runs it: probes, the projected
ServiceAccount token, the in-cluster route to the API server through the `kubernetes` Service
(kube-proxy), the `/tmp` emptyDir, `fsGroup` and the Recreate strategy. This module adds to a
`DevCluster` what a real cluster has around its API server:

- kube-controller-manager and kube-scheduler (ServiceAccounts, `kube-root-ca.crt`, ReplicaSets,
  garbage collection, scheduling), on the host, talking to the API server like any client;
- a cluster DNS for Services (`hpo_devtools.dns`) behind a `kube-dns` Service, as kubeadm's;
- containerd (CRI, runc, the CNI bridge plugin), kubelet and kube-proxy (iptables mode), all inside
  one network namespace and one private mount namespace made here.

Isolation, so the host is left as it was:
- Network: a namespace joined to the host by one veth pair on a /30 of 10.250.0.0/16. The API
  server (and any server a pod must reach, e.g. the SageMaker emulator) listens on the veth's host
  address. The namespace has no default route, so nothing a pod sends can leave the machine; the
  CNI bridge, its masquerade rule and kube-proxy's rules live only in the namespace.
- Mounts: the node's daemons share a private mount namespace, so overlay, tmpfs and netns mounts
  never appear on the host. In it, the kernel tunables the kubelet insists on (vm.overcommit_memory,
  kernel.panic, ...) are read-only files holding the values it wants, so it never writes the host's
  sysctls.
- Processes: stopping kills, by pid, the containers (found by their cgroups: they have mount
  namespaces of their own) and every process in the node's mount namespace (containerd, shims),
  then removes the containers' cgroups and the namespaces. A node whose owner was killed is swept
  by the next node's start (`sweep_stale_nodes`).
- Kernel: where the capability bounding set lacks CAP_SYS_RESOURCE (this project's CI VM),
  containerd runs with `restrict_oom_score_adj`, see `_containerd_config`.

Needs root, Linux, and on PATH: containerd, runc, ip, iptables, mount, unshare, nsenter, plus the
CNI plugins in /usr/lib/cni (Debian's containernetworking-plugins). The Kubernetes binaries come
from `hack/build-node.sh` (`$HPO_NODE_BIN`, the pause image `$HPO_PAUSE_IMAGE_TAR`) and
`hack/build-tools.sh` (`$KUBEBUILDER_ASSETS`).

In-process (pytest):

    with DevNode.temporary() as node:
        node.import_image(Path("operator.tar"))   # `docker save` output
        use(node.kubeconfig, node.host_address)

CLI (`make node-up` / `make node-down`):

    python -m hpo_devtools.node up --dir DIR    # prints DIR/cluster/kubeconfig
    python -m hpo_devtools.node down --dir DIR  # idempotent
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
import random
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from hpo_devtools import process as devprocess
from hpo_devtools.cluster import SERVICE_CIDR, Binaries, DevCluster, DevClusterError

__all__ = ["DevNode", "DevNodeError", "NodeBinaries", "NodeNetwork", "cannot_run_pods", "main"]

NODE_NAME = "hpo-node"
POD_CIDR = "10.244.0.0/24"
CLUSTER_DNS_IP = "10.0.0.10"  # in devcluster.SERVICE_CIDR
VETH_SUPERNET = ipaddress.IPv4Network("10.250.0.0/16")
PAUSE_IMAGE = "localhost/hpo-operator/pause:dev"
CNI_BIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin")
CRI_NAMESPACE = "k8s.io"  # containerd's namespace for CRI images and containers

# What kubelet's container manager wants these sysctls to be (kubelet/cm setupKernelTunables);
# it writes them when they differ unless protectKernelDefaults is on, and then it refuses to start.
KUBELET_SYSCTLS = {
    "vm/overcommit_memory": 1,
    "vm/panic_on_oom": 0,
    "kernel/panic": 10,
    "kernel/panic_on_oops": 1,
    "kernel/keys/root_maxkeys": 1000000,
    "kernel/keys/root_maxbytes": 25000000,
}

_STATE = "node-state.json"
# What `start` writes in its directory besides the cluster's folder; `stop` removes these.
_OWNED = (
    "cni", "cni-ipam", "cni-state", "containerd", "containerd.toml", "kubelet", "kubelet.yaml",
    "kube-proxy.yaml", "pod-logs", "sysctl", "containerd.log", "kubelet.log", "kube-proxy.log",
    "kube-controller-manager.log", "kube-scheduler.log", "cluster-dns.log",
)  # fmt: skip
_RUN_ROOT = Path("/run/hpo-devnode")  # short: unix socket paths are limited to 107 bytes


class DevNodeError(RuntimeError):
    """The node could not start or stop; the message carries the relevant log tail."""


@dataclass(frozen=True)
class NodeBinaries:
    """The node's programs: Kubernetes binaries built here, the runtime from the system."""

    kubelet: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kube_proxy: Path
    pause_image: Path
    containerd: Path
    cni_bin_dir: Path

    @classmethod
    def from_env(cls, node_bin: str | None = None, pause_image: str | None = None) -> NodeBinaries:
        """From `node_bin` / `$HPO_NODE_BIN`, `pause_image` / `$HPO_PAUSE_IMAGE_TAR` and PATH."""
        folder = node_bin or os.environ.get("HPO_NODE_BIN")
        pause = pause_image or os.environ.get("HPO_PAUSE_IMAGE_TAR")
        if not folder or not pause:
            raise DevNodeError(
                "HPO_NODE_BIN and HPO_PAUSE_IMAGE_TAR are not set: run `hack/build-node.sh "
                "--print-env` and export what it prints"
            )
        root = Path(folder)
        containerd = shutil.which("containerd")
        if containerd is None:
            raise DevNodeError("containerd is not on PATH (Debian: apt-get install containerd)")
        cni = next((Path(d) for d in CNI_BIN_DIRS if (Path(d) / "bridge").exists()), None)
        if cni is None:
            raise DevNodeError(
                f"no CNI bridge plugin in {' or '.join(CNI_BIN_DIRS)} "
                "(Debian: apt-get install containernetworking-plugins)"
            )
        found = cls(
            kubelet=root / "kubelet",
            kube_controller_manager=root / "kube-controller-manager",
            kube_scheduler=root / "kube-scheduler",
            kube_proxy=root / "kube-proxy",
            pause_image=Path(pause),
            containerd=Path(containerd),
            cni_bin_dir=cni,
        )
        for path in (found.kubelet, found.kube_controller_manager, found.kube_scheduler,
                     found.kube_proxy):  # fmt: skip
            if not (path.is_file() and os.access(path, os.X_OK)):
                raise DevNodeError(f"{path} is missing or not executable")
        if not found.pause_image.is_file():
            raise DevNodeError(f"{found.pause_image} is missing")
        for tool in ("ip", "iptables", "mount", "umount", "unshare", "nsenter", "runc"):
            if shutil.which(tool) is None:
                raise DevNodeError(f"{tool} is not on PATH")
        return found


def cannot_run_pods() -> str | None:
    """Why this machine cannot run the node (not root, not Linux, no cgroups), or None."""
    if not sys.platform.startswith("linux"):
        return "the node tier needs Linux (network, mount and cgroup namespaces)"
    if os.geteuid() != 0:
        return "the node tier needs root (network namespace, veth, mounts, containerd)"
    if (
        not Path("/sys/fs/cgroup/memory").is_dir()
        and not Path("/sys/fs/cgroup/cgroup.controllers").exists()
    ):
        return "no cgroup filesystem at /sys/fs/cgroup"
    return None


# -- the network namespace and its veth ---------------------------------------------------------


@dataclass(frozen=True)
class NodeNetwork:
    """A network namespace joined to the host by a veth pair on a /30 of VETH_SUPERNET."""

    netns: str
    host_interface: str
    host_address: str  # the host's end: the API server and host services listen here
    node_address: str  # the namespace's end (`eth0`): the node's InternalIP, the kubelet's

    @classmethod
    def create(cls, attempts: int = 20) -> NodeNetwork:
        """Pick a free /30 and interface name, and make the namespace and the pair."""
        taken = _host_addresses()
        subnets = list(VETH_SUPERNET.subnets(new_prefix=30))
        for _ in range(attempts):
            index = random.randrange(1, len(subnets))
            subnet = subnets[index]
            host, node = (str(a) for a in list(subnet.hosts())[:2])
            if host in taken or node in taken:
                continue
            network = cls(
                netns=f"hpo-node-{index}",
                host_interface=f"hpon{index}",
                host_address=host,
                node_address=node,
            )
            if network._make():
                return network
        raise DevNodeError(f"no free /30 in {VETH_SUPERNET} after {attempts} attempts")

    def _make(self) -> bool:
        if _run(["ip", "netns", "add", self.netns], check=False).returncode != 0:
            return False  # taken by a parallel node
        try:
            link = ["ip", "link", "add", self.host_interface, "type", "veth"]
            if _run([*link, "peer", "name", "eth0", "netns", self.netns], check=False).returncode:
                self.delete()
                return False
            ns = ["ip", "-n", self.netns]
            _run(["ip", "addr", "add", f"{self.host_address}/30", "dev", self.host_interface])
            _run(["ip", "link", "set", self.host_interface, "up"])
            _run([*ns, "addr", "add", f"{self.node_address}/30", "dev", "eth0"])
            _run([*ns, "link", "set", "eth0", "up"])
            _run([*ns, "link", "set", "lo", "up"])
        except BaseException:
            self.delete()
            raise
        return True

    def delete(self) -> None:
        """Remove the namespace; the veth pair goes with it. Idempotent."""
        _run(["ip", "link", "del", self.host_interface], check=False)
        _run(["ip", "netns", "del", self.netns], check=False)

    @property
    def path(self) -> Path:
        return Path("/run/netns") / self.netns


def _host_addresses() -> set[str]:
    out = _run(["ip", "-o", "-4", "addr", "show"]).stdout
    return {word.split("/")[0] for line in out.splitlines() for word in line.split()[3:4]}


# -- the node -----------------------------------------------------------------------------------


@dataclass
class _Timings:
    seconds: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def step(self, name: str) -> Any:
        began = time.monotonic()
        yield
        self.seconds[name] = round(time.monotonic() - began, 2)


class DevNode:
    """A DevCluster (API server on the veth) plus one node that runs pods, in `directory`."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        binaries: NodeBinaries | None = None,
        cluster_binaries: Binaries | None = None,
        start_timeout: float = 300.0,
        stop_timeout: float = 20.0,
        detached: bool = False,
        remove_directory: bool = False,
    ) -> None:
        self.directory = Path(directory).resolve()
        self._binaries = binaries
        self._cluster_binaries = cluster_binaries
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.detached = detached
        self._remove_directory = remove_directory
        self.network: NodeNetwork | None = None
        self.cluster: DevCluster | None = None
        self._processes: list[devprocess.Process] = []
        self._run_dir: Path | None = None
        self._lock: IO[str] | None = None
        self.timings = _Timings()
        self.start_seconds: float | None = None

    @classmethod
    def temporary(
        cls,
        *,
        binaries: NodeBinaries | None = None,
        cluster_binaries: Binaries | None = None,
        start_timeout: float = 300.0,
    ) -> Self:
        """A node in a fresh temporary directory that `stop()` deletes entirely."""
        directory = tempfile.mkdtemp(prefix="hpo-devnode-")
        return cls(
            directory,
            binaries=binaries,
            cluster_binaries=cluster_binaries,
            start_timeout=start_timeout,
            remove_directory=True,
        )

    # -- public surface -------------------------------------------------------------------------

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (server: the API server on the veth's host address)."""
        return self._cluster().kubeconfig

    @property
    def host_address(self) -> str:
        """The host's address as pods see it: serve what pods must reach here (not 0.0.0.0)."""
        return self._network().host_address

    @property
    def node_address(self) -> str:
        return self._network().node_address

    @property
    def containerd_socket(self) -> Path:
        return self._run().joinpath("containerd.sock")

    def start(self) -> None:
        """Network, API server, controllers, containerd, kubelet, kube-proxy; return when the node
        is Ready, the `default` ServiceAccount exists and kube-proxy serves the `kubernetes`
        Service. Raises DevNodeError (with a log tail); nothing is left running then."""
        if self._processes:
            raise DevNodeError(f"the node in {self.directory} is already started")
        binaries = self._binaries or NodeBinaries.from_env()
        self.timings = _Timings()
        began = time.monotonic()
        deadline = began + self.start_timeout
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            with self.timings.step("network"):
                sweep_stale_nodes(self.stop_timeout)
                self.network = NodeNetwork.create()
                self._claim_run_dir()
            self._save_state()
            with self.timings.step("apiserver"):
                self.cluster = DevCluster(
                    self.directory / "cluster",
                    binaries=self._cluster_binaries,
                    detached=self.detached,
                    address=self.network.host_address,
                    serve_pods=True,
                )
                self.cluster.start()
            self._save_state()
            with self.timings.step("controllers"):
                self._start_controllers(binaries)
                self._start_dns()
                self._publish_dns()
            with self.timings.step("mount-namespace"):
                self._make_mount_namespace()
            self._save_state()
            with self.timings.step("containerd"):
                self._start_containerd(binaries, deadline)
            with self.timings.step("kubelet+kube-proxy"):
                self._start_kubelet(binaries)
                self._start_kube_proxy(binaries)
                self._save_state()
                self._wait_ready(deadline)
        except BaseException:
            self._stop_everything()
            raise
        self.start_seconds = round(time.monotonic() - began, 2)

    def stop(self) -> None:
        """Stop everything `start` made and remove it (and the directory if temporary).

        Idempotent: also cleans up after a crashed or detached node found through its state file.
        """
        if self.network is None:
            self._load_state()
        self._stop_everything()

    def import_image(self, archive: Path) -> None:
        """Import an image archive (`docker save` output) into containerd's CRI namespace."""
        with archive.open("rb") as data:
            self.ctr("images", "import", "-", stdin=data)

    def ctr(self, *args: str, stdin: Any = None, timeout: float = 600.0) -> str:
        """Run `ctr` against this node's containerd, in the CRI namespace; returns stdout."""
        result = subprocess.run(
            ["ctr", "--address", str(self.containerd_socket), "--namespace", CRI_NAMESPACE, *args],
            stdin=stdin,
            capture_output=True,
            check=False,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise DevNodeError(f"ctr {' '.join(args)} failed: {result.stderr.decode().strip()}")
        return result.stdout.decode()

    def container_ids(self) -> list[str]:
        """Every container this node's containerd has run and not yet removed."""
        return _container_ids(self._run() / "containerd")

    @staticmethod
    def leftovers(containers: Iterable[str], network: NodeNetwork) -> list[str]:
        """What of a stopped node is still on the host (expected: nothing), for tests."""
        found = [f"cgroup {path}" for path in _container_cgroups(containers)]
        run = _RUN_ROOT / network.netns
        found += [f"shim socket {path}" for ident in containers
                  if (path := _shim_socket(run / "containerd.sock", ident)).exists()]  # fmt: skip
        if network.path.exists():
            found.append(f"network namespace {network.path}")
        if Path("/sys/class/net", network.host_interface).exists():
            found.append(f"veth {network.host_interface}")
        if (_RUN_ROOT / network.netns).exists():
            found.append(f"run folder {_RUN_ROOT / network.netns}")
        return found

    def logs(self) -> dict[str, Path]:
        """Each daemon's log file, by name."""
        return {p.name: p.log for p in self._processes}

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

    def _cluster(self) -> DevCluster:
        if self.cluster is None:
            raise DevNodeError("the node is not started")
        return self.cluster

    def _network(self) -> NodeNetwork:
        if self.network is None:
            raise DevNodeError("the node is not started")
        return self.network

    def _run(self) -> Path:
        if self._run_dir is None:
            self._run_dir = _RUN_ROOT / self._network().netns
        return self._run_dir

    def _start_controllers(self, binaries: NodeBinaries) -> None:
        cluster = self._cluster()
        certs = cluster.certs_dir
        common = [f"--kubeconfig={cluster.kubeconfig}", "--leader-elect=false", "--secure-port=0"]
        self._spawn(
            "kube-controller-manager",
            [
                str(binaries.kube_controller_manager),
                *common,
                f"--service-account-private-key-file={certs / 'sa.key'}",
                f"--root-ca-file={certs / 'ca.crt'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--allocate-node-cidrs=false",
                "--use-service-account-credentials=false",
                # Nothing here signs CSRs or bootstraps nodes; the rest runs as in a cluster.
                "--controllers=*,-csrsigning,-csrapproving,-bootstrapsigner,-tokencleaner",
            ],
        )
        self._spawn("kube-scheduler", [str(binaries.kube_scheduler), *common])

    def _start_dns(self) -> None:
        """The cluster DNS (hpo_devtools.dns) on the host's veth address, port 53."""
        cluster = self._cluster()
        self._spawn(
            "cluster-dns",
            [
                sys.executable, "-m", "hpo_devtools.dns",
                f"--listen={self._network().host_address}",
                f"--server={cluster.server}",
                f"--certs={cluster.certs_dir}",
            ],
        )  # fmt: skip

    def _claim_run_dir(self) -> None:
        """RUN/owner.lock, locked while this process lives; then RUN/network.json.

        Why: a test run killed hard takes its kubelet and containerd with it (parent-death
        signal), but not the shims, the containers, the namespaces or the veth. The next node's
        `sweep_stale_nodes` finds such a folder by its unlocked lock and cleans it up. A detached
        node (the CLI's) is marked so and never swept: `down` ends it.
        """
        run = self._run()
        run.mkdir(parents=True, exist_ok=True)
        self._lock = (run / "owner.lock").open("w")
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        claim = {
            "network": self._network().__dict__,
            "directory": str(self.directory),
            "remove_directory": self._remove_directory,
            "detached": self.detached,
        }
        (run / "network.json").write_text(json.dumps(claim))

    def _make_mount_namespace(self) -> None:
        """A persistent private mount namespace at RUN/mnt, with kubelet's sysctls pinned."""
        run = self._run()
        run.mkdir(parents=True, exist_ok=True)
        # `unshare --mount=FILE` needs FILE on a private mount: make RUN one (as `ip netns` does).
        _run(["mount", "--bind", str(run), str(run)])
        _run(["mount", "--make-private", str(run)])
        (run / "mnt").touch()
        _run(["unshare", f"--mount={run / 'mnt'}", "--propagation=private", "true"])
        pinned = self.directory / "sysctl"
        pinned.mkdir(exist_ok=True)
        script = ["set -e"]
        for name, want in KUBELET_SYSCTLS.items():
            current = Path("/proc/sys", name).read_text().strip()
            if current == str(want):
                continue
            value = pinned / name.replace("/", ".")
            value.write_text(f"{want}\n")
            script.append(f"mount --bind {value} /proc/sys/{name}")
            script.append(f"mount -o remount,bind,ro /proc/sys/{name}")
        # Where CNI keeps its results and IP leases, and containerd its netns files: here, not
        # in the host's /var/lib/cni and /run/netns.
        for target, source in (("/var/lib/cni", self.directory / "cni-state"),):
            source.mkdir(exist_ok=True)
            Path(target).mkdir(parents=True, exist_ok=True)
            script.append(f"mount --bind {source} {target}")
        _run(["nsenter", f"--mount={run / 'mnt'}", "--", "sh", "-c", "\n".join(script)])

    def _in_node(self, argv: Sequence[str]) -> list[str]:
        """`argv` run inside the node's mount and network namespaces (nsenter execs it)."""
        run = self._run()
        return ["nsenter", f"--mount={run / 'mnt'}", f"--net={self._network().path}", "--", *argv]

    def _start_containerd(self, binaries: NodeBinaries, deadline: float) -> None:
        run = self._run()
        root = self.directory / "containerd"
        cni_conf = self.directory / "cni" / "net.d"
        cni_conf.mkdir(parents=True, exist_ok=True)
        (cni_conf / "10-hpo-node.conflist").write_text(
            json.dumps(_cni_config(self.directory / "cni-ipam"), indent=2)
        )
        config = self.directory / "containerd.toml"
        config.write_text(
            _containerd_config(
                root=root, state=run / "containerd", socket=self.containerd_socket,
                cni_bin=binaries.cni_bin_dir, cni_conf=cni_conf,
                restrict_oom=not _has_capability(_CAP_SYS_RESOURCE),
            )
        )  # fmt: skip
        process = self._spawn(
            "containerd", self._in_node([str(binaries.containerd), f"--config={config}"])
        )
        _wait_until(
            lambda: (
                self.containerd_socket.exists()
                and _run(
                    ["ctr", "--address", str(self.containerd_socket), "version"], check=False
                ).returncode
                == 0
            ),
            process,
            deadline,
            what="containerd's socket",
        )
        self.import_image(binaries.pause_image)

    def _start_kubelet(self, binaries: NodeBinaries) -> None:
        cluster = self._cluster()
        network = self._network()
        root = self.directory / "kubelet"
        root.mkdir(exist_ok=True)
        (self.directory / "pod-logs").mkdir(exist_ok=True)
        config = self.directory / "kubelet.yaml"
        config.write_text(
            json.dumps(
                {
                    "apiVersion": "kubelet.config.k8s.io/v1beta1",
                    "kind": "KubeletConfiguration",
                    # This machine may be cgroup v1; the kubelet only warns then.
                    "failCgroupV1": False,
                    "cgroupDriver": "cgroupfs",
                    # No QoS cgroup tree: the node's pods go straight under the runtime's
                    # parent, and nothing is enforced at the node level (a test node).
                    "cgroupsPerQOS": False,
                    "enforceNodeAllocatable": [],
                    "address": network.node_address,
                    "port": 10250,
                    "readOnlyPort": 0,
                    "healthzBindAddress": "127.0.0.1",
                    "healthzPort": 10248,
                    "authentication": {
                        "anonymous": {"enabled": False},
                        "webhook": {"enabled": False},
                        "x509": {"clientCAFile": str(cluster.certs_dir / "ca.crt")},
                    },
                    "authorization": {"mode": "AlwaysAllow"},
                    "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
                    "clusterDomain": "cluster.local",
                    "clusterDNS": [CLUSTER_DNS_IP],  # kube-dns → hpo_devtools.dns
                    "resolvConf": "",
                    "failSwapOn": False,
                    "protectKernelDefaults": False,  # the values are pinned in the mount ns
                    "podLogsDir": str(self.directory / "pod-logs"),
                    # A test node on a shared disk: evict only when really full, never GC images
                    # (the imported ones cannot be pulled again).
                    "evictionHard": {
                        "memory.available": "50Mi",
                        "nodefs.available": "1%",
                        "imagefs.available": "1%",
                        "nodefs.inodesFree": "1%",
                    },
                    "imageGCHighThresholdPercent": 100,
                    "imageGCLowThresholdPercent": 99,
                    "serializeImagePulls": False,
                    "syncFrequency": "10s",
                    "nodeStatusReportFrequency": "10s",
                    "shutdownGracePeriod": "0s",
                }
            )
        )
        self._spawn(
            "kubelet",
            self._in_node(
                [
                    str(binaries.kubelet),
                    f"--config={config}",
                    f"--kubeconfig={cluster.kubeconfig}",
                    f"--root-dir={root}",
                    f"--hostname-override={NODE_NAME}",
                    f"--node-ip={network.node_address}",
                    "--v=1",
                ]
            ),
        )

    def _start_kube_proxy(self, binaries: NodeBinaries) -> None:
        config = self.directory / "kube-proxy.yaml"
        config.write_text(
            json.dumps(
                {
                    "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
                    "kind": "KubeProxyConfiguration",
                    "clientConnection": {"kubeconfig": str(self._cluster().kubeconfig)},
                    "mode": "iptables",
                    "hostnameOverride": NODE_NAME,
                    "bindAddress": self._network().node_address,
                    "clusterCIDR": POD_CIDR,
                    "detectLocalMode": "ClusterCIDR",
                    "nodePortAddresses": ["primary"],  # the node's InternalIP only
                    "healthzBindAddress": "127.0.0.1:10256",
                    "metricsBindAddress": "127.0.0.1:10249",
                    # conntrack's table size is global to the host: leave it (and the timeouts)
                    # alone.
                    "conntrack": {
                        "maxPerCore": 0,
                        "min": 0,
                        "tcpEstablishedTimeout": "0s",
                        "tcpCloseWaitTimeout": "0s",
                    },
                    "iptables": {"localhostNodePorts": False, "syncPeriod": "5s"},
                }
            )
        )
        self._spawn("kube-proxy", self._in_node([str(binaries.kube_proxy), f"--config={config}"]))

    def _api(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """GET (or POST `body` to) the API server as admin; the parsed answer, None on error."""
        cluster = self._cluster()
        context = ssl.create_default_context(cafile=str(cluster.certs_dir / "ca.crt"))
        context.load_cert_chain(
            str(cluster.certs_dir / "admin.crt"), str(cluster.certs_dir / "admin.key")
        )
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
        )
        request = urllib.request.Request(f"{cluster.server}{path}")
        if body is not None:
            request.data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
        try:
            with opener.open(request, timeout=5.0) as response:
                return json.loads(response.read())
        except (OSError, ValueError, urllib.error.URLError):
            return None

    def _publish_dns(self) -> None:
        """The `kube-dns` Service (CLUSTER_DNS_IP, as kubeadm's), its endpoint the DNS process on
        the veth: pods' queries go through kube-proxy like in any cluster."""
        host = self._network().host_address
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "labels": {"k8s-app": "kube-dns"}},
            "spec": {
                "clusterIP": CLUSTER_DNS_IP,
                "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53}],
            },
        }
        endpoints = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "kube-dns-devdns",
                "labels": {
                    "kubernetes.io/service-name": "kube-dns",
                    "endpointslice.kubernetes.io/managed-by": "devnode.hpo-operator",
                },
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [host], "conditions": {"ready": True}}],
            "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}],
        }
        for path, body in (
            ("/api/v1/namespaces/kube-system/services", service),
            ("/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices", endpoints),
        ):
            if self._api(path, body) is None:
                raise DevNodeError(f"could not create {body['kind']} kube-system/kube-dns")

    def _wait_ready(self, deadline: float) -> None:
        """The node Ready, the default ServiceAccount made, kube-proxy's rules for `kubernetes`."""
        get = self._api

        def node_ready() -> bool:
            node = get(f"/api/v1/nodes/{NODE_NAME}")
            conditions = (node or {}).get("status", {}).get("conditions", [])
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        def proxy_ready() -> bool:
            rules = _run(
                ["ip", "netns", "exec", self._network().netns, "iptables", "-t", "nat", "-S",
                 "KUBE-SERVICES"],
                check=False,
            ).stdout  # fmt: skip
            return "default/kubernetes:https" in rules and "kube-system/kube-dns:dns" in rules

        for what, condition, process in (
            (f"node {NODE_NAME} to be Ready", node_ready, "kubelet"),
            (
                "the default ServiceAccount",
                lambda: get("/api/v1/namespaces/default/serviceaccounts/default") is not None,
                "kube-controller-manager",
            ),
            ("kube-proxy's rules for the kubernetes Service", proxy_ready, "kube-proxy"),
            ("the cluster DNS", self._dns_answers, "cluster-dns"),
        ):
            owner = next(p for p in self._processes if p.name == process)
            _wait_until(condition, owner, deadline, what=what, others=self._processes)

    def _dns_answers(self) -> bool:
        query = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0)
        for label in ["kubernetes", "default", "svc", "cluster", "local"]:
            query += bytes([len(label)]) + label.encode()
        query += b"\0" + struct.pack("!HH", 1, 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(1.0)
            try:
                sock.sendto(query, (self._network().host_address, 53))
                reply = sock.recv(512)
            except OSError:
                return False
        return len(reply) > 12 and struct.unpack("!H", reply[6:8])[0] == 1  # one answer

    def _spawn(self, name: str, argv: list[str]) -> devprocess.Process:
        process = devprocess.spawn(self.directory, name, argv, detached=self.detached)
        self._processes.append(process)
        return process

    def _save_state(self) -> None:
        network = self.network
        state = {
            "network": None if network is None else network.__dict__,
            "cluster": None if self.cluster is None else str(self.cluster.directory),
            "pids": {p.name: p.pid for p in self._processes},
        }
        path = self.directory / _STATE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(path)

    def _load_state(self) -> None:
        try:
            state = json.loads((self.directory / _STATE).read_text())
        except (OSError, ValueError):
            return
        if state.get("network"):
            self.network = NodeNetwork(**state["network"])
        if state.get("cluster"):
            self.cluster = DevCluster(state["cluster"], detached=True)
        for name, pid in dict(state.get("pids", {})).items():
            try:
                cmdline = Path(f"/proc/{int(pid)}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if str(self.directory) in cmdline:
                self._processes.append(
                    devprocess.Process(
                        name=str(name), pid=int(pid), log=self.directory / f"{name}.log"
                    )
                )

    # -- stopping -------------------------------------------------------------------------------

    def _stop_everything(self) -> None:
        errors: list[str] = []
        # The node's daemons first (kubelet would restart what dies), then everything left in the
        # mount namespace: containerd, its shims and the containers.
        with self.timings.step("stop-kubelet+kube-proxy"):
            for name in ("kube-proxy", "kubelet"):
                for process in [p for p in self._processes if p.name == name]:
                    devprocess.terminate(process, self.stop_timeout, DevNodeError)
                    self._processes.remove(process)
        if self._lock is not None:  # an open file would keep the run folder's mount busy
            self._lock.close()
            self._lock = None
        if self.network is not None:
            with self.timings.step("stop-containers"):
                killed = _clean_run_dir(self._run(), self.stop_timeout)
            self._processes = [p for p in self._processes if p.pid not in killed]
        for process in list(reversed(self._processes)):
            try:
                with self.timings.step(f"stop-{process.name}"):
                    devprocess.terminate(process, self.stop_timeout, DevNodeError)
            except DevNodeError as error:
                errors.append(str(error))
        self._processes = []
        if self.cluster is not None:
            try:
                with self.timings.step("stop-apiserver"):
                    self.cluster.stop()
            except DevClusterError as error:
                errors.append(str(error))
            self.cluster = None
        if self.network is not None:
            self.network.delete()
            self.network = None
            self._run_dir = None
        (self.directory / _STATE).unlink(missing_ok=True)
        if self._remove_directory:
            shutil.rmtree(self.directory, ignore_errors=True)
        else:
            for name in _OWNED:
                path = self.directory / name
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        if errors:
            raise DevNodeError("; ".join(errors))


# -- configuration files ------------------------------------------------------------------------


def _containerd_config(
    *,
    root: Path,
    state: Path,
    socket: Path,
    cni_bin: Path,
    cni_conf: Path,
    restrict_oom: bool,
) -> str:
    """containerd 1.6's config (version 2): its own root, state and socket; CRI on runc."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return "\n".join(
        [
            "version = 2",
            f'root = "{root}"',
            f'state = "{state}"',
            "[grpc]",
            f'  address = "{socket}"',
            '[plugins."io.containerd.internal.v1.opt"]',
            f'  path = "{root / "opt"}"',
            f"[{cri}]",
            f'  sandbox_image = "{PAUSE_IMAGE}"',
            "  netns_mounts_under_state_dir = true",
            # Without CAP_SYS_RESOURCE (absent from this CI VM's bounding set) no process may
            # lower an oom_score_adj, and runc's nsexec dies writing the sandbox's -998 ("can't
            # get final child's PID from pipe: EOF"). Then containerd clamps every score at its
            # own (0): pods keep their QoS scores at or above 0.
            f"  restrict_oom_score_adj = {'true' if restrict_oom else 'false'}",
            f"[{cri}.cni]",
            f'  bin_dir = "{cni_bin}"',
            f'  conf_dir = "{cni_conf}"',
            f"[{cri}.containerd]",
            '  default_runtime_name = "runc"',
            f"[{cri}.containerd.runtimes.runc]",
            '  runtime_type = "io.containerd.runc.v2"',
            f"[{cri}.containerd.runtimes.runc.options]",
            "  SystemdCgroup = false",
            "",
        ]
    )


def _cni_config(ipam_dir: Path) -> dict[str, Any]:
    """One bridge (`cni0`, the pods' gateway) with host-local IPs and masquerade off the bridge."""
    return {
        "cniVersion": "1.0.0",
        "name": "hpo-node",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_CIDR}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(ipam_dir),
                },
            }
        ],
    }


# -- processes ----------------------------------------------------------------------------------


_CAP_SYS_RESOURCE = 24


def _has_capability(number: int) -> bool:
    """Is the capability in this process's bounding set (so a child running as root has it)?"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return bool(int(line.split()[1], 16) >> number & 1)
    return False


def _run(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=120)
    if check and result.returncode != 0:
        raise DevNodeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr}")
    return result


def _namespace_pids(namespace_file: Path) -> list[int]:
    """Pids of the processes in the mount namespace bound at `namespace_file`."""
    try:
        inode = namespace_file.stat().st_ino
    except OSError:
        return []
    if inode == 0 or not namespace_file.stat().st_dev:
        return []
    want = f"mnt:[{inode}]"
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.readlink(entry / "ns" / "mnt") == want:
                pids.append(int(entry.name))
    return pids


def _kill_namespace(namespace_file: Path, timeout: float) -> list[int]:
    """SIGKILL every process in the node's mount namespace (by pid); returns their pids."""
    killed: list[int] = []
    deadline = time.monotonic() + timeout
    while pids := _namespace_pids(namespace_file):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if pid not in killed:
                killed.append(pid)
        if time.monotonic() > deadline:
            raise DevNodeError(f"processes {pids} in the node's namespace survived SIGKILL")
        time.sleep(0.05)
        for pid in pids:  # reap our own children (containerd) so they leave /proc
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
    return killed


def _clean_run_dir(run: Path, timeout: float) -> list[int]:
    """Kill what runs in a node's namespaces and remove its run folder; returns the killed pids.

    Containers have mount namespaces of their own: they are found by their cgroups (containerd's
    task folders name them); containerd and its shims by the node's mount namespace."""
    containers = _container_ids(run / "containerd")
    _kill_cgroups(containers, timeout)
    killed = _kill_namespace(run / "mnt", timeout)
    _kill_cgroups(containers, timeout)  # any started meanwhile
    _remove_cgroups(containers)
    for ident in containers:  # a killed shim leaves its socket behind
        _shim_socket(run / "containerd.sock", ident).unlink(missing_ok=True)
    _run(["umount", str(run / "mnt")], check=False)
    _run(["umount", str(run)], check=False)
    shutil.rmtree(run, ignore_errors=True)
    with contextlib.suppress(OSError):
        _RUN_ROOT.rmdir()  # when no other node uses it
    return killed


def sweep_stale_nodes(timeout: float = 20.0) -> list[str]:
    """Clean up after nodes whose owner died without stopping them; returns their names.

    A node is stale when its run folder's `owner.lock` is not locked (the owning process is gone)
    and it is not a detached (CLI) node."""
    swept = []
    folders = sorted(_RUN_ROOT.iterdir()) if _RUN_ROOT.is_dir() else []
    for run in folders:
        try:
            claim = json.loads((run / "network.json").read_text())
        except (OSError, ValueError):
            continue  # being set up, or not ours
        if claim.get("detached"):
            continue
        with (run / "owner.lock").open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its owner is alive
        _clean_run_dir(run, timeout)  # the lock closed first: it would keep the mount busy
        NodeNetwork(**claim["network"]).delete()
        if claim.get("remove_directory"):
            shutil.rmtree(claim["directory"], ignore_errors=True)
        swept.append(run.name)
    return swept


def _shim_socket(containerd: Path, ident: str) -> Path:
    """Where containerd 1.6's runc v2 shim for this task (a pod sandbox) listens: a fixed folder,
    the name a SHA-256 of the containerd address, namespace and id (runtime/v2/shim
    SocketAddress)."""
    name = hashlib.sha256(os.path.join(str(containerd), CRI_NAMESPACE, ident).encode()).hexdigest()
    return Path("/run/containerd/s") / name


def _container_ids(state: Path) -> list[str]:
    """The ids of every container this node's containerd ran (its v2 task folders)."""
    tasks = state / "io.containerd.runtime.v2.task" / CRI_NAMESPACE
    try:
        return sorted(entry.name for entry in tasks.iterdir() if entry.is_dir())
    except OSError:
        return []


def _container_cgroups(ids: Iterable[str]) -> list[Path]:
    """Their cgroups in every hierarchy: containerd's CRI puts each at /k8s.io/<id> (cgroupfs)."""
    found = []
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        for ident in ids:
            path = hierarchy / CRI_NAMESPACE / ident
            if path.is_dir():
                found.append(path)
    return found


def _kill_cgroups(ids: Sequence[str], timeout: float) -> None:
    """SIGKILL every process in these containers' cgroups until none is left."""
    deadline = time.monotonic() + timeout
    cgroups = _container_cgroups(ids)
    while True:
        pids: set[int] = set()
        for cgroup in cgroups:
            with contextlib.suppress(OSError):
                pids.update(int(x) for x in (cgroup / "cgroup.procs").read_text().split())
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise DevNodeError(f"container processes {sorted(pids)} survived SIGKILL")
        time.sleep(0.05)


def _remove_cgroups(ids: Sequence[str]) -> None:
    """Remove the containers' (now empty) cgroups; rmdir fails on one that still has processes."""
    for path in _container_cgroups(ids):
        with contextlib.suppress(OSError):
            path.rmdir()


def _wait_until(
    condition: Callable[[], bool],
    process: devprocess.Process,
    deadline: float,
    what: str,
    others: Iterable[devprocess.Process] = (),
) -> None:
    """Wait for `condition`; fail with each process's log tail if `process` exits or time is up."""
    failure = devprocess.wait_for(condition, process, deadline)
    if failure is None:
        return
    shown = dict.fromkeys((process, *others))  # processes compare by identity; first one first
    tails = [f"--- {p.log} ---\n{devprocess.tail(p.log, lines=30)}" for p in shown]
    raise DevNodeError(f"{failure} before {what} was ready\n" + "\n".join(tails))


def main(argv: Sequence[str] | None = None) -> int:
    """`up --dir DIR`: start a detached node, print the kubeconfig. `down --dir DIR`: end it."""
    parser = argparse.ArgumentParser(
        prog="python -m hpo_devtools.node",
        description="A local API server plus one node that runs pods (needs root).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start a detached node; print the kubeconfig path")
    up.add_argument("--dir", required=True, type=Path, help="state, logs and kubeconfig")
    up.add_argument("--timeout", type=float, default=300.0)
    up.add_argument("--image", type=Path, action="append", default=[],
                    help="an image archive (`docker save`) to import; repeatable")  # fmt: skip
    down = sub.add_parser("down", help="stop the node and remove its files (idempotent)")
    down.add_argument("--dir", required=True, type=Path)
    args = parser.parse_args(argv)
    timeout = float(getattr(args, "timeout", 300.0))
    node = DevNode(Path(args.dir), detached=True, start_timeout=timeout)
    try:
        node.stop()  # leftovers of a crashed or earlier node
        if args.command == "down":
            return 0
        if reason := cannot_run_pods():
            print(f"devnode: {reason}", file=sys.stderr)
            return 1
        node.start()
        for image in args.image:
            node.import_image(image)
    except (DevNodeError, DevClusterError) as error:
        print(f"devnode: {error}", file=sys.stderr)
        return 1
    print(
        f"devnode: node {NODE_NAME} Ready in {node.start_seconds}s {node.timings.seconds}; "
        f"serve what pods reach on {node.host_address}",
        file=sys.stderr,
    )
    print(node.kubeconfig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
