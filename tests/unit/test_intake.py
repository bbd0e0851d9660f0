"""core/intake: first sights of resources handed to kopf at most `limit` at a time, in order."""

from __future__ import annotations

from hpo_operator.core.intake import Intake


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def intake(limit: int = 2, hold: float = 30.0) -> tuple[Intake[str], Clock]:
    clock = Clock()
    return Intake(limit=limit, hold=hold, clock=clock), clock


def offer(i: Intake[str], uid: str, event: str, deleted: bool = False) -> bool:
    if i.admits(uid, deleted):
        return True
    i.defer(uid, event, deleted)
    return False


def test_first_sights_past_the_limit_wait_in_order() -> None:
    i, _ = intake(limit=2)
    assert offer(i, "a", "a1") and offer(i, "b", "b1")
    assert not offer(i, "c", "c1") and not offer(i, "d", "d1")
    assert i.release() == []  # nothing settled
    i.settle("a")
    assert i.release() == ["c1"]
    i.settle("b")
    i.settle("c")
    assert i.release() == ["d1"]
    assert not i.waiting and i.known == {"a", "b", "c", "d"}


def test_resources_kopf_has_are_never_held() -> None:
    i, _ = intake(limit=1)
    assert offer(i, "a", "a1")
    assert not offer(i, "b", "b1")
    assert offer(i, "a", "a2")  # a's own events pass while b waits
    i.listed(["z"])
    assert offer(i, "z", "z1")  # listed by kopf: not a first sight


def test_a_waiting_resources_events_stay_behind_it() -> None:
    i, _ = intake(limit=1)
    assert offer(i, "a", "a1")
    assert not offer(i, "b", "b1")
    assert not offer(i, "b", "b2")  # even though b is not counted twice
    assert not offer(i, "b", "b3", deleted=True)
    i.settle("a")
    assert i.release() == ["b1", "b2", "b3"]
    assert "b" not in i.known and "b" not in i.unsettled  # deleted: forgotten
    assert offer(i, "c", "c1")  # b's deletion freed its place


def test_a_slot_counts_for_hold_seconds_at_most() -> None:
    i, clock = intake(limit=1, hold=30.0)
    assert offer(i, "a", "a1")
    assert not offer(i, "b", "b1")
    assert i.next_expiry() == 130.0
    clock.now = 129.0
    assert i.release() == []
    clock.now = 130.0
    assert i.release() == ["b1"]  # a never settled (no handler ran for it): it stops counting
    assert i.next_expiry() == 160.0


def test_deletions_and_flush() -> None:
    i, _ = intake(limit=1)
    assert offer(i, "a", "a1")
    assert offer(i, "x", "x1", deleted=True)  # a first sight that is a deletion: never held
    assert "x" not in i.known
    assert not offer(i, "b", "b1") and not offer(i, "c", "c1")
    assert offer(i, "a", "a2", deleted=True)
    assert "a" not in i.known and not i.unsettled
    assert i.flush() == ["b1", "c1"]  # the watch ends: everything, in order, handed over
    assert not i.waiting and not i.waiting_per_uid and {"b", "c"} <= i.known


def test_no_limit_holds_nothing_and_counts_nothing() -> None:
    i, _ = intake(limit=0)
    assert all(offer(i, f"u{n}", "e") for n in range(1_000))
    assert not i.unsettled and not i.waiting


def test_a_listing_marks_resources_known_and_keeps_their_waiting_events_in_order() -> None:
    """The stall sweep lists through kopf's client too, and gave kopf nothing: a listed
    resource's waiting events still reach kopf, in order, without waiting for room."""
    i, _ = intake(limit=1)
    assert offer(i, "a", "a1")
    assert not offer(i, "b", "b1")
    assert not offer(i, "c", "c1")
    assert not offer(i, "b", "b2")
    i.listed(["b", "x"])
    assert "b" in i.known and i.waiting_per_uid["b"] == 2
    assert i.release() == ["b1"]  # b may go; c, a first sight without room, and b2 behind it wait
    i.settle("a")
    assert i.release() == ["c1", "b2"]
