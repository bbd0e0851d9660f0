"""Prometheus metrics of the operator, in their own registry (no process-global state).

Reconciles (total, errors, duration), SageMaker calls by operation, outcome (throttles
included), account and region (`Place`: bounded by the role maps' accounts and the regions in
use), tuning jobs by status, each followed job's best objective, and status lag: how long after
SageMaker's LastModifiedTime the operator wrote the change into the resource's status; resources
without progress (the stall sweep, `stall.py`); whether this process leads (leader election,
`election.py`).
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from hpo_operator.core.types import OWN_PLACE, Op, Place


class Metrics:
    """The operator's collectors and the job-status tally behind the `tuning_jobs` gauge."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.reconciles = Counter(
            "hpo_reconcile_total",
            "Reconciles by trigger and result",
            ["trigger", "result"],
            registry=r,
        )
        self.reconcile_errors = Counter(
            "hpo_reconcile_errors_total",
            "Reconciles that ended in an error, by kind",
            ["kind"],
            registry=r,
        )
        self.reconcile_seconds = Histogram(
            "hpo_reconcile_duration_seconds",
            "Time of one reconcile, SageMaker calls included",
            ["trigger"],
            registry=r,
        )
        self.calls = Counter(
            "hpo_sagemaker_calls_total",
            "SageMaker calls by operation and outcome (ok, throttled, recoverable, terminal, "
            "notfound, inuse), account (of the assumed role; own: the operator's credentials) "
            "and region",
            ["operation", "outcome", "account", "region"],
            registry=r,
        )
        self.call_seconds = Histogram(
            "hpo_sagemaker_call_duration_seconds",
            "SageMaker call latency",
            ["operation"],
            registry=r,
        )
        self.deferred = Counter(
            "hpo_client_rate_limited_total",
            "SageMaker calls the operator's own client-side budget deferred (never sent; the "
            "resource retries with backoff), by operation",
            ["operation"],
            registry=r,
        )
        self.jobs = Gauge(
            "hpo_tuning_jobs",
            "Tuning jobs by status: the resources in the operator's watch plus the parked "
            "(finished) ones, as the last stall sweep counted them and parked since",
            ["status"],
            registry=r,
        )
        self.parked = Gauge(
            "hpo_resources_parked",
            "Finished resources out of the watch (the parking label), by the job's final status, "
            "at the last stall sweep",
            ["status"],
            registry=r,
        )
        self.parkings = Counter(
            "hpo_parking_total",
            "Resources parked (finished: out of the watch) and unparked (back in it)",
            ["action"],
            registry=r,
        )
        self.status_lag = Histogram(
            "hpo_status_lag_seconds",
            "SageMaker LastModifiedTime → status written",
            buckets=(0.5, 1, 2, 5, 10, 20, 30, 45, 60, 120, 300, 600),
            registry=r,
        )
        self.stalled = Gauge(
            "hpo_resources_stalled",
            "Resources kopf has not finished with that showed no progress for longer than their "
            "retry delay plus the stall margin, at the last stall sweep",
            registry=r,
        )
        self.resyncs = Counter(
            "hpo_stall_resyncs_total",
            "Stalled resources the stall sweep re-triggered (an annotation touch: a watch event)",
            registry=r,
        )
        # Leader election (election.py), like controller-runtime's leader_election_master_status:
        # absent when election is off.
        self.leader = Gauge(
            "hpo_leader_election_leader",
            "1 while this process holds the leader-election Lease (namespace/name), 0 while it "
            "stands by",
            ["lease"],
            registry=r,
        )
        self.best = Gauge(
            "hpo_best_objective",
            "The final objective metric value of the job's best training job "
            "(status.bestTrainingJob), per resource the operator follows; gone when the resource "
            "is deleted or leaves the watch (parked)",
            ["namespace", "name"],
            registry=r,
        )
        # The watch's intake (core/intake.py): resources seen for the first time that waited for
        # earlier ones' first handling, and the events waiting now.
        self.intake_held = Counter(
            "hpo_watch_intake_held_total",
            "Resources seen for the first time that waited before kopf was given them (more "
            "than HPO_WATCH_INTAKE first sights were being handled)",
            registry=r,
        )
        self.intake_waiting = Gauge(
            "hpo_watch_intake_waiting",
            "Watch events waiting behind resources seen for the first time",
            registry=r,
        )
        self._best: dict[str, tuple[str, str]] = {}  # uid → its series' labels
        self._states: dict[str, str] = {}
        self._tally: Tally[str] = Tally()  # resources in the watch, by job status
        self._parked: Tally[str] = Tally()  # parked resources, by job status

    def observe_call(self, op: Op, outcome: str, seconds: float, place: Place = OWN_PLACE) -> None:
        """One SageMaker call (the adapter's observer)."""
        self.calls.labels(op.value, outcome, place.account, place.region).inc()
        self.call_seconds.labels(op.value).observe(seconds)

    def observe_deferred(self, operation: str) -> None:
        """One call the operator's own budget deferred (the shared poller's `on_deferred`)."""
        self.deferred.labels(operation).inc()

    def job_state(self, uid: str, state: str | None) -> None:
        """The job of resource `uid` is now in `state` (None: the resource is gone)."""
        before = self._states.pop(uid, None)
        if before is not None:
            self._tally[before] -= 1
            self._show(before)
        if state is not None:
            self._states[uid] = state
            self._tally[state] += 1
            self._show(state)

    def best_objective(self, uid: str, namespace: str, name: str, value: float | None) -> None:
        """Resource `uid`'s best objective is now `value` (None: none, or the resource is gone)."""
        labels = self._best.pop(uid, None)
        if labels is not None and (value is None or labels != (namespace, name)):
            self.best.remove(*labels)
        if value is not None:
            self._best[uid] = (namespace, name)
            self.best.labels(namespace, name).set(value)

    def parked_one(self, state: str) -> None:
        """A resource whose job is in `state` was just parked (it leaves the watch)."""
        self.parkings.labels("park").inc()
        self._parked[state] += 1
        self._show(state)

    def parked_count(self, counts: Mapping[str, int], states: Iterable[str]) -> None:
        """The stall sweep's count of parked resources (every one of `states` is shown)."""
        shown = {*self._parked, *counts, *states}
        self._parked = Tally(counts)
        for state in shown:
            self._show(state)
            self.parked.labels(state).set(self._parked[state])

    def _show(self, state: str) -> None:
        self.jobs.labels(state).set(self._tally[state] + self._parked[state])
        if state in self._parked:
            self.parked.labels(state).set(self._parked[state])

    def state_of(self, uid: str) -> str | None:
        """The last job state counted for resource `uid` (None: not counted, or released)."""
        return self._states.get(uid)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
