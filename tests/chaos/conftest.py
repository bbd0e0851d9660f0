"""Fixtures of the fault suite (defined in fault_fixtures.py, shared with tests/security)."""

from __future__ import annotations

import sys
from pathlib import Path

for _folder in ("e2e", "chaos"):
    _path = str(Path(__file__).resolve().parents[1] / _folder)
    if _path not in sys.path:
        sys.path.insert(0, _path)

from fault_fixtures import chaos_crds, emulators, operators, own_api, own_cluster, resources  # noqa: E402

__all__ = ["chaos_crds", "emulators", "operators", "own_api", "own_cluster", "resources"]
