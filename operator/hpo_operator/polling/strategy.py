"""How the operator learns about SageMaker changes between Kubernetes events.

The rest of the operator only needs the `PollingStrategy` interface: `install(registry, poll)`
at startup, and `follow(owner, target, status)` after every reconcile (status when the job is
running, None when it is not or the resource is going away). `PerResourceTimer` runs `poll` (a
kopf handler that describes one job and patches its resource) from one kopf timer per resource
whose job is still running; a timer exists only while the status says InProgress/Stopping (kopf
stops it when the filter stops matching), so a finished job costs nothing. The shared poller
(`poller.SharedPoller`) uses `follow` instead: no timer, no kopf state per running job.
"""

from __future__ import annotations

import asyncio
import enum
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import kopf

from hpo_operator.core.outcome import job_gone, status_arn
from hpo_operator.core.types import FINISHED, STATUS_JOB_STATE, Target
from hpo_operator.identity import GROUP, PLURAL, VERSION

PollHandler = Callable[..., Any]  # a kopf handler: (body=, patch=, logger=, memo=, ...) -> None


@dataclass(frozen=True)
class Owner:
    """The resource a followed job belongs to (the uid tells a re-created namesake apart)."""

    namespace: str
    name: str
    uid: str


class Delivery(enum.Enum):
    """What became of a change reported to a resource."""

    DONE = "done"  # reconciled (status written if it changed)
    RETRY = "retry"  # could not be reported now: observe the job again later
    GONE = "gone"  # the resource is gone, deleting, or its job no longer runs: stop following


class PollingStrategy(Protocol):
    """Arranges for resources whose jobs may change to be reconciled when they do."""

    def install(self, registry: kopf.OperatorRegistry, poll: PollHandler) -> None: ...

    def follow(self, owner: Owner, target: Target, status: Mapping[str, Any] | None) -> None:
        """After a reconcile: `status` while the job runs, None once it no longer needs it."""


def needs_polling(status: Mapping[str, Any], meta: Mapping[str, Any]) -> bool:
    """A job is known (ARN in status), not finished nor gone, and the resource is not deleted."""
    if meta.get("deletionTimestamp") or job_gone(status):
        return False
    return status_arn(status) is not None and status.get(STATUS_JOB_STATE) not in FINISHED


class PerResourceTimer:
    """One kopf timer per running job, every `interval` seconds ± `jitter`·interval."""

    def __init__(self, interval: float, jitter: float, rng: random.Random | None = None) -> None:
        self.interval = interval
        self.jitter = jitter
        self.rng = rng or random.Random()

    def follow(self, owner: Owner, target: Target, status: Mapping[str, Any] | None) -> None:
        """Nothing to do: kopf starts and stops the timers from the status (`needs_polling`)."""

    def install(self, registry: kopf.OperatorRegistry, poll: PollHandler) -> None:
        spread = self.interval * self.jitter

        def when(status: Mapping[str, Any], meta: Mapping[str, Any], **_: Any) -> bool:
            return needs_polling(status, meta)

        def first_delay(**_: Any) -> float:
            return self.interval - spread + 2 * spread * self.rng.random()

        async def timer(**kwargs: Any) -> None:
            # kopf's interval counts from the end of the previous run (sharp=False); a random
            # pause keeps resources created together from polling together.
            await asyncio.sleep(2 * spread * self.rng.random())
            await poll(**kwargs)

        kopf.timer(
            GROUP,
            VERSION,
            PLURAL,
            id="poll",
            registry=registry,
            interval=max(self.interval - spread, 0.05),
            initial_delay=first_delay,
            sharp=False,
            when=when,
        )(timer)
