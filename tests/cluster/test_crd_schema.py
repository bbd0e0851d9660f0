"""The generated CRD on a real API server: it installs (also by client-side apply), it rejects a
bad spec at `kubectl apply` time, it never rejects what AWS would accept, and status written from
a Describe response survives structural pruning and feeds the printer columns."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from hpo_operator import identity
from hpo_operator.model import schema, translate
from support.kube import Kubectl
from support.model_strategies import valid_specs

REPO = Path(__file__).resolve().parents[2]
CRD = REPO / "crds" / schema.FILE_NAME
EXAMPLE = REPO / "examples" / "xgboost-tuning.yaml"


@pytest.fixture(scope="module")
def crd_installed(kubectl: Kubectl) -> str:
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD))
    # Poll rather than `kubectl wait`, which errors while the CRD has no conditions yet.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        crd = kubectl.json("get", "crd", identity.CRD_NAME)
        conditions = crd.get("status", {}).get("conditions") or []
        if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
            return identity.CRD_NAME
        time.sleep(0.2)
    raise AssertionError(f"{identity.CRD_NAME} not Established within 60 s: {conditions}")


def _example(name: str = "xgboost-tuning") -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    manifest["metadata"]["name"] = name
    manifest["spec"]["hyperParameterTuningJobName"] = name
    return manifest


def test_client_side_apply_fits_the_annotation_limit(kubectl: Kubectl, crd_installed: str) -> None:
    # Client-side apply stores the whole CRD in an annotation (256 KiB limit).
    result = kubectl("apply", "--dry-run=server", "-f", str(CRD))
    assert identity.CRD_NAME in result.stdout


def test_valid_example_applies(kubectl: Kubectl, crd_installed: str, namespace: str) -> None:
    kubectl.apply(_example(), "-n", namespace)
    got = kubectl.json("get", "hyperparametertuningjob", "xgboost-tuning", "-n", namespace)
    assert got["spec"]["trainingJobDefinition"]["roleARN"].endswith(":role/SageMakerExecution")
    assert (
        got["spec"]["hyperParameterTuningJobConfig"]["parameterRanges"]["integerParameterRanges"][
            0
        ]["minValue"]
        == "10"
    )


def test_open_enums_accept_new_values(kubectl: Kubectl, crd_installed: str, namespace: str) -> None:
    manifest = _example("new-instance-type")
    manifest["spec"]["trainingJobDefinition"]["resourceConfig"]["instanceType"] = "ml.z99.metal"
    kubectl.apply(manifest, "-n", namespace, "--dry-run=server")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda s: s["hyperParameterTuningJobConfig"]["resourceLimits"].update(
                maxNumberOfTrainingJobs=0
            ),
            "spec.hyperParameterTuningJobConfig.resourceLimits.maxNumberOfTrainingJobs",
        ),
        (
            lambda s: s["hyperParameterTuningJobConfig"].update(strategy="Genetic"),
            "spec.hyperParameterTuningJobConfig.strategy",
        ),
        (
            lambda s: s.update(hyperParameterTuningJobName="bad_name"),
            "spec.hyperParameterTuningJobName",
        ),
        (
            lambda s: s["trainingJobDefinition"].pop("roleARN"),
            "spec.trainingJobDefinition.roleARN",
        ),
        (
            lambda s: s["trainingJobDefinition"]["inputDataConfig"][0]["dataSource"][
                "s3DataSource"
            ].update(s3URI="not-s3://example-bucket/x"),
            "s3URI",
        ),
        (
            # AWS's 50 less the operator's system tags (issue 13, F4).
            lambda s: s.update(tags=[{"key": f"k{i}", "value": "v"} for i in range(47)]),
            "spec.tags: Too many: 47: must have at most 46 items",
        ),
        (
            lambda s: s.update(tags=[{"key": "team", "value": "a"}, {"key": "team", "value": "b"}]),
            "spec.tags: Invalid value: tag keys must be unique per resource",
        ),
        (
            lambda s: s.update(tags=[{"key": "services.k8s.aws/uid", "value": "u"}]),
            "spec.tags[0].key: Invalid value: keys under services.k8s.aws/ are the "
            "operator's own system tags",
        ),
        (
            lambda s: s.update(tags=[{"key": "AWS:cost-center", "value": "a"}]),
            "spec.tags[0].key: Invalid value: keys starting with aws: are reserved",
        ),
    ],
    ids=[
        "minimum",
        "enum",
        "pattern",
        "required",
        "anchored-pattern",
        "tags-beside-system-tags",
        "duplicate-tag-keys",
        "system-tag-key",
        "aws-tag-key",
    ],
)
def test_bad_spec_is_rejected_at_apply_time(
    kubectl: Kubectl, crd_installed: str, namespace: str, edit: Any, expected: str
) -> None:
    manifest = _example("bad")
    edit(manifest["spec"])
    result = kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        "--dry-run=server",
        input=json.dumps(manifest),
        check=False,
    )
    assert result.returncode != 0, "the API server accepted a spec that AWS would reject"
    assert expected in result.stderr, result.stderr


def test_tags_the_api_server_accepts(kubectl: Kubectl, crd_installed: str, namespace: str) -> None:
    """Any script (AWS's \\p{L}\\p{Z}\\p{N}), keys differing only in case, 46 tags."""
    manifest = _example("tags-ok")
    manifest["spec"]["tags"] = [
        {"key": "équipe", "value": "données"},
        {"key": "Team", "value": "a"},
        {"key": "team", "value": "機械学習 ٣"},
        {"key": "awsome", "value": "aws:value"},  # only keys are reserved
        *({"key": f"k{i}", "value": "v"} for i in range(42)),
    ]
    kubectl.apply(manifest, "-n", namespace, "--dry-run=server")


def test_status_from_describe_survives_pruning_and_feeds_columns(
    kubectl: Kubectl, crd_installed: str, namespace: str
) -> None:
    kubectl.apply(_example("with-status"), "-n", namespace)
    status = translate.describe_to_status(
        {
            "HyperParameterTuningJobStatus": "Completed",
            "CreationTime": "2024-01-02T03:04:05.123Z",
            "TrainingJobStatusCounters": {"Completed": 2, "InProgress": 0},
            "ObjectiveStatusCounters": {"Succeeded": 2},
            "BestTrainingJob": {
                "TrainingJobName": "with-status-002-abc",
                "TunedHyperParameters": {"num_round": "19"},
                "FinalHyperParameterTuningJobObjectiveMetric": {
                    "MetricName": "validation:error",
                    "Value": 0.125,
                },
            },
            "ConsumedResources": {"RuntimeInSeconds": 300},
        }
    )
    status["observedGeneration"] = 1
    status["ackResourceMetadata"] = {
        "arn": "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/with-status",
        "ownerAccountID": "123456789012",
        "region": "us-east-1",
    }
    status["conditions"] = [
        {
            "type": "ACK.ResourceSynced",
            "status": "True",
            "message": "Completed",
            "lastTransitionTime": "2024-01-02T03:09:05Z",
        }
    ]
    kubectl(
        "patch",
        "hyperparametertuningjob",
        "with-status",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )
    got = kubectl.json("get", "hyperparametertuningjob", "with-status", "-n", namespace)
    assert got["status"] == status  # nothing pruned
    table = kubectl(
        "get", "hyperparametertuningjob", "with-status", "-n", namespace, "-o", "wide"
    ).stdout.splitlines()
    header, row = table[0].split(), table[1].split()
    assert header[:6] == ["NAME", "STATUS", "BEST", "COMPLETED", "SYNCED", "AGE"]
    assert header[-1] == "FAILURE-REASON"
    assert row[1:5] == ["Completed", "0.125", "2", "True"]


def test_kubectl_explain_shows_the_aws_documentation(kubectl: Kubectl, crd_installed: str) -> None:
    field = "hyperparametertuningjobs.spec.trainingJobDefinition.roleARN"
    deadline = time.monotonic() + 60  # the OpenAPI document follows the CRD with a short lag
    explained = kubectl("explain", field, check=False)
    while explained.returncode != 0 and time.monotonic() < deadline:
        time.sleep(0.5)
        explained = kubectl("explain", field, check=False)
    text = explained.stdout
    assert explained.returncode == 0, explained.stderr
    assert "Amazon Resource Name" in text or "IAM role" in text, text
    assert "<" not in text.split("DESCRIPTION:", 1)[-1], text  # plain text, no HTML


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(spec=valid_specs())
def test_the_api_server_accepts_every_spec_the_model_allows(
    kubectl: Kubectl, crd_installed: str, spec: dict[str, Any]
) -> None:
    """CRD patterns run on Go RE2, validate.py on Python's regex: they must agree on valid input."""
    manifest = {
        "apiVersion": "sagemaker.services.k8s.aws/v1alpha1",
        "kind": "HyperParameterTuningJob",
        "metadata": {"name": "generated", "namespace": "default"},
        "spec": spec,
    }
    result = kubectl(
        "apply", "--dry-run=server", "-f", "-", input=json.dumps(manifest), check=False
    )
    assert result.returncode == 0, result.stderr
