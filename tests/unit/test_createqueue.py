"""The Create queue: Creates past a short wait for the account's budget wait as names, first in
first out; each is run again in its turn, no faster than the budget's rate, and its Create then
takes its token as any call does, right before it is sent."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable

from hpo_operator.adapters.ratelimit import RateLimiter
from hpo_operator.core.types import Op
from hpo_operator.polling.createqueue import Admission, CreateQueue
from hpo_operator.polling.strategy import Owner

CREATE = Op.CREATE.value


class Clock:
    """The limiter's clock: it moves only when the limiter (or the queue) sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def owner(i: int) -> Owner:
    return Owner("team", f"job-{i}", f"uid-{i}")


Turn = Callable[[CreateQueue, Owner, int], Awaitable[float | None]]


def queue_with(
    turn: Turn, rate: float = 1.0, burst: float = 1.0, queue_after: float = 1.0
) -> tuple[CreateQueue, Clock]:
    clock = Clock()
    limiter = RateLimiter({CREATE: (rate, burst)}, clock=clock, sleep=clock.sleep)
    holder: list[CreateQueue] = []

    async def resubmit(who: Owner, attempt: int) -> float | None:
        return await turn(holder[0], who, attempt)

    queue = CreateQueue(limiter, resubmit, queue_after=queue_after, concurrency=2)
    holder.append(queue)
    return queue, clock


async def create(
    queue: CreateQueue, who: Owner, clock: Clock, log: list[tuple[str, float]]
) -> None:
    """What a turn's reconcile does when it creates: admitted, then a token as every call."""
    assert queue.admit(f"sm-{who.name}") is Admission.TURN
    await queue.limiter.acquire(CREATE)
    log.append((who.name, clock.now))


async def until(predicate: Callable[[], bool]) -> None:
    """Let the queue's tasks run until `predicate` holds (no real time passes: the clock is
    fake, so there is no event to wait on but the tasks' progress)."""
    while not predicate():  # noqa: ASYNC110
        await asyncio.sleep(0)


def test_a_create_waits_briefly_then_queues_and_everyone_after_it_queues_too() -> None:
    async def scenario() -> None:
        async def idle(q: CreateQueue, o: Owner, a: int) -> float | None:
            return None

        queue, _ = queue_with(idle, rate=1.0, burst=2.0, queue_after=1.0)
        assert queue.admit("a") is Admission.WAIT
        bucket = queue.limiter.bucket(CREATE)
        bucket.reserve()
        bucket.reserve()  # the burst is spent: the next token is 1 s away
        assert queue.admit("b") is Admission.WAIT  # a wait of 1 s is taken in the handler
        bucket.reserve()  # now 2 s away
        assert queue.admit("c") is Admission.QUEUE
        queue.add(owner(3), "c")
        bucket.tokens = 2.0  # the budget refilled...
        assert queue.admit("d") is Admission.QUEUE  # ...but "c" waits: no overtaking
        queue.cancel()

    asyncio.run(scenario())


def test_turns_come_in_order_and_creates_at_the_budgets_pace() -> None:
    created: list[tuple[str, float]] = []
    clocks: list[Clock] = []

    async def turn(queue: CreateQueue, who: Owner, attempt: int) -> float | None:
        await create(queue, who, clocks[0], created)
        return None

    async def scenario() -> None:
        queue, clock = queue_with(turn, rate=2.0, burst=1.0)
        clocks.append(clock)
        for i in range(5):
            queue.add(owner(i), f"sm-job-{i}")
        queue.add(owner(2), "sm-job-2")  # queued twice: one place, one turn
        await until(lambda: len(created) == 5 and not queue._running)
        assert queue.turns == {}

    asyncio.run(asyncio.wait_for(scenario(), 10))
    assert [name for name, _ in created] == [f"job-{i}" for i in range(5)]
    moments = [at for _, at in created]
    # Never two tokens closer than the budget allows (a bucket of 1 at 2/s).
    assert all(b - a >= 0.5 for a, b in itertools.pairwise(moments)), moments


def test_a_turn_that_does_not_create_takes_no_token() -> None:
    created: list[tuple[str, float]] = []
    clocks: list[Clock] = []

    async def turn(queue: CreateQueue, who: Owner, attempt: int) -> float | None:
        if who.name != "job-0":  # job-0 was deleted while it waited: no Create
            await create(queue, who, clocks[0], created)
        return None

    async def scenario() -> None:
        queue, clock = queue_with(turn, rate=1.0, burst=1.0)
        clocks.append(clock)
        queue.limiter.bucket(CREATE).reserve()  # a handler took the only token: others queue
        for i in range(3):
            queue.add(owner(i), f"sm-job-{i}")
        await until(lambda: len(created) == 2 and not queue._running)
        assert queue.turns == {}

    asyncio.run(asyncio.wait_for(scenario(), 10))
    moments = [at for _, at in created]
    assert moments[1] - moments[0] >= 1.0  # one token per second, none given to job-0's turn


def test_a_turn_that_asks_for_a_retry_rejoins_the_queue_after_its_delay() -> None:
    attempts: list[int] = []

    async def turn(queue: CreateQueue, who: Owner, attempt: int) -> float | None:
        attempts.append(attempt)
        assert queue.admit(f"sm-{who.name}") is Admission.TURN  # sent, and AWS throttled it
        return 0.01 if attempt < 2 else None

    async def scenario() -> None:
        queue, _ = queue_with(turn, rate=100.0, burst=1.0)
        queue.add(owner(0), "sm-job-0")
        await until(lambda: len(attempts) == 3 and not queue._running and not queue.delayed)
        assert len(queue) == 0

    asyncio.run(asyncio.wait_for(scenario(), 10))
    assert attempts == [0, 1, 2]


def test_a_resource_gone_before_its_turn_is_dropped() -> None:
    turned: list[Owner] = []

    async def turn(queue: CreateQueue, who: Owner, attempt: int) -> float | None:
        turned.append(who)
        return None

    async def scenario() -> None:
        queue, _ = queue_with(turn, rate=1.0, burst=1.0)
        for i in range(3):
            queue.add(owner(i), f"sm-job-{i}")
        queue.discard("uid-1")
        await until(lambda: len(turned) == 2 and not queue._running)

    asyncio.run(asyncio.wait_for(scenario(), 10))
    assert [who.name for who in turned] == ["job-0", "job-2"]
