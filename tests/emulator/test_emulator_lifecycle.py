"""Lifecycle paths on the injected clock: Completed, Failed, Stopped, target reached, warm start."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.emulator_client import START, ManualClock, config_with, definition_with, request


def describe(sm: Any, name: str = "job") -> dict[str, Any]:
    out: dict[str, Any] = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    return out


def trainings(sm: Any, name: str = "job") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
        HyperParameterTuningJobName=name
    ):
        found += page["TrainingJobSummaries"]
    return found


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(START + seconds, UTC)


def test_completes_through_waves_with_moving_counters(sm: Any, clock: ManualClock) -> None:
    arn = sm.create_hyper_parameter_tuning_job(**request())["HyperParameterTuningJobArn"]
    assert arn == "arn:aws:sagemaker:us-west-2:123456789012:hyper-parameter-tuning-job/job"
    d = describe(sm)
    assert d["HyperParameterTuningJobStatus"] == "InProgress"
    assert d["CreationTime"] == d["LastModifiedTime"] == at(0)
    assert d["TrainingJobStatusCounters"]["InProgress"] == 0
    assert "BestTrainingJob" not in d and "HyperParameterTuningEndTime" not in d

    clock.advance(2)  # wave 1 (2 trainings) started at +1
    d = describe(sm)
    assert d["TrainingJobStatusCounters"] == {
        "Completed": 0,
        "InProgress": 2,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    assert d["ObjectiveStatusCounters"] == {"Succeeded": 0, "Pending": 2, "Failed": 0}
    assert d["LastModifiedTime"] == at(1)
    assert len(trainings(sm)) == 2

    clock.advance(10)  # +12: wave 1 ended at +11, wave 2 running
    d = describe(sm)
    assert d["TrainingJobStatusCounters"]["Completed"] == 2
    assert d["TrainingJobStatusCounters"]["InProgress"] == 2
    assert d["ObjectiveStatusCounters"] == {"Succeeded": 2, "Pending": 2, "Failed": 0}
    assert d["BestTrainingJob"]["TrainingJobStatus"] == "Completed"
    assert d["LastModifiedTime"] == at(11)

    clock.advance(10)  # +22: all 4 done at +21
    d = describe(sm)
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    assert d["HyperParameterTuningEndTime"] == d["LastModifiedTime"] == at(21)
    assert d["TrainingJobStatusCounters"]["Completed"] == 4
    assert d["ConsumedResources"] == {"RuntimeInSeconds": 21}
    values = [t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in trainings(sm)]
    best = d["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]
    assert best == {"MetricName": "validation:error", "Value": min(values)}  # Minimize
    assert "NumberOfTrainingJobsObjectiveNotImproving" in d["TuningJobCompletionDetails"]
    assert "FailureReason" not in d

    clock.advance(100)
    later = describe(sm)
    later.pop("ResponseMetadata")
    d.pop("ResponseMetadata")
    assert later == d  # a finished job no longer changes


def test_training_jobs_are_named_sampled_and_carry_static_hyperparameters(
    sm: Any, clock: ManualClock
) -> None:
    sm.create_hyper_parameter_tuning_job(**request("Name-With-Caps"))
    clock.advance(30)
    found = trainings(sm, "name-with-caps")
    assert len(found) == 4
    for i, t in enumerate(sorted(found, key=lambda t: t["TrainingJobName"])):
        assert re.fullmatch(rf"Name-With-Caps-{i + 1:03d}-[0-9a-f]{{8}}", t["TrainingJobName"])
        tuned = t["TunedHyperParameters"]
        assert set(tuned) == {"num_round", "eta"}
        assert 10 <= int(tuned["num_round"]) <= 20
        assert 0.001 <= float(tuned["eta"]) <= 1
        full = sm.describe_training_job(TrainingJobName=t["TrainingJobName"])
        assert full["TrainingJobStatus"] == "Completed"
        assert full["HyperParameters"] == {
            "base_score": "0.5",
            "_tuning_objective_metric": "validation:error",
            **tuned,
        }
        assert full["TuningJobArn"].endswith("/Name-With-Caps")
        assert (
            full["FinalMetricDataList"][0]["Value"]
            == (t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
        )
        assert full["ModelArtifacts"]["S3ModelArtifacts"].startswith("s3://bucket/output/")
        assert full["TrainingEndTime"] > full["TrainingStartTime"] >= full["CreationTime"]


def test_longest_name_fits_training_job_names(sm: Any, clock: ManualClock) -> None:
    name = "a" * 32
    sm.create_hyper_parameter_tuning_job(**request(name))
    clock.advance(5)
    for t in trainings(sm, name):
        assert len(t["TrainingJobName"]) <= 63
        sm.describe_training_job(TrainingJobName=t["TrainingJobName"])


def test_fail_image_fails_every_training_and_the_job(sm: Any, clock: ManualClock) -> None:
    algo = {"TrainingImage": "example.com/algo:fail", "TrainingInputMode": "File"}
    limits = {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 3}
    sm.create_hyper_parameter_tuning_job(
        **request(
            HyperParameterTuningJobConfig=config_with(ResourceLimits=limits),
            TrainingJobDefinition=definition_with(AlgorithmSpecification=algo),
        )
    )
    clock.advance(15)  # first wave of 3 failed at +11
    d = describe(sm)
    assert d["HyperParameterTuningJobStatus"] == "InProgress"
    assert d["TrainingJobStatusCounters"]["NonRetryableError"] == 3
    clock.advance(10)  # second wave failed at +21: 6 failures ≥ 5
    d = describe(sm)
    assert d["HyperParameterTuningJobStatus"] == "Failed"
    assert d["FailureReason"].startswith("No training job succeeded after 6 attempts.")
    assert d["ObjectiveStatusCounters"] == {"Succeeded": 0, "Pending": 0, "Failed": 6}
    assert "BestTrainingJob" not in d
    for t in trainings(sm):
        assert t["TrainingJobStatus"] == "Failed"
        assert t["FailureReason"].startswith("AlgorithmError: ")
        assert t["ObjectiveStatus"] == "Failed"
        full = sm.describe_training_job(TrainingJobName=t["TrainingJobName"])
        assert full["FailureReason"].startswith("AlgorithmError: ")


def test_stop_goes_through_stopping_to_stopped(sm: Any, clock: ManualClock) -> None:
    sm.create_hyper_parameter_tuning_job(**request())
    clock.advance(5)
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="job")
    d = describe(sm)
    assert d["HyperParameterTuningJobStatus"] == "Stopping"
    assert d["LastModifiedTime"] == at(5)
    assert {t["TrainingJobStatus"] for t in trainings(sm)} == {"Stopping"}
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="job")  # idempotent
    clock.advance(1)
    d = describe(sm)
    assert d["HyperParameterTuningJobStatus"] == "Stopped"
    assert d["HyperParameterTuningEndTime"] == at(6)
    assert d["TrainingJobStatusCounters"]["Stopped"] == 2
    assert d["ObjectiveStatusCounters"]["Failed"] == 2
    clock.advance(100)
    assert len(trainings(sm)) == 2  # nothing more launched
    with pytest.raises(ClientError) as err:
        sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="job")
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_stop_during_startup_launches_nothing(sm: Any, clock: ManualClock) -> None:
    sm.create_hyper_parameter_tuning_job(**request())
    clock.advance(0.5)
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="job")
    clock.advance(5)
    assert describe(sm)["HyperParameterTuningJobStatus"] == "Stopped"
    assert trainings(sm) == []


def test_target_objective_value_completes_early(sm: Any, clock: ManualClock) -> None:
    limits = {"MaxNumberOfTrainingJobs": 50, "MaxParallelTrainingJobs": 1}
    criteria = {"TargetObjectiveMetricValue": 0.99}  # Minimize: any value ≤ 0.99 reaches it
    sm.create_hyper_parameter_tuning_job(
        **request(
            HyperParameterTuningJobConfig=config_with(
                ResourceLimits=limits, TuningJobCompletionCriteria=criteria
            )
        )
    )
    clock.advance(12)
    d = describe(sm)
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    assert d["HyperParameterTuningEndTime"] == at(11)
    assert d["TrainingJobStatusCounters"]["Completed"] == 1
    assert len(trainings(sm)) == 1


def test_best_objective_not_improving_completes_early(sm: Any, clock: ManualClock) -> None:
    limits = {"MaxNumberOfTrainingJobs": 200, "MaxParallelTrainingJobs": 1}
    criteria = {"BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}}
    sm.create_hyper_parameter_tuning_job(
        **request(
            HyperParameterTuningJobConfig=config_with(
                ResourceLimits=limits, TuningJobCompletionCriteria=criteria
            )
        )
    )
    clock.advance(2001)
    d = describe(sm)
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    assert d["TuningJobCompletionDetails"]["NumberOfTrainingJobsObjectiveNotImproving"] == 3
    assert d["TrainingJobStatusCounters"]["Completed"] < 200


def test_warm_start_overall_best_spans_parents(sm: Any, clock: ManualClock) -> None:
    sm.create_hyper_parameter_tuning_job(**request("parent"))
    with pytest.raises(ClientError) as err:  # parent still running
        sm.create_hyper_parameter_tuning_job(
            **request("child", WarmStartConfig=warm_start("parent"))
        )
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "warmStartConfig.parentHyperParameterTuningJobs.1.member" in str(err.value)
    clock.advance(30)
    parent = describe(sm, "parent")
    assert parent["HyperParameterTuningJobStatus"] == "Completed"
    assert "OverallBestTrainingJob" not in parent

    sm.create_hyper_parameter_tuning_job(**request("child", WarmStartConfig=warm_start("parent")))
    child = describe(sm, "child")
    assert child["WarmStartConfig"] == warm_start("parent")
    assert "BestTrainingJob" not in child
    overall = child["OverallBestTrainingJob"]
    assert overall["TuningJobName"] == "parent"
    assert overall["TrainingJobName"] == parent["BestTrainingJob"]["TrainingJobName"]

    clock.advance(30)
    child = describe(sm, "child")
    values = {
        "parent": parent["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
        "child": child["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
    }
    winner = min(values, key=lambda k: values[k])
    overall = child["OverallBestTrainingJob"]
    assert overall["TuningJobName"] == winner
    assert overall["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == values[winner]


def test_warm_start_parent_must_exist(sm: Any) -> None:
    with pytest.raises(ClientError) as err:
        sm.create_hyper_parameter_tuning_job(**request("child", WarmStartConfig=warm_start("nope")))
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "'nope'" in str(err.value)


def warm_start(*parents: str) -> dict[str, Any]:
    return {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": p} for p in parents],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }


def test_delete_only_when_finished(sm: Any, clock: ManualClock) -> None:
    sm.create_hyper_parameter_tuning_job(**request())
    with pytest.raises(ClientError) as err:
        sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="job")
    assert err.value.response["Error"]["Code"] == "ValidationException"
    clock.advance(30)
    names = [t["TrainingJobName"] for t in trainings(sm)]
    sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="JOB")
    for call in (describe, trainings):
        with pytest.raises(ClientError) as err:
            call(sm)
        assert err.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ClientError) as err:
        sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="job")
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"
    # training jobs outlive their tuning job, as on AWS; the name can be used again
    assert sm.describe_training_job(TrainingJobName=names[0])["TrainingJobStatus"] == "Completed"
    sm.create_hyper_parameter_tuning_job(**request())
    assert describe(sm)["HyperParameterTuningJobStatus"] == "InProgress"


def test_grid_enumerates_the_categorical_grid(sm: Any, clock: ManualClock) -> None:
    ranges = {
        "CategoricalParameterRanges": [
            {"Name": "booster", "Values": ["gbtree", "dart"]},
            {"Name": "depth", "Values": ["3", "5", "7"]},
        ]
    }
    config = config_with(
        Strategy="Grid",
        ParameterRanges=ranges,
        ResourceLimits={"MaxParallelTrainingJobs": 3},
    )
    sm.create_hyper_parameter_tuning_job(**request(HyperParameterTuningJobConfig=config))
    clock.advance(100)
    assert describe(sm)["HyperParameterTuningJobStatus"] == "Completed"
    points = {tuple(sorted(t["TunedHyperParameters"].items())) for t in trainings(sm)}
    assert len(points) == 6 == len(trainings(sm))


def test_grid_accepts_only_categorical_ranges(sm: Any) -> None:
    config = config_with(Strategy="Grid", ResourceLimits={"MaxParallelTrainingJobs": 1})
    with pytest.raises(ClientError) as err:
        sm.create_hyper_parameter_tuning_job(**request(HyperParameterTuningJobConfig=config))
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "hyperParameterTuningJobConfig.parameterRanges" in str(err.value)


def test_other_strategies_need_max_number_of_training_jobs(sm: Any) -> None:
    config = config_with(ResourceLimits={"MaxParallelTrainingJobs": 1})
    with pytest.raises(ClientError) as err:
        sm.create_hyper_parameter_tuning_job(**request(HyperParameterTuningJobConfig=config))
    assert "hyperParameterTuningJobConfig.resourceLimits.maxNumberOfTrainingJobs" in str(err.value)


@pytest.mark.parametrize(
    ("scaling", "low", "high"),
    [("Linear", 1.0, 100.0), ("Logarithmic", 1.0, 10000.0), ("ReverseLogarithmic", 0.0, 0.999)],
)
def test_scaling_types_shape_the_samples(
    sm: Any, clock: ManualClock, scaling: str, low: float, high: float
) -> None:
    ranges = {
        "ContinuousParameterRanges": [
            {"Name": "x", "MinValue": str(low), "MaxValue": str(high), "ScalingType": scaling}
        ]
    }
    limits = {"MaxNumberOfTrainingJobs": 60, "MaxParallelTrainingJobs": 60}
    config = config_with(Strategy="Random", ParameterRanges=ranges, ResourceLimits=limits)
    sm.create_hyper_parameter_tuning_job(**request(HyperParameterTuningJobConfig=config))
    clock.advance(2)
    xs = [float(t["TunedHyperParameters"]["x"]) for t in trainings(sm)]
    assert len(xs) == 60 and all(low <= x <= high for x in xs)
    median = sorted(xs)[30]
    if scaling == "Linear":
        assert 25 < median < 75
    elif scaling == "Logarithmic":  # log-uniform: the median sits near the geometric mean
        assert 10 < median < 1000
    else:  # reverse-log: samples crowd towards the top of the range
        assert median > 0.9


def test_objective_is_deterministic_for_a_seed(start_emulator: Any) -> None:
    from support.emulator_client import client

    results = []
    for _ in range(2):
        clock = ManualClock()
        emu = start_emulator(clock=clock, seed=7)
        sm = client(emu.url)
        sm.create_hyper_parameter_tuning_job(**request())
        clock.advance(30)
        results.append(
            sorted(
                (t["TunedHyperParameters"]["eta"], t["FinalHyperParameterTuningJobObjectiveMetric"])
                for t in trainings(sm)
            )
        )
    assert results[0] == results[1]


def test_bayesian_finds_better_points_than_its_first_guesses(sm: Any, clock: ManualClock) -> None:
    limits = {"MaxNumberOfTrainingJobs": 40, "MaxParallelTrainingJobs": 2}
    config = config_with(ResourceLimits=limits)
    sm.create_hyper_parameter_tuning_job(**request(HyperParameterTuningJobConfig=config))
    clock.advance(500)
    found = sorted(trainings(sm), key=lambda t: t["TrainingJobName"])
    values = [t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in found]
    assert len(values) == 40 and all(math.isfinite(v) for v in values)
    assert min(values[20:]) < min(values[:2])


def test_convergence_detection_completes_the_job(sm: Any, clock: ManualClock) -> None:
    limits = {"MaxNumberOfTrainingJobs": 300, "MaxParallelTrainingJobs": 1}
    criteria = {"ConvergenceDetected": {"CompleteOnConvergence": "Enabled"}}
    config = config_with(ResourceLimits=limits, TuningJobCompletionCriteria=criteria)
    sm.create_hyper_parameter_tuning_job(**request(HyperParameterTuningJobConfig=config))
    clock.advance(3001)
    d = describe(sm)
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    details = d["TuningJobCompletionDetails"]
    assert details["ConvergenceDetectedTime"] == d["HyperParameterTuningEndTime"]
    assert details["NumberOfTrainingJobsObjectiveNotImproving"] >= 10
    assert d["TrainingJobStatusCounters"]["Completed"] < 300


def test_several_training_job_definitions_take_turns(sm: Any, clock: ManualClock) -> None:
    first = definition_with(
        DefinitionName="small",
        TuningObjective={"Type": "Minimize", "MetricName": "validation:error"},
        HyperParameterRanges={
            "IntegerParameterRanges": [{"Name": "depth", "MinValue": "1", "MaxValue": "3"}]
        },
    )
    second = definition_with(
        DefinitionName="large",
        TuningObjective={"Type": "Minimize", "MetricName": "validation:error"},
        HyperParameterRanges={
            "IntegerParameterRanges": [{"Name": "depth", "MinValue": "8", "MaxValue": "12"}]
        },
    )
    config = config_with()
    del config["ParameterRanges"], config["HyperParameterTuningJobObjective"]
    sm.create_hyper_parameter_tuning_job(
        **request(
            HyperParameterTuningJobConfig=config,
            TrainingJobDefinition=None,
            TrainingJobDefinitions=[first, second],
        )
    )
    clock.advance(30)
    d = describe(sm)
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    assert [x["DefinitionName"] for x in d["TrainingJobDefinitions"]] == ["small", "large"]
    for t in trainings(sm):
        depth = int(t["TunedHyperParameters"]["depth"])
        assert (t["TrainingJobDefinitionName"], depth <= 3) in (("small", True), ("large", False))


def test_random_seed_repeats_the_samples(sm: Any, clock: ManualClock) -> None:
    for name in ("seeded-a", "seeded-b", "unseeded"):
        config = config_with(Strategy="Random")
        if name != "unseeded":
            config["RandomSeed"] = 42
        sm.create_hyper_parameter_tuning_job(**request(name, HyperParameterTuningJobConfig=config))
    clock.advance(30)

    def points(name: str) -> list[dict[str, str]]:
        found = sorted(trainings(sm, name), key=lambda t: t["TrainingJobName"])
        return [t["TunedHyperParameters"] for t in found]

    assert points("seeded-a") == points("seeded-b") != points("unseeded")
