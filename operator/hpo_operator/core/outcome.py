"""What a reconcile writes: status (from a Describe, or kept), conditions, Events on transitions
only, and the readers of a status this operator wrote. Kept apart from the decisions that pick
which outcome applies."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from hpo_operator.core import conditions as cond
from hpo_operator.core.conditions import Cond
from hpo_operator.core.types import (
    COMPLETED,
    CREATING,
    DELETE_FAILED,
    DELETING,
    FAILED,
    IN_PROGRESS,
    JOB_NOT_FOUND,
    OWN_STATUS_KEYS,
    STATUS_JOB_STATE,
    STOPPED,
    STOPPING,
    AwsFailure,
    Event,
    Observation,
    Resource,
    Retry,
    Step,
    Target,
)
from hpo_operator.identity import ANN_JOB_NAME, ANN_SPEC_HASH, ANN_UNTAGGED_HASH
from hpo_operator.model.translate import describe_to_status


def spec_hash(spec: Mapping[str, Any]) -> str:
    """A short, stable digest of a spec, recorded at Create to notice later edits."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def untagged_hash(spec: Mapping[str, Any]) -> str:
    """`spec_hash` of the spec without its tags: unchanged by an edit of spec.tags alone."""
    return spec_hash({key: value for key, value in spec.items() if key != "tags"})


