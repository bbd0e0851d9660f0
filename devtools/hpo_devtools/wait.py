"""Waiting on a condition with a deadline, instead of sleeping a guessed time: one copy for the
tests (tests/support), the benchmarks (bench/) and the demo (hack/demo.py).

Why: the API server, the operator and the emulator converge (discovery, RBAC caches, CRD
conditions, a status write) a little after the action that starts them, by an amount that grows
on a busy machine. Both helpers poll with a short delay and fail with what they waited for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T], timeout: float = 60.0, what: str = "condition", every: float = 0.2
) -> T:
    """Call `predicate` until it returns something truthy, and return that; at the deadline raise
    AssertionError naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(every)


def eventually(
    check: Callable[[], T],
    timeout: float = 60.0,
    retry_on: tuple[type[BaseException], ...] = (AssertionError,),
) -> T:
    """Call `check` until it returns without raising one of `retry_on`; re-raise at the deadline.
    The delay between calls doubles from 50 ms, to at most 1 s."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            return check()
        except retry_on:
            if time.monotonic() >= deadline:
                raise
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 1.0)
