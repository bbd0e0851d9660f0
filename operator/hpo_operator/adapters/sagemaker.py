"""SageMaker through botocore, without blocking the event loop, with every failure classified.

botocore is boto3's engine (boto3's `Session.client` is botocore's `create_client`); the operator
process does not import boto3 itself, which saved 2 MB of RSS (docs/performance.md). It is
synchronous, so each call runs in one bounded ThreadPoolExecutor shared by all clients,
with botocore connect/read timeouts and an overall asyncio deadline on top. botocore's own retries
are off: the operator retries at the resource level (backoff for Create, the next poll for
Describe), which keeps throttling visible in metrics and never hides a slow call in a thread.
One client per (role, region, endpoint), created once, off the event loop: the operator's own
credentials (botocore's default chain: IRSA's web identity, EKS Pod Identity, AWS_* variables),
or, for a role from ACK's role maps (`core.accounts`), the role's, assumed through STS by
botocore's own refreshable machinery with the operator's credentials as the source. A role that
cannot be assumed fails the call (`RoleUnavailable`); it never falls back to the operator's own
credentials, which reach another account."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import botocore.exceptions
import botocore.session
from botocore.config import Config
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    Credentials,
    DeferredRefreshableCredentials,
)

from hpo_operator.core.accounts import role_account
from hpo_operator.core.endpoints import endpoint_problem
from hpo_operator.core.types import OWN_ACCOUNT, OWN_PLACE, AwsFailure, Call, ErrorKind, Op, Place
from hpo_operator.model import awsmodel

log = logging.getLogger("hpo_operator.adapters.sagemaker")

THROTTLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottledException",
        "RequestThrottled",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)
CREDENTIAL_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "AuthFailure",
    }
)
BAD_INPUT_CODES = frozenset(
    {
        "ValidationException",
        "ValidationError",
        "InvalidParameterValue",
        "InvalidParameterCombination",
        "InvalidParameterException",
        "MissingParameter",
        "SerializationException",
        "ParamValidationError",
    }
)
NOT_FOUND_CODES = frozenset({"ResourceNotFound", "ResourceNotFoundException"})
NETWORK_ERRORS = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectionError,
    botocore.exceptions.ConnectionClosedError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.ConnectTimeoutError,
)
CREDENTIAL_ERRORS = (
    botocore.exceptions.NoCredentialsError,
    botocore.exceptions.PartialCredentialsError,
    botocore.exceptions.CredentialRetrievalError,
    botocore.exceptions.TokenRetrievalError,
)


def classify(op: Op, code: str, message: str, http_status: int | None = None) -> AwsFailure:
    """Terminal (bad input), Recoverable (retry), NotFound or InUse, with a message to act on."""
    if code in NOT_FOUND_CODES:
        return AwsFailure(op, code, message, ErrorKind.NOT_FOUND)
    if code == "ResourceInUse" and op is Op.CREATE:
        return AwsFailure(op, code, message, ErrorKind.IN_USE)
    if code in THROTTLE_CODES:
        return AwsFailure(op, code, message, ErrorKind.RECOVERABLE, throttled=True)
    if code in CREDENTIAL_CODES:
        hint = (
            f"AWS refused the operator's credentials: {message}. Check the operator's IAM role or "
            f"credentials: it needs sagemaker:{op.value}"
            + (" and iam:PassRole on the spec's roleARN" if op is Op.CREATE else "")
        )
        return AwsFailure(op, code, hint, ErrorKind.RECOVERABLE)
    if code == "ResourceLimitExceeded":
        hint = f"{message}. Retrying; wait for other jobs to finish or raise the account quota"
        return AwsFailure(op, code, hint, ErrorKind.RECOVERABLE)
    if code in BAD_INPUT_CODES:
        return AwsFailure(op, code, message, ErrorKind.TERMINAL)
    return AwsFailure(op, code or "Unknown", message, ErrorKind.RECOVERABLE)


def retry_after(value: Any) -> float | None:
    """AWS's Retry-After header in seconds; None when absent or not a number."""
    try:
        return max(float(value), 0.0) if value is not None else None
    except (TypeError, ValueError):
        return None


