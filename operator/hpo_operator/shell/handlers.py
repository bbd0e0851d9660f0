"""kopf wiring: events in, `driver.drive` over the pure decisions, status/annotations/Events out.

Nothing here decides anything about tuning jobs (that is `core/`). The `Operator` service
object is built once at startup and reaches the handlers through kopf's `memo`; handlers return
None, so kopf writes nothing into `status.<handler-id>`.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, cast

import aiohttp
import kopf

from hpo_operator import identity
from hpo_operator.adapters import watchintake
from hpo_operator.adapters.kube import KubeObjects
from hpo_operator.adapters.ports import ResourcePort, SageMakerClientsPort
from hpo_operator.core import conditions, parking
from hpo_operator.core.driver import Port, drive
from hpo_operator.core.results import best_objective, results_pending
from hpo_operator.core.target import job_ref, target_of
from hpo_operator.core.types import (
    FINISHED,
    STATUS_JOB_STATE,
    AwsFailure,
    Call,
    ErrorKind,
    Resource,
    Retry,
    RoleMaps,
    Step,
    Target,
    Trigger,
)
from hpo_operator.identity import ACK_ANNOTATION_PREFIXES, FINALIZER, GROUP, PLURAL, VERSION
from hpo_operator.model.timestamps import epoch_seconds
from hpo_operator.model.translate import rfc3339
from hpo_operator.polling.strategy import (
    Delivery,
    Owner,
    PollingStrategy,
    Prefetched,
    needs_polling,
)
from hpo_operator.shell import logs
from hpo_operator.shell.backoff import backoff_delay, jittered
from hpo_operator.shell.health import Health
from hpo_operator.shell.mergepatch import merge_patch
from hpo_operator.shell.metrics import Metrics
from hpo_operator.shell.settings import Settings

NAMESPACE_INDEX = "namespace_annotations"

log = logging.getLogger("hpo_operator")


def now_rfc3339() -> str:
    """The current time as Kubernetes writes it."""
    return rfc3339(datetime.now(UTC))


def to_resource(body: Mapping[str, Any], namespace_annotations: Mapping[str, str]) -> Resource:
    """The pure core's view of a kopf body (deep copies: the core never sees kopf's objects)."""
    meta = body.get("metadata") or {}
    return Resource(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        uid=str(meta.get("uid") or ""),
        generation=int(meta.get("generation") or 0),
        spec=copy.deepcopy(dict(body.get("spec") or {})),
        status=copy.deepcopy(dict(body.get("status") or {})),
        annotations=dict(meta.get("annotations") or {}),
        namespace_annotations=dict(namespace_annotations),
        deleting=bool(meta.get("deletionTimestamp")),
        labels=dict(meta.get("labels") or {}),
    )


def status_digest(status: Mapping[str, Any]) -> str:
    """A short fingerprint of a status (what `Operator.written` keeps instead of the status)."""
    text = json.dumps(status, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def namespace_annotations_of(index: Any, namespace: str) -> Mapping[str, str]:
    """The ACK annotations of a namespace, from the kopf index (empty when unknown)."""
    if index is None:
        return {}
    for value in index.get(namespace, ()):
        if isinstance(value, Mapping):
            return value
    return {}


def _unreachable(code: str, message: str) -> Port:
    """A port that answers every call with the same recoverable failure (no usable client)."""

    async def port(call: Call) -> AwsFailure:
        return AwsFailure(call.op, code, message, ErrorKind.RECOVERABLE)

    return port


@dataclass
class Operator:
    """Everything the handlers need, built once at startup (kept in kopf's memo).

    Status is written here, through the status subresource, while the resource's lock is held
    (`kube`): a kopf handler and a change the shared poller reports for the same resource never
    interleave, so an older observation can never overwrite a newer one. Without `kube` (unit
    tests of the shell) status goes into kopf's patch instead.
    """

    settings: Settings
    clients: SageMakerClientsPort
    metrics: Metrics
    health: Health
    polling: PollingStrategy | None = None
    kopf_settings: kopf.OperatorSettings | None = None
    rng: random.Random = field(default_factory=random.Random)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    kube: ResourcePort | None = None
    namespace_index: Any = None
    # uid → digest of the newest status this process has seen from the API server (the answer to
    # its last status write, or a read). A handler's body whose status differs was read before
    # that (the shared poller wrote while the handler waited for the lock) or someone else wrote
    # status: either way it is read again.
    written: dict[str, str] = field(default_factory=dict)
    # uid → the job (`reconcile.job_ref`) proven this resource's in this process (by its Create,
    # a ListTags or the AddTags of an adoption): one ListTags per resource per process at most.
    proven: dict[str, str] = field(default_factory=dict)
    # ACK's role maps (`carm.RoleMapSource`); None: cross-account management is off.
    role_maps: Callable[[], Awaitable[RoleMaps]] | None = None
    # More hooks on every API-server request (leader election's fence, `election.Fence`).
    kube_traces: list[aiohttp.TraceConfig] = field(default_factory=list)

    def bind(self, kwargs: Mapping[str, Any]) -> None:
        """Keep what kopf hands every resource handler and the poller's reports need later:
        the resource kind (for the API client) and the live namespace index."""
        index = kwargs.get(NAMESPACE_INDEX)
        if index is not None:
            self.namespace_index = index
        resource = kwargs.get("resource")
        if self.kube is None and self.kopf_settings is not None and resource is not None:
            self.kube = KubeObjects(self.kopf_settings, resource)

    async def reconcile(
        self,
        trigger: Trigger,
        body: kopf.Body | Mapping[str, Any],
        patch: kopf.Patch | None,
        namespace_annotations: Mapping[str, str],
        retry: int = 0,
    ) -> Step:
        """One reconcile of one resource; writes status, posts Events, returns the step."""
        resource = to_resource(body, namespace_annotations)
        lock = self.locks.setdefault(resource.uid, asyncio.Lock())
        async with lock:
            resource = await self._fresh(resource)
            return await self._reconcile_locked(trigger, resource, body, patch)

    async def _fresh(self, resource: Resource) -> Resource:
        """The resource with the status this process last wrote, when kopf's body predates it:
        deciding on an older status would describe again and repeat the Events of a change
        already reported."""
        last = self.written.get(resource.uid)
        if self.kube is None or last is None or last == status_digest(resource.status):
            return resource
        current = await self.kube.get(resource.namespace, resource.name)
        meta = (current or {}).get("metadata") or {}
        if current is None or meta.get("uid") != resource.uid:
            return resource  # gone or replaced: the handler's own view decides
        status = to_resource(current, {}).status
        self.written[resource.uid] = status_digest(status)  # read once, even if none is written
        return replace(resource, status=status)

    async def reconcile_polled(self, owner: Owner, prefetched: Prefetched) -> Delivery:
        """The shared poller has news for `owner`'s job (`prefetched`, its Describe): read the
        resource as it is now and run the ordinary poll reconcile on it, which describes the job
        with that answer."""
        if self.kube is None:
            return Delivery.RETRY
        lock = self.locks.setdefault(owner.uid, asyncio.Lock())
        async with lock:
            body = await self._owned(owner)
            if body is None:
                return Delivery.GONE
            meta = body.get("metadata") or {}
            status = body.get("status") or {}
            cfg = self.settings.reconcile_settings()
            if not needs_polling(status, meta) and not results_pending(status, meta, cfg):
                return Delivery.GONE
            ns = namespace_annotations_of(self.namespace_index, owner.namespace)
            resource = to_resource(body, ns)
            step = await self._reconcile_locked(Trigger.POLL, resource, body, None, prefetched)
            if step.status is not None and step.status.get(STATUS_JOB_STATE) in FINISHED:
                if step.retry is Retry.BACKOFF:
                    # A finished job whose results could not be read (`results.py`): it stays
                    # followed (`_follow`), so the poller describes and reports it again.
                    return Delivery.RETRY
                await self._park(owner)
            return Delivery.DONE

    async def reconcile_queued(self, owner: Owner, attempt: int) -> float | None:
        """A Create queued behind its account's budget (`createqueue`) has its turn: reconcile
        the resource as it is now, as a change would. Seconds before it should be queued again
        (the reconcile asked for a retry), None when it is done with the queue."""
        if self.kube is None:
            return None
        lock = self.locks.setdefault(owner.uid, asyncio.Lock())
        async with lock:
            body = await self._owned(owner)
            if body is None or (body.get("metadata") or {}).get("deletionTimestamp"):
                return None  # gone, replaced or being deleted: kopf's handlers have it
            ns = namespace_annotations_of(self.namespace_index, owner.namespace)
            resource = to_resource(body, ns)
            step = await self._reconcile_locked(Trigger.CHANGE, resource, body, None)
        if step.retry is None or step.retry is Retry.QUEUE:
            return None  # done, or queued again by the reconcile itself
        return self.retry_delay(step, attempt)

    def unfollowed(self, body: Mapping[str, Any]) -> bool:
        """The resource's status shows a job this operator still has work for (running, or
        finished with its results unread), this process has reconciled it (its state is
        counted: a kopf peer that is paused, or has not resumed it yet, never asks), and nothing
        follows it: no change of that job would ever reach it (the stall sweep asks, and
        `refollow`s such a resource). A Terminal condition (a job not this resource's, an edit
        it refuses) is the operator's last word."""
        meta = body.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        if self.polling is None or self.metrics.state_of(uid) is None:
            return False
        status = body.get("status") or {}
        cfg = self.settings.reconcile_settings()
        if not needs_polling(status, meta) and not results_pending(status, meta, cfg):
            return False
        if conditions.is_true(status.get("conditions"), conditions.TERMINAL):
            return False
        owner = Owner(str(meta.get("namespace") or ""), str(meta.get("name") or ""), uid)
        return not self.polling.following(owner)

    async def refollow(self, owner: Owner) -> None:
        """Reconcile a resource whose job nothing followed (`unfollowed`) as a poll would: it
        describes the job, writes what changed, and follows the job again while it runs."""
        if self.kube is None:
            return
        lock = self.locks.setdefault(owner.uid, asyncio.Lock())
        async with lock:
            body = await self._owned(owner)
            if body is None or not self.unfollowed(body):
                return  # gone, or followed again meanwhile (a reconcile ran)
            ns = namespace_annotations_of(self.namespace_index, owner.namespace)
            resource = to_resource(body, ns)
            await self._reconcile_locked(Trigger.POLL, resource, body, None)

    async def _owned(self, owner: Owner) -> dict[str, Any] | None:
        """`owner`'s resource as the API server has it now; None if it is gone or replaced by a
        namesake (another uid)."""
        assert self.kube is not None
        body = await self.kube.get(owner.namespace, owner.name)
        if body is None or (body.get("metadata") or {}).get("uid") != owner.uid:
            return None
        return body

    async def _park(self, owner: Owner) -> None:
        """The job just finished: park the resource now (`parking`) rather than at the next
        stall sweep. Read again, as the status write and kopf may have changed it."""
        body = await self._owned(owner)
        if body is None or self.kube is None:
            return
        patch = parking.park(body, FINALIZER)
        if patch is not None and await self.kube.patch_metadata(owner.namespace, owner.name, patch):
            self.metrics.parked_one(patch["metadata"]["labels"][identity.FINISHED_LABEL])
            # It leaves the watch. kopf's DELETED event (`forget`) may come while this reconcile
            # still holds the lock, and would then keep it: drop it here, with the rest (the
            # metrics now count it as parked).
            self._drop(owner.uid)

    async def _reconcile_locked(
        self,
        trigger: Trigger,
        resource: Resource,
        body: kopf.Body | Mapping[str, Any],
        patch: kopf.Patch | None,
        prefetched: Prefetched | None = None,
    ) -> Step:
        started = time.monotonic()
        cfg = self.settings.reconcile_settings()
        if self.role_maps is not None:
            resource = replace(resource, role_maps=await self.role_maps())
        target = target_of(resource, cfg)
        context = logs.fields(resource.namespace, resource.name, target.job_name)
        port: Port = _unreachable("NoRegion", "no AWS region for this resource")
        if target.unreachable is not None:
            port = _unreachable("Unreachable", target.unreachable)  # never a client: no request
        elif target.region:
            try:
                client = await self.clients.get(target.region, target.endpoint_url, target.role_arn)
            except Exception as error:  # e.g. a malformed endpoint-url or region annotation
                port = _unreachable(
                    "InvalidClientConfig",
                    f"cannot make a SageMaker client for region {target.region!r} and endpoint "
                    f"{target.endpoint_url or '(AWS default)'}: {error}. Check the region and "
                    "endpoint-url annotations and flags",
                )
            else:
                port = client.execute
                if prefetched is not None:
                    port = prefetched.answering(port)
        try:
            step = await drive(
                resource,
                cfg,
                trigger,
                port,
                now_rfc3339,
                on_call=lambda call: log.debug("calling %s", call.op.value, extra=context),
                known=self.proven.get(resource.uid),
                on_status=lambda interim: self._write(resource, interim, body, patch, context),
            )
        except Exception:
            self.metrics.reconcile_errors.labels("bug").inc()
            self.metrics.reconciles.labels(trigger.value, "error").inc()
            log.exception("reconcile failed", extra=context)
            raise
        finally:
            self.metrics.reconcile_seconds.labels(trigger.value).observe(time.monotonic() - started)
        if step.proven is not None:
            self.proven[resource.uid] = step.proven
        if step.retry is Retry.QUEUE:
            owner = Owner(resource.namespace, resource.name, resource.uid)
            if self.polling is None or not self.polling.queue_create(owner, target):
                step = replace(step, retry=Retry.BACKOFF)  # no queue here: kopf retries it
        await self._write(resource, step, body, patch, context)
        self._follow(resource, step, target)
        result = "released" if step.release else (step.retry.value if step.retry else "done")
        self.metrics.reconciles.labels(trigger.value, result).inc()
        if step.retry is Retry.BACKOFF:
            self.metrics.reconcile_errors.labels("recoverable").inc()
        if step.release:
            self._drop(resource.uid)
        return step

    def _drop(self, uid: str, *, keep_lock: bool = False) -> None:
        """Forget everything kept for the resource `uid`: its lock (unless `keep_lock`), written
        status digest, ownership proof and its job's state in the metrics."""
        if not keep_lock:
            self.locks.pop(uid, None)
        self.written.pop(uid, None)
        self.proven.pop(uid, None)
        self.metrics.job_state(uid, None)
        self.metrics.best_objective(uid, "", "", None)

    def forget(self, body: Mapping[str, Any]) -> None:
        """The resource is gone from the API server, maybe without our finalizer's delete handler
        (a finalizer removed by hand, a force delete), or gone from this operator's watch (parked,
        or relabelled out of `--watch-selectors`): drop its job from the metrics and the poller,
        and its lock and written-status digest unless a reconcile still holds the lock."""
        resource = to_resource(body, {})
        target = target_of(resource, self.settings.reconcile_settings())
        state = self.metrics.state_of(resource.uid)  # None once the delete handler released it
        meta = body.get("metadata") or {}
        if parking.parked_away(body, FINALIZER):
            log.debug(
                "parked: out of kopf's watch",
                extra=logs.fields(resource.namespace, resource.name, target.job_name),
            )
        elif not resource.deleting and FINALIZER in (meta.get("finalizers") or ()):
            # Not deleted: it left the watch, its labels no longer matching --watch-selectors
            # (another install may serve it now).
            log.info(
                "the resource left this operator's watch (its labels no longer match "
                "--watch-selectors); its job is left to whoever selects it now",
                extra=logs.fields(resource.namespace, resource.name, target.job_name),
            )
        elif state is not None and needs_polling(resource.status, {}):
            log.warning(
                "the resource was deleted without the operator's delete handler (its finalizer "
                "was removed), so its %s SageMaker job was left as it is",
                state,
                extra=logs.fields(resource.namespace, resource.name, target.job_name),
            )
        lock = self.locks.get(resource.uid)
        self._drop(resource.uid, keep_lock=lock is not None and lock.locked())
        if self.polling is not None:
            owner = Owner(resource.namespace, resource.name, resource.uid)
            self.polling.follow(owner, target, None)

    def retry_delay(self, step: Step, attempt: int) -> float:
        """Seconds before the next try: exponential backoff for errors, else the poll interval."""
        s = self.settings
        if step.retry is Retry.BACKOFF:
            return backoff_delay(
                attempt, base=s.backoff_base, cap=s.backoff_cap, rand=self.rng.random()
            )
        return jittered(s.poll_interval, self.rng.random(), s.poll_jitter)

    async def _write(
        self,
        resource: Resource,
        step: Step,
        body: kopf.Body | Mapping[str, Any],
        patch: kopf.Patch | None,
        context: dict[str, Any],
    ) -> None:
        ns, name = resource.namespace, resource.name
        if step.status is not None:
            diff = merge_patch(resource.status, step.status)
            if diff:
                if self.kube is not None:
                    written = await self.kube.patch_status(ns, name, diff)
                    if written is not None:
                        self.written[resource.uid] = status_digest(written)
                elif patch is not None:
                    patch.status.update(diff)
            self._observe_status(resource, step.status)
        changed = {
            key: value
            for key, value in step.annotations.items()
            if resource.annotations.get(key) != value
        }
        if changed and patch is not None:
            patch.metadata.annotations.update(changed)
        elif changed and self.kube is not None:
            await self.kube.patch_annotations(ns, name, changed)
        for event in step.events:
            target = cast(kopf.Body, body)  # kopf only reads apiVersion, kind and metadata
            kopf.event(target, type=event.type, reason=event.reason, message=event.message)
            level = logging.WARNING if event.type == "Warning" else logging.INFO
            log.log(level, "%s: %s", event.reason, event.message, extra=context)

    def _follow(self, resource: Resource, step: Step, target: Target) -> None:
        """Tell the polling strategy whether this resource's job is running now; a job not proven
        this resource's is never followed (its changes would be reported to the wrong resource)."""
        if self.polling is None:
            return
        status = step.status if step.status is not None else resource.status
        going = resource.deleting or step.release
        owner = Owner(resource.namespace, resource.name, resource.uid)
        proven = self.proven.get(resource.uid) == job_ref(target)
        # A finished job is still followed while a retry is due (its results' read failed).
        pending = needs_polling(status, {}) or step.retry is Retry.BACKOFF
        running = not going and proven and pending
        self.polling.follow(owner, target, status if running else None)

    def _observe_status(self, resource: Resource, status: Mapping[str, Any]) -> None:
        state = status.get(STATUS_JOB_STATE)
        if state:
            self.metrics.job_state(resource.uid, str(state))
        objective = best_objective(status)
        value = objective[1] if objective is not None else None
        self.metrics.best_objective(resource.uid, resource.namespace, resource.name, value)
        modified = status.get("lastModifiedTime")
        if modified and modified != resource.status.get("lastModifiedTime"):
            moment = epoch_seconds(modified)
            if moment is None:
                return
            lag = time.time() - moment
            self.metrics.status_lag.observe(max(lag, 0.0))


