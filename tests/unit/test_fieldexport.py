"""ACK's FieldExport, the pure part: which exports are ours, the jq path, the value, the target."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from hpo_operator.core import fieldexport
from hpo_operator.core.fieldexport import Export, PathError, QueryError, Refused
from hpo_operator.identity import GROUP

NOW = "2026-11-27T12:00:00Z"


def export_body(**to: Any) -> dict[str, Any]:
    target = {"kind": "configmap", "name": "best", **to}
    return {
        "metadata": {"namespace": "ns", "name": "exp", "uid": "u1", "generation": 1},
        "spec": {
            "from": {
                "path": ".status.bestTrainingJob.tunedHyperParameters",
                "resource": {"group": GROUP, "kind": "HyperParameterTuningJob", "name": "job"},
            },
            "to": {k: v for k, v in target.items() if v is not None},
        },
    }


def source(synced: str = "True", **status: Any) -> dict[str, Any]:
    conditions = [{"type": "ACK.ResourceSynced", "status": synced, "message": "Completed"}]
    return {"metadata": {"name": "job"}, "status": {"conditions": conditions, **status}}


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        (".", ()),
        (
            ".status.bestTrainingJob.trainingJobName",
            ("status", "bestTrainingJob", "trainingJobName"),
        ),
        (
            '.metadata.labels["app.kubernetes.io/name"]',
            ("metadata", "labels", "app.kubernetes.io/name"),
        ),
        ('.metadata."a b"', ("metadata", "a b")),
        (".status.conditions[0].type", ("status", "conditions", 0, "type")),
        (".a.[-1]", ("a", -1)),
    ],
)
def test_jq_path_expressions_are_read_as_jq_reads_them(path: str, steps: tuple[Any, ...]) -> None:
    assert fieldexport.parse_path(path) == steps


@pytest.mark.parametrize("path", ["", "status.x", ".a | .b", ".a[]", ".a[", ".a.", "..a", ".a[x]"])
def test_anything_else_is_not_a_path(path: str) -> None:
    with pytest.raises(PathError):
        fieldexport.parse_path(path)


def test_selecting_follows_jq_null_and_errors() -> None:
    doc = {"a": {"b": [1, 2]}, "s": "text"}
    assert fieldexport.select(doc, ("a", "b", -1)) == 2
    assert fieldexport.select(doc, ("a", "b", 5)) is None
    assert fieldexport.select(doc, ("missing", "deeper")) is None  # null indexes to null
    with pytest.raises(QueryError):
        fieldexport.select(doc, ("s", "x"))  # jq: cannot index string with "x"
    with pytest.raises(QueryError):
        fieldexport.select(doc, ("a", 0))


def test_values_are_rendered_as_ack_does_and_json_past_it() -> None:
    assert fieldexport.render("x") == "x"
    assert fieldexport.render(True) == "true"
    assert fieldexport.render(7) == "7"
    assert fieldexport.render(0.25) == "0.25"
    assert fieldexport.render({"eta": "0.2", "alpha": "1"}) == '{"alpha":"1","eta":"0.2"}'


def test_an_export_of_this_operators_job_is_read_with_acks_default_key() -> None:
    decided = fieldexport.read_export(export_body())
    assert isinstance(decided, Export)
    assert (decided.source, decided.kind, decided.target, decided.key) == (
        "job",
        "configmap",
        "best",
        "ns.exp",
    )
    keyed = fieldexport.read_export(export_body(key="hp", namespace="ns"))
    assert isinstance(keyed, Export) and keyed.key == "hp"


def test_another_controllers_export_is_left_alone() -> None:
    body = export_body()
    body["spec"]["from"]["resource"]["group"] = "s3.services.k8s.aws"
    assert fieldexport.read_export(body) is None
    body["spec"]["from"]["resource"] = {"group": GROUP, "kind": "TrainingJob", "name": "t"}
    assert fieldexport.read_export(body) is None


def test_a_target_in_another_namespace_is_refused_naming_the_field() -> None:
    refused = fieldexport.read_export(export_body(namespace="elsewhere"))
    assert isinstance(refused, Refused)
    assert refused.field == "spec.to.namespace"
    assert "'ns'" in refused.message and "'elsewhere'" in refused.message
    status = fieldexport.status(None, NOW, problem=refused)
    types = {c["type"]: c for c in status["conditions"]}
    assert types["ACK.Terminal"]["status"] == "True"
    assert types["ACK.Terminal"]["message"].startswith("spec.to.namespace: ")
    assert types["ACK.ResourceSynced"]["status"] == "False"
    assert [c["type"] for c in status["conditions"]] == ["ACK.Terminal", "ACK.ResourceSynced"]


def test_a_bad_path_is_terminal() -> None:
    body = export_body()
    body["spec"]["from"]["path"] = ".a | .b"
    refused = fieldexport.read_export(body)
    assert isinstance(refused, Refused) and refused.field == "spec.from.path"
    assert refused.message.startswith(fieldexport.BAD_PATH)


def test_the_value_waits_for_a_synced_source_and_an_existing_field() -> None:
    export = fieldexport.read_export(export_body())
    assert isinstance(export, Export)
    value, problem = fieldexport.value_of(export, source("False"))
    assert value is None and problem is not None and problem.field == ""
    assert problem.message.startswith(fieldexport.NOT_SYNCED)
    value, problem = fieldexport.value_of(export, source())
    assert value is None and problem is not None and problem.message.startswith(fieldexport.NO_PATH)
    recoverable = fieldexport.status(None, NOW, problem=problem)["conditions"]
    assert [c["type"] for c in recoverable] == ["ACK.Recoverable", "ACK.ResourceSynced"]
    best = {"bestTrainingJob": {"tunedHyperParameters": {"eta": "0.2"}}}
    assert fieldexport.value_of(export, source(**best)) == ('{"eta":"0.2"}', None)


def test_the_target_is_created_patched_or_left_as_it_is() -> None:
    export = fieldexport.read_export(export_body())
    assert isinstance(export, Export)
    created = fieldexport.write(export, None, "v")
    assert created is not None and created.create is not None
    assert created.create["kind"] == "ConfigMap"
    assert created.create["metadata"] == {"name": "best", "namespace": "ns"}
    assert created.create["data"] == {"ns.exp": "v"}
    patch = fieldexport.write(export, {"data": {"other": "x"}}, "v")
    assert patch is not None and patch.patch == {"data": {"ns.exp": "v"}}
    assert fieldexport.write(export, {"data": {"ns.exp": "v"}}, "v") is None


def test_a_secret_holds_the_value_in_base64() -> None:
    export = fieldexport.read_export(export_body(kind="secret"))
    assert isinstance(export, Export)
    created = fieldexport.write(export, None, "höhe")
    assert created is not None and created.create is not None
    assert created.create["kind"] == "Secret"
    assert base64.b64decode(created.create["data"]["ns.exp"]).decode() == "höhe"
    stored = {"data": {"ns.exp": base64.b64encode("höhe".encode()).decode()}}
    assert fieldexport.write(export, stored, "höhe") is None


def test_success_is_synced_and_keeps_its_transition_time() -> None:
    first = fieldexport.status(None, NOW, done="written")
    assert first["conditions"] == [
        {
            "type": "ACK.ResourceSynced",
            "status": "True",
            "reason": "Exported",
            "message": "written",
            "lastTransitionTime": NOW,
        }
    ]
    again = fieldexport.status(first, "2026-11-27T13:00:00Z", done="written")
    assert again == first
