"""Keep the Kubernetes client libraries out of the operator process.

kopf imports the `kubernetes` client (and `kubernetes_asyncio`, `pykube`) at import time when they
are installed, only to recognise their objects; the operator never uses them (it logs in with
kopf's own kubeconfig/service-account readers). Measured with `python -m bench`: importing kopf
with the `kubernetes` client installed costs about 18 MB more RSS and 3 s more start-up. Dev
environments have it installed for the tests, so `hpo-operator run` blocks it explicitly.
"""

from __future__ import annotations

import sys

CLIENT_LIBRARIES = ("kubernetes", "kubernetes_asyncio", "pykube")


def keep_client_libraries_out() -> None:
    """Make `import kubernetes` (etc.) fail in this process, unless already imported."""
    for name in CLIENT_LIBRARIES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
