"""ACK's FieldExport end to end (`--enable-field-export-reconciler`): a tuning job runs to
Completed in the emulator and its best training job's name and tunedHyperParameters reach a
ConfigMap's keys, written when the job's status gets there (the export waits, ACK.Recoverable,
until then) and rewritten when the export changes; a target in another namespace is refused
(ACK.Terminal and a Warning Event naming `spec.to.namespace`, nothing written there); a Secret
target holds the value in base64; an operator without the flag leaves FieldExports alone.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from hpo_operator.identity import FIELD_EXPORT_CRD_NAME, FINISHED_LABEL, GROUP
from support.kube import Kubectl
from support.operator_harness import Jobs, OperatorProcess, job_name, tuning_job, wait_for

FE = "fieldexports.services.k8s.aws"
ENABLED = {"HPO_ENABLE_FIELD_EXPORT_RECONCILER": "true"}


@pytest.fixture
def field_exports(kubectl: Kubectl, crds: None) -> Kubectl:
    """ACK's FieldExport CRD (in crds/, applied with the others) Established."""
    established = 'jsonpath={.status.conditions[?(@.type=="Established")].status}'
    wait_for(
        lambda: kubectl("get", f"crd/{FIELD_EXPORT_CRD_NAME}", "-o", established).stdout == "True",
        60,
        "the FieldExport CRD to be Established",
    )
    return kubectl


def export(name: str, source: str, path: str, kind: str, target: str, **to: str) -> dict[str, Any]:
    return {
        "apiVersion": "services.k8s.aws/v1alpha1",
        "kind": "FieldExport",
        "metadata": {"name": name},
        "spec": {
            "from": {
                "path": path,
                "resource": {"group": GROUP, "kind": "HyperParameterTuningJob", "name": source},
            },
            "to": {"kind": kind, "name": target, **to},
        },
    }


def conditions(kubectl: Kubectl, namespace: str, name: str) -> dict[str, dict[str, str]]:
    body = kubectl.json("get", FE, name, "-n", namespace)
    return {c["type"]: c for c in (body.get("status") or {}).get("conditions") or []}


def wait_condition(
    kubectl: Kubectl, namespace: str, name: str, kind: str, timeout: float = 60.0
) -> dict[str, str]:
    def reached() -> dict[str, str] | None:
        found = conditions(kubectl, namespace, name).get(kind)
        return found if found and found.get("status") == "True" else None

    found: dict[str, str] = wait_for(reached, timeout, f"FieldExport {name} {kind}=True")
    return found


def data(jobs: Jobs, namespace: str, kind: str, name: str) -> dict[str, str]:
    from kubernetes.client.exceptions import ApiException

    try:
        read = (
            jobs.core.read_namespaced_secret
            if kind == "secret"
            else jobs.core.read_namespaced_config_map
        )
        found = read(name, namespace)
    except ApiException as error:
        if error.status == 404:
            return {}
        raise
    return dict(found.data or {})


def run_job(jobs: Jobs, namespace: str) -> dict[str, Any]:
    """The job `tuned` applied and run to Completed; its status."""
    jobs.apply(namespace, tuning_job("tuned", job_name("fe"), max_jobs=3))
    return jobs.wait_state(namespace, "tuned", "Completed")


def test_the_best_jobs_name_and_hyperparameters_reach_a_configmap_and_follow_the_export(
    namespace: str,
    jobs: Jobs,
    field_exports: Kubectl,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    kubectl = field_exports
    jobs.core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "pipeline"}, "data": {"kept": "as it was"}}
    )
    path = ".status.bestTrainingJob.tunedHyperParameters"
    kubectl.apply(
        export("best-hp", "tuned", path, "configmap", "pipeline", key="hp"), "-n", namespace
    )
    name_path = ".status.bestTrainingJob.trainingJobName"
    kubectl.apply(export("best-name", "tuned", name_path, "configmap", "pipeline"), "-n", namespace)
    start_operator(namespace, **ENABLED)

    status = run_job(jobs, namespace)
    best = status["bestTrainingJob"]
    assert best["tunedHyperParameters"]  # the emulator's best job has tuned values

    def exported() -> dict[str, str] | None:
        found = data(jobs, namespace, "configmap", "pipeline")
        return found if "hp" in found and f"{namespace}.best-name" in found else None

    found = wait_for(exported, 60, "both keys in ConfigMap pipeline")
    assert json.loads(found["hp"]) == best["tunedHyperParameters"]
    assert found["hp"] == json.dumps(
        best["tunedHyperParameters"], sort_keys=True, separators=(",", ":")
    )
    assert found[f"{namespace}.best-name"] == best["trainingJobName"]  # ACK's default key
    assert found["kept"] == "as it was"
    synced = wait_condition(kubectl, namespace, "best-hp", "ACK.ResourceSynced")
    assert "ConfigMap pipeline, key hp" in synced["message"]
    assert set(conditions(kubectl, namespace, "best-hp")) == {"ACK.ResourceSynced"}

    # The export's path changes: the key follows at once.
    arn_path = ".status.ackResourceMetadata.arn"
    kubectl.apply(
        export("best-hp", "tuned", arn_path, "configmap", "pipeline", key="hp"), "-n", namespace
    )
    arn = status["ackResourceMetadata"]["arn"]
    wait_for(
        lambda: data(jobs, namespace, "configmap", "pipeline").get("hp") == arn,
        60,
        "key hp to hold the job's ARN",
    )


