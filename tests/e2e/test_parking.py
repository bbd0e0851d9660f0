"""Parking: a finished resource leaves kopf's watch, and everything users do with it still works.

A finished job never changes again, so the operator labels its resource and drops its finalizer
(`parking`); kopf watches only unlabelled resources. These tests hold it to what the README
promises for a finished resource: a delete completes at once with no SageMaker call, a spec edit
is still answered (ACK.Terminal "cannot update", within the stall sweep's interval) and reverting
it clears that, a restart costs nothing for it, and a label removed by hand is put back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hpo_emulator.server import RunningEmulator
from hpo_operator.identity import FINALIZER, FINISHED_LABEL
from support.operator_harness import Jobs, OperatorProcess, job_name, stats, tuning_job, wait_for

SWEEP = {"HPO_STALL_SWEEP_INTERVAL": "1", "HPO_STALL_MARGIN": "5"}


def _meta(jobs: Jobs, namespace: str, name: str) -> dict[str, Any]:
    return (jobs.get(namespace, name) or {}).get("metadata") or {}


def _wait_parked(jobs: Jobs, namespace: str, name: str, state: str = "Completed") -> None:
    def parked() -> bool:
        meta = _meta(jobs, namespace, name)
        return (meta.get("labels") or {}).get(FINISHED_LABEL) == state and FINALIZER not in (
            meta.get("finalizers") or []
        )

    wait_for(parked, 60, f"{namespace}/{name} parked ({FINISHED_LABEL}={state}, no finalizer)")


def _calls(emulator: RunningEmulator) -> dict[str, int]:
    return {op: sum(v.values()) for op, v in stats(emulator)["operations"].items()}


def test_a_finished_resource_is_parked_and_deleted_at_once_without_a_call(
    namespace: str,
    jobs: Jobs,
    emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    operator = start_operator(namespace, **SWEEP)
    jobs.apply(namespace, tuning_job("done", job_name("done")))
    jobs.wait_state(namespace, "done", "Completed")

    # The status is written in two steps: the job's state, then its results (`results.py`).
    def with_results() -> dict[str, Any] | None:
        status = jobs.status(namespace, "done")
        return status if "bestTrainingJobModelArtifacts" in status else None

    done = wait_for(with_results, 30, "the job's results in status")
    _wait_parked(jobs, namespace, "done")
    assert jobs.status(namespace, "done") == done  # parking never touches status
    assert operator.metric("hpo_parking_total", '{action="park"}') >= 1
    wait_for(
        lambda: operator.metric("hpo_resources_parked", '{status="Completed"}') == 1,
        30,
        "hpo_resources_parked{status=Completed} 1",
    )
    before = _calls(emulator)
    jobs.delete(namespace, "done")
    jobs.wait_gone(namespace, "done", timeout=10)  # no finalizer: the API server deletes it
    assert _calls(emulator) == before


def test_an_edit_of_a_parked_resource_is_answered_and_reverting_it_clears_that(
    namespace: str,
    jobs: Jobs,
    emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    start_operator(namespace, **SWEEP)
    name = job_name("edit")
    manifest = tuning_job("edited", name)
    jobs.apply(namespace, manifest)
    jobs.wait_state(namespace, "edited", "Completed")
    _wait_parked(jobs, namespace, "edited")
    creates = _calls(emulator).get("CreateHyperParameterTuningJob", 0)

    limits = manifest["spec"]["hyperParameterTuningJobConfig"]["resourceLimits"]
    limits["maxNumberOfTrainingJobs"] = 1
    jobs.apply(namespace, manifest)
    terminal = jobs.wait_condition(namespace, "edited", "ACK.Terminal")
    assert terminal["message"].startswith("SageMaker cannot update a tuning job;")
    assert jobs.status(namespace, "edited")["observedGeneration"] == 2
    _wait_parked(jobs, namespace, "edited")  # nothing to do until the spec changes again

    limits["maxNumberOfTrainingJobs"] = 2
    jobs.apply(namespace, manifest)
    wait_for(
        lambda: jobs.condition(namespace, "edited", "ACK.Terminal") is None,
        60,
        "ACK.Terminal cleared after the revert",
    )
    assert jobs.status(namespace, "edited")["observedGeneration"] == 3
    _wait_parked(jobs, namespace, "edited")
    assert _calls(emulator).get("CreateHyperParameterTuningJob", 0) == creates


def test_a_restart_costs_nothing_for_parked_resources(
    namespace: str,
    jobs: Jobs,
    emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    first = start_operator(namespace, **SWEEP)
    names = [f"old-{i}" for i in range(3)]
    for name in names:
        jobs.apply(namespace, tuning_job(name, job_name(name)))
    for name in names:
        jobs.wait_state(namespace, name, "Completed")
        _wait_parked(jobs, namespace, name)
    handled = first.metrics()
    first.stop()
    versions = {name: _meta(jobs, namespace, name)["resourceVersion"] for name in names}
    before = _calls(emulator)

    second = start_operator(namespace, **SWEEP)
    wait_for(
        lambda: second.metric("hpo_resources_parked", '{status="Completed"}') == 3,
        30,
        "a stall sweep that counted the 3 parked resources",
    )
    assert _calls(emulator) == before  # no SageMaker call for a finished job
    # kopf never listed them: no resume handler ran, nothing was written to them.
    reconciles = r'^hpo_reconcile_total\{result="done",trigger="%s"\} ([0-9.]+)$'
    assert float(re.search(reconciles % "change", handled, re.MULTILINE)[1]) >= 3  # type: ignore[index]
    assert not re.search(reconciles % "resume", second.metrics(), re.MULTILINE)
    assert {name: _meta(jobs, namespace, name)["resourceVersion"] for name in names} == versions


def test_a_label_removed_by_hand_is_put_back(
    namespace: str, jobs: Jobs, start_operator: Callable[..., OperatorProcess]
) -> None:
    start_operator(namespace, **SWEEP)
    jobs.apply(namespace, tuning_job("relabel", job_name("relabel")))
    jobs.wait_state(namespace, "relabel", "Completed")
    _wait_parked(jobs, namespace, "relabel")
    jobs.kubectl(
        "label", "hyperparametertuningjobs", "relabel", "-n", namespace, f"{FINISHED_LABEL}-"
    )
    _wait_parked(jobs, namespace, "relabel")
    assert jobs.condition(namespace, "relabel", "ACK.Terminal") is None