# --- kopf handlers: thin functions over Operator ----------------------------------------------


def _operator(memo: Any) -> Operator:
    operator: Operator = memo.operator
    return operator


async def on_change(
    body: kopf.Body, patch: kopf.Patch, memo: Any, retry: int, **kwargs: Any
) -> None:
    """create / update: full reconcile (may Create); errors retry with backoff."""
    await _change(Trigger.CHANGE, body, patch, memo, retry, kwargs)


async def on_resume(
    body: kopf.Body, patch: kopf.Patch, memo: Any, retry: int, **kwargs: Any
) -> None:
    """resume (operator start, resource unchanged): like a change, but a running job's status
    may be trusted instead of described (`ReconcileSettings.resume_from_status`)."""
    await _change(Trigger.RESUME, body, patch, memo, retry, kwargs)


async def _change(
    trigger: Trigger,
    body: kopf.Body,
    patch: kopf.Patch,
    memo: Any,
    retry: int,
    kwargs: Mapping[str, Any],
) -> None:
    operator = _operator(memo)
    operator.bind(kwargs)
    ns = namespace_annotations_of(kwargs.get(NAMESPACE_INDEX), str(body.metadata.namespace))
    try:
        step = await operator.reconcile(trigger, body, patch, ns, retry)
    finally:
        watchintake.settle(str(body.metadata.uid))  # its first handling is over (see intake)
    if step.retry is not None and step.retry is not Retry.QUEUE:  # queued: not kopf's to retry
        raise kopf.TemporaryError(
            "will retry (see the resource's conditions)", delay=operator.retry_delay(step, retry)
        )


