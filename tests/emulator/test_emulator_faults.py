"""Fault injection, call statistics and per-operation request quotas."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from hpo_emulator import RunningEmulator
from hpo_emulator.config import DEFAULT_QUOTAS
from support.emulator_client import StartEmulator, client, request


def admin(url: str, path: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{url}{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def code_of(call: Any, **params: Any) -> str:
    try:
        call(**params)
    except ClientError as err:
        return str(err.response["Error"]["Code"])
    return "ok"


def test_stats_count_calls_per_operation_and_outcome(emulator: RunningEmulator, sm: Any) -> None:
    sm.create_hyper_parameter_tuning_job(**request())
    for _ in range(3):
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="job")
    assert code_of(sm.describe_hyper_parameter_tuning_job, HyperParameterTuningJobName="x") == (
        "ResourceNotFound"
    )
    status, stats = admin(emulator.url, "/_emulator/stats")
    assert status == 200
    assert stats["operations"] == {
        "CreateHyperParameterTuningJob": {"ok": 1},
        "DescribeHyperParameterTuningJob": {"ResourceNotFound": 1, "ok": 3},
    }
    assert stats["total"] == 5
    assert stats["jobs"] == 1 and stats["active_jobs"] == 1
    for method in ("POST", "DELETE"):
        sm.list_hyper_parameter_tuning_jobs()
        assert admin(emulator.url, "/_emulator/stats", method)[1]["total"] == 0
        assert admin(emulator.url, "/_emulator/stats")[1]["operations"] == {}


def test_faults_are_set_at_run_time(emulator: RunningEmulator, sm: Any) -> None:
    status, faults = admin(emulator.url, "/_emulator/faults")
    assert status == 200
    assert faults["throttle_rate"] == faults["error_rate"] == faults["latency_ms"] == 0
    _, faults = admin(
        emulator.url,
        "/_emulator/faults",
        "POST",
        {"throttle_rate": 1.0, "operations": ["ListHyperParameterTuningJobs"]},
    )
    assert faults["throttle_rate"] == 1.0
    assert code_of(sm.list_hyper_parameter_tuning_jobs) == "ThrottlingException"
    assert code_of(sm.describe_hyper_parameter_tuning_job, HyperParameterTuningJobName="x") == (
        "ResourceNotFound"  # other operations are untouched
    )
    admin(emulator.url, "/_emulator/faults", "POST", {"throttle_rate": 0, "error_rate": 1.0})
    assert code_of(sm.list_hyper_parameter_tuning_jobs) == "InternalFailure"
    admin(
        emulator.url,
        "/_emulator/faults",
        "POST",
        {"error_rate": 0, "latency_ms": 300, "operations": None},
    )
    began = time.monotonic()
    sm.list_hyper_parameter_tuning_jobs()
    assert time.monotonic() - began >= 0.3
    stats = admin(emulator.url, "/_emulator/stats")[1]["operations"]
    assert stats["ListHyperParameterTuningJobs"] == {
        "InternalFailure": 1,
        "ThrottlingException": 1,
        "ok": 1,
    }


@pytest.mark.parametrize(
    "body", [{"throttle_rate": 2}, {"nonsense": 1}, {"latency_ms": -1}, [1, 2], "x"]
)
def test_bad_fault_documents_are_refused(emulator: RunningEmulator, body: Any) -> None:
    status, answer = admin(emulator.url, "/_emulator/faults", "POST", body)
    assert status == 400 and "error" in answer


def test_partial_error_rate_lets_botocore_retry_through(start_emulator: StartEmulator) -> None:
    from hpo_emulator import Faults

    emu = start_emulator(faults=Faults(error_rate=0.3), seed=3)
    import boto3
    from botocore.config import Config

    retrying = boto3.client(
        "sagemaker",
        endpoint_url=emu.url,
        region_name="us-west-2",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"mode": "standard", "total_max_attempts": 10}),
    )
    for _ in range(10):
        retrying.list_hyper_parameter_tuning_jobs()
    outcomes = admin(emu.url, "/_emulator/stats")[1]["operations"]["ListHyperParameterTuningJobs"]
    assert outcomes["ok"] == 10 and outcomes.get("InternalFailure", 0) > 0


def test_quota_throttles_an_operation(start_emulator: StartEmulator) -> None:
    emu = start_emulator(quotas={"ListHyperParameterTuningJobs": (0.01, 2.0)})
    sm = client(emu.url)
    assert [code_of(sm.list_hyper_parameter_tuning_jobs) for _ in range(3)] == [
        "ok",
        "ok",
        "ThrottlingException",
    ]
    assert code_of(sm.describe_hyper_parameter_tuning_job, HyperParameterTuningJobName="x") == (
        "ResourceNotFound"
    )
    quotas = admin(emu.url, "/_emulator/faults")[1]["quotas"]
    assert quotas == {"ListHyperParameterTuningJobs": {"rate": 0.01, "burst": 2.0}}
    admin(emu.url, "/_emulator/faults", "POST", {"quotas": {"ListHyperParameterTuningJobs": None}})
    assert code_of(sm.list_hyper_parameter_tuning_jobs) == "ok"


def test_quota_refills_at_its_rate(start_emulator: StartEmulator) -> None:
    emu = start_emulator(quotas={"ListHyperParameterTuningJobs": (20.0, 1.0)})
    sm = client(emu.url)
    deadline = time.monotonic() + 10
    ok = 0
    throttled = 0
    while time.monotonic() < deadline and (ok < 5 or throttled < 1):
        if code_of(sm.list_hyper_parameter_tuning_jobs) == "ok":
            ok += 1
        else:
            throttled += 1
    assert ok >= 5 and throttled >= 1


def test_default_quotas_cover_every_operation() -> None:
    from hpo_emulator.operations import OPERATIONS

    assert set(DEFAULT_QUOTAS) == set(OPERATIONS)
    assert DEFAULT_QUOTAS["ListHyperParameterTuningJobs"][0] <= 2.0


def test_empty_pages_with_a_next_token(emulator: RunningEmulator, sm: Any) -> None:
    """The AWS quirk a poller must survive: LastModifiedTimeAfter answering an empty page that
    still carries a NextToken. Following the token resumes where the page should have been."""
    from datetime import UTC, datetime

    for name in ("a", "b", "c"):
        sm.create_hyper_parameter_tuning_job(**request(name))
    since = datetime.fromtimestamp(0, UTC)
    admin(emulator.url, "/_emulator/faults", "POST", {"empty_page_rate": 1.0})
    page = sm.list_hyper_parameter_tuning_jobs(LastModifiedTimeAfter=since, MaxResults=2)
    assert page["HyperParameterTuningJobSummaries"] == [] and page["NextToken"]
    again = sm.list_hyper_parameter_tuning_jobs(
        LastModifiedTimeAfter=since, MaxResults=2, NextToken=page["NextToken"]
    )
    assert again["HyperParameterTuningJobSummaries"] == []
    assert again["NextToken"] == page["NextToken"]
    unfiltered = sm.list_hyper_parameter_tuning_jobs(MaxResults=2)
    assert len(unfiltered["HyperParameterTuningJobSummaries"]) == 2  # only that query is affected
    admin(emulator.url, "/_emulator/faults", "POST", {"empty_page_rate": 0})
    resumed = sm.list_hyper_parameter_tuning_jobs(
        LastModifiedTimeAfter=since, MaxResults=2, NextToken=page["NextToken"]
    )
    assert [
        s["HyperParameterTuningJobName"] for s in resumed["HyperParameterTuningJobSummaries"]
    ] == [
        "a",
        "b",
    ]


def test_quota_flag_uses_the_operators_limit_parser() -> None:
    """`--quota` and `HPO_AWS_RATE_LIMITS` share one parser (and the emulator the token bucket)."""
    import argparse

    from hpo_emulator.faults import TokenBucket as EmulatorBucket
    from hpo_emulator.server import _quota
    from hpo_operator.adapters.ratelimit import TokenBucket, parse_limit

    assert EmulatorBucket is TokenBucket
    assert _quota("Search=0.5") == parse_limit("Search=0.5") == ("Search", (0.5, 1.0))
    with pytest.raises(argparse.ArgumentTypeError):
        _quota("Search=0")
