"""The SageMaker adapter: error classification and calls through a stubbed boto3 client."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.stub import Stubber

from hpo_operator.adapters.sagemaker import AwsConfig, SageMaker, classify, classify_exception
from hpo_operator.core.types import AwsFailure, Call, ErrorKind, Op, Place

ARN = "arn:aws:sagemaker:us-west-2:123456789012:hyper-parameter-tuning-job/j"


@pytest.mark.parametrize(
    ("op", "code", "kind", "throttled"),
    [
        (Op.CREATE, "ValidationException", ErrorKind.TERMINAL, False),
        (Op.CREATE, "ResourceInUse", ErrorKind.IN_USE, False),
        (Op.STOP, "ResourceInUse", ErrorKind.RECOVERABLE, False),
        (Op.DESCRIBE, "ResourceNotFound", ErrorKind.NOT_FOUND, False),
        (Op.DESCRIBE, "ThrottlingException", ErrorKind.RECOVERABLE, True),
        (Op.CREATE, "AccessDeniedException", ErrorKind.RECOVERABLE, False),
        (Op.CREATE, "ResourceLimitExceeded", ErrorKind.RECOVERABLE, False),
        (Op.DESCRIBE, "InternalFailure", ErrorKind.RECOVERABLE, False),
        (Op.DESCRIBE, "SomethingNew", ErrorKind.RECOVERABLE, False),
    ],
)
def test_classify(op: Op, code: str, kind: ErrorKind, throttled: bool) -> None:
    failure = classify(op, code, "msg")
    assert failure.kind is kind and failure.throttled is throttled and failure.code == code


def test_access_denied_says_what_to_fix() -> None:
    failure = classify(Op.CREATE, "AccessDeniedException", "User x is not authorized")
    assert "sagemaker:CreateHyperParameterTuningJob" in failure.message
    assert "iam:PassRole" in failure.message


def test_exceptions_are_classified_without_leaking_anything() -> None:
    missing = classify_exception(Op.DESCRIBE, botocore.exceptions.NoCredentialsError())
    assert missing.kind is ErrorKind.RECOVERABLE and "credentials" in missing.message
    network = classify_exception(
        Op.DESCRIBE, botocore.exceptions.EndpointConnectionError(endpoint_url="http://x")
    )
    assert network.kind is ErrorKind.RECOVERABLE and "Network" in network.message
    timeout = classify_exception(Op.DESCRIBE, TimeoutError())
    assert timeout.kind is ErrorKind.RECOVERABLE and timeout.code == "Timeout"
    server = botocore.exceptions.ClientError(
        {"Error": {}, "ResponseMetadata": {"HTTPStatusCode": 503}},
        "DescribeHyperParameterTuningJob",
    )
    assert classify_exception(Op.DESCRIBE, server).code == "HTTP503"


def _stubbed() -> tuple[Any, Stubber]:
    client = boto3.client(
        "sagemaker", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def test_execute_strips_metadata_and_reports_outcomes() -> None:
    client, stub = _stubbed()
    seen: list[tuple[Op, str]] = []
    stub.add_response(
        "describe_hyper_parameter_tuning_job",
        {
            "HyperParameterTuningJobName": "j",
            "HyperParameterTuningJobArn": ARN,
            "HyperParameterTuningJobConfig": {
                "Strategy": "Bayesian",
                "ResourceLimits": {"MaxParallelTrainingJobs": 1},
            },
            "HyperParameterTuningJobStatus": "InProgress",
            "CreationTime": "2026-01-01T00:00:00Z",
            "TrainingJobStatusCounters": {},
            "ObjectiveStatusCounters": {},
        },
        {"HyperParameterTuningJobName": "j"},
    )
    stub.add_client_error(
        "stop_hyper_parameter_tuning_job",
        service_error_code="ThrottlingException",
        http_status_code=400,
    )
    with stub, ThreadPoolExecutor(2) as pool:
        sm = SageMaker(
            client, pool, AwsConfig(), lambda op, outcome, *_: seen.append((op, outcome))
        )
        described = asyncio.run(sm.execute(Call(Op.DESCRIBE, "j")))
        stopped = asyncio.run(sm.execute(Call(Op.STOP, "j")))
    assert not isinstance(described, AwsFailure)
    assert described["HyperParameterTuningJobStatus"] == "InProgress"
    assert "ResponseMetadata" not in described
    assert isinstance(stopped, AwsFailure) and stopped.throttled
    assert seen == [(Op.DESCRIBE, "ok"), (Op.STOP, "throttled")]


def test_execute_enforces_the_overall_deadline() -> None:
    class Slow:
        def describe_hyper_parameter_tuning_job(self, **_: Any) -> dict[str, Any]:
            import time

            time.sleep(1.0)
            return {}

    with ThreadPoolExecutor(1) as pool:
        sm = SageMaker(Slow(), pool, AwsConfig(call_timeout=0.05))
        result = asyncio.run(sm.execute(Call(Op.DESCRIBE, "j")))
    assert isinstance(result, AwsFailure) and result.code == "Timeout"


def test_the_pollers_list_and_search_are_classified_counted_and_affect_readiness() -> None:
    """Every SageMaker call reaches the one observer: the shared poller's List and Search too,
    classified by `classify_exception` (Retry-After kept), in `hpo_sagemaker_calls_total` and in
    the readiness count of failures in a row."""
    from hpo_operator.polling.poller import ListFailure, list_jobs, search_jobs
    from hpo_operator.shell.health import Health
    from hpo_operator.shell.metrics import Metrics

    client, stub = _stubbed()
    metrics, health = Metrics(), Health(failures_limit=2)
    health.started = True

    def observe(op: Op, outcome: str, seconds: float, place: Place) -> None:
        metrics.observe_call(op, outcome, seconds, place)
        health.observe_call(op, outcome, seconds, place)

    stub.add_client_error(
        "list_hyper_parameter_tuning_jobs",
        service_error_code="ThrottlingException",
        service_message="Rate exceeded",
        http_status_code=400,
        response_meta={"HTTPHeaders": {"retry-after": "3"}},
    )
    stub.add_client_error("search", service_error_code="ThrottlingException", http_status_code=400)
    stub.add_response("list_hyper_parameter_tuning_jobs", {"HyperParameterTuningJobSummaries": []})
    stub.add_response("search", {"Results": []})
    with stub, ThreadPoolExecutor(2) as pool:
        sm = SageMaker(client, pool, AwsConfig(), observe)
        listed = asyncio.run(list_jobs(sm, {}, 5.0))
        searched = asyncio.run(search_jobs(sm, {"Resource": "HyperParameterTuningJob"}, 5.0))
        assert health.ready() == (
            False,
            "SageMaker calls failing: 2 in a row (last Search: throttled); see the "
            "ACK.Recoverable conditions for what to fix",
        )
        assert asyncio.run(list_jobs(sm, {}, 5.0)) == {"HyperParameterTuningJobSummaries": []}
        assert asyncio.run(search_jobs(sm, {"Resource": "HyperParameterTuningJob"}, 5.0)) == {
            "Results": []
        }
    assert listed == ListFailure("ThrottlingException", "Rate exceeded", True, 3.0)
    assert isinstance(searched, ListFailure) and searched.throttled
    assert searched.retry_after is None
    assert health.ready() == (True, "ok")
    text = metrics.render().decode()
    for op in ("ListHyperParameterTuningJobs", "Search"):
        for outcome in ("throttled", "ok"):
            labels = f'account="own",operation="{op}",outcome="{outcome}",region=""'
            line = f"hpo_sagemaker_calls_total{{{labels}}} 1.0"
            assert line in text


def test_every_client_session_shares_the_one_parsed_model_loader() -> None:
    """SageMaker and STS clients per account and region read models and endpoint data through one
    loader (five STS clients with a loader each cost ~30 MB more)."""
    from hpo_operator.adapters.sagemaker import shared_session
    from hpo_operator.model import awsmodel

    one, two = shared_session(), shared_session()
    assert one is not two  # botocore sessions are not thread-safe: one per client
    loader = awsmodel.botocore_session().get_component("data_loader")
    assert one.get_component("data_loader") is loader is two.get_component("data_loader")


def test_expired_credentials_renew_the_client_once() -> None:
    """A session AWS ended before its stated Expiration (ExpiredToken): the assumed-role client is
    built again, once however many calls saw it, and the next call uses the new one."""
    expired, expired_stub = _stubbed()
    for _ in range(3):
        expired_stub.add_client_error(
            "describe_hyper_parameter_tuning_job",
            service_error_code="ExpiredTokenException",
            service_message="The security token included in the request is expired",
            http_status_code=400,
        )
    fresh, fresh_stub = _stubbed()
    fresh_stub.add_response(
        "describe_hyper_parameter_tuning_job",
        {
            "HyperParameterTuningJobName": "j",
            "HyperParameterTuningJobArn": ARN,
            "HyperParameterTuningJobConfig": {
                "Strategy": "Random",
                "ResourceLimits": {"MaxParallelTrainingJobs": 1},
            },
            "HyperParameterTuningJobStatus": "InProgress",
            "CreationTime": "2026-01-01T00:00:00Z",
            "TrainingJobStatusCounters": {},
            "ObjectiveStatusCounters": {},
        },
    )
    built: list[Any] = []

    def renew() -> Any:
        built.append(fresh)
        return fresh

    call = Call(Op.DESCRIBE, "j")

    async def scenario() -> list[Any]:
        with ThreadPoolExecutor(2) as pool, expired_stub, fresh_stub:
            sagemaker = SageMaker(expired, pool, AwsConfig(), renew=renew)
            failed = await asyncio.gather(*(sagemaker.execute(call) for _ in range(3)))
            return [*failed, await sagemaker.execute(call)]

    *failed, after = asyncio.run(scenario())
    assert all(isinstance(f, AwsFailure) and f.code == "ExpiredTokenException" for f in failed)
    assert built == [fresh]  # renewed once for the three calls that saw the expired key
    assert (
        not isinstance(after, AwsFailure) and after["HyperParameterTuningJobStatus"] == "InProgress"
    )
