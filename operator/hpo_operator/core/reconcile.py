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
| spec invalid | — | ACK.Terminal naming the fields; no call until the spec changes |
| Terminal for this generation | — | nothing until the spec changes |
| not created | Create, Describe (shared poller: Create) | ARN + status; Event Created |
| Create: ResourceInUse | Describe, ListTags | adopt if the tags name this resource, else Terminal |
| Create: ValidationException etc. | — | ACK.Terminal with AWS's message |
| any call: throttled, 5xx, network, credentials | — | ACK.Recoverable, retry with backoff |
| a call the operator's own budget deferred | — | the same, without an Event (`AwsFailure.local`) |
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum, StrEnum
from typing import Any

from hpo_operator.core import conditions as cond
from hpo_operator.core.conditions import Cond
from hpo_operator.core.endpoints import endpoint_problem, region_problem
from hpo_operator.identity import (
    ANN_ADOPTION_FIELDS,
    ANN_ADOPTION_POLICY,
    ANN_DEFAULT_REGION,
    ANN_DELETION_POLICY,
    ANN_ENDPOINT_URL,
    ANN_JOB_NAME,
    ANN_NS_DELETION_POLICY,
    ANN_READ_ONLY,
    ANN_REGION,
    ANN_SPEC_HASH,
    CROSS_ACCOUNT_ANNOTATIONS,
    TAG_NAME,
    TAG_NAMESPACE,
    TAG_UID,
)
from hpo_operator.model.translate import (
    describe_to_status,
    spec_to_request,
    system_tags,
    tags_name_resource,
    with_system_tags,
)
from hpo_operator.model.validate import validate_spec

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
CREATING = "creating the job"  # in ACK.Recoverable's message after a failed Create
# Status keys this module writes itself; every other key comes from `describe_to_status`.
OWN_STATUS_KEYS = frozenset({"ackResourceMetadata", "conditions", "observedGeneration"})


class Op(StrEnum):
    """The SageMaker operations the operator calls: the reconciler's, then the shared poller's
    read-only LIST and SEARCH (`SageMaker.read`, never a reconciler's `Call`)."""

    CREATE = "CreateHyperParameterTuningJob"
    DESCRIBE = "DescribeHyperParameterTuningJob"
    STOP = "StopHyperParameterTuningJob"
    LIST_TAGS = "ListTags"
    ADD_TAGS = "AddTags"
    LIST = "ListHyperParameterTuningJobs"
    SEARCH = "Search"


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
    # Turned away by the operator's own client-side budget, never sent: no Event per resource
    # (`poller.RegionPoller` logs these in aggregate and counts them in a metric).
    local: bool = False
    retry_after: float | None = None  # seconds AWS asked to wait (its Retry-After header)


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
    # Plain-HTTP endpoints the operator was started to allow (`endpoints.allow_list`).
    unsafe_endpoints: frozenset[str] = frozenset()


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
    # Why no SageMaker call can be made at all (region or endpoint unusable or refused): the
    # shell makes no client, and nothing is sent.
    unreachable: str | None = None
    cross_account: str | None = None  # the namespace's cross-account annotation, if any


@dataclass(frozen=True)
class Call:
    """One SageMaker call for the shell to make."""

    op: Op
    job_name: str
    request: Mapping[str, Any] | None = None  # Create; AddTags: {"Tags": [...]}
    arn: str | None = None  # ListTags, AddTags


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
    tagged: bool = False  # AddTags recorded this resource on the job (adoption)
    # The job (`job_ref`) this process already proved to be this resource's, by an earlier
    # ListTags, Create or AddTags: the shell keeps it per resource (`Step.proven`).
    known: str | None = None

    def asked(self) -> bool:
        """Whether any call has been made yet."""
        return bool(
            self.describes or self.not_found or self.tags is not None or self.created_arn
        ) or bool(self.create_failure or self.stopped or self.failure or self.tagged)


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
    proven: str | None = None  # `job_ref` of the job proven this resource's (the shell caches it)


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
    if mode is not Mode.READ_ONLY:
        job_name = choose_job_name(ann.get(ANN_JOB_NAME), status_arn(r.status), job_name)
    cross = next((k for k in CROSS_ACCOUNT_ANNOTATIONS if ns_ann.get(k)), None)
    unreachable = _unreachable(r, cfg, region, endpoint)
    if unreachable is not None:
        problem = unreachable  # the first thing to fix: nothing can be sent until it is
    if not job_name and problem is None:
        problem = "spec.hyperParameterTuningJobName is empty"
    if not region and problem is None:
        problem = (
            "no AWS region: annotate the resource with services.k8s.aws/region, or its namespace "
            "with services.k8s.aws/default-region, or start the operator with --region"
        )
    return Target(
        job_name,
        region,
        endpoint,
        mode,
        policy,
        problem,
        unreachable=unreachable,
        cross_account=cross,
    )