def classify_exception(op: Op, error: BaseException) -> AwsFailure:
    """An exception from boto3 (or the deadline) as an `AwsFailure`. Never echoes credentials.

    The one classifier of AWS errors: the reconciler's calls and the shared poller's reads."""
    if isinstance(error, botocore.exceptions.ClientError):
        details = error.response.get("Error", {})
        meta = error.response.get("ResponseMetadata", {})
        status = meta.get("HTTPStatusCode")
        code = str(details.get("Code") or "")
        message = str(details.get("Message") or error)
        if not code and isinstance(status, int) and status >= 500:
            code = f"HTTP{status}"
        failure = classify(op, code, message, status)
        wait = retry_after((meta.get("HTTPHeaders") or {}).get("retry-after"))
        return failure if wait is None else replace(failure, retry_after=wait)
    if isinstance(error, RoleUnavailable):
        hint = (
            f"{error}. The role's trust policy must let the operator's own role assume it, and "
            "the operator's role needs sts:AssumeRole on it; the operator never uses its own "
            "credentials instead"
        )
        return AwsFailure(op, "RoleUnavailable", hint, ErrorKind.RECOVERABLE)
    if isinstance(error, CREDENTIAL_ERRORS):
        hint = (
            f"No usable AWS credentials ({type(error).__name__}). Give the operator credentials: "
            "an IAM role for its service account (IRSA or EKS Pod Identity), or the standard "
            "AWS_* environment variables"
        )
        return AwsFailure(op, "MissingCredentials", hint, ErrorKind.RECOVERABLE)
    if isinstance(error, botocore.exceptions.NoRegionError):
        hint = "No AWS region: set --region or annotate the resource/namespace"
        return AwsFailure(op, "NoRegion", hint, ErrorKind.RECOVERABLE)
    if isinstance(error, UnsafeEndpoint):
        return AwsFailure(op, "UnsafeEndpoint", str(error), ErrorKind.TERMINAL)
    if isinstance(error, botocore.exceptions.ParamValidationError):
        return AwsFailure(op, "ParamValidationError", str(error), ErrorKind.TERMINAL)
    if isinstance(error, NETWORK_ERRORS):
        hint = f"Network error reaching SageMaker: {error}"
        return AwsFailure(op, type(error).__name__, hint, ErrorKind.RECOVERABLE)
    if isinstance(error, TimeoutError):
        return AwsFailure(op, "Timeout", "SageMaker did not answer in time", ErrorKind.RECOVERABLE)
    return AwsFailure(op, type(error).__name__, str(error), ErrorKind.RECOVERABLE)


@dataclass(frozen=True)
class AwsConfig:
    """Timeouts and concurrency for SageMaker calls."""

    max_workers: int = 16
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    call_timeout: float = 40.0  # overall deadline per call, on the event loop
    unsafe_endpoints: frozenset[str] = frozenset()  # plain-HTTP endpoints allowed (endpoints.py)


class RoleUnavailable(Exception):
    """The role a resource's account maps to could not be assumed (STS refused, or the operator
    has no credentials of its own to assume it with). The message names the role and the reason;
    it never holds credentials."""

    def __init__(self, role_arn: str, reason: str) -> None:
        super().__init__(f"cannot assume role {role_arn}: {reason}")
        self.role_arn = role_arn


ROLE_SESSION_NAME = "hpo-operator"  # in the target account's CloudTrail as the session name


