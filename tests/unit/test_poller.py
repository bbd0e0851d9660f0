"""The shared poller's pure parts and one region's poll loop against a fake SageMaker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from hpo_operator.adapters.ratelimit import RateLimiter
from hpo_operator.core.types import AwsFailure, Call, ErrorKind, Op
from hpo_operator.polling.changes import (
    AdaptiveInterval,
    ListFailure,
    fresh_enough,
    from_summary,
    list_pages,
    next_watermark,
    search_requests,
    signature,
    status_signature,
)
from hpo_operator.polling.poller import PollerConfig, RegionPoller
from hpo_operator.polling.shared import PolledSageMaker
from hpo_operator.polling.strategy import Delivery, Owner, Prefetched

T0 = 1_700_000_000.0


def summary(name: str, modified: float, state: str = "InProgress", done: int = 0) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobStatus": state,
        "LastModifiedTime": datetime.fromtimestamp(modified, tz=UTC),
        "TrainingJobStatusCounters": {"Completed": done, "InProgress": 1},
        "ObjectiveStatusCounters": {"Succeeded": done},
    }


def run(coro: Any) -> Any:
    return asyncio.run(coro)


class Pages:
    """A fake List: answers from a list of canned pages, records each request."""

    def __init__(self, pages: list[Mapping[str, Any] | ListFailure]) -> None:
        self.pages = list(pages)
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, params: dict[str, Any]) -> Mapping[str, Any] | ListFailure:
        self.requests.append(params)
        return self.pages.pop(0)


# --- list_pages --------------------------------------------------------------------------------


def test_listing_follows_next_token_to_the_end() -> None:
    fetch = Pages(
        [
            {"HyperParameterTuningJobSummaries": [summary("a", T0)], "NextToken": "t1"},
            {"HyperParameterTuningJobSummaries": [summary("b", T0)]},
        ]
    )
    listing = run(list_pages(fetch, {"MaxResults": 100}, budget=5))
    assert listing.complete and listing.pages == 2 and listing.next_token is None
    assert [s["HyperParameterTuningJobName"] for s in listing.summaries] == ["a", "b"]
    assert fetch.requests[1] == {"MaxResults": 100, "NextToken": "t1"}


def test_empty_page_with_a_next_token_ends_the_listing() -> None:
    # aws-cli#7596: with LastModifiedTimeAfter, empty pages can carry NextTokens for ever.
    fetch = Pages(
        [
            {"HyperParameterTuningJobSummaries": [summary("a", T0)], "NextToken": "t1"},
            {"HyperParameterTuningJobSummaries": [], "NextToken": "t2"},
            {"HyperParameterTuningJobSummaries": [], "NextToken": "t3"},
        ]
    )
    listing = run(list_pages(fetch, {}, budget=10))
    assert listing.pages == 2 and listing.complete and listing.empty_page_with_token
    assert len(fetch.requests) == 2


def test_page_budget_bounds_a_listing_and_keeps_the_token_to_resume() -> None:
    fetch = Pages(
        [
            {"HyperParameterTuningJobSummaries": [summary(f"j{i}", T0)], "NextToken": f"t{i}"}
            for i in range(10)
        ]
    )
    listing = run(list_pages(fetch, {}, budget=3))
    assert listing.pages == 3 and not listing.complete and listing.next_token == "t2"
    assert len(fetch.requests) == 3


def test_a_failed_page_stops_the_listing_incomplete() -> None:
    fetch = Pages(
        [
            {"HyperParameterTuningJobSummaries": [summary("a", T0)], "NextToken": "t1"},
            ListFailure("ThrottlingException", "Rate exceeded", throttled=True),
        ]
    )
    listing = run(list_pages(fetch, {}, budget=5))
    assert not listing.complete and listing.failure is not None and listing.next_token == "t1"


# --- watermark, interval, signatures -------------------------------------------------------------


def test_watermark_is_the_newest_returned_time_minus_the_margin() -> None:
    assert next_watermark(None, [T0, T0 + 30, None], margin=5) == T0 + 25
    assert next_watermark(T0 + 100, [T0 + 30], margin=5) == T0 + 100  # never moves back
    assert next_watermark(T0, [], margin=5) == T0  # nothing returned: unchanged
    assert next_watermark(None, [None], margin=5) is None


def test_interval_is_fast_after_a_change_and_grows_to_the_slow_one_when_idle() -> None:
    interval = AdaptiveInterval(fast=5, slow=30, growth=2, jitter=0.2)
    assert interval.next(True, 0.0) == 5
    assert [interval.next(False, 0.0) for _ in range(4)] == [10, 20, 30, 30]
    assert interval.next(True, 0.0) == 5
    # Jitter only shortens, so a change waits at most `slow` to be seen.
    assert interval.next(False, 1.0) == pytest.approx(10 * 0.8)
    assert all(interval.next(False, 0.999) <= 30 for _ in range(10))


def test_status_signature_matches_the_describe_it_was_written_from() -> None:
    described = summary("a", T0 + 0.75, done=2)
    status = {
        "lastModifiedTime": "2023-11-14T22:13:20Z",  # T0 at whole seconds, as status keeps it
        "hyperParameterTuningJobStatus": "InProgress",
        "trainingJobStatusCounters": {"completed": 2, "inProgress": 1},
        "objectiveStatusCounters": {"succeeded": 2},
    }
    assert status_signature(status) == signature(described)
    assert signature(summary("a", T0, done=3)) != signature(described)
    assert signature(summary("a", T0, state="Stopping", done=2)) != signature(described)


# --- one region's poll loop ----------------------------------------------------------------------


LOOPS: list[asyncio.AbstractEventLoop] = []


@pytest.fixture(autouse=True)
def _close_loops() -> Iterator[None]:
    yield
    while LOOPS:
        LOOPS.pop().close()


async def no_sleep(seconds: float) -> None:
    """The limiter's waits are not what these tests are about (test_ratelimit.py is)."""


