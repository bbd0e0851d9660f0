"""The reconciler's decisions, as pure functions: what to ask SageMaker next, and what to write.

`decide(resource, observation, now, settings, trigger)` is called repeatedly by the shell
(`driver.py`). Each call returns a `Step`: either one SageMaker call to make next (the shell makes
it, records the answer into the observation with `record`, and asks again), or the final outcome —
the status to write, bookkeeping annotations, Events, whether the finalizer may go and whether to
retry. Nothing here does I/O, reads a clock or draws a random number, so every path is a unit test.

The table, in the order `decide` reads it:

| situation | calls | outcome |
|---|---|---|
| being deleted, read-only or `deletion-policy: retain` | — | release the finalizer |
| being deleted, job never created / refused / gone / finished | (Describe) | release |
| being deleted, job InProgress | Describe, Stop, Describe | keep finalizer, poll until Stopped |
| read-only | Describe (unless finished) | status from the job; never Create or Stop |
| job known (ARN in status), finished | — | conditions only: zero AWS calls |
| job known, finished, status by ACK (no observedGeneration) | Describe, once | from the job |
| job known, InProgress/Stopping | Describe | status from the job |
| resume, job InProgress/Stopping, shared poller | — | status kept (the poller's sweep checks) |
| spec edited after Create | as above | + ACK.Terminal "cannot update"; status refreshes |
| adoption-policy adopt | Describe, ListTags | adopt unless another resource's tags name it |
| spec invalid | — | ACK.Terminal naming the fields; no call until the spec changes |
| Terminal for this generation | — | nothing until the spec changes |
| not created | Create, Describe (shared poller: Create) | ARN + status; Event Created |
| Create: ResourceInUse | Describe, ListTags | adopt if the tags name this resource, else Terminal |
| Create: ValidationException etc. | — | ACK.Terminal with AWS's message |
| any call: throttled, 5xx, network, credentials | — | ACK.Recoverable, retry with backoff |
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum, StrEnum
from typing import Any

from hpo_operator import conditions as cond
from hpo_operator.conditions import Cond
from hpo_operator.translate import (
    TAG_NAME,
    TAG_NAMESPACE,
    TAG_UID,
    describe_to_status,
    spec_to_request,
    tags_name_resource,
    with_system_tags,
)
from hpo_operator.validate import validate_spec

# ACK's annotations, on the resource and on its namespace.
ANN_REGION = "services.k8s.aws/region"
ANN_DEFAULT_REGION = "services.k8s.aws/default-region"
ANN_ENDPOINT_URL = "services.k8s.aws/endpoint-url"
ANN_DELETION_POLICY = "services.k8s.aws/deletion-policy"
ANN_NS_DELETION_POLICY = "sagemaker.services.k8s.aws/deletion-policy"
ANN_ADOPTION_POLICY = "services.k8s.aws/adoption-policy"
ANN_ADOPTION_FIELDS = "services.k8s.aws/adoption-fields"
ANN_READ_ONLY = "services.k8s.aws/read-only"

# This operator's own bookkeeping, under the prefix kopf uses for its progress and diff-base (kopf
# leaves annotations under its marked prefix out of the diff, so writing them triggers nothing).
BOOKKEEPING_PREFIX = "hpo-operator.sagemaker.services.k8s.aws"
ANN_JOB_NAME = f"{BOOKKEEPING_PREFIX}/job-name"
ANN_SPEC_HASH = f"{BOOKKEEPING_PREFIX}/spec-hash"

IN_PROGRESS = "InProgress"
STOPPING = "Stopping"
COMPLETED = "Completed"
FAILED = "Failed"
STOPPED = "Stopped"
DELETING = "Deleting"
DELETE_FAILED = "DeleteFailed"
FINISHED = frozenset({COMPLETED, FAILED, STOPPED, DELETE_FAILED})

STATUS_JOB_STATE = "hyperParameterTuningJobStatus"
JOB_NOT_FOUND = (
    "JobNotFound"  # ACK.Terminal reason: the followed job was deleted outside Kubernetes
)
ARN_JOB_MARK = ":hyper-parameter-tuning-job/"
# Status keys this module writes itself; every other key comes from `describe_to_status`.
OWN_STATUS_KEYS = frozenset({"ackResourceMetadata", "conditions", "observedGeneration"})


class Op(StrEnum):
    """The SageMaker operations the reconciler uses."""

    CREATE = "CreateHyperParameterTuningJob"
    DESCRIBE = "DescribeHyperParameterTuningJob"
    STOP = "StopHyperParameterTuningJob"
    LIST_TAGS = "ListTags"


class ErrorKind(StrEnum):
    """How a failed SageMaker call is treated (see `sagemaker.classify`)."""

    TERMINAL = "Terminal"  # bad input: retrying the same request cannot help
    RECOVERABLE = "Recoverable"  # throttling, 5xx, network, credentials: retry with backoff
    NOT_FOUND = "NotFound"  # the job does not exist
    IN_USE = "InUse"  # Create: the name is taken


@dataclass(frozen=True)
class AwsFailure:
    """A SageMaker call that failed: AWS's error code, a message a human can act on, its kind."""

    op: Op
    code: str
    message: str
    kind: ErrorKind
    throttled: bool = False