def _sts_reason(error: BaseException) -> str:
    """Why STS refused, without anything but its error code and message."""
    if isinstance(error, botocore.exceptions.ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code') or 'Error'}: {details.get('Message') or ''}".strip()
    return f"{type(error).__name__}: {error}"


class _Given(CredentialProvider):  # type: ignore[misc]
    """A credential provider that hands botocore one credentials object (the assumed role's)."""

    METHOD = "assume-role"
    CANONICAL_NAME = "hpo-operator-assume-role"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


def shared_session() -> botocore.session.Session:
    """A new botocore session (they are not thread-safe: one per client) over the one data loader
    that holds the parsed models and endpoint data: every SageMaker and STS client shares it, so
    a client per account and region costs ~2 MB instead of ~8 (five STS clients: 9.5 MB against
    39.6 MB with a loader each)."""
    core = botocore.session.get_session()
    core.register_component("data_loader", awsmodel.botocore_session().get_component("data_loader"))
    return core


def assumed_credentials(
    role_arn: str,
    region: str,
    endpoint_url: str | None,
    config: Config,
    allowed: frozenset[str],
    source: botocore.session.Session | None = None,
) -> DeferredRefreshableCredentials:
    """The role's credentials, assumed on first use and refreshed before they expire by botocore
    (`AssumeRoleCredentialFetcher` in `DeferredRefreshableCredentials`), with `source`'s
    credentials (the operator's own, from the default chain) as the source. STS is asked in the
    resource's region, at its endpoint URL when one is set (as ACK's sessions do), and never over
    an unsafe endpoint. Failures raise `RoleUnavailable`."""
    origin = source if source is not None else shared_session()
    origin.set_config_variable("sts_regional_endpoints", "regional")
    own = origin.get_credentials()

    def sts_client(service: str, **kwargs: Any) -> Any:
        client = origin.create_client(
            service, region_name=region, endpoint_url=endpoint_url or None, config=config, **kwargs
        )
        client.meta.events.register("before-send", refuse_unsafe(allowed))
        return client

    fetcher = (
        AssumeRoleCredentialFetcher(
            sts_client, own, role_arn, extra_args={"RoleSessionName": ROLE_SESSION_NAME}
        )
        if own is not None
        else None
    )

    def refresh() -> dict[str, Any]:
        if fetcher is None:
            raise RoleUnavailable(role_arn, "the operator has no AWS credentials of its own")
        try:
            return dict(fetcher.fetch_credentials())
        except Exception as error:
            raise RoleUnavailable(role_arn, _sts_reason(error)) from None

    return DeferredRefreshableCredentials(refresh, _Given.METHOD)


class UnsafeEndpoint(ValueError):
    """A request would carry the operator's credentials over plain HTTP to a host that is not
    loopback and not allowed (`endpoints.endpoint_problem`); it was not sent."""


def refuse_unsafe(allowed: frozenset[str]) -> Callable[..., None]:
    """A botocore `before-send` handler: the last look at every request's URL, after signing and
    before a byte leaves, whatever endpoint the client was made for."""

    def check(request: Any, **_: Any) -> None:
        problem = endpoint_problem(str(getattr(request, "url", "")), allowed)
        if problem is not None:
            raise UnsafeEndpoint(f"request not sent: {problem}")

    return check


# The shared poller's read-only calls: their botocore methods (named, so tests/ship/test_docs.py
# finds them for the IAM policy).
READS = {Op.LIST: "list_hyper_parameter_tuning_jobs", Op.SEARCH: "search"}

CallObserver = Callable[[Op, str, float, Place], None]
"""Told of every call, the shared poller's reads included: (operation, outcome, seconds, where
it went). Outcome: ok, throttled or a failure kind."""


# AWS's codes for credentials that expired before their stated Expiration (a session revoked or
# ended early, clock skew): botocore refreshes an assumed role only by that Expiration.
EXPIRED_CREDENTIALS = frozenset({"ExpiredTokenException", "ExpiredToken"})


class SageMaker:
    """One region/endpoint's SageMaker: `execute(call)` never raises for AWS failures.

    `renew` (assumed-role clients): builds the client again, with credentials assumed afresh; it
    replaces this one when AWS answers that its credentials expired, so the next call (the
    reconcile's retry, the poller's next poll) uses a new session instead of the same key for the
    rest of the old one's stated lifetime."""

    def __init__(
        self,
        client: Any,
        executor: ThreadPoolExecutor,
        config: AwsConfig,
        observer: CallObserver | None = None,
        place: Place = OWN_PLACE,
        renew: Callable[[], Any] | None = None,
    ) -> None:
        self._client = client
        self._executor = executor
        self._config = config
        self._observer = observer
        self.place = place
        self._renew = renew
        self._renewing = asyncio.Lock()

    async def execute(self, call: Call) -> Mapping[str, Any] | AwsFailure:
        """Make the call; the response (without ResponseMetadata) or how it failed."""
        method, kwargs = self._method(call)
        return await self._observed(call.op, method, kwargs, self._config.call_timeout)

    __call__ = execute

    async def read(
        self, op: Op, params: Mapping[str, Any], deadline: float
    ) -> Mapping[str, Any] | AwsFailure:
        """A read-only call outside the reconciler's operations (the shared poller's `Op.LIST`
        and `Op.SEARCH`) on this client and thread pool, within `deadline` seconds; classified
        and observed like `execute`."""
        method = getattr(self._client, READS[op])
        return await self._observed(op, method, params, deadline)

    async def _observed(
        self, op: Op, method: Callable[..., Any], kwargs: Mapping[str, Any], seconds: float
    ) -> Mapping[str, Any] | AwsFailure:
        started = time.monotonic()
        client = self._client
        result: Mapping[str, Any] | AwsFailure
        try:
            result = await self._run(method, kwargs, seconds)
        except Exception as error:  # every failure is data for the caller
            result = classify_exception(op, error)
        if isinstance(result, AwsFailure) and result.code in EXPIRED_CREDENTIALS:
            await self._renew_client(client)
        if self._observer is not None:
            if isinstance(result, AwsFailure):
                outcome = "throttled" if result.throttled else result.kind.value.lower()
            else:
                outcome = "ok"
            self._observer(op, outcome, time.monotonic() - started, self.place)
        return result

    async def _renew_client(self, expired: Any) -> None:
        """Replace `expired` with a client over credentials assumed afresh (once, however many
        calls saw it expire); a failure to build one leaves it, and the next call tries again."""
        if self._renew is None:
            return
        async with self._renewing:
            if self._client is not expired:
                return  # another call renewed it already
            loop = asyncio.get_running_loop()
            try:
                self._client = await loop.run_in_executor(self._executor, self._renew)
            except Exception:
                log.warning("could not build a new client for %s", self.place, exc_info=True)

    async def _run(
        self, method: Callable[..., Any], kwargs: Mapping[str, Any], seconds: float
    ) -> Mapping[str, Any]:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, partial(method, **kwargs))
        response = await asyncio.wait_for(future, timeout=seconds)
        return {k: v for k, v in dict(response).items() if k != "ResponseMetadata"}

    def _method(self, call: Call) -> tuple[Callable[..., Any], dict[str, Any]]:
        c = self._client
        if call.op is Op.CREATE:
            return c.create_hyper_parameter_tuning_job, dict(call.request or {})
        if call.op is Op.DESCRIBE:
            return c.describe_hyper_parameter_tuning_job, {
                "HyperParameterTuningJobName": call.job_name
            }
        if call.op is Op.STOP:
            return c.stop_hyper_parameter_tuning_job, {"HyperParameterTuningJobName": call.job_name}
        if call.op is Op.LIST_TRAININGS:
            return c.list_training_jobs_for_hyper_parameter_tuning_job, dict(call.request or {})
        if call.op is Op.DESCRIBE_TRAINING:
            return c.describe_training_job, dict(call.request or {})
        if call.op is Op.ADD_TAGS:
            tags = list((call.request or {}).get("Tags") or [])
            return c.add_tags, {"ResourceArn": call.arn or "", "Tags": tags}
        if call.op is Op.DELETE_TAGS:
            keys = list((call.request or {}).get("TagKeys") or [])
            return c.delete_tags, {"ResourceArn": call.arn or "", "TagKeys": keys}
        return c.list_tags, {"ResourceArn": call.arn or "", "MaxResults": 100}