class Reports:
    """The operator's side: records each report (owner name → the Describe it carried)."""

    def __init__(self) -> None:
        self.got: list[tuple[str, Any]] = []
        self.outcome = Delivery.DONE

    async def __call__(self, owner: Owner, prefetched: Prefetched) -> Delivery:
        assert prefetched.key == owner.name.lower()
        self.got.append((owner.name, prefetched.result))
        return self.outcome

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.got]


class FakeRegion(RegionPoller):
    """A RegionPoller whose List and Describe answer from dicts (no boto3, no limiter waits)."""

    def __init__(self, jobs: dict[str, dict[str, Any]], clock: list[float]) -> None:
        limiter = RateLimiter({}, clock=lambda: clock[0], sleep=no_sleep)
        config = PollerConfig(page_budget=2, margin=5.0, sweep_interval=300.0)
        self.reports = Reports()
        super().__init__(
            Answering(),
            limiter,
            config,
            clock=lambda: clock[0],
            report=self.reports,
        )
        self.loop = asyncio.new_event_loop()  # one loop per poller, as in the operator
        LOOPS.append(self.loop)
        self.world = jobs
        self.index: dict[str, dict[str, Any]] | None = None  # Search's view; None: the world
        self.searches: list[dict[str, Any]] = []
        self.search_answer: ListFailure | None = None
        self.list_requests: list[dict[str, Any]] = []
        self.described: list[str] = []
        self.page_size = 100

    def start(self) -> None:
        """No background loop: the tests call poll_once themselves."""

    async def _fetch(self, params: dict[str, Any]) -> Mapping[str, Any] | ListFailure:
        self.list_requests.append(params)
        rows = sorted(self.world.values(), key=lambda s: s["HyperParameterTuningJobName"])
        if "StatusEquals" in params:
            rows = [r for r in rows if r["HyperParameterTuningJobStatus"] == params["StatusEquals"]]
        if "LastModifiedTimeAfter" in params:
            after = params["LastModifiedTimeAfter"].timestamp()
            rows = [r for r in rows if r["LastModifiedTime"].timestamp() > after]
        start = int(params.get("NextToken") or 0)
        chunk = rows[start : start + self.page_size]
        out: dict[str, Any] = {"HyperParameterTuningJobSummaries": chunk}
        if start + self.page_size < len(rows):
            out["NextToken"] = str(start + self.page_size)
        return out

    async def _search_page(self, request: dict[str, Any]) -> Mapping[str, Any] | ListFailure:
        self.searches.append(request)
        if self.search_answer is not None:
            return self.search_answer
        wanted = {
            name for f in request["SearchExpression"]["Filters"] for name in f["Value"].split(",")
        }
        index = self.world if self.index is None else self.index
        records = [dict(row) for name, row in sorted(index.items()) if name in wanted]
        return {"Results": [{"HyperParameterTuningJob": r} for r in records[:100]]}

    async def call(self, call: Call, max_wait: float | None = None) -> Any:
        self.described.append(call.job_name)
        found = {k.lower(): v for k, v in self.world.items()}.get(call.job_name.lower())
        if found is None:
            return AwsFailure(call.op, "ResourceNotFound", "gone", ErrorKind.NOT_FOUND)
        return dict(found, HyperParameterTuningJobArn=f"arn:aws:sagemaker:r:1:x/{call.job_name}")


