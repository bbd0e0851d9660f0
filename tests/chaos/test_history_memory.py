"""The crash-loop guard: the operator restarts on a 10,000-resource history under the chart's
memory limit, comes up and stays up.

Before parking, 4,000 finished resources made every start exceed the chart's 384 Mi: each
restart replayed the whole history, so the pod was OOM-killed for ever. Here the restarted
operator runs in a cgroup v1 memory cgroup as large as the chart's limit (what the kubelet
gives the pod), on 9,500 finished and 500 running resources built by an earlier operator
process. Building that history takes minutes, so this runs under `make chaos` only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import history
from ship.chart import Helm, memory_bytes, one
from support.faultkit import FULL
from support.kube import Kubectl

N, RUNNING = 10_000, 500


def chart_memory_limit_mib(helm: Helm) -> float:
    (container,) = one(helm.objects(), "Deployment")["spec"]["template"]["spec"]["containers"]
    return memory_bytes(container["resources"]["limits"]["memory"]) / 2**20


@pytest.mark.skipif(not FULL, reason="builds a 10,000-resource history: `make chaos` only")
@pytest.mark.timeout(3600)  # building the history takes ~9 minutes on 2 cores, the restart 3
def test_a_restart_on_a_long_history_stays_under_the_charts_memory_limit(
    kubeconfig: Path, k8s_api: Any, kubectl: Kubectl, chaos_crds: None, helm_bin: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    reason = history.environment_ok()
    if reason:
        pytest.fail(reason)
    limit = chart_memory_limit_mib(Helm(binary=helm_bin, home=tmp_path))
    found = history.history(
        N, RUNNING, kubeconfig, k8s_api, kubectl.binary, memory_limit_mb=limit, window=180.0
    )
    assert "restart_failed" not in found, found
    assert found["restart_oom_kills"] == 0, found
    assert found["restart_exit_code"] is None, found  # still running at the end of the window
    assert found["restart_peak_rss_mb"] < limit, found
    # Current again within 60 s; finished jobs cost no call, running ones at most one each.
    assert found["running_status_current_seconds"] is not None, found
    assert found["running_status_current_seconds"] <= 60, found
    per_job = ("DescribeHyperParameterTuningJob", "ListTags", "DescribeTrainingJob")
    assert sum(found["restart_calls"].get(op, 0) for op in per_job) <= RUNNING, found
