"""Regions from each request's SigV4 credential scope, and STS GetCallerIdentity over Query/XML."""

from __future__ import annotations

import urllib.request
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from botocore.exceptions import ClientError

from hpo_emulator import RunningEmulator
from hpo_emulator.config import EmulatorConfig
from hpo_emulator.scope import scope_of
from support.emulator_client import StartEmulator, client, definition_with, request, sts_client

STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"


def names(sm: Any) -> list[str]:
    page = sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    return [s["HyperParameterTuningJobName"] for s in page]


def test_the_arn_carries_the_region_the_client_signed_for(emulator: RunningEmulator) -> None:
    east = client(emulator.url, region="us-east-1")
    arn = east.create_hyper_parameter_tuning_job(**request())["HyperParameterTuningJobArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/job"
    described = east.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="job")
    assert described["HyperParameterTuningJobArn"] == arn
    trainings = east.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="job"
    )
    for summary in trainings["TrainingJobSummaries"]:
        assert summary["TrainingJobArn"].startswith("arn:aws:sagemaker:us-east-1:")


def test_each_region_has_its_own_jobs(emulator: RunningEmulator) -> None:
    east = client(emulator.url, region="us-east-1")
    west = client(emulator.url, region="us-west-2")
    east.create_hyper_parameter_tuning_job(**request("shared-name"))
    west.create_hyper_parameter_tuning_job(**request("shared-name"))  # no ResourceInUse
    east.create_hyper_parameter_tuning_job(**request("east-only"))
    assert names(east) == ["east-only", "shared-name"]
    assert names(west) == ["shared-name"]
    with pytest.raises(ClientError) as err:
        west.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="east-only")
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"
    arn = east.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="east-only")[
        "HyperParameterTuningJobArn"
    ]
    with pytest.raises(ClientError):  # an ARN of another region is not a resource here
        west.list_tags(ResourceArn=arn)
    search = west.search(Resource="HyperParameterTuningJob")["Results"]
    assert [r["HyperParameterTuningJob"]["HyperParameterTuningJobName"] for r in search] == [
        "shared-name"
    ]
    assert list(emulator.store_for("us-east-1").jobs) == ["shared-name", "east-only"]
    assert list(emulator.store.jobs) == ["shared-name"]  # the default region, us-west-2


def test_unsigned_requests_use_the_default_region(start_emulator: StartEmulator) -> None:
    emu = start_emulator(region="eu-central-1")
    body = b"{}"
    raw = urllib.request.Request(
        emu.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "SageMaker.ListHyperParameterTuningJobs",
        },
    )
    with urllib.request.urlopen(raw, timeout=10) as response:
        assert response.status == 200
    client(emu.url, region="eu-central-1").create_hyper_parameter_tuning_job(**request())
    assert list(emu.store.jobs) == ["job"]


def test_scope_of_reads_the_credential_scope() -> None:
    config = EmulatorConfig(accounts={"AKIDOTHER": "210987654321"})
    header = (
        "AWS4-HMAC-SHA256 Credential=AKIDOTHER/20260101/ap-south-1/sagemaker/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc"
    )
    scope = scope_of({"Authorization": header}, {}, config)
    assert (scope.access_key, scope.account, scope.region, scope.service) == (
        "AKIDOTHER",
        "210987654321",
        "ap-south-1",
        "sagemaker",
    )
    other = scope_of({"Authorization": header.replace("AKIDOTHER", "AKIDX")}, {}, config)
    assert other.account == config.account_id
    presigned = scope_of(
        {}, {"X-Amz-Credential": "AKIDX/20260101/us-east-2/sts/aws4_request"}, config
    )
    assert presigned.region == "us-east-2"
    assert scope_of({}, {}, config).region == config.region


def test_sts_get_caller_identity_with_boto3(emulator: RunningEmulator) -> None:
    identity = sts_client(emulator.url).get_caller_identity()
    assert identity["Account"] == "123456789012"
    assert identity["Arn"] == "arn:aws:iam::123456789012:user/emulator"
    assert identity["UserId"] == "AKIDEXAMPLE"
    assert identity["ResponseMetadata"]["RequestId"]


def test_sts_account_follows_the_access_key(start_emulator: StartEmulator) -> None:
    emu = start_emulator(accounts={"AKIDTEAM": "210987654321"})
    assert sts_client(emu.url, "AKIDTEAM").get_caller_identity()["Account"] == "210987654321"
    assert sts_client(emu.url, "AKIDELSE").get_caller_identity()["Account"] == "123456789012"


