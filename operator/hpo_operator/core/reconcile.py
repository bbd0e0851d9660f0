"""The reconciler's decisions, as pure functions: what to ask SageMaker next, and what to write.

`decide(resource, observation, now, settings, trigger)` is called repeatedly by the shell
(`driver.py`). Each call returns a `Step`: either one SageMaker call to make next (the shell makes
it, records the answer into the observation with `record`, and asks again), or the final outcome —
the status to write, bookkeeping annotations, Events, whether the finalizer may go and whether to
retry. Nothing here does I/O, reads a clock or draws a random number, so every path is a unit test.

The table, in the order `decide` reads it:

Ownership is proven, never assumed: a job's Describe goes into status, and the job is stopped or
tagged, only once its tags show it is this resource's (`ownership`: ListTags once per resource per
operator process, cached by the shell from `Step.proven`; a job this process created needs none).
The job is the one `choose_job_name` picks (a status ARN alone never wins over the recorded name
and the spec); a job not proven this resource's gets ACK.Terminal `NotOwned` and no AWS call that
changes anything, and refusals never name another namespace's resource.

| situation | calls | outcome |
|---|---|---|
| being deleted, read-only or `deletion-policy: retain` | — | release the finalizer |
| being deleted, no job can exist (`_no_job_possible`) | — | release |
| being deleted, unusable region or endpoint, a job may exist | — | ACK.Terminal with a fix; wait |
| being deleted, job never created / refused / gone / finished | (Describe) | release |
| being deleted, no job and a cross-account namespace annotation | — | release |
| being deleted, job InProgress | Describe, (ListTags), Stop, Describe | poll until Stopped |
| being deleted, job not this resource's | Describe, ListTags | release; the job is left alone |
| region or endpoint unusable or refused (`endpoints.py`) | — | ACK.Terminal naming it; re-checked |
| namespace has `owner-account-id` / `team-id` (cross-account) | — | ACK.Terminal, no job |
| read-only | Describe (unless finished), (ListTags) | status from the job; never Create or Stop |
| job known (ARN in status), finished | — | conditions only: zero AWS calls |
| job known, finished, status by ACK (no observedGeneration) | Describe, ListTags, AddTags | once |
| job known, InProgress/Stopping | Describe, (ListTags) | status from the job |
| status ARN names another job than recorded name and spec | Describe, (ListTags) | ARN ignored |
| job not proven this resource's by its tags | Describe, ListTags | ACK.Terminal NotOwned |
| resume, job InProgress/Stopping, shared poller | (ListTags) | status kept (the poller checks) |
| spec edited after Create | as above | + ACK.Terminal "cannot update"; status refreshes |
| adoption-policy adopt | Describe, ListTags, AddTags | adopt (tagged) unless another holds it |
| adoption-policy adopt-or-create, job exists | Describe, ListTags, AddTags | adopt, as adopt |
| adoption-policy adopt-or-create, no job | Describe, Create, (Describe) | as not created |
| spec.tags alone edited after Create/adoption | (ListTags), DeleteTags, AddTags | applied |
| spec.tags edited beyond the model's rules | — | ACK.Terminal naming spec.tags |
| tag edit refused: ValidationException etc. | — | ACK.Terminal with AWS's message, once |
| spec invalid | — | ACK.Terminal naming the fields; no call until the spec changes |
| Terminal for this generation | — | nothing until the spec changes |
| not created | Create, Describe (shared poller: Create) | ARN + status; Event Created |
| Create queued behind the account's budget | — | queued; ACK.Recoverable if for long |
| Create: ResourceInUse | Describe, ListTags | adopt if the tags name this resource, else Terminal |
| Create: ValidationException etc. | — | ACK.Terminal with AWS's message |
| any call: throttled, 5xx, network, credentials | — | ACK.Recoverable, retry with backoff |
| a call the operator's own budget deferred | — | the same, without an Event (`AwsFailure.local`) |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from hpo_operator.core import results
from hpo_operator.core.conditions import Cond
from hpo_operator.core.outcome import (
    blocked,
    create_in_doubt,
    job_gone,
    known,
    ours,
    recoverable,
    release,
    spec_terminal,
    status_arn,
    terminal_for_this_generation,
)
from hpo_operator.core.tagedits import Edit, apply_tag_edit, edit_failed, spec_edit
from hpo_operator.core.target import (
    arn_names,
    job_ref,
    owned_by,
    ownership,
    proven,
    target_of,
)
from hpo_operator.core.types import (
    CREATING,
    FINISHED,
    IN_PROGRESS,
    JOB_NOT_FOUND,
    STATUS_JOB_STATE,
    STOPPING,
    AwsFailure,
    Call,
    ErrorKind,
    Event,
    Mode,
    Observation,
    Op,
    ReconcileSettings,
    Resource,
    Retry,
    Step,
    Target,
    Trigger,
)
from hpo_operator.identity import ANN_DELETION_POLICY, ANN_JOB_NAME
from hpo_operator.model.resourcetags import default_tags
from hpo_operator.model.translate import (
    BEST_MODEL_ARTIFACTS,
    TOP_TRAINING_JOBS,
    TOP_TRAINING_JOBS_COMPLETED,
    spec_to_request,
    with_system_tags,
)
from hpo_operator.model.validate import validate_spec


def sane_status(status: Mapping[str, Any]) -> Mapping[str, Any]:
    """The status without the keys this module reads when their type is wrong (a hand edit by a
    client that skips the CRD's schema): they are rewritten from SageMaker, never trusted."""
    expected: dict[str, type | tuple[type, ...]] = {
        "ackResourceMetadata": Mapping,
        "conditions": list,
        STATUS_JOB_STATE: str,
        "observedGeneration": int,
        "trainingJobStatusCounters": Mapping,
        "bestTrainingJob": Mapping,
        TOP_TRAINING_JOBS: list,
        TOP_TRAINING_JOBS_COMPLETED: int,
        BEST_MODEL_ARTIFACTS: Mapping,
    }
    bad = [k for k, kind in expected.items() if k in status and not isinstance(status[k], kind)]
    meta = status.get("ackResourceMetadata")
    if isinstance(meta, Mapping) and not isinstance(meta.get("arn", ""), str):
        bad.append("ackResourceMetadata")
    return {k: v for k, v in status.items() if k not in bad} if bad else status


def spec_problems(
    spec: Mapping[str, Any], region: str | None = None, defaults: Sequence[str] = ()
) -> list[str]:
    """The spec's problems against the SageMaker model (and, given the region its job runs in,
    the rules that need it; given the default resource tags' keys, the room they take), one
    `spec.path: message` line each."""
    return [str(problem) for problem in validate_spec(spec, region, defaults)]


def resource_defaults(r: Resource, cfg: ReconcileSettings) -> list[dict[str, str]]:
    """The default resource tags (`--resource-tags`) this resource's job carries: expanded for
    it, without those its spec.tags override (ACK: the spec's own tags win)."""
    own = spec_to_request(r.spec).get("Tags") or []
    keys = [str(t.get("Key")) for t in own if isinstance(t, Mapping)]
    version = cfg.operator_version
    return default_tags(cfg.resource_tags, r.namespace, r.name, r.labels, version, keys)


def create_request(r: Resource, cfg: ReconcileSettings) -> dict[str, Any]:
    """The exact CreateHyperParameterTuningJob request: the spec translated, plus the default
    resource tags and the system tags."""
    request = spec_to_request(r.spec)
    defaults = resource_defaults(r, cfg)
    return with_system_tags(request, r.namespace, r.name, r.uid, cfg.operator_version, defaults)


def record(obs: Observation, call: Call, result: Mapping[str, Any] | AwsFailure) -> Observation:
    """The observation after a call answered `result` (its response, or how it failed)."""
    if call.op is Op.LIST_TRAININGS:
        return replace(obs, trainings=result)
    if call.op is Op.DESCRIBE_TRAINING:
        return replace(obs, training=result)
    if isinstance(result, AwsFailure):
        if call.op is Op.CREATE:
            return replace(obs, create_failure=result)
        if call.op is Op.DESCRIBE and result.kind is ErrorKind.NOT_FOUND:
            return replace(obs, not_found=True, described=None, failure=None)
        return replace(obs, failure=result)
    if call.op is Op.CREATE:
        return replace(obs, created_arn=str(result.get("HyperParameterTuningJobArn") or ""))
    if call.op is Op.DESCRIBE:
        return replace(obs, described=result, describes=obs.describes + 1, not_found=False)
    if call.op is Op.STOP:
        return replace(obs, stopped=True)
    if call.op is Op.ADD_TAGS:
        added = tuple((call.request or {}).get("Tags") or ())
        keys = {t.get("Key") for t in added}
        tags = obs.tags
        if tags is not None:
            tags = (*(t for t in tags if t.get("Key") not in keys), *added)
        return replace(obs, tagged=True, tags=tags, added=obs.added + tuple(map(str, keys)))
    if call.op is Op.DELETE_TAGS:
        gone = tuple(str(k) for k in (call.request or {}).get("TagKeys") or ())
        tags = obs.tags
        if tags is not None:
            tags = tuple(t for t in tags if t.get("Key") not in gone)
        return replace(obs, tags=tags, removed=obs.removed + gone)
    tags = result.get("Tags") or ()
    listed = obs.listed or call.authoritative
    return replace(obs, tags=tuple(t for t in tags if isinstance(t, Mapping)), listed=listed)


# --------------------------------------------------------------------------------------------
# The decision


def decide(
    r: Resource, obs: Observation, now: str, cfg: ReconcileSettings, trigger: Trigger
) -> Step:
    """The next call to make, or the outcome. `now` is an RFC 3339 UTC timestamp."""
    r = replace(r, status=sane_status(r.status))
    t = target_of(r, cfg)
    step = _decide(r, t, obs, now, cfg, trigger)
    if step.call is None and not step.release and proven(r, t, obs):
        step = replace(step, proven=job_ref(t))
        if _follows_results(r, step, obs, trigger):
            known_step = step
            step, read = results.apply(r, step, obs, cfg)
            if read is not None:
                if obs.trainings is None and obs.training is None:
                    # The first read: what is known is written first, so a status change (a job
                    # that just finished) never waits on the results' budget.
                    new_best = results.best_changed(r.status, step.status or {})
                    events = known_step.events + new_best
                    return replace(known_step, call=read, status=step.status, events=events)
                return Step(read)
    return step


def _follows_results(r: Resource, step: Step, obs: Observation, trigger: Trigger) -> bool:
    """Whether the step reports a job whose results (`results.py`) may be read: a settled status
    of a proven job, not being deleted, with no failure or vanished job this reconcile."""
    deleting = r.deleting or trigger is Trigger.DELETE
    clean = obs.failure is None and not obs.not_found
    return not deleting and clean and step.retry is None and step.status is not None


def _decide(
    r: Resource, t: Target, obs: Observation, now: str, cfg: ReconcileSettings, trigger: Trigger
) -> Step:
    v = cfg.operator_version
    if r.deleting or trigger is Trigger.DELETE:
        return _on_delete(r, t, obs, now, v)
    if t.unreachable is not None:
        # Nothing may be sent: Terminal (a person must fix it), looked at again every poll
        # interval, since fixing a namespace annotation triggers no handler of the resource.
        problem = Cond(True, _unreachable_reason(t), t.unreachable)
        step = blocked(r, t, now, problem, keep_job=True, keep_doubt=create_in_doubt(r.status))
        return replace(step, retry=Retry.POLL)
    if t.problem is not None:
        return blocked(r, t, now, Cond(True, "InvalidAnnotation", t.problem), recoverable=True)
    if t.mode is Mode.READ_ONLY:
        return _follow(r, t, obs, now, trigger, cfg, check_edits=False)
    arn = status_arn(r.status)
    if arn:
        running = r.status.get(STATUS_JOB_STATE) in (IN_PROGRESS, STOPPING)
        if (
            trigger is Trigger.RESUME
            and cfg.resume_from_status
            and running
            and ours(r.status)
            and arn_names(arn, t)
        ):
            # Trust a running job's status, but only for a job proven this resource's.
            proof = ownership(r, t, obs, arn, v)
            if isinstance(proof, Call):
                return Step(proof)
            if not proof:
                return _not_owned(r, t, now)
            return _edited(r, t, obs, now, arn, cfg)
        return _follow(r, t, obs, now, trigger, cfg, check_edits=True)
    if trigger is Trigger.POLL:
        return Step(job_name=t.job_name)  # creating or adopting is the change handlers' job
    if t.mode is Mode.ADOPT:
        return _adopt(r, t, obs, now, v)
    if t.mode is Mode.ADOPT_OR_CREATE:
        return _adopt_or_create(r, t, obs, now, cfg)
    return _create(r, t, obs, now, cfg)


def _unrecordable(obs: Observation) -> bool:
    """AWS refused, for good, to put this resource's tags on the job (50 tags already, say)."""
    failure = obs.failure
    return failure is not None and failure.op is Op.ADD_TAGS and failure.kind is ErrorKind.TERMINAL


def _not_recorded(r: Resource, t: Target, now: str, obs: Observation) -> Step:
    """ACK.Terminal: a job this resource may take over, but whose tags cannot record it."""
    failure = obs.failure
    detail = f"{failure.code}: {failure.message}" if failure is not None else ""
    message = (
        f"SageMaker refused to record this resource on tuning job {t.job_name} (AddTags, "
        f"{detail}); the operator follows only jobs whose tags name their resource. Make room "
        "among the job's tags, then edit this resource to try again."
    )
    return blocked(r, t, now, Cond(True, "OwnershipNotRecorded", message))


def _not_owned(r: Resource, t: Target, now: str) -> Step:
    """ACK.Terminal for a job this resource cannot prove its own; its status keeps nothing of it.
    The message names only the job name this resource itself gave."""
    message = (
        f"Tuning job {t.job_name} is not this resource's: it was neither created by it nor "
        "adopted by it (its tags do not name this resource), so the operator does not follow, "
        "report or stop it. The resource's status or annotations named a job it does not own; "
        "delete this resource, or create a new one."
    )
    return blocked(r, t, now, Cond(True, "NotOwned", message))


def _invalid(r: Resource, t: Target, now: str, cfg: ReconcileSettings) -> Step | None:
    """Nothing to do for this generation (Terminal already), or ACK.Terminal naming the
    spec's problems; None when a job may be created from the spec."""
    if terminal_for_this_generation(r):
        return Step(job_name=t.job_name)  # no retry until the spec changes
    defaults = [tag["Key"] for tag in resource_defaults(r, cfg)]
    problems = spec_problems(r.spec, t.region, defaults)
    if problems:
        message = "The spec is invalid, so no job was created: " + "; ".join(problems)
        return blocked(r, t, now, Cond(True, "InvalidSpec", message))
    return None


def _create(
    r: Resource,
    t: Target,
    obs: Observation,
    now: str,
    cfg: ReconcileSettings,
    *,
    looked: bool = False,
) -> Step:
    """Create the job (`looked`: a Describe found none first, for adopt-or-create)."""
    invalid = _invalid(r, t, now, cfg)
    if invalid is not None:
        return invalid
    absent = obs.not_found and not obs.created_arn and obs.create_failure is None
    if not obs.asked() or (looked and absent):
        return Step(Call(Op.CREATE, t.job_name, request=create_request(r, cfg)))
    if obs.created_arn:
        if obs.describes == 0 and obs.failure is None and cfg.describe_after_create:
            return Step(Call(Op.DESCRIBE, t.job_name))
        event = Event("Normal", "Created", f"Created SageMaker tuning job {t.job_name}")
        return known(r, t, obs, now, obs.created_arn, events=(event,), record_job=True)
    failure = obs.create_failure
    if failure is not None and failure.queued is not None:
        if failure.queued <= cfg.quiet_queue_wait:
            return Step(job_name=t.job_name, retry=Retry.QUEUE)
        return replace(recoverable(r, t, now, failure, CREATING), retry=Retry.QUEUE)
    if failure is not None and failure.kind is ErrorKind.IN_USE:
        return _claim_in_use(r, t, obs, now)
    if failure is not None and failure.kind is ErrorKind.TERMINAL:
        message = (
            f"SageMaker rejected CreateHyperParameterTuningJob ({failure.code}): "
            f"{failure.message}. Fix the spec; the operator tries again when the spec changes."
        )
        return blocked(r, t, now, Cond(True, failure.code or "CreateRejected", message))
    return recoverable(r, t, now, failure or obs.failure, CREATING)


def _claim_in_use(r: Resource, t: Target, obs: Observation, now: str) -> Step:
    """Create said the name is taken: adopt only a job whose system tags name this resource."""
    if obs.describes == 0 and not obs.not_found and obs.failure is None:
        return Step(Call(Op.DESCRIBE, t.job_name))
    if obs.failure is not None or obs.not_found or obs.described is None:
        return recoverable(r, t, now, obs.failure, "checking who owns the existing job")
    arn = str(obs.described.get("HyperParameterTuningJobArn") or "")
    if obs.tags is None:
        return Step(Call(Op.LIST_TAGS, t.job_name, arn=arn))
    if owned_by(obs.tags, r):
        event = Event(
            "Normal",
            "Adopted",
            f"Tuning job {t.job_name} already existed with this resource's tags "
            "(created before an interruption); following it",
        )
        return known(r, t, obs, now, arn, events=(event,), record_job=True)
    message = (
        f"The name {t.job_name} is in use by a job this resource does not own. "
        "Choose another spec.hyperParameterTuningJobName, or adopt the job explicitly with "
        "the services.k8s.aws/adoption-policy annotation if it is not another resource's."
    )
    return blocked(r, t, now, Cond(True, "NameInUse", message))


def _adopt_or_create(
    r: Resource, t: Target, obs: Observation, now: str, cfg: ReconcileSettings
) -> Step:
    """adoption-policy adopt-or-create: adopt the named job as `adopt` does when it exists
    (never one another resource owns), else create it from the spec, which must be valid."""
    invalid = _invalid(r, t, now, cfg)
    if invalid is not None:
        return invalid
    if not obs.asked():
        return Step(Call(Op.DESCRIBE, t.job_name))
    if obs.not_found or obs.created_arn or obs.create_failure is not None:
        return _create(r, t, obs, now, cfg, looked=True)
    return _adopt(r, t, obs, now, cfg.operator_version)


def _adopt(r: Resource, t: Target, obs: Observation, now: str, version: str) -> Step:
    """adoption-policy adopt: follow an existing job, unless another resource owns it."""
    if not obs.asked():
        return Step(Call(Op.DESCRIBE, t.job_name))
    if obs.not_found:
        message = (
            f"No tuning job named {t.job_name} in {t.region} to adopt; checking again every "
            "poll interval (adoption never creates a job)"
        )
        return blocked(r, t, now, Cond(True, "NotFound", message), recoverable=True)
    if _unrecordable(obs):
        return _not_recorded(r, t, now, obs)
    if obs.failure is not None or obs.described is None:
        return recoverable(r, t, now, obs.failure, "describing the job to adopt")
    arn = str(obs.described.get("HyperParameterTuningJobArn") or "")
    proof = ownership(r, t, obs, arn, version)
    if isinstance(proof, Call):
        return Step(proof)
    if not proof:
        message = (
            f"Tuning job {t.job_name} belongs to another resource; adoption refused. Its owner "
            "must delete its resource with deletion-policy retain first if the job should move."
        )
        return blocked(r, t, now, Cond(True, "OwnedByAnotherResource", message))
    event = Event("Normal", "Adopted", f"Adopted existing SageMaker tuning job {t.job_name}")
    return known(r, t, obs, now, arn, events=(event,), record_job=True)


def _follow(
    r: Resource,
    t: Target,
    obs: Observation,
    now: str,
    trigger: Trigger,
    cfg: ReconcileSettings,
    *,
    check_edits: bool,
) -> Step:
    """A job the resource owns or reads: Describe unless it is known to be finished (or gone).
    What a Describe says goes into status only once the job is proven this resource's."""
    version = cfg.operator_version
    arn = status_arn(r.status)
    state = r.status.get(STATUS_JOB_STATE)
    if trigger is Trigger.POLL and job_gone(r.status):
        return Step(job_name=t.job_name)  # polling cannot bring it back; a change re-checks once
    # The status ARN names another job than the one chosen (`choose_job_name`): it is ignored,
    # and the chosen job is described (read-only: the spec now names another job).
    stale = not arn_names(arn, t)
    # A finished job's status that another controller wrote (ACK's, after a migration) lacks
    # what this operator reports (counters, times, observedGeneration): one Describe fills it.
    refresh = state in FINISHED and not ours(r.status)
    if (stale or state not in FINISHED or refresh) and not obs.asked():
        return Step(Call(Op.DESCRIBE, t.job_name))
    if obs.not_found and refresh and not stale:
        # Deleted from SageMaker since it finished: what the other controller saw stays.
        return known(r, t, replace(obs, not_found=False), now, str(arn), check_edits=check_edits)
    if obs.not_found:
        if t.mode is Mode.READ_ONLY:
            message = (
                f"No tuning job named {t.job_name} in {t.region}; read-only resources never "
                "create one. Checking again every poll interval."
            )
            return blocked(r, t, now, Cond(True, "NotFound", message), recoverable=True)
        message = (
            f"Tuning job {t.job_name} no longer exists in SageMaker (deleted outside Kubernetes). "
            "Delete this resource, or create a new one with another job name."
        )
        return blocked(r, t, now, Cond(True, JOB_NOT_FOUND, message), keep_job=True)
    editing = edit_failed(r, t, obs)
    if _unrecordable(obs) and not editing:
        return _not_recorded(r, t, now, obs)
    if obs.failure is not None and not editing:
        return recoverable(r, t, now, obs.failure, "refreshing the job's status", keep_job=True)
    new_arn = str((obs.described or {}).get("HyperParameterTuningJobArn") or arn or "")
    if obs.described is not None:
        proof = ownership(r, t, obs, new_arn, version)
        if isinstance(proof, Call):
            return Step(proof)
        if not proof and t.mode is Mode.READ_ONLY:
            message = (
                f"Tuning job {t.job_name} belongs to a resource in another namespace; a read-only "
                "resource may only follow jobs that no other namespace's resource owns."
            )
            return blocked(r, t, now, Cond(True, "OwnedByAnotherResource", message))
        if not proof:
            return _not_owned(r, t, now)
    if not check_edits:
        return known(r, t, obs, now, new_arn)
    return _edited(r, t, obs, now, new_arn, cfg)


def _edited(
    r: Resource, t: Target, obs: Observation, now: str, arn: str, cfg: ReconcileSettings
) -> Step:
    """The status of a job this resource created or adopted, after applying an edit of
    spec.tags alone to it (`tagedits.py`); any other edit: ACK.Terminal SpecImmutable."""
    if spec_edit(r) is not Edit.TAGS:
        return known(r, t, obs, now, arn, check_edits=True)
    proof = ownership(r, t, obs, arn, cfg.operator_version)
    if isinstance(proof, Call):
        return Step(proof)
    if not proof:
        return _not_owned(r, t, now)
    return apply_tag_edit(r, t, obs, now, arn, resource_defaults(r, cfg), cfg.resource_tags)


def _on_delete(r: Resource, t: Target, obs: Observation, now: str, version: str) -> Step:
    """The resource is being deleted: stop the job if the policy says so and the job is provably
    this resource's, then release."""
    name = t.job_name
    if t.mode is Mode.READ_ONLY:
        return release(f"Read-only resource deleted; tuning job {name} left untouched")
    if t.deletion_policy == "retain":
        return release(f"Deletion policy retain: tuning job {name} left as it is in SageMaker")
    if t.problem is not None and not t.region:
        return release(f"No region to reach tuning job {name}; released without stopping it")
    arn = status_arn(r.status)
    maybe_created = bool(r.annotations.get(ANN_JOB_NAME)) or create_in_doubt(r.status)
    if arn is None and not maybe_created and t.unreachable_reason == "RoleUnavailable":
        return release(f"No job was made: {t.unreachable}")
    if arn is None and not maybe_created:
        if t.mode is Mode.ADOPT or spec_terminal(r.status):
            return release("No job was created or adopted for this resource")
        impossible = _no_job_possible(r, t)
        if impossible is not None:
            return release(
                f"No job can exist for this resource ({impossible}); released without any "
                "SageMaker call"
            )
    if t.unreachable is not None:
        # A job exists (or a Create may have reached SageMaker under an earlier configuration)
        # and nothing may be sent to find or stop it.
        message = (
            f"{t.unreachable}. The resource is being deleted and its tuning job {name} may be "
            "running: fix this so the operator can stop it, or annotate the resource with "
            f"{ANN_DELETION_POLICY}=retain to release it and leave the job as it is"
        )
        problem = Cond(True, _unreachable_reason(t), message)
        step = blocked(r, t, now, problem, keep_job=True, keep_doubt=create_in_doubt(r.status))
        return replace(step, retry=Retry.POLL)
    if arn is None:
        # Maybe created just before an interruption: look, and stop only a job that is ours.
        if not obs.asked():
            return Step(Call(Op.DESCRIBE, name))
        if obs.not_found:
            return release("No job was created for this resource")
        if obs.failure is not None or obs.described is None:
            return recoverable(r, t, now, obs.failure, "checking for a job before release")
        if obs.tags is None:
            found_arn = str(obs.described.get("HyperParameterTuningJobArn") or "")
            return Step(Call(Op.LIST_TAGS, name, arn=found_arn))
        if not owned_by(obs.tags, r):
            return release(f"Tuning job {name} belongs to someone else; left untouched")
    elif r.status.get(STATUS_JOB_STATE) in FINISHED and arn_names(arn, t):
        return release(f"Tuning job {name} is {r.status.get(STATUS_JOB_STATE)}")
    if not obs.asked():
        return Step(Call(Op.DESCRIBE, name))
    if obs.not_found:
        return release(f"Tuning job {name} no longer exists in SageMaker")
    if _unrecordable(obs):
        return release(f"SageMaker refused to record this resource on job {name}; left as is")
    if obs.failure is not None and obs.failure.op is not Op.STOP:
        return recoverable(r, t, now, obs.failure, "checking the job before release")
    described = obs.described or {}
    state = described.get("HyperParameterTuningJobStatus")
    job_arn = str(described.get("HyperParameterTuningJobArn") or arn or "")
    if state in FINISHED:
        return release(f"Tuning job {name} is {state}")
    proof = ownership(r, t, obs, job_arn, version)
    if isinstance(proof, Call):
        return Step(proof)
    if not proof:
        return release(
            f"Tuning job {name} is not this resource's (its tags do not name it); left untouched"
        )
    if state == IN_PROGRESS and not obs.stopped:
        if obs.failure is None:
            return Step(Call(Op.STOP, name))
        if obs.failure.kind is ErrorKind.RECOVERABLE:
            return recoverable(r, t, now, obs.failure, "stopping the job", keep_job=True)
        # Stop refused (the job finished meanwhile): look again on the next round.
        return replace(known(r, t, obs, now, job_arn), retry=Retry.POLL)
    if obs.stopped and obs.describes < 2:
        return Step(Call(Op.DESCRIBE, name))
    step = known(r, t, obs, now, job_arn)
    events = step.events
    if obs.stopped:
        events += (
            Event(
                "Normal",
                "Stopping",
                f"Stopping tuning job {name} because the resource is being deleted; the "
                "finalizer stays until SageMaker reports Stopped",
            ),
        )
    return replace(step, events=events, retry=Retry.POLL)


def _no_job_possible(r: Resource, t: Target) -> str | None:
    """Why this resource can never have had a job, when it has no job ARN in status, no
    recorded job name and no Create in doubt; None when one may exist.

    A job exists only after a Create this operator sent: that needs a usable region, endpoint
    and annotations and a valid spec, and its answer is recorded (the ARN in status, the job
    name in the bookkeeping annotation). A Create whose answer was lost leaves an ACK.Recoverable
    from that Create (a timeout, a 5xx: `create_in_doubt`) or, after a crash right after it, no
    status of this operator's at all with a usable configuration: then delete looks for the job.
    """
    if t.problem is not None:
        return t.problem
    problems = spec_problems(r.spec)
    if problems:
        return "the spec is invalid: " + "; ".join(problems)
    return None


def _unreachable_reason(t: Target) -> str:
    """InvalidAnnotation when an annotation names the unusable region or endpoint, else (the
    operator's own --region or environment) InvalidConfiguration."""
    if t.unreachable_reason is not None:
        return t.unreachable_reason
    operators = str(t.unreachable).startswith("the operator's")
    return "InvalidConfiguration" if operators else "InvalidAnnotation"
