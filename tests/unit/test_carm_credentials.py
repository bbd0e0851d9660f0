"""Issue 16: a role from ACK's role maps is assumed with botocore's own refreshable machinery, the
operator's credentials as the source; a role that cannot be assumed is ACK.Recoverable naming the
role and the reason, never a call with the operator's own credentials; no credential reaches a
log line or a failure message. The role maps are read by name and cached."""

from __future__ import annotations

import asyncio
import logging
import secrets
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from hpo_operator.adapters.sagemaker import (
    ROLE_SESSION_NAME,
    AwsConfig,
    RoleUnavailable,
    SageMakerClients,
    assumed_credentials,
    classify_exception,
)
from hpo_operator.core.accounts import placement
from hpo_operator.core.types import AwsFailure, Call, ErrorKind, Op, Place, RoleMaps
from hpo_operator.identity import ANN_OWNER_ACCOUNT, ROLE_ACCOUNT_MAP, ROLE_TEAM_MAP
from hpo_operator.shell import carm, rbac

ROLE = "arn:aws:iam::222222222222:role/hpo-a"


def secret(n: int) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(n))


class Source:
    """The operator's own session (the default chain), with an STS client stubbed."""

    def __init__(self, has_credentials: bool = True) -> None:
        self.session = botocore.session.get_session()
        self.own_secret = secret(40)
        if has_credentials:
            self.session.set_credentials("AKIAOWN" + secret(13), self.own_secret, secret(60))
        self.stubbers: list[Stubber] = []
        self.regions: list[str] = []
        self.prepare: Any = None

    def get_credentials(self) -> Any:
        return self.session.get_credentials()

    def set_config_variable(self, name: str, value: str) -> None:
        self.session.set_config_variable(name, value)

    def create_client(self, service: str, **kwargs: Any) -> Any:
        client = self.session.create_client(service, **kwargs)
        self.regions.append(str(kwargs.get("region_name")))
        stubber = Stubber(client)
        self.prepare(stubber)
        stubber.activate()
        self.stubbers.append(stubber)
        return client


def assume(source: Source) -> Any:
    origin: Any = source
    return assumed_credentials(ROLE, "eu-west-1", None, Config(), frozenset(), source=origin)


def test_the_role_is_assumed_on_first_use_with_the_operators_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    source = Source()
    assumed_secret = secret(40)
    expiry = datetime.now(UTC) + timedelta(hours=1)

    def prepare(stubber: Stubber) -> None:
        stubber.add_response(
            "assume_role",
            {
                "Credentials": {
                    "AccessKeyId": "ASIAROLE" + secret(12),
                    "SecretAccessKey": assumed_secret,
                    "SessionToken": secret(80),
                    "Expiration": expiry,
                },
                "AssumedRoleUser": {"AssumedRoleId": "AROA:x", "Arn": ROLE + "/x"},
            },
            {"RoleArn": ROLE, "RoleSessionName": ROLE_SESSION_NAME},
        )

    source.prepare = prepare
    credentials = assume(source)
    assert source.stubbers == []  # deferred: nothing asked before the first call
    frozen = credentials.get_frozen_credentials()
    assert frozen.secret_key == assumed_secret and frozen.access_key.startswith("ASIAROLE")
    assert source.regions == ["eu-west-1"]  # STS in the resource's region, as ACK
    credentials.get_frozen_credentials()  # still fresh: no second AssumeRole
    assert len(source.stubbers) == 1
    for stubber in source.stubbers:
        stubber.assert_no_pending_responses()
    assert assumed_secret not in caplog.text and source.own_secret not in caplog.text