def _unreachable(
    r: Resource, cfg: ReconcileSettings, region: str | None, endpoint: str | None
) -> str | None:
    """Why the region or endpoint this resource resolves to cannot be used, naming where it
    came from; None when both can (or no region is set at all: `target_of` says so)."""
    if region:
        why = region_problem(region)
        if why is not None:
            if r.annotations.get(ANN_REGION):
                where = f"annotation {ANN_REGION}"
            elif r.namespace_annotations.get(ANN_DEFAULT_REGION):
                where = f"namespace annotation {ANN_DEFAULT_REGION}"
            else:
                where = "the operator's --region"
            return f"{where}: {why}"
    if endpoint:
        why = endpoint_problem(endpoint, cfg.unsafe_endpoints)
        if why is not None:
            if r.namespace_annotations.get(ANN_ENDPOINT_URL):
                return f"namespace annotation {ANN_ENDPOINT_URL}: {why}"
            return f"the operator's --endpoint-url: {why}"
    return None


def choose_job_name(recorded: str | None, arn: str | None, named: str) -> str:
    """The job a resource acts on, from the name recorded at Create/adoption (an annotation: anyone
    who may edit the resource may edit it), the status ARN (anyone who may write status may write
    it) and the spec's (or adoption-fields') name. None of them is trusted alone:

    - two that agree win (names compared case-insensitively, as SageMaker does; ARNs carry them
      lower-cased): recorded = spec outvotes a status ARN pointing elsewhere; recorded = ARN is a
      spec renamed after Create (reported as immutable); spec = ARN outvotes an edited annotation;
    - no recorded name (ACK's resources, or the annotation removed) and the ARN names another job
      than the spec: the ARN's job, which is then followed only if its tags prove it is this
      resource's (`ownership`), like any job a process has not proven yet;
    - otherwise the recorded name, else the spec's.
    """
    owned = (_arn_job(arn) if arn and ARN_JOB_MARK in arn else "") or None
    rec = recorded.lower() if recorded else None
    if recorded and rec == named.lower():
        return recorded
    if owned is not None and owned == rec:
        return str(recorded)
    if owned is not None and owned == named.lower():
        return named
    if owned is not None and not recorded:
        return owned
    return recorded or named


def job_ref(t: Target) -> str:
    """What a proof of ownership is about: one job name in one region and endpoint."""
    return f"{t.region or ''}|{t.endpoint_url or ''}|{t.job_name.lower()}"


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


class Claim(Enum):
    """Whose a job is, by its system tags, seen from one resource."""

    THIS = "this"  # namespace, name and uid of this resource: created or adopted by it
    NAMESPACE = "namespace"  # this namespace, no resource named: ACK's tags (it created the job)
    FREE = "free"  # no owner tags: made outside Kubernetes
    SIBLING = "sibling"  # another resource of this namespace
    FOREIGN = "foreign"  # another namespace's


def claim(tags: Sequence[Mapping[str, Any]], r: Resource) -> Claim:
    """Who the job's system tags say holds it."""
    if owned_by(tags, r):
        return Claim.THIS
    found = {str(t.get("Key")): str(t.get("Value")) for t in tags if isinstance(t, Mapping)}
    if not {TAG_NAMESPACE, TAG_NAME, TAG_UID} & found.keys():
        return Claim.FREE
    if found.get(TAG_NAMESPACE) != r.namespace:
        return Claim.FOREIGN
    return Claim.SIBLING if {TAG_NAME, TAG_UID} & found.keys() else Claim.NAMESPACE


# Per mode, the claims under which the operator may act on the job as it is (read-only: read it;
# managed and adopt: follow, report and stop it), and those the resource first records itself
# over with AddTags, so that no other resource can take the job after it: an adoption, and a job
# ACK's controller made for this namespace (a resource migrated from ACK).
ACCEPTED = {
    Mode.MANAGED: frozenset({Claim.THIS}),
    Mode.ADOPT: frozenset({Claim.THIS}),
    Mode.READ_ONLY: frozenset({Claim.THIS, Claim.NAMESPACE, Claim.FREE, Claim.SIBLING}),
}
RECORDABLE = {
    Mode.MANAGED: frozenset({Claim.NAMESPACE}),
    Mode.ADOPT: frozenset({Claim.FREE, Claim.NAMESPACE}),
}


