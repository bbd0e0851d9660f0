"""SageMaker restarts (the emulator's --state-file), and a job vanishes behind the operator's
back. The job that survived is followed to the end without a second Create; the vanished one
gets a clear ACK.Terminal, and the operator neither crashes nor loops on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from support.faultkit import Emulator, Resources, drop_job_from_state, report
from support.operator_harness import POLL_INTERVAL, OperatorProcess, job_name, tuning_job, wait_for

SWEEP = 5.0


def test_emulator_restart_and_a_job_deleted_behind_the_operators_back(
    namespace: str,
    resources: Resources,
    emulators: Callable[..., Emulator],
    operators: Callable[..., OperatorProcess],
    tmp_path: Path,
) -> None:
    state = tmp_path / "sagemaker-state.json"
    emulator = emulators(training_seconds=1.0, stop_seconds=0.5, state_file=state)
    # The shared poller lists what changed; a job that vanished is not "changed", it is found
    # missing by the full InProgress sweep, every HPO_POLL_SWEEP_INTERVAL (300 s by default).
    operator = operators(emulator.url, [namespace], HPO_POLL_SWEEP_INTERVAL=str(SWEEP))
    pid = operator.process.pid if operator.process else None
    survivor, doomed = job_name("survivor"), job_name("doomed")
    resources.create(namespace, tuning_job("survivor", survivor, max_jobs=8, parallel=1))
    resources.create(namespace, tuning_job("doomed", doomed, max_jobs=60, parallel=1))
    for name in ("survivor", "doomed"):
        resources.wait_state(namespace, name, {"InProgress"}, timeout=60)
    arn = resources.status(namespace, "survivor")["ackResourceMetadata"]["arn"]

    emulator.stop()  # SageMaker unreachable: Recoverable, retried
    down = time.monotonic()
    wait_for(
        lambda: (
            any(
                c["type"] == "ACK.Recoverable" and c["status"] == "True"
                for c in resources.status(namespace, "survivor").get("conditions", [])
            )
            or time.monotonic() - down > 6 * POLL_INTERVAL
        ),
        30,
        "the operator to notice the outage (or a few poll intervals)",
    )
    drop_job_from_state(state, doomed)
    emulator.start()

    resources.wait_state(namespace, "survivor", {"Completed"}, timeout=120)
    assert resources.status(namespace, "survivor")["ackResourceMetadata"]["arn"] == arn

    def terminal() -> dict[str, str] | None:
        for c in resources.status(namespace, "doomed").get("conditions", []):
            if c["type"] == "ACK.Terminal" and c["status"] == "True":
                found: dict[str, str] = c
                return found
        return None

    restarted = time.monotonic()
    try:
        gone = wait_for(terminal, 4 * SWEEP + 30, "ACK.Terminal on the vanished job")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{resources.status(namespace, 'doomed')}") from None
    noticed_after = time.monotonic() - restarted
    assert gone["reason"] == "JobNotFound"
    assert doomed in gone["message"] and "no longer exists" in gone["message"]
    ready = [c for c in resources.status(namespace, "doomed")["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "False"

    # No loop: the vanished job costs at most a call per poll interval from here on.
    before, started = emulator.total_calls(), time.monotonic()
    time.sleep(10 * POLL_INTERVAL)  # measuring a rate needs a fixed window
    window = time.monotonic() - started
    calls_in_window = emulator.total_calls() - before
    assert calls_in_window <= window / (POLL_INTERVAL * 0.8) + 2, calls_in_window

    resources.delete(namespace, "doomed")
    resources.wait_gone(namespace, "doomed", timeout=60)
    resources.delete(namespace, "survivor")
    resources.wait_gone(namespace, "survivor", timeout=60)
    assert operator.process is not None and operator.process.poll() is None
    assert operator.process.pid == pid
    creates = emulator.calls().get("CreateHyperParameterTuningJob", {})
    assert creates.get("ok") == 2  # the survivor was not created again
    reasons = {e.reason for e in resources.events(namespace)}
    assert "JobNotFound" in reasons
    report(
        "emulator_restart",
        {
            "emulator_restarts": emulator.restarts + 1,
            "create_calls": creates,
            "vanished_job_condition": f"{gone['reason']}: {gone['message']}",
            "calls_per_second_after_terminal": round(calls_in_window / window, 2),
            "sweep_interval": SWEEP,
            "seconds_to_notice_the_vanished_job": round(noticed_after, 1),
            "operator_restarts": 0,
        },
    )
