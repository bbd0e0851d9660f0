"""SageMaker Search over the emulator's hyperparameter tuning jobs: a batch Describe.

Each record is the job's Describe document restricted to the members of botocore's
`HyperParameterTuningJobSearchEntity`, plus its tags. Filters name a property by a dotted path
into that document (`BestTrainingJob.TrainingJobName`, `TrainingJobStatusCounters.Completed`);
a path through a list matches when any element matches, as in a document search, and
`Tags.<key>` is the value of that tag. A property's type (text, number, timestamp, boolean)
comes from the model's shape at that path, and decides which operators apply, as AWS documents.
A path the model does not have holds no value: Exists, Equals, In and the comparisons match
nothing, NotExists and NotEquals match everything.

With the `search_lag` fault, records come from an index that many seconds behind (lagview.py).
Other resource types answer no records: the emulator holds none of them.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import cache
from typing import Any

from hpo_emulator import errors, model
from hpo_emulator.listing import decode_token, page
from hpo_emulator.store import Store
from hpo_emulator.tuningjob import TuningJob
from hpo_operator.model.timestamps import parse_timestamp

RESOURCE = "HyperParameterTuningJob"
ENTITY_SHAPE = "HyperParameterTuningJobSearchEntity"
DEFAULT_SORT_BY = "LastModifiedTime"  # the model's documented default
DEFAULT_SORT_ORDER = "Descending"  # the model's documented default
# The model documents no default for MaxResults; 10 is the default of SageMaker's List calls.
DEFAULT_MAX_RESULTS = 10
MAX_CONDITIONS = 50  # Filters, NestedFilters and SubExpressions, recursively (model docs)
COMPARISONS = ("GreaterThan", "GreaterThanOrEqualTo", "LessThan", "LessThanOrEqualTo")
TEXT, NUMBER, TIME, BOOLEAN, COMPOSITE = "text", "number", "timestamp", "boolean", "composite"
_SCALAR_KINDS = {
    "string": TEXT,
    "integer": NUMBER,
    "long": NUMBER,
    "float": NUMBER,
    "double": NUMBER,
    "timestamp": TIME,
    "boolean": BOOLEAN,
}

Entity = dict[str, Any]
Predicate = Callable[[Mapping[str, Any]], bool]


@cache
def entity_members() -> tuple[str, ...]:
    """The members of a search record's job, from botocore's model."""
    return tuple(model.shape(ENTITY_SHAPE).members)


def entity(job: TuningJob, at: float, tags: list[dict[str, str]]) -> Entity:
    """The search record of a job at an instant: its Describe document's members and its tags."""
    described = job.describe(at)
    out = {k: described[k] for k in entity_members() if k in described}
    out["Tags"] = [dict(t) for t in tags]
    return out


# ----- properties -------------------------------------------------------------------------------
@cache
def property_kind(name: str) -> str | None:
    """text, number, timestamp, boolean or composite; None when the model has no such path."""
    if name.startswith("Tags.") and len(name) > len("Tags."):
        return TEXT
    shape = model.shape(ENTITY_SHAPE)
    for segment in name.split("."):
        while shape.type_name == "list":
            shape = shape.member
        if shape.type_name == "structure" and segment in shape.members:
            shape = shape.members[segment]
        elif shape.type_name == "map":
            shape = shape.value
        else:
            return None
    while shape.type_name == "list":
        shape = shape.member
    return _SCALAR_KINDS.get(shape.type_name, COMPOSITE)


def raw_values(node: Any, segments: tuple[str, ...]) -> list[Any]:
    """The values at a path, through lists (a document search's view of nested arrays)."""
    if isinstance(node, list):
        return [v for item in node for v in raw_values(item, segments)]
    if not segments:
        return [] if node is None else [node]
    if isinstance(node, Mapping) and segments[0] in node:
        return raw_values(node[segments[0]], segments[1:])
    return []


def values_of(document: Mapping[str, Any], name: str, kind: str | None) -> list[Any]:
    """A property's values in a record, normalised for comparison (timestamps in milliseconds)."""
    if name.startswith("Tags.") and kind == TEXT and "Tags" in document:
        key = name[len("Tags.") :]
        return [t.get("Value", "") for t in document["Tags"] if t.get("Key") == key]
    found = raw_values(document, tuple(name.split(".")))
    if kind == TIME:
        return [_time_ms(v) for v in found]
    return found


