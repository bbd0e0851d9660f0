"""The operator's settings: one typed object, built once at startup from flags and `HPO_*` env.

Precedence: command-line flag, then environment variable, then default. This class is the one
list of them: the flags' help takes its `[ENV, default]` from the fields (`source`), and the
README's Configuration reference is tested against them. The region also falls back to
`AWS_REGION` / `AWS_DEFAULT_REGION`, like every AWS tool.

A frozen dataclass read by `_read` below, not pydantic-settings: importing pydantic and
pydantic-settings cost the operator process 7.5 MB of RSS for this one class
(docs/performance.md, "Memory and imports"). Each field's type and bounds are declared once,
here; the environment is read case-insensitively, as pydantic-settings did.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import Field, dataclass, field, fields
from functools import cache
from types import UnionType
from typing import Any, Literal, get_args, get_origin, get_type_hints

from hpo_operator import __version__
from hpo_operator.adapters.ratelimit import parse_limits
from hpo_operator.adapters.sagemaker import AwsConfig
from hpo_operator.core.endpoints import ALLOW_FLAG, ANY, allow_list, endpoint_problem
from hpo_operator.core.leadership import Timing
from hpo_operator.core.selectors import selector_problem
from hpo_operator.core.types import ReconcileSettings
from hpo_operator.identity import LEADER_ELECTION_LEASE
from hpo_operator.model.resourcetags import parse_resource_tags, resource_tag_problems

TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REQUEST_CONNECTIONS = 8  # API-server connections for requests, beside the watch streams


class SettingsError(ValueError):
    """Settings that cannot be used: every problem as (field, message)."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{where}: {message}" for where, message in self.problems))


def bounded(
    default: Any,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    env: tuple[str, ...] = (),
) -> Any:
    """A setting's default with its bounds and, when not `HPO_<NAME>`, its variables."""
    bounds = {"gt": gt, "ge": ge, "lt": lt, "le": le}
    return field(default=default, metadata={"bounds": bounds, "env": env})