def ownership(r: Resource, t: Target, obs: Observation, arn: str, version: str) -> Call | bool:
    """Whether `t.job_name` is provably this resource's: True, False (refuse, and change nothing),
    or the call that tells (ListTags once per process, cached by the shell; AddTags recording an
    adoption on the job, so that no other resource can adopt it again)."""
    if obs.known == job_ref(t) or obs.created_arn or obs.tagged:
        return True
    if obs.tags is None:
        return Call(Op.LIST_TAGS, t.job_name, arn=arn)
    held = claim(obs.tags, r)
    if held in ACCEPTED[t.mode]:
        return True
    if held in RECORDABLE.get(t.mode, ()):
        tags = system_tags(r.namespace, r.name, r.uid, version)
        return Call(Op.ADD_TAGS, t.job_name, request={"Tags": tags}, arn=arn)
    return False


def _proven(r: Resource, t: Target, obs: Observation) -> bool:
    if obs.known == job_ref(t) or obs.created_arn or obs.tagged:
        return True
    return obs.tags is not None and claim(obs.tags, r) in ACCEPTED[t.mode]


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
    if call.op is Op.ADD_TAGS:
        return replace(obs, tagged=True)
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
    step = _decide(r, t, obs, now, cfg, trigger)
    if step.call is None and not step.release and _proven(r, t, obs):
        step = replace(step, proven=job_ref(t))
    return step


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
        step = _blocked(r, t, now, problem, keep_job=True, keep_doubt=create_in_doubt(r.status))
        return replace(step, retry=Retry.POLL)
    if t.problem is not None:
        return _blocked(r, t, now, Cond(True, "InvalidAnnotation", t.problem), recoverable=True)
    if t.cross_account is not None:
        message = (
            f"The namespace has the annotation {t.cross_account}: cross-account resources are not "
            "supported yet, and the operator would make the job in its own account instead, so no "
            "job is made. Remove the annotation from the namespace, or run this resource where "
            "the operator's own account is the one wanted."
        )
        problem = Cond(True, "CrossAccountUnsupported", message)
        return _blocked(r, t, now, problem, keep_job=status_arn(r.status) is not None)
    if t.mode is Mode.READ_ONLY:
        return _follow(r, t, obs, now, trigger, v, check_edits=False)
    arn = status_arn(r.status)
    if arn:
        running = r.status.get(STATUS_JOB_STATE) in (IN_PROGRESS, STOPPING)
        if (
            trigger is Trigger.RESUME
            and cfg.resume_from_status
            and running
            and _ours(r.status)
            and _arn_names(arn, t)
        ):
            # Trust a running job's status, but only for a job proven this resource's.
            proof = ownership(r, t, obs, arn, v)
            if isinstance(proof, Call):
                return Step(proof)
            if not proof:
                return _not_owned(r, t, now)
            return _known(r, t, obs, now, arn, check_edits=True)
        return _follow(r, t, obs, now, trigger, v, check_edits=True)
    if t.mode is Mode.ADOPT:
        return _adopt(r, t, obs, now, trigger, v)
    return _create(r, t, obs, now, cfg, trigger)


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
    return _blocked(r, t, now, Cond(True, "OwnershipNotRecorded", message))


def _arn_names(arn: str | None, t: Target) -> bool:
    """Whether a status ARN is the ARN of the job the resource acts on."""
    return bool(arn) and ARN_JOB_MARK in str(arn) and _arn_job(str(arn)) == t.job_name.lower()


def _not_owned(r: Resource, t: Target, now: str) -> Step:
    """ACK.Terminal for a job this resource cannot prove its own; its status keeps nothing of it.
    The message names only the job name this resource itself gave."""
    message = (
        f"Tuning job {t.job_name} is not this resource's: it was neither created by it nor "
        "adopted by it (its tags do not name this resource), so the operator does not follow, "
        "report or stop it. The resource's status or annotations named a job it does not own; "
        "delete this resource, or create a new one."
    )
    return _blocked(r, t, now, Cond(True, "NotOwned", message))


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
    return _recoverable(r, t, now, failure or obs.failure, CREATING)


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


def _adopt(
    r: Resource, t: Target, obs: Observation, now: str, trigger: Trigger, version: str
) -> Step:
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
    if _unrecordable(obs):
        return _not_recorded(r, t, now, obs)
    if obs.failure is not None or obs.described is None:
        return _recoverable(r, t, now, obs.failure, "describing the job to adopt")
    arn = str(obs.described.get("HyperParameterTuningJobArn") or "")
    proof = ownership(r, t, obs, arn, version)
    if isinstance(proof, Call):
        return Step(proof)
    if not proof:
        message = (
            f"Tuning job {t.job_name} belongs to another resource; adoption refused. Its owner "
            "must delete its resource with deletion-policy retain first if the job should move."
        )
        return _blocked(r, t, now, Cond(True, "OwnedByAnotherResource", message))
    event = Event("Normal", "Adopted", f"Adopted existing SageMaker tuning job {t.job_name}")
    return _known(r, t, obs, now, arn, events=(event,), record_job=True)