async def on_delete(
    body: kopf.Body, patch: kopf.Patch, memo: Any, retry: int, **kwargs: Any
) -> None:
    """delete: stop if needed; returning (not raising) lets kopf remove the finalizer."""
    operator = _operator(memo)
    operator.bind(kwargs)
    ns = namespace_annotations_of(kwargs.get(NAMESPACE_INDEX), str(body.metadata.namespace))
    try:
        step = await operator.reconcile(Trigger.DELETE, body, patch, ns, retry)
    finally:
        watchintake.settle(str(body.metadata.uid))
    if not step.release:
        delay = operator.retry_delay(step, retry)
        raise kopf.TemporaryError("waiting for the job to stop before release", delay=delay)


async def on_poll(body: kopf.Body, patch: kopf.Patch, memo: Any, **kwargs: Any) -> None:
    """A poll of a running job: Describe and patch status if it changed; never Create."""
    operator = _operator(memo)
    operator.bind(kwargs)
    ns = namespace_annotations_of(kwargs.get(NAMESPACE_INDEX), str(body.metadata.namespace))
    await operator.reconcile(Trigger.POLL, body, patch, ns)


async def on_event(body: kopf.Body, memo: Any, type: str | None, **_: Any) -> None:
    """Every watch event; only DELETED matters: the object no longer exists (`Operator.forget`)."""
    if type == "DELETED":
        _operator(memo).forget(body)