class Mode(Enum):
    """How the resource relates to its SageMaker job (from ACK's annotations)."""

    MANAGED = "managed"  # the operator creates, follows and stops it
    ADOPT = "adopt"  # an existing job is followed (and stopped on delete, like ACK)
    READ_ONLY = "read-only"  # describe only: never create, never stop


class Trigger(Enum):
    """Why the reconciler runs: a change (create/update), the operator (re)starting and finding
    the resource unchanged (resume), a poll, or a deletion."""

    CHANGE = "change"
    RESUME = "resume"
    POLL = "poll"
    DELETE = "delete"


class Retry(Enum):
    """When the shell should run the reconciler again for this resource."""

    BACKOFF = "backoff"  # a recoverable error: exponential backoff with jitter
    POLL = "poll"  # waiting on SageMaker (Stopping on delete, a job to appear): the poll interval


@dataclass(frozen=True)
class ReconcileSettings:
    """The operator settings that decisions depend on (built from `settings.Settings`)."""

    default_region: str | None = None
    endpoint_url: str | None = None
    deletion_policy: str = "delete"
    poll_interval: float = 30.0
    operator_version: str = "0.0.0"
    # On resume, trust the status of a running job instead of describing it: the shared poller's
    # first sweep compares every running job with its status and describes only those that
    # changed (a restart with 1,000 running jobs: ~10 List pages, not 1,000 Describes).
    resume_from_status: bool = False
    # Describe a job right after creating it. The shared poller looks up new jobs' first status
    # itself, a burst of them with one Search, so with it the status says "Created" until then.
    describe_after_create: bool = True


@dataclass(frozen=True)
class Resource:
    """What Kubernetes says about one HyperParameterTuningJob (and its namespace)."""

    namespace: str
    name: str
    uid: str
    generation: int
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    annotations: Mapping[str, str] = field(default_factory=dict)
    namespace_annotations: Mapping[str, str] = field(default_factory=dict)
    deleting: bool = False


@dataclass(frozen=True)
class Target:
    """Where the resource's job lives and how the resource relates to it."""

    job_name: str
    region: str | None
    endpoint_url: str | None
    mode: Mode
    deletion_policy: str
    problem: str | None = None  # an annotation the operator cannot act on


@dataclass(frozen=True)
class Call:
    """One SageMaker call for the shell to make."""

    op: Op
    job_name: str
    request: Mapping[str, Any] | None = None  # Create
    arn: str | None = None  # ListTags