@dataclass(frozen=True, init=False)
class Settings:
    """Everything `hpo-operator run` can be told: `Settings(**given)` takes what is given over the
    environment over the defaults, and raises SettingsError naming every bad field."""

    namespaces: tuple[str, ...] = ()  # from the environment: comma-separated
    all_namespaces: bool | None = None
    # ACK's --watch-selectors: a label selector on the watched resources, evaluated by the API
    # server (kopf's watch, the stall sweep's LIST, FieldExport's source read), beside the
    # namespace scope: installs with disjoint selectors share a cluster without touching each
    # other's resources.
    watch_selectors: str = ""
    # ACK's --enable-field-export-reconciler: serve FieldExport resources (fieldexport.py) whose
    # source is one of this operator's resources; off: they are not watched at all.
    enable_field_export_reconciler: bool = False
    region: str | None = bounded(None, env=("HPO_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"))
    endpoint_url: str | None = None
    poll_interval: float = bounded(30.0, gt=0)
    poll_jitter: float = bounded(0.2, ge=0, lt=1)
    # How running jobs are watched: `shared` (one lister per region and endpoint, Describe only
    # what changed; poller.py) or `per-resource` (one Describe timer per job; polling.py).
    polling: Literal["shared", "per-resource"] = "shared"
    poll_fast_interval: float = bounded(5.0, gt=0)  # shared: the interval after a change
    poll_page_budget: int = bounded(10, ge=1)  # shared: List pages per poll at most
    poll_sweep_interval: float = bounded(300.0, gt=0)  # shared: full InProgress listing
    # shared: describe bursts of changed jobs with Search (up to 100 per call) instead of one
    # Describe each; off, or without sagemaker:Search permission, Describe only.
    poll_search: bool = True
    aws_rate_limits: str = ""  # shared: `Op=RATE[:BURST],...` over ratelimit.DEFAULT_LIMITS
    deletion_policy: Literal["delete", "retain"] = "delete"
    # How many of a job's best training jobs status lists (core/results.py): one List page of
    # this size when the job's completed count moves; 0: none, and no List call.
    top_training_jobs: int = bounded(5, ge=0, le=20)
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"
    metrics_port: int = bounded(8080, ge=0, le=65535)
    health_port: int = bounded(8081, ge=0, le=65535)
    # Where /healthz, /readyz and /metrics listen: comma-separated addresses. Loopback by
    # default, so a process started by hand exposes nothing; the chart adds the pod's own IP
    # (the kubelet probes it, Prometheus scrapes it).
    bind_address: tuple[str, ...] = ("127.0.0.1",)
    # Plain-HTTP SageMaker endpoints the operator may send credentials to: comma-separated URLs,
    # or `*` for any (ACK's --allow-unsafe-aws-endpoint-urls). https and loopback need none.
    allow_unsafe_aws_endpoint_urls: str = ""
    # ACK's cross-account resource management (core/accounts.py): namespaces annotated
    # services.k8s.aws/owner-account-id (or team-id, with carm_teams) are served with the role
    # ack-role-account-map (ack-role-team-map) maps them to, read in `carm_namespace` (default:
    # the operator's own namespace, else ACK's ack-system) every `carm_refresh` seconds at most.
    carm: bool = True
    carm_teams: bool = False
    carm_namespace: str | None = bounded(None, env=("HPO_CARM_NAMESPACE", "ACK_SYSTEM_NAMESPACE"))
    carm_refresh: float = bounded(15.0, gt=0)
    # The operator's own AWS account: a namespace naming it needs no role in the map.
    account_id: str | None = None
    # ACK's --resource-tags: `key=value,...` put on every job the operator creates (after the
    # spec's tags, which win on a key both have), values with ACK's templates (%K8S_NAMESPACE%,
    # %K8S_RESOURCE_NAME%, ...: model/resourcetags.py). Never removed by a tag edit.
    resource_tags: str = ""

    # The stall sweep (stall.py): one paged LIST of the resources every this many seconds; a
    # resource kopf has not finished with and unchanged for `stall_margin` seconds past its
    # retry delay is re-triggered, counted and reported.
    stall_sweep_interval: float = bounded(60.0, gt=0)
    stall_margin: float = bounded(60.0, gt=0)

    # Retries and timeouts: rarely changed, so environment only.
    backoff_base: float = bounded(2.0, gt=0)
    backoff_cap: float = bounded(300.0, gt=0)
    aws_max_workers: int = bounded(16, ge=1)
    aws_connect_timeout: float = bounded(5.0, gt=0)
    aws_read_timeout: float = bounded(20.0, gt=0)
    aws_call_timeout: float = bounded(40.0, gt=0)
    watch_server_timeout: int = bounded(300, gt=0)  # the API server wants an integer
    watch_client_timeout: float = bounded(330.0, gt=0)
    watch_connect_timeout: float = bounded(10.0, gt=0)
    # Connections to the API server at most (0: the watch streams plus 8, as many as the poller
    # reports at once; N = 100 held, one run each: peak 75.5 MB with 16, 72.9 MB with 8). Each
    # costs ~0.2 MB (TLS buffers); kopf's own default is unlimited: a thousand resources
    # changing at once opened ~100 connections that then stayed in the pool.
    kube_connections: int = bounded(0, ge=0)
    # Resources kopf processes at once (0: no limit) and how long an idle per-resource worker
    # lingers, holding its resource's body. A Create past the budget waits in the Create queue
    # as a name, not in a worker (polling/createqueue.py), so a burst keeps few workers busy and
    # what remains is how long each lingers: 1,000 resources applied together and held
    # InProgress, steady RSS 113-127 MB with kopf's 5 s, 101-112 MB with 1 s, 97-109 MB with 1 s
    # and a limit of 200 (docs/performance.md). No limit by default: a worker holds its slot while
    # its handler sleeps before a retry (a deletion waiting for its job to stop), so a limit can
    # hold other resources up behind those.
    worker_limit: int = bounded(0, ge=0)
    worker_idle_timeout: float = bounded(1.0, gt=0)
    # Resources the watch hands kopf for the first time at once (0: all at once) and how long
    # one counts at most (core/intake.py): a `kubectl apply` of thousands then costs a few
    # workers' bodies at a time instead of thousands. 1,000 applied at once and held: 8 (with
    # the stall sweep's pages of 50) → 72.5-74.7 MB steady, every ARN after ~52 s; without it
    # 94.0-95.8 MB. One burst of 5,000 short jobs with 8 once left 145 running jobs unfollowed
    # (not reproduced since); the stall sweep now follows such a job again (docs/performance.md).
    watch_intake: int = bounded(8, ge=0)
    watch_intake_hold: float = bounded(30.0, gt=0)
    readiness_failures: int = bounded(5, ge=1)  # consecutive failed AWS calls → not ready
    # Calls the operator's own budget deferred are logged as one line per this many seconds.
    deferral_log_interval: float = bounded(30.0, gt=0)
    # shared: seconds a reconcile's Create, Stop or tag call waits for the budget at most; past
    # that it is deferred (ClientRateLimited, a condition, kopf's delayed retry), never a silent
    # sleep of minutes. 60 s lets a 1,000-resource burst through without deferrals.
    aws_call_max_wait: float = bounded(60.0, gt=0)
    # glibc's allocator (memory.py): arenas at most (0: glibc's default, 8 per core), seconds
    # between malloc_trim calls (0: never), and the size from which a block is mapped on its own
    # (0: glibc's threshold, which grows with the blocks freed).
    malloc_arena_max: int = bounded(2, ge=0)
    malloc_trim_interval: float = bounded(60.0, ge=0)
    malloc_mmap_threshold: int = bounded(128 * 1024, ge=0)

    # kopf peering for more than one replica (the chart sets it): the peering object's name. None:
    # standalone. Each process picks a random priority, as kopf pauses all peers of equal priority.
    peering_name: str | None = None

    # Lease-based leader election (election.py, ACK's --enable-leader-election): only the replica
    # holding the coordination.k8s.io Lease `leader_election_id` in `leader_election_namespace`
    # (default: the operator's own namespace) runs kopf; client-go's durations, in seconds.
    leader_election: bool = False
    leader_election_namespace: str | None = None
    leader_election_id: str = LEADER_ELECTION_LEASE
    leader_election_lease_duration: float = bounded(15.0, gt=0)
    leader_election_renew_deadline: float = bounded(10.0, gt=0)
    leader_election_retry_period: float = bounded(2.0, gt=0)

    def __init__(self, **given: Any) -> None:
        problems: list[tuple[str, str]] = []
        environ = {key.upper(): value for key, value in os.environ.items()}
        for spec in fields(self):
            value = _read(spec, given, environ, problems)
            object.__setattr__(self, spec.name, value)
        if self.namespaces and self.all_namespaces:
            problems.append(("settings", "give --namespace or --all-namespaces, not both"))
        if self.leader_election:
            problems += [("leader_election", why) for why in self.leader_timing().problems()]
            if self.peering_name:
                problems.append(("settings", "give leader election or kopf peering, not both"))
        if self.endpoint_url:
            problem = endpoint_problem(self.endpoint_url, self.unsafe_endpoints())
            if problem is not None:
                problems.append(("endpoint_url", f"--endpoint-url: {problem}"))
        if problems:
            raise SettingsError(problems)

    def unsafe_endpoints(self) -> frozenset[str]:
        """The parsed `allow_unsafe_aws_endpoint_urls`."""
        return allow_list(self.allow_unsafe_aws_endpoint_urls)

    @property
    def clusterwide(self) -> bool:
        """Watch every namespace (the default when no namespace is named)."""
        return not self.namespaces

    def kube_connection_limit(self) -> int:
        """`kube_connections`, or enough for every watch stream kopf keeps open (jobs per
        namespace, kopf peering per namespace, namespaces, CRDs) plus 8 for requests."""
        if self.kube_connections:
            return self.kube_connections
        return 2 * max(len(self.namespaces), 1) + 4 + REQUEST_CONNECTIONS

    def reconcile_settings(self) -> ReconcileSettings:
        """What the pure decisions need."""
        return ReconcileSettings(
            default_region=self.region,
            endpoint_url=self.endpoint_url,
            deletion_policy=self.deletion_policy,
            poll_interval=self.poll_interval,
            operator_version=__version__,
            resume_from_status=self.polling == "shared",
            describe_after_create=self.polling != "shared",
            unsafe_endpoints=self.unsafe_endpoints(),
            carm=self.carm,
            carm_teams=self.carm_teams,
            account_id=self.account_id or None,
            quiet_queue_wait=self.aws_call_max_wait,
            resource_tags=parse_resource_tags(self.resource_tags),
            top_training_jobs=self.top_training_jobs,
        )

    def leader_timing(self) -> Timing:
        """Leader election's durations."""
        return Timing(
            lease_duration=self.leader_election_lease_duration,
            renew_deadline=self.leader_election_renew_deadline,
            retry_period=self.leader_election_retry_period,
        )

    def aws_config(self) -> AwsConfig:
        """Timeouts and concurrency of the SageMaker adapter."""
        return AwsConfig(
            max_workers=self.aws_max_workers,
            connect_timeout=self.aws_connect_timeout,
            read_timeout=self.aws_read_timeout,
            call_timeout=self.aws_call_timeout,
            unsafe_endpoints=self.unsafe_endpoints(),
        )