def sagemaker_client(
    region: str,
    endpoint_url: str | None,
    role_arn: str | None,
    config: Config,
    unsafe_endpoints: frozenset[str],
) -> Any:
    """A botocore SageMaker client: the default credential chain's, or `role_arn`'s assumed with
    them; every request checked by `refuse_unsafe` before it is sent. Blocking: the operator
    builds it in its thread pool, the `trials` command in its one thread."""
    core = shared_session()
    if role_arn:
        creds = assumed_credentials(role_arn, region, endpoint_url, config, unsafe_endpoints)
        core.register_component("credential_provider", CredentialResolver([_Given(creds)]))
    client = core.create_client(
        "sagemaker", region_name=region, endpoint_url=endpoint_url or None, config=config
    )
    client.meta.events.register("before-send", refuse_unsafe(unsafe_endpoints))
    return client


class SageMakerClients:
    """One botocore client per (role, region, endpoint URL), all sharing one bounded thread pool.
    Role None: the operator's own credentials."""

    def __init__(
        self,
        config: AwsConfig,
        observer: CallObserver | None = None,
        fence: Callable[..., None] | None = None,
    ) -> None:
        """`fence`: a botocore `before-send` handler run before every request is sent, in the
        thread sending it (leader election's acting deadline)."""
        self._config = config
        self._observer = observer
        self._fence = fence
        self._executor = ThreadPoolExecutor(
            max_workers=config.max_workers, thread_name_prefix="sagemaker"
        )
        self._clients: dict[tuple[str | None, str, str | None], SageMaker] = {}
        self._lock = asyncio.Lock()

    async def get(
        self, region: str, endpoint_url: str | None, role_arn: str | None = None
    ) -> SageMaker:
        """The client for this role, region and endpoint, created on first use (off the loop).
        Raises `UnsafeEndpoint` for an endpoint that must not get credentials. The role is
        assumed at the first call, not here."""
        if endpoint_url:
            problem = endpoint_problem(endpoint_url, self._config.unsafe_endpoints)
            if problem is not None:
                raise UnsafeEndpoint(problem)
        key = (role_arn or None, region, endpoint_url or None)
        found = self._clients.get(key)
        if found is not None:
            return found
        async with self._lock:
            found = self._clients.get(key)
            if found is None:
                loop = asyncio.get_running_loop()
                client = await loop.run_in_executor(
                    self._executor, partial(self._new_client, region, endpoint_url, role_arn)
                )
                account = (role_account(role_arn) if role_arn else None) or OWN_ACCOUNT
                place = Place(account, region)
                renew = (
                    partial(self._new_client, region, endpoint_url, role_arn) if role_arn else None
                )
                found = SageMaker(
                    client, self._executor, self._config, self._observer, place, renew=renew
                )
                self._clients[key] = found
            return found

    def _new_client(
        self, region: str, endpoint_url: str | None, role_arn: str | None = None
    ) -> Any:
        config = Config(
            connect_timeout=self._config.connect_timeout,
            read_timeout=self._config.read_timeout,
            retries={"total_max_attempts": 1},
            max_pool_connections=self._config.max_workers,
            user_agent_extra="hpo-operator",
        )
        client = sagemaker_client(
            region, endpoint_url, role_arn, config, self._config.unsafe_endpoints
        )
        if self._fence is not None:
            client.meta.events.register("before-send", self._fence)
        return client

    def close(self) -> None:
        """Stop the thread pool (calls in flight finish)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
