"""How the operator learns about SageMaker changes between Kubernetes events.

The rest of the operator only needs `PollingStrategy.install(registry, poll)`: call `poll` (a
kopf handler that describes one job and patches its resource) whenever that job may have changed.
`PerResourceTimer` does it with one kopf timer per resource whose job is still running; a timer
exists only while the status says InProgress/Stopping (kopf stops it when the filter stops
matching), so a finished job costs nothing. A shared per-(region, account) poller that lists
changed jobs and describes only those can replace it behind the same interface.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import kopf

from hpo_operator.reconcile import FINISHED, STATUS_JOB_STATE, job_gone, status_arn

GROUP = "sagemaker.services.k8s.aws"
VERSION = "v1alpha1"
PLURAL = "hyperparametertuningjobs"

PollHandler = Callable[..., Any]  # a kopf handler: (body=, patch=, logger=, memo=, ...) -> None


class PollingStrategy(Protocol):
    """Arranges for `poll` to run for resources whose jobs may change."""

    def install(self, registry: kopf.OperatorRegistry, poll: PollHandler) -> None: ...


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
