"""Leader election (opt-in): only the replica holding the Lease runs kopf, and it never acts late.

A standby does nothing but read the Lease every retry period (no watch, no handler, no poll, no
AWS call) until it may take it; then kopf starts. The leader renews every retry period; if it has
not renewed within the renew deadline, or finds the Lease taken, it exits at once (status 1, as
controller-runtime's manager does), and the Deployment restarts it as a standby. On a clean stop
(SIGTERM) kopf stops first, then the Lease is released, so a standby takes it at its next try.

The fence: a process paused (SIGSTOP, a frozen VM, a long GC) may wake up after its lease expired
and before its own renew loop runs. So every SageMaker request (botocore's before-send, in the
thread about to send it) and every write to the API server (aiohttp's request start: kopf's status
and annotation patches, the poller's status writes, Events) first checks the acting deadline on
the monotonic clock, which runs on while the process is stopped, and exits the process past it:
nothing is sent after that point.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import math
import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from hpo_operator.adapters.lease import Leases
from hpo_operator.core.leadership import (
    LeaseRecord,
    Observed,
    Step,
    Timing,
    acting_deadline,
    decide,
    lease_spec,
    observe,
    released_spec,
)
from hpo_operator.shell.carm import SERVICE_ACCOUNT_NAMESPACE
from hpo_operator.shell.health import Health

log = logging.getLogger("hpo_operator.election")

LOST_EXIT_STATUS = 1  # controller-runtime's os.Exit(1) on a lost lease
JITTER = 1.2  # client-go's JitterFactor for a standby's retries
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def lease_namespace(given: str | None, own: Any = SERVICE_ACCOUNT_NAMESPACE) -> str | None:
    """Where the Lease lives: the setting, else the operator's own namespace (in a pod); None
    outside a pod without the setting (controller-runtime refuses to guess too)."""
    if given:
        return given
    try:
        return str(own.read_text()).strip() or None
    except OSError:
        return None


def micro_time(now: datetime.datetime | None = None) -> str:
    """A Lease's MicroTime: RFC 3339 in UTC with microseconds."""
    return (now or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Fence:
    """The leader's acting deadline on the monotonic clock; `check()` ends the process past it."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        exit: Callable[[int], Any] = os._exit,
    ) -> None:
        self.until = -math.inf
        self._clock = clock
        self._exit = exit

    def extend(self, until: float) -> None:
        self.until = max(self.until, until)

    def valid(self) -> bool:
        return self._clock() < self.until

    def check(self) -> None:
        """Return if this process may still act; else exit it now, before anything is sent."""
        if not self.valid():
            self.lose("the acting deadline passed before this process renewed its lease")

    def lose(self, why: str) -> None:
        """Stop acting for good: no return (unless `exit` is a test's)."""
        log.critical("leader election lost: %s; exiting to come back as a standby", why)
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stderr.flush()
        self._exit(LOST_EXIT_STATUS)

    def botocore_hook(self, **_: Any) -> None:
        """A botocore `before-send` handler: checks in the thread about to send the request."""
        self.check()

    def trace_config(self) -> aiohttp.TraceConfig:
        """aiohttp hooks for the operator's API session: checks before every write is sent."""
        config = aiohttp.TraceConfig()

        async def started(_: object, __: object, params: aiohttp.TraceRequestStartParams) -> None:
            if params.method.upper() in WRITES:
                self.check()

        config.on_request_start.append(started)
        return config


class Elector:
    """Acquire, keep and release one Lease for `me`; `fence` follows the acting deadline."""

    def __init__(
        self,
        leases: Leases,
        me: str,
        timing: Timing,
        fence: Fence,
        health: Health,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        report: Callable[[bool], None] = lambda leading: None,
    ) -> None:
        """`report`: told True when this process starts leading, False while it stands by and
        once it released the Lease (the metric)."""
        self.leases = leases
        self.report = report
        self.me = me
        self.timing = timing
        self.fence = fence
        self.health = health
        self.observed: Observed | None = None
        self._clock = clock
        self._rng = rng or random.Random()

    @property
    def holder(self) -> str:
        return self.observed.record.holder if self.observed else ""

    async def try_once(self, budget: float, *, leading: bool = False) -> bool:
        """One client-go round within `budget` seconds: read the Lease, then create, take or renew
        it, or stand by. True when this process holds it now (and the fence is extended).
        `leading`: only a renewal will do; a Lease someone else wrote in between is lost, never
        taken back."""
        sent = self._clock()
        async with asyncio.timeout(budget):
            record = await self.leases.get()
            self.observed = observe(self.observed, record, self._clock()) if record else None
            step = decide(self.observed, self.me, self._clock())
            if step is Step.STANDBY or (leading and step is not Step.RENEW):
                return False
            spec = lease_spec(step, record, self.me, self.timing, micro_time())
            written: LeaseRecord | None
            if record is None:
                written = await self.leases.create(spec)
            else:
                written = await self.leases.update(spec, record.version)
        if written is None:
            return False  # someone else wrote first
        self.observed = Observed(written, self._clock())
        self.fence.extend(acting_deadline(sent, self.timing))
        return True

    async def acquire(self) -> None:
        """Stand by until this process holds the Lease."""
        ns, name = self.leases.namespace, self.leases.name
        log.info("leader election: waiting for Lease %s/%s as %s", ns, name, self.me)
        self.health.standby = f"standby: waiting for Lease {ns}/{name}"
        self.report(False)
        while True:
            try:
                if await self.try_once(self.timing.renew_deadline):
                    break
            except Exception as error:  # an API error: try again next period
                log.warning("leader election: could not read or write the Lease: %r", error)
            waiting = f"standby: Lease {ns}/{name} is held by {self.holder}"
            if self.holder and self.holder != self.me and self.health.standby != waiting:
                log.info("leader election: %s", waiting)
                self.health.standby = waiting
            period = self.timing.retry_period
            await asyncio.sleep(period + self._rng.uniform(0, (JITTER - 1) * period))
        self.health.standby = None
        self.report(True)
        log.info("leader election: %s leads (Lease %s/%s)", self.me, ns, name)

    async def keep(self) -> None:
        """Renew every retry period until stopped; exit the process once the renew deadline
        passes without a renewal, or the Lease is found taken."""
        while True:
            await asyncio.sleep(self.timing.retry_period)
            while True:
                remaining = self.fence.until - self._clock()
                if remaining <= 0:
                    self.fence.lose("could not renew the Lease within the renew deadline")
                    return
                try:
                    if await self.try_once(remaining, leading=True):
                        break
                except Exception as error:
                    log.warning("leader election: renewing the Lease failed: %r", error)
                if self.holder != self.me:
                    self.fence.lose(f"the Lease is held by {self.holder or 'no one'}")
                    return
                await asyncio.sleep(min(self.timing.retry_period, max(remaining, 0.0)))

    def keep_in_background(self) -> asyncio.Task[None]:
        """`keep` as a task. Should it end other than by cancellation (a bug), the process stops:
        a leader that no longer renews must not go on acting until its fence trips."""
        task = asyncio.create_task(self.keep())

        def ended(done: asyncio.Task[None]) -> None:
            if not done.cancelled():
                self.fence.lose(f"the Lease renewal ended: {done.exception()!r}")

        task.add_done_callback(ended)
        return task

    async def release(self) -> None:
        """Give the Lease up (a clean stop, after kopf stopped): no holder, one second."""
        self.fence.until = -math.inf
        record = self.observed.record if self.observed else None
        if record is None or record.holder != self.me:
            return
        try:
            async with asyncio.timeout(self.timing.renew_deadline):
                done = await self.leases.update(released_spec(record, micro_time()), record.version)
        except Exception as error:
            log.warning("leader election: could not release the Lease: %r", error)
            return
        if done is not None:
            self.report(False)
            where = f"{self.leases.namespace}/{self.leases.name}"
            log.info("leader election: released Lease %s", where)
