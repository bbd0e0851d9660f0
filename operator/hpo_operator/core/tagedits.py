"""Tag edits: the one change SageMaker allows to a tuning job (AddTags / DeleteTags), applied.

An edit is told apart by the two digests recorded when the job was created or adopted: the whole
spec's (`ANN_SPEC_HASH`) and the spec's without its tags (`ANN_UNTAGGED_HASH`). Only the first
changed: an edit of spec.tags alone, turned into DeleteTags then AddTags on the job, from the
difference between the tags it should carry (spec, then default resource tags) and those
ListTags shows. System tags, default resource tags and `aws:` tags are never deleted. The
digests are written only after the job has the tags, so a crash in between repeats the diff,
which is then empty or smaller: level-based. Tags the model refuses (too many beside the system
and default tags) are ACK.Terminal naming spec.tags, with no call. A refusal for good from AWS
(a ValidationException) is ACK.Terminal with AWS's message, recorded so that it is not sent
again until the spec changes; throttling and other transient failures are ACK.Recoverable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from enum import Enum
from typing import Any

from hpo_operator.core import conditions as cond
from hpo_operator.core.conditions import Cond
from hpo_operator.core.outcome import known, recoverable, spec_hash, untagged_hash
from hpo_operator.core.target import proven
from hpo_operator.core.types import (
    Call,
    ErrorKind,
    Event,
    Observation,
    Op,
    Resource,
    Step,
    Target,
)
from hpo_operator.identity import ANN_SPEC_HASH, ANN_TAGS_REFUSED, ANN_UNTAGGED_HASH
from hpo_operator.model.resourcetags import tag_edit
from hpo_operator.model.translate import spec_to_request
from hpo_operator.model.validate import validate_spec

TAG_OPS = frozenset({Op.ADD_TAGS, Op.DELETE_TAGS})
REFUSED = "TagUpdateRejected"  # ACK.Terminal reason of a tag edit SageMaker refused


class Edit(Enum):
    """How the spec differs from the one the job was created or adopted with."""

    NONE = "none"
    TAGS = "tags"  # spec.tags alone
    OTHER = "other"  # anything else (perhaps beside the tags): SageMaker cannot apply it


def spec_edit(r: Resource) -> Edit:
    """The kind of edit since the job was created or adopted (NONE when nothing is recorded)."""
    recorded = r.annotations.get(ANN_SPEC_HASH)
    if recorded is None or recorded == spec_hash(r.spec):
        return Edit.NONE
    if r.annotations.get(ANN_UNTAGGED_HASH) == untagged_hash(r.spec):
        return Edit.TAGS
    return Edit.OTHER


def edit_failed(r: Resource, t: Target, obs: Observation) -> bool:
    """The last failed call is a tag edit's, on a job already proven this resource's (not the
    AddTags that records an adoption)."""
    failure = obs.failure
    return failure is not None and failure.op in TAG_OPS and proven(r, t, obs)


def tag_problems(r: Resource, t: Target, defaults: Sequence[Mapping[str, str]]) -> list[str]:
    """What is wrong with spec.tags against the model and the room the system and default tags
    take (the rest of the spec is the one the job was created or adopted with)."""
    keys = [str(tag["Key"]) for tag in defaults]
    found = validate_spec(r.spec, t.region, keys)
    return [str(p) for p in found if p.path[:2] == ("spec", "tags")]


def desired_tags(r: Resource, defaults: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """The tags the job should carry besides its system tags: the spec's, then the defaults."""
    own = spec_to_request(r.spec).get("Tags") or []
    tags = [
        {"Key": str(t.get("Key")), "Value": str(t.get("Value") or "")}
        for t in own
        if isinstance(t, Mapping)
    ]
    return tags + [dict(t) for t in defaults]


def apply_tag_edit(
    r: Resource,
    t: Target,
    obs: Observation,
    now: str,
    arn: str,
    defaults: Sequence[Mapping[str, str]],
    default_pairs: Sequence[tuple[str, str]],
) -> Step:
    """The next call of a tag edit on a job proven this resource's, or its outcome."""
    current = spec_hash(r.spec)
    if r.annotations.get(ANN_TAGS_REFUSED) == current:
        return known(r, t, obs, now, arn, problem=_kept_refusal(r))
    failure = obs.failure if edit_failed(r, t, obs) else None
    if failure is not None and failure.kind is ErrorKind.TERMINAL:
        message = (
            f"SageMaker refused the edit of spec.tags on tuning job {t.job_name} "
            f"({failure.op.value}, {failure.code}): {failure.message}. Fix spec.tags; the "
            "status still follows the job."
        )
        step = known(r, t, obs, now, arn, problem=Cond(True, REFUSED, message))
        return replace(step, annotations={**step.annotations, ANN_TAGS_REFUSED: current})
    if failure is not None:
        return recoverable(r, t, now, failure, "applying the edit of spec.tags", keep_job=True)
    problems = tag_problems(r, t, defaults)
    if problems:
        message = "The edit of spec.tags was not applied: " + "; ".join(problems)
        return known(r, t, obs, now, arn, problem=Cond(True, "InvalidSpec", message))
    if obs.tags is None or not obs.listed:
        return Step(Call(Op.LIST_TAGS, t.job_name, arn=arn, authoritative=True))
    keep = [key for key, _ in default_pairs]
    edit = tag_edit(desired_tags(r, defaults), obs.tags, keep)
    if edit.delete:  # first: room for the tags to add, under AWS's limit of 50
        request = {"TagKeys": list(edit.delete)}
        return Step(Call(Op.DELETE_TAGS, t.job_name, request=request, arn=arn))
    if edit.add:
        return Step(Call(Op.ADD_TAGS, t.job_name, request={"Tags": list(edit.add)}, arn=arn))
    step = known(r, t, obs, now, arn)
    changes = []
    if obs.added:
        changes.append("set " + ", ".join(sorted(set(obs.added))))
    if obs.removed:
        changes.append("removed " + ", ".join(sorted(set(obs.removed))))
    detail = "; ".join(changes) or "the job already had them"
    event = Event("Normal", "TagsUpdated", f"Tags of tuning job {t.job_name} updated: {detail}")
    annotations = {ANN_SPEC_HASH: current, ANN_UNTAGGED_HASH: untagged_hash(r.spec)}
    if r.annotations.get(ANN_TAGS_REFUSED):
        annotations[ANN_TAGS_REFUSED] = ""
    return replace(
        step, annotations={**step.annotations, **annotations}, events=(*step.events, event)
    )


def _kept_refusal(r: Resource) -> Cond:
    """The refusal recorded for this spec, as the status last said it."""
    found: Mapping[str, Any] = cond.find(r.status.get("conditions"), cond.TERMINAL) or {}
    message = str(found.get("message") or "SageMaker refused the edit of spec.tags")
    return Cond(True, REFUSED, message)
