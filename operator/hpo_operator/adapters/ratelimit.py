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

# Requests per second and burst per operation, per account and region.
#
# What AWS documents: SageMaker throttles API requests per account and Region, per operation,
# answering ThrottlingException ("Rate exceeded"); the throttling limits of its management APIs
# (Create*, Describe*, List*) are not adjustable, and AWS publishes no per-operation figure for the
# tuning-job APIs, Search or the tag APIs (SageMaker Developer Guide, Quotas; AWS General
# Reference, "Amazon SageMaker AI endpoints and quotas"; the Knowledge Center's
# sagemaker-python-throttlingexception). So each budget below is chosen for the reason beside it,
# and it is a ceiling, not a promise: every ThrottlingException halves the operation's rate and
# honours Retry-After (`TokenBucket.throttled`), which is what keeps an account with a lower real
# limit, or with other clients sharing the quota, working. The values are the ones the benchmarks
# (bench/) were measured with; the emulator's quotas (emulator/config.py) sit 5 % above them so a
# benchmark shows the budget, not AWS-side throttling, as the limit.
DEFAULT_LIMITS: dict[str, tuple[float, float]] = {
    # Create is bounded first by the account's concurrent tuning-job quota (100 by default, a
    # documented, adjustable quota); 19/s with a burst of 38 starts 1,000 applied resources in
    # under a minute once that quota allows it, without dominating the account's request rate.
    "CreateHyperParameterTuningJob": (19.0, 38.0),
    # Describe: the per-resource strategy's one call per job per poll interval, and the shared
    # poller's confirmation of changed jobs; 9.5/s covers 285 jobs at the default 30 s interval.
    "DescribeHyperParameterTuningJob": (9.5, 19.0),
    # List calls return pages of many jobs and are the first an account sees throttled (the
    # console and every other client of the account list too): under 2/s with a small burst. The
    # shared poller needs one page per poll, plus a sweep every 300 s.
    "ListHyperParameterTuningJobs": (1.9, 3.0),
    # Stop: once per deleted or stopped resource, like Describe in scale.
    "StopHyperParameterTuningJob": (9.5, 19.0),
    # Tag calls: adoption (ListTags) and system tags (AddTags), at most once per resource.
    "ListTags": (9.5, 19.0),
    "AddTags": (9.5, 19.0),
    "DeleteTags": (9.5, 19.0),  # tag edits: once per edit of spec.tags that removes a key
    # Search is a query over an eventually consistent index: the slowest budget; the shared
    # poller uses it only for bursts of 5 or more changed jobs (100 records per call).
    "Search": (0.95, 2.0),
    # A job's results (core/results.py): one List page when its Completed count moves (a List,
    # so as scarce as the job listing), and one DescribeTrainingJob when its best job changes.
    "ListTrainingJobsForHyperParameterTuningJob": (1.9, 3.0),
    "DescribeTrainingJob": (9.5, 19.0),
    # Not AWS: status patches the shared poller starts per second (poller.RegionPoller._paced).
    "deliver": (50.0, 50.0),
}
DEFAULT_LIMIT = (5.0, 10.0)
MIN_RATE_FRACTION = 0.05  # throttling never slows an operation below 5 % of its budget
RECOVERY_FRACTION = 0.05  # each success wins back 5 % of the budget


def parse_limit(text: str) -> tuple[str, tuple[float, float]]:
    """One `Op=RATE[:BURST]`: the operation and its (rate, burst); BURST defaults to max(1, RATE).

    The one parser of this form: the operator's `HPO_AWS_RATE_LIMITS` and the emulator's `--quota`.
    """
    op, sep, spec = text.strip().partition("=")
    rate_text, _, burst_text = spec.partition(":")
    if not sep or not op.strip():
        raise ValueError(f"rate limit {text.strip()!r}: want Operation=RATE[:BURST]")
    rate = float(rate_text)
    burst = float(burst_text) if burst_text else max(1.0, rate)
    if rate <= 0 or burst < 1:
        raise ValueError(f"rate limit {text.strip()!r}: RATE must be > 0 and BURST ≥ 1")
    return op.strip(), (rate, burst)


def parse_limits(
    text: str, defaults: Mapping[str, tuple[float, float]] = DEFAULT_LIMITS
) -> dict[str, tuple[float, float]]:
    """`Op=RATE[:BURST],...` (the `HPO_AWS_RATE_LIMITS` setting) over the defaults."""
    limits = dict(defaults)
    limits.update(parse_limit(part) for part in text.split(",") if part.strip())
    return limits


class TokenBucket:
    """`rate` tokens per second up to `burst`; the rate adapts to throttling (AIMD).

    The one token bucket: the operator's client-side budgets (`reserve`, which may take a token
    in advance) and the emulator's server-side quotas (`take`: a token now or a refusal).
    """

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
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

    def take(self) -> bool:
        """Spend one token if there is one now, else none (a server's quota: the emulator)."""
        now = self.clock()
        self._refill(now)
        if now >= self.paused_until and self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

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
