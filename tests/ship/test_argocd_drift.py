"""No GitOps drift: after the operator has run a job to Completed, diffing the original manifest
against the live object (what Argo CD does) shows nothing, for server-side and client-side apply.

Why: ACK's controller writes spec (late initialization), so Argo CD shows every job OutOfSync.
This operator writes only status and its own annotations; this test holds it to that, with the
operator running under the chart's RBAC.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hpo_devtools.wait import wait_for
from hpo_emulator.server import RunningEmulator
from ship.chart import Helm
from ship.live import JOBS, completed, operator_under_chart, sample_job
from support.kube import Kubectl, unique_name

pytestmark = pytest.mark.e2e

APPLY = {
    "server-side": ("--server-side", "--field-manager=argocd-controller"),
    "client-side": (),
}


def test_reconciled_jobs_show_no_diff(
    helm: Helm,
    kubeconfig: Path,
    kubectl: Kubectl,
    namespace: str,
    emulator: RunningEmulator,
    release: str,
    tmp_path: Path,
) -> None:
    operator = operator_under_chart(
        helm, kubeconfig, kubectl, release, namespace, emulator.url, tmp_path
    )
    manifests = {}
    try:
        wait_for(operator.ready, 60, "the operator's /readyz")
        for mode, flags in APPLY.items():
            manifest = sample_job(unique_name(f"drift-{mode[0]}", max_length=32))
            path = tmp_path / f"{mode}.yaml"
            path.write_text(yaml.safe_dump(manifest))
            kubectl("apply", *flags, "-n", namespace, "-f", str(path))
            manifests[mode] = (manifest["metadata"]["name"], path)
        for name, _ in manifests.values():
            wait_for(lambda n=name: completed(kubectl, namespace, n), 120, f"{name} to complete")
    finally:
        operator.stop()
    for mode, (name, path) in manifests.items():
        live = kubectl.json("get", JOBS, name, "-n", namespace)
        assert live["status"]["conditions"], "the operator wrote no status"
        diff = kubectl("diff", *APPLY[mode], "-n", namespace, "-f", str(path), check=False)
        assert diff.returncode == 0, f"{mode} apply shows drift:\n{diff.stdout}{diff.stderr}"
        assert diff.stdout == ""
