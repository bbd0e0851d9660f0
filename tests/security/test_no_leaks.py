"""No credentials, tokens or environment values leak: a full run with fake AWS credentials and a
sentinel environment value, at DEBUG log level, through success, failure, AWS's rejection, an
invalid spec, an outage and a stop on delete; then every log line, Event, resource (status and
annotations), /metrics and the probes are searched for them. The namespace is a cross-account one
(ACK's CARM, issue 16): every SageMaker call is made with a role the operator assumed through the
emulator's STS from its own credentials, so both the source credentials and the issued ones
(their access keys: the emulator shows no secret of a session) are searched for.
"""

from __future__ import annotations

import json
import secrets
import string
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support.faultkit import FINISHED, Emulator, Resources, report
from support.operator_harness import FAILING_IMAGE, OperatorProcess, job_name, tuning_job, wait_for


def token(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


TARGET = "222222222222"
ROLE = f"arn:aws:iam::{TARGET}:role/hpo-target"


def cross_account(k8s_api: Any, namespace: str) -> None:
    """The namespace's jobs go to account TARGET, through ROLE (ack-role-account-map)."""
    from kubernetes import client

    core = client.CoreV1Api(k8s_api)
    meta = client.V1ObjectMeta(name="ack-role-account-map", namespace=namespace)
    core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=meta, data={TARGET: ROLE})
    )
    annotations = {"services.k8s.aws/owner-account-id": TARGET}
    core.patch_namespace(namespace, {"metadata": {"annotations": annotations}})


def issued_access_keys(url: str) -> list[str]:
    """The access keys the emulator's STS issued (GET /_emulator/sts)."""
    with urllib.request.urlopen(f"{url}/_emulator/sts", timeout=5) as response:
        document = json.loads(response.read())
    return [str(s["access_key"]) for s in document["sessions"] if s["role_arn"] == ROLE]


def test_no_secret_reaches_logs_events_status_or_metrics(
    k8s_api: Any,
    namespace: str,
    resources: Resources,
    emulators: Callable[..., Emulator],
    operators: Callable[..., OperatorProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    upper = string.ascii_uppercase + string.digits
    secrets_set = {
        "AWS_ACCESS_KEY_ID": "AKIAFAKE" + token(upper, 12),
        "AWS_SECRET_ACCESS_KEY": token(string.ascii_letters + string.digits + "/+", 40),
        "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEFAKE" + token(string.ascii_letters + string.digits, 120),
        "HPO_TEST_SENTINEL": "sentinel-" + token(string.ascii_lowercase, 24),
    }
    emulator = emulators(training_seconds=1.0, stop_seconds=0.5)
    monkeypatch.setenv("HPO_E2E_DEBUG", "1")  # the most talkative level
    cross_account(k8s_api, namespace)
    operator = operators(emulator.url, [namespace], HPO_CARM_NAMESPACE=namespace, **secrets_set)

    ok, failing, stopped = job_name("ok"), job_name("failing"), job_name("stopped")
    resources.create(namespace, tuning_job("ok", ok))
    resources.create(namespace, tuning_job("failing", failing, image=FAILING_IMAGE))
    resources.create(namespace, tuning_job("stopped", stopped, max_jobs=200, parallel=1))
    rejected = tuning_job("rejected", job_name("rejected"))
    rejected["spec"]["warmStartConfig"] = {
        "parentHyperParameterTuningJobs": [{"hyperParameterTuningJobName": "no-such-parent"}],
        "warmStartType": "IdenticalDataAndAlgorithm",
    }
    resources.create(namespace, rejected)
    invalid = tuning_job("invalid", job_name("invalid"), max_jobs=2, parallel=5)  # parallel > max
    resources.create(namespace, invalid)
    resources.wait_state(namespace, "ok", FINISHED, timeout=90)
    resources.wait_state(namespace, "failing", {"Failed"}, timeout=90)
    resources.wait_state(namespace, "stopped", {"InProgress"}, timeout=60)

    emulator.faults(error_rate=1.0)  # an outage: errors are logged and put in conditions
    time.sleep(2.0)
    emulator.faults(error_rate=0.0)
    resources.delete(namespace, "stopped")
    resources.wait_gone(namespace, "stopped", timeout=60)
    for name in ("rejected", "invalid"):
        wait_for(
            lambda n=name: any(
                c["type"] == "ACK.Terminal" for c in resources.status(namespace, n)["conditions"]
            ),
            60,
            f"{name} terminal",
        )

    places: dict[str, str] = {
        "operator log": Path(operator.log_path).read_text(errors="replace"),
        "events": json.dumps(
            [
                {"reason": e.reason, "message": e.message, "note": getattr(e, "note", None)}
                for e in resources.events(namespace)
            ]
        ),
        "resources": json.dumps(resources.list(namespace)),
        "metrics": operator.metrics(),
    }
    for path in ("/healthz", "/readyz"):
        url = f"http://127.0.0.1:{operator.health_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                places[path] = response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            places[path] = error.read().decode(errors="replace")
    assert len(places["operator log"]) > 1000 and "DEBUG" in places["operator log"]
    assert "JobFailed" in places["events"] and "rejected" in places["resources"]
    assert f":{TARGET}:hyper-parameter-tuning-job/" in places["resources"]  # through the role
    issued = issued_access_keys(emulator.url)
    assert issued, "no role was assumed"
    secrets_set.update({f"assumed access key {n}": key for n, key in enumerate(issued)})

    found: list[tuple[str, str]] = []
    for where, text in places.items():
        for name, value in secrets_set.items():
            for fragment in (value, value[:16], value[-16:]):
                if fragment in text:
                    found.append((name, where))
    assert found == [], sorted(set(found))
    report(
        "no_leaks",
        {
            "searched": {where: len(text) for where, text in places.items()},
            "secrets": sorted(secrets_set),
            "found": [],
        },
    )