@dataclass(frozen=True)
class Observation:
    """What SageMaker answered during this reconcile, accumulated call by call (see `record`)."""

    described: Mapping[str, Any] | None = None
    describes: int = 0
    not_found: bool = False
    tags: tuple[Mapping[str, Any], ...] | None = None
    created_arn: str | None = None
    create_failure: AwsFailure | None = None
    stopped: bool = False
    failure: AwsFailure | None = None  # the last failed call other than Create

    def asked(self) -> bool:
        """Whether any call has been made yet."""
        return bool(
            self.describes or self.not_found or self.tags is not None or self.created_arn
        ) or bool(self.create_failure or self.stopped or self.failure)


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post on the resource."""

    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Step:
    """One decision: a call to make next, or (call is None) the outcome of this reconcile."""

    call: Call | None = None
    status: Mapping[str, Any] | None = None  # the whole desired status; None leaves it alone
    annotations: Mapping[str, str] = field(default_factory=dict)
    events: tuple[Event, ...] = ()
    release: bool = False  # being deleted: the finalizer may go
    retry: Retry | None = None
    job_name: str | None = None  # for logs and metrics


# --------------------------------------------------------------------------------------------
# Inputs


def spec_hash(spec: Mapping[str, Any]) -> str:
    """A short, stable digest of a spec, recorded at Create to notice later edits."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


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


def target_of(r: Resource, cfg: ReconcileSettings) -> Target:
    """Region, endpoint, mode, deletion policy and job name, from annotations and settings.

    Region: resource annotation, then the namespace's default-region, then the operator's.
    Endpoint: the namespace annotation, then the operator's. Deletion policy: resource, namespace,
    operator. The job name is the one recorded at Create/adoption, else the spec's (or
    adoption-fields' for adoption).
    """
    ann, ns_ann = r.annotations, r.namespace_annotations
    region = ann.get(ANN_REGION) or ns_ann.get(ANN_DEFAULT_REGION) or cfg.default_region
    endpoint = ns_ann.get(ANN_ENDPOINT_URL) or cfg.endpoint_url
    policy = (
        ann.get(ANN_DELETION_POLICY)
        or ns_ann.get(ANN_NS_DELETION_POLICY)
        or ns_ann.get(ANN_DELETION_POLICY)
        or cfg.deletion_policy
    ).lower()
    problem: str | None = None
    if policy not in ("delete", "retain"):
        problem = f'annotation {ANN_DELETION_POLICY} must be "delete" or "retain", not {policy!r}'
        policy = "retain"  # never stop a job on a policy the operator cannot read
    mode = Mode.MANAGED
    job_name = str(r.spec.get("hyperParameterTuningJobName") or "")
    if ann.get(ANN_READ_ONLY, "").lower() == "true":
        mode = Mode.READ_ONLY
    elif ann.get(ANN_ADOPTION_POLICY, "").lower() == "adopt":
        mode = Mode.ADOPT
        raw = ann.get(ANN_ADOPTION_FIELDS)
        if raw:
            try:
                fields = json.loads(raw)
            except ValueError as error:
                fields, problem = {}, f"annotation {ANN_ADOPTION_FIELDS} is not JSON: {error}"
            if isinstance(fields, Mapping) and fields.get("hyperParameterTuningJobName"):
                job_name = str(fields["hyperParameterTuningJobName"])
            elif problem is None:
                problem = (
                    f"annotation {ANN_ADOPTION_FIELDS} must be a JSON object with "
                    '"hyperParameterTuningJobName"'
                )
    elif ann.get(ANN_ADOPTION_POLICY):
        problem = f'annotation {ANN_ADOPTION_POLICY} supports only "adopt"'
    recorded = ann.get(ANN_JOB_NAME)
    arn = status_arn(r.status)
    if mode is not Mode.READ_ONLY and arn:
        # The ARN in status is the job this resource owns: an edited annotation or spec must not
        # point it at another job (another namespace's), to read, follow or stop. Names are not
        # case sensitive in SageMaker, and ARNs carry them lower-cased.
        owned = (_arn_job(arn) if ARN_JOB_MARK in arn else "") or None
        if recorded and (owned is None or recorded.lower() == owned):
            job_name = recorded
        elif owned is not None and job_name.lower() != owned:
            job_name = owned
    if not job_name and problem is None:
        problem = "spec.hyperParameterTuningJobName is empty"
    if not region and problem is None:
        problem = (
            "no AWS region: annotate the resource with services.k8s.aws/region, or its namespace "
            "with services.k8s.aws/default-region, or start the operator with --region"
        )
    return Target(job_name, region, endpoint, mode, policy, problem)


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
    }
    bad = [k for k, kind in expected.items() if k in status and not isinstance(status[k], kind)]
    meta = status.get("ackResourceMetadata")
    if isinstance(meta, Mapping) and not isinstance(meta.get("arn", ""), str):
        bad.append("ackResourceMetadata")
    return {k: v for k, v in status.items() if k not in bad} if bad else status