def environment(name: str) -> tuple[str, ...]:
    """The environment variables of setting `name`, first wins (`HPO_<NAME>` unless declared)."""
    spec = {f.name: f for f in fields(Settings)}[name]
    return tuple(spec.metadata.get("env") or (f"HPO_{name.upper()}",))


def shown_default(name: str) -> str | None:
    """Setting `name`'s default as the docs write it (`30`, `shared`, `127.0.0.1`); None when
    there is none to show (unset, empty or decided at startup)."""
    value = {f.name: f for f in fields(Settings)}[name].default
    if value is None or isinstance(value, bool) or value in ("", ()):
        return None
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def source(name: str, note: str | None = None) -> str:
    """`[ENV, ..., default]` for a flag's help: from the field, the one source of both."""
    shown = shown_default(name)
    return "[" + ", ".join([*environment(name), *[x for x in (note or shown,) if x]]) + "]"


def parser() -> argparse.ArgumentParser:
    """`hpo-operator run` flags; each unset flag falls back to its environment variable."""
    p = argparse.ArgumentParser(
        prog="hpo-operator run",
        description="Run the operator: HyperParameterTuningJob resources → SageMaker tuning jobs.",
        argument_default=argparse.SUPPRESS,
    )
    scope = p.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace",
        dest="namespaces",
        action="append",
        metavar="NS",
        help="watch this namespace (repeatable) " + source("namespaces", "comma-separated"),
    )
    scope.add_argument(
        "--all-namespaces",
        action="store_true",
        help="watch every namespace (default when none is named) " + source("all_namespaces"),
    )
    p.add_argument(
        "--watch-selectors",
        metavar="SELECTOR",
        help="label selector of the resources to serve, e.g. team=a or 'team in (a,b)' "
        + source("watch_selectors", "all"),
    )
    p.add_argument(
        "--enable-field-export-reconciler",
        action="store_true",
        help="serve ACK's FieldExport resources: a job's field into a ConfigMap or Secret key "
        + source("enable_field_export_reconciler", "off"),
    )
    p.add_argument("--region", help="default AWS region " + source("region"))
    p.add_argument("--endpoint-url", help="SageMaker endpoint URL " + source("endpoint_url"))
    p.add_argument(
        ALLOW_FLAG,
        dest="allow_unsafe_aws_endpoint_urls",
        nargs="?",
        const=ANY,
        metavar="URLS",
        help="plain-HTTP endpoints (not loopback) that may get the operator's credentials: "
        "comma-separated URLs; alone, any " + source("allow_unsafe_aws_endpoint_urls", "none"),
    )
    p.add_argument(
        "--poll-interval",
        type=float,
        help="seconds between status polls " + source("poll_interval"),
    )
    p.add_argument(
        "--polling",
        choices=("shared", "per-resource"),
        help="how running jobs are watched " + source("polling"),
    )
    p.add_argument(
        "--deletion-policy",
        choices=("delete", "retain"),
        help="default for resources without the annotation " + source("deletion_policy"),
    )
    p.add_argument(
        "--top-training-jobs",
        type=int,
        metavar="N",
        help="best training jobs listed in status, 0 to 20 (0: none) "
        + source("top_training_jobs"),
    )
    p.add_argument("--log-format", choices=("json", "text"), help=source("log_format"))
    p.add_argument("--log-level", help=source("log_level"))
    p.add_argument(
        "--metrics-port", type=int, help="/metrics port, 0 = any " + source("metrics_port")
    )
    p.add_argument(
        "--health-port",
        type=int,
        help="/healthz and /readyz port, 0 = any " + source("health_port"),
    )
    p.add_argument(
        "--bind-address",
        metavar="ADDRESSES",
        help="addresses the probes and /metrics listen on, comma-separated "
        + source("bind_address"),
    )
    p.add_argument(
        "--no-carm",
        dest="carm",
        action="store_false",
        help="refuse namespaces annotated for another account instead of assuming the role "
        "ack-role-account-map maps them to [HPO_CARM=false]",
    )
    p.add_argument(
        "--carm-teams",
        action="store_true",
        help="also serve services.k8s.aws/team-id with ack-role-team-map (ACK's TeamLevelCARM "
        "feature gate) " + source("carm_teams"),
    )
    p.add_argument(
        "--carm-namespace",
        help="where ack-role-account-map (and ack-role-team-map) are read "
        + source("carm_namespace", "the operator's namespace, else ack-system"),
    )
    p.add_argument(
        "--account-id",
        help="the operator's own AWS account: a namespace naming it needs no role "
        + source("account_id"),
    )
    p.add_argument(
        "--resource-tags",
        metavar="TAGS",
        help="tags for every job it creates, key=value comma-separated, values with ACK's "
        "templates (%%K8S_NAMESPACE%%, %%K8S_RESOURCE_NAME%%, ...) " + source("resource_tags"),
    )
    p.add_argument(
        "--enable-leader-election",
        dest="leader_election",
        action="store_true",
        help="only the replica holding a coordination.k8s.io Lease acts (instead of kopf "
        "peering) " + source("leader_election"),
    )
    p.add_argument(
        "--leader-election-namespace",
        help="where the Lease lives "
        + source("leader_election_namespace", "the operator's namespace"),
    )
    p.add_argument(
        "--leader-election-id",
        help="the Lease's name " + source("leader_election_id"),
    )
    p.add_argument(
        "--stall-sweep-interval",
        type=float,
        help="seconds between sweeps for stalled resources " + source("stall_sweep_interval"),
    )
    return p


