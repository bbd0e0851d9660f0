"""ACK conditions: shape, order, presence rules and stable lastTransitionTime."""

from __future__ import annotations

from hpo_operator.core import conditions as c
from hpo_operator.core.conditions import Cond

T0 = "2026-01-01T00:00:00Z"
T1 = "2026-01-01T00:05:00Z"


def test_shape_and_order_with_every_condition() -> None:
    built = c.build(
        None,
        now=T0,
        ready=Cond(False, "Failed", "job failed"),
        synced=Cond(True, "Failed", "done"),
        terminal=Cond(True, "JobFailed", "job failed: bad image"),
        recoverable=Cond(True, "ThrottlingException", "slow down"),
    )
    # Terminal before Ready: Argo CD's stock ACK check answers at the first of them it meets.
    assert [x["type"] for x in built] == [c.TERMINAL, c.RECOVERABLE, c.READY, c.SYNCED]
    assert built[2] == {
        "type": "Ready",
        "status": "False",
        "reason": "Failed",
        "message": "job failed",
        "lastTransitionTime": T0,
    }
    assert built[0]["status"] == "True"


def test_terminal_and_recoverable_are_left_out_when_not_given() -> None:
    built = c.build(None, now=T0, ready=Cond(True, "Completed", "ok"), synced=Cond(True, "C", "ok"))
    assert [x["type"] for x in built] == [c.READY, c.SYNCED]


def test_transition_time_kept_when_status_unchanged_even_if_message_changes() -> None:
    first = c.build(
        None, now=T0, ready=Cond(False, "InProgress", "1 done"), synced=Cond(False, "X", "1")
    )
    second = c.build(
        first, now=T1, ready=Cond(False, "InProgress", "2 done"), synced=Cond(True, "X", "2")
    )
    assert second[0]["lastTransitionTime"] == T0
    assert second[0]["message"] == "2 done"
    assert second[1]["lastTransitionTime"] == T1  # False → True is a transition


def test_condition_that_reappears_gets_a_new_transition_time() -> None:
    first = c.build(
        None,
        now=T0,
        ready=Cond(False, "a", "a"),
        synced=Cond(False, "a", "a"),
        recoverable=Cond(True, "Throttling", "x"),
    )
    cleared = c.build(first, now=T1, ready=Cond(False, "a", "a"), synced=Cond(False, "a", "a"))
    assert c.find(cleared, c.RECOVERABLE) is None
    again = c.build(
        cleared,
        now="2026-01-01T00:09:00Z",
        ready=Cond(False, "a", "a"),
        synced=Cond(False, "a", "a"),
        recoverable=Cond(True, "Throttling", "x"),
    )
    found = c.find(again, c.RECOVERABLE)
    assert found is not None and found["lastTransitionTime"] == "2026-01-01T00:09:00Z"


def test_messages_are_one_line_and_bounded() -> None:
    built = c.build(
        None, now=T0, ready=Cond(False, "r", "a\n  b " + "x" * 5000), synced=Cond(True, "r", "ok")
    )
    assert built[0]["message"].startswith("a b x")
    assert len(built[0]["message"]) <= c.MESSAGE_LIMIT
    quoted = 'spec.environment["A  B"]: must be a string\r\n\tsecond line'
    built = c.build(None, now=T0, ready=Cond(False, "r", quoted), synced=Cond(True, "r", "ok"))
    assert built[0]["message"] == 'spec.environment["A  B"]: must be a string second line'


def test_is_true_and_find_tolerate_junk() -> None:
    assert not c.is_true(None, c.TERMINAL)
    assert not c.is_true([{"type": c.TERMINAL, "status": "False"}], c.TERMINAL)
    assert c.is_true(["junk", {"type": c.TERMINAL, "status": "True"}], c.TERMINAL)
