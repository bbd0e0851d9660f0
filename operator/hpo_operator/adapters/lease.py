"""Read, create and update one `coordination.k8s.io/v1` Lease, for leader election.

A standby runs before kopf does (it must not watch, handle or poll until it leads), so there is no
kopf login and no credentials vault yet: the Lease is reached over an API session of its own,
built by `connect` from the same login the operator uses (service account, else kubeconfig), with
kopf's request function (its errors and TLS; no Kubernetes client library). Each request is tried
once: the elector has its own retry period and deadline, and bounds each round with a timeout. A
401 drops the session, so the next try logs in again (a rotated service-account token).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import kopf
from kopf._cogs.clients import api, auth, errors
from kopf._cogs.structs.references import NamespaceName

from hpo_operator.core.leadership import LeaseRecord, record_of

log = logging.getLogger("hpo_operator.adapters.lease")

LEASES = kopf.Resource("coordination.k8s.io", "v1", "leases", namespaced=True)

Connect = Callable[[], kopf.AiohttpSession]


class Leases:
    """One Lease by name: `get`, `create` and `update` (a PUT carrying the resourceVersion it was
    decided on: 409 Conflict means someone else wrote first, and the answer is None)."""

    def __init__(
        self, settings: kopf.OperatorSettings, connect: Connect, namespace: str, name: str
    ) -> None:
        self.settings = settings
        self.namespace = namespace
        self.name = name
        self._connect = connect
        self._context: auth.APIContext | None = None

    async def get(self) -> LeaseRecord | None:
        """The Lease as the API server has it now; None if it does not exist."""
        try:
            return await self._call("get", self._url(), None)
        except errors.APINotFoundError:
            return None

    async def create(self, spec: Mapping[str, Any]) -> LeaseRecord | None:
        """Create the Lease with `spec`; None if someone created it first."""
        body = {"metadata": {"name": self.name, "namespace": self.namespace}, "spec": dict(spec)}
        try:
            return await self._call("post", self._url(collection=True), body)
        except errors.APIConflictError:
            return None

    async def update(self, spec: Mapping[str, Any], version: str) -> LeaseRecord | None:
        """Replace the Lease's spec if it is still at `version`; None if it changed since (or is
        gone)."""
        metadata = {"name": self.name, "namespace": self.namespace, "resourceVersion": version}
        body = {"metadata": metadata, "spec": dict(spec)}
        try:
            return await self._call("put", self._url(), body)
        except (errors.APIConflictError, errors.APINotFoundError):
            return None

    async def close(self) -> None:
        """Close the session."""
        if self._context is not None:
            context, self._context = self._context, None
            await context.session.close()

    def _url(self, *, collection: bool = False) -> str:
        name = None if collection else self.name
        return LEASES.get_url(namespace=NamespaceName(self.namespace), name=name)

    async def _call(self, method: str, url: str, body: Mapping[str, Any] | None) -> LeaseRecord:
        if self._context is None:
            self._context = auth.APIContext(self._connect())
        try:
            response = await api.request(
                method,
                url,
                settings=self.settings,
                payload=body,
                backoffs=(),
                context=self._context,
                logger=log,
            )
        except errors.APIUnauthorizedError:
            await self.close()
            raise
        async with response:
            answer = await response.json()
        return record_of(answer if isinstance(answer, dict) else {})
