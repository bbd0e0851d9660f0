"""Leader election's decisions (core/leadership.py) on a fake clock, and the fence and probes of
a standby (shell/election.py, shell/health.py): client-go's rules, checked without an API server
(the e2e tier runs two operator processes on a real one: tests/e2e/test_leader_election.py)."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from hpo_operator.core.leadership import (
    LeaseRecord,
    Observed,
    Step,
    Timing,
    acting_deadline,
    decide,
    lease_spec,
    observe,
    record_of,
    released_spec,
)
from hpo_operator.shell.election import (
    LOST_EXIT_STATUS,
    Elector,
    Fence,
    lease_namespace,
    micro_time,
)
from hpo_operator.shell.health import Health
from hpo_operator.shell.settings import Settings, SettingsError

ME, OTHER = "replica-a", "replica-b"
STAMP = "2026-11-27T12:00:00.000000Z"


def record(holder: str = OTHER, seconds: int = 15, version: str = "1") -> LeaseRecord:
    return LeaseRecord(holder, seconds, "2026-11-27T11:00:00.000000Z", STAMP, 3, version)


def test_no_lease_is_created() -> None:
    assert decide(None, ME, now=100.0) is Step.CREATE
    spec = lease_spec(Step.CREATE, None, ME, Timing(), STAMP)
    assert spec == {
        "holderIdentity": ME,
        "leaseDurationSeconds": 15,
        "acquireTime": STAMP,
        "renewTime": STAMP,
        "leaseTransitions": 0,
    }


def test_anothers_lease_is_theirs_for_its_duration_from_when_it_was_seen_to_change() -> None:
    seen = observe(None, record(seconds=15), now=100.0)
    assert decide(seen, ME, now=114.9) is Step.STANDBY
    # The same record read again keeps the time it was first seen (their clock is not used).
    again = observe(seen, record(seconds=15), now=110.0)
    assert again.since == 100.0
    assert decide(again, ME, now=115.0) is Step.TAKE
    # A renewal (a new resourceVersion) starts the count again.
    renewed = observe(again, record(seconds=15, version="2"), now=114.0)
    assert renewed.since == 114.0 and decide(renewed, ME, now=115.0) is Step.STANDBY


def test_a_released_lease_is_taken_at_once() -> None:
    released = LeaseRecord("", 1, STAMP, STAMP, 3, "9")
    assert decide(observe(None, released, now=100.0), ME, now=100.0) is Step.TAKE


def test_taking_counts_a_transition_and_renewing_keeps_acquire_time() -> None:
    taken = lease_spec(Step.TAKE, record(), ME, Timing(lease_duration=4.5), STAMP)
    assert taken["leaseTransitions"] == 4 and taken["acquireTime"] == STAMP
    assert taken["leaseDurationSeconds"] == 5  # whole seconds, rounded up
    mine = record(holder=ME)
    assert decide(Observed(mine, 0.0), ME, now=1e9) is Step.RENEW  # never expires for its holder
    renewed = lease_spec(Step.RENEW, mine, ME, Timing(), STAMP)
    assert renewed["leaseTransitions"] == 3
    assert renewed["acquireTime"] == mine.acquire_time and renewed["renewTime"] == STAMP


def test_release_clears_the_holder_and_keeps_the_transitions() -> None:
    spec = released_spec(record(holder=ME), STAMP)
    assert spec["holderIdentity"] is None and spec["leaseDurationSeconds"] == 1
    assert spec["leaseTransitions"] == 3


def test_the_leader_stops_acting_before_any_standby_may_take_over() -> None:
    timing = Timing(lease_duration=15, renew_deadline=10, retry_period=2)
    sent = 100.0
    # A standby sees the write no earlier than it was sent, and waits the lease duration.
    assert acting_deadline(sent, timing) == 110.0 < sent + timing.lease_duration


def test_timing_rules_are_client_gos() -> None:
    assert Timing().problems() == []
    assert Timing(lease_duration=10, renew_deadline=10).problems() == [
        "the renew deadline must be shorter than the lease duration"
    ]
    assert Timing(renew_deadline=2, retry_period=2).problems() == [
        "the retry period must be shorter than the renew deadline"
    ]


def test_a_lease_object_reads_as_a_record() -> None:
    lease = {
        "metadata": {"name": "l", "resourceVersion": "42"},
        "spec": {"holderIdentity": ME, "leaseDurationSeconds": 15, "leaseTransitions": 2},
    }
    assert record_of(lease) == LeaseRecord(ME, 15, None, None, 2, "42")
    assert record_of({"metadata": {"resourceVersion": "1"}}) == LeaseRecord(
        "", 0, None, None, 0, "1"
    )


def test_micro_time_is_rfc3339_with_microseconds() -> None:
    import datetime

    at = datetime.datetime(2026, 11, 27, 12, 0, 1, 5, tzinfo=datetime.UTC)
    assert micro_time(at) == "2026-11-27T12:00:01.000005Z"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_fence_exits_past_the_acting_deadline_and_never_before() -> None:
    clock, exits = Clock(), []
    fence = Fence(clock, exits.append)
    fence.check()
    assert exits == [LOST_EXIT_STATUS]  # nothing held yet: no act allowed
    fence.extend(10.0)
    clock.now = 9.99
    fence.check()
    fence.botocore_hook(request=None)
    assert exits == [LOST_EXIT_STATUS]
    fence.extend(5.0)  # an older write never shortens it
    assert fence.until == 10.0
    clock.now = 10.0  # e.g. resumed after SIGSTOP: the monotonic clock ran on
    fence.botocore_hook(request=None)
    assert exits == [LOST_EXIT_STATUS] * 2


def test_the_fence_checks_api_writes_not_reads() -> None:
    clock, exits = Clock(), []
    fence = Fence(clock, exits.append)
    (hook,) = fence.trace_config().on_request_start

    async def send(method: str) -> None:
        await hook(None, None, SimpleNamespace(method=method))  # type: ignore[arg-type]

    asyncio.run(send("GET"))
    assert exits == []
    for method in ("PATCH", "post", "PUT", "DELETE"):
        asyncio.run(send(method))
    assert exits == [LOST_EXIT_STATUS] * 4
    fence.until = math.inf
    asyncio.run(send("PATCH"))
    assert len(exits) == 4


def test_a_standby_is_live_and_ready_and_says_why() -> None:
    health = Health()
    assert health.live()[0] is False  # not started, not a standby
    health.standby = "standby: Lease ns/l is held by replica-b"
    assert health.live() == (True, health.standby)
    assert health.ready() == (True, health.standby)
    health.standby = None
    assert health.live()[0] is False  # leading: kopf's start decides again


def test_the_lease_namespace_is_the_setting_else_the_pods(tmp_path: Path) -> None:
    own = tmp_path / "namespace"
    assert lease_namespace("given", own) == "given"
    assert lease_namespace(None, own) is None  # outside a pod, nothing to guess from
    own.write_text("hpo-system\n")
    assert lease_namespace(None, own) == "hpo-system"


def test_settings_refuse_bad_durations_and_peering_beside_election() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings(
            leader_election=True,
            leader_election_lease_duration=5,
            leader_election_renew_deadline=6,
            peering_name="p",
        )
    assert refused.value.problems == [
        ("leader_election", "the renew deadline must be shorter than the lease duration"),
        ("settings", "give leader election or kopf peering, not both"),
    ]
    assert Settings(leader_election_lease_duration=5).leader_election is False  # off: unchecked
    on = Settings(leader_election=True)
    assert on.leader_timing() == Timing(15.0, 10.0, 2.0)
    assert on.leader_election_id == "hpo-operator-leader"


class ScriptedLeases:
    """The Lease API's answers, scripted per call (a read answers with a record, None or an
    error; a write succeeds with a new version unless told to lose)."""

    namespace, name = "ns", "lease"

    def __init__(self, clock: Clock, reads: list[LeaseRecord | Exception | None]) -> None:
        self.clock = clock
        self.reads = reads
        self.writes: list[tuple[str, dict[str, object], str | None]] = []
        self.lose_writes = False

    async def get(self) -> LeaseRecord | None:
        self.clock.now += 1.0  # each read takes a second of the fake clock
        answer = self.reads.pop(0) if self.reads else None
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def create(self, spec: dict[str, object]) -> LeaseRecord | None:
        return self._write("create", spec, None)

    async def update(self, spec: dict[str, object], version: str) -> LeaseRecord | None:
        return self._write("update", spec, version)

    def _write(self, verb: str, spec: dict[str, object], version: str | None) -> LeaseRecord | None:
        self.writes.append((verb, spec, version))
        if self.lose_writes:
            return None
        holder = str(spec["holderIdentity"] or "")
        return LeaseRecord(holder, 15, None, None, 0, str(len(self.writes) + 100))


def elector(
    reads: list[LeaseRecord | Exception | None],
) -> tuple[Elector, ScriptedLeases, list[int]]:
    clock, exits = Clock(), []
    leases = ScriptedLeases(clock, reads)
    timing = Timing(lease_duration=15, renew_deadline=10, retry_period=0.001)
    made = Elector(leases, ME, timing, Fence(clock, exits.append), Health(), clock)  # type: ignore[arg-type]
    return made, leases, exits


def test_no_lease_is_created_and_the_fence_runs_from_when_the_read_was_sent() -> None:
    made, leases, _ = elector([None])
    assert asyncio.run(made.try_once(5.0)) is True
    assert [verb for verb, _, _ in leases.writes] == ["create"]
    assert made.fence.until == 0.0 + 10  # sent at 0 (the read took a second), + renew deadline
    assert made.holder == ME


def test_a_lost_write_is_not_leading() -> None:
    made, leases, _ = elector([record(holder="", seconds=1)])
    leases.lose_writes = True  # 409: another standby took it first
    assert asyncio.run(made.try_once(5.0)) is False
    assert made.fence.until == -math.inf


def test_a_leader_that_finds_the_lease_taken_steps_down_without_writing() -> None:
    made, leases, exits = elector([None, record(holder=OTHER)])
    assert asyncio.run(made.try_once(5.0)) is True
    asyncio.run(made.keep())
    assert exits == [LOST_EXIT_STATUS]
    assert [verb for verb, _, _ in leases.writes] == ["create"]  # never taken back


def test_a_leader_that_cannot_renew_within_the_deadline_exits() -> None:
    failures: list[LeaseRecord | Exception | None] = [RuntimeError("API down")] * 20
    made, leases, exits = elector([None, *failures])
    assert asyncio.run(made.try_once(5.0)) is True
    asyncio.run(made.keep())
    assert exits == [LOST_EXIT_STATUS]
    # It tried once a second (each failed read takes one) until the deadline, not past it.
    assert leases.clock.now == made.fence.until == 10.0
    assert len(leases.reads) == 20 - 9


def test_a_clean_stop_releases_the_lease_on_the_version_it_holds() -> None:
    made, leases, _ = elector([None])
    asyncio.run(made.try_once(5.0))
    held = made.observed
    assert held is not None
    asyncio.run(made.release())
    verb, spec, version = leases.writes[-1]
    assert (verb, spec["holderIdentity"], spec["leaseDurationSeconds"]) == ("update", None, 1)
    assert version == held.record.version
    assert made.fence.until == -math.inf  # nothing may act after the release


def test_a_leader_whose_lease_was_deleted_steps_down_without_creating_it() -> None:
    made, leases, exits = elector([None, None])
    assert asyncio.run(made.try_once(5.0)) is True
    asyncio.run(made.keep())
    assert exits == [LOST_EXIT_STATUS]
    assert [verb for verb, _, _ in leases.writes] == ["create"]
