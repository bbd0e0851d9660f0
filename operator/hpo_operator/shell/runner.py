"""`hpo-operator run`: settings → logging → probes and metrics → kopf, until SIGINT/SIGTERM.

kopf is configured here, explicitly: the ACK finalizer name, progress and diff-base in annotations
under this operator's prefix (never in status), watch timeouts, standalone unless `peering_name`
names a kopf peering object (more than one replica), and a login that needs no Kubernetes client
library. With leader election (`election.py`), kopf starts only once this process holds the Lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
import secrets
import socket
import sys
from collections.abc import Callable, Mapping, Sequence

import kopf

from hpo_operator import __version__, identity
from hpo_operator.adapters import slimbodies, watchintake
from hpo_operator.adapters.diffbase import BoundedAnnotationsDiffBaseStorage
from hpo_operator.adapters.kube import configmap_data, kopf_identity
from hpo_operator.adapters.lease import Leases
from hpo_operator.adapters.ports import SageMakerClientsPort
from hpo_operator.adapters.ratelimit import parse_limits
from hpo_operator.adapters.sagemaker import SageMakerClients
from hpo_operator.core import parking, selectors
from hpo_operator.core.results import results_pending
from hpo_operator.core.types import Op, Place
from hpo_operator.identity import BOOKKEEPING_PREFIX, GROUP, PLURAL, VERSION
from hpo_operator.polling.createqueue import Resubmit
from hpo_operator.polling.poller import PollerConfig
from hpo_operator.polling.shared import SharedPoller
from hpo_operator.polling.strategy import Delivery, Owner, PollingStrategy, Prefetched, Report
from hpo_operator.polling.timer import PerResourceTimer
from hpo_operator.shell import carm, election, fieldexport, handlers, health, logs, memory, stall
from hpo_operator.shell.metrics import Metrics
from hpo_operator.shell.settings import Settings, SettingsError, from_args

log = logging.getLogger("hpo_operator")


LIST_CHUNK = 200  # objects per page of kopf's initial listing


def kopf_settings(settings: Settings) -> kopf.OperatorSettings:
    """kopf's settings for this operator."""
    k = kopf.OperatorSettings()
    k.persistence.finalizer = identity.FINALIZER
    k.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=BOOKKEEPING_PREFIX)
    k.persistence.diffbase_storage = BoundedAnnotationsDiffBaseStorage(
        prefix=BOOKKEEPING_PREFIX, key=identity.DIFF_BASE_KEY
    )
    k.queueing.worker_limit = settings.worker_limit or None
    k.queueing.idle_timeout = settings.worker_idle_timeout
    k.watching.server_timeout = settings.watch_server_timeout
    k.watching.client_timeout = settings.watch_client_timeout
    k.watching.connect_timeout = settings.watch_connect_timeout
    # Finished resources are parked out of the watch (`parking`): kopf never lists them, holds
    # no memory for them, and runs no resume handler for them on a restart. `--watch-selectors`
    # joins it: the API server sends this process only its own resources' bodies.
    k.watching.label_selectors[GROUP, VERSION, PLURAL] = selectors.join(
        parking.SELECTOR, settings.watch_selectors
    )
    # The initial listing in pages: never every object's JSON in memory at once.
    k.watching.chunk_size = LIST_CHUNK
    k.networking.connect_timeout = settings.watch_connect_timeout
    k.networking.request_timeout = 60.0
    k.posting.level = logging.INFO  # explicit kopf.event() calls only (posting.loggers is off)
    return k


def peering_identity(
    env: Mapping[str, str] | None = None,
    *,
    uid: int | None = None,
    hostname: str | None = None,
    now: datetime.datetime | None = None,
) -> str:
    """This process's kopf identity, built without the passwd database.

    kopf's default identity calls `getpass.getuser()`, which raises under a UID with no passwd
    entry: the chart's 65532 in an image that has no such user, OpenShift's random UIDs. It also
    resolves the host name through DNS. Here: kopf's own `POD_ID` convention when set, else
    `uid@hostname/time/random` (in a pod the host name is the pod's name).
    """
    env = os.environ if env is None else env
    if pod := env.get("POD_ID"):
        return pod
    uid = os.getuid() if uid is None else uid
    host = socket.gethostname() if hostname is None else hostname
    stamp = (now or datetime.datetime.now(datetime.UTC)).strftime("%Y%m%d%H%M%S")
    return f"{uid}@{host}/{stamp}/{secrets.token_hex(3)}"


