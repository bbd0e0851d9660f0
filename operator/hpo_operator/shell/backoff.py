"""Retry and poll delays with jitter, so resources that failed or started together spread out."""

from __future__ import annotations


def backoff_delay(attempt: int, *, base: float, cap: float, rand: float) -> float:
    """Exponential backoff with full jitter over the upper half: base·2^attempt, capped."""
    ceiling = min(cap, base * 2.0 ** min(attempt, 30))
    return ceiling / 2 + ceiling / 2 * rand


def jittered(interval: float, rand: float, spread: float = 0.2) -> float:
    """`interval` ± `spread`·interval, so that resources created together do not poll together."""
    return interval * (1 - spread + 2 * spread * rand)
