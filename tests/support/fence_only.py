"""`hpo-operator` whose Lease renewal never gives up: it renews while it can and, once the Lease is
lost, just goes on trying, so the only thing that can stop it acting is the fence (the acting
deadline checked before every SageMaker request and every API write; `shell/election.py`).

Run as a script with the operator's arguments (`python fence_only.py run ...`); the e2e tests of
leader election do so for a leader they pause and resume, to show that the fence alone keeps it
from acting. Test-only: the operator itself has no such switch.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

FENCE_ONLY = [sys.executable, __file__]


def install() -> None:
    """Replace `Elector.keep` in this process with a loop that never calls `Fence.lose`."""
    from hpo_operator.shell.election import Elector

    async def keep_quietly(self: Elector) -> None:
        while True:
            await asyncio.sleep(self.timing.retry_period)
            with contextlib.suppress(Exception):
                await self.try_once(self.timing.retry_period, leading=True)

    Elector.keep = keep_quietly  # type: ignore[method-assign]


def main() -> int:
    """`hpo-operator` with the replacement installed (run as a script: this folder is on the
    path)."""
    from crash_after_create import run_patched

    return run_patched(install)


if __name__ == "__main__":
    sys.exit(main())
