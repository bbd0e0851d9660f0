"""Readiness says so when the Kubernetes API server does not answer (the image once reported
ready while every API call failed on DNS). Real aiohttp requests through the same trace hooks
the operator's session carries: one to a closed port, one to a live server."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
from aiohttp import web

from hpo_operator.shell.health import Health


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def requests(health: Health, url: str, times: int) -> None:
    async with aiohttp.ClientSession(trace_configs=[health.trace_config()]) as session:
        for _ in range(times):
            try:
                async with session.get(url) as response:
                    await response.read()
            except aiohttp.ClientError:
                pass


async def scenario() -> None:
    health = Health(failures_limit=3)
    health.started = True
    await requests(health, f"http://127.0.0.1:{closed_port()}/apis", 2)
    assert health.ready()[0], "two failures are under the limit"
    await requests(health, f"http://127.0.0.1:{closed_port()}/apis", 1)
    ready, why = health.ready()
    assert not ready and "Kubernetes API server does not answer: 3 requests" in why, why
    assert "ClientConnectorError" in why, why
    assert health.live()[0], "liveness stays: a restart does not bring the API server back"

    app = web.Application()

    async def forbidden(_: web.Request) -> web.Response:
        return web.Response(status=403)

    app.router.add_get("/apis", forbidden)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await requests(health, f"http://127.0.0.1:{port}/apis", 1)
    finally:
        await runner.cleanup()
    assert health.ready() == (True, "ok"), "any HTTP answer, even 403, is an answer"


def test_readiness_follows_the_api_servers_answers() -> None:
    asyncio.run(scenario())


def test_metrics_and_probes_on_one_port_for_every_address() -> None:
    """`serve` binds every host to the port the first one got (`AppRunner.addresses`), and
    `/metrics` is prometheus_client's handler for the operator's registry."""
    from hpo_operator.core.reconcile import Op
    from hpo_operator.shell.health import metrics_routes, probe_routes, serve
    from hpo_operator.shell.metrics import Metrics

    async def scenario() -> tuple[int, str, str, int]:
        metrics = Metrics()
        metrics.observe_call(Op.LIST, "ok", 0.01)
        health = Health()
        runner, port = await serve(
            ["127.0.0.1", "127.0.0.2"], 0, probe_routes(health) + metrics_routes(metrics.registry)
        )
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.2:{port}/metrics") as response:
                    body = await response.text()
                    kind = response.headers["Content-Type"]
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    status = response.status
        finally:
            await runner.cleanup()
        return port, body, kind, status

    port, body, kind, status = asyncio.run(scenario())
    assert port > 0
    assert kind.startswith("text/plain") and "version=0.0.4" in kind
    line = (
        'hpo_sagemaker_calls_total{account="own",operation="ListHyperParameterTuningJobs",'
        'outcome="ok",region=""} 1.0'
    )
    assert line in body
    assert status == 503  # not started: the probe answers, on the same port
