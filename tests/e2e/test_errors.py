"""Recoverable errors end to end: throttled Create backs off (no hot loop), readiness reports the
failing SageMaker calls, and everything recovers by itself when SageMaker does.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hpo_emulator.server import RunningEmulator
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


def _creates(emulator: RunningEmulator) -> int:
    return sum(stats(emulator)["operations"].get(CREATE, {}).values())


def test_throttled_create_backs_off_then_recovers(
    namespace: str,
    jobs: Jobs,
    throttling_emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    operator = start_operator(
        namespace, endpoint=throttling_emulator.url, HPO_BACKOFF_BASE="0.5", HPO_BACKOFF_CAP="4"
    )
    jobs.apply(namespace, tuning_job("busy", job_name("throttled")))
    recoverable = jobs.wait_condition(namespace, "busy", "ACK.Recoverable")
    assert recoverable["reason"] == "ThrottlingException"
    synced = jobs.condition(namespace, "busy", "ACK.ResourceSynced")
    assert synced is not None and synced["status"] == "False"

    start, began = _creates(throttling_emulator), time.monotonic()
    wait_for(lambda: operator.probe("/readyz") == 503, 60, "readiness to report failing calls")
    assert operator.probe("/healthz") == 200
    time.sleep(4)  # measures a rate: backoff capped at 4 s allows ~1 call/s at most, never a loop
    rate = (_creates(throttling_emulator) - start) / (time.monotonic() - began)
    assert rate < 3.0, f"{rate:.1f} Create calls per second: that is a hot loop"
    warnings = [e for e in jobs.events(namespace, "busy") if e["type"] == "Warning"]
    assert [e["reason"] for e in warnings].count("ThrottlingException") == 1  # not one per retry
    assert 'outcome="throttled"' in operator.metrics()

    stop_throttling(throttling_emulator)
    jobs.wait_state(namespace, "busy", "Completed", timeout=60)
    assert jobs.condition(namespace, "busy", "ACK.Recoverable") is None
    wait_for(lambda: operator.probe("/readyz") == 200, 30, "readiness to recover")


def test_malformed_region_annotation_is_a_terminal_condition_not_a_crash(
    namespace: str, jobs: Jobs, operator: OperatorProcess
) -> None:
    manifest = tuning_job(
        "misplaced", job_name("bad-region"), annotations={"services.k8s.aws/region": "mars 1!"}
    )
    jobs.apply(namespace, manifest)
    terminal = jobs.wait_condition(namespace, "misplaced", "ACK.Terminal")
    assert terminal["reason"] == "InvalidAnnotation"  # nothing can be sent until it is fixed
    assert "mars 1!" in terminal["message"] and "services.k8s.aws/region" in terminal["message"]
    manifest["metadata"]["annotations"]["services.k8s.aws/region"] = "us-west-2"
    jobs.apply(namespace, manifest)
    jobs.wait_state(namespace, "misplaced", "Completed", timeout=90)
