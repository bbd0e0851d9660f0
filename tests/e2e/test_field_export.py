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

import pytest

from hpo_operator.identity import FINISHED_LABEL
from support.fieldexports import BEST_NAME, ENABLED, Exports, wait_established
from support.kube import Kubectl
from support.operator_harness import Jobs, OperatorProcess, wait_for


@pytest.fixture
def fe(
    namespace: str, jobs: Jobs, kubectl: Kubectl, start_operator: Callable[..., OperatorProcess]
) -> Exports:
    wait_established(kubectl)
    return Exports(namespace, jobs, kubectl, start_operator)


def test_the_best_jobs_name_and_hyperparameters_reach_a_configmap_and_follow_the_export(
    fe: Exports,
) -> None:
    fe.jobs.core.create_namespaced_config_map(
        fe.namespace, {"metadata": {"name": "pipeline"}, "data": {"kept": "as it was"}}
    )
    tuned = ".status.bestTrainingJob.tunedHyperParameters"
    fe.apply("best-hp", tuned, "configmap", "pipeline", key="hp")
    fe.apply("best-name", BEST_NAME, "configmap", "pipeline")
    fe.start_operator(fe.namespace, **ENABLED)

    status = fe.run_job()
    best = status["bestTrainingJob"]
    assert best["tunedHyperParameters"]  # the emulator's best job has tuned values

    def exported() -> dict[str, str] | None:
        found = fe.data("configmap", "pipeline")
        return found if "hp" in found and f"{fe.namespace}.best-name" in found else None

    found = wait_for(exported, 60, "both keys in ConfigMap pipeline")
    assert json.loads(found["hp"]) == best["tunedHyperParameters"]
    compact = json.dumps(best["tunedHyperParameters"], sort_keys=True, separators=(",", ":"))
    assert found["hp"] == compact
    assert found[f"{fe.namespace}.best-name"] == best["trainingJobName"]  # ACK's default key
    assert found["kept"] == "as it was"
    synced = fe.wait_condition("best-hp", "ACK.ResourceSynced")
    assert "ConfigMap pipeline, key hp" in synced["message"]
    assert set(fe.conditions("best-hp")) == {"ACK.ResourceSynced"}

    # The export's path changes: the key follows at once.
    fe.apply("best-hp", ".status.ackResourceMetadata.arn", "configmap", "pipeline", key="hp")
    arn = status["ackResourceMetadata"]["arn"]
    wait_for(
        lambda: fe.data("configmap", "pipeline").get("hp") == arn, 60, "key hp to hold the ARN"
    )


def test_an_export_waits_for_its_job_and_is_written_when_the_job_completes(fe: Exports) -> None:
    fe.start_operator(fe.namespace, **ENABLED)
    fe.apply("later", BEST_NAME, "configmap", "results")
    # No job yet: ACK.Recoverable, nothing written.
    waiting = fe.wait_condition("later", "ACK.Recoverable")
    assert "'tuned' does not exist" in waiting["message"]
    assert fe.data("configmap", "results") == {}
    best = fe.run_job()["bestTrainingJob"]["trainingJobName"]
    # The job's own watch events (no poll) bring the export; the ConfigMap is created.
    wait_for(
        lambda: fe.data("configmap", "results").get(f"{fe.namespace}.later") == best,
        60,
        "ConfigMap results to hold the best training job's name",
    )
    fe.wait_condition("later", "ACK.ResourceSynced")
    assert "ACK.Recoverable" not in fe.conditions("later")


def test_a_target_in_another_namespace_is_refused_and_a_secret_target_works(
    fe: Exports, other_namespace: str
) -> None:
    fe.apply("elsewhere", BEST_NAME, "configmap", "stolen", namespace=other_namespace)
    fe.apply("secret", BEST_NAME, "secret", "creds", key="best")
    fe.start_operator(fe.namespace, **ENABLED)
    status = fe.run_job()

    terminal = fe.wait_condition("elsewhere", "ACK.Terminal")
    assert terminal["message"].startswith("spec.to.namespace: ")
    assert repr(other_namespace) in terminal["message"]
    assert repr(fe.namespace) in terminal["message"]
    assert fe.conditions("elsewhere")["ACK.ResourceSynced"]["status"] == "False"
    events = fe.jobs.core.list_namespaced_event(
        fe.namespace, field_selector="involvedObject.name=elsewhere"
    )
    assert any(
        e.type == "Warning" and e.message.startswith("spec.to.namespace: ") for e in events.items
    )

    fe.wait_condition("secret", "ACK.ResourceSynced")
    stored = fe.data("secret", "creds")["best"]
    assert base64.b64decode(stored).decode() == status["bestTrainingJob"]["trainingJobName"]
    assert fe.data("configmap", "stolen", other_namespace) == {}  # nothing written there


def test_without_the_flag_field_exports_are_left_alone(fe: Exports) -> None:
    fe.apply("ignored", BEST_NAME, "configmap", "none")
    fe.start_operator(fe.namespace)
    fe.run_job()

    def parked() -> bool:  # after the job's last status write: the operator is done with it
        meta = (fe.jobs.get(fe.namespace, "tuned") or {}).get("metadata") or {}
        return FINISHED_LABEL in (meta.get("labels") or {})

    wait_for(parked, 60, "the job's resource to be parked")
    assert fe.conditions("ignored") == {}
    assert fe.data("configmap", "none") == {}


def test_a_refused_write_is_recoverable_and_retried_until_it_succeeds(fe: Exports) -> None:
    # An immutable ConfigMap refuses the patch (422): ACK.Recoverable with the API's message,
    # retried with backoff; once it is replaced by a writable one, the retry writes the key.
    fe.jobs.core.create_namespaced_config_map(
        fe.namespace, {"metadata": {"name": "frozen"}, "data": {"a": "b"}, "immutable": True}
    )
    fe.apply("blocked", BEST_NAME, "configmap", "frozen", key="best")
    fe.start_operator(fe.namespace, HPO_BACKOFF_BASE="0.5", HPO_BACKOFF_CAP="2", **ENABLED)
    best = fe.run_job()["bestTrainingJob"]["trainingJobName"]
    refused = fe.wait_condition("blocked", "ACK.Recoverable")
    assert "APIUnprocessableEntityError" in refused["message"] or "immutable" in refused["message"]
    fe.jobs.core.delete_namespaced_config_map("frozen", fe.namespace)
    wait_for(
        lambda: fe.data("configmap", "frozen").get("best") == best,
        60,
        "the retry to create ConfigMap frozen with the key",
    )
    fe.wait_condition("blocked", "ACK.ResourceSynced")
    assert "ACK.Recoverable" not in fe.conditions("blocked")
