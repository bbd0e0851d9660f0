"""Accounts from access keys, and STS AssumeRole / AssumeRoleWithWebIdentity over Query/XML:
keys the emulator issues are in the role's account; each (account, region) has its own jobs."""

from __future__ import annotations

import functools
import json
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    Credentials,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import ClientError

from hpo_emulator import RunningEmulator
from hpo_emulator.config import EmulatorConfig
from hpo_emulator.scope import scope_of
from hpo_emulator.server import parse_args
from support.emulator_client import (
    START,
    ManualClock,
    StartEmulator,
    client,
    request,
    sts_client,
)

STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
TEAM = "210987654321"
ROLE = f"arn:aws:iam::{TEAM}:role/hpo-operator"
NO_RETRIES = Config(retries={"total_max_attempts": 1})


def sagemaker(url: str, credentials: dict[str, Any], region: str = "us-west-2") -> Any:
    return client(
        url,
        region,
        access_key=credentials["AccessKeyId"],
        secret_key=credentials["SecretAccessKey"],
        session_token=credentials.get("SessionToken"),
    )


def assume(url: str, role: str = ROLE, **extra: Any) -> dict[str, Any]:
    answer: dict[str, Any] = sts_client(url).assume_role(
        RoleArn=role, RoleSessionName="hpo", **extra
    )
    return answer


def names(sm: Any) -> list[str]:
    page = sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    return [s["HyperParameterTuningJobName"] for s in page]


def control(url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    raw = urllib.request.Request(
        f"{url}/_emulator/sts", data=data, method="GET" if data is None else "POST"
    )
    with urllib.request.urlopen(raw, timeout=10) as response:
        document: dict[str, Any] = json.loads(response.read())
    return document


def test_assumed_keys_are_in_the_roles_account(emulator: RunningEmulator) -> None:
    answer = assume(emulator.url)
    credentials = answer["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert credentials["AccessKeyId"].endswith(TEAM)
    assert credentials["SecretAccessKey"] and credentials["SessionToken"]
    user = answer["AssumedRoleUser"]
    assert user["Arn"] == f"arn:aws:sts::{TEAM}:assumed-role/hpo-operator/hpo"
    assert user["AssumedRoleId"].startswith("AROA") and user["AssumedRoleId"].endswith(":hpo")
    identity = sts_client(emulator.url, credentials["AccessKeyId"]).get_caller_identity()
    assert identity["Account"] == TEAM
    assert identity["Arn"] == user["Arn"]
    assert identity["UserId"] == user["AssumedRoleId"]

    team = sagemaker(emulator.url, credentials)
    arn = team.create_hyper_parameter_tuning_job(**request())["HyperParameterTuningJobArn"]
    assert arn == f"arn:aws:sagemaker:us-west-2:{TEAM}:hyper-parameter-tuning-job/job"
    assert names(team) == ["job"]
    assert names(client(emulator.url)) == []  # the default account, same region
    assert list(emulator.store_for("us-west-2", TEAM).jobs) == ["job"]


def test_the_same_name_in_two_accounts_is_two_jobs(emulator: RunningEmulator) -> None:
    team = sagemaker(emulator.url, assume(emulator.url)["Credentials"])
    default = client(emulator.url)
    team.create_hyper_parameter_tuning_job(**request("shared"))
    default.create_hyper_parameter_tuning_job(**request("shared"))  # no ResourceInUse
    team.create_hyper_parameter_tuning_job(**request("team-only"))
    with pytest.raises(ClientError) as err:
        default.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="team-only")
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ClientError) as err:
        default.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="team-only")
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"
    team.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="shared")
    described = default.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="shared")
    assert described["HyperParameterTuningJobStatus"] == "InProgress"  # only team's stopped
    searched = team.search(Resource="HyperParameterTuningJob")["Results"]
    assert sorted(r["HyperParameterTuningJob"]["HyperParameterTuningJobArn"] for r in searched) == [
        f"arn:aws:sagemaker:us-west-2:{TEAM}:hyper-parameter-tuning-job/shared",
        f"arn:aws:sagemaker:us-west-2:{TEAM}:hyper-parameter-tuning-job/team-only",
    ]
    assert names(default) == ["shared"]


