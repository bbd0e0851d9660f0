"""`hpo-operator` whose kopf loses the wake-up after a delayed handler's sleep: the stall test's
fault (the wake-up is lost, as when the sleep is interrupted by an event that brings no retry).

Run as a script with the operator's arguments; the e2e harness does so for
`OperatorProcess(..., command=LOSE_WAKEUPS)`. Test-only: the operator itself has no such switch.
kopf's touch at the end of the sleep is dropped, so the handler's retry never runs unless
something else produces a watch event (the stall sweep). kopf's removal of the touch (None)
still happens.
"""

from __future__ import annotations

import sys
from typing import Any

import kopf

LOSE_WAKEUPS = [sys.executable, __file__]


def install() -> None:
    """Drop kopf's touch (a value) in this process; keep its removal (None)."""
    touch = kopf.AnnotationsProgressStorage.touch

    def lost(self: kopf.AnnotationsProgressStorage, *, body: Any, patch: Any, value: Any) -> None:
        if value is None:
            touch(self, body=body, patch=patch, value=value)

    kopf.AnnotationsProgressStorage.touch = lost  # type: ignore[method-assign]


def main() -> int:
    from hpo_operator import cli

    install()
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