def owner(name: str) -> Owner:
    return Owner("ns", name, f"uid-{name}")


def tracked(poller: RegionPoller, *names: str) -> None:
    """Jobs a reconcile described and then followed (their resources' status shows them)."""
    for name in names:
        poller.note(name, poller_world(poller)[name])
        poller.follow(name, owner(name), {"hyperParameterTuningJobStatus": "InProgress"})


def poll(poller: FakeRegion) -> bool:
    """One poll, and the reports it started run to their end."""

    async def once() -> bool:
        changed = await poller.poll_once()
        await poller.settle()
        return changed

    return bool(poller.loop.run_until_complete(once()))


def poller_world(poller: RegionPoller) -> dict[str, dict[str, Any]]:
    world: dict[str, dict[str, Any]] = poller.world  # type: ignore[attr-defined]
    return world


def test_first_poll_sweeps_in_progress_and_gives_a_finished_job_its_final_describe() -> None:
    clock = [50.0]  # the local monotonic clock has nothing to do with SageMaker's times
    world = {"a": summary("a", T0), "b": summary("b", T0 + 10)}
    poller = FakeRegion(world, clock)
    tracked(poller, "a", "b")
    world["b"] = summary("b", T0 + 40, state="Completed", done=1)  # b finished meanwhile

    assert poll(poller) is True
    assert poller.list_requests[0]["StatusEquals"] == "InProgress"
    assert poller.described == ["b"]  # a is listed unchanged; b left InProgress
    assert poller.reports.names == ["b"]
    assert poller.watermark == T0 - 5.0  # from a's LastModifiedTime, not the local clock


def test_changes_listing_uses_the_watermark_and_describes_only_changed_jobs() -> None:
    clock = [50.0]
    world = {name: summary(name, T0) for name in ("a", "b", "c")}
    poller = FakeRegion(world, clock)
    tracked(poller, "a", "b", "c")
    poll(poller)  # the sweep: nothing changed
    assert poller.described == []

    world["c"] = summary("c", T0 + 60, done=1)
    clock[0] += 10
    assert poll(poller) is True
    request = poller.list_requests[-1]
    assert "StatusEquals" not in request
    assert request["LastModifiedTimeAfter"].timestamp() == T0 - 5.0
    assert poller.described == ["c"]
    assert poller.watermark == pytest.approx(T0 + 55.0)

    clock[0] += 10
    assert poll(poller) is False  # c is listed again (margin) but unchanged
    assert poller.described == ["c"]


def test_a_listing_cut_by_the_page_budget_resumes_and_only_then_moves_the_watermark() -> None:
    clock = [50.0]
    world = {f"j{i:02d}": summary(f"j{i:02d}", T0 + i) for i in range(5)}
    poller = FakeRegion(world, clock)
    poller.page_size = 1  # five pages; the budget is two per poll
    tracked(poller, *world)

    poll(poller)
    assert poller.resume is not None and poller.watermark is None
    poll(poller)
    assert poller.list_requests[2]["NextToken"] == "2"
    poll(poller)
    assert poller.resume is None and poller.watermark == T0 + 4 - 5.0
    assert len(poller.list_requests) == 5
    assert poller.described == []


