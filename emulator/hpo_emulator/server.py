"""`hpo-operator emulator`: the SageMaker JSON 1.1 protocol over HTTP, plus the admin endpoints.

POST / with `X-Amz-Target: SageMaker.<Operation>` runs an operation; signatures are not checked,
but the SigV4 credential scope picks the region (and the access key the account): each account and
region has its own store of jobs and its own quotas. A form-encoded POST with `Action=` is STS's
Query protocol (GetCallerIdentity, AssumeRole, AssumeRoleWithWebIdentity).
`/_emulator/faults` (GET shows, POST sets), `/_emulator/stats` (GET shows, POST or DELETE
resets) and `/_emulator/sts` (GET shows sessions and denied roles, POST denies, allows, expires)
are for tests and benchmarks. `run_in_thread()` serves from a background thread, for
pytest fixtures and demos that do not want a subprocess.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from hpo_emulator import errors, operations, sts
from hpo_emulator.accounts import Accounts, is_role_arn
from hpo_emulator.config import DEFAULT_QUOTAS, EmulatorConfig, Faults
from hpo_emulator.faults import Guard, Stats
from hpo_emulator.listing import START_TOKEN
from hpo_emulator.scope import Scope, scope_of
from hpo_emulator.statefile import load_state, save_state
from hpo_emulator.store import Store
from hpo_operator.adapters.ratelimit import parse_limit

Clock = Callable[[], float]
CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "SageMaker."
# {"version": 2, "stores": [{"account", "region", "state": Store state}], "sessions": [...]}
# ("sessions", the keys STS issued, is optional: files written before it load with none)
STATE_VERSION = 2
TAG_OPERATIONS = frozenset({"AddTags", "ListTags", "DeleteTags"})


class Emulator:
    """The emulator's state and request handling, independent of how it is served."""

    def __init__(self, config: EmulatorConfig, clock: Clock = time.time) -> None:
        self.config = config
        self.clock = clock
        self.stores: dict[tuple[str, str], Store] = {}  # (account, region) -> its jobs
        self.accounts = Accounts(config)  # which key is in which account; STS's sessions
        self.store = self.store_for(config.account_id, config.region)  # the default one
        self.guard = Guard(config.faults, config.quotas, config.seed)
        self.stats = Stats()
        self._saved_changes = 0
        if config.state_file is not None and config.state_file.exists():
            self.load_state(load_state(config.state_file), clock())

    def store_for(self, account: str, region: str) -> Store:
        """The store of an account and region (created empty on first use)."""
        store = self.stores.get((account, region))
        if store is None:
            store = self.stores[(account, region)] = Store(self.config, account, region)
        return store

    @property
    def changes(self) -> int:
        """Changes the state file must keep, over every store."""
        return self.accounts.changes + sum(store.changes for store in self.stores.values())

    def to_state(self) -> dict[str, Any]:
        """Every store's state, keyed by account and region."""
        return {
            "version": STATE_VERSION,
            "stores": [
                {"account": account, "region": region, "state": store.to_state()}
                for (account, region), store in self.stores.items()
                if store.jobs or store.retired or store is self.store
            ],
            "sessions": self.accounts.to_state(),
        }

    def load_state(self, state: dict[str, Any], now: float) -> None:
        """Load a state file: version 2 (per account and region) or 1 (the default store)."""
        if state.get("version") == STATE_VERSION:
            for item in state.get("stores", []):
                store = self.store_for(str(item["account"]), str(item["region"]))
                store.load_state(item["state"], now)
            self.accounts.load_state(state.get("sessions", []))
        else:
            self.store.load_state(state, now)

    def save(self) -> None:
        """Write the state file if something changed since the last write."""
        path = self.config.state_file
        if path is not None and self.changes != self._saved_changes:
            changes = self.changes
            save_state(path, self.to_state())
            self._saved_changes = changes

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/", self._api)
        app.router.add_get("/_emulator/faults", self._get_faults)
        app.router.add_post("/_emulator/faults", self._set_faults)
        app.router.add_get("/_emulator/stats", self._get_stats)
        app.router.add_post("/_emulator/stats", self._reset_stats)
        app.router.add_delete("/_emulator/stats", self._reset_stats)
        app.router.add_get("/_emulator/sts", self._get_sts)
        app.router.add_post("/_emulator/sts", self._set_sts)
        app.router.add_get("/_emulator/health", self._health)
        app.cleanup_ctx.append(self._state_saver)
        return app

    async def _state_saver(self, app: web.Application) -> Any:
        stop = asyncio.Event()
        task = None
        if self.config.state_file is not None:
            task = asyncio.create_task(self._save_periodically(stop))
        yield
        stop.set()
        if task is not None:
            await task  # lets a write in progress finish, so it cannot land after the last one
        self.save()

    async def _save_periodically(self, stop: asyncio.Event) -> None:
        """Write the state file off the event loop: a snapshot of 10,000 jobs takes a while to
        serialise. The snapshot shares only data that is replaced, never mutated, on change."""
        path = self.config.state_file
        assert path is not None
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.config.state_interval)
            changes = self.changes
            if changes != self._saved_changes:
                await asyncio.to_thread(save_state, path, self.to_state())
                self._saved_changes = changes

    async def _api(self, request: web.Request) -> web.Response:
        scope = scope_of(request.headers, request.query, self.config, self.accounts)
        target = request.headers.get("X-Amz-Target", "")
        if not target and request.content_type == "application/x-www-form-urlencoded":
            return await self._query(request, scope)
        operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else target
        store = self.store_for(scope.account, scope.region)
        where = f"{scope.account}/{scope.region}"
        try:
            delay = self.guard.delay(operation)
            if delay:
                await asyncio.sleep(delay)
            if operation not in operations.OPERATIONS:
                raise errors.unknown_operation(target)
            now = self.clock()
            if scope.session is not None and now >= scope.session.expires:
                raise errors.expired_token(sts.EXPIRED)
            self.guard.check(operation, where)
            raw = await request.read()
            try:
                params = json.loads(raw) if raw.strip() else {}
            except ValueError as err:
                raise errors.ApiError("SerializationException", f"Invalid JSON: {err}") from err
            if operation in TAG_OPERATIONS:
                self._check_resource_account(operation, params, scope)
            result = operations.call(store, operation, params, self.clock())
            if self.guard.empty_page(operation, params):
                token = params.get("NextToken") or START_TOKEN  # the same position again
                result = {"HyperParameterTuningJobSummaries": [], "NextToken": token}
        except errors.ApiError as err:
            self.stats.record(operation or "(none)", err.code, where)
            return self._json(err.body(), err.status)
        except Exception as err:  # a bug here must still answer like AWS, and be visible
            self.stats.record(operation, "InternalFailure", where)
            print(f"emulator: {operation} failed: {err!r}", file=sys.stderr, flush=True)
            return self._json(errors.internal(f"{type(err).__name__}: {err}").body(), 500)
        self.stats.record(operation, "ok", where)
        return self._json(result, 200)

    @staticmethod
    def _check_resource_account(operation: str, params: Any, scope: Scope) -> None:
        """A tag call on an ARN of another account is refused as IAM refuses it: the caller has
        no access to it (no resource-based policy allows it), whether or not it exists."""
        arn = params.get("ResourceArn") if isinstance(params, dict) else None
        parts = arn.split(":", 5) if isinstance(arn, str) else []
        if len(parts) == 6 and parts[0] == "arn" and parts[4] and parts[4] != scope.account:
            raise errors.access_denied(
                f"User: {sts.caller_arn(scope)} is not authorized to perform: "
                f"sagemaker:{operation} on resource: {arn} because no resource-based policy "
                f"allows the sagemaker:{operation} action"
            )

    async def _query(self, request: web.Request, scope: Scope) -> web.Response:
        """A Query-protocol call (STS): form-encoded in, XML out."""
        raw = (await request.read()).decode("utf-8", "replace")
        form = {k: v[-1] for k, v in urllib.parse.parse_qs(raw, keep_blank_values=True).items()}
        action = form.get("Action", "(none)")
        reply = sts.answer(form, scope, self.accounts, self.clock())
        self.stats.record(f"sts:{action}", reply.outcome, f"{scope.account}/{scope.region}")
        return web.Response(
            body=reply.body.encode(),
            status=reply.status,
            headers={"Content-Type": sts.CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4())},
        )

    @staticmethod
    def _json(document: dict[str, Any], status: int) -> web.Response:
        return web.Response(
            body=json.dumps(document).encode(),
            status=status,
            headers={"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4())},
        )

    async def _get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self.guard.document())

    async def _set_faults(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            self.guard.update(body)
        except (ValueError, TypeError, KeyError) as err:
            return web.json_response({"error": str(err)}, status=400)
        return web.json_response(self.guard.document())

    async def _get_sts(self, request: web.Request) -> web.Response:
        return web.json_response(self.accounts.document(self.clock()))

    async def _set_sts(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            self.accounts.update(body, self.clock())
        except (ValueError, TypeError) as err:
            return web.json_response({"error": str(err)}, status=400)
        return web.json_response(self.accounts.document(self.clock()))

    async def _get_stats(self, request: web.Request) -> web.Response:
        document = self.stats.document()
        now = self.clock()
        regions: dict[str, dict[str, int]] = {}
        for (account, region), store in self.stores.items():
            store.tick(now)
            regions[f"{account}/{region}"] = {
                "jobs": len(store.jobs),
                "active_jobs": store.active_jobs(),
            }
        document["jobs"] = sum(r["jobs"] for r in regions.values())
        document["active_jobs"] = sum(r["active_jobs"] for r in regions.values())
        document["stores"] = regions
        return web.json_response(document)

    async def _reset_stats(self, request: web.Request) -> web.Response:
        self.stats.reset()
        return web.json_response(self.stats.document())

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})


