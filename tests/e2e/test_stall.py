"""No resource is left behind.

A resource waiting for the SageMaker budget says so at once (the cause of issue 14's silent
resources: a handler slept minutes for a token). A delayed handler whose wake-up is lost is found
by the stall sweep, reported (Warning Event `Stalled`, `hpo_stall_resyncs_total`, a log line) and
re-triggered through kopf's watch, until it reaches its final state.

The lost wake-up is made deterministic with `support.lose_wakeups` (a test-only wrapper): kopf's
touch at the end of a delayed handler's sleep is dropped, so after a throttled Create nothing ever
runs the retry.
Without the sweep that test times out waiting for the Event (the handler ran once in 60 s).
"""

from __future__ import annotations

from collections.abc import Callable

from hpo_emulator.server import RunningEmulator
from support.lose_wakeups import LOSE_WAKEUPS
from support.operator_harness import (
    Jobs,
    OperatorProcess,
    job_name,
    stats,
    stop_throttling,
    tuning_job,
    wait_for,
)

CREATE = "CreateHyperParameterTuningJob"


def test_lost_wakeup_is_reported_and_resynced_until_done(
    namespace: str,
    jobs: Jobs,
    throttling_emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    operator = start_operator(
        namespace,
        endpoint=throttling_emulator.url,
        command=LOSE_WAKEUPS,
        HPO_BACKOFF_BASE="0.5",
        HPO_BACKOFF_CAP="1",
        HPO_STALL_SWEEP_INTERVAL="1",
        HPO_STALL_MARGIN="2",
    )
    jobs.apply(namespace, tuning_job("stuck", job_name("stuck")))
    jobs.wait_condition(namespace, "stuck", "ACK.Recoverable")

    def stalled() -> list[dict[str, str]]:
        return [e for e in jobs.events(namespace, "stuck") if e["reason"] == "Stalled"]

    event = wait_for(stalled, 60, "a Stalled Event")[0]
    assert event["type"] == "Warning"
    assert "reconcile-create delayed until" in event["message"], event
    wait_for(
        lambda: operator.metric("hpo_stall_resyncs_total") >= 1, 30, "hpo_stall_resyncs_total ≥ 1"
    )
    assert "hpo_resources_stalled" in operator.metrics()

    stop_throttling(throttling_emulator)
    jobs.wait_state(namespace, "stuck", "Completed", timeout=90)
    assert "resource stalled" in operator.tail(400)


def test_resources_waiting_for_the_budget_after_throttling_are_never_silent(
    namespace: str,
    jobs: Jobs,
    throttling_emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    """The cause of issue 14's 64 silent resources, at small scale: throttled Creates cut the
    account's Create budget (here 1/s) to an eighth, and resources applied then used to sleep
    inside their handler for the whole wait computed at that rate (8 s more for each in the
    queue, and a pause) with no status, no progress annotation and no log line. Now a Create
    that would wait more than a second waits in the Create queue, and one expected to wait
    there longer than HPO_AWS_CALL_MAX_WAIT (here 5 s) says so (`CreateQueued`)."""
    start_operator(
        namespace,
        endpoint=throttling_emulator.url,
        HPO_AWS_RATE_LIMITS="CreateHyperParameterTuningJob=1:1",
        HPO_AWS_CALL_MAX_WAIT="5",
        HPO_BACKOFF_BASE="0.5",
        HPO_BACKOFF_CAP="1",
    )
    jobs.apply(namespace, tuning_job("first", job_name("first")))

    def throttled() -> int:
        creates: dict[str, int] = stats(throttling_emulator)["operations"].get(CREATE, {})
        return creates.get("ThrottlingException", 0)

    wait_for(lambda: throttled() >= 3, 90, "3 throttled Creates (the budget at 1/8)")
    names = [f"later-{i}" for i in range(4)]
    for name in names:
        jobs.apply(namespace, tuning_job(name, job_name(name)))

    def silent() -> list[str]:
        return [n for n in names if jobs.condition(namespace, n, "ACK.Recoverable") is None]

    # Before the fix the last two slept ≥ 24 s and ≥ 32 s before their first Create.
    wait_for(lambda: not silent(), 18, "every later resource to show why it waits")
