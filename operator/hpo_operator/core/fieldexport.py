"""ACK's FieldExport, decided purely: which export is this operator's, its value, its target.

ACK's runtime (`pkg/runtime/field_export_reconciler.go`) copies one field of an ACK resource into
a key of a ConfigMap or Secret. What is kept from it here:

- the source is `spec.from.resource` (group, kind, name) in the FieldExport's own namespace; a
  group other than this operator's is another controller's and is left alone (no status), as is
  a kind this operator does not serve (ACK's sagemaker-controller serves the other SageMaker kinds);
- `spec.from.path` is a jq path (ACK runs gojq on the object):
  `.status.bestTrainingJob.trainingJobName`, `.status.ackResourceMetadata.arn`,
  `.metadata.labels["team"]`, `.a[0]`. This operator takes jq's path expressions only (fields,
  quoted keys, array indices) and refuses anything else as ACK refuses a path gojq cannot
  parse: ACK.Terminal "unable to parse path";
- the source must be synced (`ACK.ResourceSynced=True`), else ACK.Recoverable "the source
  resource is not synced yet"; a path that selects nothing (or null) is ACK.Recoverable "path
  does not exist in this object", and nothing is written;
- the key is `spec.to.key`, else `<namespace>.<FieldExport name>`; a Secret's value is base64
  in `data`; a string is written as it is, a bool as `true`/`false`, an integer in decimal;
- the cross-namespace rule: `spec.to.namespace`, when given, must be the FieldExport's own
  namespace, else ACK.Terminal naming the field (an export must not write where its author
  cannot).

Past ACK: a number with a fraction, a map or a list (`tunedHyperParameters`) is written as
compact JSON (ACK writes nothing for them and reports "path does not exist"); a missing
ConfigMap or Secret is created (ACK reports "unable to get existing configmap"); success is
`ACK.ResourceSynced=True` with what was written where (ACK leaves no condition).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from hpo_operator.core import conditions
from hpo_operator.core.conditions import Cond
from hpo_operator.identity import (
    FIELD_EXPORT_GROUP,
    FIELD_EXPORT_KIND,
    FIELD_EXPORT_VERSION,
    GROUP,
    KIND,
)

TargetKind = Literal["configmap", "secret"]
KINDS: tuple[TargetKind, ...] = ("configmap", "secret")
Step = str | int  # one step of a path: an object key or an array index

NOT_SYNCED = "the source resource is not synced yet"
NO_PATH = "path does not exist in this object"
BAD_PATH = "unable to parse path"
QUERY_FAILED = "unable to execute query"

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_INDEX = re.compile(r"-?[0-9]+")


class PathError(ValueError):
    """A path outside jq's path expressions."""


class QueryError(ValueError):
    """jq's runtime error: a step that cannot index the value it meets (`.a.b` on a string)."""


@dataclass(frozen=True)
class Export:
    """A FieldExport this operator serves, its spec checked."""

    namespace: str
    name: str
    source: str  # the HyperParameterTuningJob's name, in `namespace`
    path: str
    steps: tuple[Step, ...]
    kind: TargetKind
    target: str  # the ConfigMap's or Secret's name, in `namespace`
    key: str


@dataclass(frozen=True)
class Refused:
    """A FieldExport of this operator's kind that cannot be served: `field` and why."""

    field: str
    message: str


@dataclass(frozen=True)
class Write:
    """What to send for the target: `create` (a whole object) or `patch` (a merge patch)."""

    create: dict[str, Any] | None = None
    patch: dict[str, Any] | None = None


def parse_path(path: str) -> tuple[Step, ...]:
    """jq's path expression `path` as steps: `.a.b["c d"][0]` → ("a", "b", "c d", 0)."""
    text = path.strip()
    if text == ".":
        return ()
    steps: list[Step] = []
    at = 0
    if not text.startswith((".", "[")):
        raise PathError(f"{path!r} does not start with '.'")
    while at < len(text):
        if text.startswith(".[", at) or text[at] == "[":
            at += 2 if text[at] == "." else 1
            string, index = _STRING.match(text, at), _INDEX.match(text, at)
            if string:
                steps.append(str(json.loads(string.group())))
                at = string.end()
            elif index:
                steps.append(int(index.group()))
                at = index.end()
            else:
                raise PathError(f"{path!r}: a quoted key or an index must follow '[' at {at}")
            if not text.startswith("]", at):
                raise PathError(f"{path!r}: ']' expected at {at}")
            at += 1
        elif text[at] == ".":
            at += 1
            ident, string = _IDENT.match(text, at), _STRING.match(text, at)
            match = ident or string
            if match is None:
                raise PathError(f"{path!r}: a field name must follow '.' at {at}")
            steps.append(match.group() if ident else str(json.loads(match.group())))
            at = match.end()
        else:
            raise PathError(f'{path!r}: only .field, ."key", ["key"] and [N] steps, at {at}')
    return tuple(steps)


