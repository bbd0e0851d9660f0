"""The wire: JSON 1.1 requests, AWS JSON errors with the right codes, AWS-worded validation."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from hpo_emulator import RunningEmulator
from support.emulator_client import (
    ManualClock,
    StartEmulator,
    client,
    config_with,
    definition_with,
    request,
    unvalidated,
)


def post(url: str, target: str | None, body: bytes) -> tuple[int, dict[str, Any]]:
    """A raw request, without any signature."""
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target is not None:
        headers["X-Amz-Target"] = target
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def error_of(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call(**params)
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def test_raw_json_protocol_without_signature(emulator: RunningEmulator) -> None:
    body = json.dumps(request()).encode()
    status, doc = post(emulator.url, "SageMaker.CreateHyperParameterTuningJob", body)
    assert status == 200 and doc["HyperParameterTuningJobArn"].endswith("/job")
    status, doc = post(
        emulator.url,
        "SageMaker.DescribeHyperParameterTuningJob",
        b'{"HyperParameterTuningJobName": "job"}',
    )
    assert status == 200
    assert isinstance(doc["CreationTime"], float)  # epoch seconds, as the JSON protocol sends


def test_unknown_operation_and_bad_bodies(emulator: RunningEmulator) -> None:
    status, doc = post(emulator.url, "SageMaker.CreateEndpoint", b"{}")
    assert (status, doc["__type"]) == (400, "UnknownOperationException")
    status, doc = post(emulator.url, None, b"{}")
    assert (status, doc["__type"]) == (400, "UnknownOperationException")
    status, doc = post(emulator.url, "SageMaker.DescribeHyperParameterTuningJob", b"{nope")
    assert (status, doc["__type"]) == (400, "SerializationException")
    status, doc = post(emulator.url, "SageMaker.DescribeHyperParameterTuningJob", b"[1]")
    assert (status, doc["__type"]) == (400, "SerializationException")
    with pytest.raises(ClientError) as err:
        client(emulator.url).list_endpoints()
    assert err.value.response["Error"]["Code"] == "UnknownOperationException"


def test_validation_message_names_the_member_as_aws_does(emulator: RunningEmulator) -> None:
    sm = unvalidated(emulator.url)
    code, message = error_of(
        sm.create_hyper_parameter_tuning_job,
        **request(HyperParameterTuningJobConfig=config_with(Strategy="Sideways")),
    )
    assert code == "ValidationException"
    assert message == (
        "1 validation error detected: Value 'Sideways' at 'hyperParameterTuningJobConfig.strategy'"
        " failed to satisfy constraint: Member must satisfy enum value set: "
        "[Bayesian, Random, Hyperband, Grid]"
    )
    code, message = error_of(
        sm.create_hyper_parameter_tuning_job,
        **request("bad_name", TrainingJobDefinition=definition_with(RoleArn=None)),
    )
    assert message.startswith("2 validation errors detected: ")
    assert "Value 'bad_name' at 'hyperParameterTuningJobName' failed to satisfy constraint: " in (
        message
    )
    assert "Value null at 'trainingJobDefinition.roleArn' failed to satisfy constraint: " in (
        message
    )


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        (
            {"HyperParameterTuningJobConfig": config_with(ResourceLimits={})},
            "hyperParameterTuningJobConfig.resourceLimits.maxParallelTrainingJobs",
        ),
        (
            {
                "HyperParameterTuningJobConfig": config_with(
                    ResourceLimits={"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 3}
                )
            },
            "hyperParameterTuningJobConfig.resourceLimits.maxParallelTrainingJobs",
        ),
        (
            {
                "HyperParameterTuningJobConfig": config_with(
                    ParameterRanges={
                        "IntegerParameterRanges": [{"Name": "n", "MinValue": "9", "MaxValue": "3"}]
                    }
                )
            },
            "hyperParameterTuningJobConfig.parameterRanges.integerParameterRanges.1.member.maxValue",
        ),
        (
            {
                "HyperParameterTuningJobConfig": config_with(
                    ParameterRanges={
                        "ContinuousParameterRanges": [
                            {
                                "Name": "lr",
                                "MinValue": "0",
                                "MaxValue": "1",
                                "ScalingType": "Logarithmic",
                            }
                        ]
                    }
                )
            },
            "hyperParameterTuningJobConfig.parameterRanges.continuousParameterRanges.1.member.minValue",
        ),
        (
            {"TrainingJobDefinitions": [definition_with()]},
            "trainingJobDefinitions",
        ),
        (
            {"TrainingJobDefinition": None},
            "trainingJobDefinition",
        ),
        (
            {
                "TrainingJobDefinition": definition_with(
                    AlgorithmSpecification={
                        "TrainingImage": "example.com/algo:1",
                        "TrainingInputMode": "File",
                        "MetricDefinitions": [{"Name": "loss", "Regex": "loss=(.*)"}],
                    }
                )
            },
            "hyperParameterTuningJobConfig.hyperParameterTuningJobObjective.metricName",
        ),
        (
            {
                "HyperParameterTuningJobConfig": config_with(
                    Strategy="Hyperband", TrainingJobEarlyStoppingType="Auto"
                )
            },
            "hyperParameterTuningJobConfig.trainingJobEarlyStoppingType",
        ),
        (
            {"Tags": [{"Key": "k" * 129, "Value": "v"}]},
            "tags.1.member.key",
        ),
    ],
)
def test_create_rules(emulator: RunningEmulator, changes: dict[str, Any], where: str) -> None:
    code, message = error_of(
        unvalidated(emulator.url).create_hyper_parameter_tuning_job, **request(**changes)
    )
    assert code == "ValidationException"
    assert f" at '{where}' failed to satisfy constraint: " in message


def test_builtin_algorithm_without_metric_definitions_passes(sm: Any) -> None:
    assert "MetricDefinitions" not in request()["TrainingJobDefinition"]["AlgorithmSpecification"]
    sm.create_hyper_parameter_tuning_job(**request())


def test_names_are_unique_case_insensitively(sm: Any) -> None:
    sm.create_hyper_parameter_tuning_job(**request("My-Job"))
    code, message = error_of(sm.create_hyper_parameter_tuning_job, **request("my-job"))
    assert code == "ResourceInUse"
    assert "hyper-parameter-tuning-job/My-Job" in message
    assert (
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="MY-JOB")[
            "HyperParameterTuningJobName"
        ]
        == "My-Job"
    )


def test_resource_not_found_everywhere(sm: Any) -> None:
    missing = {"HyperParameterTuningJobName": "missing"}
    for call in (
        sm.describe_hyper_parameter_tuning_job,
        sm.stop_hyper_parameter_tuning_job,
        sm.delete_hyper_parameter_tuning_job,
        sm.list_training_jobs_for_hyper_parameter_tuning_job,
    ):
        assert error_of(call, **missing)[0] == "ResourceNotFound"
    assert error_of(sm.describe_training_job, TrainingJobName="missing-001-0123abcd")[0] == (
        "ResourceNotFound"
    )


def test_resource_limits(start_emulator: StartEmulator, clock: ManualClock) -> None:
    emu = start_emulator(clock=clock, max_concurrent_jobs=1, max_parallel_training_jobs=10)
    sm = client(emu.url)
    sm.create_hyper_parameter_tuning_job(**request("one"))
    code, message = error_of(sm.create_hyper_parameter_tuning_job, **request("two"))
    assert code == "ResourceLimitExceeded"
    assert "concurrent hyperparameter tuning jobs" in message
    clock.advance(1000)  # "one" finished: room again
    sm.create_hyper_parameter_tuning_job(**request("two"))
    clock.advance(1000)
    limits = {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 11}
    code, _ = error_of(
        sm.create_hyper_parameter_tuning_job,
        **request("three", HyperParameterTuningJobConfig=config_with(ResourceLimits=limits)),
    )
    assert code == "ResourceLimitExceeded"


def test_throttling_and_internal_failure_codes(start_emulator: StartEmulator) -> None:
    from hpo_emulator import Faults

    emu = start_emulator(faults=Faults(error_rate=1.0))
    status, doc = post(emu.url, "SageMaker.ListHyperParameterTuningJobs", b"{}")
    assert (status, doc["__type"]) == (500, "InternalFailure")
    assert error_of(client(emu.url).list_hyper_parameter_tuning_jobs)[0] == "InternalFailure"
    emu = start_emulator(faults=Faults(throttle_rate=1.0))
    status, doc = post(emu.url, "SageMaker.ListHyperParameterTuningJobs", b"{}")
    assert (status, doc["__type"]) == (400, "ThrottlingException")
    assert error_of(client(emu.url).list_hyper_parameter_tuning_jobs)[0] == "ThrottlingException"


def test_region_and_account_shape_the_arns(start_emulator: StartEmulator) -> None:
    emu = start_emulator(region="eu-central-1", account_id="000011112222")
    sm = client(emu.url, region="eu-central-1")
    arn = sm.create_hyper_parameter_tuning_job(**request())["HyperParameterTuningJobArn"]
    assert arn == "arn:aws:sagemaker:eu-central-1:000011112222:hyper-parameter-tuning-job/job"
