"""Hypothesis strategies for HyperParameterTuningJob specs, built from botocore's model.

They read the same shapes as the CRD and the validator, with ACK field names from
naming.fields_of, then repair the few cross-field rules (one training job definition, ordered
numeric ranges, parallel ≤ total, objective among the metric definitions, unique tag keys and
range names, ...). Shared by the unit
property tests and the API-server test that the CRD accepts every valid spec.
"""

from __future__ import annotations

import re
from typing import Any

import regex
from botocore.model import Shape
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from hpo_operator.identity import SYSTEM_TAG_PREFIX
from hpo_operator.model import awsmodel
from hpo_operator.model.naming import fields_of
from hpo_operator.model.translate import spec_tag_limit
from hpo_operator.model.validate import java_pattern, matches

MAX_ITEMS = 2
PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)

# Python's re cannot read \p{..} or lookbehind: generate from a near pattern, keep only what the
# real pattern (applied by validate.matches) accepts. The near tag pattern holds letters, a space
# and a digit of other scripts, which AWS's \p{L}\p{Z}\p{N} accept.
_NEAR = {r"\p{L}\p{Z}\p{N}": "a-zA-Z0-9 \u00e9\u30c1\u0663\u00a0", "(?<!-)": ""}


def _string(shape: Shape) -> st.SearchStrategy[str]:
    enum = list(getattr(shape, "enum", None) or [])
    if enum:
        return st.sampled_from(enum)
    low = shape.metadata.get("min", 0)
    high = min(shape.metadata.get("max", 40), 60)
    pattern = shape.metadata.get("pattern")
    if pattern is None:
        return st.text(min_size=low, max_size=high)
    near = pattern
    for original, replacement in _NEAR.items():
        near = near.replace(original, replacement)
    strategy = st.from_regex(re.compile(near, re.ASCII), fullmatch=True)
    return strategy.filter(lambda s: low <= len(s) <= high and matches(pattern, s))


def _number(shape: Shape, integer: bool) -> st.SearchStrategy[Any]:
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    if integer:
        return st.integers(
            min_value=low if low is not None else -(2**31),
            max_value=high if high is not None else 2**31,
        )
    return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)


