"""The trials of a tuning job as the operator's top-trials status and the `trials` CLI read them:
ListTrainingJobsForHyperParameterTuningJob's sorts, filter, paging and validation on a 750-trial
job, and DescribeTrainingJob's ModelArtifacts laid out as SageMaker does."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from hpo_emulator import RunningEmulator
from support.emulator_client import (
    ManualClock,
    config_with,
    definition_with,
    request,
    unvalidated,
)

BIG = {"MaxNumberOfTrainingJobs": 750, "MaxParallelTrainingJobs": 100}


def every_trial(sm: Any, name: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """All summaries over NextToken pages, and how many pages that took."""
    out: list[dict[str, Any]] = []
    pages = 0
    token = None
    while True:
        extra = {"NextToken": token} if token else {}
        page = sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, **params, **extra
        )
        pages += 1
        assert len(page["TrainingJobSummaries"]) <= params.get("MaxResults", 10)
        out += page["TrainingJobSummaries"]
        token = page.get("NextToken")
        if not token:
            return out, pages


def objective(summary: dict[str, Any]) -> float:
    value: float = summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    return value


def test_750_trials_sorted_by_objective_over_pages(sm: Any, clock: ManualClock) -> None:
    sm.create_hyper_parameter_tuning_job(
        **request("big", HyperParameterTuningJobConfig=config_with(ResourceLimits=BIG))
    )
    clock.advance(1 + 7 * 10 + 5)  # seven waves of 100 done, the eighth (50) running
    running, _ = every_trial(sm, "big", MaxResults=100, StatusEquals="InProgress")
    assert len(running) == 50
    partial, _ = every_trial(sm, "big", MaxResults=100, SortBy="FinalObjectiveMetricValue")
    assert len(partial) == 700  # the running ones have no objective yet, so are not listed

    clock.advance(10)
    d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="big")
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    assert d["TrainingJobStatusCounters"]["Completed"] == 750
    by_name, pages = every_trial(sm, "big", MaxResults=100)
    assert pages == 8 and len(by_name) == 750
    assert len({t["TrainingJobName"] for t in by_name}) == 750
    best_first, pages = every_trial(
        sm, "big", MaxResults=100, SortBy="FinalObjectiveMetricValue", SortOrder="Ascending"
    )
    assert pages == 8
    values = [objective(t) for t in best_first]
    assert values == sorted(values)  # Minimize: ascending puts the best first
    assert best_first[0]["TrainingJobName"] == d["BestTrainingJob"]["TrainingJobName"]
    assert values[0] == objective(d["BestTrainingJob"])
    worst_first, _ = every_trial(
        sm, "big", MaxResults=37, SortBy="FinalObjectiveMetricValue", SortOrder="Descending"
    )
    assert [t["TrainingJobName"] for t in worst_first] == [
        t["TrainingJobName"] for t in best_first
    ][::-1]
    top = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="big", SortBy="FinalObjectiveMetricValue", MaxResults=5
    )
    assert [t["TrainingJobName"] for t in top["TrainingJobSummaries"]] == [
        t["TrainingJobName"] for t in best_first[:5]
    ]
    assert "NextToken" in top
    for t in best_first[:5]:
        assert t["TrainingJobStatus"] == "Completed" and t["ObjectiveStatus"] == "Succeeded"
        assert set(t["TunedHyperParameters"]) == {"num_round", "eta"}
        assert t["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == (
            "validation:error"
        )
        assert t["TrainingEndTime"] > t["TrainingStartTime"] >= t["CreationTime"]


def test_trials_without_an_objective_are_left_out_of_the_objective_sort(
    sm: Any, clock: ManualClock
) -> None:
    """AWS: sorted by FinalObjectiveMetricValue, training jobs with no objective are not listed."""
    good = definition_with(DefinitionName="good")
    bad = definition_with(
        DefinitionName="bad",
        AlgorithmSpecification={
            "TrainingImage": "example.com/algo:fail",
            "TrainingInputMode": "File",
        },
    )
    objective_spec = {"Type": "Maximize", "MetricName": "validation:auc"}
    ranges = config_with()["ParameterRanges"]
    for d in (good, bad):
        d["TuningObjective"] = objective_spec
        d["HyperParameterRanges"] = ranges
    config = config_with(
        ResourceLimits={"MaxNumberOfTrainingJobs": 8, "MaxParallelTrainingJobs": 4}
    )
    del config["HyperParameterTuningJobObjective"], config["ParameterRanges"]
    sm.create_hyper_parameter_tuning_job(
        **request(
            "mixed",
            HyperParameterTuningJobConfig=config,
            TrainingJobDefinition=None,
            TrainingJobDefinitions=[good, bad],
        )
    )
    clock.advance(30)
    everything, _ = every_trial(sm, "mixed", MaxResults=3)
    failed = [t for t in everything if t["TrainingJobStatus"] == "Failed"]
    assert len(everything) == 8 and len(failed) == 4
    assert all(t["FailureReason"].startswith("AlgorithmError: ") for t in failed)
    assert all(t["ObjectiveStatus"] == "Failed" for t in failed)
    ranked, _ = every_trial(
        sm, "mixed", MaxResults=3, SortBy="FinalObjectiveMetricValue", SortOrder="Descending"
    )
    assert len(ranked) == 4
    assert {t["TrainingJobDefinitionName"] for t in ranked} == {"good"}
    values = [objective(t) for t in ranked]
    assert values == sorted(values, reverse=True)  # Maximize: descending puts the best first
    only_failed, _ = every_trial(sm, "mixed", StatusEquals="Failed", SortBy="Status")
    assert {t["TrainingJobName"] for t in only_failed} == {t["TrainingJobName"] for t in failed}


def test_model_artifacts_follow_the_output_path(sm: Any, clock: ManualClock) -> None:
    definition = definition_with(OutputDataConfig={"S3OutputPath": "s3://models/run-7/"})
    sm.create_hyper_parameter_tuning_job(**request("art", TrainingJobDefinition=definition))
    clock.advance(15)
    for t in every_trial(sm, "art")[0]:
        full = sm.describe_training_job(TrainingJobName=t["TrainingJobName"])
        assert full["ModelArtifacts"]["S3ModelArtifacts"] == (
            f"s3://models/run-7/{t['TrainingJobName']}/output/model.tar.gz"
        )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"MaxResults": 101}, "less than or equal to 100"),
        ({"MaxResults": 0}, "greater than or equal to 1"),
        ({"SortBy": "Objective"}, "enum value set"),
        ({"StatusEquals": "Done"}, "enum value set"),
        ({"SortOrder": "Down"}, "enum value set"),
        ({"NextToken": "not-a-token"}, "NextToken"),
    ],
)
def test_listing_validation_errors(
    emulator: RunningEmulator, sm: Any, params: dict[str, Any], message: str
) -> None:
    sm.create_hyper_parameter_tuning_job(**request("v"))
    with pytest.raises(ClientError) as err:
        unvalidated(emulator.url).list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="v", **params
        )
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert message in err.value.response["Error"]["Message"]