def polling_strategy(
    settings: Settings,
    clients: SageMakerClients,
    report: Report,
    on_deferred: Callable[[str], None] | None = None,
    resubmit: Resubmit | None = None,
) -> tuple[SageMakerClientsPort, PollingStrategy]:
    """The clients the handlers use and how running jobs are polled (`settings.polling`); the
    shared poller reports the changes it finds to `report`."""
    if settings.polling == "per-resource":
        return clients, PerResourceTimer(settings.poll_interval, settings.poll_jitter)
    config = PollerConfig(
        fast_interval=min(settings.poll_fast_interval, settings.poll_interval),
        slow_interval=settings.poll_interval,
        jitter=settings.poll_jitter,
        page_budget=settings.poll_page_budget,
        sweep_interval=settings.poll_sweep_interval,
        search=settings.poll_search,
        call_timeout=settings.aws_call_timeout,
        deferral_log_interval=settings.deferral_log_interval,
        call_max_wait=settings.aws_call_max_wait,
    )
    limits = parse_limits(settings.aws_rate_limits)
    shared = SharedPoller(clients, config, report, limits, on_deferred, resubmit)
    return shared, shared


async def run(settings: Settings, stop_flag: asyncio.Event | None = None) -> None:
    """Run the operator until stopped."""
    metrics = Metrics()
    slimbodies.install()  # before kopf's first request (see slimbodies)
    watchintake.configure(
        settings.watch_intake, settings.watch_intake_hold, on_held=metrics.intake_held.inc
    )
    watchintake.install()  # around slimbodies' wrappers: events are slim before they wait
    metrics.intake_waiting.set_function(watchintake.waiting)
    probes = health.Health(settings.readiness_failures)

    def observe(op: Op, outcome: str, seconds: float, place: Place) -> None:
        metrics.observe_call(op, outcome, seconds, place)
        probes.observe_call(op, outcome, seconds, place)

    # The shared poller and the operator need each other: the operator's reconciles call
    # SageMaker through the poller's ports, and the poller reports changes to the operator. The
    # poller is built first, given this function, which reaches the operator built right after.
    async def report(owner: Owner, prefetched: Prefetched) -> Delivery:
        return await operator.reconcile_polled(owner, prefetched)

    async def resubmit(owner: Owner, attempt: int) -> float | None:
        return await operator.reconcile_queued(owner, attempt)

    fence = election.Fence() if settings.leader_election else None
    base = SageMakerClients(settings.aws_config(), observe, fence.botocore_hook if fence else None)
    clients, strategy = polling_strategy(settings, base, report, metrics.observe_deferred, resubmit)
    kopf_config = kopf_settings(settings)
    operator = handlers.Operator(settings, clients, metrics, probes, strategy, kopf_config)
    me = peering_identity()
    elector = None
    if fence is not None:
        operator.kube_traces.append(fence.trace_config())
        elector = build_elector(settings, kopf_config, me, fence, probes, metrics)
    if settings.carm:

        async def read(namespace: str, name: str) -> Mapping[str, str] | None:
            return await configmap_data(kopf_config, namespace, name)

        operator.role_maps = carm.RoleMapSource(
            read,
            carm.carm_namespace(settings.carm_namespace),
            teams=settings.carm_teams,
            refresh=settings.carm_refresh,
        )
    registry = kopf.OperatorRegistry()
    handlers.register(registry, strategy)
    sweeper = stall.Sweeper(
        kopf_config,
        kopf.Resource(GROUP, VERSION, PLURAL, kind="HyperParameterTuningJob", namespaced=True),
        settings.namespaces,
        settings.stall_sweep_interval,
        settings.stall_margin,
        metrics,
        BOOKKEEPING_PREFIX,
        selector=settings.watch_selectors,
        hold=lambda body: results_pending(
            body.get("status") or {}, body.get("metadata") or {}, settings.reconcile_settings()
        ),
        unfollowed=operator.unfollowed,
        refollow=operator.refollow,
    )
    stall.install(registry, sweeper)
    if settings.enable_field_export_reconciler:
        exporter = fieldexport.FieldExporter(
            kopf_config,
            settings.watch_selectors,
            backoff=(settings.backoff_base, settings.backoff_cap),
        )
        fieldexport.install(registry, exporter)

    host = settings.bind_address
    health_runner, health_port = await health.serve(
        host, settings.health_port, health.probe_routes(probes)
    )
    metrics_runner, metrics_port = await health.serve(
        host, settings.metrics_port, health.metrics_routes(metrics.registry)
    )
    scope = "all namespaces" if settings.clusterwide else ", ".join(settings.namespaces)
    if settings.watch_selectors:
        scope += f" (resources labelled {settings.watch_selectors})"
    log.info(
        "hpo-operator %s watching %s; region %s; endpoint %s; poll every %ss; "
        "probes on :%d (/healthz, /readyz), metrics on :%d, listening on %s",
        __version__,
        scope,
        settings.region or "(from annotations)",
        settings.endpoint_url or "(AWS default)",
        settings.poll_interval,
        health_port,
        metrics_port,
        ", ".join(host),
    )
    keeper: asyncio.Task[None] | None = None
    if elector is not None:
        await elector.acquire()  # a standby waits here: no kopf, no AWS call, no status write
        keeper = elector.keep_in_background()
    ready = asyncio.Event()
    trimmer = asyncio.create_task(memory.trim_every(settings.malloc_trim_interval))
    task = asyncio.create_task(
        kopf.operator(
            registry=registry,
            settings=kopf_config,
            memo=kopf.Memo(operator=operator),
            clusterwide=settings.clusterwide,
            namespaces=list(settings.namespaces),
            identity=kopf_identity(me),
            standalone=not settings.peering_name,
            peering_name=settings.peering_name or None,
            priority=secrets.randbelow(2**31) if settings.peering_name else None,
            ready_flag=ready,
            stop_flag=stop_flag,
        )
    )
    probes.running = lambda: not task.done()
    waiter = asyncio.create_task(ready.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        probes.started = ready.is_set()
        await task
    finally:
        waiter.cancel()
        trimmer.cancel()
        if keeper is not None and elector is not None:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)  # no renewal in flight
            await elector.release()  # kopf has stopped: a standby may take over at once
            await elector.leases.close()
        with contextlib.suppress(BaseException):
            await health_runner.cleanup()
            await metrics_runner.cleanup()
        clients.close()


