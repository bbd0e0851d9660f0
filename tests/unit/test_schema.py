"""The generated CRD: committed copy up to date, constraints written, status unconstrained."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from botocore.model import ShapeResolver

from hpo_operator import identity
from hpo_operator.model import schema

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "crds" / schema.FILE_NAME


def _version() -> dict[str, Any]:
    versions: list[dict[str, Any]] = schema.crd()["spec"]["versions"]
    return versions[0]


def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = _version()["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return spec


def _at(node: dict[str, Any], *path: str) -> dict[str, Any]:
    for key in path:
        node = node["items"] if key == "[]" else node["properties"][key]
    return node


def _walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = [node]
    for child in (node.get("properties") or {}).values():
        found += _walk(child)
    if "items" in node:
        found += _walk(node["items"])
    if isinstance(node.get("additionalProperties"), dict):
        found += _walk(node["additionalProperties"])
    return found


def test_committed_crd_is_not_stale() -> None:
    assert CRD_FILE.read_text(encoding="utf-8") == schema.render_yaml(), (
        "crds/ is stale: run `make crds` and commit the result"
    )


def test_main_writes_the_file_and_prints_the_same(tmp_path: Path, capsys: Any) -> None:
    assert schema.main(["--output-dir", str(tmp_path)]) == 0
    written = (tmp_path / schema.FILE_NAME).read_text(encoding="utf-8")
    assert schema.main([]) == 0
    assert capsys.readouterr().out == written
    assert yaml.safe_load(written.split("---\n", 1)[1])["metadata"]["name"] == identity.CRD_NAME


def test_crd_is_far_below_the_client_side_apply_annotation_limit() -> None:
    assert len(schema.render_yaml().encode()) < 192 * 1024


def test_names_version_and_subresources() -> None:
    spec = schema.crd()["spec"]
    assert spec["group"] == "sagemaker.services.k8s.aws"
    assert spec["names"]["kind"] == "HyperParameterTuningJob"
    assert spec["names"]["plural"] == "hyperparametertuningjobs"
    version = _version()
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}


def test_printer_columns() -> None:
    columns = {c["name"]: c for c in _version()["additionalPrinterColumns"]}
    assert list(columns) == ["STATUS", "BEST", "COMPLETED", "SYNCED", "AGE", "FAILURE-REASON"]
    assert columns["FAILURE-REASON"]["priority"] == 1
    assert columns["SYNCED"]["jsonPath"] == (
        '.status.conditions[?(@.type=="ACK.ResourceSynced")].status'
    )
    assert columns["BEST"]["jsonPath"].endswith("finalHyperParameterTuningJobObjectiveMetric.value")


def test_constraints_from_the_model() -> None:
    spec = _spec()
    assert spec["required"] == ["hyperParameterTuningJobName", "hyperParameterTuningJobConfig"]
    limits = _at(spec, "hyperParameterTuningJobConfig", "resourceLimits")
    assert limits["required"] == ["maxParallelTrainingJobs"]
    assert limits["properties"]["maxNumberOfTrainingJobs"]["minimum"] == 1
    runtime = limits["properties"]["maxRuntimeInSeconds"]
    assert (runtime["minimum"], runtime["maximum"]) == (120, 15768000)
    name = _at(spec, "hyperParameterTuningJobName")
    assert (name["minLength"], name["maxLength"]) == (1, 32)
    assert name["pattern"] == "^(?:[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31})$"
    channels = _at(spec, "trainingJobDefinition", "inputDataConfig")
    assert (channels["minItems"], channels["maxItems"]) == (1, 20)
    static = _at(spec, "trainingJobDefinition", "staticHyperParameters")
    assert static["maxProperties"] == 100
    assert static["additionalProperties"]["type"] == "string"


def test_enums_only_for_closed_sets() -> None:
    spec = _spec()
    config = _at(spec, "hyperParameterTuningJobConfig")
    assert _at(config, "strategy")["enum"] == ["Bayesian", "Random", "Hyperband", "Grid"]
    assert _at(config, "hyperParameterTuningJobObjective", "type_")["enum"] == [
        "Maximize",
        "Minimize",
    ]
    scaling = _at(config, "parameterRanges", "integerParameterRanges", "[]", "scalingType")
    assert "Logarithmic" in scaling["enum"]
    resources = _at(spec, "trainingJobDefinition", "resourceConfig")
    assert "enum" not in _at(resources, "instanceType")  # AWS adds instance types all the time
    tuning = _at(spec, "trainingJobDefinition", "hyperParameterTuningResourceConfig")
    assert "enum" not in _at(tuning, "allocationStrategy")  # one value: a placeholder AWS grows
    channel = _at(spec, "trainingJobDefinition", "inputDataConfig", "[]")
    assert _at(channel, "compressionType")["enum"] == ["None", "Gzip"]


def test_patterns_are_anchored_and_re2_compatible() -> None:
    patterns = [node["pattern"] for node in _walk(_spec()) if "pattern" in node]
    assert patterns
    for pattern in patterns:
        assert pattern.startswith("^(?:") and pattern.endswith(")$")
        assert not re.search(r"\(\?<[=!]", pattern), pattern  # RE2 has no lookbehind
    algorithm = _at(_spec(), "trainingJobDefinition", "algorithmSpecification", "algorithmName")
    assert "pattern" not in algorithm  # its AWS pattern ends in a lookbehind: left to validate.py


def test_re2_pattern() -> None:
    assert schema.re2_pattern("[a-z]+") == "^(?:[a-z]+)$"
    assert schema.re2_pattern("a(?<!-)") is None
    assert schema.re2_pattern("(?=x)x") is None
    assert schema.re2_pattern(r"(a)\1") is None


def test_types() -> None:
    spec = _spec()
    definition = _at(spec, "trainingJobDefinition")
    assert _at(definition, "enableNetworkIsolation")["type"] == "boolean"
    assert _at(definition, "inputDataConfig", "[]", "shuffleConfig", "seed")["format"] == "int64"
    target = _at(spec, "hyperParameterTuningJobConfig", "tuningJobCompletionCriteria")
    assert _at(target, "targetObjectiveMetricValue")["type"] == "number"
    assert "environment" in definition["properties"]  # ACK leaves it out; we do not


def test_status_fields_and_no_constraints() -> None:
    status = _version()["schema"]["openAPIV3Schema"]["properties"]["status"]
    properties = status["properties"]
    for field in (
        "ackResourceMetadata",
        "hyperParameterTuningJobStatus",
        "bestTrainingJob",
        "overallBestTrainingJob",
        "failureReason",
        "conditions",
        "observedGeneration",
        "trainingJobStatusCounters",
        "objectiveStatusCounters",
        "creationTime",
        "hyperParameterTuningEndTime",
        "lastModifiedTime",
        "consumedResources",
        "tuningJobCompletionDetails",
    ):
        assert field in properties, field
    assert set(properties["ackResourceMetadata"]["properties"]) == {
        "arn",
        "ownerAccountID",
        "region",
        "partition",
    }
    assert properties["creationTime"]["format"] == "date-time"
    assert _at(properties["trainingJobStatusCounters"], "completed")["type"] == "integer"
    for node in _walk(status):
        for key in ("pattern", "enum", "minimum", "maximum", "minLength", "maxLength"):
            assert key not in node, (key, node)


def test_plain_text_descriptions() -> None:
    html = "<p>The <code>RoleArn</code> of the job &amp; more.</p> <p>Second paragraph.</p>"
    assert schema.plain_text(html) == "The RoleArn of the job & more."
    long = "<p>" + "word " * 200 + "</p>"
    text = schema.plain_text(long, limit=100)
    assert len(text) <= 100 and text.endswith("…")
    assert schema.plain_text("") == ""
    file_system = _at(
        _spec(),
        "trainingJobDefinition",
        "inputDataConfig",
        "[]",
        "dataSource",
        "fileSystemDataSource",
        "fileSystemType",
    )
    assert file_system["description"].endswith("Known values: EFS, FSxLustre.")
    assert "enum" not in file_system
    role = _at(_spec(), "trainingJobDefinition", "roleARN")
    assert "<" not in role["description"] and role["description"]


def test_recursive_shapes_are_cut_with_preserve_unknown_fields() -> None:
    resolver = ShapeResolver(
        {
            "Node": {
                "type": "structure",
                "members": {"Name": {"shape": "Name"}, "Children": {"shape": "Nodes"}},
            },
            "Nodes": {"type": "list", "member": {"shape": "Node"}},
            "Name": {"type": "string", "min": 1},
        }
    )
    node = schema.shape_schema(resolver.get_shape_by_name("Node"), constrained=True)
    children = node["properties"]["children"]
    assert children["type"] == "array"
    assert children["items"] == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert node["properties"]["name"]["minLength"] == 1
