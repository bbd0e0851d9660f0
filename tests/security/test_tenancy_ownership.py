"""Tenancy: two tenants, each a user with a Role in its own namespace only (edit rights on
HyperParameterTuningJobs and, as some platform roles grant, `*/status` write), impersonated with
`kubectl --as`, against the live operator and the emulator. Issue 13's ownership findings:

- F1: B writes A's job ARN into its own resource's status. A's job is never stopped, A's status
  keeps updating, B's status never shows A's job, and B's delete stops B's own job.
- F2: a job adopted by A cannot be adopted again by B (the adoption is recorded on the job's tags);
  B's delete stops nothing.
- F10: no condition or Event in B's namespace names A's namespace or A's resources.
- F3: a namespace annotated with ACK's `services.k8s.aws/owner-account-id` for an account no role
  is mapped for (ACK's CARM, issue 16; tests/e2e/test_accounts.py has the mapped cases) gets
  ACK.Terminal and no job (the emulator sees no call); its deletion releases at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config
from test_namespace_isolation import StatusRecorder, condition

from hpo_operator.model.translate import spec_to_request
from support.faultkit import Emulator, Resources
from support.kube import Kubectl, unique_name
from support.operator_harness import PLURAL, OperatorProcess, job_name, tuning_job, wait_for

KIND = f"{PLURAL}.sagemaker.services.k8s.aws"
ADOPT = "services.k8s.aws/adoption-policy"
ADOPT_FIELDS = "services.k8s.aws/adoption-fields"
OWNER_ACCOUNT = "services.k8s.aws/owner-account-id"
STOP = "StopHyperParameterTuningJob"
JOB_NAME_ANNOTATION = "hpo-operator.sagemaker.services.k8s.aws/job-name"


@dataclass(frozen=True)
class Tenant:
    """A user allowed what a namespace's editor is, in its namespace only, status included."""

    user: str
    namespace: str
    kubectl: Kubectl

    def __call__(self, *args: str, input: str | None = None, check: bool = True) -> Any:
        return self.kubectl(
            "--as", self.user, "-n", self.namespace, *args, input=input, check=check
        )

    def apply(self, manifest: dict[str, Any]) -> None:
        self("apply", "-f", "-", input=json.dumps(manifest))

    def patch_status(self, name: str, status: dict[str, Any]) -> None:
        patch = json.dumps({"status": status})
        self("patch", KIND, name, "--subresource=status", "--type=merge", "-p", patch)

    def delete(self, name: str) -> None:
        self("delete", KIND, name, "--wait=false")


def role(namespace: str, user: str) -> list[dict[str, Any]]:
    """A namespaced Role and RoleBinding: edit HyperParameterTuningJobs and write their status."""
    rules = [
        {
            "apiGroups": ["sagemaker.services.k8s.aws"],
            "resources": [PLURAL, f"{PLURAL}/status"],
            "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
        },
        {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]},
    ]
    meta = {"name": "tenant-editor", "namespace": namespace}
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta,
         "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                     "name": "tenant-editor"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]},
    ]  # fmt: skip


@pytest.fixture
def tenants(resources: Resources, kubectl: Kubectl) -> Iterator[Callable[[str], Tenant]]:
    """`tenants(hint)`: a fresh namespace with its own user and Role."""
    from kubernetes import client

    made: list[str] = []

    def make(hint: str) -> Tenant:
        namespace = unique_name(f"t-{hint}", max_length=40)
        user = f"{namespace}-user"
        resources.core.create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace))
        )
        made.append(namespace)
        for item in role(namespace, user):
            kubectl.apply(item)
        tenant = Tenant(user, namespace, kubectl)
        wait_for(
            lambda: tenant("auth", "can-i", "patch", f"{KIND}/status", check=False).returncode == 0,
            30,
            f"{user}'s Role to take effect",
        )
        return tenant

    yield make
    for namespace in made:
        resources.core.delete_namespace(namespace)


@pytest.fixture
def operate(
    emulators: Callable[..., Emulator], operators: Callable[..., OperatorProcess]
) -> Callable[..., tuple[Emulator, OperatorProcess]]:
    """`operate(*tenants)`: an emulator, and the operator watching the tenants' namespaces."""

    def start(*tenants: Tenant) -> tuple[Emulator, OperatorProcess]:
        emulator = emulators(training_seconds=0.5, stop_seconds=0.5)
        return emulator, operators(emulator.url, [t.namespace for t in tenants])

    return start


def sagemaker(emulator: Emulator) -> Any:
    return boto3.client(
        "sagemaker",
        endpoint_url=emulator.url,
        region_name="us-west-2",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 3, "mode": "standard"}),
    )


def stops(emulator: Emulator) -> int:
    return sum(emulator.calls().get(STOP, {}).values())


def completed(resources: Resources, tenant: Tenant, name: str) -> int:
    counters = resources.status(tenant.namespace, name).get("trainingJobStatusCounters") or {}
    return int(counters.get("completed") or 0)


def messages(resources: Resources, namespace: str) -> list[str]:
    """Every condition message and Event message in a namespace."""
    found = [str(e.message) for e in resources.events(namespace)]
    for item in resources.list(namespace):
        for cond in (item.get("status") or {}).get("conditions") or []:
            found.append(str(cond.get("message")))
    return found


