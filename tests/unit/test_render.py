"""`hpo-operator render`: offline validation and the exact request, for CI and GitOps."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from hpo_operator import __version__
from hpo_operator.cli import main as cli_main
from hpo_operator.cli import render
from hpo_operator.core.reconcile import create_request
from hpo_operator.core.types import ReconcileSettings, Resource
from hpo_operator.identity import SYSTEM_TAG_KEYS

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "xgboost-tuning.yaml"


def _run(capsys: pytest.CaptureFixture[str], *args: str, stdin: str = "") -> tuple[int, str, str]:
    code = render.main(list(args), stdin=io.StringIO(stdin))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _example() -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return manifest


def test_example_renders_the_exact_request_with_system_tags(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(capsys, str(EXAMPLE))
    assert (code, err) == (0, "")
    request = json.loads(out)
    assert request["HyperParameterTuningJobName"] == "xgboost-tuning"
    definition = request["TrainingJobDefinition"]
    assert definition["RoleArn"] == "arn:aws:iam::123456789012:role/SageMakerExecution"
    assert definition["ResourceConfig"] == {
        "InstanceType": "ml.m5.large",
        "InstanceCount": 1,
        "VolumeSizeInGB": 25,
    }
    assert request["Tags"] == [
        {"Key": "algorithm", "Value": "xgboost"},
        {"Key": "environment", "Value": "testing"},
        {"Key": "customer", "Value": "test-user"},
        {"Key": "services.k8s.aws/controller-version", "Value": f"hpo-operator-{__version__}"},
        {"Key": "services.k8s.aws/namespace", "Value": "default"},
        {"Key": "services.k8s.aws/name", "Value": "xgboost-tuning"},
        # The uid tag is sent for every job; its value is the API server's to assign.
        {"Key": "services.k8s.aws/uid", "Value": ""},
    ]
    assert "null" not in out


def test_namespace_and_uid_from_metadata_and_stdin(capsys: pytest.CaptureFixture[str]) -> None:
    manifest = _example()
    manifest["metadata"].update(namespace="team-a", uid="0b7c-11")
    code, out, _ = _run(capsys, "-", stdin=yaml.safe_dump(manifest))
    assert code == 0
    tags = {t["Key"]: t["Value"] for t in json.loads(out)["Tags"]}
    assert tags["services.k8s.aws/namespace"] == "team-a"
    assert tags["services.k8s.aws/uid"] == "0b7c-11"


def test_multi_document_files_skip_other_kinds(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    second = _example()
    second["metadata"]["name"] = second["spec"]["hyperParameterTuningJobName"] = "second"
    path = tmp_path / "all.yaml"
    path.write_text(
        yaml.safe_dump_all(
            [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, _example()]
        )
        + "---\n"
        + yaml.safe_dump(second)
    )
    code, out, err = _run(capsys, str(path))
    assert code == 0
    assert err == f"{path}: skipping a ConfigMap document\n"
    names = [json.loads(chunk)["HyperParameterTuningJobName"] for chunk in _json_stream(out)]
    assert names == ["xgboost-tuning", "second"]


def _json_stream(text: str) -> list[str]:
    decoder = json.JSONDecoder()
    chunks, index = [], 0
    while index < len(text.rstrip()):
        _, end = decoder.raw_decode(text, index)
        chunks.append(text[index:end])
        index = end + 1
    return chunks


def test_invalid_manifest_exits_1_with_one_line_per_problem(
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = _example()
    manifest["spec"]["hyperParameterTuningJobConfig"]["resourceLimits"][
        "maxNumberOfTrainingJobs"
    ] = 0
    manifest["spec"]["trainingJobDefinition"]["resourceConfig"]["instanceCont"] = 1
    code, out, err = _run(capsys, "-", stdin=yaml.safe_dump(manifest))
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "spec.hyperParameterTuningJobConfig.resourceLimits.maxNumberOfTrainingJobs: must be ≥ 1",
        "spec.trainingJobDefinition.resourceConfig.instanceCont: unknown field",
    ]


def test_metadata_and_api_version_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    manifest = _example()
    manifest["apiVersion"] = "sagemaker.services.k8s.aws/v1"
    del manifest["metadata"]["name"]
    code, _, err = _run(capsys, "-", stdin=yaml.safe_dump(manifest))
    assert code == 1
    assert err.splitlines() == [
        "apiVersion: must be sagemaker.services.k8s.aws/v1alpha1",
        "metadata.name: is required",
    ]


def test_system_tags_count_against_the_tag_limit(capsys: pytest.CaptureFixture[str]) -> None:
    """F4: 47 spec tags + the 4 system tags are 51: refused naming spec.tags and the 4 added."""
    manifest = _example()
    manifest["spec"]["tags"] = [{"key": f"k{i}", "value": "v"} for i in range(47)]
    code, _, err = _run(capsys, "-", stdin=yaml.safe_dump(manifest))
    assert code == 1
    assert err.splitlines() == [
        "spec.tags: must have at most 46 items, not 47: the operator adds 4 system tags "
        "(services.k8s.aws/controller-version, services.k8s.aws/namespace, "
        "services.k8s.aws/name, services.k8s.aws/uid) and AWS allows 50 in all"
    ]
    manifest["spec"]["tags"] = manifest["spec"]["tags"][:46]
    code, out, _ = _run(capsys, "-", stdin=yaml.safe_dump(manifest))
    assert code == 0 and len(json.loads(out)["Tags"]) == 50


def test_render_counts_the_system_tags_the_operator_sends(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """F4: render's request carries exactly the system tag keys of the operator's Create."""
    manifest = _example()
    code, out, _ = _run(capsys, str(EXAMPLE))
    rendered = [t["Key"] for t in json.loads(out)["Tags"] if t["Key"].startswith("services.")]
    resource = Resource("default", "xgboost-tuning", "uid-1", 1, manifest["spec"], {})
    sent = create_request(resource, ReconcileSettings(operator_version=__version__))["Tags"]
    operator = [t["Key"] for t in sent if t["Key"].startswith("services.")]
    assert code == 0 and rendered == operator == list(SYSTEM_TAG_KEYS)


def test_region_from_the_annotation_or_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """F7: the role's partition is checked against the region the job would run in."""
    manifest = _example()
    manifest["metadata"]["annotations"] = {"services.k8s.aws/region": "cn-north-1"}
    code, _, err = _run(capsys, "-", stdin=yaml.safe_dump(manifest))
    assert code == 1
    assert err.splitlines() == [
        "spec.trainingJobDefinition.roleARN: must be a role of partition aws-cn "
        "(arn:aws-cn:iam::...), the partition of region cn-north-1, not aws"
    ]
    del manifest["metadata"]["annotations"]
    text = yaml.safe_dump(manifest)
    assert _run(capsys, "--region", "us-gov-west-1", "-", stdin=text)[0] == 1
    assert _run(capsys, "--region", "eu-west-1", "-", stdin=text)[0] == 0
    assert _run(capsys, "-", stdin=text)[0] == 0  # no region known: left to the operator


