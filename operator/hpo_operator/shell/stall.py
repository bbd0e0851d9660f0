"""The safety net: a resource kopf has not finished with and that shows no progress is nudged.

controller-runtime resyncs every object periodically; kopf reacts to watch events only, so a lost
wake-up (a delayed handler whose timer was interrupted and never re-armed, an event that never
came) leaves a resource untouched until the operator restarts. Here, one paged LIST of the
resources per sweep interval (never one request per resource) feeds two pure decisions:

- `pending(body)`: has kopf finished with this resource? It has not while the resource has no
  finalizer, is being deleted with our finalizer, carries a handler's progress record that is
  neither a success nor a failure, was never handled (no diff-base), or its status reports an
  older generation than its spec. Beside those, one the operator is done with whose status
  shows a running job (or unread results) that no poller follows (`Operator.unfollowed`): no
  change of its job would ever reach it.
- `decide(...)`: a pending resource whose resourceVersion has not changed for `margin` seconds,
  and whose delayed handler (if any) was due more than `margin` seconds ago, is stalled.

The shell (`Sweeper`) then re-triggers each stalled resource through kopf's normal path: a merge
patch of kopf's own `touch-dummy` annotation under the operator's bookkeeping prefix (what kopf
writes itself when a delay ends). That produces a watch event; kopf runs whatever is due. An
unfollowed job's resource is re-triggered by the operator instead (`Operator.refollow`: the
reconcile a poll would run, which follows the job again). It never calls a kopf handler, never
writes spec. Each stall is also counted (`hpo_resources_stalled`), logged,
and reported once as a Warning Event on the resource.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import kopf

from hpo_operator.adapters.kube import KubeObjects
from hpo_operator.adapters.ports import SweepPort
from hpo_operator.core import parking, progress
from hpo_operator.core.types import FINISHED, STATUS_JOB_STATE
from hpo_operator.identity import DIFF_BASE_KEY, TOUCH_KEY
from hpo_operator.model.timestamps import epoch_seconds
from hpo_operator.polling.strategy import Owner
from hpo_operator.shell import logs
from hpo_operator.shell.metrics import Metrics

log = logging.getLogger("hpo_operator.shell.stall")

PAGE_SIZE = 50  # one page in memory at a time: ~0.7 MB parsed; 200 lifted RSS 3-4 MB a sweep
REASON = "Stalled"
ACTIONS_PER_SWEEP = 50  # touches and Events one sweep sends at most (see `decide`)
PARK_PACE = 0.02  # seconds between two parking patches: ≤ 50 writes/s after an upgrade


@dataclass(frozen=True)
class Pending:
    """A resource kopf has not finished with, as one LIST showed it."""

    namespace: str
    name: str
    uid: str
    version: str
    why: str
    due: float | None = None  # epoch seconds a delayed handler was due to run again
    refollow: bool = False  # kopf is done with it, but its running job is followed by nothing


UNFOLLOWED = "its job runs (status), but no poller follows it: no change would reach it"


@dataclass(frozen=True)
class Seen:
    """What the sweeper remembers of a pending resource between sweeps."""

    version: str
    since: float  # first seen at this version (or at the version our own touch produced)
    reported: bool = False  # the Event and log line for this stall were sent
    touched: float | None = None  # when the sweeper last touched it


@dataclass(frozen=True)
class Stall:
    """A pending resource without progress: `idle` seconds at the same version."""

    pending: Pending
    idle: float
    report: bool  # first time: Event and log line
    touch: bool  # re-trigger now (at most once per margin)


def pending(body: Mapping[str, Any], finalizer: str, prefix: str) -> Pending | None:
    """Why kopf has not finished with this resource; None when it has (or it is not ours)."""
    meta = body.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    finalizers = meta.get("finalizers") or []
    deleting = bool(meta.get("deletionTimestamp"))

    def found(why: str, due: float | None = None) -> Pending:
        return _pending(body, why, due)

    if parking.is_parked(body):
        return None  # out of kopf's watch on purpose: `parking.unpark` decides
    if finalizer not in finalizers:
        return None if deleting else found("kopf has not added its finalizer")
    unfinished = progress.unfinished(annotations, prefix)
    if unfinished:
        dues = [epoch_seconds(r["delayed"]) for r in unfinished.values() if r.get("delayed")]
        due = max((d for d in dues if d is not None), default=None)
        parts = []
        for handler, record in sorted(unfinished.items()):
            retries = int(record.get("retries") or 0)
            if record.get("delayed"):
                parts.append(f"{handler} delayed until {record['delayed']} (retry {retries})")
            else:
                parts.append(f"{handler} started at {record.get('started')} and not finished")
        return found("; ".join(parts), due)
    if deleting:
        return found("deleted, but the delete handler has not run")
    if f"{prefix}/{DIFF_BASE_KEY}" not in annotations:
        return found("no handler has run")
    status = body.get("status") or {}
    observed, generation = status.get("observedGeneration"), meta.get("generation")
    if isinstance(observed, int) and isinstance(generation, int) and observed < generation:
        return found(f"spec generation {generation} not handled (status has {observed})")
    return None


def _pending(
    body: Mapping[str, Any], why: str, due: float | None = None, refollow: bool = False
) -> Pending:
    meta = body.get("metadata") or {}
    return Pending(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        uid=str(meta.get("uid") or ""),
        version=str(meta.get("resourceVersion") or ""),
        why=why,
        due=due,
        refollow=refollow,
    )


def unfollowed(body: Mapping[str, Any]) -> Pending:
    """A resource kopf is done with whose running job nothing follows (`Operator.unfollowed`
    says which): stalled like the others once unchanged for the margin, then re-followed."""
    return _pending(body, UNFOLLOWED, refollow=True)


def decide(
    found: Iterable[Pending],
    seen: Mapping[str, Seen],
    now: float,
    margin: float,
    limit: int = ACTIONS_PER_SWEEP,
) -> tuple[dict[str, Seen], list[Stall]]:
    """The sweeper's memory after this sweep (pending resources only) and the stalled ones.

    A resource is stalled when it is pending at the same resourceVersion for `margin` seconds
    (any write to it, by kopf, the operator or a user, is progress) and `margin` seconds have
    passed since its delayed handler was due. It is reported once per stall, touched at most
    once per `margin`, and one sweep touches and reports at most `limit` resources (the longest
    idle first): thousands at once mean a backlog (an API server or kopf behind a burst), not
    lost wake-ups, and a touch and an Event each would only add to the load. The others are
    counted as stalled and acted on by the next sweeps.
    """
    memory: dict[str, Seen] = {}
    stalls: list[Stall] = []
    found = sorted(found, key=lambda p: seen[p.uid].since if p.uid in seen else now)
    acted = 0
    for p in found:
        before = seen.get(p.uid)
        if before is None or before.version != p.version:
            memory[p.uid] = Seen(p.version, now)
            continue
        idle = now - before.since
        due = p.due if p.due is not None else before.since
        if idle < margin or now < due + margin:
            memory[p.uid] = before
            continue
        acting = acted < limit
        touch = acting and (before.touched is None or now - before.touched >= margin)
        report = acting and not before.reported
        acted += touch or report
        stalls.append(Stall(p, idle, report=report, touch=touch))
        memory[p.uid] = replace(
            before,
            reported=before.reported or report,
            touched=now if touch else before.touched,
        )
    return memory, stalls


class Sweeper:
    """Lists the resources every `interval` seconds and nudges the stalled ones (see module)."""

    def __init__(
        self,
        kopf_settings: kopf.OperatorSettings,
        resource: kopf.Resource,
        namespaces: Iterable[str],
        interval: float,
        margin: float,
        metrics: Metrics,
        prefix: str,
        clock: Callable[[], float] = time.time,
        selector: str = "",
        hold: Callable[[Mapping[str, Any]], bool] | None = None,
        unfollowed: Callable[[Mapping[str, Any]], bool] | None = None,
        refollow: Callable[[Owner], Awaitable[None]] | None = None,
    ) -> None:
        # `unfollowed`/`refollow` (`Operator`): a resource kopf is done with but whose running
        # job the shared poller does not follow would keep its last status for good; it is
        # stalled too, and its re-trigger is a reconcile that follows the job again.
        self.unfollowed = unfollowed
        self.refollow = refollow
        # `hold`: a finished resource the operator still has work for (its results not yet read:
        # `core.results.results_pending`) is not parked by the sweep: parking takes it out of the
        # watch, and its results would never be read.
        self.hold = hold
        # `selector` (--watch-selectors): the LIST sees this install's resources only, so it
        # never parks, unparks or touches another install's.
        self.kube: SweepPort = KubeObjects(kopf_settings, resource, selector)
        self.finalizer = kopf_settings.persistence.finalizer
        self.resource = resource
        self.namespaces: list[str | None] = list(namespaces) or [None]
        self.interval = interval
        self.margin = margin
        self.metrics = metrics
        self.prefix = prefix
        self.clock = clock
        self.seen: dict[str, Seen] = {}
        self.task: asyncio.Task[None] | None = None
        self.parked: Counter[str] = Counter()  # final status → parked resources, this sweep

    def start(self) -> None:
        """Start sweeping (from a kopf activity: the task inherits kopf's credentials)."""
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.run(), name="hpo-stall-sweep")

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the API server may be away: try again next interval
                log.warning("stall sweep failed: %s: %s", type(error).__name__, error)

    async def sweep(self) -> list[Stall]:
        """One sweep: LIST (paged), decide, touch, report. Returns the stalls found."""
        found: list[Pending] = []
        self.parked = Counter()
        for namespace in self.namespaces:
            found.extend(await self._pending(namespace))
        self.metrics.parked_count(self.parked, FINISHED)
        self.seen, stalls = decide(found, self.seen, self.clock(), self.margin)
        self.metrics.stalled.set(len(stalls))
        for stall in stalls:
            try:
                await self._act(stall)
            except Exception as error:  # one resource's failure never skips the others
                p = stall.pending
                log.warning(
                    "stall sweep: re-triggering %s/%s failed: %s: %s",
                    p.namespace,
                    p.name,
                    type(error).__name__,
                    error,
                )
        return stalls

    async def _pending(self, namespace: str | None) -> list[Pending]:
        """The pending resources of one namespace (None: all), one page in memory at a time."""
        found: list[Pending] = []
        token = ""
        while True:
            items, token = await self.kube.list_page(namespace, PAGE_SIZE, token)
            for item in items:
                if await self._park_or_unpark(item):
                    continue
                p = pending(item, self.finalizer, self.prefix)
                if p is None and self.unfollowed is not None and self.unfollowed(item):
                    p = unfollowed(item)
                if p is not None:
                    found.append(p)
            if not token:
                return found

    async def _park_or_unpark(self, item: Mapping[str, Any]) -> bool:
        """Apply `parking` to one listed resource; True when it is parked (or now is)."""
        meta = item.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        state = str((item.get("status") or {}).get(STATUS_JOB_STATE))
        if parking.is_parked(item):
            change = parking.unpark(item, self.finalizer)
            if change is None:
                self.parked[state] += 1
                return True
            patch, why = change
            if await self.kube.patch_metadata(namespace, name, patch):
                self.metrics.parkings.labels("unpark").inc()
                log.info("unparked: %s", why, extra=logs.fields(namespace, name, None))
            return False
        if self.hold is not None and self.hold(item):
            return False
        parks = parking.park(item, self.finalizer, self.prefix)
        if parks is None or not await self.kube.patch_metadata(namespace, name, parks):
            return False
        self.metrics.parked_one(state)
        self.metrics.job_state(str(meta.get("uid") or ""), None)  # counted as parked now
        self.parked[state] += 1
        await asyncio.sleep(PARK_PACE)
        return True

    async def _act(self, stall: Stall) -> None:
        """Touch first (the part that unblocks), then report once per stall."""
        p = stall.pending
        if stall.touch and p.refollow and self.refollow is not None:
            self.metrics.resyncs.inc()
            await self.refollow(Owner(p.namespace, p.name, p.uid))
        elif stall.touch:
            self.metrics.resyncs.inc()
            touch = {f"{self.prefix}/{TOUCH_KEY}": datetime.now(UTC).isoformat()}
            version = await self.kube.patch_annotations(p.namespace, p.name, touch)
            before = self.seen.get(p.uid)
            if version is None:
                self.seen.pop(p.uid, None)  # gone
                return
            if before is not None and version:
                self.seen[p.uid] = replace(before, version=version)  # our touch is no progress
        if stall.report:
            message = (
                f"no progress for {stall.idle:.0f}s: {p.why}; the operator re-triggers it "
                "(hpo_resources_stalled counts such resources)"
            )
            log.warning(
                "resource stalled: %s", message, extra=logs.fields(p.namespace, p.name, None)
            )
            body = {
                "apiVersion": f"{self.resource.group}/{self.resource.version}",
                "kind": self.resource.kind or "",
                "metadata": {"namespace": p.namespace, "name": p.name, "uid": p.uid},
            }
            await self.kube.post_event(body, "Warning", REASON, message)


def install(registry: kopf.OperatorRegistry, sweeper: Sweeper) -> None:
    """Start the sweeper with the operator (in kopf's context) and stop it at cleanup."""

    async def start(**_: Any) -> None:
        sweeper.start()

    async def stop(**_: Any) -> None:
        sweeper.stop()

    kopf.on.startup(id="stall-sweep-start", registry=registry)(start)
    kopf.on.cleanup(id="stall-sweep-stop", registry=registry)(stop)
