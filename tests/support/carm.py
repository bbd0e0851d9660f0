"""Cross-account (CARM) end-to-end helpers: accounts and roles, ACK's role maps, the emulator's
call counts and STS control, a client in one account, and `Carm`, one test's ground (the fixtures
`accounts_emulator` and `carm` are in tests/e2e/conftest.py)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from hpo_emulator.server import RunningEmulator
from support.operator_harness import Jobs, OperatorProcess, job_name, tuning_job

OWN = "123456789012"  # the emulator's default account: the operator's own key is in it
TARGET, OTHER = "222222222222", "333333333333"
ROLE = f"arn:aws:iam::{TARGET}:role/hpo-target"
REGION = "us-west-2"


def role_map(
    k8s_api: Any, namespace: str, data: dict[str, str], name: str = "ack-role-account-map"
) -> None:
    """One of ACK's role maps in `namespace`, created or replaced."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(k8s_api)
    body = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace), data=data
    )
    try:
        core.create_namespaced_config_map(namespace, body)
    except ApiException as error:
        if error.status != 409:
            raise
        core.replace_namespaced_config_map(name, namespace, body)


def calls(emulator: RunningEmulator) -> dict[str, Any]:
    """The emulator's counts of calls and jobs (any account), without its bookkeeping."""
    with urllib.request.urlopen(f"{emulator.url}/_emulator/stats", timeout=5) as response:
        document: dict[str, Any] = json.loads(response.read())
    return {k: v for k, v in document.items() if v and k not in ("since", "stores")}


def sagemaker_in(emulator: RunningEmulator, account: str) -> Any:
    """A SageMaker client in `account` (a key ending in the account's digits is in that account,
    in the emulator)."""
    return boto3.client(
        "sagemaker",
        endpoint_url=emulator.url,
        region_name=REGION,
        aws_access_key_id=f"test-{account}",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}),
    )


def describe(emulator: RunningEmulator, account: str, name: str) -> str:
    """The job's status as a client in `account` sees it."""
    client = sagemaker_in(emulator, account)
    found = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    return str(found["HyperParameterTuningJobStatus"])


def sts_control(emulator: RunningEmulator, document: dict[str, Any]) -> None:
    """Tell the emulator's STS to deny, allow or expire roles, or how long sessions last."""
    body = json.dumps(document).encode()
    request = urllib.request.Request(
        f"{emulator.url}/_emulator/sts", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def allow_role(emulator: RunningEmulator, role_arn: str) -> None:
    """Make a refused role assumable again."""
    sts_control(emulator, {"allow_roles": [role_arn]})


@dataclass
class Carm:
    """One test's cross-account ground: its namespace, its resources, its emulator, and how to
    write role maps and start the operator (reading the maps in the namespace)."""

    namespace: str
    jobs: Jobs
    emulator: RunningEmulator
    k8s_api: Any
    start_operator: Callable[..., OperatorProcess]

    def maps(self, data: dict[str, str], name: str = "ack-role-account-map") -> None:
        role_map(self.k8s_api, self.namespace, data, name)

    def setup(self, account: str, roles: dict[str, str], **env: str) -> None:
        """The namespace annotated for `account`, `roles` as ack-role-account-map, and the
        operator started."""
        self.maps(roles)
        self.jobs.annotate_namespace(self.namespace, {"services.k8s.aws/owner-account-id": account})
        self.start_operator(
            self.namespace, endpoint=self.emulator.url, HPO_CARM_NAMESPACE=self.namespace, **env
        )

    def run(self, resource: str, **kwargs: Any) -> str:
        """Apply a tuning job resource; its SageMaker job name."""
        name = job_name(resource)
        self.jobs.apply(self.namespace, tuning_job(resource, name, **kwargs))
        return name