def test_unreadable_input_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "-", stdin="spec: [unclosed\n")
    assert code == 2 and err.startswith("-: not valid YAML")
    assert len(err.splitlines()) == 1
    code, _, err = _run(capsys, str(tmp_path / "missing.yaml"))
    assert code == 2 and "cannot read" in err


def test_no_tuning_job_at_all_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "-", stdin="kind: ConfigMap\n")
    assert code == 1 and "no HyperParameterTuningJob found" in err


def test_cli_dispatches_to_render(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["render", str(EXAMPLE)]) == 0
    assert json.loads(capsys.readouterr().out)["HyperParameterTuningJobName"] == "xgboost-tuning"


def test_failing_example_is_valid_and_uses_the_fail_tag(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(REPO / "examples" / "failing-tuning.yaml"))
    assert code == 0
    image = json.loads(out)["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"]
    assert image.endswith(":fail")


def test_render_does_not_import_kopf_or_clients() -> None:
    code = (
        "import sys, hpo_operator.cli.render; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('kopf', 'kubernetes', 'boto3', 'aiohttp')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


# --- YAML read as kubectl reads it (kubeyaml; tests/cluster/test_kubeyaml_kubectl.py asks kubectl)

RANGES = "spec.hyperParameterTuningJobConfig.parameterRanges.continuousParameterRanges"


def _with_continuous_range(low: str, high: str) -> str:
    """The example with a learning-rate range written as SageMaker's image-classification
    notebooks write it."""
    ranges = (
        "      continuousParameterRanges:\n"
        "      - name: learning_rate\n"
        f"        minValue: {low}\n"
        f"        maxValue: {high}\n"
        "        scalingType: Logarithmic\n"
    )
    text = EXAMPLE.read_text()
    assert "      continuousParameterRanges: []\n" in text
    return text.replace("      continuousParameterRanges: []\n", ranges)


def test_an_unquoted_exponent_is_a_number_and_refused_naming_the_field(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(capsys, "-", stdin=_with_continuous_range("1e-6", "0.5"))
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"{RANGES}[0].minValue: must be a string (kubectl reads it as a number, 1e-06: quote it)",
        f"{RANGES}[0].maxValue: must be a string (kubectl reads it as a number, 0.5: quote it)",
    ]


def test_the_quoted_exponent_renders(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "-", stdin=_with_continuous_range('"1e-6"', "'0.5'"))
    assert (code, err) == (0, "")
    ranges = json.loads(out)["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["ContinuousParameterRanges"][0]["MinValue"] == "1e-6"


def test_yes_for_a_string_is_a_boolean(capsys: pytest.CaptureFixture[str]) -> None:
    text = EXAMPLE.read_text().replace("value: testing", "value: yes")
    code, _, err = _run(capsys, "-", stdin=text)
    assert code == 1
    assert err.splitlines() == [
        "spec.tags[1].value: must be a string (kubectl reads it as a boolean, true: quote it)"
    ]


def test_a_whole_float_in_an_integer_field_is_the_integer_the_server_reads(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = EXAMPLE.read_text().replace("volumeSizeInGB: 25", "volumeSizeInGB: 2.5e1")
    code, out, err = _run(capsys, "-", stdin=text)
    assert (code, err) == (0, "")
    volume = json.loads(out)["TrainingJobDefinition"]["ResourceConfig"]["VolumeSizeInGB"]
    assert (type(volume), volume) == (int, 25)


def test_what_kubectl_cannot_read_exits_2_naming_the_path(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(capsys, "-", stdin=_with_continuous_range(".nan", "0.5"))
    assert (code, out) == (2, "")
    assert err == (
        f"-: kubectl cannot read it: {RANGES}[0].minValue: "
        "json: unsupported value: NaN (not a JSON number)\n"
    )
    code, _, err = _run(capsys, "-", stdin=EXAMPLE.read_text() + "--- next\n")
    assert code == 2
    assert err == "-: kubectl cannot read it: invalid Yaml document separator: next\n"


def test_json_manifests_read_as_kubectl_reads_json(capsys: pytest.CaptureFixture[str]) -> None:
    manifest = _example()
    manifest["spec"]["trainingJobDefinition"]["resourceConfig"]["volumeSizeInGB"] = 25.0
    code, out, err = _run(capsys, "-", stdin=json.dumps(manifest))
    assert (code, err) == (0, "")
    volume = json.loads(out)["TrainingJobDefinition"]["ResourceConfig"]["VolumeSizeInGB"]
    assert (type(volume), volume) == (int, 25)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("hello\n", "document 1 is not an object"),
        ("[1, 2]\n", "document 1 is not an object"),
        ("a: 1\n", "document 1 has no kind"),
        ("kind: ConfigMap\n---\nkind: 5\n", "document 2 has no kind"),
        ("kind: List\nitems: [5]\n", "document 1, items[0] is not an object"),
        ("kind: List\nitems: [{a: 1}]\n", "document 1, items[0] has no kind"),
    ],
)
def test_a_document_kubectl_cannot_decode_exits_2(
    capsys: pytest.CaptureFixture[str], text: str, where: str
) -> None:
    """kubectl refuses the whole input at such a document, so render does too."""
    code, out, err = _run(capsys, "-", stdin=text + "---\n" + EXAMPLE.read_text())
    assert (code, out) == (2, "")
    assert err == f"-: kubectl cannot read it: {where}\n"
