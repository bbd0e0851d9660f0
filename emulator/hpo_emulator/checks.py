"""The emulator's own judgement of a request, as SageMaker's front end would give it.

Three layers, none shared with the operator (this module imports nothing from its validator,
translator or schema; a test holds that):

1. botocore's own `ParamValidator` (botocore.validate) over the operation's input shape: types,
   unknown members, required members, and the minimum lengths and values botocore checks.
   A wrong type or an unknown member is a `SerializationException` (the JSON cannot be read into
   the operation's input: AWS's front end answers so before it validates anything); the rest are
   constraint violations.
2. The model's traits that botocore leaves to the service: maximum lengths and values, list and
   map sizes, enums and `pattern`s (as whole-string matches, as AWS applies them).
3. The cross-field rules of CreateHyperParameterTuningJob that the API reference and the model's
   documentation state, each cited where it is checked (two are AWS behaviour the documents do
   not state in these words, and say so where they are checked).

Violations come back in AWS's words: `N validation error(s) detected: Value 'v' at 'a.b.1.member.c'
failed to satisfy constraint: Member must ...; ...`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import regex
from botocore.model import Shape
from botocore.validate import ParamValidator

from hpo_emulator import errors, model
from hpo_emulator.scope import partition_of

Path = tuple[str | int, ...]
CREATE = "CreateHyperParameterTuningJob"
_NAME_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_RANGE_KINDS = ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges")


@dataclass(frozen=True)
class Violation:
    """One broken constraint: where (member path), the value there, and AWS's phrase for it."""

    path: Path
    value: Any
    constraint: str

    def aws_path(self) -> str:
        """lowerCamel members, list items as 1-based `N.member`: `tags.1.member.key`."""
        parts: list[str] = []
        for segment in self.path:
            if isinstance(segment, int):
                parts.append(f"{segment + 1}.member")
            else:
                parts.append(segment[:1].lower() + segment[1:])
        return ".".join(parts)

    def text(self) -> str:
        """`Value 'v' at 'path' failed to satisfy constraint: Member must ...`."""
        return (
            f"Value {_shown(self.value)} at '{self.aws_path()}' failed to satisfy constraint: "
            f"{self.constraint}"
        )


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return "'" + (text if len(text) <= 200 else text[:197] + "...") + "'"


def message(violations: list[Violation]) -> str:
    """AWS's ValidationException message for these violations."""
    count = len(violations)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(v.text() for v in violations)


def without_nulls(value: Any) -> Any:
    """The request as AWS reads it: a JSON null member is a member not set."""
    if isinstance(value, Mapping):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def check(operation: str, request: Mapping[str, Any], region: str | None = None) -> dict[str, Any]:
    """The request with nulls dropped; raises the SerializationException or ValidationException
    AWS would answer, if any, for a request sent to `region` (None: the rules that need the
    region are not checked)."""
    params: dict[str, Any] = without_nulls(request)
    shape = model.input_shape(operation)
    violations = list(_botocore(shape, params))
    violations += _traits(shape, params, ())
    if operation == CREATE:
        violations += create_rules(params, region)
    if operation == "AddTags":
        violations += _tag_rules(params.get("Tags"))
    if operation == "DeleteTags":
        violations += _reserved_keys(params.get("TagKeys"))
    unique = list({v.text(): v for v in violations}.values())
    if unique:
        raise errors.validation(message(unique))
    return params


# --- 1. botocore's ParamValidator ---------------------------------------------------------------


def _path_of(name: str) -> Path:
    """botocore's parameter name (`.A.B[0].C`) as a path."""
    return tuple(
        int(index) if index else member for member, index in _NAME_PART.findall(name or "")
    )


def _at(document: Any, path: Path) -> Any:
    current = document
    for segment in path:
        if isinstance(segment, int):
            current = current[segment] if isinstance(current, list) else None
        else:
            current = current.get(segment) if isinstance(current, Mapping) else None
    return current


