"""A job's results (`core.results`): the top training jobs, read only when the Completed counter
moves, sorted by the objective's direction, N bounded; the best job's model artifact, read once
per best job; the BestTrainingJobChanged Event; failures; the CRD's fields; the gauge."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import replace
from typing import Any

from test_reconcile import SETTINGS, SPEC, FakeSageMaker, apply, reasons, resource, run

from hpo_operator.core.driver import drive
from hpo_operator.core.results import MAX_TOP_TRAINING_JOBS, sort_order
from hpo_operator.core.types import AwsFailure, ErrorKind, Op, Resource, Retry, Step, Trigger
from hpo_operator.model import awsmodel
from hpo_operator.model.naming import fields_of
from hpo_operator.model.schema import crd
from hpo_operator.shell.metrics import Metrics

JOB = "xgb-tuning-1"


def training(index: int, value: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "TrainingJobName": f"{JOB}-{index:03d}-abc",
        "TrainingJobStatus": "Completed" if value is not None else "Failed",
        "TunedHyperParameters": {"num_round": str(10 + index)},
        "CreationTime": "2026-03-01T09:59:00Z",
    }
    if value is not None:
        out["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "MetricName": "validation:error",
            "Value": value,
        }
    return out


def best_of(t: dict[str, Any]) -> dict[str, Any]:
    return {k: t[k] for k in ("TrainingJobName", "TrainingJobStatus", "TunedHyperParameters")} | {
        "FinalHyperParameterTuningJobObjectiveMetric": t[
            "FinalHyperParameterTuningJobObjectiveMetric"
        ]
    }


def started(sm: FakeSageMaker) -> Resource:
    return apply(resource(), run(resource(), sm))


def progress(sm: FakeSageMaker, values: list[float | None], state: str = "InProgress") -> None:
    """The job's training jobs so far, its counters and BestTrainingJob (Minimize)."""
    trainings = [training(i + 1, v) for i, v in enumerate(values)]
    sm.trainings[JOB] = trainings
    scored = [t for t in trainings if "FinalHyperParameterTuningJobObjectiveMetric" in t]
    extra: dict[str, Any] = {
        "TrainingJobStatusCounters": {"Completed": len(scored), "InProgress": 1},
    }
    if scored:
        best = min(scored, key=lambda t: t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
        extra["BestTrainingJob"] = best_of(best)
    sm.set_state(JOB, state, **extra)


def names(r: Resource) -> list[str]:
    return [t["trainingJobName"] for t in r.status["topTrainingJobs"]]


def test_top_trials_refresh_only_when_the_completed_count_moves() -> None:
    sm = FakeSageMaker()
    r = started(sm)
    assert "topTrainingJobs" not in r.status  # nothing completed: nothing to read
    progress(sm, [0.3, 0.1])
    sm.calls.clear()
    step = run(r, sm, Trigger.POLL)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TRAININGS, Op.DESCRIBE_TRAINING]
    r = apply(r, step)
    assert names(r) == [f"{JOB}-002-abc", f"{JOB}-001-abc"]  # Minimize: smallest first
    assert r.status["topTrainingJobsCompleted"] == 2
    top = r.status["topTrainingJobs"][0]
    assert top["finalHyperParameterTuningJobObjectiveMetric"] == {
        "metricName": "validation:error",
        "value": 0.1,
    }
    assert top["tunedHyperParameters"] == {"num_round": "12"}
    assert top["creationTime"] == "2026-03-01T09:59:00Z"
    assert r.status["bestTrainingJobModelArtifacts"] == {
        "trainingJobName": f"{JOB}-002-abc",
        "s3ModelArtifacts": f"s3://bucket/output/{JOB}-002-abc/output/model.tar.gz",
    }
    assert reasons(step) == ["BestTrainingJobChanged"]
    assert step.events[0].message == (
        f"Best training job is now {JOB}-002-abc: validation:error = 0.1"
    )

    sm.calls.clear()
    r = apply(r, run(r, sm, Trigger.POLL))  # same count, same best: the Describe only
    assert sm.calls == [Op.DESCRIBE]
    assert names(r) == [f"{JOB}-002-abc", f"{JOB}-001-abc"]

    progress(sm, [0.3, 0.1, 0.2])  # one more completed, the best unchanged
    sm.calls.clear()
    step = run(r, sm, Trigger.POLL)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TRAININGS]
    assert step.events == ()
    r = apply(r, step)
    assert names(r) == [f"{JOB}-002-abc", f"{JOB}-003-abc", f"{JOB}-001-abc"]

    progress(sm, [0.3, 0.1, 0.2, 0.05], state="Completed")  # a new best, and done
    sm.calls.clear()
    step = run(r, sm, Trigger.POLL)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TRAININGS, Op.DESCRIBE_TRAINING]
    assert "BestTrainingJobChanged" in reasons(step)
    changed = next(e for e in step.events if e.reason == "BestTrainingJobChanged")
    assert changed.message.endswith(f"validation:error = 0.05 (was {JOB}-002-abc)")
    r = apply(r, step)
    assert names(r)[0] == f"{JOB}-004-abc"
    assert r.status["bestTrainingJobModelArtifacts"]["trainingJobName"] == f"{JOB}-004-abc"

    sm.calls.clear()
    sm.proven.clear()  # a restart: what was read is in status, so nothing is read again
    for trigger in (Trigger.RESUME, Trigger.CHANGE):
        assert run(r, sm, trigger).events == ()
    assert Op.LIST_TRAININGS not in sm.calls and Op.DESCRIBE_TRAINING not in sm.calls


