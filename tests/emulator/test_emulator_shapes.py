"""Describe responses have the keys and value types of real ones (ACK's recorded fixtures in
../shared/ack/unit_testdata), and every response fits botocore's output shapes."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hpo_operator.model import awsmodel
from support.emulator_client import ManualClock, config_with, request

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "ack" / "unit_testdata"


def fixture(name: str) -> dict[str, Any]:
    path = FIXTURES / f"sdkapi_describe_{name}.json"
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is not checked out)")
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def kind(value: Any) -> str:
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return "string"
        return "timestamp"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


OPEN_MAPS = {"StaticHyperParameters", "TunedHyperParameters", "Environment"}


def compare(real: Any, ours: Any, path: str, problems: list[str]) -> None:
    """Keys set in the real response must be in ours with the same kind of value, and ours must
    not have keys the real one lacks (unless botocore's model added them since)."""
    if kind(real) != kind(ours):
        problems.append(f"{path}: {kind(ours)} where AWS has {kind(real)}")
        return
    if isinstance(real, dict) and path.rsplit(".", 1)[-1] not in OPEN_MAPS:
        for key, value in real.items():
            if value is not None and key not in ours:
                problems.append(f"{path}.{key}: missing")
            elif value is not None:
                compare(value, ours[key], f"{path}.{key}", problems)
        for key in ours:
            if key not in real:
                problems.append(f"{path}.{key}: not in the recorded response")
    elif isinstance(real, list) and real and ours:
        compare(real[0], ours[0], f"{path}[0]", problems)


# keys that botocore's model has and the 2021 recordings predate
NEWER = {
    ".TuningJobCompletionDetails: not in the recorded response",
    ".ConsumedResources: not in the recorded response",
}


def ours_at(sm: Any, clock: ManualClock, state: str, real: dict[str, Any]) -> dict[str, Any]:
    """Our job in the state of a recorded response, created from the same request."""
    config = json.loads(json.dumps(real["HyperParameterTuningJobConfig"]))
    strip_nulls(config)
    definitions: dict[str, Any] = {}
    for key in ("TrainingJobDefinition", "TrainingJobDefinitions"):
        if real.get(key):
            value = json.loads(json.dumps(real[key]))
            strip_nulls(value)
            for definition in value if isinstance(value, list) else [value]:
                definition["AlgorithmSpecification"].pop("MetricDefinitions")  # AWS fills them in
                definition["StaticHyperParameters"].pop("_tuning_objective_metric")  # AWS adds it
            definitions = {"TrainingJobDefinition": None, key: value}
    name = real["HyperParameterTuningJobName"][:32]  # one recording's name is over AWS's 32
    extra: dict[str, Any] = {}
    if real.get("WarmStartConfig"):
        parent = real["WarmStartConfig"]["ParentHyperParameterTuningJobs"][0]
        sm.create_hyper_parameter_tuning_job(
            **request(
                parent["HyperParameterTuningJobName"],
                HyperParameterTuningJobConfig=config,
                **definitions,
            )
        )
        clock.advance(1000)
        extra["WarmStartConfig"] = real["WarmStartConfig"]
    sm.create_hyper_parameter_tuning_job(
        **request(name, HyperParameterTuningJobConfig=config, **definitions, **extra)
    )
    if state == "stopping":
        sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    elif state != "inprogress":
        clock.advance(1000)
    out: dict[str, Any] = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    out.pop("ResponseMetadata")
    return out


def strip_nulls(document: Any) -> None:
    if isinstance(document, dict):
        for key in [k for k, v in document.items() if v is None]:
            del document[key]
        for value in document.values():
            strip_nulls(value)
    elif isinstance(document, list):
        for item in document:
            strip_nulls(item)


@pytest.mark.parametrize(
    ("recording", "state"),
    [
        ("inprogress_describe", "inprogress"),
        ("stopping_describe", "stopping"),
        ("success_completed_describe", "completed"),
        ("success_describe_variation", "completed"),
        ("success_describe_warm_start_variation", "completed"),
    ],
)
def test_describe_matches_recorded_responses(
    sm: Any, clock: ManualClock, recording: str, state: str
) -> None:
    real = fixture(recording)
    ours = ours_at(sm, clock, state, real)
    problems: list[str] = []
    compare(real, ours, "", problems)
    assert [p for p in problems if p not in NEWER] == []
    assert ours["HyperParameterTuningJobStatus"] == real["HyperParameterTuningJobStatus"]


def conforms(shape: Any, value: Any, path: str, problems: list[str]) -> None:
    """A response value against botocore's output shape: required members, types, enums."""
    kind_ = shape.type_name
    if kind_ == "structure":
        if not isinstance(value, dict):
            problems.append(f"{path}: not an object")
            return
        for member in shape.required_members:
            if member not in value:
                problems.append(f"{path}.{member}: required")
        for key, item in value.items():
            if key not in shape.members:
                problems.append(f"{path}.{key}: not in the model")
            else:
                conforms(shape.members[key], item, f"{path}.{key}", problems)
    elif kind_ == "list":
        for i, item in enumerate(value):
            conforms(shape.member, item, f"{path}[{i}]", problems)
    elif kind_ == "map":
        for key, item in value.items():
            conforms(shape.value, item, f"{path}.{key}", problems)
    elif kind_ == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: not a string")
        elif shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value} not in {shape.enum}")
    elif kind_ == "timestamp" and not isinstance(value, datetime):
        problems.append(f"{path}: not a timestamp")


def test_every_response_fits_the_model(sm: Any, clock: ManualClock) -> None:
    limits = {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 2}
    sm.create_hyper_parameter_tuning_job(
        **request(HyperParameterTuningJobConfig=config_with(ResourceLimits=limits))
    )
    responses: list[tuple[str, dict[str, Any]]] = []
    for step in (0, 2, 15, 100):
        clock.advance(step)
        responses.append(
            (
                "DescribeHyperParameterTuningJob",
                sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="job"),
            )
        )
        listed = sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="job"
        )
        responses.append(("ListTrainingJobsForHyperParameterTuningJob", listed))
        responses.append(("ListHyperParameterTuningJobs", sm.list_hyper_parameter_tuning_jobs()))
        for t in listed["TrainingJobSummaries"]:
            responses.append(
                (
                    "DescribeTrainingJob",
                    sm.describe_training_job(TrainingJobName=t["TrainingJobName"]),
                )
            )
    problems: list[str] = []
    for operation, response in responses:
        response.pop("ResponseMetadata")
        conforms(awsmodel.output_shape(operation), response, operation, problems)
    assert problems == []
