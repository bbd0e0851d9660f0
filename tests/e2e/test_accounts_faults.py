"""Cross-account resources (issue 16) when things go wrong, end to end against the emulator: an
assumed role's credentials expiring while a job runs, a role refused while its resource is
deleted, one account throttled beside another, /readyz and the calls metric per account, and
CARM turned off. Asserted from the emulator's side: which account each call was made in."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from typing import Any

from botocore.exceptions import ClientError

from hpo_operator.model.translate import spec_to_request
from support.carm import (
    OTHER,
    OWN,
    REGION,
    ROLE,
    TARGET,
    Carm,
    allow_role,
    calls,
    describe,
    sagemaker_in,
    sts_control,
)
from support.operator_harness import OperatorProcess, job_name, tuning_job, wait_for

OTHER_ROLE = f"arn:aws:iam::{OTHER}:role/other"
CREATE, STOP = "CreateHyperParameterTuningJob", "StopHyperParameterTuningJob"


def two_accounts(carm: Carm, second: str, roles: dict[str, str], **env: str) -> OperatorProcess:
    """The test's namespace annotated for TARGET, `second` for OTHER, `roles` as the account
    map, and the operator watching both."""
    carm.maps(roles)
    carm.jobs.annotate_namespace(second, {"services.k8s.aws/owner-account-id": OTHER})
    carm.jobs.annotate_namespace(carm.namespace, {"services.k8s.aws/owner-account-id": TARGET})
    return carm.start_operator(
        carm.namespace, second, endpoint=carm.emulator.url, HPO_CARM_NAMESPACE=carm.namespace, **env
    )


def in_account(emulator_calls: dict[str, Any], account: str) -> dict[str, dict[str, int]]:
    """The SageMaker calls made in `account` (any region), by operation and outcome; STS not."""
    found: dict[str, dict[str, int]] = {}
    for where, counts in (emulator_calls.get("by_store") or {}).items():
        if where.split("/")[0] == account:
            for op, outcomes in counts["operations"].items():
                if not op.startswith("sts:"):
                    for outcome, n in outcomes.items():
                        found.setdefault(op, {})
                        found[op][outcome] = found[op].get(outcome, 0) + n
    return found


def assume_role_calls(carm: Carm) -> int:
    return sum(calls(carm.emulator).get("operations", {}).get("sts:AssumeRole", {}).values())


def readyz(operator: OperatorProcess) -> tuple[int, str]:
    """/readyz's status and body."""
    url = f"http://127.0.0.1:{operator.health_port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(operator: OperatorProcess, account: str) -> dict[tuple[str, str], float]:
    """hpo_sagemaker_calls_total for `account`: (operation, outcome) -> count."""
    found: dict[tuple[str, str], float] = {}
    pattern = re.compile(r"^hpo_sagemaker_calls_total\{([^}]*)\} (\S+)$", re.MULTILINE)
    for labels, value in pattern.findall(operator.metrics()):
        label = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if label.get("account") == account:
            found[(label["operation"], label["outcome"])] = float(value)
    return found


def test_credentials_expiring_while_a_job_runs_are_refreshed_in_its_account(carm: Carm) -> None:
    """Sessions of 60 s (botocore refreshes those before every call) and the running session
    ended by the emulator: the job is followed to Completed in its account, through new
    AssumeRole calls, and nothing is ever called in the operator's own account."""
    sts_control(carm.emulator, {"session_seconds": 60})
    carm.setup(TARGET, {TARGET: ROLE})
    name = carm.run("expiring", max_jobs=4, parallel=1)
    carm.jobs.wait_state(carm.namespace, "expiring", "InProgress", timeout=60)
    assumed = assume_role_calls(carm)
    sts_control(carm.emulator, {"expire_roles": [ROLE]})
    status = carm.jobs.wait_state(carm.namespace, "expiring", "Completed", timeout=90)
    assert status["ackResourceMetadata"]["ownerAccountID"] == TARGET
    assert assume_role_calls(carm) > assumed  # refreshed after the session ended
    assert {s.role_arn for s in carm.emulator.accounts.sessions.values()} == {ROLE}
    seen = calls(carm.emulator)
    assert in_account(seen, OWN) == {}  # never a fallback to the operator's own account
    assert name.lower() in carm.emulator.store_for(REGION, TARGET).jobs
    assert carm.jobs.condition(carm.namespace, "expiring", "ACK.Recoverable") is None


def test_a_session_ended_early_is_assumed_again(carm: Carm) -> None:
    """Hour-long sessions (botocore keeps them), one ended by the emulator while the job runs:
    the calls it refuses (ExpiredToken) get the role assumed again, and the job completes."""
    carm.setup(TARGET, {TARGET: ROLE})
    carm.run("ended", max_jobs=4, parallel=1)
    carm.jobs.wait_state(carm.namespace, "ended", "InProgress", timeout=60)
    assumed = assume_role_calls(carm)
    sts_control(carm.emulator, {"expire_roles": [ROLE]})
    status = carm.jobs.wait_state(carm.namespace, "ended", "Completed", timeout=30)
    assert status["ackResourceMetadata"]["ownerAccountID"] == TARGET
    assert assume_role_calls(carm) > assumed
    assert in_account(calls(carm.emulator), OWN) == {}