def test_a_role_that_cannot_be_assumed_is_recoverable_naming_role_and_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    source = Source()

    def prepare(stubber: Stubber) -> None:
        stubber.add_client_error(
            "assume_role",
            service_error_code="AccessDenied",
            service_message="not authorized to perform: sts:AssumeRole on resource: " + ROLE,
            http_status_code=403,
        )

    source.prepare = prepare
    with pytest.raises(RoleUnavailable) as raised:
        assume(source).get_frozen_credentials()
    failure = classify_exception(Op.CREATE, raised.value)
    assert failure.kind is ErrorKind.RECOVERABLE and failure.code == "RoleUnavailable"
    assert ROLE in failure.message and "AccessDenied" in failure.message
    assert "sts:AssumeRole" in failure.message
    assert source.own_secret not in failure.message + caplog.text


def test_no_credentials_of_its_own_is_recoverable_and_asks_nothing() -> None:
    source = Source(has_credentials=False)
    source.get_credentials = lambda: None  # type: ignore[method-assign]
    source.prepare = lambda stubber: None
    with pytest.raises(RoleUnavailable, match="no AWS credentials of its own"):
        assume(source).get_frozen_credentials()
    assert source.stubbers == []


def test_clients_are_kept_per_role_region_and_endpoint() -> None:
    clients = SageMakerClients(AwsConfig(max_workers=1))

    async def get_all() -> list[Any]:
        return [
            await clients.get("us-west-2", None),
            await clients.get("us-west-2", None, ROLE),
            await clients.get("us-west-2", None, ROLE),
            await clients.get("eu-west-1", None, ROLE),
        ]

    try:
        own, role, again, other_region = asyncio.run(get_all())
    finally:
        clients.close()
    assert role is again and len({id(own), id(role), id(other_region)}) == 3


# --- the role maps ---------------------------------------------------------------------------


def test_role_maps_are_read_by_name_and_cached() -> None:
    reads: list[tuple[str, str]] = []
    data: dict[str, dict[str, str] | None] = {ROLE_ACCOUNT_MAP: {"2": ROLE}, ROLE_TEAM_MAP: None}
    now = [0.0]

    async def read(namespace: str, name: str) -> dict[str, str] | None:
        reads.append((namespace, name))
        if name == "boom":
            raise RuntimeError
        return data[name]

    source = carm.RoleMapSource(read, "hpo", teams=True, refresh=15, clock=lambda: now[0])
    assert asyncio.run(source()) == RoleMaps({"2": ROLE}, None)
    assert reads == [("hpo", ROLE_ACCOUNT_MAP), ("hpo", ROLE_TEAM_MAP)]
    data[ROLE_ACCOUNT_MAP] = None
    now[0] = 14.0
    assert asyncio.run(source()).accounts == {"2": ROLE} and len(reads) == 2  # cached
    now[0] = 15.0
    assert asyncio.run(source()) == RoleMaps(None, None) and len(reads) == 4


def test_a_failed_read_keeps_the_last_answer() -> None:
    calls = [0]

    async def read(namespace: str, name: str) -> dict[str, str] | None:
        calls[0] += 1
        if calls[0] > 1:
            raise OSError("api down")
        return {"2": ROLE}

    now = [0.0]
    source = carm.RoleMapSource(read, "hpo", teams=False, refresh=1, clock=lambda: now[0])
    assert asyncio.run(source()).accounts == {"2": ROLE}
    now[0] = 5.0
    failed = asyncio.run(source())
    assert failed.accounts == {"2": ROLE} and failed.unreadable == "OSError: api down"


def test_a_map_never_read_says_why_not_does_not_exist() -> None:
    """A map the operator may not read (RBAC) is not a missing map: the resource hears why."""

    async def read(namespace: str, name: str) -> dict[str, str] | None:
        raise PermissionError("403 Forbidden")

    source = carm.RoleMapSource(read, "hpo", teams=False, refresh=1, clock=lambda: 0.0)
    maps = asyncio.run(source())
    problem = placement({ANN_OWNER_ACCOUNT: "222222222222"}, {}, maps).problem
    assert problem is not None and "cannot be read" in problem and "403 Forbidden" in problem


