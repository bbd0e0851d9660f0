"""ACK's status conditions, built from what the reconciler concluded.

ACK's types: `ACK.ResourceSynced` (status reflects the final state of the job), `ACK.Terminal`
(needs a spec change or a new resource), `ACK.Recoverable` (retrying on its own) and `Ready`.
Terminal and Recoverable are present only while True, as ACK's runtime clears them on success.
`lastTransitionTime` is kept when a condition's status did not change, so a status refresh that
only updates counters never looks like a transition.

The order is part of the contract: Argo CD's stock health check for `*.services.k8s.aws` (v3.6)
walks the list and answers at the first `ACK.Terminal=True` (Degraded) or `Ready` (False:
Progressing, True: Healthy). Terminal (and Recoverable) come first, so a Failed job or a refused
spec shows as Degraded there, not as Progressing (tests/ship/test_argocd_health.py asks Argo CD).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

READY = "Ready"
SYNCED = "ACK.ResourceSynced"
TERMINAL = "ACK.Terminal"
RECOVERABLE = "ACK.Recoverable"
ADVISORY = "ACK.Advisory"  # ACK's: worth knowing, changes nothing (here: a namespace's account)

# The problems first: see the module docstring for why the order matters.
ORDER = (TERMINAL, RECOVERABLE, READY, SYNCED, ADVISORY)
LINE_BREAKS = re.compile(r"\s*[^\S ]\s*")  # whitespace that holds a break or a tab
MESSAGE_LIMIT = 1000  # kopf cuts Event messages at 1,024 characters; keep conditions readable too


@dataclass(frozen=True)
class Cond:
    """One condition's meaning: its status, a CamelCase reason and a message a human can act on."""

    status: bool
    reason: str
    message: str


def build(
    previous: Iterable[Mapping[str, Any]] | None,
    *,
    now: str,
    ready: Cond | None,
    synced: Cond,
    terminal: Cond | None = None,
    recoverable: Cond | None = None,
    advisory: Cond | None = None,
) -> list[dict[str, str]]:
    """The conditions list in ACK's shape, ordered Terminal, Recoverable, Ready, Synced, Advisory.

    `terminal`, `recoverable` and `advisory` are given only when True; when None they are left out.
    `ready` is None for a resource without one (ACK's FieldExport: `core.fieldexport`).
    """
    old = {str(c.get("type")): c for c in previous or () if isinstance(c, Mapping)}
    wanted: dict[str, Cond] = {SYNCED: synced} if ready is None else {READY: ready, SYNCED: synced}
    if terminal is not None:
        wanted[TERMINAL] = terminal
    if recoverable is not None:
        wanted[RECOVERABLE] = recoverable
    if advisory is not None:
        wanted[ADVISORY] = advisory
    result: list[dict[str, str]] = []
    for kind in ORDER:
        cond = wanted.get(kind)
        if cond is None:
            continue
        status = "True" if cond.status else "False"
        before = old.get(kind)
        since = now
        if (
            before is not None
            and before.get("status") == status
            and before.get("lastTransitionTime")
        ):
            since = str(before["lastTransitionTime"])
        result.append(
            {
                "type": kind,
                "status": status,
                "reason": cond.reason,
                "message": _clip(cond.message),
                "lastTransitionTime": since,
            }
        )
    return result


def find(conditions: Iterable[Mapping[str, Any]] | None, kind: str) -> Mapping[str, Any] | None:
    """The condition of this type, if present."""
    for cond in conditions or ():
        if isinstance(cond, Mapping) and cond.get("type") == kind:
            return cond
    return None


def is_true(conditions: Iterable[Mapping[str, Any]] | None, kind: str) -> bool:
    """Whether a condition of this type is present with status "True"."""
    cond = find(conditions, kind)
    return cond is not None and cond.get("status") == "True"


def _clip(message: str) -> str:
    """One line of at most MESSAGE_LIMIT characters: a line break or tab and the whitespace
    around it become one space; runs of plain spaces stay (a quoted key in a path may hold them)."""
    text = LINE_BREAKS.sub(" ", message).strip()
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"
