"""Fuzzing `hpo-operator render`: valid specs render, broken ones name the broken field, and no
input at all (arbitrary JSON, arbitrary text on stdin) makes an exception escape.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st
from mutations import JSON, apply, mutations, related
from sizes import fuzz_settings

from hpo_operator.cli import kubeyaml, render
from hpo_operator.model.validate import validate_spec
from support.model_strategies import valid_specs

pytestmark = pytest.mark.timeout(3600)  # 1,000 cases take minutes


def manifest(spec: Any, name: Any = "fuzzed") -> dict[str, Any]:
    return {
        "apiVersion": render.API_VERSION,
        "kind": "HyperParameterTuningJob",
        "metadata": {"name": name, "namespace": "fuzz", "uid": "0000-fuzz"},
        "spec": spec,
    }


@fuzz_settings(ci=12)
@given(valid_specs())
def test_a_valid_spec_always_renders(spec: dict[str, Any]) -> None:
    rendered = render.render_manifest(manifest(spec))
    assert rendered.problems == []
    assert rendered.request is not None
    assert rendered.request["HyperParameterTuningJobName"] == spec["hyperParameterTuningJobName"]


@fuzz_settings(ci=12)
@given(st.data())
def test_one_broken_field_is_named_and_nothing_escapes(data: st.DataObject) -> None:
    spec = data.draw(valid_specs())
    mutation = data.draw(mutations(spec))
    broken = apply(spec, mutation)
    rendered = render.render_manifest(manifest(broken))
    if not rendered.problems:  # the change left a valid spec (an optional field removed, …)
        assert rendered.request is not None
        return
    assert rendered.request is None
    for problem in rendered.problems:
        assert problem.path and problem.message, problem
    assert any(related(p.path, mutation.path, p.message) for p in rendered.problems), (
        mutation,
        [str(p) for p in rendered.problems],
    )


@fuzz_settings(ci=150)
@given(JSON, JSON)
def test_arbitrary_json_never_raises_and_every_problem_has_a_path(spec: Any, name: Any) -> None:
    rendered = render.render_manifest(manifest(spec, name))
    if rendered.request is None:
        assert rendered.problems
    for problem in rendered.problems:
        assert problem.manifest_path() and problem.message
    if isinstance(spec, dict):
        validate_spec(spec)  # the operator's own entry point, on the same input


@fuzz_settings(ci=150)
@given(st.one_of(st.text(max_size=300), JSON.map(lambda v: yaml.safe_dump(v))))
def test_render_cli_on_arbitrary_stdin_exits_cleanly(text: str) -> None:
    code = render.main(["-"], stdin=io.StringIO(text))
    assert code in (0, 1, 2)


@fuzz_settings(ci=10)
@given(valid_specs(), st.data())
def test_render_cli_names_the_field_of_a_broken_manifest(
    spec: dict[str, Any], data: st.DataObject
) -> None:
    mutation = data.draw(mutations(spec))
    text = kubeyaml.dump(manifest(apply(spec, mutation)))  # quoted where kubectl needs it
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = render.main(["-"], stdin=io.StringIO(text))
    assert code in (0, 1)
    if code == 1:
        lines = err.getvalue().strip().splitlines()
        assert lines and all(line.startswith("spec") for line in lines), lines
    else:
        assert out.getvalue().strip().startswith("{")


_WHOLE_FLOAT_SPEC = {  # found by the full run: a whole float past 2**53 comes back an int
    "hyperParameterTuningJobConfig": {
        "resourceLimits": {"maxParallelTrainingJobs": 1},
        "strategy": "Bayesian",
        "tuningJobCompletionCriteria": {"targetObjectiveMetricValue": 7.142041819614106e16},
    },
    "hyperParameterTuningJobName": "0",
    "trainingJobDefinitions": [
        {
            "algorithmSpecification": {"trainingInputMode": "Pipe"},
            "outputDataConfig": {"s3OutputPath": "https://0"},
            "roleARN": "arn:aws:iam::000000000000:role0",
            "stoppingCondition": {},
        }
    ],
}


@fuzz_settings(ci=12)
@given(valid_specs())
@example(spec=_WHOLE_FLOAT_SPEC)
def test_a_valid_spec_written_for_kubectl_renders_the_same_request(spec: dict[str, Any]) -> None:
    """kubeyaml.dump quotes every string kubectl would misread, so render reads back the spec."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = render.main(["-"], stdin=io.StringIO(kubeyaml.dump(manifest(spec))))
    assert code == 0
    expected = render.render_manifest(manifest(spec)).request
    assert _as_floats(json.loads(out.getvalue())) == _as_floats(expected)


def _as_floats(value: Any) -> Any:
    """Numbers as the float64 that boto3 sends. Through kubectl, a whole float such as
    7.142041819614106e16 becomes the int its shortest digits spell, 71420418196141060, not the
    float's exact 71420418196141056: the same float64 again, not the same Python number."""
    if isinstance(value, dict):
        return {key: _as_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_floats(item) for item in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value
