"""Which endpoints may get the operator's credentials (issue 13, F9): the pure rule, the allow-list
setting, and the SageMaker client layer that enforces it whatever endpoint a client was made for.

The client-layer tests send a real Describe through boto3 to a plain-HTTP server: on loopback it
arrives (signed, as always); to any other host the request is refused after signing and before a
byte leaves, so nothing — neither the access key ID nor the session token — reaches the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from hpo_operator.adapters.sagemaker import AwsConfig, SageMaker, SageMakerClients, UnsafeEndpoint
from hpo_operator.core.endpoints import allow_list, endpoint_problem, is_loopback, region_problem
from hpo_operator.core.types import Call, ErrorKind, Op
from support.capture import Capture, non_loopback_address


@pytest.mark.parametrize(
    "url",
    [
        "https://api.sagemaker.us-west-2.amazonaws.com",
        "https://10.0.0.7:8443",
        "http://127.0.0.1:8090",
        "http://127.5.6.7",
        "http://[::1]:8090",
        "http://localhost:8090",
        "HTTP://LOCALHOST:8090/",
    ],
)
def test_https_and_loopback_need_no_allowance(url: str) -> None:
    assert endpoint_problem(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://192.0.2.10:8080",
        "http://capture.attacker.example",
        "http://[fd00::2]:80",
        "http://localhost.attacker.example",
        "http://127.0.0.1.nip.io",
    ],
)
def test_plain_http_elsewhere_is_refused_with_the_flag_that_allows_it(url: str) -> None:
    problem = endpoint_problem(url)
    assert problem is not None and "--allow-unsafe-aws-endpoint-urls=http://" in problem
    assert endpoint_problem(url, allow_list("*")) is None
    assert endpoint_problem(url, allow_list("true")) is None  # ACK's boolean spelling


@pytest.mark.parametrize("url", ["ftp://x", "not a url", "http://", "https://:443", "http://a:b"])
def test_what_is_not_an_http_url_is_refused(url: str) -> None:
    assert "not an http(s) URL" in (endpoint_problem(url) or "")


def test_the_allow_list_matches_scheme_host_and_port() -> None:
    allowed = allow_list(" http://Emulator.Local:8090 , http://192.0.2.10")
    assert endpoint_problem("http://emulator.local:8090/path", allowed) is None
    assert endpoint_problem("http://192.0.2.10:80", allowed) is None
    assert endpoint_problem("http://emulator.local:8091", allowed) is not None
    assert endpoint_problem("http://192.0.2.11", allowed) is not None
    assert allow_list("") == allow_list("false") == frozenset()
    with pytest.raises(ValueError, match="not an http"):
        allow_list("emulator.local:8090")


def test_loopback_is_by_address_never_by_a_name_that_resolves() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("[::1]") and is_loopback("localhost")
    assert not is_loopback("localhost.") and not is_loopback("0.0.0.0")


@pytest.mark.parametrize("region", ["us-west-2", "us-gov-west-1", "cn-north-1", "eusc-de-east-1"])
def test_region_names(region: str) -> None:
    assert region_problem(region) is None


@pytest.mark.parametrize("region", ["not a region", "us_west_2", "US-WEST-2", "evil.com/x", "-1"])
def test_what_cannot_be_a_region(region: str) -> None:
    assert region_problem(region) is not None


# --- The client layer ---------------------------------------------------------------------------


@pytest.fixture
def capture(request: pytest.FixtureRequest) -> Iterator[Capture]:
    host = str(request.param)
    if host == "non-loopback":
        found = non_loopback_address()
        if found is None:
            pytest.skip("this machine has no address but loopback")
        host = found
    with Capture(host) as server:
        yield server


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDCAPTURED")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "SESSIONTOKENCAPTURED")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


async def describe(clients: SageMakerClients, client: SageMaker) -> object:
    try:
        return await client.execute(Call(Op.DESCRIBE, "job"))
    finally:
        clients.close()


@pytest.mark.parametrize("capture", ["127.0.0.1"], indirect=True)
def test_loopback_plain_http_is_used(capture: Capture, credentials: None) -> None:
    clients = SageMakerClients(AwsConfig())

    async def go() -> object:
        return await describe(clients, await clients.get("us-west-2", capture.url))

    failure = asyncio.run(go())
    assert getattr(failure, "kind", None) is ErrorKind.NOT_FOUND
    assert len(capture.seen) == 1 and "AKIDCAPTURED" in capture.seen[0]
    assert "SESSIONTOKENCAPTURED" in capture.seen[0]  # what a capture elsewhere would get


@pytest.mark.parametrize("capture", ["non-loopback"], indirect=True)
def test_credentials_never_go_over_plain_http_to_another_host(
    capture: Capture, credentials: None
) -> None:
    url = capture.url
    clients = SageMakerClients(AwsConfig())
    with pytest.raises(UnsafeEndpoint, match="plain HTTP"):
        asyncio.run(clients.get("us-west-2", url))
    # A client made for it anyway (a path around `get`): the request is refused, not sent.
    raw = clients._new_client("us-west-2", url)
    failure = asyncio.run(describe(clients, SageMaker(raw, clients._executor, AwsConfig())))
    assert getattr(failure, "code", None) == "UnsafeEndpoint"
    assert getattr(failure, "kind", None) is ErrorKind.TERMINAL
    # With a role to assume (issue 16): STS at that endpoint is refused the same way, and the
    # SageMaker call is never made with other credentials instead.
    role = "arn:aws:iam::222222222222:role/hpo-a"
    clients = SageMakerClients(AwsConfig())
    assuming = clients._new_client("us-west-2", url, role)
    failure = asyncio.run(describe(clients, SageMaker(assuming, clients._executor, AwsConfig())))
    assert getattr(failure, "code", None) == "RoleUnavailable"
    assert role in getattr(failure, "message", "") and "plain HTTP" in getattr(
        failure, "message", ""
    )
    assert capture.seen == [] and capture.connections == 0


@pytest.mark.parametrize("capture", ["non-loopback"], indirect=True)
def test_an_allowed_plain_http_endpoint_is_used(capture: Capture, credentials: None) -> None:
    url = capture.url
    clients = SageMakerClients(AwsConfig(unsafe_endpoints=allow_list(url)))

    async def go() -> object:
        return await describe(clients, await clients.get("us-west-2", url))

    assert getattr(asyncio.run(go()), "kind", None) is ErrorKind.NOT_FOUND
    assert len(capture.seen) == 1