async def _start(emulator: Emulator, host: str, port: int) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(emulator.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    shown = f"[{host}]" if ":" in host else host
    return runner, f"http://{shown}:{bound}"


@dataclass
class RunningEmulator:
    """An emulator served from a background thread: its URL, its state, and how to stop it."""

    url: str
    emulator: Emulator
    _loop: asyncio.AbstractEventLoop
    _stop: asyncio.Event
    _thread: threading.Thread

    @property
    def store(self) -> Store:
        """The default account and region's store (read it only between requests, or in tests)."""
        return self.emulator.store

    def store_for(self, region: str, account: str | None = None) -> Store:
        """The store of a region (of the default account unless told)."""
        return self.emulator.store_for(account or self.emulator.config.account_id, region)

    @property
    def accounts(self) -> Accounts:
        """The access-key rule, STS's sessions and denied roles (read between requests)."""
        return self.emulator.accounts

    def stop(self) -> None:
        """Stop serving, write the state file, and wait for the thread."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=30)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_in_thread(
    config: EmulatorConfig | None = None, clock: Clock = time.time
) -> RunningEmulator:
    """Serve an emulator on its own event loop in a daemon thread; returns once it listens."""
    config = config or EmulatorConfig()
    emulator = Emulator(config, clock)
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        stop = asyncio.Event()
        try:
            runner, url = await _start(emulator, config.host, config.port)
        except BaseException as err:
            box["error"] = err
            ready.set()
            raise
        box.update(url=url, loop=asyncio.get_running_loop(), stop=stop)
        ready.set()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    def target() -> None:
        with contextlib.suppress(BaseException):
            asyncio.run(serve())

    thread = threading.Thread(target=target, name="sagemaker-emulator", daemon=True)
    thread.start()
    ready.wait()
    if "error" in box:
        raise RuntimeError(f"emulator failed to start: {box['error']!r}")
    return RunningEmulator(box["url"], emulator, box["loop"], box["stop"], thread)


def _quota(text: str) -> tuple[str, tuple[float, float]]:
    try:
        return parse_limit(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--quota wants OPERATION=RATE[:BURST]: {err}") from err


def _key_account(text: str) -> tuple[str, str]:
    key, sep, account = text.partition("=")
    if not sep or not key or not re.fullmatch(r"\d{12}", account):
        raise argparse.ArgumentTypeError(
            f"--access-key-account wants ACCESS_KEY_ID=ACCOUNT_ID (12 digits), got {text!r}"
        )
    return key, account


def _role_arn(text: str) -> str:
    if not is_role_arn(text):
        raise argparse.ArgumentTypeError(
            f"--deny-role wants a role ARN (arn:aws:iam::ACCOUNT:role/NAME), got {text!r}"
        )
    return text


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _lag(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be ≥ 0")
    return value


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def parse_args(argv: Sequence[str]) -> EmulatorConfig:
    """The command line as an EmulatorConfig."""
    parser = argparse.ArgumentParser(
        prog="hpo-operator emulator",
        description="A local SageMaker endpoint for hyperparameter tuning jobs "
        "(SageMaker JSON 1.1 protocol; STS GetCallerIdentity, AssumeRole, "
        "AssumeRoleWithWebIdentity; any credentials; the region of each request's SigV4 "
        "credential scope, the account of its access key).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8090, help="0 picks a free port")
    parser.add_argument(
        "--region", default="us-west-2", help="region of requests without a SigV4 signature"
    )
    parser.add_argument(
        "--account-id", default="123456789012", help="account of every other access key"
    )
    parser.add_argument(
        "--access-key-account",
        type=_key_account,
        action="append",
        default=[],
        metavar="ACCESS_KEY_ID=ACCOUNT_ID",
        help="requests signed with this access key are in this account (repeatable); keys STS "
        "issued are in their role's account, keys ending in 12 digits in that account",
    )
    parser.add_argument(
        "--deny-role",
        type=_role_arn,
        action="append",
        default=[],
        metavar="ROLE_ARN",
        help="AssumeRole and AssumeRoleWithWebIdentity of this role are AccessDenied (repeatable)",
    )
    parser.add_argument(
        "--session-seconds",
        type=_seconds,
        help="lifetime of the credentials STS issues, whatever DurationSeconds asks "
        "(None: DurationSeconds, default 3600)",
    )
    parser.add_argument(
        "--training-seconds", type=_seconds, default=5.0, help="how long each training job runs"
    )
    parser.add_argument(
        "--startup-seconds",
        type=_seconds,
        help="Create to first training job (None: a tenth of --training-seconds)",
    )
    parser.add_argument(
        "--stop-seconds",
        type=_seconds,
        help="how long a job stays Stopping (None: min(1, --training-seconds))",
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds the objective and sampling")
    parser.add_argument(
        "--throttle-rate", type=_probability, default=0.0, help="share of calls throttled"
    )
    parser.add_argument(
        "--error-rate", type=_probability, default=0.0, help="share of calls failing (HTTP 500)"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before answering")
    parser.add_argument(
        "--empty-page-rate",
        type=_probability,
        default=0.0,
        help="share of ListHyperParameterTuningJobs calls with LastModifiedTimeAfter that get an "
        "empty page with a NextToken (an AWS quirk)",
    )
    parser.add_argument(
        "--search-lag",
        type=_lag,
        default=0.0,
        metavar="SECONDS",
        help="Search answers from an index this many seconds behind (AWS's is eventually "
        "consistent)",
    )
    parser.add_argument(
        "--quota",
        type=_quota,
        action="append",
        default=[],
        metavar="OPERATION=RATE[:BURST]",
        help="requests per second and burst of an operation (repeatable)",
    )
    parser.add_argument("--no-quotas", action="store_true", help="no request quotas at all")
    parser.add_argument("--state-file", type=Path, help="keep state across restarts")
    parser.add_argument(
        "--max-concurrent-jobs", type=int, default=0, help="running tuning jobs; 0: unlimited"
    )
    parser.add_argument(
        "--max-training-jobs", type=int, default=750, help="training jobs per tuning job"
    )
    parser.add_argument(
        "--max-parallel-training-jobs",
        type=int,
        default=100,
        help="MaxParallelTrainingJobs allowed",
    )
    args = parser.parse_args(list(argv))
    quotas = {} if args.no_quotas else dict(DEFAULT_QUOTAS)
    quotas.update(dict(args.quota))
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        region=args.region,
        account_id=args.account_id,
        accounts=dict(args.access_key_account),
        denied_roles=list(args.deny_role),
        session_seconds=args.session_seconds,
        training_seconds=args.training_seconds,
        startup_seconds=args.startup_seconds,
        stop_seconds=args.stop_seconds,
        seed=args.seed,
        faults=Faults(
            throttle_rate=args.throttle_rate,
            error_rate=args.error_rate,
            latency_ms=args.latency_ms,
            empty_page_rate=args.empty_page_rate,
            search_lag=args.search_lag,
        ),
        quotas=quotas,
        state_file=args.state_file,
        max_concurrent_jobs=args.max_concurrent_jobs,
        max_training_jobs=args.max_training_jobs,
        max_parallel_training_jobs=args.max_parallel_training_jobs,
    )


async def _serve_forever(config: EmulatorConfig) -> None:
    emulator = Emulator(config)
    runner, url = await _start(emulator, config.host, config.port)
    print(url, flush=True)
    print(
        f"SageMaker emulator at {url} (any region, unsigned requests in {config.region}; account "
        f"{config.account_id}, {config.training_seconds:g} s per training job, "
        f"{sum(len(s.jobs) for s in emulator.stores.values())} jobs loaded)",
        file=sys.stderr,
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM; the first line of stdout is the URL."""
    config = parse_args(sys.argv[1:] if argv is None else argv)
    asyncio.run(_serve_forever(config))
    return 0
