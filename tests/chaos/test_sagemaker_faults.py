"""SageMaker throttling half of all calls, and bursts of 5xx: every job still converges, and the
operator's calls stay under a bound that a hot loop would blow through.

The bound, per resource: one call per poll interval (the interval less its jitter) while its
job runs and a few after, plus the Create attempts of exponential backoff, plus the delete path.
Whether the operator polls per resource or with the shared List poller, it must stay under it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hpo_operator.identity import FINISHED_LABEL
from support.faultkit import FINISHED, FULL, Emulator, Resources, report, size
from support.operator_harness import (
    POLL_INTERVAL,
    OperatorProcess,
    job_name,
    tuning_job,
    wait_for,
)

BACKOFF = {"HPO_BACKOFF_BASE": "0.5", "HPO_BACKOFF_CAP": "4"}  # retries after 0.25-0.5 s, …
# The shared poller's client-side limiter halves an operation's rate at each throttled answer,
# down to 5 % of its budget (ratelimit.py): at 50 % throttling it sits at that floor, about one
# List every 10 s, and a job's end shows after ~100 s. `make chaos` measures exactly that with the
# default budgets; the CI-sized run raises them twenty-fold so that it fits in CI's time.
CI_BUDGETS = (
    {}
    if FULL
    else {
        "HPO_AWS_RATE_LIMITS": "ListHyperParameterTuningJobs=40:40,"
        "DescribeHyperParameterTuningJob=40:40,CreateHyperParameterTuningJob=40:40"
    }
)


def bound(resources: int, seconds: float) -> int:
    """The most calls a well-behaved operator makes for `resources` over `seconds`."""
    polls = seconds / (POLL_INTERVAL * 0.8) + 4  # jitter shortens by ≤ 20 %; a few at the end
    creates = 12  # backoff from 0.25 s doubling to the 4 s cap: ≤ 12 tries in a 40 s window
    deletes = 6  # Describe, ListTags, Stop, Describe and their retries
    return int(resources * (polls + creates + deletes))


def finish(
    namespace: str, resources: Resources, names: dict[str, str], started: float
) -> dict[str, float]:
    times: dict[str, float] = {}
    for name in names:
        resources.wait_state(namespace, name, FINISHED, timeout=240)
        times[name] = round(time.monotonic() - started, 1)
    return times


def parked(resources: Resources, namespace: str, name: str) -> bool:
    labels = ((resources.get(namespace, name) or {}).get("metadata") or {}).get("labels") or {}
    return FINISHED_LABEL in labels


def check_outcome(
    namespace: str, resources: Resources, emulator: Emulator, names: dict[str, str], limit: int
) -> dict[str, Any]:
    calls = emulator.calls()  # before any check of ours calls the emulator
    total = sum(sum(outcomes.values()) for outcomes in calls.values())
    assert total <= limit, f"{total} calls > bound {limit}: {calls}"
    assert calls["CreateHyperParameterTuningJob"].get("ok") == len(names)  # no duplicate
    for name in names:
        status = resources.status(namespace, name)
        assert status["hyperParameterTuningJobStatus"] == "Completed"
        kinds = {c["type"]: c["status"] for c in status["conditions"]}
        assert "ACK.Recoverable" not in kinds and kinds["Ready"] == "True", status["conditions"]
    # Finished jobs cost nothing once the operator is done with them (parked: their results
    # read, issue 18, which under this throttling may take a few polls): four more poll
    # intervals make no call for any job.
    for name in names:
        wait_for(lambda n=name: parked(resources, namespace, n), 240, f"{name} parked")
    before = emulator.calls()
    time.sleep(4 * POLL_INTERVAL)  # asserting an absence needs a fixed wait
    after = emulator.calls()
    tail = {
        op: sum(after[op].values()) - sum(before.get(op, {}).values())
        for op in after
        if sum(after[op].values()) != sum(before.get(op, {}).values())
    }
    # At most the one List page of a poll already under way when the last job was let go.
    assert set(tail) <= {"ListHyperParameterTuningJobs"} and sum(tail.values()) <= 1, tail
    for name in names:
        resources.delete(namespace, name)
    for name in names:
        resources.wait_gone(namespace, name, timeout=60)
    return {"calls": calls, "calls_total": total}


def test_half_of_all_calls_throttled_converges_within_a_call_bound(
    namespace: str,
    resources: Resources,
    emulators: Callable[..., Emulator],
    operators: Callable[..., OperatorProcess],
) -> None:
    count = size(ci=3, full=20)
    emulator = emulators(training_seconds=1.0, stop_seconds=0.5)
    emulator.faults(throttle_rate=0.5)
    operators(emulator.url, [namespace], **BACKOFF, **CI_BUDGETS)
    names = {f"t{i}": job_name(f"throttle{i}") for i in range(count)}
    started = time.monotonic()
    for name, job in names.items():
        resources.create(namespace, tuning_job(name, job, max_jobs=3, parallel=1))
    times = finish(namespace, resources, names, started)
    converged = max(times.values())
    limit = bound(count, converged)
    outcome = check_outcome(namespace, resources, emulator, names, limit)
    throttled = sum(o.get("ThrottlingException", 0) for o in outcome["calls"].values())
    assert throttled > 0
    report(
        "sagemaker_throttling",
        {
            "resources": count,
            "throttle_rate": 0.5,
            "client_rate_budgets": CI_BUDGETS.get("HPO_AWS_RATE_LIMITS", "defaults"),
            "calls_bound": limit,
            "calls_throttled": throttled,
            "seconds_to_converge": times,
            **outcome,
        },
    )


def test_5xx_bursts_converge_within_a_call_bound(
    namespace: str,
    resources: Resources,
    emulators: Callable[..., Emulator],
    operators: Callable[..., OperatorProcess],
) -> None:
    count = size(ci=3, full=20)
    emulator = emulators(training_seconds=1.0, stop_seconds=0.5)
    operators(emulator.url, [namespace], **BACKOFF)
    names = {f"e{i}": job_name(f"burst{i}") for i in range(count)}
    started = time.monotonic()
    emulator.faults(error_rate=1.0)  # the first burst meets the Creates
    for name, job in names.items():
        resources.create(namespace, tuning_job(name, job, max_jobs=4, parallel=1))
    time.sleep(3.0)
    emulator.faults(error_rate=0.0)
    time.sleep(2.0)
    emulator.faults(error_rate=1.0)  # the second meets the polls of running jobs
    time.sleep(3.0)
    emulator.faults(error_rate=0.0)
    times = finish(namespace, resources, names, started)
    converged = max(times.values())
    limit = bound(count, converged)
    outcome = check_outcome(namespace, resources, emulator, names, limit)
    failed = sum(o.get("InternalFailure", 0) for o in outcome["calls"].values())
    assert failed > 0
    report(
        "sagemaker_5xx_bursts",
        {
            "resources": count,
            "bursts": "2 × 3 s of InternalFailure (HTTP 500) on every call",
            "calls_bound": limit,
            "calls_5xx": failed,
            "seconds_to_converge": times,
            **outcome,
        },
    )