def spec_problems(spec: Mapping[str, Any], region: str | None = None) -> list[str]:
    """The spec's problems against the SageMaker model (and, given the region its job runs in,
    the rules that need it), one `spec.path: message` line each."""
    return [str(problem) for problem in validate_spec(spec, region)]


def create_request(r: Resource, cfg: ReconcileSettings) -> dict[str, Any]:
    """The exact CreateHyperParameterTuningJob request: the spec translated, plus system tags."""
    request = spec_to_request(r.spec)
    return with_system_tags(request, r.namespace, r.name, r.uid, cfg.operator_version)


def owned_by(tags: Sequence[Mapping[str, Any]], r: Resource) -> bool:
    """Whether a job's tags name this very resource (namespace, name and uid)."""
    return tags_name_resource(tags, r.namespace, r.name, r.uid)


def claimed_by_other(tags: Sequence[Mapping[str, Any]], r: Resource) -> str | None:
    """`namespace/name` of another resource whose system tags are on the job, if any."""
    found = {str(t.get("Key")): str(t.get("Value")) for t in tags if isinstance(t, Mapping)}
    if TAG_UID not in found or owned_by(tags, r):
        return None
    return f"{found.get(TAG_NAMESPACE, '?')}/{found.get(TAG_NAME, '?')}"


def record(obs: Observation, call: Call, result: Mapping[str, Any] | AwsFailure) -> Observation:
    """The observation after a call answered `result` (its response, or how it failed)."""
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
    tags = result.get("Tags") or ()
    return replace(obs, tags=tuple(t for t in tags if isinstance(t, Mapping)))


# --------------------------------------------------------------------------------------------
# The decision


def decide(
    r: Resource, obs: Observation, now: str, cfg: ReconcileSettings, trigger: Trigger
) -> Step:
    """The next call to make, or the outcome. `now` is an RFC 3339 UTC timestamp."""
    r = replace(r, status=sane_status(r.status))
    t = target_of(r, cfg)
    if r.deleting or trigger is Trigger.DELETE:
        return _on_delete(r, t, obs, now)
    if t.problem is not None:
        return _blocked(r, t, now, Cond(True, "InvalidAnnotation", t.problem), recoverable=True)
    if t.mode is Mode.READ_ONLY:
        return _follow(r, t, obs, now, trigger, check_edits=False)
    if status_arn(r.status):
        running = r.status.get(STATUS_JOB_STATE) in (IN_PROGRESS, STOPPING)
        if trigger is Trigger.RESUME and cfg.resume_from_status and running and _ours(r.status):
            return _known(r, t, obs, now, str(status_arn(r.status)), check_edits=True)
        return _follow(r, t, obs, now, trigger, check_edits=True)
    if t.mode is Mode.ADOPT:
        return _adopt(r, t, obs, now, trigger)
    return _create(r, t, obs, now, cfg, trigger)


def _create(
    r: Resource, t: Target, obs: Observation, now: str, cfg: ReconcileSettings, trigger: Trigger
) -> Step:
    if trigger is Trigger.POLL:
        return Step(job_name=t.job_name)  # creating is the change handlers' job, with backoff
    if _terminal_for_this_generation(r):
        return Step(job_name=t.job_name)  # no retry until the spec changes
    problems = spec_problems(r.spec, t.region)
    if problems:
        message = "The spec is invalid, so no job was created: " + "; ".join(problems)
        return _blocked(r, t, now, Cond(True, "InvalidSpec", message))
    if not obs.asked():
        return Step(Call(Op.CREATE, t.job_name, request=create_request(r, cfg)))
    if obs.created_arn:
        if obs.describes == 0 and obs.failure is None and cfg.describe_after_create:
            return Step(Call(Op.DESCRIBE, t.job_name))
        event = Event("Normal", "Created", f"Created SageMaker tuning job {t.job_name}")
        return _known(r, t, obs, now, obs.created_arn, events=(event,), record_job=True)
    failure = obs.create_failure
    if failure is not None and failure.kind is ErrorKind.IN_USE:
        return _claim_in_use(r, t, obs, now)
    if failure is not None and failure.kind is ErrorKind.TERMINAL:
        message = (
            f"SageMaker rejected CreateHyperParameterTuningJob ({failure.code}): "
            f"{failure.message}. Fix the spec; the operator tries again when the spec changes."
        )
        return _blocked(r, t, now, Cond(True, failure.code or "CreateRejected", message))
    return _recoverable(r, t, now, failure or obs.failure, "creating the job")


