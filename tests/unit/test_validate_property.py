"""Property tests: specs generated from the model's own constraints (model_strategies.py) are
accepted, and breaking one constraint yields a Problem that names the broken field."""

from __future__ import annotations

import copy
from typing import Any

from botocore.model import Shape
from hypothesis import given
from hypothesis import strategies as st

from hpo_operator.model import awsmodel, translate
from hpo_operator.model.naming import fields_of
from hpo_operator.model.validate import validate_request, validate_spec
from support.model_strategies import PROPERTY_SETTINGS, valid_specs


@PROPERTY_SETTINGS
@given(valid_specs())
def test_no_valid_spec_is_rejected(spec: dict[str, Any]) -> None:
    assert validate_spec(spec) == []
    assert validate_request(awsmodel.CREATE, translate.spec_to_request(spec)) == []


def _leaves(shape: Shape, value: Any, path: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], Shape]]:
    """(path, shape) of every constrained scalar in a generated spec."""
    kind = shape.type_name
    if kind == "structure":
        table = fields_of(shape)
        found = []
        for key, item in value.items():
            found += _leaves(shape.members[table[key]], item, (*path, key))
        return found
    if kind == "list":
        found = []
        for index, item in enumerate(value):
            found += _leaves(shape.member, item, (*path, index))
        return found
    if kind == "map":
        return []
    meta = shape.metadata
    constrained = awsmodel.closed_enum(shape) or "min" in meta or "max" in meta
    return [(path, shape)] if constrained or kind == "boolean" else []


def _broken(shape: Shape) -> Any:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "boolean":
        return "yes"
    if kind == "string":
        if awsmodel.closed_enum(shape):
            return "NotOneOfThem"
        if "max" in meta:
            return "a" * (meta["max"] + 1)
        return ""  # a string leaf with only `min` has min ≥ 1 here (filtered below)
    if "min" in meta:
        return meta["min"] - 1
    return meta["max"] + 1


def _breakable(shape: Shape) -> bool:
    if (
        shape.type_name == "string"
        and not awsmodel.closed_enum(shape)
        and "max" not in shape.metadata
    ):
        return bool(shape.metadata.get("min"))
    if shape.type_name in ("integer", "long", "float", "double"):
        return "min" in shape.metadata or "max" in shape.metadata
    return True


@PROPERTY_SETTINGS
@given(valid_specs(), st.data())
def test_breaking_a_constraint_names_the_field(spec: dict[str, Any], data: st.DataObject) -> None:
    leaves = [
        (path, shape)
        for path, shape in _leaves(awsmodel.input_shape(awsmodel.CREATE), spec, ())
        if _breakable(shape)
    ]
    path, shape = data.draw(st.sampled_from(leaves))
    broken = copy.deepcopy(spec)
    node: Any = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = _broken(shape)
    named = {problem.path for problem in validate_spec(broken)}
    assert ("spec", *path) in named


@PROPERTY_SETTINGS
@given(valid_specs(), st.text(alphabet="abcdefghijXYZ", min_size=1, max_size=8))
def test_an_unknown_field_is_reported(spec: dict[str, Any], field: str) -> None:
    config = spec["hyperParameterTuningJobConfig"]
    if field in fields_of(awsmodel.shape("HyperParameterTuningJobConfig")):
        return
    config[field] = 1
    problems = validate_spec(spec)
    assert [str(p) for p in problems] == [
        f"spec.hyperParameterTuningJobConfig.{field}: unknown field"
    ]