def test_sts_wire_format_is_what_the_go_sdk_reads(emulator: RunningEmulator) -> None:
    """The Go SDK (ACK) posts the form and decodes XML by element names under STS's
    namespace; it checks the Content-Type is XML."""
    raw = urllib.request.Request(
        emulator.url,
        data=b"Action=GetCallerIdentity&Version=2011-06-15",
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDGO/20260101/us-west-2/sts/"
            "aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    with urllib.request.urlopen(raw, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/xml")
        root = ET.fromstring(response.read())
    assert root.tag == f"{STS_NS}GetCallerIdentityResponse"
    result = root.find(f"{STS_NS}GetCallerIdentityResult")
    assert result is not None
    assert result.findtext(f"{STS_NS}Account") == "123456789012"
    assert result.findtext(f"{STS_NS}UserId") == "AKIDGO"
    assert result.findtext(f"{STS_NS}Arn") == "arn:aws:iam::123456789012:user/emulator"
    assert root.findtext(f"{STS_NS}ResponseMetadata/{STS_NS}RequestId")


def test_sts_unknown_action_is_an_xml_error(emulator: RunningEmulator) -> None:
    with pytest.raises(ClientError) as err:
        sts_client(emulator.url).get_session_token()
    assert err.value.response["Error"]["Code"] == "InvalidAction"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def _in_partition(partition: str) -> dict[str, Any]:
    """A valid request whose role lives in `partition` (a role is used in its own partition)."""
    definition = definition_with(RoleArn=f"arn:{partition}:iam::123456789012:role/sagemaker")
    return request(TrainingJobDefinition=definition)


def test_arns_carry_the_partition_of_the_region(emulator: RunningEmulator) -> None:
    china = client(emulator.url, region="cn-north-1")
    created = china.create_hyper_parameter_tuning_job(**_in_partition("aws-cn"))
    arn = created["HyperParameterTuningJobArn"]
    assert arn == "arn:aws-cn:sagemaker:cn-north-1:123456789012:hyper-parameter-tuning-job/job"
    gov = client(emulator.url, region="us-gov-west-1")
    arn = gov.create_hyper_parameter_tuning_job(**_in_partition("aws-us-gov"))[
        "HyperParameterTuningJobArn"
    ]
    assert arn.startswith("arn:aws-us-gov:sagemaker:us-gov-west-1:")


def test_a_role_of_another_partition_is_refused_in_the_regions_partition(
    emulator: RunningEmulator,
) -> None:
    """RoleArn of partition aws sent to cn-north-1: refused, naming the field (issue 13, F7)."""
    with pytest.raises(ClientError) as err:
        client(emulator.url, region="cn-north-1").create_hyper_parameter_tuning_job(**request())
    message = err.value.response["Error"]["Message"]
    assert (
        "at 'trainingJobDefinition.roleArn' failed to satisfy constraint: Member must be an "
        in (message)
    )
    assert "ARN in partition aws-cn (the partition of cn-north-1)" in message


def test_access_key_accounts_from_the_command_line() -> None:
    from hpo_emulator.server import parse_args

    config = parse_args(["--access-key-account", "AKIDTEAM=210987654321"])
    assert config.accounts == {"AKIDTEAM": "210987654321"}
    with pytest.raises(SystemExit):
        parse_args(["--access-key-account", "AKIDTEAM=12"])


def test_access_keys_of_other_accounts_have_their_own_jobs(start_emulator: StartEmulator) -> None:
    emu = start_emulator(accounts={"AKIDTEAM": "210987654321"})
    team = client(emu.url, access_key="AKIDTEAM")
    arn = team.create_hyper_parameter_tuning_job(**request())["HyperParameterTuningJobArn"]
    assert arn == "arn:aws:sagemaker:us-west-2:210987654321:hyper-parameter-tuning-job/job"
    assert names(client(emu.url)) == []  # the default account's us-west-2
    assert list(emu.store_for("us-west-2", "210987654321").jobs) == ["job"]


def test_stats_count_jobs_per_account_and_region(emulator: RunningEmulator) -> None:
    import json

    client(emulator.url, region="us-east-1").create_hyper_parameter_tuning_job(**request())
    sts_client(emulator.url).get_caller_identity()
    with urllib.request.urlopen(f"{emulator.url}/_emulator/stats", timeout=10) as response:
        stats = json.loads(response.read())
    assert stats["jobs"] == 1
    assert stats["stores"]["123456789012/us-east-1"]["jobs"] == 1
    assert stats["stores"]["123456789012/us-west-2"]["jobs"] == 0
    assert "sts:GetCallerIdentity" in json.dumps(stats)
    # the calls per account and region: the caller's account, the request's region
    east = stats["by_store"]["123456789012/us-east-1"]
    assert east["operations"]["CreateHyperParameterTuningJob"] == {"ok": 1}
    assert "123456789012/us-west-2" not in stats["by_store"]  # no call there
    assert sum(place["total"] for place in stats["by_store"].values()) == stats["total"]
