"""What `hpo-operator run` loads, and in which order (`lean.prepare_operator_process`).

Why: the operator's RSS is mostly what it imports (docs/performance.md, "Memory and imports").
These guards fail when a module that `run` does not need creeps back into its import graph, or
when SageMaker's model is parsed after the heavy imports again (which kept ~10 MB of freed
space scattered between long-lived objects). They check `sys.modules` in a fresh interpreter
that prepares itself exactly as `hpo-operator run` does; RSS figures belong to the benchmark.
"""

from __future__ import annotations

import json
import subprocess
import sys

# Never in the operator process: the Kubernetes client libraries (kopf only recognises their
# objects), boto3, pydantic (7.5 MB for the settings alone: settings.py reads them itself), and the
# subcommands and dev tools that `run` does not use.
NOT_IN_RUN = (
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "boto3",  # 2 MB with s3transfer and multiprocessing: sagemaker.py uses botocore directly
    "s3transfer",
    "kubernetes",
    "kubernetes_asyncio",
    "pykube",
    "hpo_emulator",  # separate distributions since issue 15: not even in the image
    "hpo_devtools",
    "hpo_operator.cli.render",
    "hpo_operator.model.schema",
    "hpo_operator.cli.kubeyaml",
    "hpo_operator.shell.rbac",
)
# Imported after the model is parsed, so their long-lived objects fill the space it freed.
HEAVY = ("kopf", "aiohttp", "prometheus_client", "yaml")

PROBE = """
import json, sys
from hpo_operator.shell.lean import prepare_operator_process
from hpo_operator.model import awsmodel

prepare_operator_process()
loader = awsmodel.botocore_session().get_component("data_loader")
parsed = sorted(key[1] for key in loader._cache if key[0] == "load_data_with_path")
before = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
import hpo_operator.shell.runner
loaded = sorted(m for m, module in sys.modules.items() if module is not None)
print(json.dumps({"parsed": parsed, "heavy_before": before, "loaded": loaded}))
"""


def _probe() -> dict[str, list[str]]:
    code = f"HEAVY = {HEAVY!r}\n" + PROBE
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    found: dict[str, list[str]] = json.loads(result.stdout)
    return found


def test_run_parses_the_model_before_the_heavy_imports_and_loads_nothing_it_does_not_use() -> None:
    found = _probe()
    assert "sagemaker/2017-07-24/service-2" in found["parsed"]
    assert "endpoints" in found["parsed"]
    assert found["heavy_before"] == []
    creeping = [
        m for m in found["loaded"] if any(m == n or m.startswith(n + ".") for n in NOT_IN_RUN)
    ]
    assert creeping == []
    assert "kopf" in found["loaded"]  # the probe did import what `run` imports
