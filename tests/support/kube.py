"""Small helpers over kubectl and the Kubernetes client, shared by fixtures and tests."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpo_devtools.wait import eventually


class KubectlError(AssertionError):
    """kubectl failed; the message has the command and its stderr, so a failing test says why."""


@dataclass(frozen=True)
class Kubectl:
    """Runs the pinned kubectl binary against one kubeconfig: `kubectl("get", "ns")`."""

    binary: str
    kubeconfig: Path

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        argv = [self.binary, f"--kubeconfig={self.kubeconfig}", *args]
        result = subprocess.run(
            argv, input=input, capture_output=True, text=True, check=False, timeout=timeout
        )
        if check and result.returncode != 0:
            raise KubectlError(
                f"{' '.join(argv)} exited {result.returncode}:\n{result.stderr.strip()}"
            )
        return result

    def json(self, *args: str) -> Any:
        """`kubectl ARGS -o json`, parsed."""
        return json.loads(self(*args, "-o", "json").stdout)

    def wait_for_condition(
        self, resource: str, condition: str, *args: str, timeout: float = 60.0
    ) -> dict[str, Any]:
        """Poll `kubectl get RESOURCE ARGS` until status condition `condition` is True.

        Why not `kubectl wait --for=condition=...`: it errors while the object has no conditions
        yet (a CRD just after apply).
        """

        def check() -> dict[str, Any]:
            obj: dict[str, Any] = self.json("get", resource, *args)
            conditions = (obj.get("status") or {}).get("conditions") or []
            states = {c.get("type"): c.get("status") for c in conditions}
            assert states.get(condition) == "True", f"{resource}: {condition} not True: {states}"
            return obj

        return eventually(check, timeout)

    def apply(self, manifest: str | dict[str, Any], *extra: str) -> str:
        """`kubectl apply -f -` with YAML text or one object (JSON is YAML); returns stdout."""
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        return self("apply", "-f", "-", *extra, input=text).stdout


def unique_name(hint: str, max_length: int = 63) -> str:
    """A DNS-1123 label from `hint` plus a random suffix, so reruns never collide."""
    base = re.sub(r"[^a-z0-9-]+", "-", hint.lower()).strip("-") or "t"
    suffix = secrets.token_hex(3)
    return f"{base[: max_length - len(suffix) - 1].rstrip('-')}-{suffix}"