def value_for(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """A valid manifest value (ACK names) for a shape, from its constraints alone."""
    kind = shape.type_name
    if kind == "structure":
        table = fields_of(shape)
        required = {field for field, member in table.items() if member in shape.required_members}
        optional = sorted(set(table) - required)

        @st.composite
        def build(draw: st.DrawFn) -> dict[str, Any]:
            chosen = sorted(required)  # not set order: derandomized runs must draw alike
            if depth < 6:
                chosen += (
                    draw(st.lists(st.sampled_from(optional), unique=True, max_size=4))
                    if (optional)
                    else []
                )
            return {
                field: draw(value_for(shape.members[table[field]], depth + 1)) for field in chosen
            }

        return build()
    if kind == "list":
        low = shape.metadata.get("min", 0)
        high = min(shape.metadata.get("max", MAX_ITEMS), max(low, MAX_ITEMS))
        return st.lists(value_for(shape.member, depth + 1), min_size=low, max_size=high)
    if kind == "map":
        low = shape.metadata.get("min", 0)
        high = min(shape.metadata.get("max", MAX_ITEMS), max(low, MAX_ITEMS))
        return st.dictionaries(
            _string(shape.key), value_for(shape.value, depth + 1), min_size=low, max_size=high
        )
    if kind == "string":
        return _string(shape)
    if kind in ("integer", "long"):
        return _number(shape, integer=True)
    if kind in ("float", "double"):
        return _number(shape, integer=False)
    if kind == "boolean":
        return st.booleans()
    raise AssertionError(f"no strategy for {kind}")


@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = draw(value_for(awsmodel.input_shape(awsmodel.CREATE)))
    definition = draw(value_for(awsmodel.shape("HyperParameterTrainingJobDefinition")))
    if draw(st.booleans()):
        spec["trainingJobDefinition"] = definition
        spec.pop("trainingJobDefinitions", None)
    else:
        spec["trainingJobDefinitions"] = [definition]
        spec.pop("trainingJobDefinition", None)
    config = spec["hyperParameterTuningJobConfig"]
    limits = config["resourceLimits"]
    if "maxNumberOfTrainingJobs" in limits:
        limits["maxNumberOfTrainingJobs"] = max(
            limits["maxNumberOfTrainingJobs"], limits["maxParallelTrainingJobs"]
        )
    # The strategy rules: early stopping is Off under Hyperband, StrategyConfig only with it,
    # and Grid searches categorical ranges only.
    strategy = config.get("strategy")
    if strategy == "Hyperband" and config.get("trainingJobEarlyStoppingType") == "Auto":
        config["trainingJobEarlyStoppingType"] = "Off"
    if strategy != "Hyperband":
        config.pop("strategyConfig", None)
    for ranges in _all_ranges(spec):
        if strategy == "Grid":
            ranges.pop("integerParameterRanges", None)
            ranges.pop("continuousParameterRanges", None)
        kinds = (
            "integerParameterRanges",
            "continuousParameterRanges",
            "categoricalParameterRanges",
        )
        room = 30  # hyperparameters over all the kinds of one ParameterRanges
        for kind in kinds:
            if kind in ranges:
                ranges[kind] = ranges[kind][:room]
                room -= len(ranges[kind])
        for kind, integer in (
            ("integerParameterRanges", True),
            ("continuousParameterRanges", False),
        ):
            for item in ranges.get(kind, []):
                low = draw(st.integers(1, 50)) if integer else draw(st.floats(0.01, 0.4))
                high = low + (draw(st.integers(0, 50)) if integer else draw(st.floats(0, 0.5)))
                item["minValue"], item["maxValue"] = str(low), str(high)
                if integer and item.get("scalingType") == "ReverseLogarithmic":
                    item["scalingType"] = draw(st.sampled_from(["Auto", "Linear", "Logarithmic"]))
    _unique_names(spec)
    _tags_the_operator_sends(spec)
    for where in _definitions(spec):
        flexible = where.get("hyperParameterTuningResourceConfig", {})
        if "instanceConfigs" in flexible:  # then not the single-instance fields
            for field in ("instanceType", "volumeSizeInGB", "instanceCount"):
                flexible.pop(field, None)
        stopping = where.get("stoppingCondition", {})
        if "maxWaitTimeInSeconds" in stopping and "maxRuntimeInSeconds" in stopping:
            stopping["maxWaitTimeInSeconds"] = max(
                stopping["maxWaitTimeInSeconds"], stopping["maxRuntimeInSeconds"]
            )
        # Regions under test are in the aws partition: the role is too.
        where["roleARN"] = re.sub(r"^arn:[^:]*:", "arn:aws:", where["roleARN"])
        for metric in where.get("algorithmSpecification", {}).get("metricDefinitions", []):
            try:
                regex.compile(java_pattern(metric["regex"]), regex.V1)
            except regex.error:
                metric["regex"] = regex.escape(metric["regex"])
        algorithm = where.get("algorithmSpecification", {})
        if "algorithmName" in algorithm and "trainingImage" in algorithm:
            del algorithm[draw(st.sampled_from(["algorithmName", "trainingImage"]))]
        metrics = where.get("algorithmSpecification", {}).get("metricDefinitions")
        if metrics:
            name = metrics[0]["name"]
            where.get("tuningObjective", {}).update(metricName=name)
            if "tuningObjective" not in where and "hyperParameterTuningJobObjective" in config:
                config["hyperParameterTuningJobObjective"]["metricName"] = name
            if "tuningObjective" not in where and "hyperParameterTuningJobObjective" not in config:
                where["tuningObjective"] = {"type_": "Maximize", "metricName": name}
    return spec


_NAMED = (
    "integerParameterRanges",
    "continuousParameterRanges",
    "categoricalParameterRanges",
    "autoParameters",
)


def _unique_names(spec: dict[str, Any]) -> None:
    """Each hyperparameter searched by one range, and none both searched and static."""
    for ranges in _all_ranges(spec):
        seen: set[str] = set()
        for kind in _NAMED:
            for index, item in enumerate(ranges.get(kind, [])):
                while item["name"] in seen:
                    item["name"] = f"{item['name']}.{index}"
                seen.add(item["name"])
    config = spec["hyperParameterTuningJobConfig"]
    for where in _definitions(spec):
        spaces = [where.get("hyperParameterRanges") or {}]
        if "trainingJobDefinition" in spec:
            spaces.append(config.get("parameterRanges") or {})
        tuned = {
            item["name"] for ranges in spaces for kind in _NAMED for item in ranges.get(kind, [])
        }
        static = where.get("staticHyperParameters") or {}
        for key in tuned & set(static):
            del static[key]


def _tags_the_operator_sends(spec: dict[str, Any]) -> None:
    """Unique keys, none AWS's (aws:) or the operator's own, room left for the system tags."""
    kept: dict[str, dict[str, Any]] = {}
    for tag in spec.get("tags", []):
        key = tag["key"]
        if not key.lower().startswith("aws:") and not key.startswith(SYSTEM_TAG_PREFIX):
            kept.setdefault(key, tag)
    if "tags" in spec:
        spec["tags"] = list(kept.values())[: spec_tag_limit()]


def _definitions(spec: dict[str, Any]) -> list[dict[str, Any]]:
    if "trainingJobDefinition" in spec:
        return [spec["trainingJobDefinition"]]
    return list(spec.get("trainingJobDefinitions", []))


def _all_ranges(spec: dict[str, Any]) -> list[dict[str, Any]]:
    config = spec["hyperParameterTuningJobConfig"]
    found = [config.get("parameterRanges")]
    found += [d.get("hyperParameterRanges") for d in _definitions(spec)]
    return [ranges for ranges in found if ranges]