def test_n_is_respected_and_maximize_lists_largest_first() -> None:
    sm = FakeSageMaker()
    spec = copy.deepcopy(SPEC)
    spec["hyperParameterTuningJobConfig"]["hyperParameterTuningJobObjective"]["type_"] = "Maximize"
    r = apply(resource(spec=spec), run(resource(spec=spec), sm))
    values: list[float | None] = [0.5, 0.9, None, 0.7, 0.8, 0.6, 0.95]
    progress(sm, values)
    sm.jobs[JOB]["HyperParameterTuningJobConfig"] = {
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"}
    }
    r = apply(r, run(r, sm, Trigger.POLL, top_training_jobs=3))
    assert names(r) == [f"{JOB}-007-abc", f"{JOB}-002-abc", f"{JOB}-005-abc"]
    assert r.status["topTrainingJobsCompleted"] == 6
    sm.calls.clear()
    fewer = apply(r, run(r, sm, Trigger.POLL, top_training_jobs=2))
    assert names(fewer) == [f"{JOB}-007-abc", f"{JOB}-002-abc"]  # trimmed without a call
    assert sm.calls == [Op.DESCRIBE]
    sm.calls.clear()
    none = apply(r, run(r, sm, Trigger.POLL, top_training_jobs=0))
    assert "topTrainingJobs" not in none.status and "topTrainingJobsCompleted" not in none.status
    assert sm.calls == [Op.DESCRIBE]


def test_the_requested_page_is_sorted_by_objective_and_bounded() -> None:
    sm = FakeSageMaker()
    r = started(sm)
    progress(sm, [0.2])
    seen: list[Any] = []
    inner = sm.top_trainings

    def spy(job: str, request: Any) -> dict[str, Any]:
        seen.append(dict(request))
        return inner(job, request)

    sm.top_trainings = spy  # type: ignore[method-assign]
    run(r, sm, Trigger.POLL, top_training_jobs=50)
    assert seen == [
        {
            "HyperParameterTuningJobName": JOB,
            "SortBy": "FinalObjectiveMetricValue",
            "SortOrder": "Ascending",
            "MaxResults": MAX_TOP_TRAINING_JOBS,
        }
    ]


def test_sort_order_follows_the_objective() -> None:
    r = resource()
    assert sort_order(r, None) == "Ascending"  # SPEC: Minimize
    maximize = {"HyperParameterTuningJobConfig": {"HyperParameterTuningJobObjective": {}}}
    maximize["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["Type"] = (
        "Maximize"
    )
    assert sort_order(r, maximize) == "Descending"
    spec = copy.deepcopy(SPEC)
    del spec["hyperParameterTuningJobConfig"]["hyperParameterTuningJobObjective"]
    spec["trainingJobDefinitions"] = [{"tuningObjective": {"type_": "Maximize"}}]
    assert sort_order(replace(r, spec=spec), None) == "Descending"
    del spec["trainingJobDefinitions"]
    assert sort_order(replace(r, spec=spec), None) is None


def test_a_throttled_read_keeps_the_last_results_and_a_finished_job_retries() -> None:
    sm = FakeSageMaker()
    r = started(sm)
    progress(sm, [0.3])
    r = apply(r, run(r, sm, Trigger.POLL))
    throttled = AwsFailure(
        Op.LIST_TRAININGS,
        "ThrottlingException",
        "Rate exceeded",
        ErrorKind.RECOVERABLE,
        throttled=True,
    )
    sm.failures[Op.LIST_TRAININGS] = throttled
    progress(sm, [0.3, 0.4])
    step = run(r, sm, Trigger.POLL)
    assert step.retry is None  # running: the next change reads again
    kept = apply(r, step)
    assert names(kept) == [f"{JOB}-001-abc"] and kept.status["topTrainingJobsCompleted"] == 1
    progress(sm, [0.3, 0.4, 0.5], state="Completed")
    step = run(kept, sm, Trigger.POLL)
    assert step.retry is Retry.BACKOFF  # finished: no poll would come back to it
    assert apply(kept, step).status["hyperParameterTuningJobStatus"] == "Completed"
    del sm.failures[Op.LIST_TRAININGS]
    sm.calls.clear()
    done = apply(kept, run(apply(kept, step), sm, Trigger.CHANGE))
    assert Op.LIST_TRAININGS in sm.calls
    assert done.status["topTrainingJobsCompleted"] == 3 and len(names(done)) == 3


