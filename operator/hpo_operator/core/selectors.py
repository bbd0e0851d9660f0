"""Label selectors as `--watch-selectors` takes them: checked at startup, joined for the watch.

The API server evaluates a selector (kopf's watch and list, the stall sweep's LIST and the
FieldExport source read all pass it as `labelSelector`), so nothing here matches labels: a
selector the API server would refuse (400 on every watch, the operator silently idle) is refused
at startup instead, with the requirement that is wrong. The grammar is the one of
Kubernetes' `labels.Parse`: requirements joined by commas, each `key`, `!key`, `key=value`,
`key==value`, `key!=value`, `key in (v1,v2)`, `key notin (v1,v2)`, `key>N` or `key<N`.
"""

from __future__ import annotations

import re

_PREFIX = r"(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*/)?"
_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY = _PREFIX + _NAME
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?"
_REQUIREMENT = re.compile(
    rf"!?\s*{_KEY}"
    rf"|{_KEY}\s*(?:==|=|!=)\s*{_VALUE}"
    rf"|{_KEY}\s+(?:in|notin)\s*\(\s*{_VALUE}(?:\s*,\s*{_VALUE})*\s*\)"
    rf"|{_KEY}\s*[<>]\s*-?[0-9]+"
)
_SPLIT = re.compile(r",(?![^()]*\))")  # the commas between requirements, not inside a set


def requirements(selector: str) -> list[str]:
    """The selector's requirements, each stripped; empty for an empty selector."""
    if not selector.strip():
        return []
    return [part.strip() for part in _SPLIT.split(selector)]


def selector_problem(selector: str) -> str | None:
    """Why the API server would refuse `selector`; None when it is well formed (or empty)."""
    for part in requirements(selector):
        if not part:
            return f"{selector!r} has an empty requirement (two commas, or one at an end)"
        if len(part.split("/", 1)[0]) > 253 or not _REQUIREMENT.fullmatch(part):
            return (
                f"{part!r} is not a label selector requirement (key, !key, key=value, "
                "key!=value, key in (a,b), key notin (a,b))"
            )
    return None


def join(*selectors: str) -> str:
    """Several selectors as one: every requirement of each must hold (the API server's AND)."""
    return ",".join(part for s in selectors for part in requirements(s))
