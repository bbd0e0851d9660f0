"""Keep the Kubernetes client libraries out of the operator process, and its memory small.

kopf imports the `kubernetes` client (and `kubernetes_asyncio`, `pykube`) at import time when they
are installed, only to recognise their objects; the operator never uses them (it logs in with
kopf's own kubeconfig/service-account readers). Measured with `python -m bench`: importing kopf
with the `kubernetes` client installed costs about 18 MB more RSS and 3 s more start-up. Dev
environments have it installed for the tests, so `hpo-operator run` blocks it explicitly.
"""

from __future__ import annotations

import sys

CLIENT_LIBRARIES = ("kubernetes", "kubernetes_asyncio", "pykube")


def prepare_operator_process() -> None:
    """What `hpo-operator run` does before it imports the runner (docs/performance.md, "Memory
    and imports"): client libraries blocked, SageMaker's model cut to the operator's subset and
    parsed first, while the process is still small and single-threaded."""
    from hpo_operator.model import awsmodel

    keep_client_libraries_out()  # before kopf is imported
    awsmodel.use_operator_subset()  # before the model is loaded
    awsmodel.preload()  # before the runner's imports (see awsmodel.preload)


def keep_client_libraries_out() -> None:
    """Make `import kubernetes` (etc.) fail in this process, unless already imported."""
    for name in CLIENT_LIBRARIES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
