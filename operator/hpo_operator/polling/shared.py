"""The `shared` polling strategy: one `RegionPoller` per (role, region, endpoint), that is per
account and region, each with its own budget, so one account's throttling never slows another;
and the SageMaker port the reconciles use in this mode (every call through the account's budget,
the poller's Describe handed on instead of a second one)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import kopf

from hpo_operator.adapters.ports import SageMakerReader, SageMakerReaders
from hpo_operator.adapters.ratelimit import RateLimiter
from hpo_operator.core.types import AwsFailure, Call, ErrorKind, Op, Target
from hpo_operator.polling.createqueue import Admission, CreateQueue, Resubmit
from hpo_operator.polling.poller import PollerConfig, RegionPoller
from hpo_operator.polling.strategy import Owner, PollHandler, Report

RESULT_READS = frozenset({Op.LIST_TRAININGS, Op.DESCRIBE_TRAINING})  # core/results.py
Key = tuple[str | None, str, str | None]  # (role, region, endpoint); role None: the operator's own


def where(region: str, endpoint_url: str | None, role_arn: str | None) -> str:
    """A poller's place for logs: region, endpoint, and the account of its role."""
    account = role_arn.split(":")[4] if role_arn and role_arn.count(":") >= 5 else None
    return (
        region
        + (f" at {endpoint_url}" if endpoint_url else "")
        + (f" in account {account}" if account else "")
    )


# Queued Creates whose turns run at once (each a GET, a reconcile and a status write): at 19
# Creates/s a turn may take 3.4 s before the turns, not the budget, set the pace. With 8, turns
# of ~1 s on a loaded machine held a 1,000-resource burst to ~8/s (every ARN after 88-118 s);
# with 32, a 10,000-resource burst beside a test run made 10.2 Creates/s. A turn holds one body.
CREATE_TURNS = 64


class PolledSageMaker:
    """The reconciler's port in shared-poller mode (a `ports.SageMakerReader`): every call goes
    through the account's budget; ownership proofs are gathered into Searches; Describes are
    noted. (A Describe the poller already made reaches the reconcile as `strategy.Prefetched`.)"""

    def __init__(
        self, inner: SageMakerReader, poller: RegionPoller, creates: CreateQueue | None = None
    ) -> None:
        self.inner = inner
        self.poller = poller
        self.creates = creates

    async def execute(self, call: Call) -> Mapping[str, Any] | AwsFailure:
        if call.op is Op.CREATE and self.creates is not None:
            admission = self.creates.admit(call.job_name)
            if admission is Admission.QUEUE:
                wait = self.creates.expected_wait()
                return AwsFailure(
                    call.op,
                    "CreateQueued",
                    f"waiting in the operator's Create queue for {self.poller.where} "
                    f"({len(self.creates)} ahead, about {wait:.0f} s at the budget's rate; "
                    "it stays under SageMaker's quota)",
                    ErrorKind.RECOVERABLE,
                    local=True,
                    queued=wait,
                )
        if call.op is Op.LIST_TAGS and not call.authoritative:
            tags = await self.poller.tags(call.job_name)
            if tags is not None:
                return {"Tags": tags}
        config = self.poller.config
        short = call.op is Op.DESCRIBE or call.op in RESULT_READS
        # A job's results, like a Describe, never hold a report slot long for their budget: read
        # within a moment or deferred (a finished job is reported again, a running one at its
        # next change).
        max_wait = config.describe_max_wait if short else config.call_max_wait
        result = await self.poller.call(call, max_wait)
        if call.op is Op.DESCRIBE and not isinstance(result, AwsFailure):
            self.poller.note(call.job_name, result)
        return result

    async def read(
        self, op: Op, params: Mapping[str, Any], deadline: float
    ) -> Mapping[str, Any] | AwsFailure:
        return await self.inner.read(op, params, deadline)


class SharedPoller:
    """The `shared` polling strategy, and the SageMaker clients that go with it.

    Give it to `handlers.Operator` as its clients (a `ports.SageMakerClientsPort`) and its
    polling strategy; `report` is the operator's `reconcile_polled`, where changes go.
    """

    def __init__(
        self,
        clients: SageMakerReaders,
        config: PollerConfig,
        report: Report,
        limits: Mapping[str, tuple[float, float]] | None = None,
        on_deferred: Callable[[str], None] | None = None,  # see RegionPoller.on_deferred
        resubmit: Resubmit | None = None,  # a queued Create's turn (`createqueue`); None: no queue
        queue_after: float = 1.0,
    ) -> None:
        self.base = clients
        self.resubmit = resubmit
        self.queue_after = queue_after
        self.config = config
        self.limits = limits
        self.report = report
        self.on_deferred = on_deferred
        self.pollers: dict[Key, RegionPoller] = {}
        self._ports: dict[Key, PolledSageMaker] = {}
        self._lock = asyncio.Lock()

    async def get(
        self, region: str, endpoint_url: str | None, role_arn: str | None = None
    ) -> PolledSageMaker:
        return await self.port(region, endpoint_url, role_arn)

    async def port(
        self, region: str, endpoint_url: str | None, role_arn: str | None = None
    ) -> PolledSageMaker:
        """The (role, region, endpoint)'s port, creating its client and poller on first use."""
        key = (role_arn or None, region, endpoint_url or None)
        found = self._ports.get(key)
        if found is not None:
            return found
        inner = await self.base.get(region, endpoint_url, role_arn)
        async with self._lock:
            found = self._ports.get(key)
            if found is None:
                poller = RegionPoller(
                    inner,
                    RateLimiter(self.limits),
                    self.config,
                    report=self.report,
                    where=where(region, endpoint_url, role_arn),
                    on_deferred=self.on_deferred,
                )
                self.pollers[key] = poller
                creates = None
                if self.resubmit is not None:
                    creates = CreateQueue(
                        poller.limiter,
                        self.resubmit,
                        self.queue_after,
                        CREATE_TURNS,
                        poller.where,
                    )
                found = self._ports[key] = PolledSageMaker(inner, poller, creates)
            return found

    def follow(self, owner: Owner, target: Target, status: Mapping[str, Any] | None) -> None:
        """After a reconcile: follow the job in its region's poller while it runs, else stop."""
        port = None
        if status is not None and target.region:
            key = (target.role_arn or None, target.region, target.endpoint_url or None)
            port = self._ports.get(key)
        for poller in self.pollers.values():
            if port is None or poller is not port.poller:
                poller.unfollow(owner)
        if port is not None and status is not None:
            # target_of takes the job from the status ARN when that is a tuning-job ARN, else
            # from the recorded name (a hand-edited garbage ARN must not make the poller follow
            # a job that does not exist).
            port.poller.follow(target.job_name, owner, status)

    def following(self, owner: Owner) -> bool:
        """Whether one of the pollers reports `owner`'s job's changes to it."""
        return any(poller.follows(owner.uid) for poller in self.pollers.values())

    def queue_create(self, owner: Owner, target: Target) -> bool:
        """Put `owner`'s Create, which its place's queue turned away, in that queue."""
        key = (target.role_arn or None, target.region or "", target.endpoint_url or None)
        port = self._ports.get(key)
        if port is None or port.creates is None:
            return False
        port.creates.add(owner, target.job_name)
        return True

    def close(self) -> None:
        for port in self._ports.values():
            if port.creates is not None:
                port.creates.cancel()
        for poller in self.pollers.values():
            poller.cancel()
        self.base.close()

    def install(self, registry: kopf.OperatorRegistry, poll: PollHandler) -> None:
        """Nothing to register: reconciles tell the poller which jobs run (`follow`)."""
