"""The reconciler's vocabulary: SageMaker operations, job states, what Kubernetes and SageMaker
said, and what a decision asks for. Shared by the decisions, the adapters and the shell (metrics
and probes label by `Op`), so none of them needs the decision module for a type."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any, NamedTuple

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
    DELETE_TAGS = "DeleteTags"
    LIST = "ListHyperParameterTuningJobs"
    SEARCH = "Search"
    # The results of a job (`results.py`): its best training jobs, and the best one's model.
    LIST_TRAININGS = "ListTrainingJobsForHyperParameterTuningJob"
    DESCRIBE_TRAINING = "DescribeTrainingJob"


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
    # Not sent: the account's Create budget has a queue (`polling.createqueue`), where the
    # resource waits as its name, outside kopf's workers, this many seconds by estimate.
    queued: float | None = None
    retry_after: float | None = None  # seconds AWS asked to wait (its Retry-After header)


class Mode(Enum):
    """How the resource relates to its SageMaker job (from ACK's annotations)."""

    MANAGED = "managed"  # the operator creates, follows and stops it
    ADOPT = "adopt"  # an existing job is followed (and stopped on delete, like ACK)
    ADOPT_OR_CREATE = "adopt-or-create"  # the existing job is followed, else one is created
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
    QUEUE = "queue"  # the Create waits its turn in the account's Create queue, which runs it again


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
    # ACK's cross-account resource management (`accounts.placement`): on, team-level too, and the
    # operator's own account number when it was told it (no role needed for it then).
    carm: bool = True
    carm_teams: bool = False
    account_id: str | None = None
    # A Create queued for longer than this (by estimate) says so in status (ACK.Recoverable); a
    # shorter wait writes nothing, as a wait for a token inside the call did (aws_call_max_wait).
    quiet_queue_wait: float = 60.0
    # ACK's --resource-tags: (key, value template) pairs added to every job (model/resourcetags).
    resource_tags: tuple[tuple[str, str], ...] = ()
    # How many of a job's best training jobs status lists (`results.py`; 0: none, no List call).
    top_training_jobs: int = 5


@dataclass(frozen=True)
class RoleMaps:
    """ACK's role maps (`ack-role-account-map`, `ack-role-team-map`) as the shell last read them;
    None: the ConfigMap is absent (for teams also: team-level CARM is off)."""

    accounts: Mapping[str, str] | None = None
    teams: Mapping[str, str] | None = None
    unreadable: str | None = None  # why the last read failed (then the maps are the last known)


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
    role_maps: RoleMaps = RoleMaps()
    labels: Mapping[str, str] = field(default_factory=dict)  # for the %MANAGED_BY% tag template


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
    unreachable_reason: str | None = None  # the condition's reason, when not about an annotation
    # The account the job is (to be) in (None: the operator's own, number unknown) and the role
    # that reaches it (None: the operator's own credentials); `accounts.placement`.
    account: str | None = None
    role_arn: str | None = None
    account_note: str | None = None  # the namespace names another account than the job's


OWN_ACCOUNT = "own"  # `Place.account` of calls made with the operator's own credentials


class Place(NamedTuple):
    """Where SageMaker calls go, as metrics and readiness tell them apart: the account (of the
    assumed role, or `OWN_ACCOUNT`) and the region. Bounded: the role maps' accounts times the
    regions in use."""

    account: str = OWN_ACCOUNT
    region: str = ""


OWN_PLACE = Place()  # the operator's own account, region unnamed (a client made outside `get`)


@dataclass(frozen=True)
class Call:
    """One SageMaker call for the shell to make."""

    op: Op
    job_name: str
    # Create, the results' reads; AddTags and DeleteTags: {"Tags": [...]}
    request: Mapping[str, Any] | None = None
    arn: str | None = None  # ListTags, AddTags, DeleteTags
    # ListTags answered by ListTags itself, never by a Search record (whose index may lag): the
    # tags a tag edit is computed from.
    authoritative: bool = False


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
    added: tuple[str, ...] = ()  # tag keys AddTags set (a tag edit), in call order
    removed: tuple[str, ...] = ()  # tag keys DeleteTags removed (a tag edit)
    listed: bool = False  # `tags` came from an authoritative ListTags (then kept up to date)
    # The job (`job_ref`) this process already proved to be this resource's, by an earlier
    # ListTags, Create or AddTags: the shell keeps it per resource (`Step.proven`).
    known: str | None = None
    # The results' reads (`results.py`): their answers, or how they failed.
    trainings: Mapping[str, Any] | AwsFailure | None = None
    training: Mapping[str, Any] | AwsFailure | None = None

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