def _claim_in_use(r: Resource, t: Target, obs: Observation, now: str) -> Step:
    """Create said the name is taken: adopt only a job whose system tags name this resource."""
    if obs.describes == 0 and not obs.not_found and obs.failure is None:
        return Step(Call(Op.DESCRIBE, t.job_name))
    if obs.failure is not None or obs.not_found or obs.described is None:
        return _recoverable(r, t, now, obs.failure, "checking who owns the existing job")
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
        return _known(r, t, obs, now, arn, events=(event,), record_job=True)
    message = (
        f"The name {t.job_name} is in use by a job this resource does not own. "
        "Choose another spec.hyperParameterTuningJobName, or adopt the job explicitly with "
        "the services.k8s.aws/adoption-policy annotation if it is not another resource's."
    )
    return _blocked(r, t, now, Cond(True, "NameInUse", message))


def _adopt(r: Resource, t: Target, obs: Observation, now: str, trigger: Trigger) -> Step:
    """adoption-policy adopt: follow an existing job, unless another resource owns it."""
    if trigger is Trigger.POLL:
        return Step(job_name=t.job_name)
    if not obs.asked():
        return Step(Call(Op.DESCRIBE, t.job_name))
    if obs.not_found:
        message = (
            f"No tuning job named {t.job_name} in {t.region} to adopt; checking again every "
            "poll interval (adoption never creates a job)"
        )
        return _blocked(r, t, now, Cond(True, "NotFound", message), recoverable=True)
    if obs.failure is not None or obs.described is None:
        return _recoverable(r, t, now, obs.failure, "describing the job to adopt")
    arn = str(obs.described.get("HyperParameterTuningJobArn") or "")
    if obs.tags is None:
        return Step(Call(Op.LIST_TAGS, t.job_name, arn=arn))
    other = claimed_by_other(obs.tags, r)
    if other is not None:
        message = (
            f"Tuning job {t.job_name} belongs to another resource ({other}); adoption refused. "
            "Delete that resource with deletion-policy retain first if the job should move."
        )
        return _blocked(r, t, now, Cond(True, "OwnedByAnotherResource", message))
    event = Event("Normal", "Adopted", f"Adopted existing SageMaker tuning job {t.job_name}")
    return _known(r, t, obs, now, arn, events=(event,), record_job=True)


