"""How many cases each fuzz test draws: the full count under `make chaos`, a CI-sized one else.

`HPO_CHAOS_FULL=1` (set by `make chaos`) asks for at least 1,000 cases per test; `make test` runs
the same tests with fewer, so CI stays within a couple of minutes on two cores.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

FULL = bool(os.environ.get("HPO_CHAOS_FULL"))
FULL_EXAMPLES = 1000
CI_EXAMPLES = 60


def fuzz_settings(ci: int = CI_EXAMPLES, full: int = FULL_EXAMPLES) -> settings:
    """Hypothesis settings: no deadline (a busy machine), the size picked by HPO_CHAOS_FULL."""
    return settings(
        max_examples=full if FULL else ci,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
        derandomize=not FULL,  # CI: the same cases every run; `make chaos`: new ones each time
    )