def _follow(
    r: Resource,
    t: Target,
    obs: Observation,
    now: str,
    trigger: Trigger,
    version: str,
    *,
    check_edits: bool,
) -> Step:
    """A job the resource owns or reads: Describe unless it is known to be finished (or gone).
    What a Describe says goes into status only once the job is proven this resource's."""
    arn = status_arn(r.status)
    state = r.status.get(STATUS_JOB_STATE)
    if trigger is Trigger.POLL and job_gone(r.status):
        return Step(job_name=t.job_name)  # polling cannot bring it back; a change re-checks once
    # The status ARN names another job than the one chosen (`choose_job_name`): it is ignored,
    # and the chosen job is described (read-only: the spec now names another job).
    stale = not _arn_names(arn, t)
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
    if _unrecordable(obs):
        return _not_recorded(r, t, now, obs)
    if obs.failure is not None:
        return _recoverable(r, t, now, obs.failure, "refreshing the job's status", keep_job=True)
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
            return _blocked(r, t, now, Cond(True, "OwnedByAnotherResource", message))
        if not proof:
            return _not_owned(r, t, now)
    return _known(r, t, obs, now, new_arn, check_edits=check_edits)


def _on_delete(r: Resource, t: Target, obs: Observation, now: str, version: str) -> Step:
    """The resource is being deleted: stop the job if the policy says so and the job is provably
    this resource's, then release."""
    name = t.job_name
    if t.mode is Mode.READ_ONLY:
        return _release(f"Read-only resource deleted; tuning job {name} left untouched")
    if t.deletion_policy == "retain":
        return _release(f"Deletion policy retain: tuning job {name} left as it is in SageMaker")
    if t.problem is not None and not t.region:
        return _release(f"No region to reach tuning job {name}; released without stopping it")
    arn = status_arn(r.status)
    maybe_created = bool(r.annotations.get(ANN_JOB_NAME)) or create_in_doubt(r.status)
    if arn is None and not maybe_created and t.cross_account is not None:
        return _release(f"No job was made: the namespace has the annotation {t.cross_account}")
    if arn is None and not maybe_created:
        if t.mode is Mode.ADOPT or _spec_terminal(r.status):
            return _release("No job was created or adopted for this resource")
        impossible = _no_job_possible(r, t)
        if impossible is not None:
            return _release(
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
        step = _blocked(r, t, now, problem, keep_job=True, keep_doubt=create_in_doubt(r.status))
        return replace(step, retry=Retry.POLL)
    if arn is None:
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
    elif r.status.get(STATUS_JOB_STATE) in FINISHED and _arn_names(arn, t):
        return _release(f"Tuning job {name} is {r.status.get(STATUS_JOB_STATE)}")
    if not obs.asked():
        return Step(Call(Op.DESCRIBE, name))
    if obs.not_found:
        return _release(f"Tuning job {name} no longer exists in SageMaker")
    if _unrecordable(obs):
        return _release(f"SageMaker refused to record this resource on job {name}; left as is")
    if obs.failure is not None and obs.failure.op is not Op.STOP:
        return _recoverable(r, t, now, obs.failure, "checking the job before release")
    described = obs.described or {}
    state = described.get("HyperParameterTuningJobStatus")
    job_arn = str(described.get("HyperParameterTuningJobArn") or arn or "")
    if state in FINISHED:
        return _release(f"Tuning job {name} is {state}")
    proof = ownership(r, t, obs, job_arn, version)
    if isinstance(proof, Call):
        return Step(proof)
    if not proof:
        return _release(
            f"Tuning job {name} is not this resource's (its tags do not name it); left untouched"
        )
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


def _unreachable_reason(t: Target) -> str:
    """InvalidAnnotation when an annotation names the unusable region or endpoint, else (the
    operator's own --region or environment) InvalidConfiguration."""
    operators = str(t.unreachable).startswith("the operator's")
    return "InvalidConfiguration" if operators else "InvalidAnnotation"


UNREACHABLE_REASONS = frozenset({"InvalidAnnotation", "InvalidConfiguration"})


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
    if failure is not None and failure.local:
        step = replace(step, events=())
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
    return observed == r.generation and _spec_terminal(r.status)


def _spec_terminal(status: Mapping[str, Any]) -> bool:
    """ACK.Terminal about the spec or the job, not an unusable region or endpoint: that one
    lifts as soon as the annotation or setting is fixed, with no spec change."""
    found = cond.find(status.get("conditions"), cond.TERMINAL)
    return cond.is_true(status.get("conditions"), cond.TERMINAL) and (
        (found or {}).get("reason") not in UNREACHABLE_REASONS
    )


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
