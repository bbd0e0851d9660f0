"""Lease-based leader election end to end: two `hpo-operator run` processes on one real API server
and an emulator of the test's own (its call counts are this test's).

Only the Lease holder acts; a killed leader is replaced within the lease duration, a stopped one
(SIGTERM) at once; a paused leader (SIGSTOP) is replaced once its lease expires and, resumed,
exits without one more SageMaker call or status write.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hpo_emulator.config import EmulatorConfig
from hpo_emulator.server import RunningEmulator, run_in_thread
from hpo_operator.identity import LEADER_ELECTION_LEASE
from support.fence_only import FENCE_ONLY
from support.operator_harness import Jobs, OperatorProcess, job_name, stats, tuning_job, wait_for

LEASE = LEADER_ELECTION_LEASE  # the default name
LEADER, STANDBY = "replica-a", "replica-b"
LOST = "leader election lost"


def lease_of(k8s_api: Any, namespace: str) -> dict[str, Any] | None:
    """The Lease's spec, or None while there is none."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        lease = client.CoordinationV1Api(k8s_api).read_namespaced_lease(LEASE, namespace)
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    return {
        "holder": lease.spec.holder_identity or "",
        "transitions": lease.spec.lease_transitions or 0,
    }


def wait_holder(k8s_api: Any, namespace: str, holder: str, timeout: float) -> dict[str, Any]:
    def held() -> dict[str, Any] | None:
        lease = lease_of(k8s_api, namespace)
        return lease if lease and lease["holder"] == holder else None

    found: dict[str, Any] = wait_for(held, timeout, f"Lease {namespace}/{LEASE} held by {holder}")
    return found


def writes_seen(k8s_api: Any, jobs: Jobs, namespace: str, name: str) -> dict[str, Any]:
    """What any write in the namespace changes: the job's and the Lease's resourceVersions and
    the Events posted."""
    from kubernetes import client

    job = jobs.get(namespace, name) or {}
    lease = client.CoordinationV1Api(k8s_api).read_namespaced_lease(LEASE, namespace)
    events = jobs.core.list_namespaced_event(namespace).items
    return {
        "job": job["metadata"]["resourceVersion"],
        "lease": lease.metadata.resource_version,
        "events": sorted((e.metadata.name, e.count) for e in events),
    }


def calls_made(operator: OperatorProcess) -> float:
    """SageMaker calls this process made (every operation and outcome), from its /metrics."""
    found = re.findall(r"^hpo_sagemaker_calls_total\{[^}]*\} (\S+)$", operator.metrics(), re.M)
    return sum(float(value) for value in found)


@dataclass
class Replicas:
    leader: OperatorProcess
    standby: OperatorProcess
    emulator: RunningEmulator


Pair = Callable[..., Replicas]


@pytest.fixture
def pair(
    namespace: str, k8s_api: Any, start_operator: Callable[..., OperatorProcess]
) -> Iterator[Pair]:
    """Two replicas with leader election on, against an emulator of the test's own whose jobs
    train for `training` seconds: `replica-a` started first and leading, then `replica-b`
    standing by (`leader_command`: what runs the leader). Durations in seconds."""
    with ExitStack() as stack:

        def start(
            lease: float,
            renew: float,
            training: float = 2.0,
            leader_command: Sequence[str] | None = None,
        ) -> Replicas:
            config = EmulatorConfig(training_seconds=training, stop_seconds=1.0, quotas={})
            emulator = stack.enter_context(run_in_thread(config))

            def replica(identity: str, command: Sequence[str] | None = None) -> OperatorProcess:
                return start_operator(
                    namespace,
                    endpoint=emulator.url,
                    command=command,
                    POD_ID=identity,
                    HPO_LEADER_ELECTION="true",
                    HPO_LEADER_ELECTION_NAMESPACE=namespace,
                    HPO_LEADER_ELECTION_LEASE_DURATION=str(lease),
                    HPO_LEADER_ELECTION_RENEW_DEADLINE=str(renew),
                    HPO_LEADER_ELECTION_RETRY_PERIOD="0.5",
                )

            leader = replica(LEADER, leader_command)
            wait_holder(k8s_api, namespace, LEADER, 60)
            standby = replica(STANDBY)
            wait_for(lambda: f"held by {LEADER}" in standby.log(), 30, "replica-b to stand by")
            return Replicas(leader, standby, emulator)

        yield start


def test_only_the_lease_holder_acts(namespace: str, jobs: Jobs, k8s_api: Any, pair: Pair) -> None:
    replicas = pair(lease=15, renew=10)
    leader, standby = replicas.leader, replicas.standby
    jobs.apply(namespace, tuning_job("one", job_name("le-one")))
    jobs.wait_state(namespace, "one", "Completed", timeout=90)

    assert lease_of(k8s_api, namespace) == {"holder": LEADER, "transitions": 0}
    assert calls_made(leader) > 0
    assert stats(replicas.emulator)["total"] == calls_made(leader)  # every call the emulator saw
    assert calls_made(standby) == 0
    assert standby.metric("hpo_reconcile_total", '{trigger="create",result="ok"}') == 0
    assert "Handler" not in standby.log()  # kopf never ran a handler there: no status write
    assert standby.ready() and standby.healthy()  # a standby is live and ready (rollouts)
    lease = f'{{lease="{namespace}/{LEASE}"}}'
    assert leader.metric("hpo_leader_election_leader", lease) == 1
    assert f"hpo_leader_election_leader{lease} 0.0" in standby.metrics()


