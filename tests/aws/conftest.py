"""The real-AWS smoke test reuses the e2e harness (manifests, waits, the operator subprocess)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