def _botocore(shape: Shape, params: Mapping[str, Any]) -> Iterator[Violation]:
    report = ParamValidator().validate(dict(params), shape)
    # ValidationErrors keeps (type, name, details) triples; generate_report() only has prose.
    found: list[tuple[str, str, dict[str, Any]]] = list(report._errors)
    for kind, name, details in found:
        path = _path_of(name)
        if kind == "unknown field":
            raise errors.ApiError(
                "SerializationException",
                f"Unknown member {details['unknown_param']!r} in "
                f"'{Violation(path, None, '').aws_path() or 'input'}'",
            )
        if kind in ("invalid type", "unable to encode to json", "invalid type for document"):
            shown = Violation(path, None, "").aws_path()
            raise errors.ApiError(
                "SerializationException",
                f"Cannot read the value at '{shown}' as the member's type "
                f"({', '.join(details.get('valid_types', [])) or kind})",
            )
    for kind, name, details in found:
        path = _path_of(name)
        if kind == "missing required field":
            yield Violation((*path, details["required_name"]), None, "Member must not be null")
        elif kind == "invalid length":
            yield Violation(
                path,
                details["param"],
                f"Member must have length greater than or equal to {details['min_allowed']}",
            )
        elif kind == "invalid range":
            yield Violation(
                path,
                details["param"],
                f"Member must have value greater than or equal to {details['min_allowed']}",
            )
        else:  # tagged unions and anything botocore adds later: its own words
            yield Violation(path, _at(params, path), f"Member is invalid ({kind})")


# --- 2. the model's traits that botocore leaves to the service --------------------------------


def _traits(shape: Shape, value: Any, path: Path) -> list[Violation]:
    if value is None:
        return []
    kind = shape.type_name
    out: list[Violation] = []
    if kind == "structure" and isinstance(value, Mapping):
        for member, item in value.items():
            if member in shape.members:
                out += _traits(shape.members[member], item, (*path, member))
    elif kind == "list" and isinstance(value, list):
        out += _max_size(shape, value, path)
        for index, item in enumerate(value):
            out += _traits(shape.member, item, (*path, index))
    elif kind == "map" and isinstance(value, Mapping):
        out += _max_size(shape, value, path)
        for key, item in value.items():
            out += _string(shape.key, key, (*path, key))
            out += _traits(shape.value, item, (*path, key))
    elif kind == "string" and isinstance(value, str):
        out += _string(shape, value, path)
    elif kind in ("integer", "long", "float", "double") and isinstance(value, int | float):
        high = shape.metadata.get("max")
        if high is not None and value > high:
            out.append(
                Violation(path, value, f"Member must have value less than or equal to {high}")
            )
    return out


def _max_size(shape: Shape, value: Any, path: Path) -> list[Violation]:
    high = shape.metadata.get("max")
    if high is not None and len(value) > high:
        return [Violation(path, value, f"Member must have length less than or equal to {high}")]
    return []