def parse_arn(arn: str) -> dict[str, str]:
    """`ackResourceMetadata` from an ARN: arn, partition, region and ownerAccountID."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return {"arn": arn}
    meta = {"arn": arn, "partition": parts[1], "region": parts[3], "ownerAccountID": parts[4]}
    return {k: v for k, v in meta.items() if v}


def status_arn(status: Mapping[str, Any]) -> str | None:
    """The job ARN recorded in status, if the resource already owns or follows a job."""
    meta = status.get("ackResourceMetadata")
    arn = meta.get("arn") if isinstance(meta, Mapping) else None
    return str(arn) if arn else None


def create_in_doubt(status: Mapping[str, Any]) -> bool:
    """The last outcome this operator recorded is a Create that failed in a way that may still
    have created the job (network, timeout, 5xx): only a look at SageMaker can tell."""
    found = cond.find(status.get("conditions"), cond.RECOVERABLE)
    message = str((found or {}).get("message") or "")
    return cond.is_true(status.get("conditions"), cond.RECOVERABLE) and message.startswith(
        f"Retrying after {CREATING}:"
    )


def _doubt(status: Mapping[str, Any]) -> Cond | None:
    found = cond.find(status.get("conditions"), cond.RECOVERABLE) or {}
    return Cond(True, str(found.get("reason") or "Retrying"), str(found.get("message") or ""))


UNREACHABLE_REASONS = frozenset({"InvalidAnnotation", "InvalidConfiguration", "RoleUnavailable"})


# --------------------------------------------------------------------------------------------
# Outcomes


def release(message: str) -> Step:
    return Step(release=True, events=(Event("Normal", "Released", message),))


def known(
    r: Resource,
    t: Target,
    obs: Observation,
    now: str,
    arn: str,
    *,
    events: tuple[Event, ...] = (),
    record_job: bool = False,
    check_edits: bool = False,
    problem: Cond | None = None,
) -> Step:
    """Status for a job this resource follows, from the latest Describe (or the last status);
    `problem`: an ACK.Terminal beside it (a tag edit SageMaker refused)."""
    if obs.described is not None:
        job = describe_to_status(obs.described)
    else:
        job = {k: v for k, v in r.status.items() if k not in OWN_STATUS_KEYS}
    state = job.get(STATUS_JOB_STATE)
    ready, synced, terminal = job_conditions(t.job_name, job)
    annotations: dict[str, str] = {}
    current_hash = spec_hash(r.spec)
    untagged = untagged_hash(r.spec)
    if record_job:
        annotations = {
            ANN_JOB_NAME: t.job_name,
            ANN_SPEC_HASH: current_hash,
            ANN_UNTAGGED_HASH: untagged,
        }
    elif check_edits:
        recorded = r.annotations.get(ANN_SPEC_HASH)
        if recorded is None:
            # Written by an older run: record now.
            annotations = {ANN_SPEC_HASH: current_hash, ANN_UNTAGGED_HASH: untagged}
        elif recorded == current_hash and r.annotations.get(ANN_UNTAGGED_HASH) is None:
            annotations = {ANN_UNTAGGED_HASH: untagged}  # recorded before tag edits existed
        elif recorded != current_hash:
            terminal = Cond(
                True,
                "SpecImmutable",
                f"SageMaker cannot update a tuning job; the spec changed after job {t.job_name} "
                "was created and the change was not applied (only an edit of spec.tags alone "
                "is: AddTags/DeleteTags). Revert the edit, or create a new resource with a new "
                "hyperParameterTuningJobName. Status still follows the job.",
            )
            ready = Cond(False, "SpecImmutable", "The spec no longer describes the running job")
    if problem is not None:
        terminal, ready = problem, Cond(False, problem.reason, problem.message)
    status = _status(r, t, job, arn, now, ready=ready, synced=synced, terminal=terminal)
    events += _transition_events(r, t, status, state)
    return Step(status=status, annotations=annotations, events=events, job_name=t.job_name)


def job_conditions(job_name: str, job: Mapping[str, Any]) -> tuple[Cond, Cond, Cond | None]:
    """(Ready, ACK.ResourceSynced, ACK.Terminal) for a job in this state (status field names)."""
    state = job.get(STATUS_JOB_STATE)
    progress = _progress(job)
    if state == COMPLETED:
        best = _best(job)
        message = f"Tuning job {job_name} completed" + (f"; best: {best}" if best else "")
        return Cond(True, COMPLETED, message), Cond(True, COMPLETED, message), None
    if state == FAILED:
        reason = str(job.get("failureReason") or "no reason given").rstrip(". ")
        message = (
            f"Tuning job {job_name} failed: {reason}. Fix the cause, then create a new resource "
            "with a new hyperParameterTuningJobName (SageMaker cannot restart a tuning job)."
        )
        return (
            Cond(False, FAILED, message),
            Cond(True, FAILED, f"Tuning job {job_name} is Failed"),
            Cond(True, "JobFailed", message),
        )
    if state == STOPPED:
        message = f"Tuning job {job_name} was stopped before it completed{progress}"
        return Cond(False, STOPPED, message), Cond(True, STOPPED, message), None
    if state == DELETE_FAILED:
        message = f"SageMaker could not delete tuning job {job_name}: {job.get('failureReason')}"
        return Cond(False, DELETE_FAILED, message), Cond(True, DELETE_FAILED, message), None
    if state in (IN_PROGRESS, STOPPING, DELETING):
        message = f"Tuning job {job_name} is {state}{progress}"
        return Cond(False, str(state), message), Cond(False, str(state), message), None
    message = f"Tuning job {job_name} was created; waiting for its first status from SageMaker"
    return Cond(False, "Created", message), Cond(False, "Created", message), None


def _progress(job: Mapping[str, Any]) -> str:
    counters = job.get("trainingJobStatusCounters")
    if not isinstance(counters, Mapping):
        return ""
    parts = [
        f"{counters[key]} {label}"
        for key, label in (
            ("completed", "completed"),
            ("inProgress", "in progress"),
            ("retryableError", "retryable errors"),
            ("nonRetryableError", "failed"),
            ("stopped", "stopped"),
        )
        if counters.get(key)
    ]
    return f" (training jobs: {', '.join(parts)})" if parts else ""


def _best(job: Mapping[str, Any]) -> str:
    best = job.get("bestTrainingJob")
    if not isinstance(best, Mapping):
        return ""
    metric = best.get("finalHyperParameterTuningJobObjectiveMetric")
    text = str(best.get("trainingJobName") or "")
    if isinstance(metric, Mapping) and metric.get("metricName") is not None:
        text += f" ({metric.get('metricName')}={metric.get('value')})"
    return text


def _status(
    r: Resource,
    t: Target,
    job: Mapping[str, Any],
    arn: str | None,
    now: str,
    *,
    ready: Cond,
    synced: Cond,
    terminal: Cond | None = None,
    recoverable: Cond | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = dict(job)
    if arn:
        meta = parse_arn(arn)
        if t.region and "region" not in meta:
            meta["region"] = t.region
        status["ackResourceMetadata"] = meta
    status["conditions"] = cond.build(
        r.status.get("conditions"),
        now=now,
        ready=ready,
        synced=synced,
        terminal=terminal,
        recoverable=recoverable,
        advisory=Cond(True, "AccountChanged", t.account_note) if t.account_note else None,
    )
    status["observedGeneration"] = r.generation
    return status


def blocked(
    r: Resource,
    t: Target,
    now: str,
    problem: Cond,
    *,
    recoverable: bool = False,
    keep_job: bool = False,
    keep_doubt: bool = False,
) -> Step:
    """ACK.Terminal (or, for what fixes itself, ACK.Recoverable) with nothing else to do.

    `keep_doubt`: keep the ACK.Recoverable of a Create in doubt beside the Terminal, so that a
    delete still knows the job may exist (`create_in_doubt`)."""
    job = {k: v for k, v in r.status.items() if k not in OWN_STATUS_KEYS} if keep_job else {}
    arn = status_arn(r.status) if keep_job else None
    not_synced = Cond(False, problem.reason, problem.message)
    if keep_job and job.get(STATUS_JOB_STATE):
        ready, synced, _ = job_conditions(t.job_name, job)
        ready = Cond(False, problem.reason, problem.message)
    else:
        ready, synced = not_synced, not_synced
    status = _status(
        r,
        t,
        job,
        arn,
        now,
        ready=ready,
        synced=synced,
        terminal=None if recoverable else problem,
        recoverable=problem if recoverable else _doubt(r.status) if keep_doubt else None,
    )
    events = _condition_events(r, status)
    return Step(
        status=status,
        events=events,
        retry=Retry.POLL if recoverable else None,
        job_name=t.job_name,
    )


def recoverable(
    r: Resource,
    t: Target,
    now: str,
    failure: AwsFailure | None,
    doing: str,
    *,
    keep_job: bool = True,
) -> Step:
    """ACK.Recoverable with what failed and what to fix; the shell retries with backoff."""
    if failure is None:
        detail = "SageMaker gave an inconsistent answer"
    else:
        detail = f"{failure.op.value} failed ({failure.code}): {failure.message}"
    problem = Cond(
        True, failure.code if failure else "Retrying", f"Retrying after {doing}: {detail}"
    )
    step = blocked(r, t, now, problem, recoverable=True, keep_job=keep_job)
    if failure is not None and failure.local:
        step = replace(step, events=())
    return replace(step, retry=Retry.BACKOFF)


def job_gone(status: Mapping[str, Any]) -> bool:
    """The job the status follows was found deleted from SageMaker (nothing left to poll)."""
    terminal = cond.find(status.get("conditions"), cond.TERMINAL)
    return terminal is not None and terminal.get("reason") == JOB_NOT_FOUND


def ours(status: Mapping[str, Any]) -> bool:
    """Whether this operator wrote the status (every status it writes has observedGeneration;
    ACK's never has)."""
    return "observedGeneration" in status


def terminal_for_this_generation(r: Resource) -> bool:
    observed = r.status.get("observedGeneration")
    return observed == r.generation and spec_terminal(r.status)


def spec_terminal(status: Mapping[str, Any]) -> bool:
    """ACK.Terminal about the spec or the job, not an unusable region or endpoint: that one
    lifts as soon as the annotation or setting is fixed, with no spec change."""
    found = cond.find(status.get("conditions"), cond.TERMINAL)
    return cond.is_true(status.get("conditions"), cond.TERMINAL) and (
        (found or {}).get("reason") not in UNREACHABLE_REASONS
    )


# --------------------------------------------------------------------------------------------
# Events: on transitions only, so a retry or a poll that changes nothing posts nothing


def _transition_events(
    r: Resource, t: Target, status: Mapping[str, Any], state: Any
) -> tuple[Event, ...]:
    events: list[Event] = []
    before = r.status.get(STATUS_JOB_STATE)
    if state and state != before:
        kind = "Warning" if state == FAILED else "Normal"
        message = f"Tuning job {t.job_name} is {state}"
        if state == FAILED:
            message += f": {status.get('failureReason') or 'no reason given'}"
        elif state == COMPLETED and _best(status):
            message += f"; best training job {_best(status)}"
        events.append(Event(kind, f"Job{state}", message))
    events.extend(e for e in _condition_events(r, status) if e.reason != "JobFailed")
    return tuple(events)


def _condition_events(r: Resource, status: Mapping[str, Any]) -> tuple[Event, ...]:
    """A Warning when ACK.Terminal or ACK.Recoverable appears or its message changes."""
    events: list[Event] = []
    for kind in (cond.TERMINAL, cond.RECOVERABLE):
        new = cond.find(status.get("conditions"), kind)
        if new is None or new.get("status") != "True":
            continue
        old = cond.find(r.status.get("conditions"), kind)
        if old is None or old.get("status") != "True" or old.get("message") != new.get("message"):
            events.append(Event("Warning", str(new.get("reason")), str(new.get("message"))))
    return tuple(events)