def test_a_new_job_without_a_seen_state_is_described_once() -> None:
    clock = [50.0]
    world = {"a": summary("a", T0)}
    poller = FakeRegion(world, clock)

    entry = poller.follow("a", owner("a"), {"ackResourceMetadata": {"arn": "x"}})  # no state
    assert entry.seen is None
    poll(poller)
    poll(poller)
    assert poller.described == ["a"]
    assert poller.reports.names == ["a"]


def test_throttled_describe_is_retried_on_the_next_poll() -> None:
    clock = [50.0]
    world = {"a": summary("a", T0)}
    poller = FakeRegion(world, clock)
    tracked(poller, "a")
    poll(poller)
    world["a"] = summary("a", T0 + 30, done=1)
    answers: list[Any] = [
        AwsFailure(Op.DESCRIBE, "ThrottlingException", "slow", ErrorKind.RECOVERABLE, True)
    ]
    original = poller.call

    async def flaky(call: Call, max_wait: float | None = None) -> Any:
        return answers.pop(0) if answers else await original(call, max_wait)

    poller.call = flaky  # type: ignore[method-assign]
    poll(poller)
    assert poller.reports.names == []
    poll(poller)  # still listed after the margin, still unseen: described now
    assert poller.reports.names == ["a"]


def test_when_list_is_refused_running_jobs_are_described_once_per_slow_interval() -> None:
    clock = [50.0]
    world = {"a": summary("a", T0), "b": summary("b", T0, state="Completed")}
    poller = FakeRegion(world, clock)
    tracked(poller, "a")
    poller.jobs["b"] = type(poller.jobs["a"])("b", seen=signature(world["b"]))

    async def refused(params: dict[str, Any]) -> ListFailure:
        return ListFailure(
            "AccessDeniedException", "not authorized to ListHyperParameterTuningJobs"
        )

    poller._fetch = refused  # type: ignore[method-assign]
    poll(poller)
    assert poller.described == []  # a was described just now (noted)
    clock[0] += poller.config.slow_interval
    poll(poller)
    assert poller.described == ["a"]  # b is finished: never
    poll(poller)
    assert poller.described == ["a"]


# --- a List summary instead of a Describe ---------------------------------------------------


def described(name: str, modified: float, done: int = 0, running: int = 1) -> dict[str, Any]:
    out = summary(name, modified, done=done)
    out["TrainingJobStatusCounters"] = {"Completed": done, "InProgress": running}
    out["BestTrainingJob"] = {"TrainingJobName": f"{name}-001"}
    out["HyperParameterTuningJobConfig"] = {"Strategy": "Bayesian"}  # not kept: not in status
    return out


def test_summary_stands_in_for_a_describe_only_when_nothing_else_can_have_changed() -> None:
    last = described("a", T0, done=1, running=1)
    newer = summary("a", T0 + 30, done=1)
    newer["TrainingJobStatusCounters"] = {"Completed": 1, "InProgress": 2}  # a training started
    rebuilt = from_summary(last, newer)
    assert rebuilt is not None
    assert rebuilt["TrainingJobStatusCounters"] == {"Completed": 1, "InProgress": 2}
    assert rebuilt["LastModifiedTime"] == newer["LastModifiedTime"]
    assert rebuilt["BestTrainingJob"] == {"TrainingJobName": "a-001"}

    finished_one = summary("a", T0 + 30, done=2)  # a training completed: the best may move
    assert from_summary(last, finished_one) is None
    completed = summary("a", T0 + 30, state="Completed", done=1)
    assert from_summary(last, completed) is None
    assert from_summary(None, newer) is None


def test_poll_delivers_a_summary_only_change_without_describing() -> None:
    clock = [50.0]
    world = {"a": described("a", T0, done=1)}
    poller = FakeRegion(world, clock)
    tracked(poller, "a")
    assert "HyperParameterTuningJobConfig" not in (poller.jobs["a"].last or {})
    poll(poller)
    world["a"] = described("a", T0 + 30, done=1, running=2)
    assert poll(poller) is True
    assert poller.described == []
    [(_, pending)] = poller.reports.got
    assert isinstance(pending, dict)
    assert pending["TrainingJobStatusCounters"]["InProgress"] == 2
    assert poller.stats.from_summaries == 1
    world["a"] = described("a", T0 + 60, done=2, running=1)
    poll(poller)
    assert poller.described == ["a"]