def refusal(resources: Resources, tenant: Tenant, name: str) -> dict[str, Any]:
    """Wait for ACK.Terminal on the tenant's resource `name`: its status then holds no job."""
    found: dict[str, Any] = wait_for(
        lambda: condition(resources.status(tenant.namespace, name), "ACK.Terminal"),
        60,
        f"{tenant.namespace}/{name} to be refused",
    )
    status = resources.status(tenant.namespace, name)
    assert "ackResourceMetadata" not in status, status
    assert "hyperParameterTuningJobStatus" not in status and "bestTrainingJob" not in status
    return found


def assert_reveals_nothing(resources: Resources, namespace: str, secrets: list[str]) -> None:
    """F10: nothing a tenant can read in its namespace names another tenant's objects."""
    texts = messages(resources, namespace)
    assert texts, "no messages at all: the check proves nothing"
    leaks = [text for text in texts if any(secret in text for secret in secrets)]
    assert leaks == [], leaks


def test_tenants_cannot_reach_each_other(tenants: Callable[[str], Tenant]) -> None:
    """The RBAC is realistic: a tenant writes status in its namespace, nothing in the other."""
    a, b = tenants("a"), tenants("b")
    assert b("auth", "can-i", "patch", f"{KIND}/status", check=False).returncode == 0
    assert b("auth", "can-i", "get", KIND, "-n", a.namespace, check=False).returncode != 0
    assert a("auth", "can-i", "patch", "namespaces", check=False).returncode != 0


def both_running(a: Tenant, b: Tenant, resources: Resources) -> tuple[str, str]:
    """A's `ajob` and B's `bjob`, each running its own long job; their job names."""
    victim, own = job_name("victim"), job_name("own")
    a.apply(tuning_job("ajob", victim, max_jobs=400, parallel=1))
    b.apply(tuning_job("bjob", own, max_jobs=400, parallel=1))
    resources.wait_state(a.namespace, "ajob", {"InProgress"}, timeout=60)
    resources.wait_state(b.namespace, "bjob", {"InProgress"}, timeout=60)
    return victim, own


def test_f1_a_status_arn_pointing_at_another_tenants_job_is_ignored(
    tenants: Callable[[str], Tenant],
    resources: Resources,
    k8s_api: Any,
    operate: Callable[..., tuple[Emulator, OperatorProcess]],
) -> None:
    a, b = tenants("a"), tenants("b")
    emulator, _ = operate(a, b)
    victim, own = both_running(a, b, resources)
    a_meta = resources.status(a.namespace, "ajob")["ackResourceMetadata"]
    b_arn = resources.status(b.namespace, "bjob")["ackResourceMetadata"]["arn"]
    victim_arn = a_meta["arn"]

    recorder = StatusRecorder(k8s_api, b.namespace)
    try:
        b.patch_status("bjob", {"ackResourceMetadata": {"arn": victim_arn}})
        # The operator puts B's own job back: the forged ARN is ignored, not followed.
        wait_for(
            lambda: resources.status(b.namespace, "bjob")["ackResourceMetadata"]["arn"] == b_arn,
            30,
            "bjob's status to name its own job again",
        )
        # A's status keeps following A's job (the poller still reports A's changes to A).
        before = completed(resources, a, "ajob")
        wait_for(lambda: completed(resources, a, "ajob") >= before + 3, 30, "ajob to update")
        b_before = completed(resources, b, "bjob")
        wait_for(lambda: completed(resources, b, "bjob") >= b_before + 2, 30, "bjob to update")

        b.delete("bjob")
        resources.wait_gone(b.namespace, "bjob", timeout=60)
    finally:
        recorder.stop()

    jobs = emulator.job_states()
    assert jobs[victim.lower()][0] == "InProgress"  # A's job was never stopped
    assert jobs[own.lower()][0] in ("Stopping", "Stopped")  # B's was, on B's delete
    assert stops(emulator) == 1
    after = completed(resources, a, "ajob")
    wait_for(lambda: completed(resources, a, "ajob") > after, 30, "ajob to keep updating")
    assert resources.status(a.namespace, "ajob")["ackResourceMetadata"] == a_meta
    # B's status never showed anything read from A's job; only the ARN B itself wrote.
    shown = [
        status
        for _, status in recorder.seen
        if victim.lower() in json.dumps(status).replace(victim_arn, "").lower()
    ]
    assert recorder.seen, "the watch saw nothing: the test proves nothing"
    assert shown == [], shown[:2]
    assert_reveals_nothing(resources, b.namespace, [a.namespace, "ajob"])