def _time_ms(value: Any) -> int:
    """A timestamp (epoch seconds or datetime) in whole milliseconds, AWS's resolution."""
    if isinstance(value, datetime):
        value = value.timestamp()
    return round(float(value) * 1000)


def parse_time(text: str) -> int:
    """A filter's timestamp Value: ISO 8601 (no zone means UTC) or epoch seconds, in ms."""
    try:
        return _time_ms(float(text))
    except ValueError:
        pass
    try:
        parsed = parse_timestamp(text)
    except ValueError as err:
        raise ValueError("not an ISO 8601 date-time (YYYY-mm-dd'T'HH:MM:SS) or epoch") from err
    return _time_ms(parsed)


def _parse(kind: str | None, text: str) -> Any:
    if kind == TIME:
        return parse_time(text)
    if kind == NUMBER:
        number = float(text)
        if math.isnan(number):
            raise ValueError("not a number")
        return number
    if kind == BOOLEAN:
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise ValueError("not true or false")
        return lowered == "true"
    return text


# ----- expressions ------------------------------------------------------------------------------
def _count_conditions(expression: Mapping[str, Any]) -> int:
    count = len(expression.get("Filters") or [])
    for nested in expression.get("NestedFilters") or []:
        count += 1 + len(nested.get("Filters") or [])
    for sub in expression.get("SubExpressions") or []:
        count += 1 + _count_conditions(sub)
    return count


def _contains_count(expression: Mapping[str, Any]) -> int:
    filters = list(expression.get("Filters") or [])
    for nested in expression.get("NestedFilters") or []:
        filters += nested.get("Filters") or []
    own = sum(1 for f in filters if f.get("Operator") == "Contains")
    return own + sum(_contains_count(s) for s in expression.get("SubExpressions") or [])


def check_structure(expression: Mapping[str, Any]) -> None:
    """The rules of a SearchExpression that hold for every resource type."""
    count = _count_conditions(expression)
    if count > MAX_CONDITIONS:
        raise errors.validation(
            f"The SearchExpression holds {count} Filters, NestedFilters and SubExpressions "
            f"(counted recursively); the maximum is {MAX_CONDITIONS}."
        )
    _check_not_empty(expression)


def _check_not_empty(expression: Mapping[str, Any]) -> None:
    if not any(expression.get(k) for k in ("Filters", "NestedFilters", "SubExpressions")):
        raise errors.validation(
            "A SearchExpression must hold at least one of Filters, NestedFilters or SubExpressions."
        )
    for sub in expression.get("SubExpressions") or []:
        _check_not_empty(sub)


def compile_filter(spec: Mapping[str, Any], prefix: str = "") -> Predicate:
    """A filter as a test on a record (or on an element of a nested property, after `prefix`);
    ValidationException for what AWS refuses."""
    name = str(spec["Name"])
    operator = str(spec.get("Operator") or "Equals")
    kind = property_kind(name)
    value = spec.get("Value")
    relative = name[len(prefix) + 1 :] if prefix else name
    if kind == COMPOSITE and operator not in ("Exists", "NotExists"):
        raise errors.validation(
            f"The property {name} is not a single value; filter on one of its members "
            f"(a dotted path such as {name}.<member>) or use Exists or NotExists."
        )
    if operator in COMPARISONS and kind in (TEXT, BOOLEAN):
        raise errors.validation(
            f"The {operator} operator is not supported for the {kind} property {name}; it "
            "compares numeric and timestamp properties only."
        )
    if operator in ("In", "Contains") and kind not in (TEXT, None):
        raise errors.validation(
            f"The {operator} operator is supported only for text properties; {name} is a "
            f"{kind} property."
        )
    if operator in ("Exists", "NotExists"):
        want = operator == "Exists"
        return lambda doc: bool(values_of(doc, relative, kind)) == want
    if value is None:
        raise errors.validation(f"The filter on {name} with the {operator} operator needs a Value.")
    text = str(value)
    try:
        target: Any = (
            {v.strip() for v in text.split(",")} if operator == "In" else _parse(kind, text)
        )
    except ValueError as err:
        raise errors.validation(
            f"The Value '{text}' of the filter on {name} is not a valid {kind} value: {err}."
        ) from err
    test = _TESTS[operator]
    return lambda doc: test(values_of(doc, relative, kind), target)


