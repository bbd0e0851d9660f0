"""The operator against real SageMaker: Create → InProgress → delete → Stop → Stopped → released.

Runs only when these are set (otherwise skipped, naming what is missing):
- HPO_AWS_SMOKE_ROLE_ARN: a SageMaker execution role the operator may pass (iam:PassRole);
- HPO_AWS_SMOKE_BUCKET: an S3 bucket for the job's input prefix and output;
- AWS credentials the default boto3 chain finds, and a region (AWS_REGION, or
  HPO_AWS_SMOKE_REGION; default us-west-2);
- optionally HPO_AWS_SMOKE_IMAGE: the XGBoost image URI (default: AWS's XGBoost 1.7-1 image for
  us-west-2, us-east-1 or eu-west-1).
The job is stopped as soon as it is InProgress, so it costs at most a minute or two of one
ml.m5.large. The operator runs exactly as in production: the only difference from the e2e tests is
that no endpoint URL is given.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

XGBOOST_ACCOUNTS = {
    "us-west-2": "246618743249",
    "us-east-1": "683313688378",
    "eu-west-1": "685385470294",
}
REGION = os.environ.get("HPO_AWS_SMOKE_REGION") or os.environ.get("AWS_REGION") or "us-west-2"


def _missing() -> list[str]:
    missing = [
        name
        for name in ("HPO_AWS_SMOKE_ROLE_ARN", "HPO_AWS_SMOKE_BUCKET")
        if not os.environ.get(name)
    ]
    try:
        import boto3

        if boto3.session.Session().get_credentials() is None:
            missing.append("AWS credentials")
    except Exception as error:  # a broken credential chain is a reason to skip, shown as such
        missing.append(f"AWS credentials ({type(error).__name__})")
    if not os.environ.get("HPO_AWS_SMOKE_IMAGE") and REGION not in XGBOOST_ACCOUNTS:
        missing.append(f"HPO_AWS_SMOKE_IMAGE (no default XGBoost image for {REGION})")
    return missing


MISSING = _missing()
pytestmark = [
    pytest.mark.skipif(bool(MISSING), reason="real-AWS smoke test needs " + ", ".join(MISSING)),
]


@pytest.fixture
def aws_operator(kubeconfig: Path, kubectl: Any, namespace: str, tmp_path: Path) -> Iterator[Any]:
    from support.operator_harness import GROUP, PLURAL, REPO, OperatorProcess, wait_for

    kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
    established = 'jsonpath={.status.conditions[?(@.type=="Established")].status}'
    wait_for(
        lambda: (
            kubectl("get", f"crd/{PLURAL}.{GROUP}", "-o", established, check=False).stdout == "True"
        ),
        60,
        "the CRD to be Established",
    )
    proc = OperatorProcess(
        kubeconfig,
        None,
        [namespace],
        tmp_path / "operator.log",
        region=REGION,
        poll_interval=5.0,
        real_aws=True,
    )
    proc.start()
    yield proc
    proc.stop()
    print(proc.tail(80))


def test_lifecycle_against_real_sagemaker(
    namespace: str, kubectl: Any, k8s_api: Any, aws_operator: Any
) -> None:
    import boto3

    from support.operator_harness import Jobs, job_name, tuning_job

    jobs = Jobs(kubectl, k8s_api)
    bucket = os.environ["HPO_AWS_SMOKE_BUCKET"]
    image = os.environ.get("HPO_AWS_SMOKE_IMAGE") or (
        f"{XGBOOST_ACCOUNTS[REGION]}.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:1.7-1"
    )
    name = job_name("hpo-smoke")
    manifest = tuning_job("smoke", name, image=image, max_jobs=1, parallel=1)
    definition = manifest["spec"]["trainingJobDefinition"]
    definition["roleARN"] = os.environ["HPO_AWS_SMOKE_ROLE_ARN"]
    channel = definition["inputDataConfig"][0]["dataSource"]["s3DataSource"]
    channel["s3URI"] = f"s3://{bucket}/hpo-operator-smoke/train"
    definition["outputDataConfig"]["s3OutputPath"] = f"s3://{bucket}/hpo-operator-smoke/output"
    jobs.apply(namespace, manifest)

    status = _wait_any_state(jobs, namespace, "smoke", ("InProgress", "Failed"), 300)
    meta = status["ackResourceMetadata"]
    assert meta["arn"].startswith(f"arn:aws:sagemaker:{REGION}:")
    assert meta["region"] == REGION and len(meta["ownerAccountID"]) == 12

    jobs.delete(namespace, "smoke")
    jobs.wait_gone(namespace, "smoke", timeout=900)
    client = boto3.client("sagemaker", region_name=REGION)
    final = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert final["HyperParameterTuningJobStatus"] in ("Stopped", "Failed", "Completed")
    tags = client.list_tags(ResourceArn=final["HyperParameterTuningJobArn"])["Tags"]
    assert {"Key": "services.k8s.aws/namespace", "Value": namespace} in tags


def _wait_any_state(
    jobs: Any, namespace: str, name: str, states: tuple[str, ...], timeout: float
) -> dict[str, Any]:
    from support.operator_harness import wait_for

    def reached() -> dict[str, Any] | None:
        status: dict[str, Any] = jobs.status(namespace, name)
        return status if status.get("hyperParameterTuningJobStatus") in states else None

    found: dict[str, Any] = wait_for(reached, timeout, f"{name} in {states}", every=2.0)
    return found
