"""Finished resources leave kopf's watch, so history costs the operator next to nothing.

A finished tuning job never changes again, yet kopf keeps a memory record for every object it
watches, and on every start it lists every object and runs a resume handler for each: thousands
of finished resources made the operator's RSS grow with history and its restart peak exceed the
chart's memory limit. So a resource with nothing left to do is *parked*:

- `park(body)`: its job is finished, its status answers its current spec (observedGeneration),
  kopf is done with it (diff-base written, no handler in progress) and it is not being deleted.
  One merge patch (with the resourceVersion read, so no concurrent write is lost) sets the label
  `FINISHED_LABEL` (value: the job's final state) and removes the operator's finalizer: a
  finished job has nothing to stop, so a delete then completes at once, as the delete handler
  would release it. kopf watches with the selector `SELECTOR`
  (`settings.watching.label_selectors`), so the API server sends kopf a DELETED event for it
  (kopf forgets it) and never lists it again.
- `unpark(body)`: a parked resource whose spec was edited (generation ahead of
  observedGeneration), whose status no longer shows a finished job, or that carries the
  operator's finalizer again while being deleted gets the label removed: it re-enters kopf's
  watch as any new object does, and its edit is handled as documented.

Both are decided here, purely; the stall sweep (`stall.Sweeper`), which lists every resource
once per interval anyway, applies them, and the shared poller parks a job it saw finish at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hpo_operator import identity
from hpo_operator.core import progress
from hpo_operator.core.types import FINISHED, STATUS_JOB_STATE
from hpo_operator.identity import BOOKKEEPING_PREFIX, FINISHED_LABEL

SELECTOR = f"!{FINISHED_LABEL}"  # kopf's watch: every resource without the label


def is_parked(body: Mapping[str, Any]) -> bool:
    return FINISHED_LABEL in ((body.get("metadata") or {}).get("labels") or {})


def _settled(body: Mapping[str, Any]) -> str | None:
    """The job's final state when the status answers the current spec; else None."""
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    state = status.get(STATUS_JOB_STATE)
    observed, generation = status.get("observedGeneration"), meta.get("generation")
    if state not in FINISHED or not isinstance(observed, int) or observed != generation:
        return None
    return str(state)


def park(
    body: Mapping[str, Any], finalizer: str, prefix: str = BOOKKEEPING_PREFIX
) -> dict[str, Any] | None:
    """The merge patch that parks this resource, or None when it must stay in the watch."""
    meta = body.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    state = _settled(body)
    if (
        state is None
        or is_parked(body)
        or meta.get("deletionTimestamp")
        or f"{prefix}/{identity.DIFF_BASE_KEY}" not in annotations
        or progress.unfinished(annotations, prefix)
        or not meta.get("resourceVersion")
    ):
        return None
    patch: dict[str, Any] = {
        "resourceVersion": meta["resourceVersion"],
        "labels": {FINISHED_LABEL: state},
    }
    finalizers = list(meta.get("finalizers") or [])
    if finalizer in finalizers:
        patch["finalizers"] = [f for f in finalizers if f != finalizer]
    return {"metadata": patch}


def parked_away(body: Mapping[str, Any], finalizer: str, prefix: str = BOOKKEEPING_PREFIX) -> bool:
    """Whether the body of a DELETED event of kopf's watch is a resource that was parked, not
    deleted: when an object stops matching a watch's label selector the API server sends a
    DELETED event with the object as it was before that write, so it is the body parking
    decided on (without the label yet); a body with the label is taken as parked too."""
    return is_parked(body) or park(body, finalizer, prefix) is not None


def unpark(body: Mapping[str, Any], finalizer: str) -> tuple[dict[str, Any], str] | None:
    """The merge patch that returns a parked resource to kopf's watch, and why; else None."""
    if not is_parked(body):
        return None
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    why = None
    if meta.get("deletionTimestamp"):
        if finalizer in (meta.get("finalizers") or []):
            why = "being deleted with the operator's finalizer"
    elif _settled(body) is None:
        observed, generation = status.get("observedGeneration"), meta.get("generation")
        if status.get(STATUS_JOB_STATE) in FINISHED and observed != generation:
            why = f"spec generation {generation} not handled (status has {observed})"
        else:
            why = f"status shows no finished job ({status.get(STATUS_JOB_STATE)!r})"
    if why is None:
        return None
    patch: dict[str, Any] = {"labels": {FINISHED_LABEL: None}}
    if meta.get("resourceVersion"):
        patch["resourceVersion"] = meta["resourceVersion"]
    return {"metadata": patch}, why