def _follow(
    r: Resource, t: Target, obs: Observation, now: str, trigger: Trigger, *, check_edits: bool
) -> Step:
    """A job the resource owns or reads: Describe unless it is known to be finished (or gone)."""
    arn = status_arn(r.status)
    state = r.status.get(STATUS_JOB_STATE)
    if trigger is Trigger.POLL and job_gone(r.status):
        return Step(job_name=t.job_name)  # polling cannot bring it back; a change re-checks once
    stale = arn is None or (
        t.mode is Mode.READ_ONLY and _arn_job(arn) != t.job_name.lower()
    )  # read-only: the spec now names another job
    # A finished job's status that another controller wrote (ACK's, after a migration) lacks
    # what this operator reports (counters, times, observedGeneration): one Describe fills it.
    refresh = state in FINISHED and not _ours(r.status)
    if (stale or state not in FINISHED or refresh) and not obs.asked():
        return Step(Call(Op.DESCRIBE, t.job_name))
    if obs.not_found and refresh and not stale:
        # Deleted from SageMaker since it finished: what the other controller saw stays.
        return _known(r, t, replace(obs, not_found=False), now, str(arn), check_edits=check_edits)
    if obs.not_found:
        if t.mode is Mode.READ_ONLY:
            message = (
                f"No tuning job named {t.job_name} in {t.region}; read-only resources never "
                "create one. Checking again every poll interval."
            )
            return _blocked(r, t, now, Cond(True, "NotFound", message), recoverable=True)
        message = (
            f"Tuning job {t.job_name} no longer exists in SageMaker (deleted outside Kubernetes). "
            "Delete this resource, or create a new one with another job name."
        )
        return _blocked(r, t, now, Cond(True, JOB_NOT_FOUND, message), keep_job=True)
    if obs.failure is not None:
        return _recoverable(r, t, now, obs.failure, "refreshing the job's status", keep_job=True)
    new_arn = str((obs.described or {}).get("HyperParameterTuningJobArn") or arn or "")
    if t.mode is Mode.READ_ONLY and stale and obs.described is not None:
        # Binding to a job for the first time: never read back another namespace's job.
        if obs.tags is None:
            return Step(Call(Op.LIST_TAGS, t.job_name, arn=new_arn))
        owner = claimed_by_other(obs.tags, r)
        if owner is not None and not owner.startswith(f"{r.namespace}/"):
            message = (
                f"Tuning job {t.job_name} belongs to a resource in another namespace; a read-only "
                "resource may only follow jobs that no other namespace's resource owns."
            )
            return _blocked(r, t, now, Cond(True, "OwnedByAnotherResource", message))
    return _known(r, t, obs, now, new_arn, check_edits=check_edits)


def _on_delete(r: Resource, t: Target, obs: Observation, now: str) -> Step:
    """The resource is being deleted: stop the job if the policy says so, then release."""
    name = t.job_name
    if t.mode is Mode.READ_ONLY:
        return _release(f"Read-only resource deleted; tuning job {name} left untouched")
    if t.deletion_policy == "retain":
        return _release(f"Deletion policy retain: tuning job {name} left as it is in SageMaker")
    if t.problem is not None and not t.region:
        return _release(f"No region to reach tuning job {name}; released without stopping it")
    arn = status_arn(r.status)
    if arn is None:
        if t.mode is Mode.ADOPT or cond.is_true(r.status.get("conditions"), cond.TERMINAL):
            return _release("No job was created or adopted for this resource")
        # Maybe created just before an interruption: look, and stop only a job that is ours.
        if not obs.asked():
            return Step(Call(Op.DESCRIBE, name))
        if obs.not_found:
            return _release("No job was created for this resource")
        if obs.failure is not None or obs.described is None:
            return _recoverable(r, t, now, obs.failure, "checking for a job before release")
        if obs.tags is None:
            found_arn = str(obs.described.get("HyperParameterTuningJobArn") or "")
            return Step(Call(Op.LIST_TAGS, name, arn=found_arn))
        if not owned_by(obs.tags, r):
            return _release(f"Tuning job {name} belongs to someone else; left untouched")
    elif r.status.get(STATUS_JOB_STATE) in FINISHED:
        return _release(f"Tuning job {name} is {r.status.get(STATUS_JOB_STATE)}")
    if not obs.asked():
        return Step(Call(Op.DESCRIBE, name))
    if obs.not_found:
        return _release(f"Tuning job {name} no longer exists in SageMaker")
    if obs.failure is not None and obs.failure.op is not Op.STOP:
        return _recoverable(r, t, now, obs.failure, "checking the job before release")
    described = obs.described or {}
    state = described.get("HyperParameterTuningJobStatus")
    job_arn = str(described.get("HyperParameterTuningJobArn") or arn or "")
    if state in FINISHED:
        return _release(f"Tuning job {name} is {state}")
    if state == IN_PROGRESS and not obs.stopped:
        if obs.failure is None:
            return Step(Call(Op.STOP, name))
        if obs.failure.kind is ErrorKind.RECOVERABLE:
            return _recoverable(r, t, now, obs.failure, "stopping the job", keep_job=True)
        # Stop refused (the job finished meanwhile): look again on the next round.
        return replace(_known(r, t, obs, now, job_arn), retry=Retry.POLL)
    if obs.stopped and obs.describes < 2:
        return Step(Call(Op.DESCRIBE, name))
    step = _known(r, t, obs, now, job_arn)
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


