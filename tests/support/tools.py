"""Where the test ground's binaries are: the environment first, else `hack/build-tools.sh`.

Why both: `make test` exports KUBEBUILDER_ASSETS, KUBECTL and HELM from .cache/tools.env, while a
bare `.venv/bin/pytest` should still work, building the binaries once if the cache is cold.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_TOOLS = REPO / "hack" / "build-tools.sh"


@functools.cache
def _built_env() -> dict[str, str]:
    result = subprocess.run(
        [str(BUILD_TOOLS), "--print-env"],
        capture_output=True,
        text=True,
        check=False,
        timeout=3 * 3600,  # a cold Go build of kube-apiserver on two cores
    )
    if result.returncode != 0:
        raise RuntimeError(f"{BUILD_TOOLS} --print-env failed:\n{result.stderr}")
    pairs = (line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def tool(name: str) -> str:
    """`KUBEBUILDER_ASSETS`, `KUBECTL` or `HELM`: from the environment, else from build-tools.sh."""
    return os.environ.get(name) or _built_env()[name]
