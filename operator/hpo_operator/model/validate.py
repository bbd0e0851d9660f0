"""Validation of requests and manifests against botocore's SageMaker model.

One walk over the model checks a document whose members are spelled either the AWS way
(`validate_request`, which tests hold against the emulator's own checks) or the ACK way
(`validate_spec`, used by the operator and `hpo-operator render`): the spelling is a parameter
(`naming.Naming`), the rules are the same. On top of the model's constraints,
CreateHyperParameterTuningJob gets the stateless cross-field rules that AWS documents; stateful
ones (warm-start parents, name in use) belong to whoever holds the state.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import regex
from botocore.model import Shape

from hpo_operator.identity import SYSTEM_TAG_KEYS, SYSTEM_TAG_PREFIX
from hpo_operator.model import awsmodel
from hpo_operator.model.naming import Naming, aws_name, field_name, field_path, fields_of
from hpo_operator.model.timestamps import parse_timestamp
from hpo_operator.model.translate import AWS_TAG_PREFIX, spec_tag_limit, spec_to_request

Path = tuple[str | int, ...]
PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")  # printed bare in a path; any other key is quoted


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document, at a path of keys and list indexes."""

    path: Path
    message: str

    def manifest_path(self) -> str:
        """`spec.trainingJobDefinition.inputDataConfig[0].channelName` style."""
        return format_path(self.path)

    def aws_path(self) -> str:
        """AWS ValidationException style, for a request's problems.

        lowerCamel member names and 1-based `N.member` list items:
        `trainingJobDefinition.inputDataConfig.1.member.channelName`.
        """
        parts: list[str] = []
        for segment in self.path:
            if isinstance(segment, int):
                parts.append(f"{segment + 1}.member")
            else:
                parts.append(segment[:1].lower() + segment[1:])
        return ".".join(parts)

    def __str__(self) -> str:
        return f"{self.manifest_path()}: {self.message}"


def format_path(path: Sequence[str | int]) -> str:
    """Keys joined by dots, list indexes as `[i]`: `spec.tags[0].key`. A map key that is not
    plain (a dot, a space, a colon, a quote, non-ASCII) is quoted, `environment["A B"]`, so the
    path stays unambiguous and on one line whatever the key holds."""
    out = ""
    for segment in path:
        if isinstance(segment, int):
            out += f"[{segment}]"
        elif not PLAIN_KEY.fullmatch(segment):
            out += f"[{json.dumps(segment)}]"
        else:
            out += f".{segment}" if out else segment
    return out


def validate_request(
    operation: str, params: Mapping[str, Any], region: str | None = None
) -> list[Problem]:
    """Problems with a request to `operation` (AWS member names; paths in member names), sent
    to `region` (None: the rules that need the region are not checked)."""
    root = awsmodel.input_shape(operation)
    problems = list(_walk(root, params, (), aws_name))
    if operation == awsmodel.CREATE and isinstance(params, Mapping):
        problems += _create_rules(params, aws_name, region)
    return _unique(problems)


def validate_spec(
    spec: Mapping[str, Any], region: str | None = None, defaults: Sequence[str] = ()
) -> list[Problem]:
    """Problems with a HyperParameterTuningJob's spec (ACK field names; paths start `spec.`),
    whose job would be created in `region` (None: the rules that need it are not checked).

    Beyond AWS's rules, the spec's tags must leave room for the operator's system tags and for
    the default resource tags whose keys are `defaults` (`--resource-tags`, expanded for this
    resource), and may not use the system tags' prefix: what the operator itself adds."""
    root = awsmodel.input_shape(awsmodel.CREATE)
    problems = list(_walk(root, spec, ("spec",), field_name))
    if isinstance(spec, Mapping):
        request = spec_to_request(spec)
        added = _system_tag_rules(request, defaults)
        for problem in _create_rules(request, field_name, region) + added:
            path = ("spec", *field_path(root, problem.path, field_name))
            problems.append(Problem(path, problem.message))
    return _unique(problems)