def index_namespace(name: str, annotations: Mapping[str, str], **_: Any) -> dict[str, Any]:
    """Namespace → its ACK annotations (region, endpoint, deletion policy)."""
    wanted = {k: v for k, v in annotations.items() if k.startswith(ACK_ANNOTATION_PREFIXES)}
    return {name: wanted}


def in_cluster_server(env: Mapping[str, str]) -> str | None:
    """The API server a pod is told about, as client-go's in-cluster configuration reads it.

    kopf's service-account login always dials `kubernetes.default.svc`, which needs cluster DNS;
    the kubelet also puts the `kubernetes` Service's address in every pod's environment, which
    needs none (host-network pods, clusters whose DNS is down or slow to start).
    """
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        return None
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


async def login(memo: Any, **kwargs: Any) -> Any:
    """In-cluster service account, else kubeconfig: no Kubernetes client library needed.

    The session is kopf's own, but with a bounded connection pool: kopf's default opens one TLS
    connection per concurrent request and keeps it, ~0.2 MB each.
    """
    info = connection_info(**kwargs)
    if info is None:
        return None
    operator = _operator(memo)
    limit = operator.settings.kube_connection_limit()
    return pooled_session(info, limit, [operator.health.trace_config(), *operator.kube_traces])


def connection_info(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """The in-cluster service account (at the address in the pod's environment), else the
    kubeconfig; None when neither is there. `kwargs`: kopf's login arguments (a `logger`)."""
    info = kopf.login_with_service_account(**kwargs)
    server = in_cluster_server(os.environ)
    if isinstance(info, kopf.ConnectionInfo) and server:
        info = replace(info, server=server)
    info = info or kopf.login_with_kubeconfig(**kwargs)
    return info if isinstance(info, kopf.ConnectionInfo) else None


def pooled_session(
    info: kopf.ConnectionInfo, limit: int, traces: list[aiohttp.TraceConfig] | None = None
) -> kopf.AiohttpSession:
    """kopf's session for `info` (same TLS, headers, proxy), with at most `limit` connections;
    `traces` see every request (readiness counts the API server's silences)."""
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, ssl=info.as_ssl_context()),
        headers=info.as_http_headers(),
        proxy=info.proxy_url,
        trust_env=info.trust_env,
        trace_configs=traces,
    )
    return kopf.AiohttpSession(
        aiohttp_session=session,
        server=info.server,
        default_namespace=info.default_namespace,
        priority=info.priority,
        expiration=info.expiration,
    )


async def on_cleanup(memo: Any, **_: Any) -> None:
    """Operator shutdown: let the SageMaker thread pool go."""
    _operator(memo).clients.close()


def register(registry: kopf.OperatorRegistry, polling: PollingStrategy) -> None:
    """Put every handler into `registry` (no import-time decorators, no global registry)."""
    kopf.on.login(registry=registry)(login)
    kopf.index("namespaces", id=NAMESPACE_INDEX, registry=registry)(index_namespace)
    for cause, decorator, handler in (
        ("create", kopf.on.create, on_change),
        ("update", kopf.on.update, on_change),
        ("resume", kopf.on.resume, on_resume),
    ):
        decorator(GROUP, VERSION, PLURAL, id=f"reconcile-{cause}", registry=registry)(handler)
    kopf.on.delete(GROUP, VERSION, PLURAL, id="finalize", registry=registry)(on_delete)
    kopf.on.event(GROUP, VERSION, PLURAL, id="forget", registry=registry)(on_event)
    polling.install(registry, on_poll)
    kopf.on.cleanup(registry=registry)(on_cleanup)
