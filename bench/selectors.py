"""What another install's resources cost an operator whose `--watch-selectors` leaves them out.

`python -m bench.selectors [N]`: N resources labelled `team=b` in one namespace of a fresh local
API server; an operator selecting `team=a` watches that namespace, then (the baseline) an empty
one, then one with no selector watches the full namespace. Each runs for `WINDOW` seconds after
it is up; printed: RSS, peak RSS and CPU seconds. No SageMaker endpoint answers (the N resources
are nobody's here): the selector's point is that they never reach the process at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hpo_devtools.cluster import Binaries, DevCluster
from hpo_devtools.operator import OperatorProcess
from hpo_devtools.samples import sample_job

REPO = Path(__file__).resolve().parents[1]
WINDOW = 20.0  # seconds each operator runs after /healthz answers (`start` waits for it)
CHUNK = 200  # resources per kubectl apply


def main(count: int) -> dict[str, dict[str, float]]:
    binaries = Binaries.from_assets(os.environ.get("KUBEBUILDER_ASSETS"))
    kubectl = os.environ["KUBECTL"]
    logs = Path(tempfile.mkdtemp(prefix="hpo-bench-selectors-"))
    with DevCluster.temporary(binaries=binaries) as cluster:

        def run(*args: str, given: str | None = None) -> str:
            argv = [kubectl, f"--kubeconfig={cluster.kubeconfig}", *args]
            return subprocess.run(
                argv, input=given, capture_output=True, text=True, check=True
            ).stdout

        run("apply", "--server-side", "-f", str(REPO / "crds"))
        crd = "crd/hyperparametertuningjobs.sagemaker.services.k8s.aws"
        run("wait", "--for=condition=Established", "--timeout=60s", crd)
        for namespace in ("empty", "full"):
            run("create", "namespace", namespace)
        docs = []
        for i in range(count):
            manifest = sample_job(f"job-{i}")
            manifest["metadata"]["labels"] = {"team": "b"}
            docs.append(json.dumps(manifest))
        for start in range(0, count, CHUNK):
            run("apply", "-n", "full", "-f", "-", given="\n---\n".join(docs[start : start + CHUNK]))
        results: dict[str, dict[str, float]] = {}
        for namespace, selector in (("full", "team=a"), ("empty", "team=a"), ("full", "")):
            args = ["--namespace", namespace, "--region", "us-west-2"]
            args += ["--endpoint-url", "http://127.0.0.1:9", "--log-format", "text"]
            env = {"HPO_WATCH_SELECTORS": selector} if selector else {}
            label = f"{namespace} namespace, selector {selector or '(none)'}"
            log = logs / f"{namespace}-{selector or 'none'}.log"
            operator = OperatorProcess(cluster.kubeconfig, log, args, env).start()
            try:
                time.sleep(WINDOW)  # a bench window, not a test: what the process costs meanwhile
                proc = operator.proc()
            finally:
                operator.stop()
            results[label] = {
                "rss_mb": round(proc["VmRSS"], 1),
                "peak_mb": round(proc["VmHWM"], 1),
                "cpu_seconds": round(proc["cpu_seconds"], 2),
            }
            print(label, results[label], flush=True)
    return results


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
