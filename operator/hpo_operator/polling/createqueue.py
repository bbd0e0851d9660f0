"""Creates waiting for one account and region's Create budget, held as names, in order.

A burst of resources (1,000 applied at once) is paced by the Create budget (19/s): before this
queue each resource waited for its token inside its kopf handler, so kopf kept its worker, its
body, the handler's state and every watch event of it for up to a minute, and the memory they
took together stayed fragmented after the burst (docs/performance.md). Now a Create that would
wait longer than `queue_after` is not sent: the reconcile ends (`Retry.QUEUE`, nothing written),
kopf's worker goes, and the resource waits here as (namespace, name, uid, job name). In its turn
the queue runs the resource's reconcile again (`Resubmit`: the operator reads the resource as it
is then), whose Create takes its token as any call does, right before it is sent (`admit`): turns
start no faster than the budget's rate, and a token is never taken ahead of the send (a token
taken before the turn's read of the resource let Creates bunch up past AWS's own bucket).

Level-based: nothing here is needed after a restart (kopf's resume handlers reconcile every
resource again); a resource deleted or changed while it waits is read as it is in its turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

from hpo_operator.adapters.ratelimit import RateLimiter
from hpo_operator.core.types import Op
from hpo_operator.polling.changes import job_key
from hpo_operator.polling.strategy import Owner

log = logging.getLogger(__name__)

CREATE = Op.CREATE.value

# Run a waiting resource's reconcile again now that its token is taken; seconds before it should
# be queued again (its reconcile asked for a retry), or None when it is done with the queue.
Resubmit = Callable[[Owner, int], Awaitable[float | None]]


class Admission(Enum):
    """What a reconcile's Create may do (`CreateQueue.admit`)."""

    WAIT = "wait"  # take a token as every call does (at most a short wait)
    TURN = "turn"  # its turn came: take a token as every call does, whatever waits behind it
    QUEUE = "queue"  # not now: queue it (`add`) and end the reconcile


@dataclass
class Waiting:
    owner: Owner
    job_name: str
    attempt: int = 0


class CreateQueue:
    """The waiting Creates of one (role, region, endpoint), first in first out."""

    def __init__(
        self,
        limiter: RateLimiter,
        resubmit: Resubmit,
        queue_after: float = 1.0,
        concurrency: int = 8,
        where: str = "",
    ) -> None:
        self.limiter = limiter
        self.resubmit = resubmit
        self.queue_after = queue_after
        self.where = where or "this region"
        self.waiting: OrderedDict[str, Waiting] = OrderedDict()  # owner uid → entry
        self.turns: dict[str, int] = {}  # job key → turns begun whose Create has not asked yet
        self.delayed = 0  # entries waiting out a retry delay before they rejoin (`_later`)
        self._slots = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self.waiting)

    def admit(self, job_name: str) -> Admission:
        """May a reconcile's Create of `job_name` go now? Only a short wait for a token is
        taken in a handler; past `queue_after`, or behind resources already waiting, it queues."""
        key = job_key(job_name)
        count = self.turns.get(key, 0)
        if count:
            self._end_turn(key)
            return Admission.TURN
        if self.waiting or self.limiter.bucket(CREATE).wait_estimate() > self.queue_after:
            return Admission.QUEUE
        return Admission.WAIT

    def _end_turn(self, key: str) -> None:
        if self.turns[key] == 1:
            del self.turns[key]
        else:
            self.turns[key] -= 1

    def expected_wait(self) -> float:
        """Seconds a Create queued now would wait for its turn, at the budget's current rate."""
        bucket = self.limiter.bucket(CREATE)
        return bucket.wait_estimate() + len(self.waiting) / bucket.rate

    def add(self, owner: Owner, job_name: str, attempt: int = 0) -> None:
        """Queue `owner`'s Create (once: a second add keeps its place and takes the new name)."""
        found = self.waiting.get(owner.uid)
        if found is not None:
            found.owner, found.job_name = owner, job_name
            return
        self.waiting[owner.uid] = Waiting(owner, job_name, attempt)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    def discard(self, uid: str) -> None:
        """The resource is gone: drop it if it waits (its turn would only read it gone)."""
        self.waiting.pop(uid, None)

    async def _drain(self) -> None:
        bucket = self.limiter.bucket(CREATE)
        while self.waiting:
            await self._slots.acquire()
            while (wait := bucket.wait_estimate()) > 0:
                try:
                    await self.limiter.sleep(wait)
                except BaseException:
                    self._slots.release()
                    raise
            if not self.waiting:  # all gone while it waited
                self._slots.release()
                return
            _, entry = self.waiting.popitem(last=False)
            key = job_key(entry.job_name)
            self.turns[key] = self.turns.get(key, 0) + 1
            task = asyncio.get_running_loop().create_task(self._turn(entry, key))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            await self.limiter.sleep(1.0 / bucket.rate)  # the next turn: one token later

    async def _turn(self, entry: Waiting, key: str) -> None:
        delay: float | None = None
        try:
            delay = await self.resubmit(entry.owner, entry.attempt)
        except Exception:
            log.exception("a queued Create in %s failed; queued again", self.where)
            delay = 1.0
        finally:
            self._slots.release()
            if self.turns.get(key):  # the reconcile did not Create (it took no token)
                self._end_turn(key)
        if delay is not None:
            self.delayed += 1
            asyncio.get_running_loop().call_later(delay, self._later, entry)

    def _later(self, entry: Waiting) -> None:
        self.delayed -= 1
        self.add(entry.owner, entry.job_name, entry.attempt + 1)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
        for task in list(self._running):
            task.cancel()
