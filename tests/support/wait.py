"""Waiting on a condition with a deadline, instead of sleeping a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    check: Callable[[], T],
    timeout: float = 60.0,
    retry_on: tuple[type[BaseException], ...] = (AssertionError,),
) -> T:
    """Call `check` until it returns without raising one of `retry_on`; re-raise at the deadline.

    Why: the API server converges (discovery, RBAC caches, CRD conditions) a little after a write,
    by an amount that grows on a busy machine. The backoff is short at first, at most 1 s.
    """
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
