"""spec → request, Describe → status, system tags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from hpo_operator import identity
from hpo_operator.model import translate


def _spec() -> dict[str, Any]:
    return {
        "hyperParameterTuningJobName": "job-1",
        "hyperParameterTuningJobConfig": {
            "strategy": "Random",
            "resourceLimits": {"maxNumberOfTrainingJobs": 4, "maxParallelTrainingJobs": 2},
            "hyperParameterTuningJobObjective": {"type_": "Maximize", "metricName": "auc"},
            "parameterRanges": {
                "continuousParameterRanges": [
                    {"name": "eta", "minValue": "0.1", "maxValue": "0.5", "scalingType": "Auto"}
                ]
            },
        },
        "trainingJobDefinition": {
            "roleARN": "arn:aws:iam::123456789012:role/R",
            "staticHyperParameters": {"Eta_Max": "1", "objective": "binary:logistic"},
            "environment": {"MY_VAR": "x"},
            "algorithmSpecification": {"trainingImage": "img:1", "trainingInputMode": "File"},
            "outputDataConfig": {"s3OutputPath": "s3://b/o", "kmsKeyID": "k"},
            "resourceConfig": {"instanceType": "ml.m5.large", "volumeKMSKeyID": "v"},
            "stoppingCondition": {"maxRuntimeInSeconds": 60},
            "vpcConfig": {"securityGroupIDs": ["sg-1"], "subnets": ["s-1"]},
            "enableNetworkIsolation": False,
        },
    }


def test_spec_to_request_respells_members_and_keeps_types_and_map_keys() -> None:
    request = translate.spec_to_request(_spec())
    definition = request["TrainingJobDefinition"]
    assert definition["RoleArn"] == "arn:aws:iam::123456789012:role/R"
    assert definition["StaticHyperParameters"] == {"Eta_Max": "1", "objective": "binary:logistic"}
    assert definition["Environment"] == {"MY_VAR": "x"}
    assert definition["OutputDataConfig"] == {"S3OutputPath": "s3://b/o", "KmsKeyId": "k"}
    assert definition["ResourceConfig"]["VolumeKmsKeyId"] == "v"
    assert definition["VpcConfig"]["SecurityGroupIds"] == ["sg-1"]
    assert definition["EnableNetworkIsolation"] is False
    config = request["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "auc"}
    assert config["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 4
    continuous = config["ParameterRanges"]["ContinuousParameterRanges"][0]
    assert continuous["MinValue"] == "0.1"


def test_spec_to_request_never_emits_null_and_leaves_unknown_fields_to_validation() -> None:
    spec = _spec()
    spec["warmStartConfig"] = None
    spec["trainingJobDefinition"]["checkpointConfig"] = None
    spec["trainingJobDefinition"]["staticHyperParameters"]["gone"] = None
    spec["noSuchField"] = {"x": 1}
    request = translate.spec_to_request(spec)
    assert "WarmStartConfig" not in request and "noSuchField" not in request
    assert "CheckpointConfig" not in request["TrainingJobDefinition"]
    assert "gone" not in request["TrainingJobDefinition"]["StaticHyperParameters"]
    assert translate.spec_to_request({}) == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), "2024-01-02T03:04:05Z"),
        (
            datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))),
            "2024-01-02T03:04:05Z",
        ),
        (datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05Z"),
        ("2021-10-18T05:59:18.103Z", "2021-10-18T05:59:18Z"),
        ("2021-10-18T05:59:18+00:00", "2021-10-18T05:59:18Z"),
        (1704164645, "2024-01-02T03:04:05Z"),
        (1704164645.9, "2024-01-02T03:04:05Z"),
    ],
)
def test_rfc3339(value: Any, expected: str) -> None:
    assert translate.rfc3339(value) == expected


ARN = "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/job-1"


def test_describe_to_status_from_a_boto3_shaped_response() -> None:
    started = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    response = {
        "HyperParameterTuningJobName": "job-1",
        "HyperParameterTuningJobArn": ARN,
        "HyperParameterTuningJobStatus": "Completed",
        "CreationTime": started,
        "LastModifiedTime": started + timedelta(minutes=5),
        "HyperParameterTuningEndTime": started + timedelta(minutes=5),
        "TrainingJobStatusCounters": {"Completed": 2, "InProgress": 0, "Stopped": 0},
        "ObjectiveStatusCounters": {"Succeeded": 2, "Pending": 0, "Failed": 0},
        "BestTrainingJob": {
            "TrainingJobName": "job-1-002-abc",
            "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/job-1-002-abc",
            "CreationTime": started,
            "TrainingJobStatus": "Completed",
            "TunedHyperParameters": {"Eta_Max": "0.3"},
            "FinalHyperParameterTuningJobObjectiveMetric": {
                "MetricName": "auc",
                "Value": 0.91,
                "Type": None,
            },
        },
        "ConsumedResources": {"RuntimeInSeconds": 300},
        "TuningJobCompletionDetails": {"NumberOfTrainingJobsObjectiveNotImproving": 1},
        "FailureReason": None,
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }
    status = translate.describe_to_status(response)
    assert status == {
        "hyperParameterTuningJobStatus": "Completed",
        "creationTime": "2024-01-02T03:04:05Z",
        "lastModifiedTime": "2024-01-02T03:09:05Z",
        "hyperParameterTuningEndTime": "2024-01-02T03:09:05Z",
        "trainingJobStatusCounters": {"completed": 2, "inProgress": 0, "stopped": 0},
        "objectiveStatusCounters": {"succeeded": 2, "pending": 0, "failed": 0},
        "bestTrainingJob": {
            "trainingJobName": "job-1-002-abc",
            "trainingJobARN": "arn:aws:sagemaker:us-east-1:123456789012:training-job/job-1-002-abc",
            "creationTime": "2024-01-02T03:04:05Z",
            "trainingJobStatus": "Completed",
            "tunedHyperParameters": {"Eta_Max": "0.3"},
            "finalHyperParameterTuningJobObjectiveMetric": {"metricName": "auc", "value": 0.91},
        },
        "consumedResources": {"runtimeInSeconds": 300},
        "tuningJobCompletionDetails": {"numberOfTrainingJobsObjectiveNotImproving": 1},
    }


def test_system_tags_and_ownership() -> None:
    tags = translate.system_tags("team-a", "job", "uid-1", "0.1.0")
    assert tags == [
        {"Key": "services.k8s.aws/controller-version", "Value": "hpo-operator-0.1.0"},
        {"Key": "services.k8s.aws/namespace", "Value": "team-a"},
        {"Key": "services.k8s.aws/name", "Value": "job"},
        {"Key": "services.k8s.aws/uid", "Value": "uid-1"},
    ]
    assert translate.tags_name_resource(tags, "team-a", "job", "uid-1")
    assert not translate.tags_name_resource(tags, "team-b", "job", "uid-1")
    assert not translate.tags_name_resource(tags, "team-a", "other", "uid-1")
    assert not translate.tags_name_resource(tags, "team-a", "job", "uid-2")  # recreated resource
    assert not translate.tags_name_resource([], "team-a", "job", "uid-1")
    without_uid = translate.system_tags("team-a", "job", None, "0.1.0")
    # The same keys with or without a uid: render counts what the operator sends.
    assert [t["Key"] for t in without_uid] == [t["Key"] for t in tags]
    assert [t["Key"] for t in tags] == list(identity.SYSTEM_TAG_KEYS)
    assert without_uid[-1] == {"Key": "services.k8s.aws/uid", "Value": ""}
    assert not translate.tags_name_resource(without_uid, "team-a", "job", "")


def test_with_system_tags_puts_spec_tags_first_and_replaces_spoofed_system_keys() -> None:
    request = {
        "Tags": [
            {"Key": "team", "Value": "a"},
            {"Key": "services.k8s.aws/namespace", "Value": "spoofed"},
        ]
    }
    tagged = translate.with_system_tags(request, "ns", "job", "u", "1")
    assert tagged["Tags"][0] == {"Key": "team", "Value": "a"}
    assert {"Key": "services.k8s.aws/namespace", "Value": "ns"} in tagged["Tags"]
    assert {"Key": "services.k8s.aws/namespace", "Value": "spoofed"} not in tagged["Tags"]
    assert request["Tags"][1]["Value"] == "spoofed"  # the input is not modified
    assert translate.with_system_tags({}, "ns", "job", None, "1")["Tags"][0]["Key"] == (
        "services.k8s.aws/controller-version"
    )
