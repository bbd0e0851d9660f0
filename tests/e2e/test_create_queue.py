"""Creates beyond the account's Create budget wait in the operator's Create queue, as names.

Real kube-apiserver, the emulator, `hpo-operator run` with a Create budget of one every two
seconds, so every resource after the first waits its turn in the queue (not in kopf's handler).
What is checked is what a user sees: every job created once, at the budget's pace; a resource
edited while it waits is created as it is in its turn; one deleted while it waits is never
created, and its finalizer goes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hpo_emulator.server import RunningEmulator
from support.emulator_client import client
from support.operator_harness import Jobs, OperatorProcess, job_name, stats, tuning_job, wait_for

CREATE = "CreateHyperParameterTuningJob"
WAITING = 5  # resources applied behind the first, each waits ~2 s more than the one before


def test_a_burst_waits_in_the_create_queue_and_each_job_is_created_once_as_it_is_then(
    namespace: str,
    jobs: Jobs,
    emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    before = sum(stats(emulator)["operations"].get(CREATE, {}).values())
    operator = start_operator(
        namespace, endpoint=emulator.url, HPO_AWS_RATE_LIMITS=f"{CREATE}=0.5:1"
    )
    names = [f"queued-{i}" for i in range(WAITING + 1)]
    sagemaker_names = {name: job_name(name) for name in names}
    for name in names:
        jobs.apply(namespace, tuning_job(name, sagemaker_names[name]))
    edited, deleted = names[-2], names[-1]
    # Both still wait (the last two turns come ~8 and ~10 s after the first Create).
    jobs.apply(namespace, tuning_job(edited, sagemaker_names[edited], max_jobs=3, parallel=1))
    jobs.delete(namespace, deleted)
    jobs.wait_gone(namespace, deleted, timeout=60)

    def with_arn(name: str) -> dict[str, Any] | None:
        status = jobs.status(namespace, name)
        return status if (status.get("ackResourceMetadata") or {}).get("arn") else None

    arns = {name: wait_for(lambda n=name: with_arn(n), 120, f"{name}'s ARN") for name in names[:-1]}
    sagemaker = client(emulator.url, access_key="emulator", secret_key="emulator")
    created = {
        name: sagemaker.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=sagemaker_names[name]
        )
        for name in names[:-1]
    }
    # Created once each, and only those: the deleted resource's job never existed.
    creates = stats(emulator)["operations"].get(CREATE, {})
    assert sum(creates.values()) - before == WAITING, creates
    missing = sagemaker.list_hyper_parameter_tuning_jobs(NameContains=sagemaker_names[deleted])
    assert missing["HyperParameterTuningJobSummaries"] == []
    # Within the budget (a bucket of one, refilled at 0.5/s): any k Creates span at least
    # (k - 1) / 0.5 s. A bound that holds whatever the load.
    moments = sorted(created[name]["CreationTime"].timestamp() for name in names[:-1])
    for i, first in enumerate(moments):
        for j in range(i + 1, len(moments)):
            assert j - i <= 0.5 * (moments[j] - first) + 0.05, moments
    # The edit made while it waited is what was created.
    limits: dict[str, Any] = created[edited]["HyperParameterTuningJobConfig"]["ResourceLimits"]
    assert (limits["MaxNumberOfTrainingJobs"], limits["MaxParallelTrainingJobs"]) == (3, 1)
    for name, status in arns.items():
        assert status["ackResourceMetadata"]["arn"] == created[name]["HyperParameterTuningJobArn"]
        reasons = {c["type"]: c.get("reason") for c in status.get("conditions") or []}
        assert "CreateQueued" not in reasons.values()  # waiting writes nothing to status

    def queued_reconciles() -> float | None:
        for line in operator.metrics().splitlines():
            if line.startswith("hpo_reconcile_total{") and 'result="queue"' in line:
                return float(line.rsplit(" ", 1)[1]) or None
        return None

    assert wait_for(queued_reconciles, 10, "queued reconciles counted") >= WAITING - 1
