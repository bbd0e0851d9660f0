"""ACK's FieldExport reconciler (`--enable-field-export-reconciler`): kopf wiring over
`core.fieldexport`.

Two watches, no polling: kopf's watch of FieldExports (a new or edited export is synced at once,
and every export once at start-up) and an event handler on the operator's own
HyperParameterTuningJob watch (already open, filtered by `--watch-selectors`): a status write to
a job re-syncs the exports that name it, from the event's body, so an export follows its source
within one watch event. Which exports name which job is kept in memory (`by_source`), filled by
the FieldExport watch.

An install serves an export only when its source is one of its own resources: with a selector,
the source is read through it (`KubeObjects.get_selected`), and an export whose source another
install serves, or that does not exist, is left to that install (no status written). A failed
API call (a refused Secret, the API server away) is ACK.Recoverable and tried again with
backoff, as ACK requeues it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from typing import Any

import kopf

from hpo_operator.adapters.kube import CONFIGMAPS, SECRETS, ApiError, KubeObjects
from hpo_operator.core import fieldexport, parking
from hpo_operator.core.fieldexport import Export, Refused
from hpo_operator.identity import (
    FIELD_EXPORT_GROUP,
    FIELD_EXPORT_KIND,
    FIELD_EXPORT_PLURAL,
    FIELD_EXPORT_VERSION,
    FINALIZER,
    GROUP,
    KIND,
    PLURAL,
    VERSION,
)
from hpo_operator.shell.backoff import backoff_delay
from hpo_operator.shell.handlers import now_rfc3339, status_digest
from hpo_operator.shell.mergepatch import merge_patch

log = logging.getLogger("hpo_operator.shell.fieldexport")

FIELD_EXPORTS = kopf.Resource(
    FIELD_EXPORT_GROUP,
    FIELD_EXPORT_VERSION,
    FIELD_EXPORT_PLURAL,
    kind=FIELD_EXPORT_KIND,
    namespaced=True,
)
JOBS = kopf.Resource(GROUP, VERSION, PLURAL, kind=KIND, namespaced=True)


class FieldExporter:
    """The exports this process serves, and one sync of one export (see the module)."""

    def __init__(
        self,
        kopf_settings: kopf.OperatorSettings,
        selector: str = "",
        backoff: tuple[float, float] = (2.0, 300.0),  # the operator's backoff base and cap
    ) -> None:
        self.selector = selector
        self.backoff = backoff
        self.jobs = KubeObjects(kopf_settings, JOBS, selector)
        self.exports = KubeObjects(kopf_settings, FIELD_EXPORTS)
        self.targets = {
            "configmap": KubeObjects(kopf_settings, CONFIGMAPS),
            "secret": KubeObjects(kopf_settings, SECRETS),
        }
        self.bodies: dict[str, dict[str, Any]] = {}  # uid → the export as last seen
        self.by_source: dict[tuple[str, str], set[str]] = {}  # (namespace, job) → export uids
        self.generations: dict[str, int] = {}  # uid → the generation last synced
        # uid → (its generation, the job's `source_digest`) of the last sync from a job's event
        self.exported_from: dict[str, tuple[int, str]] = {}
        self.locks: dict[str, asyncio.Lock] = {}
        self.retries: dict[str, asyncio.Task[None]] = {}

    async def on_export(self, body: Mapping[str, Any], kind: str | None) -> None:
        """A FieldExport watch event: index it, and sync it when its spec is new to us."""
        meta = body.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        if kind == "DELETED":
            self._forget(uid)
            return
        self._index(uid, dict(body))
        generation = int(meta.get("generation") or 0)
        if self.generations.get(uid) != generation:
            await self.sync(uid)

    async def on_job(self, body: Mapping[str, Any], kind: str | None) -> None:
        """A watch event of one of this operator's jobs: re-sync the exports naming it. A job
        that leaves the watch because it was parked (`parking`) is still ours, and kopf may have
        batched its last status write into that DELETED event: its body is the job's final state."""
        if kind == "DELETED" and not parking.parked_away(body, FINALIZER):
            return
        meta = body.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        for uid in sorted(self.by_source.get(key, ())):
            await self.sync(uid, body)

    async def sync(
        self, uid: str, source: Mapping[str, Any] | None = None, attempt: int = 0
    ) -> None:
        """Export the field now (from `source`, else the job read by name); write status."""
        lock = self.locks.setdefault(uid, asyncio.Lock())
        async with lock:
            body = self.bodies.get(uid)
            if body is None:
                return
            generation = int((body.get("metadata") or {}).get("generation") or 0)
            self.generations[uid] = generation
            seen = None if source is None else (generation, source_digest(source))
            if seen is not None and self.exported_from.get(uid) == seen:
                return  # kopf's own bookkeeping on the job, say: nothing an export reads changed
            try:
                await self._sync(body, source)
                if seen is not None:
                    self.exported_from[uid] = seen
            except (TimeoutError, ApiError, OSError) as error:
                meta = body.get("metadata") or {}
                where = f"{meta.get('namespace')}/{meta.get('name')}"
                log.warning("FieldExport %s: %s: %s; retrying", where, type(error).__name__, error)
                problem = Refused("", f"{type(error).__name__}: {error}; retrying")
                self._retry_later(uid, attempt)
                with contextlib.suppress(TimeoutError, ApiError, OSError):  # the server may be away
                    await self._report(body, problem)

    async def _sync(self, body: dict[str, Any], source: Mapping[str, Any] | None) -> None:
        decided = fieldexport.read_export(body)
        if decided is None:
            return  # another controller's source kind
        if isinstance(decided, Refused):
            await self._report(body, decided)
            return
        export: Export = decided
        if source is None:
            source = await self.jobs.get_selected(export.namespace, export.source)
        if source is None:
            if self.selector:
                return  # not this install's job (or none at all): another install may serve it
            missing = f"the source {KIND} {export.source!r} does not exist in {export.namespace}"
            await self._report(body, Refused("", missing))
            return
        value, problem = fieldexport.value_of(export, source)
        if problem is not None or value is None:
            await self._report(body, problem)
            return
        await self._write_target(export, value)
        kind = "Secret" if export.kind == "secret" else "ConfigMap"
        where = f"{kind} {export.target}, key {export.key}"
        done = f"{export.path} of {KIND} {export.source} is in {where}"
        await self._report(body, None, done)

    async def _write_target(self, export: Export, value: str) -> None:
        targets = self.targets[export.kind]
        current = await targets.get(export.namespace, export.target)
        change = fieldexport.write(export, current, value)
        if change is not None and change.create is not None:
            if await targets.create(export.namespace, change.create):
                log.info(
                    "%s/%s: created %s %s",
                    export.namespace,
                    export.name,
                    export.kind,
                    export.target,
                )
                return
            current = await targets.get(export.namespace, export.target)  # made meanwhile
            change = fieldexport.write(export, current, value)
        if change is not None and change.patch is not None:
            await targets.patch(export.namespace, export.target, change.patch)
            log.info(
                "%s/%s: wrote key %s of %s %s",
                export.namespace,
                export.name,
                export.key,
                export.kind,
                export.target,
            )

    async def _report(
        self, body: dict[str, Any], problem: Refused | None, done: str | None = None
    ) -> None:
        """Write the status the outcome calls for (only what changed); a new terminal problem
        is also an Event naming the field."""
        meta = body.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        old = dict(body.get("status") or {})
        new = fieldexport.status(old, now_rfc3339(), done=done, problem=problem)
        diff = merge_patch(old, new)
        if not diff:
            return
        written = await self.exports.patch_status(namespace, name, diff)
        if written is not None:
            body["status"] = written
        if problem is not None and problem.field:
            message = f"{problem.field}: {problem.message}"
            log.warning("%s/%s: %s", namespace, name, message)
            await self.exports.post_event(
                fieldexport.reference(body), "Warning", "InvalidSpec", message
            )

    def _retry_later(self, uid: str, attempt: int) -> None:
        async def again() -> None:
            base, cap = self.backoff
            await asyncio.sleep(backoff_delay(attempt, base=base, cap=cap, rand=random.random()))
            self.retries.pop(uid, None)
            await self.sync(uid, None, attempt + 1)

        if uid not in self.retries:
            self.retries[uid] = asyncio.get_running_loop().create_task(again())

    def _index(self, uid: str, body: dict[str, Any]) -> None:
        self._unindex(uid)
        self.bodies[uid] = body
        decided = fieldexport.read_export(body)
        if isinstance(decided, Export):
            self.by_source.setdefault((decided.namespace, decided.source), set()).add(uid)

    def _unindex(self, uid: str) -> None:
        for key in [k for k, uids in self.by_source.items() if uid in uids]:
            self.by_source[key].discard(uid)
            if not self.by_source[key]:
                del self.by_source[key]

    def _forget(self, uid: str) -> None:
        self._unindex(uid)
        self.bodies.pop(uid, None)
        self.generations.pop(uid, None)
        self.exported_from.pop(uid, None)
        self.locks.pop(uid, None)
        task = self.retries.pop(uid, None)
        if task is not None:
            task.cancel()


def source_digest(job: Mapping[str, Any]) -> str:
    """What of a job an export may read (spec, status, labels), fingerprinted: the job's watch
    events that change none of it (kopf's progress annotations) need no sync."""
    meta = job.get("metadata") or {}
    return status_digest(
        {"spec": job.get("spec"), "status": job.get("status"), "labels": meta.get("labels")}
    )


def install(registry: kopf.OperatorRegistry, exporter: FieldExporter) -> None:
    """Watch FieldExports, and follow the jobs' events for the exports that name them."""

    async def on_export(body: kopf.Body, type: str | None, **_: Any) -> None:
        await exporter.on_export(body, type)

    async def on_job(body: kopf.Body, type: str | None, **_: Any) -> None:
        await exporter.on_job(body, type)

    kopf.on.event(
        FIELD_EXPORT_GROUP,
        FIELD_EXPORT_VERSION,
        FIELD_EXPORT_PLURAL,
        id="field-export",
        registry=registry,
    )(on_export)
    kopf.on.event(GROUP, VERSION, PLURAL, id="field-export-source", registry=registry)(on_job)
