"""No resource is left behind: a delayed handler whose wake-up is lost is found by the stall sweep,
reported (Warning Event `Stalled`, `hpo_stall_resyncs_total`, a log line) and re-triggered through
kopf's watch, until it reaches its final state.

The lost wake-up is made deterministic with `HPO_FAULT_LOSE_WAKEUPS`: kopf's touch at the end of a
delayed handler's sleep is dropped, so after a throttled Create nothing ever runs the retry (what
the 4 `delayed` resources of issue 14's burst showed). Without the sweep this test times out
waiting for the Event, and the resource never completes.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from operator_harness import Jobs, OperatorProcess, job_name, tuning_job, wait_for

from hpo_operator.emulator.config import EmulatorConfig, Faults
from hpo_operator.emulator.server import RunningEmulator, run_in_thread

pytestmark = pytest.mark.e2e


@pytest.fixture
def throttling_emulator() -> Iterator[RunningEmulator]:
    """An emulator that throttles every Create until told otherwise."""
    faults = Faults(throttle_rate=1.0, operations=["CreateHyperParameterTuningJob"])
    with run_in_thread(EmulatorConfig(training_seconds=1.0, quotas={}, faults=faults)) as em:
        yield em


def _resyncs(operator: OperatorProcess) -> float:
    found = re.search(r"^hpo_stall_resyncs_total (\S+)$", operator.metrics(), re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_lost_wakeup_is_reported_and_resynced_until_done(
    namespace: str,
    jobs: Jobs,
    throttling_emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    operator = start_operator(
        namespace,
        endpoint=throttling_emulator.url,
        HPO_FAULT_LOSE_WAKEUPS="true",
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
    wait_for(lambda: _resyncs(operator) >= 1, 30, "hpo_stall_resyncs_total ≥ 1")
    assert "hpo_resources_stalled" in operator.metrics()

    body = json.dumps({"throttle_rate": 0.0}).encode()
    request = urllib.request.Request(f"{throttling_emulator.url}/_emulator/faults", data=body)
    urllib.request.urlopen(request, timeout=5).close()
    jobs.wait_state(namespace, "stuck", "Completed", timeout=90)
    assert "resource stalled" in operator.tail(400)