def _system_tag_rules(request: Mapping[str, Any], defaults: Sequence[str] = ()) -> list[Problem]:
    tags = request.get("Tags")
    if not isinstance(tags, list):
        return []
    problems: list[Problem] = []
    added = ", ".join(SYSTEM_TAG_KEYS)
    own = {_mapping(tag).get("Key") for tag in tags}
    extra = [key for key in defaults if key not in own]  # a spec tag of that key wins
    limit = spec_tag_limit() - len(extra)
    if len(tags) > limit:
        also = (
            f" and {len(extra)} default resource tags from --resource-tags ({', '.join(extra)})"
            if extra
            else ""
        )
        problems.append(
            Problem(
                ("Tags",),
                f"must have at most {limit} items, not {len(tags)}: the operator adds "
                f"{len(SYSTEM_TAG_KEYS)} system tags ({added}){also} and AWS allows "
                f"{spec_tag_limit() + len(SYSTEM_TAG_KEYS)} in all",
            )
        )
    for index, tag in enumerate(tags):
        key = _mapping(tag).get("Key")
        if isinstance(key, str) and key.startswith(SYSTEM_TAG_PREFIX):
            problems.append(
                Problem(
                    ("Tags", index, "Key"),
                    f"must not start with {SYSTEM_TAG_PREFIX}: the operator sets these tags "
                    f"itself ({added}) to record which resource owns the job",
                )
            )
    return problems


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


# --- the model's constraints -------------------------------------------------------------------


def _walk(shape: Shape, value: Any, path: Path, naming: Naming) -> Iterator[Problem]:
    kind = shape.type_name
    check = _SCALAR_CHECKS.get(kind)
    if check is not None:
        yield from (Problem(path, message) for message in check(shape, value))
    elif kind == "structure":
        yield from _walk_structure(shape, value, path, naming)
    elif kind == "list":
        if not isinstance(value, list | tuple):
            yield Problem(path, "must be a list")
            return
        yield from _sizes(shape, len(value), path, "item")
        for index, item in enumerate(value):
            if item is None:
                yield Problem((*path, index), "must not be null")
            else:
                yield from _walk(shape.member, item, (*path, index), naming)
    elif kind == "map":
        if not isinstance(value, Mapping):
            yield Problem(path, "must be an object")
            return
        yield from _sizes(shape, len(value), path, "entry")
        for key, item in value.items():
            for message in _check_string(shape.key, key):
                yield Problem((*path, key), f"key {message}")
            if item is None:
                yield Problem((*path, key), "must not be null")
            else:
                yield from _walk(shape.value, item, (*path, key), naming)


def _walk_structure(shape: Shape, value: Any, path: Path, naming: Naming) -> Iterator[Problem]:
    if not isinstance(value, Mapping):
        yield Problem(path, "must be an object")
        return
    table = fields_of(shape, naming)
    for member in shape.required_members:
        if value.get(naming(member)) is None:
            yield Problem((*path, naming(member)), "is required")
    for key, item in value.items():
        member = table.get(key)
        if member is None:
            yield Problem((*path, key), "unknown field")
        elif item is not None:  # null means unset, as in a Kubernetes manifest
            yield from _walk(shape.members[member], item, (*path, key), naming)


def _sizes(shape: Shape, size: int, path: Path, noun: str) -> Iterator[Problem]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        yield Problem(path, f"must have at least {_count(low, noun)}")
    if high is not None and size > high:
        yield Problem(path, f"must have at most {_count(high, noun)}")


def _count(number: int, noun: str) -> str:
    if number == 1:
        return f"1 {noun}"
    return f"{number} {'entries' if noun == 'entry' else noun + 's'}"


def _check_string(shape: Shape, value: Any) -> list[str]:
    if not isinstance(value, str):
        return ["must be a string"]
    enum = awsmodel.closed_enum(shape)
    if enum is not None:
        return [] if value in enum else [f"must be one of: {', '.join(enum)}"]
    messages: list[str] = []
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and len(value) < low:
        messages.append(f"must be at least {_count(low, 'character')} long")
    if high is not None and len(value) > high:
        messages.append(f"must be at most {_count(high, 'character')} long")
    pattern = shape.metadata.get("pattern")
    if pattern is not None and not matches(pattern, value):
        messages.append(f"must match pattern {pattern}")
    return messages