def test_tags_of_another_accounts_arn_are_access_denied(emulator: RunningEmulator) -> None:
    team = sagemaker(emulator.url, assume(emulator.url)["Credentials"])
    arn = team.create_hyper_parameter_tuning_job(**request())["HyperParameterTuningJobArn"]
    team.add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}])
    assert team.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    default = client(emulator.url)
    for call in (
        lambda: default.list_tags(ResourceArn=arn),
        lambda: default.add_tags(ResourceArn=arn, Tags=[{"Key": "x", "Value": "y"}]),
        lambda: default.delete_tags(ResourceArn=arn, TagKeys=["k"]),
    ):
        with pytest.raises(ClientError) as err:
            call()
        error = err.value.response["Error"]
        assert error["Code"] == "AccessDeniedException"
        assert error["Message"].startswith(
            "User: arn:aws:iam::123456789012:user/emulator is not authorized to perform: sagemaker:"
        )
        assert f"on resource: {arn} because no resource-based policy allows" in error["Message"]
    assert team.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]


def test_quotas_are_per_account_and_region(start_emulator: StartEmulator) -> None:
    emu = start_emulator(quotas={"ListHyperParameterTuningJobs": (0.001, 1.0)})
    scopes = {
        "default us-west-2": client(emu.url),
        "default us-east-1": client(emu.url, region="us-east-1"),
        "team us-west-2": sagemaker(emu.url, assume(emu.url)["Credentials"]),
    }
    for sm in scopes.values():  # a bucket each: none is throttled
        sm.list_hyper_parameter_tuning_jobs()
    for scope, sm in scopes.items():
        with pytest.raises(ClientError) as err:
            sm.list_hyper_parameter_tuning_jobs()
        assert err.value.response["Error"]["Code"] == "ThrottlingException", scope


def test_keys_ending_in_twelve_digits_name_their_account(emulator: RunningEmulator) -> None:
    config = EmulatorConfig(accounts={"AKIDPINNED111111111111": "333333333333"})
    header = "AWS4-HMAC-SHA256 Credential={}/20260101/us-east-1/sagemaker/aws4_request"

    def account(key: str) -> str:
        return scope_of({"Authorization": header.format(key)}, {}, config).account

    assert account("AKIATEST210987654321") == TEAM
    assert account("team-210987654321") == TEAM
    assert account(TEAM) == TEAM
    assert account("AKIA1210987654321") == config.account_id  # 13 trailing digits: not the rule
    assert account("AKIDEXAMPLE") == config.account_id
    assert account("AKIDPINNED111111111111") == "333333333333"  # the configured key first
    keyed = {"AccessKeyId": "AKIATEST210987654321", "SecretAccessKey": "x"}
    sts_identity = sts_client(emulator.url, keyed["AccessKeyId"]).get_caller_identity()
    assert sts_identity["Account"] == TEAM
    assert sts_identity["Arn"] == f"arn:aws:iam::{TEAM}:user/emulator"
    sagemaker(emulator.url, keyed).create_hyper_parameter_tuning_job(**request())
    assert list(emulator.store_for("us-west-2", TEAM).jobs) == ["job"]


def test_expiration_follows_duration_seconds(emulator: RunningEmulator) -> None:
    credentials = assume(emulator.url, DurationSeconds=900)["Credentials"]
    assert credentials["Expiration"] == datetime.fromtimestamp(START + 900, UTC)
    default = assume(emulator.url)["Credentials"]
    assert default["Expiration"] == datetime.fromtimestamp(START + 3600, UTC)
    unchecked = boto3.client(  # botocore checks the bounds itself: let the emulator answer
        "sts",
        endpoint_url=emulator.url,
        region_name="us-east-1",
        aws_access_key_id="AKIDBASE",
        aws_secret_access_key="x",
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )
    for duration, words in ((899, "greater than or equal to 900"), (43201, "less than or equal")):
        with pytest.raises(ClientError) as err:
            unchecked.assume_role(RoleArn=ROLE, RoleSessionName="hpo", DurationSeconds=duration)
        error = err.value.response["Error"]
        assert error["Code"] == "ValidationError"
        assert (
            f"Value '{duration}' at 'durationSeconds' failed to satisfy constraint"
            in (error["Message"])
        )
        assert words in error["Message"]


