"""The stall sweep's pure decisions: which listed resources kopf has not finished with
(`stall.pending`), and which of those show no progress for too long (`stall.decide`); and the
shell (`stall.Sweeper`) over a fake API server: pages, touches, the metric, one Event per stall."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import kopf

from hpo_operator.identity import BOOKKEEPING_PREFIX as PREFIX
from hpo_operator.identity import FINALIZER, TOUCH_KEY
from hpo_operator.polling.strategy import Owner
from hpo_operator.shell.metrics import Metrics
from hpo_operator.shell.stall import (
    PAGE_SIZE,
    UNFOLLOWED,
    Pending,
    Seen,
    Sweeper,
    decide,
    pending,
)

DIFF_BASE = f"{PREFIX}/last-handled-configuration"


def body(
    *,
    finalizer: bool = True,
    annotations: dict[str, str] | None = None,
    deleting: bool = False,
    generation: int = 1,
    status: dict[str, Any] | None = None,
    version: str = "7",
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "namespace": "ns",
        "name": "job",
        "uid": "u1",
        "resourceVersion": version,
        "generation": generation,
        "annotations": dict(annotations or {}),
        "finalizers": [FINALIZER] if finalizer else [],
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-11-27T03:00:00Z"
    return {"metadata": meta, "spec": {}, "status": dict(status or {})}


def record(**fields: Any) -> str:
    return json.dumps({"started": "2026-11-27T03:00:00.000000+00:00", **fields})


def handled(**extra: str) -> dict[str, str]:
    return {DIFF_BASE: '{"spec":{}}', f"{PREFIX}/kopf-managed": "yes", **extra}


def test_a_handled_resource_is_not_pending() -> None:
    assert pending(body(annotations=handled()), FINALIZER, PREFIX) is None
    done = body(annotations=handled(), status={"observedGeneration": 1})
    assert pending(done, FINALIZER, PREFIX) is None


def test_only_the_finalizer_no_progress_no_diff_base_is_pending() -> None:
    """The 60 of the burst: kopf added its finalizer and nothing else ever happened."""
    found = pending(body(), FINALIZER, PREFIX)
    assert found is not None and found.why == "no handler has run" and found.due is None


def test_no_finalizer_is_pending_unless_deleting() -> None:
    found = pending(body(finalizer=False), FINALIZER, PREFIX)
    assert found is not None and "finalizer" in found.why
    assert pending(body(finalizer=False, deleting=True), FINALIZER, PREFIX) is None


def test_a_delayed_handler_is_pending_until_its_due_time() -> None:
    """The 4 of the burst: a throttled Create whose retry never ran."""
    delayed = record(delayed="2026-11-27T03:00:20.000000+00:00", retries=1)
    found = pending(body(annotations={f"{PREFIX}/reconcile-create": delayed}), FINALIZER, PREFIX)
    assert found is not None
    assert found.why.startswith("reconcile-create delayed until 2026-11-27T03:00:20")
    assert found.due is not None and found.due > 0


def test_finished_records_and_touch_are_not_pending_work() -> None:
    annotations = handled(
        **{
            f"{PREFIX}/reconcile-create": record(success=True),
            f"{PREFIX}/touch-dummy": "2026-11-27T03:00:00",
        }
    )
    assert pending(body(annotations=annotations), FINALIZER, PREFIX) is None


def test_a_running_handler_is_pending() -> None:
    found = pending(body(annotations={f"{PREFIX}/finalize": record()}), FINALIZER, PREFIX)
    assert found is not None and "finalize started at" in found.why


def test_deleting_with_the_finalizer_is_pending() -> None:
    found = pending(body(annotations=handled(), deleting=True), FINALIZER, PREFIX)
    assert found is not None and "deleted" in found.why


def test_a_spec_change_not_handled_is_pending() -> None:
    stale = body(annotations=handled(), generation=3, status={"observedGeneration": 2})
    found = pending(stale, FINALIZER, PREFIX)
    assert found is not None and "generation 3" in found.why


def one(version: str = "7", due: float | None = None) -> Pending:
    return Pending("ns", "job", "u1", version, "no handler has run", due)


def test_first_sight_is_remembered_not_reported() -> None:
    memory, stalls = decide([one()], {}, now=100.0, margin=10.0)
    assert stalls == [] and memory == {"u1": Seen("7", 100.0)}


def test_no_progress_for_the_margin_is_a_stall_reported_once() -> None:
    memory, stalls = decide([one()], {"u1": Seen("7", 100.0)}, now=110.0, margin=10.0)
    assert [(s.idle, s.report, s.touch) for s in stalls] == [(10.0, True, True)]
    memory, stalls = decide([one()], memory, now=115.0, margin=10.0)
    assert [(s.report, s.touch) for s in stalls] == [(False, False)]  # touched 5 s ago
    memory, stalls = decide([one()], memory, now=120.0, margin=10.0)
    assert [(s.idle, s.report, s.touch) for s in stalls] == [(20.0, False, True)]


def test_a_backlog_is_acted_on_a_slice_per_sweep_the_longest_idle_first() -> None:
    """Thousands stalled at once is a backlog: touching them all would add to the load."""
    found = [Pending("ns", f"job-{i}", f"u{i}", "7", "no handler has run") for i in range(120)]
    seen = {f"u{i}": Seen("7", float(i)) for i in range(120)}  # u0 idle longest
    memory, stalls = decide(found, seen, now=200.0, margin=10.0, limit=50)
    assert len(stalls) == 120  # all counted (hpo_resources_stalled)
    acted = [s.pending.uid for s in stalls if s.touch or s.report]
    assert acted == [f"u{i}" for i in range(50)]
    memory, stalls = decide(found, memory, now=201.0, margin=10.0, limit=50)
    reported = [s.pending.uid for s in stalls if s.report]
    assert reported == [f"u{i}" for i in range(50, 100)]  # the next slice, reported once each


def test_any_write_is_progress() -> None:
    memory, stalls = decide([one("8")], {"u1": Seen("7", 0.0)}, now=500.0, margin=10.0)
    assert stalls == [] and memory["u1"] == Seen("8", 500.0)


def test_a_delayed_handler_is_not_stalled_before_its_delay_plus_margin() -> None:
    seen = {"u1": Seen("7", 100.0)}
    _, stalls = decide([one(due=200.0)], seen, now=205.0, margin=10.0)
    assert stalls == []
    _, stalls = decide([one(due=200.0)], seen, now=210.0, margin=10.0)
    assert len(stalls) == 1


def test_finished_resources_are_forgotten() -> None:
    memory, stalls = decide([], {"u1": Seen("7", 0.0)}, now=500.0, margin=10.0)
    assert memory == {} and stalls == []


class FakeKube:
    """The API server as the sweeper sees it: pages of bodies, annotation patches, Events."""

    def __init__(self, bodies: list[dict[str, Any]]) -> None:
        self.bodies = bodies
        self.pages: list[tuple[str | None, str]] = []
        self.touched: list[dict[str, str]] = []
        self.events: list[tuple[str, str]] = []

    async def list_page(
        self, namespace: str | None, limit: int, token: str = ""
    ) -> tuple[list[dict[str, Any]], str]:
        self.pages.append((namespace, token))
        start = int(token or 0)
        end = start + limit
        return self.bodies[start:end], str(end) if end < len(self.bodies) else ""

    async def patch_annotations(
        self, namespace: str, name: str, annotations: Mapping[str, str]
    ) -> str | None:
        self.touched.append(dict(annotations))
        return "8"  # the touch's own resourceVersion

    async def patch_metadata(self, namespace: str, name: str, patch: Mapping[str, Any]) -> bool:
        raise AssertionError("nothing here is parked")

    async def post_event(self, body: Any, type: str, reason: str, message: str) -> None:
        self.events.append((reason, message))


def test_the_sweeper_lists_in_pages_touches_counts_and_reports_once() -> None:
    settings = kopf.OperatorSettings()
    settings.persistence.finalizer = FINALIZER
    resource = kopf.Resource("g", "v1", "things", kind="Thing", namespaced=True)
    clock = [1000.0]
    metrics = Metrics()
    sweeper = Sweeper(settings, resource, ["ns"], 1.0, 10.0, metrics, PREFIX, lambda: clock[0])
    settled = [body(annotations=handled()) for _ in range(PAGE_SIZE)]
    kube = FakeKube([*settled, body()])  # the last one never handled
    sweeper.kube = kube

    def sweep() -> int:
        return len(asyncio.run(sweeper.sweep()))

    assert sweep() == 0 and kube.pages == [("ns", ""), ("ns", str(PAGE_SIZE))]
    clock[0] += 10
    assert sweep() == 1
    assert [reason for reason, _ in kube.events] == ["Stalled"]
    assert "no handler has run" in kube.events[0][1]
    assert list(kube.touched[0]) == [f"{PREFIX}/{TOUCH_KEY}"]
    assert metrics.stalled._value.get() == 1 and metrics.resyncs._value.get() == 1
    kube.bodies[-1]["metadata"]["resourceVersion"] = "8"  # only our touch happened since
    clock[0] += 10
    assert sweep() == 1 and len(kube.events) == 1 and len(kube.touched) == 2  # no 2nd Event
    kube.bodies[-1] = body(annotations=handled(), version="9")  # kopf handled it
    assert sweep() == 0 and metrics.stalled._value.get() == 0 and sweeper.seen == {}


def test_a_running_job_nothing_follows_is_refollowed_not_touched() -> None:
    """kopf is done with it, its status shows a running job, and no poller follows that job:
    after the margin unchanged, the operator's `refollow` runs (no touch: kopf has nothing due),
    one Event says so; once followed it is forgotten."""
    settings = kopf.OperatorSettings()
    settings.persistence.finalizer = FINALIZER
    resource = kopf.Resource("g", "v1", "things", kind="Thing", namespaced=True)
    clock = [1000.0]
    metrics = Metrics()
    followed: set[str] = set()
    refollowed: list[Owner] = []

    async def refollow(owner: Owner) -> None:
        refollowed.append(owner)
        followed.add(owner.uid)

    sweeper = Sweeper(
        settings,
        resource,
        ["ns"],
        1.0,
        10.0,
        metrics,
        PREFIX,
        lambda: clock[0],
        unfollowed=lambda item: item["metadata"]["uid"] not in followed,
        refollow=refollow,
    )
    kube = FakeKube([body(annotations=handled(), status={"observedGeneration": 1})])
    sweeper.kube = kube

    def sweep() -> int:
        return len(asyncio.run(sweeper.sweep()))

    assert sweep() == 0 and refollowed == []  # first seen: it may be followed a moment later
    clock[0] += 10
    assert sweep() == 1
    assert refollowed == [Owner("ns", "job", "u1")] and kube.touched == []
    assert [reason for reason, _ in kube.events] == ["Stalled"]
    assert UNFOLLOWED in kube.events[0][1] and metrics.resyncs._value.get() == 1
    clock[0] += 10
    assert sweep() == 0 and sweeper.seen == {} and len(refollowed) == 1
