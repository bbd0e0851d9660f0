"""One poller per (region, endpoint) (`RegionPoller`) finds the jobs that changed, describes those.

Instead of one Describe per job per interval, each poll lists the account's tuning jobs that
changed since a watermark (`ListHyperParameterTuningJobs` with `LastModifiedTimeAfter`, pages of
100) and describes just the tracked jobs whose summary (LastModifiedTime, status, counters)
differs from the last one seen (when the summary itself holds everything that can have changed —
the job stays InProgress and no training completed — it stands in for the Describe). Every few
minutes a sweep lists all InProgress jobs instead; a tracked job missing from it has left
InProgress and gets one final Describe.

Field facts this follows:
- List quotas are tiny (about 2/s per account), so every call goes through the account+region's
  `RateLimiter`, a poll reads at most `page_budget` pages, and a page with no summaries ends the
  listing even when it carries a NextToken (aws-cli#7596: such tokens can go on for ever).
- The watermark comes from SageMaker's own LastModifiedTime values, minus a margin that covers the
  listing's duration, never from the local clock, so clock skew cannot hide a change.

How a change reaches status: every reconcile tells the poller whether its resource's job is
running (`SharedPoller.follow`, `shared.py`), so the poller knows which resource owns which job
without any kopf timer (a timer per running job was most of the operator's memory at thousands of
jobs). When a followed job changed, the poller calls the operator's report function
(`handlers.Operator.reconcile_polled`, given to `SharedPoller`) with the fresh Describe as an
argument (`strategy.Prefetched`): it reads the resource, runs the ordinary poll reconcile, whose
Describe that answers, and writes status through the status subresource. So `reconcile.decide`
still makes every decision (status, conditions, Events) and status is patched only when it
changed.

The pure parts (signatures, paging, the watermark, the interval) are in `changes.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hpo_operator.adapters.ports import SageMakerReader
from hpo_operator.adapters.ratelimit import Deferrals, RateLimiter
from hpo_operator.core.types import FINISHED, STATUS_JOB_STATE, AwsFailure, Call, ErrorKind, Op
from hpo_operator.identity import TAG_UID
from hpo_operator.model.timestamps import epoch_seconds as epoch
from hpo_operator.polling.changes import (
    LEFT_IN_PROGRESS,
    PAGE_SIZE,
    AdaptiveInterval,
    ListFailure,
    Signature,
    fresh_enough,
    from_summary,
    job_key,
    list_pages,
    next_watermark,
    search_requests,
    signature,
    status_signature,
    trimmed,
)
from hpo_operator.polling.strategy import Delivery, Owner, Prefetched, Report

ACCESS_DENIED_CODES = ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation")

log = logging.getLogger("hpo_operator.polling.poller")

LIST_OP = "ListHyperParameterTuningJobs"
SEARCH_OP = "Search"
TAG_GATHER_SECONDS = 0.2  # how long an ownership proof waits for others to share its Search
DELIVER = "deliver"  # the limiter's bucket for waking resources (see RegionPoller._paced)


# --------------------------------------------------------------------------------------------
# Reporting a change to the resource that owns the job


@dataclass
class Tracked:
    """One tracked job: the last state seen, and the resource it is reported to."""

    key: str
    seen: Signature | None = None
    name: str = ""  # the job's name as SageMaker spells it (Search matches it exactly)
    owner: Owner | None = None  # None: noted by a reconcile, not (or no longer) followed
    added: float = 0.0  # monotonic time the entry was made, to forget unfollowed ones
    noted_at: float = 0.0  # monotonic time of the last Describe seen
    last: dict[str, Any] | None = None  # `trimmed` last Describe, for `from_summary`
    reporting: bool = False


# --------------------------------------------------------------------------------------------
# One region/endpoint's poller


@dataclass
class Pass:
    """One listing from its first page to its last, possibly over several polls."""

    params: dict[str, Any]
    token: str | None
    started: float  # local monotonic time: only its duration is used, for the margin
    before: set[str] = field(default_factory=set)  # jobs tracked when a sweep began
    listed: set[str] = field(default_factory=set)
    modified: list[float | None] = field(default_factory=list)


@dataclass(frozen=True)
class PollerConfig:
    """The poller's knobs (from `settings.Settings`)."""

    fast_interval: float = 5.0
    slow_interval: float = 30.0
    jitter: float = 0.2
    page_budget: int = 10
    sweep_interval: float = 300.0
    margin: float = 5.0  # plus the listing's own duration
    describe_concurrency: int = 4
    describe_max_wait: float = 2.0  # a reconcile's Describe waits this long for a token at most
    # Any other reconcile call (Create, Stop, tags) waits this long at most (HPO_AWS_CALL_MAX_WAIT);
    # past it the call is deferred (ClientRateLimited: a condition and kopf's delayed retry).
    # Without a bound, a call reserved behind a deep queue while throttling had cut the rate slept
    # the whole wait computed at that rate (minutes, inside its handler, invisible) after the
    # budget had recovered.
    call_max_wait: float = 60.0
    call_timeout: float = 40.0
    forget_after: float = 300.0  # drop a job noted by a reconcile but never followed after this
    report_concurrency: int = 8  # reports (a GET and a status PATCH each) in flight at once
    search: bool = True  # describe bursts with Search (see `RegionPoller._search`)
    search_min_batch: int = 5  # fewer changed jobs than this: Describe each (consistent reads)
    first_status_delay: float = 1.0  # a new job's first status waits this long for others
    deferral_log_interval: float = 30.0  # one log line per interval for calls the budget deferred


