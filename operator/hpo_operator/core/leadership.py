"""Leader election on a `coordination.k8s.io/v1` Lease: the decisions, with no I/O and no clock.

client-go's rules (tools/leaderelection), which controller-runtime and so ACK use: a Lease held by
someone else is theirs until `leaseDurationSeconds` have passed since *this process saw it last
change* (local time, so clocks may differ between nodes; only their rates must agree); an empty
`holderIdentity` (a clean release) may be taken at once. Taking it from another holder counts a
transition and sets `acquireTime`; renewing keeps both. The leader acts only until `renew_deadline`
after the start of its last successful write, shorter than the lease duration, so it has stopped
before any standby may take over.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timing:
    """client-go's three durations, in seconds (its defaults: 15, 10, 2)."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def problems(self) -> list[str]:
        """Why these durations cannot work together (client-go refuses the same)."""
        found = []
        if not self.renew_deadline < self.lease_duration:
            found.append("the renew deadline must be shorter than the lease duration")
        if not self.retry_period < self.renew_deadline:
            found.append("the retry period must be shorter than the renew deadline")
        return found

    @property
    def lease_seconds(self) -> int:
        """`leaseDurationSeconds` as written: whole seconds, rounded up."""
        return max(1, math.ceil(self.lease_duration))


@dataclass(frozen=True)
class LeaseRecord:
    """What a Lease says, as read from the API server."""

    holder: str
    lease_seconds: int
    acquire_time: str | None
    renew_time: str | None
    transitions: int
    version: str  # metadata.resourceVersion: the precondition of the next write


def record_of(lease: dict[str, Any]) -> LeaseRecord:
    """A Lease object (as JSON) as a record; missing fields are empty."""
    spec = lease.get("spec") or {}
    return LeaseRecord(
        holder=str(spec.get("holderIdentity") or ""),
        lease_seconds=int(spec.get("leaseDurationSeconds") or 0),
        acquire_time=spec.get("acquireTime"),
        renew_time=spec.get("renewTime"),
        transitions=int(spec.get("leaseTransitions") or 0),
        version=str((lease.get("metadata") or {}).get("resourceVersion") or ""),
    )


@dataclass(frozen=True)
class Observed:
    """A record and when (local monotonic seconds) this process first saw it."""

    record: LeaseRecord
    since: float


def observe(previous: Observed | None, record: LeaseRecord, now: float) -> Observed:
    """The observation after reading `record` at `now`: the time is kept while it is unchanged
    (any write changes the resourceVersion), as client-go keeps `observedTime`."""
    if previous is not None and previous.record == record:
        return previous
    return Observed(record, now)


class Step(enum.Enum):
    """What to do with the Lease now."""

    CREATE = "create"  # there is no Lease: create it, held by me
    TAKE = "take"  # released or expired: take it (one more transition)
    RENEW = "renew"  # mine: write a new renewTime
    STANDBY = "standby"  # someone else's and still valid: wait


def decide(observed: Observed | None, me: str, now: float) -> Step:
    """The step for `me` given the Lease as last observed (None: it does not exist)."""
    if observed is None:
        return Step.CREATE
    record = observed.record
    if record.holder == me:
        return Step.RENEW
    if not record.holder or now >= observed.since + record.lease_seconds:
        return Step.TAKE
    return Step.STANDBY


def lease_spec(
    step: Step, record: LeaseRecord | None, me: str, timing: Timing, stamp: str
) -> dict[str, Any]:
    """The Lease spec `step` writes at wall time `stamp` (RFC 3339 with microseconds)."""
    acquired, transitions = stamp, 0
    if record is not None and step is Step.RENEW:
        acquired, transitions = record.acquire_time or stamp, record.transitions
    elif record is not None:
        transitions = record.transitions + 1
    return {
        "holderIdentity": me,
        "leaseDurationSeconds": timing.lease_seconds,
        "acquireTime": acquired,
        "renewTime": stamp,
        "leaseTransitions": transitions,
    }


def released_spec(record: LeaseRecord, stamp: str) -> dict[str, Any]:
    """A clean exit's write (client-go's ReleaseOnCancel): no holder and a one-second duration,
    so a standby takes it at its next try instead of after the lease duration."""
    return {
        "holderIdentity": None,
        "leaseDurationSeconds": 1,
        "acquireTime": stamp,
        "renewTime": stamp,
        "leaseTransitions": record.transitions,
    }


def acting_deadline(sent_at: float, timing: Timing) -> float:
    """Until when (local monotonic seconds) a leader whose write, sent at `sent_at`, succeeded may
    act: a standby counts the lease from when it sees that write, after `sent_at`, so it takes over
    at least `lease_duration - renew_deadline` seconds after this leader stopped."""
    return sent_at + timing.renew_deadline
