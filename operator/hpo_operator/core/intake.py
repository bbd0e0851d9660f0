"""How many resources the watch hands kopf for the first time at once: the rule, without I/O.

kopf reads its watch as fast as events arrive and starts a worker per resource at once, each
holding its body until its first handling is over (a finalizer patch, the event it causes, the
create handler). A `kubectl apply` of 1,000 resources is 1,000 such workers together: tens of MB
of bodies and kopf's state, freed a few seconds later, and CPython keeps that high-water mark
(docs/performance.md). The watch adapter (`adapters/watchintake.py`) asks this `Intake` about
each event: events of resources kopf already has pass at once; a resource seen for the first time
passes while fewer than `limit` first sights are unsettled, else it waits here, in arrival order,
as its serialized event (one string, not a parsed body). A first sight settles when one of the
operator's handlers has finished with the resource (`settle`), when it is deleted, or after
`hold` seconds whatever happened (so a resource no handler runs for never blocks the others).
Events of a waiting resource wait behind it, so each resource still sees its events in order.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Intake(Generic[T]):
    """First sights in flight, at most `limit` (0: no limit); the rest wait in order."""

    limit: int
    hold: float
    clock: Callable[[], float]
    known: set[str] = field(default_factory=set)  # uids kopf has been handed
    unsettled: dict[str, float] = field(default_factory=dict)  # uid → when it was handed over
    waiting: deque[tuple[str, T, bool]] = field(default_factory=deque)  # uid, event, deleted
    waiting_per_uid: Counter[str] = field(default_factory=Counter)

    def admits(self, uid: str, deleted: bool = False) -> bool:
        """True: hand this resource's event to kopf now (recorded as handed over). False: it
        must wait (`defer` it; `release` hands it over later)."""
        if uid in self.waiting_per_uid:
            return False  # behind its own earlier events
        if uid in self.known:
            if deleted:
                self.forget(uid)
            return True
        if deleted or self._has_room():
            self._admit(uid, deleted)
            return True
        return False

    def defer(self, uid: str, event: T, deleted: bool = False) -> None:
        """Keep an event `admits` refused, in arrival order."""
        self._wait(uid, event, deleted)

    def listed(self, uids: Iterable[str]) -> None:
        """These resources were listed (by kopf, or by the stall sweep through the same client):
        their later events are not first sights. Their events still waiting stay, in order:
        the stall sweep's listing gave kopf nothing, and kopf lists again only after a 410,
        whose ERROR event comes after everything waiting (`adapters/watchintake.py`)."""
        self.known |= set(uids)

    def release(self) -> list[T]:
        """Waiting events that may go now, in arrival order."""
        out: list[T] = []
        while self.waiting:
            uid, event, deleted = self.waiting[0]
            if uid not in self.known and not deleted and not self._has_room():
                break
            self.waiting.popleft()
            out.append(self._hand_over(uid, event, deleted))
        return out

    def flush(self) -> list[T]:
        """Every waiting event, now (the watch ends: kopf must have them before it resumes)."""
        out: list[T] = []
        while self.waiting:
            uid, event, deleted = self.waiting.popleft()
            out.append(self._hand_over(uid, event, deleted))
        return out

    def settle(self, uid: str) -> None:
        """A handler has finished with this resource: its first sight is over."""
        self.unsettled.pop(uid, None)

    def forget(self, uid: str) -> None:
        """The resource is gone from the watch (deleted, or parked out of the selector)."""
        self.known.discard(uid)
        self.unsettled.pop(uid, None)

    def next_expiry(self) -> float | None:
        """When the oldest unsettled first sight stops counting (None: none unsettled)."""
        return min(self.unsettled.values()) + self.hold if self.unsettled else None

    def _has_room(self) -> bool:
        if self.limit <= 0:
            return True
        if len(self.unsettled) >= self.limit:
            cutoff = self.clock() - self.hold
            for uid in [u for u, at in self.unsettled.items() if at <= cutoff]:
                del self.unsettled[uid]
        return len(self.unsettled) < self.limit

    def _admit(self, uid: str, deleted: bool) -> None:
        if deleted:
            return  # a first sight that is a deletion: nothing to settle, nothing to know
        self.known.add(uid)
        if self.limit > 0:
            self.unsettled[uid] = self.clock()

    def _hand_over(self, uid: str, event: T, deleted: bool) -> T:
        self._unwait(uid)
        if deleted:
            self.forget(uid)
        elif uid not in self.known:
            self._admit(uid, False)
        return event

    def _wait(self, uid: str, event: T, deleted: bool) -> None:
        self.waiting.append((uid, event, deleted))
        self.waiting_per_uid[uid] += 1

    def _unwait(self, uid: str) -> None:
        self.waiting_per_uid[uid] -= 1
        if self.waiting_per_uid[uid] <= 0:
            del self.waiting_per_uid[uid]