def build_elector(
    settings: Settings,
    kopf_config: kopf.OperatorSettings,
    me: str,
    fence: election.Fence,
    probes: health.Health,
    metrics: Metrics,
) -> election.Elector:
    """The Lease elector for `me`, over an API session of its own (the operator's login)."""
    namespace = election.lease_namespace(settings.leader_election_namespace)
    if namespace is None:
        raise SettingsError(
            [("leader_election_namespace", "outside a pod, give --leader-election-namespace")]
        )

    def connect() -> kopf.AiohttpSession:
        info = handlers.connection_info(logger=log, settings=kopf_config)
        if info is None:
            raise RuntimeError("no Kubernetes credentials: no service account, no kubeconfig")
        return handlers.pooled_session(info, 2, [probes.trace_config()])

    leases = Leases(kopf_config, connect, namespace, settings.leader_election_id)
    gauge = metrics.leader.labels(f"{namespace}/{settings.leader_election_id}")
    return election.Elector(
        leases, me, settings.leader_timing(), fence, probes, report=lambda on: gauge.set(int(on))
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `hpo-operator run`."""
    try:
        settings = from_args(sys.argv[1:] if argv is None else argv)
        logs.configure(settings.log_level, settings.log_format)
        memory.limit_arenas(settings.malloc_arena_max)  # before any thread starts
        memory.fix_mmap_threshold(settings.malloc_mmap_threshold)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run(settings))  # raises SettingsError for what only startup can tell
    except SettingsError as error:
        for where, message in error.problems:
            print(f"hpo-operator run: {where}: {message}", file=sys.stderr)
        return 2
    return 0
