"""Malformed objects on the real API server: staticHyperParameters at the model's maximum, broken
annotations, and a status edited by hand. Each ends in a clear status; the operator never crashes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from support.faultkit import FINISHED, Emulator, Resources, report
from support.operator_harness import OperatorProcess, job_name, tuning_job, wait_for


def true_condition(resources: Resources, namespace: str, name: str, kind: str) -> dict | None:
    for item in resources.status(namespace, name).get("conditions") or []:
        if item.get("type") == kind and item.get("status") == "True":
            return dict(item)
    return None


def test_malformed_objects_get_a_clear_status_and_no_crash(
    namespace: str,
    resources: Resources,
    emulators: Callable[..., Emulator],
    operators: Callable[..., OperatorProcess],
) -> None:
    from kubernetes.client.exceptions import ApiException

    emulator = emulators(training_seconds=1.0, stop_seconds=0.5)
    operator = operators(emulator.url, [namespace])

    # 1. staticHyperParameters at the model's maximum: 100 entries, 256-character keys,
    #    2,500-character values (≈ 275 kB of spec).
    big_job = job_name("big")
    big = tuning_job("big", big_job)
    big["spec"]["trainingJobDefinition"]["staticHyperParameters"] = {
        f"k{i:03d}".ljust(256, "k"): "v" * 2500 for i in range(100)
    }
    resources.create(namespace, big)

    # 2. Broken annotations.
    bad_json = tuning_job(
        "bad-json", job_name("bad-json"),
        annotations={"services.k8s.aws/adoption-policy": "adopt",
                     "services.k8s.aws/adoption-fields": '{"hyperParameterTuningJobName": '},
    )  # fmt: skip
    resources.create(namespace, bad_json)
    odd_job = job_name("odd-policy")
    odd_policy = tuning_job(
        "odd-policy", odd_job,
        annotations={"services.k8s.aws/deletion-policy": "shred"},
    )  # fmt: skip
    resources.create(namespace, odd_policy)

    # 3. A status edited by hand: a garbage ARN on a running job, then wrong types.
    edited_job = job_name("edited")
    resources.create(namespace, tuning_job("edited", edited_job, max_jobs=6, parallel=1))
    resources.wait_state(namespace, "edited", {"InProgress"}, timeout=60)
    resources.patch_status(namespace, "edited", {"ackResourceMetadata": {"arn": "garbage"}})
    rejected = []
    for wrong in ({"conditions": "Ready"}, {"observedGeneration": "one"},
                  {"ackResourceMetadata": {"arn": 12}}):  # fmt: skip
        with pytest.raises(ApiException) as refused:
            resources.patch_status(namespace, "edited", wrong)
        rejected.append(refused.value.status)
    assert set(rejected) == {422}, rejected  # the CRD's schema keeps wrong types out

    # Outcomes.
    big_state = resources.wait_state(namespace, "big", FINISHED, timeout=120)
    sent = emulator.live.store.jobs[big_job.lower()].request
    assert len(sent["TrainingJobDefinition"]["StaticHyperParameters"]) == 100
    problem = wait_for(
        lambda: true_condition(resources, namespace, "bad-json", "ACK.Recoverable"),
        60, "bad adoption-fields reported",
    )  # fmt: skip
    assert "services.k8s.aws/adoption-fields" in problem["message"]
    policy = wait_for(
        lambda: true_condition(resources, namespace, "odd-policy", "ACK.Recoverable"),
        60, "unknown deletion-policy reported",
    )  # fmt: skip
    assert "shred" in policy["message"]
    edited = resources.wait_state(namespace, "edited", FINISHED, timeout=120)
    status = resources.status(namespace, "edited")
    arn = status["ackResourceMetadata"]["arn"]

    stops = emulator.calls().get("StopHyperParameterTuningJob", {})
    for name in ("big", "bad-json", "odd-policy", "edited"):
        resources.delete(namespace, name)
    for name in ("big", "bad-json", "odd-policy", "edited"):
        resources.wait_gone(namespace, name, timeout=60)
    assert emulator.calls().get("StopHyperParameterTuningJob", {}) == stops
    assert odd_job.lower() not in emulator.job_states()  # never created under an unknown policy
    assert operator.process is not None and operator.process.poll() is None
    log = Path(operator.log_path).read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    report(
        "malformed_e2e",
        {
            "static_hyper_parameters_bytes": len(
                json.dumps(big["spec"]["trainingJobDefinition"]["staticHyperParameters"])
            ),
            "big": big_state,
            "bad_adoption_fields": problem["message"],
            "unknown_deletion_policy": policy["message"],
            "garbage_arn_after": arn,
            "edited": edited,
            "wrong_types_rejected_by_api_server": rejected,
        },
    )
