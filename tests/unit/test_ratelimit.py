"""The per-account token buckets: pacing, refusal past a deadline, AIMD on throttling."""

from __future__ import annotations

import asyncio

import pytest

from hpo_operator.adapters.ratelimit import (
    DEFAULT_LIMITS,
    Deferrals,
    RateLimiter,
    TokenBucket,
    parse_limit,
    parse_limits,
)


class FakeClock:
    """A monotonic clock that moves only when told to (or when the limiter sleeps)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_burst_then_paced_at_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"Op": (2.0, 3.0)}, clock=clock, sleep=clock.sleep)

    async def take(n: int) -> None:
        for _ in range(n):
            assert await limiter.acquire("Op")

    run(take(3))
    assert clock.slept == []  # the burst
    run(take(4))
    assert clock.slept == pytest.approx([0.5, 0.5, 0.5, 0.5])  # then 2 per second


def test_refuses_instead_of_waiting_past_max_wait() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"Op": (1.0, 1.0)}, clock=clock, sleep=clock.sleep)
    assert run(limiter.acquire("Op", max_wait=0.5)) is True
    assert run(limiter.acquire("Op", max_wait=0.5)) is False  # would wait 1 s
    assert limiter.stats.refused == 1
    clock.now += 0.6
    assert run(limiter.acquire("Op", max_wait=0.5)) is True  # 0.4 s left: waits
    assert clock.slept == pytest.approx([0.4])


def test_throttling_halves_the_rate_and_honours_retry_after() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, 10.0, clock)
    bucket.throttled(retry_after=3.0)
    assert bucket.rate == 5.0
    assert bucket.wait_estimate() == pytest.approx(3.0 + 1 / 5.0)  # paused, then an empty bucket
    clock.now += 3.0
    assert bucket.wait_estimate() == pytest.approx(0.2)


def test_throttling_never_stops_an_operation_and_successes_win_the_rate_back() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, 10.0, clock)
    for _ in range(20):
        bucket.throttled(retry_after=None)
    assert bucket.rate == pytest.approx(0.5)  # the 5 % floor
    for _ in range(100):
        bucket.succeeded()
    assert bucket.rate == 10.0  # never above the budget


def test_operations_have_separate_buckets() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"List": (1.0, 1.0), "Describe": (10.0, 10.0)}, clock, clock.sleep)
    run(limiter.acquire("List"))
    limiter.throttled("List")
    assert run(limiter.acquire("Describe", max_wait=0.0)) is True
    assert run(limiter.acquire("List", max_wait=0.0)) is False


def test_cancelled_wait_gives_its_token_back() -> None:
    limiter = RateLimiter({"Op": (1.0, 1.0)})

    async def scenario() -> float:
        await limiter.acquire("Op")
        waiter = asyncio.ensure_future(limiter.acquire("Op"))
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        return limiter.bucket("Op").tokens

    assert run(scenario()) == pytest.approx(0.0, abs=0.05)


def test_parse_limits_overrides_defaults() -> None:
    limits = parse_limits("ListHyperParameterTuningJobs=1:2, Foo=3")
    assert limits["ListHyperParameterTuningJobs"] == (1.0, 2.0)
    assert limits["Foo"] == (3.0, 3.0)
    assert (
        limits["DescribeHyperParameterTuningJob"]
        == DEFAULT_LIMITS["DescribeHyperParameterTuningJob"]
    )
    for bad in ("Foo", "Foo=0", "=1", "Foo=x"):
        with pytest.raises(ValueError):
            parse_limits(bad)


def test_deferred_calls_are_reported_as_one_line_with_counts_per_interval() -> None:
    clock = FakeClock()
    deferrals = Deferrals(interval=30.0, clock=clock)
    assert deferrals.report("us-west-2") is None  # nothing deferred: no line
    opened = [deferrals.note("DescribeHyperParameterTuningJob") for _ in range(83)]
    assert opened == [True] + [False] * 82  # one report scheduled for the whole burst
    deferrals.note("StopHyperParameterTuningJob")
    clock.now += 30.0
    line = deferrals.report("us-west-2")
    assert line is not None
    assert "deferred 84 calls in the last 30s" in line and "us-west-2" in line
    assert "DescribeHyperParameterTuningJob 83, StopHyperParameterTuningJob 1" in line
    assert deferrals.report("us-west-2") is None
    assert deferrals.note("DescribeHyperParameterTuningJob")  # a new interval opens


def test_take_spends_a_token_now_or_refuses() -> None:
    """The emulator's quota: a token now or a refusal, never a wait."""
    clock = FakeClock()
    bucket = TokenBucket(2.0, 2.0, clock)
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    clock.now += 0.5
    assert bucket.take() is True  # one token back at 2 per second
    assert bucket.take() is False


def test_one_limit_parser() -> None:
    assert parse_limit(" Search=0.5 ") == ("Search", (0.5, 1.0))
    assert parse_limit("Op=4:8") == ("Op", (4.0, 8.0))
    assert parse_limits("Op=4:8, ,Search=1", {"Other": (1.0, 1.0)}) == {
        "Other": (1.0, 1.0),
        "Op": (4.0, 8.0),
        "Search": (1.0, 1.0),
    }
    for bad in ("NoEquals", "=1", "Op=0", "Op=1:0.5", "Op=x"):
        with pytest.raises(ValueError):
            parse_limit(bad)
