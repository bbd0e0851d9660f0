"""How the operator learns about SageMaker changes between Kubernetes events.

The rest of the operator only needs the `PollingStrategy` interface: `install(registry, poll)`
at startup, and `follow(owner, target, status)` after every reconcile (status when the job is
running, None when it is not or the resource is going away). Two implement it:
`timer.PerResourceTimer` (one kopf timer per running job) and `shared.SharedPoller` (one
`poller.RegionPoller` per region and endpoint, told by `follow`: no kopf state per running job).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import kopf

from hpo_operator.core.driver import Port
from hpo_operator.core.outcome import job_gone, status_arn
from hpo_operator.core.types import FINISHED, STATUS_JOB_STATE, AwsFailure, Call, Op, Target
from hpo_operator.polling.changes import job_key

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


@dataclass
class Prefetched:
    """A Describe the poller made, handed to the one reconcile it reports the change to, which
    uses it instead of describing the job again (`answering`)."""

    key: str  # `changes.job_key` of the job
    result: Mapping[str, Any] | AwsFailure
    used: bool = False

    def answering(self, port: Port) -> Port:
        """`port`, except that the first Describe of this job gets this answer."""

        async def answer(call: Call) -> Mapping[str, Any] | AwsFailure:
            if call.op is Op.DESCRIBE and not self.used and self.key == job_key(call.job_name):
                self.used = True
                return self.result
            return await port(call)

        return answer


# The operator's entry point for a change the shared poller found (`Operator.reconcile_polled`).
Report = Callable[[Owner, Prefetched], Awaitable[Delivery]]


class PollingStrategy(Protocol):
    """Arranges for resources whose jobs may change to be reconciled when they do."""

    def install(self, registry: kopf.OperatorRegistry, poll: PollHandler) -> None: ...

    def follow(self, owner: Owner, target: Target, status: Mapping[str, Any] | None) -> None:
        """After a reconcile: `status` while the job runs, None once it no longer needs it."""

    def following(self, owner: Owner) -> bool:
        """Whether `owner`'s job is followed now: the stall sweep re-follows a running job that
        is not (`stall.Sweeper`), as a reconcile would have."""

    def queue_create(self, owner: Owner, target: Target) -> bool:
        """Hold `owner`'s Create until the account's Create budget has its turn (`createqueue`);
        False: this strategy has no queue."""


def needs_polling(status: Mapping[str, Any], meta: Mapping[str, Any]) -> bool:
    """A job is known (ARN in status), not finished nor gone, and the resource is not deleted."""
    if meta.get("deletionTimestamp") or job_gone(status):
        return False
    return status_arn(status) is not None and status.get(STATUS_JOB_STATE) not in FINISHED