# Java's ASCII-only classes (AWS applies its model's patterns as java.util.regex does): \d, \w, \s
# and the POSIX properties such as \p{Alnum} are ASCII there, while \p{L}, \p{N}, \p{Z}... are
# Unicode categories. `regex` reads all of them as Unicode unless told ASCII, which would make
# \p{L} ASCII too: so the ASCII ones are spelled out and the rest left to Unicode.
_JAVA_ESCAPES = {"d": "0-9", "w": "a-zA-Z0-9_", "s": " \\t\\n\\x0b\\f\\r"}
_JAVA_POSIX = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0b\\f\\r",
    "Blank": " \\t",
}


def java_pattern(pattern: str) -> str:
    """A Java regular expression respelled for `regex`'s V1 syntax (nested sets, as Java has)
    with Java's ASCII-only classes written out: `\\d` → `[0-9]`, inside a set `0-9`."""
    out: list[str] = []
    depth, index = 0, 0
    while index < len(pattern):
        char = pattern[index]
        if char != "\\" or index + 1 == len(pattern):
            depth += {"[": 1, "]": -1 if depth else 0}.get(char, 0)
            out.append(char)
            index += 1
            continue
        letter, width, body = pattern[index + 1], 2, None
        if letter.lower() in _JAVA_ESCAPES:
            body, negated = _JAVA_ESCAPES[letter.lower()], letter.isupper()
        elif letter in "pP" and pattern.startswith("{", index + 2):
            end = pattern.find("}", index)
            body, negated = _JAVA_POSIX.get(pattern[index + 3 : end]), letter == "P"
            width = end + 1 - index
        if body is None:
            out.append(pattern[index : index + 2])
            index += 2
            continue
        out.append(body if depth and not negated else f"[{'^' if negated else ''}{body}]")
        index += width
    return "".join(out)


@cache
def _compiled(pattern: str) -> regex.Pattern[str] | None:
    try:
        return regex.compile(java_pattern(pattern), regex.V1)
    except regex.error:  # a pattern this engine cannot read: AWS decides
        return None


def matches(pattern: str, value: str) -> bool:
    """Whether `value` matches an AWS model pattern as AWS applies it: as a whole string, with
    Java's meaning (`\\p{L}` any letter, `\\d` an ASCII digit; see `java_pattern`)."""
    compiled = _compiled(pattern)
    return compiled is None or compiled.fullmatch(value) is not None


def _range(shape: Shape, value: float) -> list[str]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    messages = []
    if low is not None and value < low:
        messages.append(f"must be ≥ {low}")
    if high is not None and value > high:
        messages.append(f"must be ≤ {high}")
    return messages


def _check_integer(shape: Shape, value: Any) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int):
        return ["must be an integer"]
    return _range(shape, value)


def _check_number(shape: Shape, value: Any) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ["must be a number"]
    if isinstance(value, float) and not math.isfinite(value):
        return ["must be a finite number"]
    return _range(shape, value)


def _check_boolean(shape: Shape, value: Any) -> list[str]:
    return [] if isinstance(value, bool) else ["must be true or false"]


def _check_timestamp(shape: Shape, value: Any) -> list[str]:
    if isinstance(value, datetime) or (
        isinstance(value, int | float) and not isinstance(value, bool)
    ):
        return []
    if isinstance(value, str):
        try:
            parse_timestamp(value)
        except ValueError:
            pass
        else:
            return []
    return ["must be a timestamp (RFC 3339, e.g. 2024-01-02T03:04:05Z)"]


def _check_blob(shape: Shape, value: Any) -> list[str]:
    return [] if isinstance(value, bytes | bytearray | str) else ["must be bytes (base64 string)"]


_SCALAR_CHECKS: dict[str, Callable[[Shape, Any], list[str]]] = {
    "string": _check_string,
    "integer": _check_integer,
    "long": _check_integer,
    "float": _check_number,
    "double": _check_number,
    "boolean": _check_boolean,
    "timestamp": _check_timestamp,
    "blob": _check_blob,
}


