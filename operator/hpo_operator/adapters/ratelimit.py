"""Client-side request budgets for one AWS account and region, shared by every SageMaker call.

SageMaker throttles per account, region and operation, and some quotas are small (the List calls
allow about 2 requests per second and are not raised). So every call the operator makes in one
account+region goes through one `RateLimiter`: a token bucket per operation, sized just under
AWS's quota. A throttled answer halves that operation's rate and pauses it (for `Retry-After` when
AWS sends one); successes win the rate back step by step (additive increase, multiplicative
decrease). The clock is injected so the arithmetic is unit-tested without sleeping.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Requests per second and burst per operation: 95 % of the emulator's defaults, which sit near what
# AWS accounts observe. An operation not named here gets DEFAULT_LIMIT.
DEFAULT_LIMITS: dict[str, tuple[float, float]] = {
    "CreateHyperParameterTuningJob": (19.0, 38.0),
    "DescribeHyperParameterTuningJob": (9.5, 19.0),
    "ListHyperParameterTuningJobs": (1.9, 3.0),
    "StopHyperParameterTuningJob": (9.5, 19.0),
    "ListTags": (9.5, 19.0),
    "AddTags": (9.5, 19.0),
    "Search": (0.95, 2.0),
    # Not AWS: status patches the shared poller starts per second (poller.RegionPoller._paced).
    "deliver": (50.0, 50.0),
}
DEFAULT_LIMIT = (5.0, 10.0)
MIN_RATE_FRACTION = 0.05  # throttling never slows an operation below 5 % of its budget
RECOVERY_FRACTION = 0.05  # each success wins back 5 % of the budget


def parse_limits(text: str) -> dict[str, tuple[float, float]]:
    """`Op=RATE[:BURST],...` (the `HPO_AWS_RATE_LIMITS` setting) over the defaults."""
    limits = dict(DEFAULT_LIMITS)
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        op, sep, spec = part.partition("=")
        rate_text, _, burst_text = spec.partition(":")
        if not sep or not op.strip():
            raise ValueError(f"rate limit {part!r}: want Operation=RATE[:BURST]")
        rate = float(rate_text)
        burst = float(burst_text) if burst_text else max(1.0, rate)
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate limit {part!r}: RATE must be > 0 and BURST ≥ 1")
        limits[op.strip()] = (rate, burst)
    return limits


class TokenBucket:
    """`rate` tokens per second up to `burst`; the rate adapts to throttling (AIMD)."""

    def __init__(self, rate: float, burst: float, clock: Clock) -> None:
        self.budget = rate  # the configured rate: the ceiling of `rate`
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.tokens = self.burst
        self.clock = clock
        self.updated = clock()
        self.paused_until = 0.0

    def _refill(self, now: float) -> None:
        start = max(self.updated, self.paused_until)
        if now > start:
            self.tokens = min(self.burst, self.tokens + (now - start) * self.rate)
        self.updated = max(self.updated, now)

    def reserve(self) -> float:
        """Take one token (possibly in advance): seconds to wait before using it."""
        now = self.clock()
        self._refill(now)
        self.tokens -= 1.0
        wait = max(self.paused_until - now, 0.0)
        if self.tokens < 0:
            wait += -self.tokens / self.rate
        return wait

    def refund(self) -> None:
        """Give back a reserved token that was not used."""
        self.tokens = min(self.burst, self.tokens + 1.0)

    def wait_estimate(self) -> float:
        """Seconds the next `reserve` would have to wait."""
        now = self.clock()
        self._refill(now)
        wait = max(self.paused_until - now, 0.0)
        if self.tokens < 1.0:
            wait += (1.0 - self.tokens) / self.rate
        return wait

    def throttled(self, retry_after: float | None) -> None:
        """AWS said slow down: halve the rate, empty the bucket, pause for Retry-After."""
        now = self.clock()
        self._refill(now)
        self.rate = max(self.rate / 2, self.budget * MIN_RATE_FRACTION)
        self.tokens = min(self.tokens, 0.0)
        pause = retry_after if retry_after is not None and retry_after > 0 else 1.0 / self.rate
        self.paused_until = max(self.paused_until, now + pause)

    def succeeded(self) -> None:
        """A call went through: win back part of the rate lost to throttling."""
        if self.rate < self.budget:
            self.rate = min(self.budget, self.rate + self.budget * RECOVERY_FRACTION)


@dataclass
class LimiterStats:
    """What the limiter did, for logs and the benchmark."""

    waited_seconds: float = 0.0
    refused: int = 0
    throttled: int = 0


class RateLimiter:
    """One account+region's budgets: a token bucket per operation, all calls go through it."""

    def __init__(
        self,
        limits: Mapping[str, tuple[float, float]] | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.limits = dict(DEFAULT_LIMITS if limits is None else limits)
        self.clock = clock
        self.sleep = sleep
        self.buckets: dict[str, TokenBucket] = {}
        self.stats = LimiterStats()

    def bucket(self, operation: str) -> TokenBucket:
        """The bucket of one operation, created on first use."""
        found = self.buckets.get(operation)
        if found is None:
            rate, burst = self.limits.get(operation, DEFAULT_LIMIT)
            found = self.buckets[operation] = TokenBucket(rate, burst, self.clock)
        return found

    async def acquire(self, operation: str, max_wait: float | None = None) -> bool:
        """Wait for a token; False (and no token taken) when that would exceed `max_wait`."""
        bucket = self.bucket(operation)
        if max_wait is not None and bucket.wait_estimate() > max_wait:
            self.stats.refused += 1
            return False
        wait = bucket.reserve()
        if wait > 0:
            self.stats.waited_seconds += wait
            try:
                await self.sleep(wait)
            except BaseException:
                bucket.refund()
                raise
        return True

    def throttled(self, operation: str, retry_after: float | None = None) -> None:
        """Tell the limiter AWS throttled a call of `operation`."""
        self.stats.throttled += 1
        self.bucket(operation).throttled(retry_after)

    def succeeded(self, operation: str) -> None:
        """Tell the limiter a call of `operation` went through."""
        self.bucket(operation).succeeded()


class Deferrals:
    """Calls the operator's own budget turned away (`RateLimiter.acquire` with `max_wait`), counted
    per operation and reported as one line per `interval` seconds, not one per resource.

    The reconciles behind them retry with backoff: that is the budget working, not a problem of
    any one resource, so it is a log line with counts and a metric, never a Warning Event.
    `note` returns True when the count starts again (the caller schedules one `report`).
    """

    def __init__(self, interval: float = 30.0, clock: Clock = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.counts: Counter[str] = Counter()
        self.since: float | None = None

    def note(self, operation: str) -> bool:
        """One call of `operation` turned away; True when it opens a new interval."""
        first = self.since is None
        if first:
            self.since = self.clock()
        self.counts[operation] += 1
        return first

    def report(self, where: str) -> str | None:
        """The line for the counts so far (then counting starts again); None when there are none."""
        if not self.counts or self.since is None:
            return None
        seconds = max(self.clock() - self.since, 0.0)
        parts = ", ".join(f"{op} {n}" for op, n in sorted(self.counts.items()))
        total = sum(self.counts.values())
        self.counts.clear()
        self.since = None
        return (
            f"the operator's own SageMaker budget in {where} deferred {total} calls in the last "
            f"{seconds:.0f}s ({parts}); their resources retry with backoff"
        )