def test_killed_leader_is_replaced_within_the_lease_duration(
    namespace: str, jobs: Jobs, k8s_api: Any, pair: Pair
) -> None:
    replicas = pair(lease=4, renew=3, training=6.0)
    leader, standby = replicas.leader, replicas.standby
    jobs.apply(namespace, tuning_job("kill", job_name("le-kill")))
    jobs.wait_state(namespace, "kill", "InProgress", timeout=60)

    leader.kill()  # SIGKILL: no release; the standby waits for the lease to expire
    lease = wait_holder(k8s_api, namespace, STANDBY, 4 + 30)
    assert lease["transitions"] == 1
    done = jobs.wait_state(namespace, "kill", "Completed", timeout=90)
    assert done["trainingJobStatusCounters"]["completed"] == 2
    assert calls_made(standby) > 0


def test_sigterm_releases_the_lease_for_the_standby_at_once(
    namespace: str, jobs: Jobs, k8s_api: Any, pair: Pair
) -> None:
    leader = pair(lease=60, renew=40, training=4.0).leader
    jobs.apply(namespace, tuning_job("term", job_name("le-term")))
    jobs.wait_state(namespace, "term", "InProgress", timeout=60)

    assert leader.process is not None
    leader.process.send_signal(signal.SIGTERM)
    # Without the release, replica-b could not take the Lease before 60 s from the leader's last
    # renewal: held within 30 s proves the clean exit gave it up.
    wait_holder(k8s_api, namespace, STANDBY, 30)
    assert leader.wait_exit(30) == 0
    assert "released Lease" in leader.log()
    jobs.wait_state(namespace, "term", "Completed", timeout=90)


@pytest.mark.parametrize(
    ("command", "why"),
    [
        # Its renew loop or its fence, whichever runs first after the pause, ends it.
        (None, ""),
        # Its renew loop never gives up: only the fence stops its first call or write.
        (FENCE_ONLY, "the acting deadline passed"),
    ],
    ids=["renew-loop", "fence-alone"],
)
def test_paused_leader_never_acts_after_its_lease_expired(
    namespace: str,
    jobs: Jobs,
    k8s_api: Any,
    pair: Pair,
    command: Sequence[str] | None,
    why: str,
) -> None:
    replicas = pair(lease=12, renew=10, training=45.0, leader_command=command)
    leader, standby = replicas.leader, replicas.standby
    jobs.apply(namespace, tuning_job("pause", job_name("le-pause")))
    jobs.wait_state(namespace, "pause", "InProgress", timeout=60)
    a, b = leader.running().pid, standby.running().pid

    os.kill(a, signal.SIGSTOP)
    try:
        wait_holder(k8s_api, namespace, STANDBY, 12 + 30)
        wait_for(lambda: calls_made(standby) > 0, 30, "replica-b polling the job")
        # Pause the new leader too (for less than its 10 s renew deadline: the old one exits in
        # about a second), so that every SageMaker call and every write from now on can only be
        # the resumed old leader's.
        os.kill(b, signal.SIGSTOP)
        try:
            calls = stats(replicas.emulator)["total"]
            before = writes_seen(k8s_api, jobs, namespace, "pause")
            os.kill(a, signal.SIGCONT)
            assert leader.wait_exit(30) == 1  # it noticed its lease was gone and exited
            assert f"{LOST}: {why}" in leader.log() if why else LOST in leader.log()
            assert stats(replicas.emulator)["total"] == calls  # no SageMaker call
            # No write to the job (status, annotations, finalizer), no Event, no Lease write.
            assert writes_seen(k8s_api, jobs, namespace, "pause") == before
        finally:
            os.kill(b, signal.SIGCONT)
    finally:
        if leader.process is not None and leader.process.poll() is None:
            os.kill(a, signal.SIGCONT)

    done = jobs.wait_state(namespace, "pause", "Completed", timeout=120)
    assert done["trainingJobStatusCounters"]["completed"] == 2
    assert LOST not in standby.log()
    assert lease_of(k8s_api, namespace) == {"holder": STANDBY, "transitions": 1}


def test_the_lease_adapter_writes_only_on_the_version_it_read(
    namespace: str, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """adapters.lease.Leases on the real API server: a second create and a write on a stale
    resourceVersion both lose (409), and say so by None; what is written reads back."""
    import kopf

    from hpo_operator.adapters.lease import Leases
    from hpo_operator.shell.handlers import connection_info, pooled_session

    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    settings = kopf.OperatorSettings()

    def connect() -> kopf.AiohttpSession:
        info = connection_info(logger=logging.getLogger("test"), settings=settings)
        assert info is not None
        return pooled_session(info, 2)

    async def scenario() -> None:
        leases = Leases(settings, connect, namespace, "adapter")
        try:
            assert await leases.get() is None
            spec = {"holderIdentity": LEADER, "leaseDurationSeconds": 15, "leaseTransitions": 0}
            created = await leases.create(spec)
            assert created is not None and created.holder == LEADER
            assert await leases.create({**spec, "holderIdentity": STANDBY}) is None
            taken = await leases.update({**spec, "holderIdentity": STANDBY}, created.version)
            assert taken is not None and taken.holder == STANDBY
            # The leader's renewal decided on the version it read before: someone else won.
            assert await leases.update(spec, created.version) is None
            assert await leases.get() == taken
        finally:
            await leases.close()

    asyncio.run(scenario())
