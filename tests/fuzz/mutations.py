"""Breaking a valid spec in one place, and arbitrary JSON, for the fuzz tests.

A mutation remembers where it struck, so a test can ask that the validator's answer names that
field (or, for a deleted field, its parent or the field itself).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

Path = tuple[str | int, ...]

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


@dataclass(frozen=True)
class Mutation:
    """One change to a spec: `kind` at `path` (keys and list indexes under `spec`)."""

    kind: str  # replace | delete | unknown-key | oversize
    path: Path
    value: Any = None


def paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every node below the root, depth first."""
    found: list[Path] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*prefix, key))
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((*prefix, index))
            found += paths(item, (*prefix, index))
    return found


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


@st.composite
def mutations(draw: st.DrawFn, spec: dict[str, Any]) -> Mutation:
    """A mutation of `spec` that changes the type, removes, adds or overfills one field."""
    path = draw(st.sampled_from(paths(spec)))
    node: Any = spec
    for key in path:
        node = node[key]
    kind = draw(st.sampled_from(["replace", "delete", "unknown-key", "oversize"]))
    if kind == "unknown-key" and not isinstance(node, dict):
        kind = "replace"
    if kind == "oversize" and not isinstance(node, str | list):
        kind = "replace"
    if kind == "replace":
        other = draw(JSON.filter(lambda v: v is not None and _type_of(v) != _type_of(node)))
        return Mutation(kind, path, other)
    if kind == "unknown-key":
        key = draw(st.text(alphabet="qxzQXZ_", min_size=3, max_size=8))
        return Mutation(kind, (*path, key), 1)
    if kind == "oversize":
        return Mutation(kind, path, 100_000)  # strings: 100,000 characters; lists: 101 times
    return Mutation(kind, path)


def apply(spec: dict[str, Any], mutation: Mutation) -> dict[str, Any]:
    """A copy of `spec` with the mutation made."""
    result = copy.deepcopy(spec)
    parent: Any = result
    for key in mutation.path[:-1]:
        parent = parent[key]
    last = mutation.path[-1]
    if mutation.kind == "delete":
        del parent[last]
    elif mutation.kind == "oversize":
        item = parent[last]
        parent[last] = "x" * mutation.value if isinstance(item, str) else item * 101
    else:
        parent[last] = mutation.value
    return result


def related(problem_path: Path, mutated: Path, message: str = "") -> bool:
    """Whether a problem points at the mutated field: its path is above or below it, or (a rule
    across fields, e.g. the objective's metric among the metric definitions) its message names
    the mutated field."""
    inner = problem_path[1:] if problem_path[:1] == ("spec",) else problem_path
    shortest = min(len(inner), len(mutated))
    if inner[:shortest] == mutated[:shortest]:
        return True
    names = [key for key in mutated if isinstance(key, str)]
    return bool(names) and names[-1] in message