def test_an_export_waits_for_its_job_and_is_written_when_the_job_completes(
    namespace: str,
    jobs: Jobs,
    field_exports: Kubectl,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    kubectl = field_exports
    start_operator(namespace, **ENABLED)
    path = ".status.bestTrainingJob.trainingJobName"
    kubectl.apply(export("later", "tuned", path, "configmap", "results"), "-n", namespace)
    # No job yet: ACK.Recoverable, nothing written.
    waiting = wait_condition(kubectl, namespace, "later", "ACK.Recoverable")
    assert "'tuned' does not exist" in waiting["message"]
    assert data(jobs, namespace, "configmap", "results") == {}
    status = run_job(jobs, namespace)
    # The job's own watch events (no poll) bring the export; the ConfigMap is created.
    wait_for(
        lambda: (
            data(jobs, namespace, "configmap", "results").get(f"{namespace}.later")
            == status["bestTrainingJob"]["trainingJobName"]
        ),
        60,
        "ConfigMap results to hold the best training job's name",
    )
    wait_condition(kubectl, namespace, "later", "ACK.ResourceSynced")
    assert "ACK.Recoverable" not in conditions(kubectl, namespace, "later")


def test_a_target_in_another_namespace_is_refused_and_a_secret_target_works(
    namespace: str,
    other_namespace: str,
    jobs: Jobs,
    field_exports: Kubectl,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    kubectl = field_exports
    path = ".status.bestTrainingJob.trainingJobName"
    kubectl.apply(
        export("elsewhere", "tuned", path, "configmap", "stolen", namespace=other_namespace),
        "-n",
        namespace,
    )
    kubectl.apply(export("secret", "tuned", path, "secret", "creds", key="best"), "-n", namespace)
    start_operator(namespace, **ENABLED)
    status = run_job(jobs, namespace)

    terminal = wait_condition(kubectl, namespace, "elsewhere", "ACK.Terminal")
    assert terminal["message"].startswith("spec.to.namespace: ")
    assert repr(other_namespace) in terminal["message"] and repr(namespace) in terminal["message"]
    assert conditions(kubectl, namespace, "elsewhere")["ACK.ResourceSynced"]["status"] == "False"
    events = jobs.core.list_namespaced_event(
        namespace, field_selector="involvedObject.name=elsewhere"
    )
    assert any(
        e.type == "Warning" and e.message.startswith("spec.to.namespace: ") for e in events.items
    )

    wait_condition(kubectl, namespace, "secret", "ACK.ResourceSynced")
    stored = data(jobs, namespace, "secret", "creds")["best"]
    assert base64.b64decode(stored).decode() == status["bestTrainingJob"]["trainingJobName"]
    assert data(jobs, other_namespace, "configmap", "stolen") == {}  # nothing written there


def test_without_the_flag_field_exports_are_left_alone(
    namespace: str,
    jobs: Jobs,
    field_exports: Kubectl,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    kubectl = field_exports
    path = ".status.bestTrainingJob.trainingJobName"
    kubectl.apply(export("ignored", "tuned", path, "configmap", "none"), "-n", namespace)
    start_operator(namespace)
    run_job(jobs, namespace)

    def parked() -> bool:  # after the job's last status write: the operator is done with it
        labels = ((jobs.get(namespace, "tuned") or {}).get("metadata") or {}).get("labels") or {}
        return FINISHED_LABEL in labels

    wait_for(parked, 60, "the job's resource to be parked")
    assert conditions(kubectl, namespace, "ignored") == {}
    assert data(jobs, namespace, "configmap", "none") == {}
