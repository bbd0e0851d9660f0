"""Parking: which resources leave kopf's watch, and which come back (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hpo_operator import identity
from hpo_operator.core import parking
from hpo_operator.identity import BOOKKEEPING_PREFIX as PREFIX
from hpo_operator.identity import FINALIZER
from hpo_operator.shell import stall
from hpo_operator.shell.metrics import Metrics

DIFF_BASE = f"{PREFIX}/{identity.DIFF_BASE_KEY}"
OTHER = "example.com/keep"


def body(
    state: str | None = "Completed",
    *,
    generation: int = 2,
    observed: int | None = 2,
    finalizers: tuple[str, ...] = (FINALIZER, OTHER),
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "namespace": "ns",
        "name": "job",
        "uid": "u1",
        "resourceVersion": "41",
        "generation": generation,
        "finalizers": list(finalizers),
        "annotations": {DIFF_BASE: "{}"} if annotations is None else annotations,
        "labels": labels or {},
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-11-27T07:00:00Z"
    status: dict[str, Any] = {}
    if state is not None:
        status["hyperParameterTuningJobStatus"] = state
    if observed is not None:
        status["observedGeneration"] = observed
    return {"metadata": meta, "status": status}


@pytest.mark.parametrize("state", ["Completed", "Failed", "Stopped"])
def test_a_finished_settled_resource_is_parked_and_loses_only_our_finalizer(state: str) -> None:
    assert parking.park(body(state), FINALIZER) == {
        "metadata": {
            "resourceVersion": "41",  # a write since then makes the patch fail (409)
            "labels": {identity.FINISHED_LABEL: state},
            "finalizers": [OTHER],
        }
    }


def test_without_our_finalizer_the_list_is_not_touched() -> None:
    patch = parking.park(body(finalizers=(OTHER,)), FINALIZER)
    assert patch is not None and "finalizers" not in patch["metadata"]


@pytest.mark.parametrize(
    ("why", "resource"),
    [
        ("running", body("InProgress")),
        ("stopping", body("Stopping")),
        ("no job yet", body(None, observed=None)),
        ("spec edited since the status", body(generation=3, observed=2)),
        (
            "ACK wrote the status (no observedGeneration): refreshed first",
            body(observed=None),
        ),
        ("being deleted", body(deleting=True)),
        ("kopf never handled it (no diff-base)", body(annotations={})),
        (
            "a handler is still in progress",
            body(
                annotations={
                    DIFF_BASE: "{}",
                    f"{PREFIX}/reconcile-update": json.dumps(
                        {"started": "2026-11-27T07:00:00Z", "delayed": "2026-11-27T07:01:00Z"}
                    ),
                }
            ),
        ),
        ("already parked", body(labels={identity.FINISHED_LABEL: "Completed"})),
    ],
)
def test_what_stays_in_the_watch(why: str, resource: dict[str, Any]) -> None:
    assert parking.park(resource, FINALIZER) is None, why


def test_a_finished_handlers_record_does_not_keep_it() -> None:
    done = json.dumps({"started": "2026-11-27T07:00:00Z", "success": True})
    resource = body(annotations={DIFF_BASE: "{}", f"{PREFIX}/reconcile-create": done})
    assert parking.park(resource, FINALIZER) is not None


def parked(**kwargs: Any) -> dict[str, Any]:
    return body(labels={identity.FINISHED_LABEL: "Completed"}, finalizers=(OTHER,), **kwargs)


def test_a_parked_resource_stays_parked_while_nothing_changes() -> None:
    assert parking.unpark(parked(), FINALIZER) is None
    assert parking.unpark(body(), FINALIZER) is None  # not parked: nothing to undo


def test_a_spec_edit_brings_it_back_into_the_watch() -> None:
    change = parking.unpark(parked(generation=3, observed=2), FINALIZER)
    assert change is not None
    patch, why = change
    assert patch == {
        "metadata": {"labels": {identity.FINISHED_LABEL: None}, "resourceVersion": "41"}
    }
    assert "generation 3" in why


def test_a_status_that_no_longer_shows_a_finished_job_brings_it_back() -> None:
    change = parking.unpark(parked(state="InProgress"), FINALIZER)
    assert change is not None and "InProgress" in change[1]


def test_deletion_brings_it_back_only_when_our_finalizer_holds_it() -> None:
    assert parking.unpark(parked(deleting=True), FINALIZER) is None  # nothing of ours holds it
    held = body(labels={identity.FINISHED_LABEL: "Completed"}, deleting=True)
    change = parking.unpark(held, FINALIZER)
    assert change is not None and "finalizer" in change[1]


def test_the_stall_sweep_never_reports_a_parked_resource() -> None:
    # No finalizer would otherwise read as "kopf has not added its finalizer".
    assert stall.pending(body(finalizers=()), FINALIZER, PREFIX) is not None
    assert stall.pending(parked(), FINALIZER, PREFIX) is None


def _gauge(metrics: Metrics, name: str, status: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"status": status})


def test_hpo_tuning_jobs_counts_a_job_across_its_parking() -> None:
    """Parked resources leave the watch (kopf's DELETED event forgets them) but stay counted."""
    metrics = Metrics()
    metrics.job_state("u1", "InProgress")
    metrics.job_state("u1", "Completed")
    metrics.job_state("u2", "Completed")
    assert _gauge(metrics, "hpo_tuning_jobs", "Completed") == 2
    metrics.parked_one("Completed")  # the poller parked u1...
    metrics.job_state("u1", None)  # ...and the watch said it is gone from it
    assert _gauge(metrics, "hpo_tuning_jobs", "Completed") == 2
    assert _gauge(metrics, "hpo_resources_parked", "Completed") == 1
    assert _gauge(metrics, "hpo_tuning_jobs", "InProgress") == 0
    # The next sweep counts every parked resource (here 3: two parked by an earlier process).
    metrics.parked_count({"Completed": 3}, ["Completed", "Failed", "Stopped"])
    assert _gauge(metrics, "hpo_tuning_jobs", "Completed") == 4
    assert _gauge(metrics, "hpo_resources_parked", "Failed") == 0
    assert metrics.registry.get_sample_value("hpo_parking_total", {"action": "park"}) == 1


def test_a_deleted_event_tells_a_parked_resource_from_a_deleted_or_moved_one() -> None:
    """The API server's DELETED event for an object that left the watch's label selector carries
    the object as it was before (no label yet): parked when that body was parkable."""
    assert parking.parked_away(body("Completed"), FINALIZER)  # the body parking decided on
    labelled = body("Failed", labels={identity.FINISHED_LABEL: "Failed"}, finalizers=(OTHER,))
    assert parking.parked_away(labelled, FINALIZER)
    assert not parking.parked_away(body("InProgress"), FINALIZER)  # relabelled, still running
    assert not parking.parked_away(body("Completed", deleting=True), FINALIZER)  # deleted