_TESTS: dict[str, Callable[[list[Any], Any], bool]] = {
    "Equals": lambda vs, t: any(v == t for v in vs),
    "NotEquals": lambda vs, t: not any(v == t for v in vs),
    "GreaterThan": lambda vs, t: any(v > t for v in vs),
    "GreaterThanOrEqualTo": lambda vs, t: any(v >= t for v in vs),
    "LessThan": lambda vs, t: any(v < t for v in vs),
    "LessThanOrEqualTo": lambda vs, t: any(v <= t for v in vs),
    "In": lambda vs, t: any(v in t for v in vs),
    "Contains": lambda vs, t: any(str(t).lower() in str(v).lower() for v in vs),
}


def compile_nested(spec: Mapping[str, Any]) -> Predicate:
    """NestedFilters: one element of the nested property satisfies all of its filters."""
    prefix = str(spec["NestedPropertyName"])
    filters = []
    for f in spec["Filters"]:
        if not str(f["Name"]).startswith(prefix + "."):
            raise errors.validation(
                f"The filter on {f['Name']} is in NestedFilters for {prefix}: its Name must "
                f"start with {prefix}."
            )
        filters.append(compile_filter(f, prefix))
    path = tuple(prefix.split("."))

    def test(doc: Mapping[str, Any]) -> bool:
        return any(
            isinstance(e, Mapping) and all(f(e) for f in filters) for e in raw_values(doc, path)
        )

    return test


def compile_expression(expression: Mapping[str, Any]) -> Predicate:
    """A SearchExpression as a test on a record (And unless Operator is Or)."""
    parts = [compile_filter(f) for f in expression.get("Filters") or []]
    parts += [compile_nested(n) for n in expression.get("NestedFilters") or []]
    parts += [compile_expression(s) for s in expression.get("SubExpressions") or []]
    if expression.get("Operator") == "Or":
        return lambda doc: any(p(doc) for p in parts)
    return lambda doc: all(p(doc) for p in parts)


# ----- candidates from the store's indexes ------------------------------------------------------
def _indexed(store: Store, spec: Mapping[str, Any], lagged: bool) -> list[TuningJob] | None:
    """A superset of the jobs one top-level filter can match, when an index gives it cheaply."""
    name, operator, value = spec["Name"], spec.get("Operator") or "Equals", spec.get("Value")
    if value is None:
        return None
    names: Iterable[str] | None = None
    if name == "HyperParameterTuningJobName" and operator == "Equals":
        names = [str(value)]
    elif name == "HyperParameterTuningJobName" and operator == "In":
        names = [v.strip() for v in str(value).split(",")]
    elif name == "HyperParameterTuningJobStatus" and operator == "Equals" and not lagged:
        names = store.index.by_status.get(str(value), set())
    elif name == "LastModifiedTime" and operator in ("GreaterThan", "GreaterThanOrEqualTo"):
        # A lagged record is never newer than the live job, so the live index is a superset.
        after = parse_time(str(value)) / 1000 - 0.001
        keys = store.index.by_modified
        names = [n for _, n in keys[bisect.bisect_left(keys, (after,)) :]]
    if names is None:
        return None
    found = (store.jobs.get(n.lower()) for n in names)
    return list({id(j): j for j in found if j is not None}.values())


def candidates(
    store: Store, expression: Mapping[str, Any] | None, lagged: bool
) -> Iterable[TuningJob]:
    """The jobs worth testing: the smallest indexed set of an And's filters, else every job."""
    if not expression or expression.get("Operator") == "Or":
        return store.jobs.values()
    best: list[TuningJob] | None = None
    for spec in expression.get("Filters") or []:
        found = _indexed(store, spec, lagged)
        if found is not None and (best is None or len(found) < len(best)):
            best = found
    return store.jobs.values() if best is None else best


