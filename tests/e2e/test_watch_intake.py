"""Resources applied together reach kopf a few at a time (core/intake.py), all of them, in order.

Real kube-apiserver, the emulator, `hpo-operator run` with `HPO_WATCH_INTAKE=2`: one `kubectl
apply` of twelve resources, so most first sights wait behind two being handled. What a user sees
must not change: every job created once, every resource with its ARN and Synced; one deleted while
it may still be waiting never gets a job, and its finalizer goes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hpo_emulator.server import RunningEmulator
from support.operator_harness import Jobs, OperatorProcess, job_name, stats, tuning_job, wait_for

CREATE = "CreateHyperParameterTuningJob"
COUNT = 12


def test_a_burst_reaches_kopf_a_few_at_a_time_and_every_resource_is_handled(
    namespace: str,
    jobs: Jobs,
    emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    before = sum(stats(emulator)["operations"].get(CREATE, {}).values())
    operator = start_operator(namespace, endpoint=emulator.url, HPO_WATCH_INTAKE="2")
    # First one resource, so that the burst arrives on the watch, not in kopf's first listing
    # (a listing hands kopf everything at once, as before).
    first = "intake-first"
    jobs.apply(namespace, tuning_job(first, job_name(first)))
    wait_for(lambda: (jobs.status(namespace, first).get("ackResourceMetadata") or {}).get("arn"),
             60, "the first resource's ARN")  # fmt: skip
    before += 1
    names = [f"intake-{i:02d}" for i in range(COUNT)]
    items = [tuning_job(name, job_name(name)) for name in names]
    jobs.apply(namespace, {"apiVersion": "v1", "kind": "List", "items": items})
    deleted = names[-1]
    jobs.delete(namespace, deleted)
    jobs.wait_gone(namespace, deleted, timeout=60)

    def synced(name: str) -> dict[str, Any] | None:
        status = jobs.status(namespace, name)
        ready = {c["type"]: c["status"] for c in status.get("conditions") or []}
        arn = (status.get("ackResourceMetadata") or {}).get("arn")
        return status if arn and ready.get("ACK.ResourceSynced") else None

    for name in names[:-1]:
        wait_for(lambda n=name: synced(n), 120, f"{name} created and synced")
    assert operator.metric("hpo_watch_intake_held_total") >= 1  # some first sights did wait
    waiting = "hpo_watch_intake_waiting"
    assert wait_for(lambda: operator.metric(waiting) == 0, 30, "none waiting")
    creates = stats(emulator)["operations"].get(CREATE, {})
    # each job once; the deleted resource's maybe (it may have been created before the delete
    # arrived), never twice
    assert COUNT - 1 <= sum(creates.values()) - before <= COUNT, creates
