"""A job's results end to end: the top training jobs and the best model artifact in status, read at
the expected call count; the BestTrainingJobChanged Event; the best-objective gauge, gone after
the resource.

Real kube-apiserver, `hpo-operator run` (shared poller) and an emulator on a clock the test moves
wave by wave, so every completed count is seen whatever the machine's speed. Bounds on calls come
from the emulator's counts, never from time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hpo_emulator.config import EmulatorConfig
from hpo_emulator.server import run_in_thread
from support.emulator_client import ManualClock, client
from support.operator_harness import Jobs, OperatorProcess, job_name, stats, tuning_job, wait_for

TRAINING_SECONDS = 10.0
WAVES = 4  # 8 training jobs, 2 at a time
TOP = 3
OUTPUT = "s3://example-bucket/sagemaker/hpo/output"  # the example's s3OutputPath


def _calls(emulator: Any, operation: str) -> int:
    return sum(stats(emulator)["operations"].get(operation, {}).values())


def _objective(summary: dict[str, Any]) -> float:
    value: float = summary["finalHyperParameterTuningJobObjectiveMetric"]["value"]
    return value


def test_top_trials_and_model_artifact_at_the_expected_calls_with_event_and_gauge(
    namespace: str, jobs: Jobs, start_operator: Callable[..., OperatorProcess]
) -> None:
    clock = ManualClock()
    config = EmulatorConfig(training_seconds=TRAINING_SECONDS, stop_seconds=1.0, quotas={})
    with run_in_thread(config, clock) as emulator:
        operator = start_operator(namespace, endpoint=emulator.url, HPO_TOP_TRAINING_JOBS=str(TOP))
        name = job_name("results")
        jobs.apply(namespace, tuning_job("results", name, max_jobs=2 * WAVES, parallel=2))
        jobs.wait_state(namespace, "results", "InProgress")
        gauge = f'{{name="results",namespace="{namespace}"}}'
        counts_seen: list[int] = []
        bests_seen: list[str] = []
        clock.advance(TRAINING_SECONDS / 10)  # startup: the first wave starts
        for wave in range(1, WAVES + 1):
            clock.advance(TRAINING_SECONDS)  # the wave ends (the last one ends the job)
            completed = 2 * wave

            def read(completed: int = completed) -> dict[str, Any] | None:
                status = jobs.status(namespace, "results")
                best = (status.get("bestTrainingJob") or {}).get("trainingJobName")
                artifacts = status.get("bestTrainingJobModelArtifacts") or {}
                settled = (
                    status.get("topTrainingJobsCompleted") == completed
                    and best is not None
                    and artifacts.get("trainingJobName") == best
                )
                return status if settled else None

            status = wait_for(read, 60, f"the results at {completed} completed training jobs")
            counts_seen.append(status["trainingJobStatusCounters"]["completed"])
            best = status["bestTrainingJob"]
            if not bests_seen or bests_seen[-1] != best["trainingJobName"]:
                bests_seen.append(best["trainingJobName"])
            top = status["topTrainingJobs"]
            assert len(top) == min(TOP, completed)
            values = [_objective(t) for t in top]
            assert values == sorted(values)  # the example minimizes validation:error
            assert top[0]["trainingJobName"] == best["trainingJobName"]
            assert values[0] == _objective(best)
            assert all(t["trainingJobStatus"] == "Completed" for t in top)
            assert all(t["tunedHyperParameters"] for t in top)
            assert status["bestTrainingJobModelArtifacts"]["s3ModelArtifacts"] == (
                f"{OUTPUT}/{best['trainingJobName']}/output/model.tar.gz"
            )
            if wave < WAVES:  # a finished job is parked, and leaves the gauge with the watch
                value = _objective(best)
                wait_for(
                    lambda value=value: operator.metric("hpo_best_objective", gauge) == value,
                    30,
                    f"hpo_best_objective{gauge} = {value}",
                )
        done = jobs.wait_state(namespace, "results", "Completed")
        lists = _calls(emulator, "ListTrainingJobsForHyperParameterTuningJob")
        describes = _calls(emulator, "DescribeTrainingJob")
        truth = client(emulator.url).list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name,
            SortBy="FinalObjectiveMetricValue",
            SortOrder="Ascending",
            MaxResults=TOP,
        )["TrainingJobSummaries"]

    assert counts_seen == [2, 4, 6, 8]
    assert 1 <= lists <= len(set(counts_seen))  # one page per completed count, at most
    assert describes == len(bests_seen)  # one DescribeTrainingJob per best training job
    assert [t["trainingJobName"] for t in done["topTrainingJobs"]] == [
        t["TrainingJobName"] for t in truth
    ]
    changed = [
        e for e in jobs.events(namespace, "results") if e["reason"] == "BestTrainingJobChanged"
    ]
    assert sorted(e["message"].split()[5].rstrip(":") for e in changed) == sorted(bests_seen)
    assert all("validation:error = " in e["message"] for e in changed)

    jobs.delete(namespace, "results")
    jobs.wait_gone(namespace, "results")
    wait_for(
        lambda: f"hpo_best_objective{gauge}" not in operator.metrics(),
        30,
        "the gauge gone with the resource",
    )