# --------------------------------------------------------------------------------------------
# Outcomes


def _release(message: str) -> Step:
    return Step(release=True, events=(Event("Normal", "Released", message),))


def _known(
    r: Resource,
    t: Target,
    obs: Observation,
    now: str,
    arn: str,
    *,
    events: tuple[Event, ...] = (),
    record_job: bool = False,
    check_edits: bool = False,
) -> Step:
    """Status for a job this resource follows, from the latest Describe (or the last status)."""
    if obs.described is not None:
        job = describe_to_status(obs.described)
    else:
        job = {k: v for k, v in r.status.items() if k not in OWN_STATUS_KEYS}
    state = job.get(STATUS_JOB_STATE)
    ready, synced, terminal = job_conditions(t.job_name, job)
    annotations: dict[str, str] = {}
    current_hash = spec_hash(r.spec)
    if record_job:
        annotations = {ANN_JOB_NAME: t.job_name, ANN_SPEC_HASH: current_hash}
    elif check_edits:
        recorded = r.annotations.get(ANN_SPEC_HASH)
        if recorded is None:
            annotations = {ANN_SPEC_HASH: current_hash}  # written by an older run: record now
        elif recorded != current_hash:
            terminal = Cond(
                True,
                "SpecImmutable",
                f"SageMaker cannot update a tuning job; the spec changed after job {t.job_name} "
                "was created and the change was not applied. Revert the edit, or create a new "
                "resource with a new hyperParameterTuningJobName. Status still follows the job.",
            )
            ready = Cond(False, "SpecImmutable", "The spec no longer describes the running job")
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
    )
    status["observedGeneration"] = r.generation
    return status


def _blocked(
    r: Resource,
    t: Target,
    now: str,
    problem: Cond,
    *,
    recoverable: bool = False,
    keep_job: bool = False,
) -> Step:
    """ACK.Terminal (or, for what fixes itself, ACK.Recoverable) with nothing else to do."""
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
        recoverable=problem if recoverable else None,
    )
    events = _condition_events(r, status)
    return Step(
        status=status,
        events=events,
        retry=Retry.POLL if recoverable else None,
        job_name=t.job_name,
    )


def _recoverable(
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
    step = _blocked(r, t, now, problem, recoverable=True, keep_job=keep_job)
    return replace(step, retry=Retry.BACKOFF)


def job_gone(status: Mapping[str, Any]) -> bool:
    """The job the status follows was found deleted from SageMaker (nothing left to poll)."""
    terminal = cond.find(status.get("conditions"), cond.TERMINAL)
    return terminal is not None and terminal.get("reason") == JOB_NOT_FOUND


def _ours(status: Mapping[str, Any]) -> bool:
    """Whether this operator wrote the status (every status it writes has observedGeneration;
    ACK's never has)."""
    return "observedGeneration" in status


def _terminal_for_this_generation(r: Resource) -> bool:
    observed = r.status.get("observedGeneration")
    return observed == r.generation and cond.is_true(r.status.get("conditions"), cond.TERMINAL)


def _arn_job(arn: str) -> str:
    return arn.rsplit("/", 1)[-1].lower()


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


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns `old` into `new`; empty when they are equal."""
    patch: dict[str, Any] = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            inner = merge_patch(before, value)
            if inner:
                patch[key] = inner
        elif before != value or key not in old:
            patch[key] = value
    return patch


def backoff_delay(attempt: int, *, base: float, cap: float, rand: float) -> float:
    """Exponential backoff with full jitter over the upper half: base·2^attempt, capped."""
    ceiling = min(cap, base * 2.0 ** min(attempt, 30))
    return ceiling / 2 + ceiling / 2 * rand


def jittered(interval: float, rand: float, spread: float = 0.2) -> float:
    """`interval` ± `spread`·interval, so that resources created together do not poll together."""
    return interval * (1 - spread + 2 * spread * rand)