def from_args(argv: Sequence[str]) -> Settings:
    """Settings from the command line over the environment."""
    flags = vars(parser().parse_args(list(argv)))
    if "namespaces" in flags:
        flags["namespaces"] = tuple(flags["namespaces"])
    return Settings(**flags)


@cache
def _types() -> dict[str, Any]:
    return get_type_hints(Settings)


def _read(
    spec: Field[Any],
    given: Mapping[str, Any],
    environ: Mapping[str, str],
    problems: list[tuple[str, str]],
) -> Any:
    """One setting: given, else from its first environment variable set, else its default."""
    if spec.name in given:
        raw = given[spec.name]
    else:
        names = spec.metadata.get("env") or (f"HPO_{spec.name.upper()}",)
        found = [environ[name] for name in names if name in environ]
        if not found:
            return spec.default
        raw = found[0]
    try:
        value = _check(spec, _convert(_types()[spec.name], raw))
    except (TypeError, ValueError) as error:
        problems.append((spec.name, str(error)))
        return spec.default
    return value


def _convert(kind: Any, raw: Any) -> Any:
    """`raw` (a flag's value, an environment string or a Python value) as `kind`."""
    if get_origin(kind) is UnionType:  # X | None
        if raw is None:
            return None
        (inner,) = [arg for arg in get_args(kind) if arg is not type(None)]
        return _convert(inner, raw)
    if get_origin(kind) is Literal:
        if raw not in get_args(kind):
            choices = ", ".join(repr(choice) for choice in get_args(kind))
            raise ValueError(f"must be one of {choices}, not {raw!r}")
        return raw
    if get_origin(kind) is tuple:
        parts = raw.split(",") if isinstance(raw, str) else list(raw)
        return tuple(str(part).strip() for part in parts if str(part).strip())
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if str(raw).strip().lower() in TRUE | FALSE:
            return str(raw).strip().lower() in TRUE
        raise ValueError(f"must be true or false, not {raw!r}")
    if kind is int:
        number = float(str(raw).strip()) if not isinstance(raw, int) else raw
        if number != int(number):
            raise ValueError(f"must be a whole number, not {raw!r}")
        return int(number)
    if kind is float:
        return float(str(raw).strip()) if not isinstance(raw, int | float) else float(raw)
    if not isinstance(raw, str):
        raise ValueError(f"must be a string, not {raw!r}")
    return raw


