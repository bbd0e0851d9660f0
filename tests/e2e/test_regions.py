"""Regions end to end: one emulator serves every region from the SigV4 credential scope, so a
job's region annotation or its namespace's default region decides where the job lives, which ARN
its status holds, and which region's List sees it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

from hpo_emulator.server import RunningEmulator
from support.operator_harness import Jobs, OperatorProcess, job_name, tuning_job


def listed(emulator: RunningEmulator, region: str) -> list[str]:
    """The job names a plain boto3 client for `region` lists."""
    client = boto3.client(
        "sagemaker",
        endpoint_url=emulator.url,
        region_name=region,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}),
    )
    names: list[str] = []
    for page in client.get_paginator("list_hyper_parameter_tuning_jobs").paginate():
        names += [
            s["HyperParameterTuningJobName"] for s in page["HyperParameterTuningJobSummaries"]
        ]
    return names


def check_landed(emulator: RunningEmulator, status: dict[str, Any], name: str, region: str) -> None:
    meta = status["ackResourceMetadata"]
    assert meta["region"] == region
    assert meta["arn"] == (
        f"arn:aws:sagemaker:{region}:123456789012:hyper-parameter-tuning-job/{name}"
    )
    assert name.lower() in emulator.store_for(region).jobs
    assert name.lower() not in emulator.store.jobs  # the operator's --region, us-west-2
    assert name in listed(emulator, region)
    assert name not in listed(emulator, "us-west-2")


def test_region_annotation_picks_the_region(
    namespace: str, jobs: Jobs, emulator: RunningEmulator, operator: OperatorProcess
) -> None:
    name = job_name("east")
    annotations = {"services.k8s.aws/region": "us-east-1"}
    jobs.apply(namespace, tuning_job("east", name, annotations=annotations))
    status = jobs.wait_state(namespace, "east", "Completed", timeout=60)
    check_landed(emulator, status, name, "us-east-1")


def test_namespace_default_region_picks_the_region(
    namespace: str,
    jobs: Jobs,
    emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    # Annotated before the operator starts: kopf fills its namespace index before any handler.
    jobs.annotate_namespace(namespace, {"services.k8s.aws/default-region": "eu-central-1"})
    start_operator(namespace)
    name = job_name("central")
    jobs.apply(namespace, tuning_job("central", name))
    status = jobs.wait_state(namespace, "central", "Completed", timeout=60)
    check_landed(emulator, status, name, "eu-central-1")