# --- CreateHyperParameterTuningJob's documented cross-field rules ------------------------------
# They read the request (AWS names) and report AWS member paths; `naming` only spells the fields
# that a message mentions. validate_spec respells the paths with naming.field_path.


def _create_rules(
    request: Mapping[str, Any], naming: Naming, region: str | None = None
) -> list[Problem]:
    problems: list[Problem] = _tag_rules(request.get("Tags"), naming)
    single = request.get("TrainingJobDefinition")
    several = request.get("TrainingJobDefinitions")
    if single is None and several is None:
        problems.append(
            Problem(
                ("TrainingJobDefinition",),
                f"is required (or {naming('TrainingJobDefinitions')}): exactly one of the two",
            )
        )
    elif single is not None and several is not None:
        problems.append(
            Problem(
                ("TrainingJobDefinitions",),
                f"must not be set together with {naming('TrainingJobDefinition')}",
            )
        )
    config = _mapping(request.get("HyperParameterTuningJobConfig"))
    limits = _mapping(config.get("ResourceLimits"))
    parallel, total = limits.get("MaxParallelTrainingJobs"), limits.get("MaxNumberOfTrainingJobs")
    # (a total below 1 is already reported by the model walk: no knock-on complaint)
    if isinstance(parallel, int) and isinstance(total, int) and 1 <= total < parallel:
        problems.append(
            Problem(
                ("HyperParameterTuningJobConfig", "ResourceLimits", "MaxParallelTrainingJobs"),
                f"must be ≤ {naming('MaxNumberOfTrainingJobs')} ({total})",
            )
        )
    problems += _strategy_rules(config, naming)
    ranges_at: list[Path] = [("HyperParameterTuningJobConfig", "ParameterRanges")]
    definitions: list[tuple[Path, Mapping[str, Any]]] = []
    if isinstance(single, Mapping):
        definitions.append((("TrainingJobDefinition",), single))
    if isinstance(several, list):
        definitions += [
            (("TrainingJobDefinitions", index), item)
            for index, item in enumerate(several)
            if isinstance(item, Mapping)
        ]
    ranges_at += [(*where, "HyperParameterRanges") for where, _ in definitions]
    strategy = config.get("Strategy")
    for where in ranges_at:
        problems += _range_count_rule(_at(request, where), where)
        problems += _range_name_rule(_at(request, where), where, naming)
        problems += _range_rules(_at(request, where), where, naming)
        if strategy == "Grid":
            problems += _grid_rule(_at(request, where), where, naming)
    objective = config.get("HyperParameterTuningJobObjective")
    for where, definition in definitions:
        problems += _metric_rule(definition, where, objective, naming)
        problems += _algorithm_rule(definition, where, naming)
        problems += _metric_regex_rule(definition, where)
        problems += _role_partition_rule(definition, where, region)
        spaces = [(*where, "HyperParameterRanges")]
        if where == ("TrainingJobDefinition",):
            spaces.append(("HyperParameterTuningJobConfig", "ParameterRanges"))
        problems += _static_and_tuned_rule(definition, where, request, spaces, naming)
        problems += _resource_rules(definition, where, naming)
    if isinstance(several, list):
        problems += _environment_total_rule(several)
    return problems


def _resource_rules(definition: Mapping[str, Any], where: Path, naming: Naming) -> list[Problem]:
    """HyperParameterTuningResourceConfig.InstanceConfigs: "If you use InstanceConfigs, do not
    provide values for InstanceType, VolumeSizeInGB or InstanceCount"; StoppingCondition:
    MaxWaitTimeInSeconds "must be equal to or greater than MaxRuntimeInSeconds"."""
    problems: list[Problem] = []
    flexible = _mapping(definition.get("HyperParameterTuningResourceConfig"))
    if flexible.get("InstanceConfigs") is not None:
        for member in ("InstanceType", "VolumeSizeInGB", "InstanceCount"):
            if flexible.get(member) is not None:
                problems.append(
                    Problem(
                        (*where, "HyperParameterTuningResourceConfig", member),
                        f"must not be set together with {naming('InstanceConfigs')}",
                    )
                )
    stopping = _mapping(definition.get("StoppingCondition"))
    wait, run = stopping.get("MaxWaitTimeInSeconds"), stopping.get("MaxRuntimeInSeconds")
    if isinstance(wait, int) and isinstance(run, int) and wait < run:
        problems.append(
            Problem(
                (*where, "StoppingCondition", "MaxWaitTimeInSeconds"),
                f"must be ≥ {naming('MaxRuntimeInSeconds')} ({run})",
            )
        )
    return problems