def test_f1_after_a_restart_and_without_the_recorded_name(
    tenants: Callable[[str], Tenant],
    resources: Resources,
    operate: Callable[..., tuple[Emulator, OperatorProcess]],
) -> None:
    """Variation: B forges the ARN while the operator is down and also drops the recorded job
    name, so the ARN is the only pointer left. The restarted operator proves ownership by tags
    before it follows anything: B gets NotOwned, A is followed, B's delete stops nothing of A's."""
    a, b = tenants("a"), tenants("b")
    emulator, operator = operate(a, b)
    victim, _ = both_running(a, b, resources)
    victim_arn = resources.status(a.namespace, "ajob")["ackResourceMetadata"]["arn"]

    operator.stop()
    b.patch_status("bjob", {"ackResourceMetadata": {"arn": victim_arn}})
    b("annotate", KIND, "bjob", f"{JOB_NAME_ANNOTATION}-")
    operator.start()
    refused = refusal(resources, b, "bjob")
    assert refused["reason"] == "NotOwned", refused
    before = completed(resources, a, "ajob")
    wait_for(lambda: completed(resources, a, "ajob") >= before + 3, 30, "ajob to update")
    b.delete("bjob")
    resources.wait_gone(b.namespace, "bjob", timeout=60)
    assert emulator.job_states()[victim.lower()][0] == "InProgress"
    assert stops(emulator) == 0
    assert_reveals_nothing(resources, b.namespace, [a.namespace, "ajob"])


def test_f2_a_job_adopted_by_one_tenant_cannot_be_adopted_by_another(
    tenants: Callable[[str], Tenant],
    resources: Resources,
    operate: Callable[..., tuple[Emulator, OperatorProcess]],
) -> None:
    a, b = tenants("a"), tenants("b")
    emulator, _ = operate(a, b)
    name = job_name("outside")
    request = spec_to_request(tuning_job("x", name, max_jobs=400, parallel=1)["spec"])
    arn = sagemaker(emulator).create_hyper_parameter_tuning_job(**request)[
        "HyperParameterTuningJobArn"
    ]
    adopt = {ADOPT: "adopt", ADOPT_FIELDS: json.dumps({"hyperParameterTuningJobName": name})}
    a.apply(tuning_job("adopter", name, annotations=adopt))
    resources.wait_state(a.namespace, "adopter", {"InProgress"}, timeout=60)
    assert resources.status(a.namespace, "adopter")["ackResourceMetadata"]["arn"] == arn
    tags = emulator.job_states()[name.lower()][1]
    assert tags["services.k8s.aws/namespace"] == a.namespace  # the adoption is on the job
    assert tags["services.k8s.aws/name"] == "adopter"

    b.apply(tuning_job("second", name, annotations=adopt))
    refused = refusal(resources, b, "second")
    assert refused["reason"] == "OwnedByAnotherResource", refused
    b.delete("second")
    resources.wait_gone(b.namespace, "second", timeout=60)
    assert stops(emulator) == 0
    assert emulator.job_states()[name.lower()][0] == "InProgress"
    assert_reveals_nothing(resources, b.namespace, [a.namespace, "adopter"])

    a.delete("adopter")  # the adopter's delete stops it, like ACK
    resources.wait_gone(a.namespace, "adopter", timeout=60)
    assert stops(emulator) == 1


def test_f10_refusals_never_name_another_tenants_resource(
    tenants: Callable[[str], Tenant],
    resources: Resources,
    operate: Callable[..., tuple[Emulator, OperatorProcess]],
) -> None:
    """Every route B has to A's job (same name, adoption, read-only): refused, naming nothing
    of A's."""
    a, b = tenants("a"), tenants("b")
    emulator, _ = operate(a, b)
    victim = job_name("victim")
    a.apply(tuning_job("secret-owner", victim, max_jobs=400, parallel=1))
    resources.wait_state(a.namespace, "secret-owner", {"InProgress"}, timeout=60)
    adopt = {ADOPT: "adopt", ADOPT_FIELDS: json.dumps({"hyperParameterTuningJobName": victim})}
    b.apply(tuning_job("same-name", victim))
    b.apply(tuning_job("adopter", victim, annotations=adopt))
    b.apply(tuning_job("reader", victim, annotations={"services.k8s.aws/read-only": "true"}))
    for name in ("same-name", "adopter", "reader"):
        refusal(resources, b, name)
    assert_reveals_nothing(resources, b.namespace, [a.namespace, "secret-owner"])
    assert stops(emulator) == 0


def test_f3_unmapped_owner_account_gets_terminal_and_no_job(
    tenants: Callable[[str], Tenant],
    resources: Resources,
    operate: Callable[..., tuple[Emulator, OperatorProcess]],
) -> None:
    c = tenants("c")
    resources.core.patch_namespace(
        c.namespace, {"metadata": {"annotations": {OWNER_ACCOUNT: "111122223333"}}}
    )
    emulator, _ = operate(c)
    name = job_name("xacct")
    c.apply(tuning_job("xacct", name))
    terminal = refusal(resources, c, "xacct")
    # CARM (issue 16): no role maps the account, so nothing is made anywhere, least of all in the
    # operator's own account
    assert terminal["reason"] == "RoleUnavailable", terminal
    assert OWNER_ACCOUNT in terminal["message"] and "ack-role-account-map" in terminal["message"]
    assert "CreateHyperParameterTuningJob" not in emulator.calls()
    c.delete("xacct")
    resources.wait_gone(c.namespace, "xacct", timeout=20)
    assert emulator.total_calls() == 0, emulator.calls()
