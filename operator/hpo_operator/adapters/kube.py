"""Read and patch HyperParameterTuningJob objects through kopf's own API session.

The shared poller reports a job's change without a kopf handler running for that resource (no
per-resource timer: that is most of the operator's memory at thousands of jobs), so it needs to
read the resource and write its status itself. It does so with kopf's authenticated requests:
the same credentials, re-login on 401, retries and timeouts as kopf's own patches, and no
Kubernetes client library in the operator process. The stall sweep (`stall.py`) lists the
resources in pages, touches stalled ones and posts its Events the same way, from a task of its
own (outside kopf's per-resource context, which `kopf.event()` needs). kopf's API functions live
in `kopf._cogs` (kopf pins the signatures used here; `requirements/lock.txt` pins kopf), so this
module is the only place that touches them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any, cast

import kopf
from kopf._cogs.clients import api, errors, events
from kopf._cogs.structs.bodies import build_object_reference
from kopf._cogs.structs.references import NamespaceName
from kopf._core.engines.peering import Identity

log = logging.getLogger("hpo_operator.adapters.kube")


def kopf_identity(identity: str) -> Identity:
    """`identity` as the type `kopf.operator(identity=...)` takes (kopf does not export it)."""
    return Identity(identity)


EVENTS = kopf.Resource("", "v1", "events", namespaced=True)
CONFIGMAPS = kopf.Resource("", "v1", "configmaps", namespaced=True)
SECRETS = kopf.Resource("", "v1", "secrets", namespaced=True)
ApiError = errors.APIError  # any refusal by the API server, for callers outside this module


async def configmap_data(
    settings: kopf.OperatorSettings, namespace: str, name: str
) -> dict[str, str] | None:
    """One ConfigMap's `data`, read by name (RBAC: `get` on that name only); None if it does
    not exist. Other API errors raise."""
    url = CONFIGMAPS.get_url(namespace=NamespaceName(namespace), name=name)
    # kopf retries a 403 for ~54 s (an API server being upgraded may answer it); a role map the
    # operator may not read is a setup error the resources must hear about soon: one retry.
    quick = dataclasses.replace(
        settings, networking=dataclasses.replace(settings.networking, error_backoffs=(1,))
    )
    try:
        body = await api.get(url, settings=quick, logger=log)
    except errors.APINotFoundError:
        return None
    data = body.get("data") if isinstance(body, Mapping) else None
    return {str(k): str(v) for k, v in (data or {}).items()} if isinstance(data, Mapping) else {}


class KubeObjects:
    """GET and merge-PATCH one resource kind, with kopf's settings and credentials.

    Build it inside the operator (from a handler's `settings` and `resource` arguments): kopf's
    credentials reach the requests through context variables that its tasks inherit. `selector`
    (`--watch-selectors`) limits what `list_page` and `get_selected` see, on the API server.
    """

    def __init__(
        self, settings: kopf.OperatorSettings, resource: kopf.Resource, selector: str = ""
    ) -> None:
        self.settings = settings
        self.resource = resource
        self.selector = selector

    async def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The object as the API server has it now; None if it is gone."""
        url = self.resource.get_url(namespace=NamespaceName(namespace), name=name)
        try:
            body = await api.get(url, settings=self.settings, logger=log)
        except errors.APINotFoundError:
            return None
        return dict(body) if isinstance(body, Mapping) else None

    async def patch_status(
        self, namespace: str, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Merge `status` into the status subresource (never spec); the whole status as the API
        server now has it, or None if the object is gone."""
        url = self.resource.get_url(
            namespace=NamespaceName(namespace), name=name, subresource="status"
        )
        written = await self._merge(url, {"status": dict(status)})
        if written is None:
            return None
        result = written.get("status")
        return dict(result) if isinstance(result, Mapping) else {}

    async def patch_annotations(
        self, namespace: str, name: str, annotations: Mapping[str, str]
    ) -> str | None:
        """Merge `annotations` into metadata; the object's new resourceVersion ("" if the answer
        had none), or None if the object is gone."""
        url = self.resource.get_url(namespace=NamespaceName(namespace), name=name)
        written = await self._merge(url, {"metadata": {"annotations": dict(annotations)}})
        if written is None:
            return None
        return str((written.get("metadata") or {}).get("resourceVersion") or "")

    async def patch_metadata(self, namespace: str, name: str, patch: Mapping[str, Any]) -> bool:
        """Merge `patch` (a `{"metadata": ...}` document, with the resourceVersion it was decided
        on) into the object; False when the object is gone or changed since (409 Conflict)."""
        url = self.resource.get_url(namespace=NamespaceName(namespace), name=name)
        try:
            return await self._merge(url, dict(patch)) is not None
        except errors.APIConflictError:
            return False

    async def list_page(
        self, namespace: str | None, limit: int, token: str = ""
    ) -> tuple[list[dict[str, Any]], str]:
        """One page of the objects (one namespace, or all when None) and the token of the next
        page ("" after the last)."""
        params = {"limit": str(limit)}
        if token:
            params["continue"] = token
        if self.selector:
            params["labelSelector"] = self.selector
        ns = NamespaceName(namespace) if namespace is not None else None
        url = self.resource.get_url(namespace=ns, params=params)
        page = await api.get(url, settings=self.settings, logger=log)
        if not isinstance(page, Mapping):
            return [], ""
        items = [dict(item) for item in page.get("items") or () if isinstance(item, Mapping)]
        return items, str((page.get("metadata") or {}).get("continue") or "")

    async def get_selected(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The object when it exists and `selector` selects it (one LIST, filtered by the API
        server by name and labels); None otherwise."""
        if not self.selector:
            return await self.get(namespace, name)
        params = {"labelSelector": self.selector, "fieldSelector": f"metadata.name={name}"}
        url = self.resource.get_url(namespace=NamespaceName(namespace), params=params)
        page = await api.get(url, settings=self.settings, logger=log)
        items = page.get("items") if isinstance(page, Mapping) else None
        if not items or not isinstance(items[0], Mapping):
            return None
        # A LIST's items carry no apiVersion and kind; a GET's object does: answer the same.
        version = f"{self.resource.group}/{self.resource.version}".lstrip("/")
        return {"apiVersion": version, "kind": self.resource.kind, **items[0]}

    async def create(self, namespace: str, body: Mapping[str, Any]) -> bool:
        """POST `body` into `namespace`; False when an object of its name exists already."""
        url = self.resource.get_url(namespace=NamespaceName(namespace))
        try:
            await api.post(url, settings=self.settings, payload=dict(body), logger=log)
        except errors.APIConflictError:
            return False
        return True

    async def patch(
        self, namespace: str, name: str, payload: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Merge-PATCH `payload` into the object; the object as written, None if it is gone."""
        url = self.resource.get_url(namespace=NamespaceName(namespace), name=name)
        return await self._merge(url, dict(payload))

    async def post_event(
        self, body: Mapping[str, Any], type: str, reason: str, message: str
    ) -> None:
        """A core/v1 Event about `body` (apiVersion, kind, metadata), posted now. kopf.event()
        needs the context kopf gives its handlers; a task of the operator's own has none."""
        ref = build_object_reference(kopf.Body(cast(Any, dict(body))))
        await events.post_event(
            ref=ref,
            type=type,
            reason=reason,
            message=message,
            resource=EVENTS,
            settings=self.settings,
            logger=log,
        )

    async def _merge(self, url: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """The patched object, or None if it is gone."""
        try:
            body = await api.patch(
                url,
                settings=self.settings,
                payload=payload,
                headers={"Content-Type": "application/merge-patch+json"},
                logger=log,
            )
        except errors.APINotFoundError:
            return None
        return dict(body) if isinstance(body, Mapping) else {}