# --- reporting to the resource that owns the job --------------------------------------------


def test_a_report_that_could_not_be_written_is_described_and_reported_again() -> None:
    clock = [50.0]
    world = {"a": summary("a", T0)}
    poller = FakeRegion(world, clock)
    tracked(poller, "a")
    poll(poller)
    world["a"] = summary("a", T0 + 30, state="Completed", done=1)
    poller.reports.outcome = Delivery.RETRY  # e.g. the API server did not answer
    poll(poller)
    assert poller.reports.names == ["a"] and poller.jobs["a"].seen is None
    poller.reports.outcome = Delivery.DONE
    poll(poller)
    assert poller.described == ["a", "a"]
    assert poller.reports.names == ["a", "a"]
    assert poller.stats.reports_retried == 1


def test_a_resource_gone_or_finished_is_no_longer_followed() -> None:
    clock = [50.0]
    world = {"a": summary("a", T0), "b": summary("b", T0)}
    poller = FakeRegion(world, clock)
    tracked(poller, "a", "b")
    poll(poller)
    world["a"] = summary("a", T0 + 30, state="Completed", done=1)
    poller.reports.outcome = Delivery.GONE
    poll(poller)
    assert "a" not in poller.jobs and "uid-a" not in poller.owned
    poller.unfollow(owner("b"))  # its reconcile said the job no longer needs watching
    assert poller.jobs == {} and poller.owned == {}


def test_following_another_job_stops_following_the_old_one() -> None:
    poller = FakeRegion({}, [50.0])
    poller.follow("old", owner("r"), {})
    poller.follow("new", owner("r"), {})
    assert set(poller.jobs) == {"new"} and poller.owned == {"uid-r": "new"}


def test_a_job_has_one_follower_the_first() -> None:
    """Issue 13 F1: a second resource following the same job took its reports away from the
    first (whose status froze); now it is refused and the first keeps the job."""
    clock = [50.0]
    world = {"a": summary("a", T0)}
    poller = FakeRegion(world, clock)
    running = {"hyperParameterTuningJobStatus": "InProgress"}
    intruder = Owner("ns-b", "intruder", "uid-b")
    assert poller.follow("a", owner("a"), running) is not None
    assert poller.follow("A", intruder, running) is None
    assert poller.jobs["a"].owner == owner("a") and "uid-b" not in poller.owned
    world["a"] = summary("a", T0 + 30, done=1)
    poll(poller)
    assert poller.reports.names == ["a"]
    poller.unfollow(intruder)  # the refused one going away changes nothing
    assert poller.jobs["a"].owner == owner("a")


def test_a_job_noted_but_never_followed_is_not_reported_and_is_forgotten() -> None:
    clock = [50.0]
    world = {"a": summary("a", T0)}
    poller = FakeRegion(world, clock)
    poller.note("a", world["a"])  # a reconcile described it; no resource follows it
    world["a"] = summary("a", T0 + 30, state="Completed", done=1)
    poller._forget_unfollowed()
    assert "a" in poller.jobs
    clock[0] += poller.config.forget_after + 1
    poller._forget_unfollowed()
    assert poller.jobs == {} and poller.reports.got == []


def test_reports_in_flight_are_bounded() -> None:
    clock = [50.0]
    names = [f"j{i:02d}" for i in range(20)]
    world = {name: summary(name, T0) for name in names}
    poller = FakeRegion(world, clock)
    poller.config = PollerConfig(report_concurrency=3, page_budget=2)
    poller._reporting = asyncio.Semaphore(3)
    tracked(poller, *names)
    in_flight = [0, 0]  # now, most

    async def slow(who: Owner, prefetched: Prefetched) -> Delivery:
        in_flight[0] += 1
        in_flight[1] = max(in_flight)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        in_flight[0] -= 1
        return Delivery.DONE

    poller.report = slow
    poll(poller)
    for name in names:
        world[name] = summary(name, T0 + 30, state="Completed", done=1)
    poll(poller)
    assert poller.stats.reports == 20
    assert in_flight[1] == 3


# --- Search as a batch Describe ---------------------------------------------------------------