def test_a_resource_whose_role_is_refused_waits_to_stop_its_job(carm: Carm) -> None:
    """Deleted while its role cannot be assumed: the finalizer holds, ACK.Recoverable names the
    role, nothing is stopped anywhere; once the role is allowed the job is stopped in its
    account and the resource goes."""
    sts_control(carm.emulator, {"session_seconds": 60})  # every call assumes the role afresh
    carm.setup(TARGET, {TARGET: ROLE})
    name = carm.run("orphan", max_jobs=200, parallel=1)
    carm.jobs.wait_state(carm.namespace, "orphan", "InProgress", timeout=60)
    sts_control(carm.emulator, {"deny_roles": [ROLE]})
    carm.jobs.delete(carm.namespace, "orphan")
    waiting = carm.jobs.wait_condition(carm.namespace, "orphan", "ACK.Recoverable")
    assert "RoleUnavailable" in waiting["reason"] and ROLE in waiting["message"]
    assert carm.jobs.get(carm.namespace, "orphan") is not None  # the finalizer holds
    assert STOP not in calls(carm.emulator).get("operations", {})
    assert describe(carm.emulator, TARGET, name) == "InProgress"
    allow_role(carm.emulator, ROLE)
    carm.jobs.wait_gone(carm.namespace, "orphan", timeout=60)
    assert describe(carm.emulator, TARGET, name) in ("Stopping", "Stopped")
    seen = calls(carm.emulator)
    assert STOP in in_account(seen, TARGET)
    assert in_account(seen, OWN) == {} and in_account(seen, OTHER) == {}


def test_one_account_throttled_does_not_slow_another(carm: Carm, other_namespace: str) -> None:
    """The emulator's quotas hold per account and region (its faults do not: throttle_rate is
    for every caller), so TARGET's Create bucket is emptied first and does not refill; OTHER's,
    the same quota, is untouched."""
    body = {"quotas": {CREATE: {"rate": 0.001, "burst": 2}}}
    request = urllib.request.Request(
        f"{carm.emulator.url}/_emulator/faults", data=json.dumps(body).encode()
    )
    urllib.request.urlopen(request, timeout=5).close()
    decoy = spec_to_request(tuning_job("x", job_name("decoy"))["spec"])
    client = sagemaker_in(carm.emulator, TARGET)
    throttled = False
    for _ in range(3):  # the burst, then a throttle
        try:
            client.create_hyper_parameter_tuning_job(**decoy)
        except ClientError as error:
            throttled = error.response["Error"]["Code"] == "ThrottlingException"
    assert throttled

    operator = two_accounts(carm, other_namespace, {TARGET: ROLE, OTHER: OTHER_ROLE})
    slow = carm.run("slow")
    fast = job_name("fast")
    started = time.monotonic()
    carm.jobs.apply(other_namespace, tuning_job("fast", fast))
    status = carm.jobs.wait_state(other_namespace, "fast", "Completed", timeout=30)
    took = time.monotonic() - started
    assert status["ackResourceMetadata"]["ownerAccountID"] == OTHER
    assert took < 20, f"OTHER's job took {took:.1f} s"  # 2 training jobs of 3 s, in parallel
    waiting = carm.jobs.wait_condition(carm.namespace, "slow", "ACK.Recoverable")
    assert "throttl" in (waiting["reason"] + waiting["message"]).lower()
    assert "ackResourceMetadata" not in carm.jobs.status(carm.namespace, "slow")
    seen = calls(carm.emulator)
    assert in_account(seen, TARGET)[CREATE].get("ThrottlingException", 0) >= 2
    assert slow.lower() not in carm.emulator.store_for(REGION, TARGET).jobs
    assert all(set(o) == {"ok"} for o in in_account(seen, OTHER).values())
    assert in_account(seen, OWN) == {}
    assert samples(operator, TARGET).get((CREATE, "throttled"), 0) >= 1
    assert not any(outcome == "throttled" for _, outcome in samples(operator, OTHER))


def test_readiness_and_the_calls_metric_are_per_account(carm: Carm, other_namespace: str) -> None:
    """A job in TARGET, one in OTHER whose role is refused: /readyz stays 200 and names the
    failing place; the calls metric has both accounts; allowed, OTHER's job completes."""
    refused = f"arn:aws:iam::{OTHER}:role/refused"  # the accounts_emulator's denied role
    operator = two_accounts(
        carm, other_namespace, {TARGET: ROLE, OTHER: refused}, HPO_READINESS_FAILURES="2"
    )
    carm.run("here")
    carm.jobs.apply(other_namespace, tuning_job("there", job_name("there")))
    carm.jobs.wait_state(carm.namespace, "here", "Completed", timeout=60)
    carm.jobs.wait_condition(other_namespace, "there", "ACK.Recoverable")
    place = f"account {OTHER} in {REGION}"
    status, body = wait_for(
        lambda: (lambda r: r if place in r[1] else None)(readyz(operator)),
        60,
        "/readyz to name the failing account",
    )
    assert status == 200 and "failing in some places" in body and TARGET not in body
    assert samples(operator, TARGET).get((CREATE, "ok")) == 1
    assert samples(operator, OTHER).get((CREATE, "recoverable"), 0) >= 2
    assert in_account(calls(carm.emulator), OTHER) == {}  # refused: no SageMaker call there

    allow_role(carm.emulator, refused)
    carm.jobs.wait_state(other_namespace, "there", "Completed", timeout=60)
    assert samples(operator, OTHER).get((CREATE, "ok")) == 1
    assert readyz(operator) == (200, "ok\n")


def test_with_carm_off_an_annotated_namespace_is_terminal_and_calls_nothing(carm: Carm) -> None:
    carm.setup(TARGET, {TARGET: ROLE}, HPO_CARM="false")
    carm.run("off")
    terminal = carm.jobs.wait_condition(carm.namespace, "off", "ACK.Terminal")
    assert "services.k8s.aws/owner-account-id" in terminal["message"]
    assert "cross-account resource management is off" in terminal["message"]
    assert calls(carm.emulator) == {}  # no call in any account
    assert not carm.emulator.accounts.sessions  # and no role assumed