def test_a_refused_read_is_not_repeated_and_says_why() -> None:
    sm = FakeSageMaker()
    r = started(sm)
    denied = AwsFailure(
        Op.DESCRIBE_TRAINING, "AccessDeniedException", "not authorized", ErrorKind.TERMINAL
    )
    sm.failures[Op.DESCRIBE_TRAINING] = denied
    progress(sm, [0.3])
    step = run(r, sm, Trigger.POLL)
    assert "ResultsUnavailable" in reasons(step)
    warning = next(e for e in step.events if e.reason == "ResultsUnavailable")
    assert warning.type == "Warning" and "AccessDeniedException" in warning.message
    r = apply(r, step)
    assert r.status["bestTrainingJobModelArtifacts"] == {"trainingJobName": f"{JOB}-001-abc"}
    sm.calls.clear()
    assert run(r, sm, Trigger.POLL).events == ()
    assert sm.calls == [Op.DESCRIBE]  # the same best job: not asked again


def test_no_results_are_read_while_the_resource_is_deleted() -> None:
    sm = FakeSageMaker()
    r = started(sm)
    progress(sm, [0.3])
    sm.calls.clear()
    run(replace(r, deleting=True), sm, Trigger.DELETE)
    assert Op.LIST_TRAININGS not in sm.calls and Op.DESCRIBE_TRAINING not in sm.calls


def test_the_crd_status_holds_the_results_from_botocores_shapes() -> None:
    status = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    fields = status["properties"]
    summary = awsmodel.shape("HyperParameterTrainingJobSummary")
    assert set(fields["topTrainingJobs"]["items"]["properties"]) == set(fields_of(summary))
    assert (
        fields["topTrainingJobs"]["items"]["properties"]
        == (fields["bestTrainingJob"]["properties"])
    )
    assert fields["topTrainingJobsCompleted"]["type"] == "integer"
    assert set(fields["bestTrainingJobModelArtifacts"]["properties"]) == {
        "trainingJobName",
        "s3ModelArtifacts",
    }


def test_the_best_objective_gauge_follows_and_leaves_with_the_resource() -> None:
    metrics = Metrics()

    def series() -> list[str]:
        return [
            line
            for line in metrics.render().decode().splitlines()
            if line.startswith("hpo_best_objective{")
        ]

    metrics.best_objective("uid-1", "team-a", "tuning", 0.25)
    metrics.best_objective("uid-2", "team-a", "other", None)
    assert series() == ['hpo_best_objective{name="tuning",namespace="team-a"} 0.25']
    metrics.best_objective("uid-1", "team-a", "tuning", 0.125)
    assert series() == ['hpo_best_objective{name="tuning",namespace="team-a"} 0.125']
    metrics.best_objective("uid-1", "", "", None)
    assert series() == []


def test_what_is_known_is_written_before_the_reads_and_its_events_once() -> None:
    """A job that just finished is not held back by its results' budget: the driver hands the
    status to the shell before the first read, and the final step does not repeat its Events."""
    sm = FakeSageMaker()
    r = started(sm)
    progress(sm, [0.3, 0.1], state="Completed")
    written: list[Step] = []

    async def write(step: Step) -> None:
        assert Op.LIST_TRAININGS not in sm.calls  # before the read
        written.append(step)

    sm.calls.clear()
    final = asyncio.run(
        drive(
            r,
            SETTINGS,
            Trigger.POLL,
            sm,
            lambda: "2026-03-01T10:00:00Z",
            known=sm.proven.get(r.uid),
            on_status=write,
        )
    )
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TRAININGS, Op.DESCRIBE_TRAINING]
    (interim,) = written
    assert interim.call is None and interim.annotations == {}
    assert interim.status is not None
    assert interim.status["hyperParameterTuningJobStatus"] == "Completed"
    assert "topTrainingJobs" not in interim.status
    assert reasons(interim) == ["JobCompleted", "BestTrainingJobChanged"]
    assert final.events == ()  # posted with the interim status already
    assert final.status is not None and len(final.status["topTrainingJobs"]) == 2


def test_the_shared_pollers_port_never_waits_for_the_results_budget() -> None:
    """A report holds one of a few slots: its results' reads wait as briefly as a Describe."""
    from hpo_operator.core.types import Call
    from hpo_operator.polling.poller import PollerConfig
    from hpo_operator.polling.shared import PolledSageMaker

    class Poller:
        config = PollerConfig()

        def __init__(self) -> None:
            self.waits: list[tuple[Op, float | None]] = []

        async def call(self, call: Call, max_wait: float | None = None) -> dict[str, Any]:
            self.waits.append((call.op, max_wait))
            return {}

        def note(self, name: str, result: Any) -> None:
            pass

    poller = Poller()
    port = PolledSageMaker(None, poller)  # type: ignore[arg-type]
    for op in (Op.LIST_TRAININGS, Op.DESCRIBE_TRAINING, Op.DESCRIBE, Op.STOP):
        asyncio.run(port.execute(Call(op, JOB)))
    assert poller.waits == [
        (Op.LIST_TRAININGS, PollerConfig.describe_max_wait),
        (Op.DESCRIBE_TRAINING, PollerConfig.describe_max_wait),
        (Op.DESCRIBE, PollerConfig.describe_max_wait),
        (Op.STOP, PollerConfig.call_max_wait),
    ]