def test_search_requests_stay_within_the_api_limits_and_cover_every_name_once() -> None:
    names = [f"tuning-job-{i:05d}-with-a-long-nm"[:32] for i in range(250)]
    requests = search_requests(names)
    covered: list[str] = []
    for request in requests:
        expression = request["SearchExpression"]
        assert request["Resource"] == "HyperParameterTuningJob"
        assert expression["Operator"] == "Or" and 1 <= len(expression["Filters"]) <= 20
        in_request = []
        for f in expression["Filters"]:
            assert f["Name"] == "HyperParameterTuningJobName" and f["Operator"] == "In"
            assert 1 <= len(f["Value"]) <= 1024
            in_request += f["Value"].split(",")
        assert len(in_request) <= request["MaxResults"] == 100  # every record fits one page
        covered += in_request
    assert covered == names
    assert len(requests) == 3
    assert search_requests([]) == []


def test_a_search_record_older_than_the_list_is_not_used() -> None:
    listed = signature(summary("a", T0 + 30, state="Completed", done=1))
    assert fresh_enough(summary("a", T0 + 30, state="Completed", done=1), listed)
    assert fresh_enough(summary("a", T0 + 31, state="Completed", done=1), listed)
    assert not fresh_enough(summary("a", T0, done=0), listed)
    left = (None, "(left InProgress)", "", "")
    assert not fresh_enough(summary("a", T0 + 99), left)
    assert fresh_enough(summary("a", T0 + 99, state="Stopping"), left)
    assert fresh_enough(summary("a", T0), None)


def burst(n: int) -> tuple[FakeRegion, list[str]]:
    clock = [50.0]
    names = [f"Job-{i:02d}" for i in range(n)]  # Search matches the name as SageMaker spells it
    world = {name: summary(name, T0) for name in names}
    poller = FakeRegion(world, clock)
    for name in names:
        poller.note(name, world[name])
        poller.follow(name, owner(name), {"hyperParameterTuningJobStatus": "InProgress"})
    poll(poller)
    for name in names:
        world[name] = summary(name, T0 + 30, state="Completed", done=1)
    return poller, names


def test_a_burst_of_changes_is_described_by_search_in_one_call() -> None:
    poller, names = burst(40)
    poll(poller)
    assert len(poller.searches) == 1 and poller.described == []
    assert sorted(poller.reports.names) == sorted(names)
    assert all(r["HyperParameterTuningJobStatus"] == "Completed" for _, r in poller.reports.got)
    assert poller.stats.searched == 40


def test_stale_or_missing_search_records_fall_back_to_describe() -> None:
    poller, names = burst(10)
    index = {name: dict(poller_world(poller)[name]) for name in names}
    index[names[0]] = summary(names[0], T0)  # the index has not seen the change yet
    del index[names[1]]  # nor the job
    poller.index = index
    poll(poller)
    assert sorted(poller.described) == sorted(job.lower() for job in names[:2])
    assert len(poller.reports.got) == 10
    assert poller.stats.search_stale == 1


def test_refused_search_is_not_tried_again_and_describe_takes_over() -> None:
    poller, names = burst(10)
    poller.search_answer = ListFailure("AccessDeniedException", "not authorized to Search")
    poll(poller)
    assert len(poller.searches) == 1 and len(poller.described) == 10
    assert poller.search_refused is not None
    for name in names:
        poller_world(poller)[name] = summary(name, T0 + 60, state="Completed", done=2)
    poll(poller)
    assert len(poller.searches) == 1


def test_a_small_burst_is_described_one_by_one() -> None:
    poller, _ = burst(3)
    poll(poller)
    assert poller.searches == [] and len(poller.described) == 3


def test_jobs_followed_without_a_state_get_their_first_status_in_one_search() -> None:
    clock = [50.0]
    names = [f"new-{i}" for i in range(8)]
    world = {name: summary(name, T0) for name in names}
    poller = FakeRegion(world, clock)
    for name in names:  # created without a Describe: the status has only the ARN
        poller.follow(name, owner(name), {"ackResourceMetadata": {"arn": f"arn:{name}"}})
    assert poller._new_job.is_set()
    poller.loop.run_until_complete(poller.describe_new())
    poller.loop.run_until_complete(poller.settle())
    assert len(poller.searches) == 1 and poller.described == []
    assert sorted(poller.reports.names) == names
    assert all(poller.jobs[name].seen is not None for name in names)
    poller.loop.run_until_complete(poller.describe_new())  # nothing new: no call
    assert len(poller.searches) == 1


