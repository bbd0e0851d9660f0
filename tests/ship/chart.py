"""Rendering the Helm chart for tests: `helm template` with values, parsed into objects."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "hpo-operator"
GOLDEN = Path(__file__).resolve().parent / "golden"


class HelmError(AssertionError):
    """helm failed; the message carries its stderr."""


@dataclass(frozen=True)
class Helm:
    """The pinned helm binary, with a private HOME so no user config leaks in."""

    binary: Path
    home: Path

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 300.0
    ) -> subprocess.CompletedProcess[str]:
        env = {
            "HOME": str(self.home),
            "PATH": "/usr/bin:/bin",
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_DATA_HOME": str(self.home / "data"),
        }
        result = subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise HelmError(f"helm {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
        return result

    def template(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        release: str = "hpo",
        namespace: str = "hpo-system",
        extra: Iterable[str] = (),
    ) -> str:
        """`helm template` text for these values (passed as a JSON values file)."""
        args = ["template", release, str(CHART), "--namespace", namespace, *extra]
        if values:
            text = json.dumps(values, sort_keys=True)
            path = self.home / f"values-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
            path.write_text(text)
            args += ["--values", str(path)]
        return self(*args).stdout

    def objects(
        self, values: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        return parse(self.template(values, **kwargs))


def parse(text: str) -> list[dict[str, Any]]:
    """Every non-empty YAML document."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def only(objects: Iterable[Mapping[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [dict(o) for o in objects if o.get("kind") == kind]


def one(objects: Iterable[Mapping[str, Any]], kind: str) -> dict[str, Any]:
    found = only(objects, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def env_of(deployment: Mapping[str, Any]) -> dict[str, str]:
    """The operator container's plain env vars."""
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def rule_triples(rules: Iterable[Mapping[str, Any]]) -> set[tuple[str, str, str]]:
    """RBAC rules flattened to (apiGroup, resource, verb); no wildcards or resourceNames allowed."""
    triples: set[tuple[str, str, str]] = set()
    for rule in rules:
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule, rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    assert "*" not in (group, resource, verb), f"wildcard in {rule}"
                    triples.add((group, resource, verb))
    return triples


def memory_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity (`384Mi`, `400M`, `1Gi`) in bytes."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    match = re.fullmatch(r"(\d+)([KMG]i?)?", quantity)
    assert match, f"memory quantity {quantity!r}"
    return int(match[1]) * units.get(match[2] or "", 1)
