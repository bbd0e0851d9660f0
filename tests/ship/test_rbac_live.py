"""The operator running under exactly the chart's RBAC: jobs reach Completed, nothing is refused;
and with two replicas, Lease leader election (the chart's default) or kopf peering lets one act
while the other waits, then takes over.

Why: the Role is compared with hpo_operator.shell.rbac in test_chart_rbac.py, but only running the
real operator with the chart's ServiceAccount token proves the list is complete (kopf's own calls
included). The peering test shows what the chart's multi-replica mode guarantees: one active
instance, and a standby that resumes when the active one exits.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hpo_devtools.wait import wait_for
from hpo_emulator.server import RunningEmulator
from ship.chart import Helm
from ship.live import (
    JOBS,
    Operator,
    completed,
    install,
    operator_under_chart,
    sample_job,
    service_account_kubeconfig,
)
from support.fieldexports import BEST_NAME, field_export, wait_established
from support.kube import Kubectl, unique_name

pytestmark = pytest.mark.e2e


def test_operator_under_namespace_scope_rbac(
    helm: Helm,
    kubeconfig: Path,
    kubectl: Kubectl,
    namespace: str,
    emulator: RunningEmulator,
    release: str,
    tmp_path: Path,
) -> None:
    operator = operator_under_chart(
        helm, kubeconfig, kubectl, release, namespace, emulator.url, tmp_path
    )
    try:
        wait_for(operator.ready, 60, "the operator's /readyz")
        manifest = sample_job(unique_name("rbac-live", max_length=32))
        name = manifest["metadata"]["name"]
        kubectl.apply(manifest, "-n", namespace)
        wait_for(lambda: completed(kubectl, namespace, name), 120, f"{name} to complete")
        events = kubectl.json(
            "get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}"
        )
        assert events["items"], "the operator could not post Events"
        # Deleting goes through the finalizer, also under the chart's RBAC.
        kubectl("delete", JOBS, name, "-n", namespace, "--timeout=60s")
    finally:
        operator.stop()
    assert not operator.refusals(), "\n".join(operator.refusals()[:20])


def test_two_replicas_with_peering_one_acts_then_the_other_takes_over(
    helm: Helm,
    kubeconfig: Path,
    kubectl: Kubectl,
    namespace: str,
    emulator: RunningEmulator,
    release: str,
    tmp_path: Path,
) -> None:
    peering = {"installScope": "namespace", "replicaCount": 2, "leaderElection": {"enabled": False}}
    install(helm, kubeconfig, release, namespace, peering)
    fullname = f"{release}-hpo-operator"
    kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{JOBS}")
    kubectl("get", "kopfpeerings.kopf.dev", fullname, "-n", namespace)
    account = service_account_kubeconfig(
        kubeconfig, kubectl, namespace, fullname, tmp_path / "sa.kubeconfig"
    )
    env = {
        "HPO_NAMESPACES": namespace,
        "HPO_ENDPOINT_URL": emulator.url,
        "HPO_PEERING_NAME": fullname,
        "HPO_CARM_NAMESPACE": namespace,  # the chart's: the release namespace
        "HPO_LOG_LEVEL": "DEBUG",  # kopf logs pausing and resuming at INFO
    }
    resumed = "Resuming operations after the pause"

    def peers() -> dict[str, Any]:
        body = kubectl.json("get", "kopfpeerings.kopf.dev", fullname, "-n", namespace)
        return {k: v for k, v in (body.get("status") or {}).items() if isinstance(v, dict)}

    # One replica first, then the second, so the second's first look at the peering object
    # already shows the first: which one acts then follows from the two random priorities.
    replicas = [Operator(account, tmp_path / "replica-0.log", env)]
    try:
        wait_for(replicas[0].ready, 60, "the first replica's /readyz")
        wait_for(lambda: resumed in replicas[0].log(), 60, "the first replica to start acting")
        (first_id,) = wait_for(peers, 60, "the first replica's keep-alive")
        replicas.append(Operator(account, tmp_path / "replica-1.log", env))
        wait_for(replicas[1].ready, 60, "the second replica's /readyz")
        both = wait_for(lambda: two if len(two := peers()) == 2 else None, 60, "two keep-alives")
        (second_id,) = set(both) - {first_id}
        if both[second_id]["priority"] > both[first_id]["priority"]:
            active, standby = replicas[1], replicas[0]
            wait_for(lambda: resumed in active.log(), 60, "the second replica to act")
            wait_for(
                lambda: "Pausing operations in favour of" in standby.log(),
                60,
                "the first replica to give way",
            )
        else:
            active, standby = replicas[0], replicas[1]
        assert resumed not in standby.log().split("Pausing operations in favour of")[-1]

        before = standby.log().count(resumed)

        def take_over() -> None:
            # The active replica exits cleanly: it withdraws from the peering, the standby resumes.
            active.stop()
            wait_for(lambda: standby.log().count(resumed) > before, 90, "the standby to resume")

        one_acts_then_the_other(kubectl, namespace, active, standby, take_over, "peer")
    finally:
        stop_and_check(replicas)


def test_two_replicas_elect_a_leader_under_the_charts_rbac(
    helm: Helm,
    kubeconfig: Path,
    kubectl: Kubectl,
    namespace: str,
    emulator: RunningEmulator,
    release: str,
    tmp_path: Path,
) -> None:
    """The chart's default with two replicas: leader election, with only the Role it ships for
    the Lease (create; get and update by name)."""
    install(helm, kubeconfig, release, namespace, {"installScope": "namespace", "replicaCount": 2})
    fullname = f"{release}-hpo-operator"
    kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{JOBS}")
    account = service_account_kubeconfig(
        kubeconfig, kubectl, namespace, fullname, tmp_path / "sa.kubeconfig"
    )
    env = {
        "HPO_NAMESPACES": namespace,
        "HPO_ENDPOINT_URL": emulator.url,
        "HPO_CARM_NAMESPACE": namespace,
        # The chart's (templates/deployment.yaml), with a shorter retry period.
        "HPO_LEADER_ELECTION": "true",
        "HPO_LEADER_ELECTION_NAMESPACE": namespace,
        "HPO_LEADER_ELECTION_ID": f"{fullname}-leader",
        "HPO_LEADER_ELECTION_RETRY_PERIOD": "0.5",
    }

    def holder() -> str:
        path = "jsonpath={.spec.holderIdentity}"
        lease = f"lease/{fullname}-leader"
        return str(kubectl("get", lease, "-n", namespace, "-o", path, check=False).stdout)

    replicas = [Operator(account, tmp_path / "replica-0.log", {**env, "POD_ID": "replica-0"})]
    try:
        wait_for(replicas[0].ready, 60, "the first replica's /readyz")
        wait_for(lambda: holder() == "replica-0", 60, "the first replica to hold the Lease")
        replicas.append(
            Operator(account, tmp_path / "replica-1.log", {**env, "POD_ID": "replica-1"})
        )
        leader, standby = replicas
        wait_for(standby.ready, 60, "the standby's /readyz")

        def take_over() -> None:
            leader.stop()  # SIGTERM: kopf stops, then the Lease is released
            wait_for(lambda: holder() == "replica-1", 30, "the standby to take the Lease")

        one_acts_then_the_other(kubectl, namespace, leader, standby, take_over, "lease")
    finally:
        stop_and_check(replicas)
    for replica in replicas:
        assert "leader election: could not" not in replica.log(), replica.tail()


def one_acts_then_the_other(
    kubectl: Kubectl,
    namespace: str,
    active: Operator,
    standby: Operator,
    take_over: Callable[[], None],
    hint: str,
) -> None:
    """A job completes, created by `active` alone; `take_over()` stops it and waits for the
    standby to act; a second job completes, created by the standby."""
    first = sample_job(unique_name(f"{hint}-a", max_length=32))
    kubectl.apply(first, "-n", namespace)
    name = first["metadata"]["name"]
    wait_for(lambda: completed(kubectl, namespace, name), 120, f"{name} to complete")
    assert f"Created SageMaker tuning job {name}" in active.log()
    assert name not in standby.log()
    take_over()
    second = sample_job(unique_name(f"{hint}-b", max_length=32))
    kubectl.apply(second, "-n", namespace)
    other = second["metadata"]["name"]
    wait_for(lambda: completed(kubectl, namespace, other), 120, f"{other} to complete")
    assert f"Created SageMaker tuning job {other}" in standby.log()


def stop_and_check(replicas: list[Operator]) -> None:
    """Stop every replica; none was refused anything by the chart's RBAC."""
    for replica in replicas:
        replica.stop()
    for replica in replicas:
        assert not replica.refusals(), "\n".join(replica.refusals()[:20])