def _string(shape: Shape, value: Any, path: Path) -> list[Violation]:
    if not isinstance(value, str):
        return []
    out: list[Violation] = []
    enum = list(getattr(shape, "enum", None) or [])
    if enum and value not in enum:
        out.append(
            Violation(path, value, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        )
    high = shape.metadata.get("max")
    if high is not None and len(value) > high:
        out.append(Violation(path, value, f"Member must have length less than or equal to {high}"))
    pattern = shape.metadata.get("pattern")
    if pattern is not None and not _matches(pattern, value):
        out.append(
            Violation(path, value, f"Member must satisfy regular expression pattern: {pattern}")
        )
    return out


# java.util.regex, as AWS runs its patterns: \d \w \s and the POSIX \p{Alnum}-style classes match
# ASCII only, the \p{L}-style Unicode categories match every script. The `regex` module has one
# switch for all of them, so the ASCII ones are rewritten as explicit sets before compiling.
_ASCII_SETS = {
    "d": "0-9",
    "w": "0-9A-Za-z_",
    "s": "\\t\\n\\x0b\\f\\r ",
    "p{Alnum}": "0-9A-Za-z",
    "p{Alpha}": "A-Za-z",
    "p{Digit}": "0-9",
    "p{Lower}": "a-z",
    "p{Upper}": "A-Z",
    "p{XDigit}": "0-9A-Fa-f",
    "p{Space}": "\\t\\n\\x0b\\f\\r ",
    "p{ASCII}": "\\x00-\\x7f",
}
_JAVA_TOKEN = regex.compile(r"\\(?:[dDwWsS]|[pP]\{[A-Za-z]+\}|.)|\[|\]|[^\\\[\]]+", regex.DOTALL)


def _as_java(pattern: str) -> str:
    """`pattern` for `regex` in V1 mode (which nests sets as Java does) with Java's ASCII
    classes made explicit."""
    pieces: list[str] = []
    in_set = 0
    for token in _JAVA_TOKEN.findall(pattern):
        if token == "[":
            in_set += 1
        elif token == "]" and in_set:
            in_set -= 1
        key = token[1:].lower() if len(token) == 2 else "p" + token[2:]
        ascii_set = _ASCII_SETS.get(key) if token.startswith("\\") else None
        if ascii_set is None:
            pieces.append(token)
            continue
        negated = token[1].isupper()
        if in_set and not negated:
            pieces.append(ascii_set)
        else:
            pieces.append(("[^" if negated else "[") + ascii_set + "]")
    return "".join(pieces)


@cache
def _compiled(pattern: str) -> regex.Pattern[str] | None:
    try:
        return regex.compile(_as_java(pattern), regex.V1)
    except regex.error:
        return None


def _matches(pattern: str, value: str) -> bool:
    """AWS applies a pattern to the whole value (Java's `Pattern.matches`)."""
    compiled = _compiled(pattern)
    return compiled is None or compiled.fullmatch(value) is not None


# --- 3. CreateHyperParameterTuningJob's documented cross-field rules ---------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def create_rules(request: Mapping[str, Any], region: str | None = None) -> list[Violation]:
    """The rules the API reference and the model's documentation state in words (those about
    the region only when it is known)."""
    out: list[Violation] = _tag_rules(request.get("Tags"))
    single, several = request.get("TrainingJobDefinition"), request.get("TrainingJobDefinitions")
    # The API reference marks both optional; a job needs its training jobs described once.
    if single is None and several is None:
        out.append(
            Violation(
                ("TrainingJobDefinition",),
                None,
                "Member must not be null when trainingJobDefinitions is not set",
            )
        )
    elif single is not None and several is not None:
        out.append(
            Violation(
                ("TrainingJobDefinitions",),
                several,
                "Member must be null when trainingJobDefinition is set",
            )
        )
    config = _mapping(request.get("HyperParameterTuningJobConfig"))
    base: Path = ("HyperParameterTuningJobConfig",)
    strategy = config.get("Strategy")
    limits = _mapping(config.get("ResourceLimits"))
    total, parallel = limits.get("MaxNumberOfTrainingJobs"), limits.get("MaxParallelTrainingJobs")
    if strategy != "Grid" and total is None:
        # The model makes MaxNumberOfTrainingJobs optional; only Grid has a size of its own (the
        # grid). That other strategies need the number is not stated in these words by the API
        # reference nor verified against AWS here: kept from the emulator's first rules.
        out.append(
            Violation(
                (*base, "ResourceLimits", "MaxNumberOfTrainingJobs"),
                None,
                f"Member must not be null with the {strategy} strategy (only Grid may omit it)",
            )
        )
    # Not stated by the API reference nor the model, and not verified against AWS: a job cannot
    # run more training jobs at once than it runs in all. Kept from the emulator's first rules;
    # the operator's validator has the same rule, so no test can tell if AWS disagrees.
    if isinstance(total, int) and isinstance(parallel, int) and 1 <= total < parallel:
        out.append(
            Violation(
                (*base, "ResourceLimits", "MaxParallelTrainingJobs"),
                parallel,
                f"Member must have value less than or equal to maxNumberOfTrainingJobs ({total})",
            )
        )
    # HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType: "TrainingJobEarlyStoppingType
    # must be OFF to use Hyperband".
    if strategy == "Hyperband" and config.get("TrainingJobEarlyStoppingType") == "Auto":
        out.append(
            Violation(
                (*base, "TrainingJobEarlyStoppingType"),
                "Auto",
                "Member must be Off with the Hyperband strategy",
            )
        )
    # StrategyConfig: "should be provided only if Hyperband is selected as the strategy".
    if config.get("StrategyConfig") is not None and strategy != "Hyperband":
        out.append(
            Violation(
                (*base, "StrategyConfig"),
                config.get("StrategyConfig"),
                f"Member must be null with the {strategy} strategy (it is for Hyperband)",
            )
        )
    definitions: list[tuple[Path, Mapping[str, Any]]] = []
    if isinstance(single, Mapping):
        definitions.append((("TrainingJobDefinition",), single))
    definitions += [(("TrainingJobDefinitions", i), d) for i, d in enumerate(_items(several))]
    spaces: list[tuple[Path, Mapping[str, Any]]] = []
    if isinstance(config.get("ParameterRanges"), Mapping):
        spaces.append(((*base, "ParameterRanges"), config["ParameterRanges"]))
    for where, definition in definitions:
        if isinstance(definition.get("HyperParameterRanges"), Mapping):
            spaces.append(((*where, "HyperParameterRanges"), definition["HyperParameterRanges"]))
        out += _algorithm_rules(definition, where, config)
        out += _role_rule(definition, where, region)
        # StaticHyperParameters: "the values of hyperparameters that do not change for the
        # tuning job": none may also be searched by the ranges the definition is tuned over.
        tuned = {name for _, name in _searched(definition.get("HyperParameterRanges"))}
        if where == ("TrainingJobDefinition",):
            tuned |= {name for _, name in _searched(config.get("ParameterRanges"))}
        for key in _mapping(definition.get("StaticHyperParameters")):
            if key in tuned:
                out.append(
                    Violation(
                        (*where, "StaticHyperParameters", key),
                        key,
                        "Member must not name a hyperparameter that is also tuned",
                    )
                )
        out += _resource_rules(definition, where)
    # HyperParameterTrainingJobDefinition.Environment: "the sum of the number of environment
    # variables for all the training job definitions can't exceed the maximum number specified".
    most = model.shape("HyperParameterTrainingJobDefinition").members["Environment"]
    total = sum(len(_mapping(d.get("Environment"))) for d in _items(several))
    if total > int(most.metadata.get("max", 48)):
        out.append(
            Violation(
                ("TrainingJobDefinitions",),
                None,
                f"Member must have at most {most.metadata.get('max', 48)} environment variables "
                f"over all definitions (it has {total})",
            )
        )
    for where, ranges in spaces:
        out += _space_rules(ranges, where, strategy)
    return out


def _resource_rules(definition: Mapping[str, Any], where: Path) -> list[Violation]:
    out: list[Violation] = []
    # HyperParameterTuningResourceConfig.InstanceConfigs: "If you use InstanceConfigs, do not
    # provide values for InstanceType, VolumeSizeInGB or InstanceCount."
    flexible = _mapping(definition.get("HyperParameterTuningResourceConfig"))
    if "InstanceConfigs" in flexible:
        out += [
            Violation(
                (*where, "HyperParameterTuningResourceConfig", member),
                flexible[member],
                "Member must be null when instanceConfigs is set",
            )
            for member in ("InstanceType", "VolumeSizeInGB", "InstanceCount")
            if member in flexible
        ]
    # StoppingCondition.MaxWaitTimeInSeconds: "It must be equal to or greater than
    # MaxRuntimeInSeconds."
    times = [
        t
        for member in ("MaxRuntimeInSeconds", "MaxWaitTimeInSeconds")
        if isinstance(t := _mapping(definition.get("StoppingCondition")).get(member), int)
    ]
    if len(times) == 2 and times[1] < times[0]:
        out.append(
            Violation(
                (*where, "StoppingCondition", "MaxWaitTimeInSeconds"),
                times[1],
                "Member must be greater than or equal to maxRuntimeInSeconds",
            )
        )
    return out


def _tag_rules(tags: Any) -> list[Violation]:
    out: list[Violation] = []
    seen: set[str] = set()
    for index, tag in enumerate(_items(tags)):
        key = tag.get("Key")
        if not isinstance(key, str):
            continue
        # Tagging AWS resources: "Do not use aws:, AWS:, or any upper or lowercase combination of
        # such as a prefix for either keys or values"; the prefix is reserved for AWS use.
        if key.lower().startswith("aws:"):
            out.append(
                Violation(
                    ("Tags", index, "Key"),
                    key,
                    "Member must not start with the reserved aws: prefix",
                )
            )
        # Tag.Key: "Tag keys must be unique per resource."
        if key in seen:
            out.append(Violation(("Tags", index, "Key"), key, "Member must be a unique tag key"))
        seen.add(key)
    return out


def _reserved_keys(keys: Any) -> list[Violation]:
    """Tagging AWS resources: tags with the aws: prefix cannot be edited or deleted."""
    return [
        Violation(("TagKeys", index), key, "Member must not start with the reserved aws: prefix")
        for index, key in enumerate(keys if isinstance(keys, list) else [])
        if isinstance(key, str) and key.lower().startswith("aws:")
    ]


def _role_rule(definition: Mapping[str, Any], where: Path, region: str | None) -> list[Violation]:
    """A role is assumed within its own partition: a job in cn-north-1 takes an aws-cn role."""
    role = definition.get("RoleArn")
    if region is None or not isinstance(role, str) or not role.startswith("arn:"):
        return []
    wanted, found = partition_of(region), role.split(":")[1]
    if found == wanted:
        return []
    return [
        Violation(
            (*where, "RoleArn"),
            role,
            f"Member must be an ARN in partition {wanted} (the partition of {region})",
        )
    ]


def _searched(ranges: Any) -> list[tuple[str, str]]:
    """(kind, name) of each hyperparameter the ranges search, Autotune's AutoParameters too."""
    return [
        (kind, str(item.get("Name")))
        for kind in (*_RANGE_KINDS, "AutoParameters")
        for item in _items(_mapping(ranges).get(kind))
        if isinstance(item.get("Name"), str)
    ]


def _space_rules(ranges: Mapping[str, Any], where: Path, strategy: Any) -> list[Violation]:
    out: list[Violation] = []
    # One range per hyperparameter: a name searched twice has no single range.
    seen: set[str] = set()
    for kind in (*_RANGE_KINDS, "AutoParameters"):
        for index, item in enumerate(_items(ranges.get(kind))):
            name = item.get("Name")
            if isinstance(name, str) and name in seen:
                out.append(
                    Violation(
                        (*where, kind, index, "Name"),
                        name,
                        "Member must be unique among the hyperparameter ranges",
                    )
                )
            seen.add(str(name))
    # ParameterRanges: "the sum of the number of hyperparameters for all the ranges can't exceed
    # the maximum number specified" (30 for each of the three kinds).
    limit = min(
        int(model.shape("ParameterRanges").members[kind].metadata.get("max", 30))
        for kind in _RANGE_KINDS
    )
    count = sum(len(_items(ranges.get(kind))) for kind in _RANGE_KINDS)
    if count > limit:
        out.append(
            Violation(
                where,
                None,
                f"Member must have at most {limit} hyperparameters over all its ranges "
                f"(it has {count})",
            )
        )
    for kind, integer in (("IntegerParameterRanges", True), ("ContinuousParameterRanges", False)):
        for index, item in enumerate(_items(ranges.get(kind))):
            at = (*where, kind, index)
            if strategy == "Grid":
                # Grid search walks the categorical values only.
                out.append(Violation(at, item, "Member must not be set with the Grid strategy"))
            out += _range_rules(item, at, integer)
    return out


def _number(text: Any, integer: bool) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        value = float(int(text)) if integer else float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _range_rules(item: Mapping[str, Any], at: Path, integer: bool) -> list[Violation]:
    out: list[Violation] = []
    noun = "an integer" if integer else "a number"
    bounds: dict[str, float] = {}
    for member in ("MinValue", "MaxValue"):
        text = item.get(member)
        value = _number(text, integer)
        if value is None and isinstance(text, str):
            out.append(Violation((*at, member), text, f"Member must be {noun}"))
        elif value is not None:
            bounds[member] = value
    low, high = bounds.get("MinValue"), bounds.get("MaxValue")
    if low is not None and high is not None and low > high:
        out.append(
            Violation(
                (*at, "MaxValue"),
                item.get("MaxValue"),
                "Member must be greater than or equal to minValue",
            )
        )
    scaling = item.get("ScalingType")
    # IntegerParameterRange/ContinuousParameterRange.ScalingType: "Logarithmic scaling works only
    # for ranges that have only values greater than 0."
    if scaling == "Logarithmic" and low is not None and low <= 0:
        out.append(
            Violation(
                (*at, "MinValue"),
                item.get("MinValue"),
                "Member must be greater than 0 with Logarithmic scaling",
            )
        )
    if scaling == "ReverseLogarithmic" and integer:
        # IntegerParameterRange.ScalingType documents Auto, Linear and Logarithmic only.
        out.append(
            Violation(
                (*at, "ScalingType"),
                scaling,
                "Member must satisfy enum value set: [Auto, Linear, Logarithmic]",
            )
        )
    elif scaling == "ReverseLogarithmic":
        # "Reverse logarithmic scaling works only for ranges that are entirely within the range
        # 0<=x<1.0."
        if low is not None and low < 0:
            out.append(
                Violation(
                    (*at, "MinValue"),
                    item.get("MinValue"),
                    "Member must be within 0<=x<1.0 with ReverseLogarithmic scaling",
                )
            )
        if high is not None and high >= 1:
            out.append(
                Violation(
                    (*at, "MaxValue"),
                    item.get("MaxValue"),
                    "Member must be within 0<=x<1.0 with ReverseLogarithmic scaling",
                )
            )
    return out


def _algorithm_rules(
    definition: Mapping[str, Any], where: Path, config: Mapping[str, Any]
) -> list[Violation]:
    out: list[Violation] = []
    algorithm = _mapping(definition.get("AlgorithmSpecification"))
    at: Path = (*where, "AlgorithmSpecification")
    # AlgorithmName: "If you specify a value for this parameter, do not specify a value for
    # TrainingImage."
    if algorithm.get("AlgorithmName") is not None and algorithm.get("TrainingImage") is not None:
        out.append(
            Violation(
                (*at, "TrainingImage"),
                algorithm.get("TrainingImage"),
                "Member must be null when algorithmName is set",
            )
        )
    # A custom algorithm (MetricDefinitions) emits only the metrics it defines: the objective
    # must be one of them.
    metrics = _items(algorithm.get("MetricDefinitions"))
    # MetricDefinition.Regex: "A regular expression that searches the output of a training job
    # and gets the value of the metric": it must be one.
    for index, metric in enumerate(metrics):
        text = metric.get("Regex")
        if isinstance(text, str) and text and _compiled(text) is None:
            out.append(
                Violation(
                    (*at, "MetricDefinitions", index, "Regex"),
                    text,
                    "Member must be a valid regular expression",
                )
            )
    if not metrics:
        return out
    names = [str(m.get("Name")) for m in metrics]
    own = definition.get("TuningObjective")
    if isinstance(own, Mapping):
        objective: Mapping[str, Any] = own
        objective_at: Path = (*where, "TuningObjective", "MetricName")
    else:
        objective = _mapping(config.get("HyperParameterTuningJobObjective"))
        objective_at = (
            "HyperParameterTuningJobConfig",
            "HyperParameterTuningJobObjective",
            "MetricName",
        )
    wanted = objective.get("MetricName")
    if isinstance(wanted, str) and wanted not in names:
        out.append(
            Violation(
                objective_at,
                wanted,
                f"Member must be one of the metricDefinitions names: [{', '.join(names)}]",
            )
        )
    return out
