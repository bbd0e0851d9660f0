"""The ports the shell and the poller call, as protocols: the adapters here, the shared poller's
port and the fakes in tests all satisfy them by their shape, so none needs to subclass an adapter
(nor skip its initialiser) to be accepted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from hpo_operator.core.types import AwsFailure, Call, Op


class SageMakerPort(Protocol):
    """One (region, endpoint)'s SageMaker as a reconcile uses it (`driver.drive` over `execute`)."""

    async def execute(self, call: Call) -> Mapping[str, Any] | AwsFailure:
        """The response, or how the call failed (never raises for AWS)."""
        ...


class SageMakerReader(SageMakerPort, Protocol):
    """A SageMaker port that also makes the read-only calls the poller needs (List, Search)."""

    async def read(
        self, op: Op, params: Mapping[str, Any], deadline: float
    ) -> Mapping[str, Any] | AwsFailure:
        """One read-only call, counted and classified like `execute`; a failure is data."""
        ...


class SageMakerClientsPort(Protocol):
    """Where the reconciles get the port for a (region, endpoint), reached with the operator's own
    credentials or, given `role_arn`, the role's (assumed through STS)."""

    async def get(
        self, region: str, endpoint_url: str | None, role_arn: str | None = None
    ) -> SageMakerPort: ...

    def close(self) -> None: ...


class SageMakerReaders(Protocol):
    """The clients factory the shared poller builds on: its ports also read."""

    async def get(
        self, region: str, endpoint_url: str | None, role_arn: str | None = None
    ) -> SageMakerReader: ...

    def close(self) -> None: ...


class ResourcePort(Protocol):
    """The Kubernetes calls the handlers and the poller's reports make on one resource
    (`kube.KubeObjects`)."""

    async def get(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def patch_status(
        self, namespace: str, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any] | None: ...

    async def patch_annotations(
        self, namespace: str, name: str, annotations: Mapping[str, str]
    ) -> str | None: ...

    async def patch_metadata(self, namespace: str, name: str, patch: Mapping[str, Any]) -> bool: ...


class SweepPort(Protocol):
    """The Kubernetes calls the stall sweep makes (`kube.KubeObjects`)."""

    async def list_page(
        self, namespace: str | None, limit: int, token: str = ""
    ) -> tuple[list[dict[str, Any]], str]: ...

    async def patch_annotations(
        self, namespace: str, name: str, annotations: Mapping[str, str]
    ) -> str | None: ...

    async def patch_metadata(self, namespace: str, name: str, patch: Mapping[str, Any]) -> bool: ...

    async def post_event(
        self, body: Mapping[str, Any], type: str, reason: str, message: str
    ) -> None: ...
