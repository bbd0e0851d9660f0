"""A node whose owner is killed hard (a test run hitting its timeout) is cleaned up by the next
node's sweep: its containers, shims, namespaces, veth, cgroups and files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from hpo_devtools.node import DevNode, NodeNetwork, sweep_stale_nodes

OWNER = """
import json, sys, threading
from hpo_devtools.node import DevNode
from hpo_devtools.cluster import Binaries
node = DevNode.temporary(cluster_binaries=Binaries.from_assets(sys.argv[1]))
node.start()
pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
       "spec": {"containers": [{"name": "p", "image": sys.argv[2], "imagePullPolicy": "Never"}]}}
print(json.dumps({"kubeconfig": str(node.kubeconfig), "pod": pod,
                  "network": node.network.__dict__, "directory": str(node.directory)}), flush=True)
threading.Event().wait()
"""


def test_a_node_left_by_a_killed_owner_is_swept(node: DevNode, node_kubectl_binary: str) -> None:
    from hpo_devtools.node import PAUSE_IMAGE
    from support.tools import tool

    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, tool("KUBEBUILDER_ASSETS"), PAUSE_IMAGE],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip
    assert owner.stdout is not None
    line = owner.stdout.readline()
    assert line, f"the owner exited {owner.wait()} before its node was Ready"
    info = json.loads(line)
    network = NodeNetwork(**info["network"])
    kubectl = [node_kubectl_binary, f"--kubeconfig={info['kubeconfig']}"]
    subprocess.run([*kubectl, "apply", "-f", "-"], input=json.dumps(info["pod"]), text=True,
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run([*kubectl, "wait", "--for=condition=Ready", "pod/p", "--timeout=120s"],
                   check=True, capture_output=True)  # fmt: skip
    run = Path("/run/hpo-devnode") / network.netns
    containers = sorted(p.name for p in (run / "containerd" / "io.containerd.runtime.v2.task"
                                         / "k8s.io").iterdir())  # fmt: skip
    assert len(containers) == 2  # the sandbox and the container

    owner.send_signal(signal.SIGKILL)
    owner.wait()
    # The daemons died with it (parent-death signal); the shims and containers did not.
    assert DevNode.leftovers(containers, network)
    assert network.netns in sweep_stale_nodes()  # the kernel dropped its lock with it
    assert not DevNode.leftovers(containers, network), DevNode.leftovers(containers, network)
    assert not Path(info["directory"]).exists()
    # The session's own node, alive, was not touched.
    assert node.network is not None and (Path("/run/hpo-devnode") / node.network.netns).exists()