def _environment_total_rule(definitions: list[Any]) -> list[Problem]:
    """Environment: "the sum of the number of environment variables for all the training job
    definitions can't exceed the maximum number specified" (the map's own maximum)."""
    shape = awsmodel.shape("HyperParameterTrainingJobDefinition").members["Environment"]
    limit = int(shape.metadata.get("max", 48))
    count = sum(len(_mapping(_mapping(d).get("Environment"))) for d in definitions)
    if count <= limit:
        return []
    return [
        Problem(
            ("TrainingJobDefinitions",),
            f"must hold at most {limit} environment variables over all its definitions, "
            f"not {count}",
        )
    ]


def _tag_rules(tags: Any, naming: Naming) -> list[Problem]:
    """Tag.Key: "Tag keys must be unique per resource"; and the `aws:` prefix is AWS's own
    ("reserved for AWS use", in any letter case)."""
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for index, tag in enumerate(tags if isinstance(tags, list) else []):
        key = _mapping(tag).get("Key")
        if not isinstance(key, str):
            continue
        if key[: len(AWS_TAG_PREFIX)].lower() == AWS_TAG_PREFIX:
            problems.append(
                Problem(
                    ("Tags", index, "Key"),
                    f"must not start with {AWS_TAG_PREFIX} (reserved by AWS)",
                )
            )
        if key in first:
            problems.append(
                Problem(
                    ("Tags", index, "Key"),
                    f"must be unique: {naming('Tags')}[{first[key]}] has the same key {key!r}",
                )
            )
        first.setdefault(key, index)
    return problems


def _range_names(ranges: Any) -> Iterator[tuple[str, int, str]]:
    """(kind, index, name) of every hyperparameter the ranges tune (Autotune's too)."""
    for kind in _NAMED_KINDS:
        items = _mapping(ranges).get(kind)
        for index, item in enumerate(items if isinstance(items, list) else []):
            name = _mapping(item).get("Name")
            if isinstance(name, str):
                yield kind, index, name


def _range_name_rule(ranges: Any, where: Path, naming: Naming) -> list[Problem]:
    """A hyperparameter is searched by one range: a name given twice has no single range."""
    problems: list[Problem] = []
    first: dict[str, tuple[str, int]] = {}
    for kind, index, name in _range_names(ranges):
        if name in first:
            other, at = first[name]
            problems.append(
                Problem(
                    (*where, kind, index, "Name"),
                    f"must be unique among the ranges: {naming(other)}[{at}] already names "
                    f"{name!r}",
                )
            )
        first.setdefault(name, (kind, index))
    return problems


def _static_and_tuned_rule(
    definition: Mapping[str, Any],
    where: Path,
    request: Mapping[str, Any],
    spaces: list[Path],
    naming: Naming,
) -> list[Problem]:
    """StaticHyperParameters: "the values of hyperparameters that do not change": a tuned
    hyperparameter cannot also be one of them."""
    static = _mapping(definition.get("StaticHyperParameters"))
    tuned = {
        name: (kind, index)
        for space in spaces
        for kind, index, name in _range_names(_at(request, space))
    }
    problems: list[Problem] = []
    for key in static:
        if key in tuned:
            kind, index = tuned[key]
            problems.append(
                Problem(
                    (*where, "StaticHyperParameters", key),
                    f"must not also be tuned: {naming(kind)}[{index}] searches it "
                    "(a hyperparameter is either static or tuned)",
                )
            )
    return problems


