"""Probes and the metrics endpoint, served by aiohttp on the operator's event loop.

`/healthz` (liveness): the kopf reactor started and is still running; answering at all proves the
event loop is not blocked. `/readyz` (readiness): live, the Kubernetes API server answers, and
SageMaker calls (every one, the shared poller's List and Search included) are not failing
persistently (`readiness_failures` recoverable failures in a row, throttles included; any answer
from SageMaker, even a rejection, resets the count). Counted per account and region (`Place`): one
account whose role cannot be assumed, or one throttled region, leaves the operator ready while
another place answers, and is named in the body; only every place failing makes it not ready. The
API server counts the same way: requests that got no HTTP answer at all (DNS, refused, TLS,
timeouts) in a row; any answer resets it. The reason is in the response body. A leader-election
standby (`election.py`) answers 200 on both, saying it stands by.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

from hpo_operator.core.types import OWN_ACCOUNT, OWN_PLACE, Op, Place

FAILING_OUTCOMES = frozenset({"recoverable", "throttled"})


class Health:
    """What the probes report, updated by the runner and by every SageMaker call."""

    def __init__(self, failures_limit: int = 5) -> None:
        self.failures_limit = failures_limit
        self.started = False
        self.running: Callable[[], bool] = lambda: True
        self.failures: dict[Place, int] = {}  # recoverable failures in a row, per place
        self.last_failure: dict[Place, str] = {}
        self.kube_failures = 0
        self.last_kube_failure = ""
        # Leader election: why this replica stands by (it runs no kopf yet); None when it leads
        # or election is off. A standby is live and ready, as controller-runtime's: a rollout
        # must be able to bring it up while the old leader still holds the Lease.
        self.standby: str | None = None

    def observe_call(self, op: Op, outcome: str, seconds: float, place: Place = OWN_PLACE) -> None:
        """Count recoverable failures in a row at `place`; any other answer resets its count."""
        if outcome in FAILING_OUTCOMES:
            self.failures[place] = self.failures.get(place, 0) + 1
            self.last_failure[place] = f"{op.value}: {outcome}"
        else:
            self.failures[place] = 0

    def observe_kube(self, error: BaseException | None) -> None:
        """A request to the API server got an HTTP answer (None) or none at all (`error`)."""
        if error is None:
            self.kube_failures = 0
        else:
            self.kube_failures += 1
            self.last_kube_failure = f"{type(error).__name__}: {error}"

    def trace_config(self) -> aiohttp.TraceConfig:
        """Hooks for the operator's Kubernetes session: every request's outcome reaches
        `observe_kube` (aiohttp's public tracing, so no kopf internals)."""
        config = aiohttp.TraceConfig()

        async def answered(*_: object) -> None:
            self.observe_kube(None)

        async def failed(
            _: object, __: object, params: aiohttp.TraceRequestExceptionParams
        ) -> None:
            self.observe_kube(params.exception)

        config.on_request_end.append(answered)
        config.on_request_exception.append(failed)
        return config

    def live(self) -> tuple[bool, str]:
        """Liveness and why."""
        if self.standby is not None:
            return True, self.standby
        if not self.started:
            return False, "the operator has not started watching yet"
        if not self.running():
            return False, "the kopf reactor stopped"
        return True, "ok"

    def ready(self) -> tuple[bool, str]:
        """Readiness and why."""
        if self.standby is not None:
            return True, self.standby
        alive, why = self.live()
        if not alive:
            return False, why
        if self.kube_failures >= self.failures_limit:
            return False, (
                f"the Kubernetes API server does not answer: {self.kube_failures} requests in a "
                f"row failed (last {self.last_kube_failure})"
            )
        failing = {p: n for p, n in self.failures.items() if n >= self.failures_limit}
        said = "; ".join(
            f"{_where(p)}{n} in a row (last {self.last_failure.get(p, '')})"
            for p, n in sorted(failing.items())
        )
        if failing and len(failing) == len(self.failures):
            return False, (
                f"SageMaker calls failing: {said}; see the ACK.Recoverable conditions for what "
                "to fix"
            )
        if failing:
            return True, f"ok; SageMaker calls failing in some places: {said}"
        return True, "ok"


def _where(place: Place) -> str:
    """`account A in REGION: ` for a place other than the operator's own, else nothing."""
    if place.account == OWN_ACCOUNT:
        return ""
    return f"account {place.account}" + (f" in {place.region}" if place.region else "") + ": "


def probe_routes(health: Health) -> list[web.RouteDef]:
    """/healthz and /readyz."""

    def respond(result: tuple[bool, str]) -> web.Response:
        ok, why = result
        return web.Response(status=200 if ok else 503, text=why + "\n")

    async def healthz(_: web.Request) -> web.Response:
        return respond(health.live())

    async def readyz(_: web.Request) -> web.Response:
        return respond(health.ready())

    return [web.get("/healthz", healthz), web.get("/readyz", readyz)]


def metrics_routes(registry: CollectorRegistry) -> list[web.RouteDef]:
    """/metrics: prometheus_client's own aiohttp handler for `registry` (the text format, or
    OpenMetrics and gzip when the scraper asks for them)."""
    return [web.get("/metrics", make_aiohttp_handler(registry))]


async def serve(
    hosts: Sequence[str], port: int, routes: list[web.RouteDef]
) -> tuple[web.AppRunner, int]:
    """Start an HTTP server on each of `hosts` at one port (0: any free port, the same for all);
    returns its runner and the bound port."""
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    bound = port
    for host in hosts:
        site = web.TCPSite(runner, host.strip("[]"), bound)
        await site.start()
        if runner.addresses:  # the sockets' names: (host, port, ...)
            bound = int(runner.addresses[0][1])
    return runner, bound