def test_the_maps_namespace_is_the_setting_then_the_pods_then_acks(tmp_path: Path) -> None:
    own = tmp_path / "namespace"
    assert carm.carm_namespace("given", own) == "given"
    assert carm.carm_namespace(None, own) == "ack-system"
    own.write_text("hpo-system\n")
    assert carm.carm_namespace(None, own) == "hpo-system"


def test_rbac_names_exactly_the_role_maps() -> None:
    assert rbac.named(teams=False) == {("", "configmaps", "get", ROLE_ACCOUNT_MAP)}
    assert rbac.named(teams=True) == {
        ("", "configmaps", "get", ROLE_ACCOUNT_MAP),
        ("", "configmaps", "get", ROLE_TEAM_MAP),
    }
    for scope in ("cluster", "namespace"):
        assert not any(r == "configmaps" for _, r, _ in rbac.required(scope, peering=True))


def test_a_call_whose_role_cannot_be_assumed_is_never_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """STS unreachable: the SageMaker call fails as RoleUnavailable, and nothing else is tried."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOWN" + secret(13))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret(40))
    clients = SageMakerClients(AwsConfig(max_workers=1, connect_timeout=1, call_timeout=10))

    async def call() -> Any:
        port = await clients.get("us-west-2", "http://127.0.0.1:9", ROLE)
        return await port.execute(Call(Op.DESCRIBE, "job"))

    try:
        failure = asyncio.run(call())
    finally:
        clients.close()
    assert isinstance(failure, AwsFailure) and failure.code == "RoleUnavailable"
    assert ROLE in failure.message


# --- per account and region (item 3) --------------------------------------------------------


def test_each_account_and_region_has_its_own_poller_and_budget() -> None:
    """A throttle in one account halves that account's budget only."""
    from hpo_operator.polling.poller import PollerConfig
    from hpo_operator.polling.shared import SharedPoller

    class Readers:
        async def get(
            self, region: str, endpoint_url: str | None, role_arn: str | None = None
        ) -> Any:
            return (region, endpoint_url, role_arn)

        def close(self) -> None: ...

    async def report(*_: Any) -> Any: ...

    other = "arn:aws:iam::333333333333:role/hpo-b"
    shared = SharedPoller(Readers(), PollerConfig(), report)  # type: ignore[arg-type]

    async def ports() -> list[Any]:
        return [
            await shared.port("us-west-2", None, ROLE),
            await shared.port("us-west-2", None, other),
            await shared.port("us-west-2", None),
            await shared.port("us-west-2", None, ROLE),
        ]

    a, b, own, again = asyncio.run(ports())
    assert a is again and len({id(a.poller), id(b.poller), id(own.poller)}) == 3
    op = Op.CREATE.value
    before = b.poller.limiter.bucket(op).rate
    a.poller.limiter.throttled(op)
    assert a.poller.limiter.bucket(op).rate < before == b.poller.limiter.bucket(op).rate
    assert "in account 222222222222" in a.poller.where and "account" not in own.poller.where


def test_readiness_and_metrics_per_account_and_region() -> None:
    from hpo_operator.shell.health import Health
    from hpo_operator.shell.metrics import Metrics

    health, metrics = Health(failures_limit=2), Metrics()
    health.started = True
    target, own = Place("222222222222", "us-west-2"), Place("own", "us-west-2")
    for place, outcome in ((target, "recoverable"), (target, "recoverable"), (own, "ok")):
        health.observe_call(Op.DESCRIBE, outcome, 0.01, place)
        metrics.observe_call(Op.DESCRIBE, outcome, 0.01, place)
    ready, why = health.ready()
    assert ready and "account 222222222222 in us-west-2" in why  # one account down: named
    health.observe_call(Op.LIST, "throttled", 0.01, own)
    health.observe_call(Op.LIST, "throttled", 0.01, own)
    assert health.ready()[0] is False  # every place failing
    text = metrics.render().decode()
    sample = (
        'hpo_sagemaker_calls_total{account="222222222222",'
        'operation="DescribeHyperParameterTuningJob",outcome="recoverable",region="us-west-2"} 2.0'
    )
    assert sample in text
