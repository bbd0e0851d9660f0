"""Conformance with ACK: its CRD, its sample manifests and its Describe fixtures.

Reads ../shared (ACK's CRD, e2e sample, unit-test fixtures; the SageMaker API reference) at test
time and skips when it is absent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hpo_operator import identity
from hpo_operator.model import schema, translate, validate

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
ACK = SHARED / "ack"
FIXTURES = ACK / "unit_testdata"
REFERENCE = SHARED / "reference" / "CreateHyperParameterTuningJob.api-reference.txt"

pytestmark = pytest.mark.skipif(not ACK.is_dir(), reason="../shared/ack is absent")

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ACK_ZERO_TIME = "0001-01-01T00:00:00Z"  # ACK's test harness zeroes every timestamp


def _schema_paths(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, Any, Any]]:
    yield path, node.get("type"), node.get("format")
    for key, child in (node.get("properties") or {}).items():
        yield from _schema_paths(child, f"{path}.{key}")
    if "items" in node:
        yield from _schema_paths(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _schema_paths(node["additionalProperties"], f"{path}{{}}")


def test_crd_is_a_superset_of_acks() -> None:
    ack = yaml.safe_load((ACK / f"{identity.GROUP}_{identity.PLURAL}.yaml").read_text())
    theirs = ack["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    ours = schema.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    mine = {path: (kind, fmt) for path, kind, fmt in _schema_paths(ours)}
    checked = 0
    for path, kind, fmt in _schema_paths(theirs):
        assert path in mine, f"ACK's {path} is missing"
        assert mine[path] == (kind, fmt), f"{path}: ACK has {(kind, fmt)}, ours {mine[path]}"
        checked += 1
    assert checked > 300  # spec and status, not an empty walk
    assert ".spec.trainingJobDefinition.environment" in mine  # and more than ACK
    assert ack["spec"]["names"].get("shortNames") is None  # ACK has none; neither do we


# --- ACK's manifests → requests that the API reference documents -------------------------------


def _reference_syntax() -> Any:
    """The Request Syntax block of the API reference, with its `number`/`boolean` placeholders
    turned into strings so it parses as JSON."""
    line = next(
        line for line in REFERENCE.read_text().splitlines() if line.startswith('{ "Autotune"')
    )
    return json.loads(re.sub(r":\s*(number|boolean)\b", r': "<\1>"', line))


_PYTHON_TYPES = {"string": str, "<number>": (int, float), "<boolean>": bool}


def _check_against_reference(value: Any, syntax: Any, path: str) -> None:
    if isinstance(syntax, dict) and list(syntax) == ["string"]:  # a map: keys are data
        assert isinstance(value, dict), path
        for key, item in value.items():
            _check_against_reference(item, syntax["string"], f"{path}.{key}")
    elif isinstance(syntax, dict):
        assert isinstance(value, dict), path
        for key, item in value.items():
            assert key in syntax, f"{path}.{key} is not a member the API reference documents"
            _check_against_reference(item, syntax[key], f"{path}.{key}")
    elif isinstance(syntax, list):
        assert isinstance(value, list), path
        for index, item in enumerate(value):
            _check_against_reference(item, syntax[0], f"{path}[{index}]")
    else:
        expected = _PYTHON_TYPES[syntax]
        assert isinstance(value, expected), f"{path}: {value!r} is not {syntax}"
        assert not (syntax == "<number>" and isinstance(value, bool)), path


def _e2e_sample() -> dict[str, Any]:
    text = (ACK / "e2e_xgboost_hpojob.yaml").read_text()
    for var, value in {
        "HPO_JOB_NAME": "xgboost-tuning",
        "XGBOOST_IMAGE_URI": "433757028032.dkr.ecr.us-west-2.amazonaws.com/xgboost:1",
        "SAGEMAKER_EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/SageMakerExecution",
        "SAGEMAKER_DATA_BUCKET": "example-bucket",
    }.items():
        text = text.replace(f"${var}", value)
    manifest: dict[str, Any] = yaml.safe_load(text)
    return manifest


DESIRED = (
    sorted(p.name for p in FIXTURES.glob("v1alpha1_create_desired_*.yaml")) if ACK.is_dir() else []
)
# ACK's own fixtures that AWS would reject, and the only problem each has.
KNOWN_INVALID = {
    "v1alpha1_create_desired_invalid_before_create.yaml": [
        "spec.hyperParameterTuningJobName: must match pattern [a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}"
    ],
    "v1alpha1_create_desired_success_before_create_variation.yaml": [
        "spec.hyperParameterTuningJobName: must be at most 32 characters long"
    ],
}


@pytest.mark.parametrize("name", DESIRED)
def test_ack_desired_manifests_translate_to_documented_requests(name: str) -> None:
    spec = yaml.safe_load((FIXTURES / name).read_text())["spec"]
    assert [str(p) for p in validate.validate_spec(spec)] == KNOWN_INVALID.get(name, [])
    request = translate.spec_to_request(spec)
    _check_against_reference(request, _reference_syntax(), "request")
    problems = [p for p in validate.validate_request("CreateHyperParameterTuningJob", request)]
    assert len(problems) == len(KNOWN_INVALID.get(name, []))


def test_e2e_sample_translates_exactly() -> None:
    spec = _e2e_sample()["spec"]
    assert validate.validate_spec(spec) == []
    request = translate.spec_to_request(spec)
    _check_against_reference(request, _reference_syntax(), "request")
    assert validate.validate_request("CreateHyperParameterTuningJob", request) == []
    definition = request["TrainingJobDefinition"]
    assert definition["RoleArn"] == "arn:aws:iam::123456789012:role/SageMakerExecution"
    assert definition["StaticHyperParameters"] == {"base_score": "0.5"}
    source = definition["InputDataConfig"][0]["DataSource"]["S3DataSource"]
    assert source["S3Uri"] == "s3://example-bucket/sagemaker/training/train"
    ranges = request["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["IntegerParameterRanges"] == [
        {"Name": "num_round", "MinValue": "10", "MaxValue": "20", "ScalingType": "Linear"}
    ]
    assert ranges["ContinuousParameterRanges"] == []
    objective = request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    assert objective == {"Type": "Minimize", "MetricName": "validation:error"}
    assert definition["ResourceConfig"]["InstanceCount"] == 1
    assert definition["EnableInterContainerTrafficEncryption"] is False
    assert request["Tags"][0] == {"Key": "algorithm", "Value": "xgboost"}
    assert "null" not in json.dumps(request)


# --- ACK's Describe fixtures → status ----------------------------------------------------------


def _fixture_file(reference: str) -> Path:
    return FIXTURES / reference.replace("/", "_")


def _describe_pairs() -> list[tuple[str, str]]:
    if not ACK.is_dir():
        return []
    suite = yaml.safe_load((FIXTURES / "test_suite.yaml").read_text())
    pairs = []
    for group in suite["tests"]:
        for scenario in group["scenarios"]:
            outputs = [
                call["output_fixture"]
                for call in scenario["given"].get("svc_api") or []
                if call["operation"].startswith("DescribeHyperParameterTuningJob")
                and "output_fixture" in call
            ]
            latest = (scenario.get("expect") or {}).get("latest_state")
            if outputs and latest and scenario.get("invoke") == "ReadOne":
                pairs.append((outputs[0], latest))
    return list(dict.fromkeys(pairs))  # ReadOne=Warmpool repeats a pair


def _assert_status_matches(ours: Any, theirs: Any, path: str) -> None:
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), path
        for key, value in theirs.items():
            assert key in ours, f"{path}.{key} missing from our status"
            _assert_status_matches(ours[key], value, f"{path}.{key}")
    elif theirs == ACK_ZERO_TIME:
        assert isinstance(ours, str) and RFC3339.match(ours), f"{path}: {ours!r}"
    else:
        assert ours == theirs, f"{path}: ours {ours!r}, ACK {theirs!r}"


PAIRS = _describe_pairs()


def test_suite_pairs_found() -> None:
    assert len(PAIRS) >= 6


@pytest.mark.parametrize(("describe", "observed"), PAIRS)
def test_describe_fixture_maps_to_acks_status(describe: str, observed: str) -> None:
    response = json.loads(_fixture_file(describe).read_text())
    status = translate.describe_to_status(response)
    expected = yaml.safe_load(_fixture_file(observed).read_text())["status"]
    for key, value in expected.items():
        if key in ("ackResourceMetadata", "conditions"):
            continue  # the reconciler's, not Describe's
        assert key in status, key
        _assert_status_matches(status[key], value, f"status.{key}")
    assert "null" not in json.dumps(status)
    for key in ("creationTime", "lastModifiedTime"):
        assert RFC3339.match(status[key]), status[key]
    declared = schema.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert set(status) <= set(declared["properties"]["status"]["properties"])