@dataclass
class PollerStats:
    """Counters for logs, metrics and the benchmark."""

    polls: int = 0
    pages: int = 0
    sweeps: int = 0
    describes: int = 0
    empty_pages_with_token: int = 0
    budget_exhausted: int = 0
    from_summaries: int = 0  # changes delivered from a List summary, without a Describe
    reports: int = 0
    reports_retried: int = 0
    searches: int = 0
    searched: int = 0  # changes described by a Search record
    search_stale: int = 0  # records older than the List said: described instead
    tags_searched: int = 0  # ownership proofs answered from a Search record (no ListTags)


class RegionPoller:
    """Lists changed jobs and describes them, for one (region, endpoint), on its own task."""

    def __init__(
        self,
        sagemaker: SageMakerReader,
        limiter: RateLimiter,
        config: PollerConfig,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        report: Report | None = None,
        where: str = "",
        on_deferred: Callable[[str], None] | None = None,
    ) -> None:
        self.sagemaker = sagemaker
        self.where = where or "this region"
        self.on_deferred = on_deferred  # told of each call the budget deferred (the metric)
        self.deferrals = Deferrals(config.deferral_log_interval, clock)
        self.report = report
        self.limiter = limiter
        self.config = config
        self.rng = rng or random.Random()
        self.clock = clock
        self.jobs: dict[str, Tracked] = {}
        self.watermark: float | None = None
        self.next_sweep = 0.0
        self.resume: Pass | None = None  # a listing cut by the page budget, resumed next poll
        self.interval = AdaptiveInterval(
            config.fast_interval, config.slow_interval, 1.5, config.jitter
        )
        self.stats = PollerStats()
        self._task: asyncio.Task[None] | None = None
        self._semaphore = asyncio.Semaphore(config.describe_concurrency)
        self._reporting = asyncio.Semaphore(config.report_concurrency)
        self._reports: set[asyncio.Task[None]] = set()
        self.owned: dict[str, str] = {}  # owner uid → job key
        self.search_refused: str | None = None  # why Search is not used (no permission)
        self._new_job = asyncio.Event()  # a job was followed with no known state
        # Ownership proofs asked for together (`tags`): job key → (name, waiting reconciles).
        self._tag_asks: dict[str, tuple[str, list[asyncio.Future[list[Any] | None]]]] = {}
        self._tag_task: asyncio.Task[None] | None = None

    # --- ownership proofs in bulk ---------------------------------------------------------------

    async def tags(self, name: str) -> list[Any] | None:
        """The job's tags as a Search record shows them, looked up together with every other
        reconcile's ask (one Search per 100 jobs instead of one ListTags each: after a restart,
        500 running jobs took 53 s of ListTags budget before their status could be trusted).

        None when Search cannot say: refused, failed, no record (the index lags behind new jobs)
        or a record without the operator's `uid` tag (the index may lag behind an AddTags). The
        caller then calls ListTags, which is authoritative: the index only ever saves a call.
        """
        if not self.config.search or self.search_refused:
            return None
        future: asyncio.Future[list[Any] | None] = asyncio.get_running_loop().create_future()
        self._tag_asks.setdefault(job_key(name), (name, []))[1].append(future)
        if self._tag_task is None or self._tag_task.done():
            self._tag_task = asyncio.get_running_loop().create_task(self._look_up_tags())
        return await future

    async def _look_up_tags(self) -> None:
        await asyncio.sleep(TAG_GATHER_SECONDS)  # the other reconciles of a restart ask meanwhile
        while self._tag_asks:
            batch = dict(list(self._tag_asks.items())[:PAGE_SIZE])
            for key in batch:
                del self._tag_asks[key]
            found: dict[str, list[Any]] = {}
            try:
                if len(batch) >= self.config.search_min_batch:  # else ListTags is as cheap
                    found = await self._search_tags({name for name, _ in batch.values()})
            except Exception as error:  # the callers fall back to ListTags; never leave them
                log.warning("Search for tags failed: %s: %s", type(error).__name__, error)
            finally:
                for key, (_, waiting) in batch.items():
                    tags = found.get(key)
                    self.stats.tags_searched += len(waiting) if tags is not None else 0
                    for future in waiting:
                        if not future.done():
                            future.set_result(tags)

    async def _search_tags(self, names: set[str]) -> dict[str, list[Any]]:
        """Job key → its tags, for the records that carry the operator's `uid` tag."""
        if not await self.limiter.acquire(SEARCH_OP, max_wait=self.config.call_max_wait):
            return {}
        (request,) = search_requests(sorted(names))
        response = await self._search_page(request)
        if isinstance(response, ListFailure):
            if response.throttled:
                self.limiter.throttled(SEARCH_OP, response.retry_after)
            elif response.code in ACCESS_DENIED_CODES:
                self.search_refused = f"{response.code}: {response.message}"
            return {}
        self.limiter.succeeded(SEARCH_OP)
        self.stats.searches += 1
        found: dict[str, list[Any]] = {}
        for result in response.get("Results") or ():
            record = (result or {}).get("HyperParameterTuningJob") or {}
            tags = record.get("Tags")
            if isinstance(tags, list) and any(
                isinstance(t, Mapping) and t.get("Key") == TAG_UID for t in tags
            ):
                found[job_key(str(record.get("HyperParameterTuningJobName") or ""))] = tags
        return found

    # --- bookkeeping from the reconciles ------------------------------------------------------

    def follow(self, name: str, owner: Owner, status: Mapping[str, Any]) -> Tracked | None:
        """`owner`'s job is running (its status says so): report its changes from now on.

        One job has one follower: while another resource follows it, `owner` is refused (None)
        and the job's changes keep going to the first. Reconciles only follow jobs proven theirs
        by tags, so this holds even if two resources both pass that proof (an adoption race).
        """
        key = job_key(name)
        entry = self.jobs.get(key)
        if entry is not None and entry.owner is not None and entry.owner.uid != owner.uid:
            log.warning(
                "tuning job %s is followed for another resource already; not following it for "
                "%s/%s too",
                name,
                owner.namespace,
                owner.name,
            )
            self.unfollow(owner)
            return None
        previous = self.owned.get(owner.uid)
        if previous is not None and previous != key:
            self.unfollow(owner)
        if entry is None:
            entry = self.jobs[key] = Tracked(key, added=self.clock())
            entry.seen = status_signature(status) if status.get(STATUS_JOB_STATE) else None
        entry.owner = owner
        entry.name = entry.name or name
        self.owned[owner.uid] = key
        if entry.seen is None:
            self._new_job.set()
        self.start()
        return entry

    def unfollow(self, owner: Owner) -> None:
        """`owner` no longer needs its job watched (finished, deleted, moved)."""
        key = self.owned.pop(owner.uid, None)
        entry = self.jobs.get(key) if key is not None else None
        if entry is not None and entry.owner is not None and entry.owner.uid == owner.uid:
            del self.jobs[key]  # type: ignore[arg-type]

    def follows(self, uid: str) -> bool:
        """Whether the resource `uid`'s job is followed here (its changes are reported to it)."""
        key = self.owned.get(uid)
        entry = self.jobs.get(key) if key is not None else None
        return entry is not None and entry.owner is not None and entry.owner.uid == uid

    def note(self, name: str, described: Mapping[str, Any]) -> None:
        """A Describe made by a reconcile: remember what it saw, so the poller won't repeat it."""
        key = job_key(name)
        entry = self.jobs.get(key)
        state = described.get("HyperParameterTuningJobStatus")
        if entry is None:
            if state in FINISHED:
                return
            entry = self.jobs[key] = Tracked(key, added=self.clock())
        entry.name = str(described.get("HyperParameterTuningJobName") or entry.name or name)
        entry.seen = signature(described)
        entry.noted_at = self.clock()
        entry.last = trimmed(described)

    # --- the loop -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="hpo-poller")

    def cancel(self) -> list[asyncio.Task[None]]:
        """Cancel the poll loop and the reports in flight; returns them (to await)."""
        tasks = [t for t in (self._task, *self._reports) if t is not None]
        for task in tasks:
            task.cancel()
        return tasks

    async def stop(self) -> None:
        for task in self.cancel():
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        """Poll until cancelled; a bug in one poll is logged and the loop goes on. A job
        followed without a known state (just created) cuts the pause short: its first status
        is looked up within `first_status_delay`, together with the others created meanwhile."""
        while True:
            changed = False
            try:
                self._forget_unfollowed()
                if self.jobs:
                    changed = await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("poll failed")
            await self._pause(self.interval.next(changed, self.rng.random()))

    async def _pause(self, seconds: float) -> None:
        """Sleep until the next poll; meanwhile look up the first status of new jobs, each
        burst after `first_status_delay` (so that the others created meanwhile join it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (remaining := deadline - loop.time()) > 0:
            try:
                await asyncio.wait_for(self._new_job.wait(), remaining)
            except TimeoutError:
                return
            await asyncio.sleep(self.config.first_status_delay)
            self._new_job.clear()
            try:
                await self.describe_new()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("looking up new jobs failed")

    async def describe_new(self) -> None:
        """The first status of jobs followed without one (created without a Describe): one
        Search for a burst, a Describe each for a few."""
        fresh = {key: None for key, entry in self.jobs.items() if entry.seen is None}
        if fresh:
            left = await self._search(fresh)
            await asyncio.gather(*(self._describe(key) for key in left))

    async def poll_once(self) -> bool:
        """One poll: list (changes, or a sweep), then describe what changed; True if any did."""
        self.stats.polls += 1
        now = self.clock()
        current = self.resume
        self.resume = None
        if current is None:
            params: dict[str, Any] = {"MaxResults": PAGE_SIZE, "SortBy": "CreationTime"}
            if self.watermark is None or now >= self.next_sweep:
                params["StatusEquals"] = "InProgress"
                self.stats.sweeps += 1
            else:
                params["LastModifiedTimeAfter"] = datetime.fromtimestamp(self.watermark, tz=UTC)
            current = Pass(params, None, now, before=set(self.jobs))
        listing = await list_pages(
            self._fetch, current.params, self.config.page_budget, current.token
        )
        self.stats.pages += listing.pages
        self.stats.empty_pages_with_token += int(listing.empty_page_with_token)
        dirty: dict[str, Signature | None] = {}  # job → what the List said of it (None: nothing)
        changed = False
        for summary in listing.summaries:
            name = str(summary.get("HyperParameterTuningJobName") or "")
            key = job_key(name)
            current.listed.add(key)
            current.modified.append(epoch(summary.get("LastModifiedTime")))
            entry = self.jobs.get(key)
            if entry is None or entry.seen == signature(summary):
                continue
            entry.name = name
            rebuilt = from_summary(entry.last, summary)
            if rebuilt is None:
                dirty[key] = signature(summary)
            else:  # the List page already said everything that changed: no Describe
                self.stats.from_summaries += 1
                entry.seen, entry.last = signature(summary), rebuilt
                await self._paced(entry, rebuilt)
                changed = True
        if listing.complete:
            margin = self.config.margin + (self.clock() - current.started)
            self.watermark = next_watermark(self.watermark, current.modified, margin)
            if "StatusEquals" in current.params:
                # Tracked before the sweep began and not InProgress now: finished or stopping.
                for key in current.before - current.listed:
                    if key in self.jobs and not _finished(self.jobs[key]):
                        dirty[key] = (None, LEFT_IN_PROGRESS, "", "")
                self.next_sweep = self.clock() + self.config.sweep_interval
        elif listing.next_token and listing.failure is None:
            self.stats.budget_exhausted += 1
            current.token = listing.next_token
            self.resume = current
        for key, entry in self.jobs.items():
            if entry.seen is None:
                dirty.setdefault(key, None)
        if listing.failure is not None and not listing.failure.throttled:
            # List refused (a missing sagemaker:ListHyperParameterTuningJobs permission, an
            # outage): fall back to describing each running job once per slow interval.
            cutoff = self.clock() - self.config.slow_interval
            for key, entry in self.jobs.items():
                if entry.noted_at <= cutoff and not _finished(entry):
                    dirty.setdefault(key, None)
        left = await self._search(dirty)
        await asyncio.gather(*(self._describe(key) for key in sorted(left)))
        return changed or bool(dirty)

    async def _search(self, dirty: Mapping[str, Signature | None]) -> list[str]:
        """Describe a burst of changed jobs with Search, 100 records per call; the jobs left
        (a small burst, Search refused or failed, a record missing or staler than the List)
        get a Describe each."""
        c = self.config
        if not c.search or self.search_refused or len(dirty) < c.search_min_batch:
            return list(dirty)
        names = {self.jobs[k].name or k: k for k in sorted(dirty) if k in self.jobs}
        left = set(dirty)
        for request in search_requests(names):
            await self.limiter.acquire(SEARCH_OP)
            response = await self._search_page(request)
            self.stats.searches += 1
            if isinstance(response, ListFailure):
                if response.throttled:
                    self.limiter.throttled(SEARCH_OP, response.retry_after)
                elif response.code in ACCESS_DENIED_CODES:
                    self.search_refused = f"{response.code}: {response.message}"
                    log.warning(
                        "Search refused (%s): describing changed jobs one by one instead; grant "
                        "sagemaker:Search to describe bursts of changes in fewer calls",
                        self.search_refused,
                    )
                    break
                log.warning("%s failed (%s): %s", SEARCH_OP, response.code, response.message)
                continue
            self.limiter.succeeded(SEARCH_OP)
            for result in response.get("Results") or ():
                record = (result or {}).get("HyperParameterTuningJob") or {}
                key = job_key(str(record.get("HyperParameterTuningJobName") or ""))
                entry = self.jobs.get(key)
                if key not in left or entry is None:
                    continue
                if not fresh_enough(record, dirty[key]):
                    self.stats.search_stale += 1
                    continue
                left.discard(key)
                self.stats.searched += 1
                described = {k: v for k, v in record.items() if k != "Tags"}
                entry.seen = signature(described)
                entry.noted_at = self.clock()
                entry.last = trimmed(described)
                await self._paced(entry, entry.last)
        return sorted(left)

    async def _paced(self, entry: Tracked, result: Mapping[str, Any] | AwsFailure) -> None:
        """Report one change, at most `deliver_rate` per second and `report_concurrency` at
        once: each report is a GET and a status PATCH, and kopf opens one TLS connection (with a
        256 KiB buffer) per concurrent API request, so a thousand at once would cost hundreds of
        MB (measured: +280 MB)."""
        if entry.owner is None or self.report is None:
            return  # nobody to tell (noted by a reconcile, not followed): nothing to write
        if await self.limiter.acquire(DELIVER, max_wait=None):
            await self._reporting.acquire()
            entry.reporting = True
            task = asyncio.get_running_loop().create_task(self._deliver(entry, entry.owner, result))
            self._reports.add(task)
            task.add_done_callback(self._reports.discard)

    async def settle(self) -> None:
        """Wait for the reports in flight (tests, shutdown)."""
        while self._reports:
            await asyncio.gather(*list(self._reports), return_exceptions=True)

    async def _deliver(
        self, entry: Tracked, owner: Owner, result: Mapping[str, Any] | AwsFailure
    ) -> None:
        report = self.report
        assert report is not None
        try:
            outcome = await report(owner, Prefetched(entry.key, result))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "reporting a change of %s to %s/%s failed", entry.key, owner.namespace, owner.name
            )
            outcome = Delivery.RETRY
        finally:
            entry.reporting = False
            self._reporting.release()
        self.stats.reports += 1
        if outcome is Delivery.GONE:
            self.unfollow(owner)
        elif outcome is Delivery.RETRY:
            self.stats.reports_retried += 1
            entry.seen = None  # describe it again on the next poll, and report that

    def _forget_unfollowed(self) -> None:
        """Drop jobs no resource follows: finished ones at once, others after `forget_after`
        (a reconcile that noted a Describe follows its job right after, if it runs)."""
        cutoff = self.clock() - self.config.forget_after
        for key, entry in list(self.jobs.items()):
            if entry.owner is not None or entry.reporting:
                continue
            if _finished(entry) or entry.added < cutoff:
                del self.jobs[key]

    async def _describe(self, key: str) -> None:
        async with self._semaphore:
            entry = self.jobs.get(key)
            if entry is None:
                return
            result = await self.call(Call(Op.DESCRIBE, key))
            self.stats.describes += 1
            if isinstance(result, AwsFailure):
                if result.kind is ErrorKind.NOT_FOUND:
                    entry.seen = (None, "NotFound", "", "")
                    await self._paced(entry, result)
                return  # throttled or failed: `seen` is unchanged, so the next poll tries again
            entry.seen = signature(result)
            entry.noted_at = self.clock()
            entry.last = trimmed(result)
        await self._paced(entry, result)

    # --- calls, all through the limiter -------------------------------------------------------

    async def call(
        self, call: Call, max_wait: float | None = None
    ) -> Mapping[str, Any] | AwsFailure:
        """One SageMaker call through the account's budget; throttling slows the budget down."""
        operation = call.op.value
        if not await self.limiter.acquire(operation, max_wait):
            self._deferred(operation)
            return AwsFailure(
                call.op,
                "ClientRateLimited",
                f"the operator's own budget for {operation} in this account and region is spent "
                "(it stays under SageMaker's quota); retrying",
                ErrorKind.RECOVERABLE,
                throttled=True,
                local=True,
            )
        result = await self.sagemaker.execute(call)
        if isinstance(result, AwsFailure) and result.throttled:
            self.limiter.throttled(operation)
        elif not isinstance(result, AwsFailure):
            self.limiter.succeeded(operation)
        return result

    def _deferred(self, operation: str) -> None:
        """A call the budget turned away: counted, reported once per interval (`Deferrals`)."""
        if self.on_deferred is not None:
            self.on_deferred(operation)
        if self.deferrals.note(operation):
            loop = asyncio.get_running_loop()
            loop.call_later(self.deferrals.interval, self.report_deferrals)

    def report_deferrals(self) -> None:
        """Log the calls deferred since the last line, if any."""
        line = self.deferrals.report(self.where)
        if line is not None:
            log.info(line)

    async def _search_page(self, request: dict[str, Any]) -> Mapping[str, Any] | ListFailure:
        return await search_jobs(self.sagemaker, request, self.config.call_timeout)

    async def _fetch(self, params: dict[str, Any]) -> Mapping[str, Any] | ListFailure:
        await self.limiter.acquire(LIST_OP)
        result = await list_jobs(self.sagemaker, params, self.config.call_timeout)
        if isinstance(result, ListFailure):
            if result.throttled:
                self.limiter.throttled(LIST_OP, result.retry_after)
            log.warning("%s failed (%s): %s", LIST_OP, result.code, result.message)
        else:
            self.limiter.succeeded(LIST_OP)
        return result


def _finished(entry: Tracked) -> bool:
    return entry.seen is not None and entry.seen[1] in FINISHED


async def list_jobs(
    sagemaker: SageMakerReader, params: Mapping[str, Any], deadline: float
) -> Mapping[str, Any] | ListFailure:
    """ListHyperParameterTuningJobs on the adapter's client and thread pool."""
    return await _read(sagemaker, Op.LIST, params, deadline)


async def search_jobs(
    sagemaker: SageMakerReader, params: Mapping[str, Any], deadline: float
) -> Mapping[str, Any] | ListFailure:
    """Search (Resource=HyperParameterTuningJob) on the adapter's client and thread pool."""
    return await _read(sagemaker, Op.SEARCH, params, deadline)


async def _read(
    sagemaker: SageMakerReader, op: Op, params: Mapping[str, Any], deadline: float
) -> Mapping[str, Any] | ListFailure:
    """One read-only call the reconciler never makes, classified (`sagemaker.classify_exception`)
    and counted by the adapter like every call; a failure is data, with AWS's Retry-After."""
    result = await sagemaker.read(op, params, deadline)
    if isinstance(result, AwsFailure):
        return ListFailure(result.code, result.message, result.throttled, result.retry_after)
    return result
