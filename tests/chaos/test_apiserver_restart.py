"""The API server goes away (etcd kept) and comes back; watches expire (410 Gone). The operator
resumes by itself: the same process finishes what it was following, creates what was made
meanwhile, and releases what is deleted.

This test runs its own etcd + kube-apiserver (hpo_devtools.cluster), so restarting the API
server never disturbs the session's cluster that other tests share.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hpo_devtools.cluster import DevCluster
from support.faultkit import Emulator, Resources, report, timed
from support.operator_harness import OperatorProcess, job_name, tuning_job, wait_for

WATCH_EXPIRED = "Restarting the watch-stream"  # kopf's debug line on a 410 Gone ERROR event


def test_api_server_restart_and_watch_expiry(
    own_cluster: DevCluster,
    own_api: Any,
    emulators: Callable[..., Emulator],
    operators: Callable[..., OperatorProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kubernetes import client

    core = client.CoreV1Api(own_api)
    resources = Resources(own_api)
    namespace = "restart"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    emulator = emulators(training_seconds=1.0, stop_seconds=0.5)
    monkeypatch.setenv("HPO_E2E_DEBUG", "1")  # kopf logs a 410 at debug level only
    operator = operators(
        emulator.url,
        [namespace],
        config=own_cluster.kubeconfig,
        HPO_WATCH_SERVER_TIMEOUT="5",  # watches end every 5 s: the normal expiry path, often
    )
    pid = operator.process.pid if operator.process else None

    before = job_name("before")
    resources.create(namespace, tuning_job("before", before, max_jobs=8, parallel=1))
    resources.wait_state(namespace, "before", {"InProgress"}, timeout=60)
    cut = job_name("cut")
    resources.create(namespace, tuning_job("cut", cut, max_jobs=40, parallel=1))
    resources.wait_state(namespace, "cut", {"InProgress"}, timeout=60)
    # Writes after the operator's last event, so its resourceVersions are behind the restarted
    # server's watch cache: resuming a watch from them is answered 410 Gone.
    for index in range(3):
        core.create_namespaced_config_map(
            namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"bump{index}"))
        )

    own_cluster.stop_apiserver()
    # While it is down: `before` finishes in SageMaker and `cut` keeps running.
    wait_for(
        lambda: emulator.job_states().get(before.lower(), ("?",))[0] == "Completed",
        60,
        "the job to finish while the API server is down",
    )
    _, restart_seconds = timed(own_cluster.start_apiserver)

    (_, converge_seconds) = timed(
        resources.wait_state, namespace, "before", {"Completed"}, timeout=120
    )
    after = job_name("after")
    resources.create(namespace, tuning_job("after", after, max_jobs=2, parallel=1))
    (_, create_seconds) = timed(
        resources.wait_state, namespace, "after", {"Completed"}, timeout=120
    )
    resources.delete(namespace, "cut")
    resources.wait_gone(namespace, "cut", timeout=120)
    assert emulator.job_states()[cut.lower()][0] == "Stopped"

    assert operator.process is not None and operator.process.poll() is None
    assert operator.process.pid == pid  # resumed by itself, no restart
    log = Path(operator.log_path).read_text(errors="replace")
    expired = log.count(WATCH_EXPIRED)
    assert expired >= 1, "no 410 Gone was met: the test did not test watch expiry"
    assert "Traceback" not in log
    creates = emulator.calls().get("CreateHyperParameterTuningJob", {})
    assert creates.get("ok") == 3
    report(
        "apiserver_restart",
        {
            "apiserver_restart_seconds": round(restart_seconds, 1),
            "seconds_to_status_after_restart": round(converge_seconds, 1),
            "seconds_new_resource_to_completed": round(create_seconds, 1),
            "watch_410_gone_restarts": expired,
            "operator_restarts": 0,
            "create_calls": creates,
        },
    )