def test_session_seconds_overrides_the_duration(start_emulator: StartEmulator) -> None:
    clock = ManualClock()
    emu = start_emulator(clock=clock, session_seconds=30.0)
    credentials = assume(emu.url, DurationSeconds=900)["Credentials"]
    assert credentials["Expiration"] == datetime.fromtimestamp(START + 30, UTC)
    control(emu.url, {"session_seconds": 5})
    assert assume(emu.url)["Credentials"]["Expiration"] == datetime.fromtimestamp(START + 5, UTC)
    control(emu.url, {"session_seconds": None})
    assert assume(emu.url)["Credentials"]["Expiration"] == datetime.fromtimestamp(START + 3600, UTC)


def test_expired_keys_are_refused(emulator: RunningEmulator, clock: ManualClock) -> None:
    credentials = assume(emulator.url, DurationSeconds=900)["Credentials"]
    team = sagemaker(emulator.url, credentials)
    names(team)
    clock.advance(900)
    with pytest.raises(ClientError) as err:
        names(team)
    assert err.value.response["Error"]["Code"] == "ExpiredTokenException"
    with pytest.raises(ClientError) as err:
        sts_client(emulator.url, credentials["AccessKeyId"]).get_caller_identity()
    assert err.value.response["Error"]["Code"] == "ExpiredToken"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_the_control_endpoint_ends_a_roles_sessions(emulator: RunningEmulator) -> None:
    team = sagemaker(emulator.url, assume(emulator.url)["Credentials"])
    names(team)
    document = control(emulator.url, {"expire_roles": [ROLE]})
    assert [s["expired"] for s in document["sessions"]] == [True]
    with pytest.raises(ClientError) as err:
        names(team)
    assert err.value.response["Error"]["Code"] == "ExpiredTokenException"
    names(sagemaker(emulator.url, assume(emulator.url)["Credentials"]))  # a new one works


def test_a_denied_role_is_access_denied_until_allowed(emulator: RunningEmulator) -> None:
    document = control(emulator.url, {"deny_roles": [ROLE]})
    assert document["denied_roles"] == [ROLE]
    with pytest.raises(ClientError) as err:
        assume(emulator.url)
    error = err.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert error["Type"] == "Sender"
    assert error["Message"] == (
        "User: arn:aws:iam::123456789012:user/emulator is not authorized to perform: "
        f"sts:AssumeRole on resource: {ROLE}"
    )
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    other = f"arn:aws:iam::{TEAM}:role/other"
    assert assume(emulator.url, other)["AssumedRoleUser"]["Arn"].endswith("/other/hpo")
    assert control(emulator.url, {"allow_roles": [ROLE]})["denied_roles"] == []
    assert assume(emulator.url)["Credentials"]["AccessKeyId"].endswith(TEAM)


def test_the_control_endpoint_refuses_what_it_does_not_know(emulator: RunningEmulator) -> None:
    for body in (
        {"deny": [ROLE]},
        {"deny_roles": ["arn:aws:iam::1:user/x"]},
        {"session_seconds": 0},
    ):
        with pytest.raises(urllib.error.HTTPError) as err:
            control(emulator.url, body)
        assert err.value.code == 400
    assert control(emulator.url)["denied_roles"] == []


def test_denied_roles_and_session_seconds_from_the_command_line() -> None:
    config = parse_args(["--deny-role", ROLE, "--session-seconds", "60"])
    assert config.denied_roles == [ROLE]
    assert config.session_seconds == 60.0
    with pytest.raises(SystemExit):
        parse_args(["--deny-role", "arn:aws:iam::123456789012:user/someone"])