def test_a_single_new_job_is_described() -> None:
    poller = FakeRegion({"solo": summary("solo", T0)}, [50.0])
    poller.follow("solo", owner("solo"), {"ackResourceMetadata": {"arn": "arn:solo"}})
    poller.loop.run_until_complete(poller.describe_new())
    poller.loop.run_until_complete(poller.settle())
    assert poller.searches == [] and poller.described == ["solo"]
    assert poller.reports.names == ["solo"]


def test_the_pause_between_polls_looks_up_new_jobs_and_still_ends() -> None:
    names = [f"made-{i}" for i in range(6)]
    poller = FakeRegion({name: summary(name, T0) for name in names}, [50.0])
    poller.config = PollerConfig(first_status_delay=0.01)
    for name in names:
        poller.follow(name, owner(name), {"ackResourceMetadata": {"arn": f"arn:{name}"}})
    poller.loop.run_until_complete(poller._pause(0.2))  # returns at its deadline
    poller.loop.run_until_complete(poller.settle())
    assert len(poller.searches) == 1 and sorted(poller.reports.names) == names
    assert not poller._new_job.is_set()


class Answering:
    """A SageMaker port that answers every call (the budget is what these tests are about)."""

    def __init__(self) -> None:
        self.calls: list[Op] = []

    async def execute(self, call: Call) -> Mapping[str, Any] | AwsFailure:
        self.calls.append(call.op)
        return {}

    async def read(
        self, method_name: str, params: Mapping[str, Any], deadline: float
    ) -> Mapping[str, Any]:
        raise AssertionError(f"{method_name}: the tests using this port make no List or Search")


def test_a_prefetched_describe_answers_the_first_describe_of_its_job_only() -> None:
    """The poller's Describe reaches the reconcile as an argument, not through context: the
    first Describe of that job gets it; any other call, and a second Describe, go to the port."""
    port = Answering()
    described = {"HyperParameterTuningJobStatus": "Completed"}
    answer = Prefetched("xgb", described).answering(port.execute)

    async def calls() -> list[Mapping[str, Any] | AwsFailure]:
        return [
            await answer(Call(Op.LIST_TAGS, "XGB")),
            await answer(Call(Op.DESCRIBE, "other")),
            await answer(Call(Op.DESCRIBE, "XGB")),
            await answer(Call(Op.DESCRIBE, "XGB")),
        ]

    assert asyncio.run(calls()) == [{}, {}, described, {}]
    assert port.calls == [Op.LIST_TAGS, Op.DESCRIBE, Op.DESCRIBE]


