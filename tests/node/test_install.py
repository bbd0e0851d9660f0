"""The operator installed on a node that runs it: `helm install` of the chart and
`kubectl apply -f dist/install.yaml`, each with the locally built image. The pod must become
Ready by the kubelet's probes, reach the API server through the `kubernetes` Service, take a job
to Completed against the emulator and stop one on delete."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from node_checks import (
    check_pod_runtime,
    operator_values,
    run_jobs,
    wait_deployment_ready,
)

from hpo_devtools.node import DevNode
from hpo_devtools.wait import eventually
from hpo_emulator.server import RunningEmulator
from ship.chart import CHART, REPO, Helm, parse
from support.kube import Kubectl, unique_name


def test_helm_install_runs_the_operator(
    node: DevNode,
    node_kubectl: Kubectl,
    node_helm: Helm,
    node_namespace: str,
    node_api: Any,
    operator_image: str,
    node_emulator: RunningEmulator,
) -> None:
    release = unique_name("hpo", max_length=20)
    fullname = f"{release}-hpo-operator"
    values = node_helm.home / f"{release}.json"
    values.write_text(json.dumps(operator_values(operator_image, node_emulator)))
    kubeconfig = ["--kubeconfig", str(node.kubeconfig), "--namespace", node_namespace]
    node_helm("install", release, str(CHART), "--values", str(values), *kubeconfig)
    try:
        pod = wait_deployment_ready(node_kubectl, node_namespace, fullname)
        check_pod_runtime(node_kubectl, node_namespace, pod)
        run_jobs(node_kubectl, node_emulator, node_namespace, pod["metadata"]["name"])
        check_recreate(node_kubectl, node_api, node_helm, release, node_namespace, kubeconfig)
    finally:
        node_helm("uninstall", release, "--wait", *kubeconfig, check=False)


def check_recreate(
    kubectl: Kubectl, api: Any, helm: Helm, release: str, namespace: str, kubeconfig: list[str]
) -> None:
    """An upgrade that changes the pod template: with Recreate, the old pod has stopped (terminal
    phase, or gone) before the new one is created, so two operators never overlap. Seen in the
    order of the pods' watch events."""
    from kubernetes import client, watch

    events: list[tuple[str, str, str]] = []  # (type, pod, phase)
    start = client.CoreV1Api(api).list_namespaced_pod(namespace)
    old = {p.metadata.name for p in start.items}
    stream = watch.Watch()

    def follow() -> None:
        with contextlib.suppress(Exception):  # the stream ends when the test stops it
            for event in stream.stream(
                client.CoreV1Api(api).list_namespaced_pod,
                namespace,
                resource_version=start.metadata.resource_version,
                timeout_seconds=300,
            ):
                pod = event["object"]
                events.append((event["type"], pod.metadata.name, pod.status.phase))

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    helm("upgrade", release, str(CHART), "--reuse-values", "--set", "log.level=DEBUG",
         *kubeconfig)  # fmt: skip
    fullname = f"{release}-hpo-operator"
    kubectl.wait_for_condition(f"deployment/{fullname}", "Available", "-n", namespace)

    def new_pod_ready() -> str:
        added = [name for kind, name, _ in events if kind == "ADDED" and name not in old]
        assert added, events
        return added[0]

    new = eventually(new_pod_ready, 180)
    wait_deployment_ready(kubectl, namespace, fullname)
    stream.stop()
    stopped_at = next(
        i for i, (kind, name, phase) in enumerate(events)
        if name in old and (kind == "DELETED" or phase in ("Succeeded", "Failed"))
    )  # fmt: skip
    added_at = next(
        i for i, (kind, name, _) in enumerate(events) if kind == "ADDED" and name == new
    )
    assert stopped_at < added_at, events


@pytest.fixture
def install_yaml(
    node: DevNode, operator_image: str, node_emulator: RunningEmulator
) -> Iterator[list[dict[str, Any]]]:
    """dist/install.yaml as `make manifests` renders it (hack/manifests.py), with the image and
    the emulator set; everything but the CRD (shared with the helm test) deleted afterwards."""
    values = operator_values(operator_image, node_emulator)
    sets = [
        f"image.repository={values['image']['repository']}",
        f"image.tag={values['image']['tag']}",
        "image.pullPolicy=Never",
        f"aws.region={values['aws']['region']}",
        f"aws.endpointUrl={values['aws']['endpointUrl']}",
        f"aws.allowUnsafeEndpointURLs[0]={values['aws']['allowUnsafeEndpointURLs'][0]}",
        "pollInterval=1",
    ]
    for i, item in enumerate(values["extraEnv"]):
        sets += [f"extraEnv[{i}].name={item['name']}", f"extraEnv[{i}].value={item['value']}"]
    argv = [sys.executable, str(REPO / "hack" / "manifests.py")]
    for item in sets:
        argv += ["--set", item]
    text = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120).stdout
    objects = parse(text)
    yield objects
    kubectl = ["--kubeconfig", str(node.kubeconfig)]
    rest = [o for o in objects if o["kind"] != "CustomResourceDefinition"]
    subprocess.run(
        [_kubectl_binary(), *kubectl, "delete", "--ignore-not-found", "--wait=false", "-f", "-"],
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": rest}),
        text=True, capture_output=True, check=False, timeout=120,
    )  # fmt: skip


def _kubectl_binary() -> str:
    from support.tools import tool

    return tool("KUBECTL")


def test_install_yaml_runs_the_operator(
    node_kubectl: Kubectl,
    install_yaml: list[dict[str, Any]],
    node_emulator: RunningEmulator,
) -> None:
    text = "\n---\n".join(json.dumps(o) for o in install_yaml)
    node_kubectl("apply", "--server-side", "-f", "-", input=text)
    deployment = next(o for o in install_yaml if o["kind"] == "Deployment")
    namespace = deployment["metadata"]["namespace"]
    pod = wait_deployment_ready(node_kubectl, namespace, deployment["metadata"]["name"])
    check_pod_runtime(node_kubectl, namespace, pod)
    run_jobs(node_kubectl, node_emulator, namespace, pod["metadata"]["name"])