# ----- the operation ----------------------------------------------------------------------------
class Hit:
    """A job Search sees (live, or as it was under a lag); its record is built only when a filter
    or the page needs it, so an unfiltered Search sorted by an indexed property costs one record
    per result, not one per job."""

    __slots__ = ("_record", "at", "job", "view")

    def __init__(self, view: TuningJob, job: TuningJob, at: float) -> None:
        self.view, self.job, self.at = view, job, at
        self._record: Entity | None = None

    def record(self) -> Entity:
        """The search record (the live job's tags, the view's document)."""
        if self._record is None:
            self._record = entity(self.view, self.at, self.job.tags)
        return self._record


# Sort properties read from the job itself, equal to the record's (normalised) value.
_DIRECT: dict[str, Callable[[Hit], Any]] = {
    "HyperParameterTuningJobName": lambda h: h.view.name,
    "HyperParameterTuningJobStatus": lambda h: h.view.status(h.at),
    "CreationTime": lambda h: _time_ms(h.view.created),
    "LastModifiedTime": lambda h: _time_ms(h.view.last_modified(h.at)),
}


def _sort_key(sort_by: str, descending: bool) -> Callable[[Hit], tuple[Any, ...]]:
    """(sort property, missing flag, value, name): records without the property come last in
    either order, ties break by name so that pages are stable."""
    kind = property_kind(sort_by)
    if kind == COMPOSITE:
        raise errors.validation(
            f"SortBy {sort_by} is not a single value; sort by one of its members "
            f"({sort_by}.<member>)."
        )
    direct = _DIRECT.get(sort_by)

    def key(hit: Hit) -> tuple[Any, ...]:
        found = [direct(hit)] if direct else values_of(hit.record(), sort_by, kind)
        if not found:
            return (sort_by, 0 if descending else 1, None, hit.view.name)
        value = max(found) if descending else min(found)
        return (sort_by, 1 if descending else 0, value, hit.view.name)

    return key


def search(store: Store, params: Mapping[str, Any], now: float, lag: float) -> dict[str, Any]:
    """Search: the matching records, sorted, one page of them, and how many matched."""
    expression = params.get("SearchExpression")
    if expression is not None:
        check_structure(expression)
    token = params.get("NextToken") or None
    sort_by = str(params.get("SortBy") or DEFAULT_SORT_BY)
    descending = (params.get("SortOrder") or DEFAULT_SORT_ORDER) == "Descending"
    max_results = int(params.get("MaxResults") or DEFAULT_MAX_RESULTS)
    other_account = params.get("CrossAccountFilterOption") == "CrossAccount"
    if params["Resource"] != RESOURCE or other_account:
        if token:
            decode_token(token)  # still refuse a token that is not ours
        return {"Results": [], "TotalHits": {"Value": 0, "Relation": "EqualTo"}}
    if expression is not None and _contains_count(expression) > 1:
        raise errors.validation("'CONTAINS' operator usage limit of 1 exceeded.")
    matches = compile_expression(expression) if expression is not None else None
    key = _sort_key(sort_by, descending)
    if token:
        after = decode_token(token)
        if not after or after[0] != sort_by:
            raise errors.validation("Invalid pagination token: the NextToken is not valid.")
    past = now - lag
    views = store.lagged
    if lag > 0:
        views.prune(store.jobs)
    else:
        views.clear()
    hits: list[Hit] = []
    for job in candidates(store, expression, lag > 0):
        seen = views.at(job, past) if lag > 0 else job
        if seen is None:
            continue
        hit = Hit(seen, job, past)
        if matches is None or matches(hit.record()):
            hits.append(hit)
    try:
        chunk, next_token = page(
            hits, key, descending=descending, token=token, max_results=max_results
        )
    except TypeError as err:  # a token of another query whose values do not compare
        raise errors.validation("Invalid pagination token: the NextToken is not valid.") from err
    out: dict[str, Any] = {
        "Results": [{RESOURCE: hit.record()} for hit in chunk],
        "TotalHits": {"Value": len(hits), "Relation": "EqualTo"},
    }
    if next_token:
        out["NextToken"] = next_token
    return out