def _check(spec: Field[Any], value: Any) -> Any:
    """The value within the field's bounds and its own rules (a log level in capitals)."""
    bounds = spec.metadata.get("bounds", {})
    if (limit := bounds.get("gt")) is not None and not value > limit:
        raise ValueError(f"must be greater than {limit}")
    if (limit := bounds.get("ge")) is not None and not value >= limit:
        raise ValueError(f"must be greater than or equal to {limit}")
    if (limit := bounds.get("lt")) is not None and not value < limit:
        raise ValueError(f"must be less than {limit}")
    if (limit := bounds.get("le")) is not None and not value <= limit:
        raise ValueError(f"must be less than or equal to {limit}")
    if spec.name == "aws_rate_limits":
        parse_limits(value)
    if spec.name == "allow_unsafe_aws_endpoint_urls":
        allow_list(value)
    if spec.name == "bind_address":
        return _addresses(value)
    if spec.name == "resource_tags":
        problems = resource_tag_problems(parse_resource_tags(value))
        if problems:
            raise ValueError("; ".join(problems))
    if spec.name == "watch_selectors" and (problem := selector_problem(value)):
        raise ValueError(problem)
    if spec.name == "log_level":
        if value.upper() not in LOG_LEVELS:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value.upper()
    return value


def _addresses(value: tuple[str, ...]) -> tuple[str, ...]:
    """IP addresses, each once, at least one; a wildcard alone (on Linux, a port bound on
    0.0.0.0 or :: cannot be bound again on another address, so the listener would fail)."""
    addresses = tuple(dict.fromkeys(value))
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address.strip("[]"))
        except ValueError:
            raise ValueError(f"{address!r} is not an IP address") from None
        if ip.is_unspecified and len(addresses) > 1:
            raise ValueError(f"{address} listens on every address: give it alone")
    if not addresses:
        raise ValueError("give at least one address")
    return addresses