def _metric_regex_rule(definition: Mapping[str, Any], where: Path) -> list[Problem]:
    """MetricDefinition.Regex: "A regular expression that searches the output of a training
    job": one that does not compile finds nothing."""
    metrics = _mapping(definition.get("AlgorithmSpecification")).get("MetricDefinitions")
    problems: list[Problem] = []
    for index, metric in enumerate(metrics if isinstance(metrics, list) else []):
        text = _mapping(metric).get("Regex")
        if not isinstance(text, str) or not text:
            continue  # missing, mistyped or empty: the model walk reports it
        try:
            regex.compile(java_pattern(text), regex.V1)
        except regex.error as error:
            at = (*where, "AlgorithmSpecification", "MetricDefinitions", index, "Regex")
            problems.append(Problem(at, f"must be a valid regular expression ({error})"))
    return problems


def _role_partition_rule(
    definition: Mapping[str, Any], where: Path, region: str | None
) -> list[Problem]:
    """RoleArn: the role must live in the partition of the region the job runs in (an `aws-cn`
    role cannot be assumed in us-west-2); partitions from botocore's endpoint data."""
    role = definition.get("RoleArn")
    partition = awsmodel.partition_of(region) if region else None
    parts = role.split(":") if isinstance(role, str) else []
    if partition is None or len(parts) < 2 or parts[0] != "arn" or parts[1] == partition:
        return []
    return [
        Problem(
            (*where, "RoleArn"),
            f"must be a role of partition {partition} (arn:{partition}:iam::...), the partition "
            f"of region {region}, not {parts[1]}",
        )
    ]


_RANGE_KINDS = ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges")
_NAMED_KINDS = (*_RANGE_KINDS, "AutoParameters")


def _strategy_rules(config: Mapping[str, Any], naming: Naming) -> list[Problem]:
    """HyperParameterTuningJobConfig: early stopping "must be OFF to use Hyperband", and
    StrategyConfig "should be provided only if Hyperband is selected as the strategy"."""
    problems: list[Problem] = []
    strategy = config.get("Strategy")
    at: Path = ("HyperParameterTuningJobConfig",)
    if strategy == "Hyperband" and config.get("TrainingJobEarlyStoppingType") == "Auto":
        problems.append(
            Problem(
                (*at, "TrainingJobEarlyStoppingType"),
                "must be Off with the Hyperband strategy (Hyperband stops jobs early itself)",
            )
        )
    if config.get("StrategyConfig") is not None and strategy != "Hyperband":
        problems.append(
            Problem(
                (*at, "StrategyConfig"),
                f"is for the Hyperband strategy only, not {strategy or 'the default (Bayesian)'}: "
                f"remove it or set {naming('Strategy')} to Hyperband",
            )
        )
    return problems


def _range_count_rule(ranges: Any, where: Path) -> list[Problem]:
    """ParameterRanges: "the sum of the number of hyperparameters for all the ranges can't exceed
    the maximum number specified" (each kind's own maximum, the same 30 for all three)."""
    shape = awsmodel.shape("ParameterRanges")
    limit = min(int(shape.members[kind].metadata.get("max", 30)) for kind in _RANGE_KINDS)
    items = _mapping(ranges)
    count = sum(len(v) for k in _RANGE_KINDS if isinstance(v := items.get(k), list))
    if count <= limit:
        return []
    return [
        Problem(
            where, f"must hold at most {limit} hyperparameters over all its ranges, not {count}"
        )
    ]


def _grid_rule(ranges: Any, where: Path, naming: Naming) -> list[Problem]:
    """The Grid strategy walks categorical values only: a numeric range has no grid."""
    problems: list[Problem] = []
    for kind in ("IntegerParameterRanges", "ContinuousParameterRanges"):
        items = _mapping(ranges).get(kind)
        if isinstance(items, list) and items:
            problems.append(
                Problem(
                    (*where, kind),
                    f"must be empty with the Grid strategy, which searches only "
                    f"{naming('CategoricalParameterRanges')}",
                )
            )
    return problems


