"""The shared poller end to end: jobs reach Completed with a Describe per change, not per interval.

Real kube-apiserver, a SageMaker emulator whose jobs run a few poll intervals, `hpo-operator run`
with `--polling shared` (the default) and with `per-resource` for the comparison. The assertions
are bounds on calls counted by the emulator, never on time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hpo_emulator.config import EmulatorConfig, Faults
from hpo_emulator.server import RunningEmulator, run_in_thread
from support.emulator_client import ManualClock
from support.operator_harness import (
    POLL_INTERVAL,
    Jobs,
    OperatorProcess,
    job_name,
    stats,
    tuning_job,
    wait_for,
)

JOBS = 8
TRAINING_SECONDS = 6.0  # one wave of trainings: a job lives ~12 poll intervals (POLL_INTERVAL)
DESCRIBE = "DescribeHyperParameterTuningJob"
LIST = "ListHyperParameterTuningJobs"
SEARCH = "Search"
BURST = 12  # jobs that change together: more than the poller's smallest Search batch (5)


@pytest.fixture
def slow_emulator() -> Iterator[RunningEmulator]:
    """An emulator of its own (counts only this test's calls), jobs that outlive many polls."""
    config = EmulatorConfig(training_seconds=TRAINING_SECONDS, stop_seconds=1.0, quotas={})
    with run_in_thread(config) as em:
        yield em


def _calls(emulator: RunningEmulator, operation: str) -> int:
    counts: dict[str, int] = stats(emulator)["operations"].get(operation, {})
    return sum(counts.values())


def _run_jobs(namespace: str, jobs: Jobs, prefix: str) -> list[dict[str, Any]]:
    names = [f"{prefix}-{i}" for i in range(JOBS)]
    for name in names:
        jobs.apply(namespace, tuning_job(name, job_name(name), max_jobs=2, parallel=2))
    return [jobs.wait_state(namespace, name, "Completed", timeout=120) for name in names]


def test_shared_poller_drives_jobs_to_completed_with_few_describes(
    namespace: str,
    jobs: Jobs,
    slow_emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    start_operator(namespace, endpoint=slow_emulator.url, HPO_POLLING="shared")
    done = _run_jobs(namespace, jobs, "shared")

    for status in done:
        assert status["trainingJobStatusCounters"]["completed"] == 2
        assert status["bestTrainingJob"]["trainingJobName"]
        ready = {c["type"]: c["status"] for c in status["conditions"]}
        assert ready["Ready"] == "True" and ready["ACK.ResourceSynced"] == "True"

    describes = _calls(slow_emulator, DESCRIBE)
    lists = _calls(slow_emulator, LIST)
    # A job changes three times after Create (first wave starts, trainings finish, Completed);
    # each change costs one Describe, plus the one right after Create: ≤ 5 per job with slack.
    assert describes <= 5 * JOBS, stats(slow_emulator)
    # A per-resource timer would describe each job every POLL_INTERVAL for its whole life.
    per_resource_floor = JOBS * TRAINING_SECONDS / POLL_INTERVAL
    assert describes * 2 < per_resource_floor
    assert lists >= 1  # the changes were found by listing, not by describing every job
    throttled = sum(
        n
        for counts in stats(slow_emulator)["operations"].values()
        for outcome, n in counts.items()
        if outcome != "ok"
    )
    assert throttled == 0


def test_per_resource_timer_stays_selectable(
    namespace: str,
    jobs: Jobs,
    slow_emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    start_operator(namespace, endpoint=slow_emulator.url, HPO_POLLING="per-resource")
    _run_jobs(namespace, jobs, "timer")
    assert _calls(slow_emulator, LIST) == 0
    # One Describe per job per poll interval, give or take jitter: far above the shared bound.
    assert _calls(slow_emulator, DESCRIBE) > 5 * JOBS


@pytest.mark.parametrize("stale_index", [False, True], ids=["index-current", "index-stale"])
def test_a_burst_of_changes_is_described_with_search_and_a_stale_index_is_caught(
    namespace: str,
    jobs: Jobs,
    start_operator: Callable[..., OperatorProcess],
    stale_index: bool,
) -> None:
    """Jobs that finish together are described by one Search. When SageMaker's Search index lags
    behind (it is eventually consistent), a record older than what the List said is not used:
    that job gets a Describe, and every status still ends Completed with its best training job.

    The emulator's clock is moved by hand, so all jobs finish at the same instant (a burst) and
    the stale index shows them InProgress, whatever the machine's speed."""
    clock = ManualClock()
    lifetime = TRAINING_SECONDS * 1.1  # startup (a tenth) + one wave of trainings
    config = EmulatorConfig(
        training_seconds=TRAINING_SECONDS,
        stop_seconds=1.0,
        quotas={},
        faults=Faults(search_lag=lifetime if stale_index else 0.0),
    )
    with run_in_thread(config, clock) as emulator:
        start_operator(namespace, endpoint=emulator.url, HPO_POLLING="shared")
        names = [f"burst-{i}" for i in range(BURST)]
        for name in names:
            jobs.apply(namespace, tuning_job(name, job_name(name), max_jobs=2, parallel=2))
        for name in names:
            jobs.wait_state(namespace, name, "InProgress", timeout=120)
        after_create = _calls(emulator, DESCRIBE)
        clock.advance(lifetime + 1.0)  # every job completes, at once
        done = [jobs.wait_state(namespace, name, "Completed", timeout=120) for name in names]
        searches = _calls(emulator, SEARCH)
        describes = _calls(emulator, DESCRIBE) - after_create
    for status in done:
        assert status["trainingJobStatusCounters"]["completed"] == 2
        assert status["bestTrainingJob"]["trainingJobName"]
    assert searches >= 1
    if stale_index:
        # Every record was older than the List: each job was described (a report that failed
        # on a busy API server is described once more, hence the upper bound).
        assert BURST <= describes <= 2 * BURST
    else:
        assert describes == 0  # the Search records described the whole burst


def test_a_restart_costs_no_describe_per_running_job(
    namespace: str,
    jobs: Jobs,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    """ACK describes every job again after a restart; with the shared poller the resumed
    resources keep their status and the first sweep (one List page here) checks them all. The
    jobs still reach Completed afterwards, described by one Search."""
    clock = ManualClock()
    lifetime = TRAINING_SECONDS * 1.1
    config = EmulatorConfig(training_seconds=TRAINING_SECONDS, stop_seconds=1.0, quotas={})
    with run_in_thread(config, clock) as emulator:
        first = start_operator(namespace, endpoint=emulator.url, HPO_POLLING="shared")
        names = [f"restart-{i}" for i in range(BURST)]
        for name in names:
            jobs.apply(namespace, tuning_job(name, job_name(name), max_jobs=2, parallel=2))
        for name in names:
            jobs.wait_state(namespace, name, "InProgress", timeout=120)
        first.stop()
        describes, lists = _calls(emulator, DESCRIBE), _calls(emulator, LIST)
        list_tags, searches = _calls(emulator, "ListTags"), _calls(emulator, SEARCH)

        start_operator(namespace, endpoint=emulator.url, HPO_POLLING="shared")
        wait_for(lambda: _calls(emulator, LIST) > lists, 60, "the resumed operator's first sweep")
        assert _calls(emulator, DESCRIBE) == describes  # resume described nothing
        # Each resumed resource proves its job by its tags once: read from Search records, a
        # hundred jobs per call, not one ListTags each.
        wait_for(lambda: _calls(emulator, SEARCH) > searches, 30, "the tags' Search")
        assert _calls(emulator, "ListTags") == list_tags

        clock.advance(lifetime + 1.0)
        done = [jobs.wait_state(namespace, name, "Completed", timeout=120) for name in names]
        assert _calls(emulator, DESCRIBE) == describes
        assert _calls(emulator, SEARCH) >= 1
    assert all(status["bestTrainingJob"]["trainingJobName"] for status in done)