def select(value: Any, steps: Sequence[Step]) -> Any:
    """jq's value of the path on `value` (None where jq gives null); QueryError where jq fails."""
    for step in steps:
        if value is None:
            return None
        if isinstance(step, str) and isinstance(value, Mapping):
            value = value.get(step)
        elif isinstance(step, int) and isinstance(value, list):
            value = value[step] if -len(value) <= step < len(value) else None
        else:
            kind = "object" if isinstance(value, Mapping) else type(value).__name__
            raise QueryError(f"cannot index {kind} with {step!r}")
    return value


def render(value: Any) -> str:
    """The text written for `value`: ACK's for a string, a bool and an integer; JSON otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def read_export(body: Mapping[str, Any]) -> Export | Refused | None:
    """The FieldExport's spec checked; None when its source is not this operator's kind."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    source = (spec.get("from") or {}).get("resource") or {}
    if source.get("group") != GROUP or str(source.get("kind") or "").lower() != KIND.lower():
        return None
    to = spec.get("to") or {}
    target_namespace = to.get("namespace")
    if target_namespace and target_namespace != namespace:
        return Refused(
            "spec.to.namespace",
            f"the target must be in the FieldExport's own namespace {namespace!r}, not "
            f"{target_namespace!r}: an export never writes into another namespace",
        )
    kind = str(to.get("kind") or "")
    if kind not in KINDS:
        return Refused("spec.to.kind", f"must be configmap or secret, not {kind!r}")
    path = str((spec.get("from") or {}).get("path") or "")
    try:
        steps = parse_path(path)
    except PathError as error:
        return Refused("spec.from.path", f"{BAD_PATH}: {error}")
    key = str(to.get("key") or "").strip() or f"{namespace}.{name}"
    return Export(
        namespace=namespace,
        name=name,
        source=str(source.get("name") or ""),
        path=path,
        steps=steps,
        kind="secret" if kind == "secret" else "configmap",
        target=str(to.get("name") or ""),
        key=key,
    )


def value_of(export: Export, source: Mapping[str, Any]) -> tuple[str | None, Refused | None]:
    """(the text to export, None), or (None, why not): a Refused with field "" is recoverable
    (it may hold after the source changes), one with a field is terminal."""
    synced = conditions.find((source.get("status") or {}).get("conditions"), conditions.SYNCED)
    if synced is None or synced.get("status") != "True":
        state = f" (ACK.ResourceSynced: {synced.get('message')})" if synced else ""
        return None, Refused("", f"{NOT_SYNCED}{state}")
    try:
        value = select(source, export.steps)
    except QueryError as error:
        return None, Refused("spec.from.path", f"{QUERY_FAILED}: {export.path}: {error}")
    if value is None:
        return None, Refused("", f"{NO_PATH}: {export.path}")
    return render(value), None


def encode(kind: TargetKind, value: str) -> str:
    """The value as the target keeps it in `data` (a Secret's base64)."""
    return base64.b64encode(value.encode()).decode() if kind == "secret" else value


def write(export: Export, target: Mapping[str, Any] | None, value: str) -> Write | None:
    """What to send so the target holds `value` at the key; None when it already does."""
    stored = encode(export.kind, value)
    if target is None:
        kind = "Secret" if export.kind == "secret" else "ConfigMap"
        body = {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": {"name": export.target, "namespace": export.namespace},
            "data": {export.key: stored},
        }
        return Write(create=body)
    if (target.get("data") or {}).get(export.key) == stored:
        return None
    return Write(patch={"data": {export.key: stored}})


def status(
    previous: Mapping[str, Any] | None,
    now: str,
    *,
    done: str | None = None,
    problem: Refused | None = None,
) -> dict[str, Any]:
    """The FieldExport's status: ACK.ResourceSynced, with ACK.Terminal or ACK.Recoverable."""
    old = (previous or {}).get("conditions")
    if problem is None:
        synced = Cond(True, "Exported", done or "exported")
        return {"conditions": conditions.build(old, now=now, ready=None, synced=synced)}
    where = f"{problem.field}: " if problem.field else ""
    message = where + problem.message
    cond = Cond(True, "InvalidSpec" if problem.field else "Waiting", message)
    synced = Cond(False, cond.reason, message)
    if problem.field:
        built = conditions.build(old, now=now, ready=None, synced=synced, terminal=cond)
    else:
        built = conditions.build(old, now=now, ready=None, synced=synced, recoverable=cond)
    return {"conditions": built}


def reference(export_body: Mapping[str, Any]) -> dict[str, Any]:
    """apiVersion, kind and metadata of a FieldExport: what an Event about it names."""
    meta = export_body.get("metadata") or {}
    return {
        "apiVersion": f"{FIELD_EXPORT_GROUP}/{FIELD_EXPORT_VERSION}",
        "kind": FIELD_EXPORT_KIND,
        "metadata": {k: meta.get(k) for k in ("namespace", "name", "uid")},
    }
