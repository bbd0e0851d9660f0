"""The Create queue: Creates past a short wait for the account's budget wait as names, first in
first out, each run again in its turn with the token the queue took for it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hpo_operator.adapters.ratelimit import RateLimiter
from hpo_operator.core.types import Op
from hpo_operator.polling.createqueue import Admission, CreateQueue
from hpo_operator.polling.strategy import Owner

CREATE = Op.CREATE.value


class Clock:
    """The limiter's clock: it moves only when the limiter sleeps for a token."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def owner(i: int) -> Owner:
    return Owner("team", f"job-{i}", f"uid-{i}")


def queue_with(
    resubmit: Callable[[CreateQueue, Owner, int], float | None],
    rate: float = 1.0,
    burst: float = 1.0,
    queue_after: float = 1.0,
) -> tuple[CreateQueue, Clock]:
    clock = Clock()
    limiter = RateLimiter({CREATE: (rate, burst)}, clock=clock, sleep=clock.sleep)
    holder: list[CreateQueue] = []

    async def turn(who: Owner, attempt: int) -> float | None:
        return resubmit(holder[0], who, attempt)

    queue = CreateQueue(limiter, turn, queue_after=queue_after, concurrency=2)
    holder.append(queue)
    return queue, clock


async def until(predicate: Callable[[], bool]) -> None:
    """Let the queue's tasks run until `predicate` holds (no real time passes: the limiter's
    clock is fake, so there is no event to wait on but the tasks' progress)."""
    while not predicate():  # noqa: ASYNC110
        await asyncio.sleep(0)


def test_a_create_waits_briefly_then_queues_and_everyone_after_it_queues_too() -> None:
    async def scenario() -> None:
        queue, _ = queue_with(lambda q, o, a: None, rate=1.0, burst=2.0, queue_after=1.0)
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


def test_turns_come_in_order_at_the_budgets_pace_each_with_its_token() -> None:
    turns: list[tuple[str, Admission]] = []

    def resubmit(queue: CreateQueue, who: Owner, attempt: int) -> float | None:
        name = f"sm-{who.name}"
        turns.append((who.name, queue.admit(name)))
        return None

    async def scenario() -> None:
        queue, clock = queue_with(resubmit, rate=2.0, burst=1.0)
        for i in range(5):
            queue.add(owner(i), f"sm-job-{i}")
        queue.add(owner(2), "sm-job-2")  # queued twice: one place, one turn
        await until(lambda: len(turns) == 5 and not queue._running)
        assert queue.prepaid == {}  # every token was used by its Create
        assert clock.now == 2.0  # five tokens at 2 per second after a burst of 1: 4 waits of 0.5 s

    asyncio.run(scenario())
    assert [name for name, _ in turns] == [f"job-{i}" for i in range(5)]
    assert all(admission is Admission.PREPAID for _, admission in turns)


def test_a_turn_that_did_not_create_spends_its_token_and_never_carries_it_over() -> None:
    """The drainer reserves the next token before a turn ends: a token given back then would
    let two Creates through at once, past the budget (seen end to end: 6 ms apart at 0.5/s)."""
    created: list[str] = []

    def resubmit(queue: CreateQueue, who: Owner, attempt: int) -> float | None:
        if who.name != "job-0":  # job-0 was deleted while it waited: no Create
            assert queue.admit(f"sm-{who.name}") is Admission.PREPAID
            created.append(who.name)
        return None

    async def scenario() -> None:
        queue, clock = queue_with(resubmit, rate=1.0, burst=1.0)
        for i in range(4):
            queue.add(owner(i), f"sm-job-{i}")
        await until(lambda: len(created) == 3 and not queue._running)
        assert queue.prepaid == {}
        assert clock.now == 3.0  # four tokens at 1/s after a burst of 1
        assert queue.limiter.bucket(CREATE).wait_estimate() == 1.0  # none came back for job-0

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_a_turn_that_asks_for_a_retry_rejoins_the_queue_after_its_delay() -> None:
    attempts: list[int] = []

    def resubmit(queue: CreateQueue, who: Owner, attempt: int) -> float | None:
        attempts.append(attempt)
        queue.admit(f"sm-{who.name}")  # the Create was sent, and AWS throttled it
        return 0.01 if attempt < 2 else None

    async def scenario() -> None:
        queue, _ = queue_with(resubmit, rate=100.0, burst=1.0)
        queue.add(owner(0), "sm-job-0")
        await until(lambda: len(attempts) == 3 and not queue._running and not queue.delayed)
        assert len(queue) == 0

    asyncio.run(asyncio.wait_for(scenario(), 10))
    assert attempts == [0, 1, 2]


def test_a_resource_gone_before_its_turn_is_dropped() -> None:
    turned: list[Owner] = []

    def resubmit(queue: CreateQueue, who: Owner, attempt: int) -> float | None:
        turned.append(who)
        return None

    async def scenario() -> None:
        queue, _ = queue_with(resubmit, rate=1.0, burst=1.0)
        for i in range(3):
            queue.add(owner(i), f"sm-job-{i}")
        queue.discard("uid-1")
        await until(lambda: len(turned) == 2 and not queue._running)

    asyncio.run(asyncio.wait_for(scenario(), 10))
    assert [who.name for who in turned] == ["job-0", "job-2"]