def test_field_export_and_a_selector_under_the_charts_rbac(
    helm: Helm,
    kubeconfig: Path,
    kubectl: Kubectl,
    namespace: str,
    emulator: RunningEmulator,
    release: str,
    tmp_path: Path,
) -> None:
    """fieldExport.enabled grants what the exporter calls: its FieldExport watch and status, the
    source read through the selector, ConfigMaps and Secrets created and patched, its Events."""
    operator = operator_under_chart(
        helm,
        kubeconfig,
        kubectl,
        release,
        namespace,
        emulator.url,
        tmp_path,
        values={"fieldExport": {"enabled": True}, "watchSelectors": "team=live"},
        env={"HPO_ENABLE_FIELD_EXPORT_RECONCILER": "true", "HPO_WATCH_SELECTORS": "team=live"},
    )
    try:
        wait_established(kubectl)
        wait_for(operator.ready, 60, "the operator's /readyz")
        manifest = sample_job(unique_name("rbac-fe", max_length=32))
        manifest["metadata"]["labels"] = {"team": "live"}
        name = manifest["metadata"]["name"]
        kubectl.apply(manifest, "-n", namespace)
        for export in (
            field_export("to-configmap", name, BEST_NAME, "configmap", "results"),
            field_export("to-secret", name, BEST_NAME, "secret", "results", key="best"),
            field_export("refused", name, BEST_NAME, "configmap", "x", namespace="default"),
        ):
            kubectl.apply(export, "-n", namespace)
        wait_for(lambda: completed(kubectl, namespace, name), 120, f"{name} to complete")
        for kind in ("configmap", "secret"):
            wait_for(
                lambda kind=kind: (
                    kubectl("get", kind, "results", "-n", namespace, check=False).returncode == 0
                ),
                60,
                f"{kind} results",
            )
        secret = kubectl.json("get", "secret", "results", "-n", namespace)
        assert "best" in secret["data"]
        events = kubectl.json(
            "get", "events", "-n", namespace, "--field-selector", "involvedObject.name=refused"
        )
        assert events["items"], "the operator could not post the FieldExport's Event"
    finally:
        operator.stop()
    assert not operator.refusals(), "\n".join(operator.refusals()[:20])
