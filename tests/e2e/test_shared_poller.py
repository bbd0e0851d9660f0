"""The shared poller end to end: jobs reach Completed with a Describe per change, not per interval.

Real kube-apiserver, a SageMaker emulator whose jobs run a few poll intervals, `hpo-operator run`
with `--polling shared` (the default) and with `per-resource` for the comparison. The assertions
are bounds on calls counted by the emulator, never on time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from operator_harness import POLL_INTERVAL, Jobs, OperatorProcess, job_name, stats, tuning_job

from hpo_operator.emulator.config import EmulatorConfig, Faults
from hpo_operator.emulator.server import RunningEmulator, run_in_thread

pytestmark = pytest.mark.e2e

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


@pytest.mark.parametrize("search_lag", [0.0, 4.0], ids=["index-current", "index-4s-behind"])
def test_a_burst_of_changes_is_described_with_search_and_a_stale_index_is_caught(
    namespace: str,
    jobs: Jobs,
    start_operator: Callable[..., OperatorProcess],
    search_lag: float,
) -> None:
    """Jobs created together finish together: one Search describes the burst. When SageMaker's
    Search index lags behind (eventually consistent), records older than what the List said are
    not used: those jobs get a Describe, and every status still ends Completed with its best
    training job."""
    config = EmulatorConfig(
        training_seconds=TRAINING_SECONDS,
        stop_seconds=1.0,
        quotas={},
        faults=Faults(search_lag=search_lag),
    )
    with run_in_thread(config) as emulator:
        start_operator(namespace, endpoint=emulator.url, HPO_POLLING="shared")
        names = [f"burst-{i}" for i in range(BURST)]
        for name in names:
            jobs.apply(namespace, tuning_job(name, job_name(name), max_jobs=2, parallel=2))
        done = [jobs.wait_state(namespace, name, "Completed", timeout=120) for name in names]
        searches = _calls(emulator, SEARCH)
        describes = _calls(emulator, DESCRIBE)
    for status in done:
        assert status["trainingJobStatusCounters"]["completed"] == 2
        assert status["bestTrainingJob"]["trainingJobName"]
    assert searches >= 1
    if search_lag == 0.0:
        # One Describe after each Create; the changes after it came from List pages and Search.
        assert describes < 2 * BURST, (searches, describes)
    else:
        # Every record that lagged was replaced by a Describe: no bound below one per change.
        assert describes > BURST, (searches, describes)
