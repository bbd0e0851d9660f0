"""The operator's settings: one typed object, built once at startup from flags and `HPO_*` env.

Precedence: command-line flag, then environment variable, then default (docs/design.md lists
them). The region also falls back to `AWS_REGION` / `AWS_DEFAULT_REGION`, like every AWS tool.
"""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from hpo_operator import __version__
from hpo_operator.endpoints import ALLOW_FLAG, ANY, allow_list, endpoint_problem
from hpo_operator.ratelimit import parse_limits
from hpo_operator.reconcile import ReconcileSettings
from hpo_operator.sagemaker import AwsConfig


class Settings(BaseSettings):
    """Everything `hpo-operator run` can be told."""

    model_config = SettingsConfigDict(
        env_prefix="HPO_", populate_by_name=True, extra="ignore", frozen=True
    )

    namespaces: Annotated[tuple[str, ...], NoDecode] = ()
    all_namespaces: bool | None = None
    region: str | None = Field(
        default=None,
        validation_alias=AliasChoices("HPO_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
    )
    endpoint_url: str | None = None
    poll_interval: float = Field(default=30.0, gt=0)
    poll_jitter: float = Field(default=0.2, ge=0, lt=1)
    # How running jobs are watched: `shared` (one lister per region and endpoint, Describe only
    # what changed; poller.py) or `per-resource` (one Describe timer per job; polling.py).
    polling: Literal["shared", "per-resource"] = "shared"
    poll_fast_interval: float = Field(default=5.0, gt=0)  # shared: the interval after a change
    poll_page_budget: int = Field(default=10, ge=1)  # shared: List pages per poll at most
    poll_sweep_interval: float = Field(default=300.0, gt=0)  # shared: full InProgress listing
    # shared: describe bursts of changed jobs with Search (up to 100 per call) instead of one
    # Describe each; off, or without sagemaker:Search permission, Describe only.
    poll_search: bool = True
    aws_rate_limits: str = ""  # shared: `Op=RATE[:BURST],...` over ratelimit.DEFAULT_LIMITS
    deletion_policy: Literal["delete", "retain"] = "delete"
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"
    metrics_port: int = Field(default=8080, ge=0, le=65535)
    health_port: int = Field(default=8081, ge=0, le=65535)
    # Where /healthz, /readyz and /metrics listen: comma-separated addresses. Loopback by
    # default, so a process started by hand exposes nothing; the chart adds the pod's own IP
    # (the kubelet probes it, Prometheus scrapes it).
    bind_address: Annotated[tuple[str, ...], NoDecode] = ("127.0.0.1",)
    # Plain-HTTP SageMaker endpoints the operator may send credentials to: comma-separated URLs,
    # or `*` for any (ACK's --allow-unsafe-aws-endpoint-urls). https and loopback need none.
    allow_unsafe_aws_endpoint_urls: str = ""

    # The stall sweep (stall.py): one paged LIST of the resources every this many seconds; a
    # resource kopf has not finished with and unchanged for `stall_margin` seconds past its
    # retry delay is re-triggered, counted and reported.
    stall_sweep_interval: float = Field(default=60.0, gt=0)
    stall_margin: float = Field(default=60.0, gt=0)

    # Retries and timeouts: rarely changed, so environment only.
    backoff_base: float = Field(default=2.0, gt=0)
    backoff_cap: float = Field(default=300.0, gt=0)
    aws_max_workers: int = Field(default=16, ge=1)
    aws_connect_timeout: float = Field(default=5.0, gt=0)
    aws_read_timeout: float = Field(default=20.0, gt=0)
    aws_call_timeout: float = Field(default=40.0, gt=0)
    watch_server_timeout: int = Field(default=300, gt=0)  # the API server wants an integer
    watch_client_timeout: float = Field(default=330.0, gt=0)
    watch_connect_timeout: float = Field(default=10.0, gt=0)
    # Connections to the API server at most (0: the watch streams plus 16). Each costs ~0.2 MB
    # (TLS buffers); kopf's own default is unlimited: a thousand resources changing at once
    # opened ~100 connections that then stayed in the pool.
    kube_connections: int = Field(default=0, ge=0)
    # Resources kopf processes at once (0: no limit) and how long an idle per-resource worker
    # lingers. Every resource being processed holds its handler's state (~35-50 KB) while it
    # waits for the Create budget: a limit bounds that when thousands are applied together.
    worker_limit: int = Field(default=0, ge=0)
    worker_idle_timeout: float = Field(default=5.0, gt=0)
    readiness_failures: int = Field(default=5, ge=1)  # consecutive failed AWS calls → not ready
    # Calls the operator's own budget deferred are logged as one line per this many seconds.
    deferral_log_interval: float = Field(default=30.0, gt=0)
    # shared: seconds a reconcile's Create, Stop or tag call waits for the budget at most; past
    # that it is deferred (ClientRateLimited, a condition, kopf's delayed retry), never a silent
    # sleep of minutes. 60 s lets a 1,000-resource burst through without deferrals.
    aws_call_max_wait: float = Field(default=60.0, gt=0)

    # kopf peering for more than one replica (the chart sets it): the peering object's name. None:
    # standalone. Each process picks a random priority, as kopf pauses all peers of equal priority.
    peering_name: str | None = None

    # Fault injection for the kill-and-restart test: exit right after a successful Create.
    exit_after_create: bool = False
    # Fault injection for the stall test: kopf's touch after a delayed handler's sleep is dropped
    # (the wake-up is lost, as when the sleep is interrupted by an event that brings no retry).
    fault_lose_wakeups: bool = False

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("bind_address", mode="before")
    @classmethod
    def _addresses(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(","))
        addresses = tuple(dict.fromkeys(str(part).strip() for part in value if str(part).strip()))
        for address in addresses:
            try:
                ipaddress.ip_address(address.strip("[]"))
            except ValueError:
                raise ValueError(f"{address!r} is not an IP address") from None
        if not addresses:
            raise ValueError("give at least one address")
        return addresses

    @field_validator("allow_unsafe_aws_endpoint_urls")
    @classmethod
    def _unsafe(cls, value: str) -> str:
        allow_list(value)
        return value

    @field_validator("aws_rate_limits")
    @classmethod
    def _limits(cls, value: str) -> str:
        parse_limits(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @model_validator(mode="after")
    def _scope(self) -> Settings:
        if self.namespaces and self.all_namespaces:
            raise ValueError("give --namespace or --all-namespaces, not both")
        if self.endpoint_url:
            problem = endpoint_problem(self.endpoint_url, self.unsafe_endpoints())
            if problem is not None:
                raise ValueError(f"--endpoint-url: {problem}")
        return self

    def unsafe_endpoints(self) -> frozenset[str]:
        """The parsed `allow_unsafe_aws_endpoint_urls`."""
        return allow_list(self.allow_unsafe_aws_endpoint_urls)

    @property
    def clusterwide(self) -> bool:
        """Watch every namespace (the default when no namespace is named)."""
        return not self.namespaces

    def kube_connection_limit(self) -> int:
        """`kube_connections`, or enough for every watch stream kopf keeps open (jobs per
        namespace, kopf peering per namespace, namespaces, CRDs) plus 16 for requests."""
        if self.kube_connections:
            return self.kube_connections
        return 2 * max(len(self.namespaces), 1) + 4 + 16

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
        help="watch this namespace (repeatable) [HPO_NAMESPACES, comma-separated]",
    )
    scope.add_argument(
        "--all-namespaces",
        action="store_true",
        help="watch every namespace (default when none is named) [HPO_ALL_NAMESPACES]",
    )
    p.add_argument("--region", help="default AWS region [HPO_REGION, AWS_REGION]")
    p.add_argument("--endpoint-url", help="SageMaker endpoint URL [HPO_ENDPOINT_URL]")
    p.add_argument(
        ALLOW_FLAG,
        dest="allow_unsafe_aws_endpoint_urls",
        nargs="?",
        const=ANY,
        metavar="URLS",
        help="plain-HTTP endpoints (not loopback) that may get the operator's credentials: "
        "comma-separated URLs; alone, any [HPO_ALLOW_UNSAFE_AWS_ENDPOINT_URLS, none]",
    )
    p.add_argument(
        "--poll-interval", type=float, help="seconds between status polls [HPO_POLL_INTERVAL, 30]"
    )
    p.add_argument(
        "--polling",
        choices=("shared", "per-resource"),
        help="how running jobs are watched [HPO_POLLING, shared]",
    )
    p.add_argument(
        "--stall-sweep-interval",
        type=float,
        help="seconds between sweeps for stalled resources [HPO_STALL_SWEEP_INTERVAL, 60]",
    )
    p.add_argument(
        "--deletion-policy",
        choices=("delete", "retain"),
        help="default for resources without the annotation [HPO_DELETION_POLICY, delete]",
    )
    p.add_argument("--log-format", choices=("json", "text"), help="[HPO_LOG_FORMAT, json]")
    p.add_argument("--log-level", help="[HPO_LOG_LEVEL, INFO]")
    p.add_argument("--metrics-port", type=int, help="/metrics port, 0 = any [HPO_METRICS_PORT]")
    p.add_argument(
        "--health-port", type=int, help="/healthz and /readyz port, 0 = any [HPO_HEALTH_PORT]"
    )
    p.add_argument(
        "--bind-address",
        metavar="ADDRESSES",
        help="addresses the probes and /metrics listen on, comma-separated "
        "[HPO_BIND_ADDRESS, 127.0.0.1]",
    )
    return p


def from_args(argv: Sequence[str]) -> Settings:
    """Settings from the command line over the environment."""
    flags = vars(parser().parse_args(list(argv)))
    if "namespaces" in flags:
        flags["namespaces"] = tuple(flags["namespaces"])
    return Settings(**flags)
