"""Helpers for tests that drive the emulator with boto3: a client without retries (so every error
reaches the test), a steppable clock and a valid Create request.

They live here, not in a conftest, because every tests/*/conftest.py is imported under the one
name `conftest`: importing helpers from it picks whichever conftest was loaded last."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

from hpo_emulator import RunningEmulator

START = 1_800_000_000.0  # 2027-01-15, a fixed instant for the injected clock


class ManualClock:
    """A clock the test moves by hand, so lifecycles run without sleeping."""

    def __init__(self, now: float = START) -> None:
        self._now = now
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward and return the new instant."""
        with self._lock:
            self._now += seconds
            return self._now


def client(
    url: str,
    region: str = "us-west-2",
    *,
    service: str = "sagemaker",
    access_key: str = "x",
    secret_key: str = "x",
    session_token: str | None = None,
) -> Any:
    """An unmodified boto3 client (SageMaker unless told) aimed at the emulator, with retries off.
    The access key picks the account (README: keys STS issued, keys ending in 12 digits)."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=session_token,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def unvalidated(url: str) -> Any:
    """A SageMaker client that sends what it is given (botocore checks a few constraints itself,
    such as minimums), so the emulator's own validation answers."""
    return boto3.client(
        "sagemaker",
        endpoint_url=url,
        region_name="us-west-2",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )


def sts_client(url: str, access_key: str = "AKIDEXAMPLE", session_token: str | None = None) -> Any:
    """A boto3 STS client of the emulator (us-east-1, retries off)."""
    return client(
        url, "us-east-1", service="sts", access_key=access_key, session_token=session_token
    )


BASE_REQUEST: dict[str, Any] = {
    "HyperParameterTuningJobName": "job",
    "HyperParameterTuningJobConfig": {
        "Strategy": "Bayesian",
        "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:error"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
        "ParameterRanges": {
            "IntegerParameterRanges": [
                {"Name": "num_round", "MinValue": "10", "MaxValue": "20", "ScalingType": "Linear"}
            ],
            "ContinuousParameterRanges": [
                {"Name": "eta", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"}
            ],
        },
        "TrainingJobEarlyStoppingType": "Auto",
    },
    "TrainingJobDefinition": {
        "StaticHyperParameters": {"base_score": "0.5"},
        "AlgorithmSpecification": {
            "TrainingImage": "433757028032.dkr.ecr.us-west-2.amazonaws.com/xgboost:1",
            "TrainingInputMode": "File",
        },
        "RoleArn": "arn:aws:iam::123456789012:role/sagemaker",
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": "s3://bucket/train",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": "text/csv",
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 25},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "EnableNetworkIsolation": True,
    },
}


def request(name: str = "job", **changes: Any) -> dict[str, Any]:
    """A valid Create request; `changes` replace top-level members (None removes one)."""
    out = copy.deepcopy(BASE_REQUEST)
    out["HyperParameterTuningJobName"] = name
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def config_with(**changes: Any) -> dict[str, Any]:
    """BASE_REQUEST's HyperParameterTuningJobConfig with some members replaced."""
    config: dict[str, Any] = copy.deepcopy(BASE_REQUEST["HyperParameterTuningJobConfig"])
    config.update(changes)
    return config


def definition_with(**changes: Any) -> dict[str, Any]:
    """BASE_REQUEST's TrainingJobDefinition with some members replaced."""
    definition: dict[str, Any] = copy.deepcopy(BASE_REQUEST["TrainingJobDefinition"])
    definition.update(changes)
    return definition


StartEmulator = Callable[..., RunningEmulator]