def test_assume_role_error_xml_is_what_sdks_read(emulator: RunningEmulator) -> None:
    """The wire: an ErrorResponse with Type, Code and Message under STS's namespace, HTTP 403
    for AccessDenied; unsigned AssumeRole is refused as AWS refuses it."""
    control(emulator.url, {"deny_roles": [ROLE]})
    form = f"Action=AssumeRole&Version=2011-06-15&RoleArn={ROLE}&RoleSessionName=sess".encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDGO/20260101/us-west-2/sts/"
        "aws4_request, SignedHeaders=host, Signature=0",
    }
    raw = urllib.request.Request(emulator.url, data=form, method="POST", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(raw, timeout=10)
    assert err.value.code == 403
    assert err.value.headers["Content-Type"].startswith("text/xml")
    root = ET.fromstring(err.value.read())
    assert root.tag == f"{STS_NS}ErrorResponse"
    assert root.findtext(f"{STS_NS}Error/{STS_NS}Type") == "Sender"
    assert root.findtext(f"{STS_NS}Error/{STS_NS}Code") == "AccessDenied"
    assert root.findtext(f"{STS_NS}RequestId")
    del headers["Authorization"]
    raw = urllib.request.Request(emulator.url, data=form, method="POST", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(raw, timeout=10)
    assert err.value.code == 403
    assert b"<Code>MissingAuthenticationToken</Code>" in err.value.read()


def test_assume_role_with_web_identity_unsigned(emulator: RunningEmulator) -> None:
    anonymous = boto3.client(
        "sts",
        endpoint_url=emulator.url,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}),
    )
    answer = anonymous.assume_role_with_web_identity(
        RoleArn=ROLE, RoleSessionName="irsa", WebIdentityToken="eyJhbGciOi.token.sig"
    )
    credentials = answer["Credentials"]
    assert answer["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{TEAM}:assumed-role/hpo-operator/irsa"
    assert (
        sts_client(emulator.url, credentials["AccessKeyId"]).get_caller_identity()["Account"]
        == TEAM
    )
    control(emulator.url, {"deny_roles": [ROLE]})
    with pytest.raises(ClientError) as err:
        anonymous.assume_role_with_web_identity(
            RoleArn=ROLE, RoleSessionName="irsa", WebIdentityToken="eyJhbGciOi.token.sig"
        )
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert err.value.response["Error"]["Message"] == (
        "Not authorized to perform sts:AssumeRoleWithWebIdentity"
    )


def test_botocore_refreshes_assumed_credentials(start_emulator: StartEmulator) -> None:
    """botocore's own AssumeRoleCredentialFetcher and DeferredRefreshableCredentials: with an
    Expiration inside botocore's refresh window, every call fetches new keys, all in the role's
    account (the wall clock: botocore compares the Expiration with it)."""
    emu = start_emulator(session_seconds=120.0)
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=functools.partial(
            boto3.client, endpoint_url=emu.url, region_name="us-east-1", config=NO_RETRIES
        ),
        source_credentials=Credentials("AKIDBASE", "x"),
        role_arn=ROLE,
        extra_args={"RoleSessionName": "refreshing", "DurationSeconds": 900},
    )
    refreshable = DeferredRefreshableCredentials(
        refresh_using=fetcher.fetch_credentials, method="assume-role"
    )

    class Provider(CredentialProvider):
        METHOD = "emulator-assume-role"

        def load(self) -> DeferredRefreshableCredentials:
            return refreshable

    core = botocore.session.Session()
    core.get_component("credential_provider").insert_before("env", Provider())
    session = boto3.Session(botocore_session=core)
    team = session.client(
        "sagemaker", endpoint_url=emu.url, region_name="us-west-2", config=NO_RETRIES
    )
    team.create_hyper_parameter_tuning_job(**request())
    assert names(team) == ["job"]
    identity = session.client(
        "sts", endpoint_url=emu.url, region_name="us-east-1", config=NO_RETRIES
    ).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{TEAM}:assumed-role/hpo-operator/refreshing"
    sessions = control(emu.url)["sessions"]
    assert len(sessions) >= 3  # one per call: each found the keys inside the refresh window
    assert {s["account"] for s in sessions} == {TEAM}
    assert list(emu.store_for("us-west-2", TEAM).jobs) == ["job"]


def test_issued_keys_survive_a_restart_with_the_state_file(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    first = start_emulator(state_file=state)
    credentials = assume(first.url)["Credentials"]
    sagemaker(first.url, credentials).create_hyper_parameter_tuning_job(**request())
    first.stop()
    saved = json.loads(state.read_text())
    assert [s["role_arn"] for s in saved["sessions"]] == [ROLE]
    second = start_emulator(state_file=state)
    identity = sts_client(second.url, credentials["AccessKeyId"]).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{TEAM}:assumed-role/hpo-operator/hpo"
    assert names(sagemaker(second.url, credentials)) == ["job"]


def test_a_state_file_without_sessions_still_loads(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    first = start_emulator(state_file=state)
    client(first.url).create_hyper_parameter_tuning_job(**request())
    first.stop()
    saved = json.loads(state.read_text())
    del saved["sessions"]  # as emulators before AssumeRole wrote it
    state.write_text(json.dumps(saved))
    second = start_emulator(state_file=state)
    assert names(client(second.url)) == ["job"]
    assert control(second.url)["sessions"] == []
