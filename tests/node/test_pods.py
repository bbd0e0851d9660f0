"""A pod runs on the node: scheduled, started by containerd/runc, networked by the CNI bridge,
probed by the kubelet, and its logs read through the API server (which dials the kubelet)."""

from __future__ import annotations

import ipaddress

from hpo_devtools.node import POD_CIDR, DevNode
from support.kube import Kubectl


def test_a_pod_runs_and_its_readiness_probe_passes(
    node: DevNode, node_kubectl: Kubectl, node_namespace: str, operator_image: str
) -> None:
    # The operator image is the only image here besides pause: its Python serves HTTP.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {
            "terminationGracePeriodSeconds": 1,  # http.server as PID 1 ignores SIGTERM
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65532,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "web",
                    "image": operator_image,
                    "imagePullPolicy": "Never",
                    "command": ["python3", "-m", "http.server", "8080", "--directory", "/tmp"],
                    "ports": [{"containerPort": 8080}],
                    "readinessProbe": {
                        "httpGet": {"path": "/", "port": 8080},
                        "periodSeconds": 1,
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "readOnlyRootFilesystem": True,
                    },
                }
            ],
        },
    }
    node_kubectl.apply(pod, "-n", node_namespace)
    ready = node_kubectl.wait_for_condition("pod/web", "Ready", "-n", node_namespace, timeout=120)
    assert ready["spec"]["nodeName"] == "hpo-node"
    assert ipaddress.ip_address(ready["status"]["podIP"]) in ipaddress.ip_network(POD_CIDR)
    # The kubelet's probe reached the pod from the node's side of the bridge (the gateway, the
    # first address of the pod range); the log is read through the API server and the kubelet.
    gateway = str(next(ipaddress.ip_network(POD_CIDR).hosts()))
    logs = node_kubectl("logs", "web", "-n", node_namespace).stdout
    assert f"{gateway} - - " in logs and '"GET / HTTP/1.1" 200' in logs, logs
    node_kubectl("delete", "pod", "web", "-n", node_namespace, "--wait=true", timeout=120)
