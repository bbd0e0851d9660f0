"""kill -9 the operator at random points of create/delete cycles, restart it, and check the
promises: no duplicate SageMaker job, no job left running for a deleted resource, no finalizer
stuck, and every remaining resource's status equal to what SageMaker says.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from support.faultkit import FINISHED, Emulator, Resources, report, seeded, size, stuck_finalizers
from support.operator_harness import OperatorProcess, job_name, tuning_job, wait_for


def test_kill_minus_nine_during_create_delete_cycles(
    namespace: str,
    resources: Resources,
    emulators: Callable[..., Emulator],
    operators: Callable[..., OperatorProcess],
) -> None:
    cycles = size(ci=3, full=50)  # CI: two deleted, one kept
    rng, seed = seeded("kill")
    emulator = emulators(training_seconds=1.0, stop_seconds=0.5)
    operator = operators(emulator.url, [namespace])
    kills = 0
    created: dict[str, str] = {}  # resource name → job name
    deleted: set[str] = set()

    def kill_after(delay: float) -> None:
        nonlocal kills
        time.sleep(delay)
        operator.kill()
        kills += 1
        operator.start()

    started = time.monotonic()
    for cycle in range(cycles):
        name = f"r{cycle}"
        created[name] = job_name(f"kill{cycle}")
        manifest = tuning_job(name, created[name], max_jobs=rng.choice([2, 6]), parallel=1)
        resources.create(namespace, manifest)
        kill_after(rng.uniform(0.0, 2.5))  # at create, at the status write, or while polling
        if cycle % 3 != 2:  # two resources in three are deleted, at a random moment
            time.sleep(rng.uniform(0.0, 2.5))
            resources.delete(namespace, name)
            deleted.add(name)
            kill_after(rng.uniform(0.0, 0.6))  # at the Stop, while Stopping, or at release

    kept = sorted(set(created) - deleted)
    convergence = time.monotonic()
    for name in sorted(deleted):
        resources.wait_gone(namespace, name, timeout=120)
    for name in kept:
        resources.wait_state(namespace, name, FINISHED, timeout=120)
    converged_after = time.monotonic() - convergence

    jobs = emulator.job_states()
    creates = emulator.calls().get("CreateHyperParameterTuningJob", {})
    owners = [tags.get("services.k8s.aws/name") for _, tags in jobs.values()]
    duplicates = len(owners) - len(set(owners))
    assert duplicates == 0, owners
    assert creates.get("ok", 0) == len(jobs) <= len(created)
    for name in kept:
        assert created[name].lower() in jobs, f"{name} has no job"
    still_running = [
        name
        for name in deleted
        if jobs.get(created[name].lower(), ("gone", {}))[0] in ("InProgress", "Stopping")
    ]
    assert still_running == []
    assert stuck_finalizers(resources, namespace) == []

    def consistent() -> list[tuple[str, Any, Any]]:
        jobs_now = emulator.job_states()
        wrong = []
        for name in kept:
            status = resources.status(namespace, name)
            truth = jobs_now[created[name].lower()][0]
            arn = (status.get("ackResourceMetadata") or {}).get("arn", "")
            if status.get("hyperParameterTuningJobStatus") != truth or not arn.endswith(
                "/" + created[name].lower()
            ):
                wrong.append((name, status.get("hyperParameterTuningJobStatus"), truth))
        return wrong

    wait_for(lambda: not consistent(), 60, f"status consistent with SageMaker: {consistent()}")
    report(
        "kill_operator",
        {
            "seed": seed,
            "cycles": cycles,
            "kills": kills,
            "resources": len(created),
            "deleted": len(deleted),
            "jobs_in_sagemaker": len(jobs),
            "create_calls": creates,
            "duplicates": duplicates,
            "left_running_after_delete": len(still_running),
            "stuck_finalizers": 0,
            "seconds_total": round(time.monotonic() - started, 1),
            "seconds_to_converge_after_last_kill": round(converged_after, 1),
            "calls": emulator.calls(),
        },
    )
