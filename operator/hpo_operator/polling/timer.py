"""The `per-resource` polling strategy: `poll` (a kopf handler that describes one job and patches
its resource) runs from one kopf timer per resource whose job is still running. A timer exists
only while the status says InProgress/Stopping (kopf stops it when the filter stops matching), so
a finished job costs nothing."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from typing import Any

import kopf

from hpo_operator.core.types import Target
from hpo_operator.identity import GROUP, PLURAL, VERSION
from hpo_operator.polling.strategy import Owner, PollHandler, needs_polling


class PerResourceTimer:
    """One kopf timer per running job, every `interval` seconds ± `jitter`·interval."""

    def __init__(self, interval: float, jitter: float, rng: random.Random | None = None) -> None:
        self.interval = interval
        self.jitter = jitter
        self.rng = rng or random.Random()

    def follow(self, owner: Owner, target: Target, status: Mapping[str, Any] | None) -> None:
        """Nothing to do: kopf starts and stops the timers from the status (`needs_polling`)."""

    def following(self, owner: Owner) -> bool:
        """Always: kopf runs a timer for every resource whose status shows a running job."""
        return True

    def queue_create(self, owner: Owner, target: Target) -> bool:
        """No queue: its clients never turn a Create away (`createqueue`)."""
        return False

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