def _algorithm_rule(definition: Mapping[str, Any], where: Path, naming: Naming) -> list[Problem]:
    """AlgorithmName: "If you specify a value for this parameter, do not specify a value for
    TrainingImage"."""
    algorithm = _mapping(definition.get("AlgorithmSpecification"))
    if algorithm.get("AlgorithmName") is None or algorithm.get("TrainingImage") is None:
        return []
    return [
        Problem(
            (*where, "AlgorithmSpecification", "TrainingImage"),
            f"must not be set together with {naming('AlgorithmName')}",
        )
    ]


def _range_rules(ranges: Any, where: Path, naming: Naming) -> list[Problem]:
    problems: list[Problem] = []
    for kind, integer in (("IntegerParameterRanges", True), ("ContinuousParameterRanges", False)):
        items = _mapping(ranges).get(kind)
        for index, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, Mapping):
                problems += _one_range(item, (*where, kind, index), integer, naming)
    return problems


def _one_range(item: Mapping[str, Any], at: Path, integer: bool, naming: Naming) -> list[Problem]:
    noun = "an integer" if integer else "a number"
    parse: Callable[[str], float] = int if integer else float
    bounds: dict[str, float] = {}
    problems: list[Problem] = []
    for member in ("MinValue", "MaxValue"):
        text = item.get(member)
        if not isinstance(text, str):
            continue  # missing or mistyped: the model walk reports it
        try:
            bounds[member] = parse(text.strip())
        except ValueError:
            problems.append(Problem((*at, member), f"must be {noun} written as a string"))
            continue
        if not math.isfinite(bounds[member]):
            problems.append(Problem((*at, member), f"must be {noun} written as a string"))
            del bounds[member]
    low, high = bounds.get("MinValue"), bounds.get("MaxValue")
    if low is not None and high is not None and low > high:
        problems.append(Problem((*at, "MaxValue"), f"must be ≥ {naming('MinValue')} ({low:g})"))
    scaling = item.get("ScalingType")
    if scaling == "Logarithmic" and low is not None and low <= 0:
        problems.append(
            Problem((*at, "MinValue"), "must be > 0 with Logarithmic scaling (log of 0 or less)")
        )
    if scaling == "ReverseLogarithmic" and integer:
        # IntegerParameterRange documents Auto, Linear and Logarithmic only: [0, 1) holds no
        # integer range to search.
        problems.append(
            Problem(
                (*at, "ScalingType"),
                "must be Auto, Linear or Logarithmic for an integer range "
                "(ReverseLogarithmic is for continuous ranges)",
            )
        )
    elif scaling == "ReverseLogarithmic":
        if low is not None and low < 0:
            problems.append(
                Problem((*at, "MinValue"), "must be ≥ 0 with ReverseLogarithmic scaling")
            )
        if high is not None and high >= 1:
            problems.append(
                Problem((*at, "MaxValue"), "must be < 1 with ReverseLogarithmic scaling")
            )
    return problems


def _metric_rule(
    definition: Mapping[str, Any], where: Path, config_objective: Any, naming: Naming
) -> list[Problem]:
    """With custom MetricDefinitions, the objective must be one of them (AWS rejects it
    otherwise); built-in algorithms (no MetricDefinitions) define their own metrics."""
    metrics = _mapping(definition.get("AlgorithmSpecification")).get("MetricDefinitions")
    if not isinstance(metrics, list) or not metrics:
        return []
    names = [m.get("Name") for m in metrics if isinstance(m, Mapping)]
    own = definition.get("TuningObjective")
    if isinstance(own, Mapping):
        objective, at = own, (*where, "TuningObjective", "MetricName")
    elif isinstance(config_objective, Mapping):
        at = ("HyperParameterTuningJobConfig", "HyperParameterTuningJobObjective", "MetricName")
        objective = config_objective
    else:
        return []
    wanted = objective.get("MetricName")
    if not isinstance(wanted, str) or wanted in names:
        return []
    listed = ", ".join(str(name) for name in names)
    return [Problem(at, f"must be one of the {naming('MetricDefinitions')} names: {listed}")]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _at(document: Mapping[str, Any], path: Path) -> Any:
    current: Any = document
    for segment in path:
        if isinstance(segment, int):
            current = current[segment] if isinstance(current, list) else None
        else:
            current = _mapping(current).get(segment)
    return current