def test_calls_the_own_budget_defers_are_counted_and_logged_once_not_per_resource(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 13, item 6: the budget's refusals are marked local (no Event per resource), go to
    the metric callback one by one, and to the log as one line with counts per interval."""
    sagemaker = Answering()
    clock = [0.0]
    deferred: list[str] = []
    poller = RegionPoller(
        sagemaker,
        RateLimiter({Op.DESCRIBE.value: (0.001, 1.0)}, clock=lambda: clock[0], sleep=no_sleep),
        PollerConfig(deferral_log_interval=0.01),
        clock=lambda: clock[0],
        where="us-west-2",
        on_deferred=deferred.append,
    )

    async def burst() -> list[Any]:
        reported = asyncio.Event()
        report = poller.report_deferrals

        def reporting() -> None:
            report()
            reported.set()

        poller.report_deferrals = reporting  # type: ignore[method-assign]
        results = [await poller.call(Call(Op.DESCRIBE, f"j{i}"), max_wait=2.0) for i in range(5)]
        clock[0] += 0.01
        await reported.wait()  # the one report the first refusal scheduled
        return results

    with caplog.at_level("INFO", logger="hpo_operator.polling.poller"):
        results = asyncio.run(asyncio.wait_for(burst(), 10))
    refused = [r for r in results if isinstance(r, AwsFailure)]
    assert len(refused) == 4 and sagemaker.calls == [Op.DESCRIBE]
    assert all(r.local and r.code == "ClientRateLimited" for r in refused)
    assert deferred == [Op.DESCRIBE.value] * 4
    lines = [r.getMessage() for r in caplog.records if "deferred" in r.getMessage()]
    assert len(lines) == 1 and "deferred 4 calls" in lines[0] and "us-west-2" in lines[0]


def test_a_reconcile_never_sleeps_long_for_a_token_after_throttling() -> None:
    """Issue 14, the burst's silent resources: a Create reserved its token while throttling had
    cut the rate to its floor, behind a deep queue, and slept the whole computed wait (minutes)
    inside its kopf handler: no status, no progress annotation, no log line, while the budget
    itself recovered within seconds. Every reconcile call now waits at most
    `PollerConfig.call_max_wait` for a token; past that it is deferred (ClientRateLimited, a
    visible ACK.Recoverable condition and kopf's delayed retry)."""
    sagemaker = Answering()
    clock = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    limiter = RateLimiter({Op.CREATE.value: (19.0, 38.0)}, clock=lambda: clock[0], sleep=sleep)
    poller = RegionPoller(
        sagemaker,
        limiter,
        PollerConfig(),
        clock=lambda: clock[0],
        where="us-west-2",
    )
    port = PolledSageMaker(sagemaker, poller)

    async def burst() -> list[Any]:
        results = [await port.execute(Call(Op.CREATE, f"j{i}")) for i in range(400)]
        for _ in range(5):
            limiter.throttled(Op.CREATE.value)  # SageMaker throttled some of the burst
        results.append(await port.execute(Call(Op.CREATE, "late")))
        return results

    results = asyncio.run(asyncio.wait_for(burst(), 10))
    assert max(slept) <= PollerConfig().call_max_wait, f"slept {max(slept):.0f}s for a token"
    late = results[-1]
    assert isinstance(late, AwsFailure) and late.code == "ClientRateLimited" and late.local


# --- ownership proofs from Search records ----------------------------------------------------


def _tagged(name: str, uid: str | None) -> dict[str, Any]:
    row = summary(name, T0)
    row["Tags"] = [{"Key": "team", "Value": "a"}]
    if uid is not None:
        row["Tags"].append({"Key": "services.k8s.aws/uid", "Value": uid})
    return row


def test_ownership_proofs_asked_together_take_one_search_per_hundred_jobs() -> None:
    """After a restart every running resource proves its job by its tags: 150 reconciles asking
    at once cost 2 Searches, not 150 ListTags (53 s of ListTags budget at 500 jobs)."""
    names = [f"Job-{i:03d}" for i in range(150)]
    poller = FakeRegion({name: _tagged(name, f"uid-{name}") for name in names}, [50.0])

    async def ask_all() -> list[Any]:
        return list(await asyncio.gather(*(poller.tags(name) for name in names)))

    answers = poller.loop.run_until_complete(ask_all())
    assert len(poller.searches) == 2
    assert [a[-1]["Value"] for a in answers] == [f"uid-{name}" for name in names]
    assert poller.stats.tags_searched == 150


def test_search_cannot_prove_what_the_index_does_not_show_so_list_tags_decides() -> None:
    """No record (the index lags behind a new job), a record without the operator's uid tag (it
    may lag behind an adoption's AddTags), Search refused, or too few asks for a Search to save
    anything: None, and the caller calls ListTags."""
    names = [f"Job-{i}" for i in range(5)]
    world = {name: _tagged(name, "u") for name in names}
    world["Bare"] = _tagged("Bare", None)
    poller = FakeRegion(world, [0.0])

    def ask(*asked: str) -> list[Any]:
        async def together() -> list[Any]:
            return list(await asyncio.gather(*(poller.tags(name) for name in asked)))

        return poller.loop.run_until_complete(together())

    assert ask("Job-0") == [None] and poller.searches == []  # one ask: ListTags is as cheap
    answers = ask(*names[:3], "Bare", "Missing")
    assert [a is not None for a in answers] == [True, True, True, False, False]
    assert len(poller.searches) == 1
    poller.search_answer = ListFailure("AccessDeniedException", "not authorized to Search")
    assert ask(*names) == [None] * 5 and len(poller.searches) == 2
    assert ask(*names) == [None] * 5 and len(poller.searches) == 2  # refused: not tried again
