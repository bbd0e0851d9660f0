"""`hpo-operator` that exits right after a SageMaker Create succeeds, before writing anything back:
the crash the kill-and-restart tests need (the job exists in SageMaker, the resource has no ARN).

Run as a script with the operator's arguments (`python crash_after_create.py run ...`); the e2e
harness does so for `OperatorProcess(..., command=CRASH_AFTER_CREATE)`. Test-only: the operator
itself has no such switch. It wraps the SageMaker client's `execute`, the port every call goes
through, so the process dies with EXIT_CODE the moment a Create returns without failing.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

EXIT_CODE = 17
CRASH_AFTER_CREATE = [sys.executable, __file__]


def install() -> None:
    """Wrap `SageMaker.execute` (and its `__call__` alias) in this process."""
    from hpo_operator.adapters.sagemaker import SageMaker
    from hpo_operator.core.types import AwsFailure, Call, Op

    execute = SageMaker.execute

    async def crash_after_create(self: SageMaker, call: Call) -> Mapping[str, Any] | AwsFailure:
        result = await execute(self, call)
        if call.op is Op.CREATE and not isinstance(result, AwsFailure):
            logging.getLogger("hpo_operator").warning(
                "exiting right after Create, before any write"
            )
            os._exit(EXIT_CODE)
        return result

    SageMaker.execute = crash_after_create  # type: ignore[method-assign]
    SageMaker.__call__ = crash_after_create  # type: ignore[method-assign]


def run_patched(patch: Callable[[], None]) -> int:
    """`hpo-operator` with `patch` applied right after `run` prepares the process (lean.py: the
    SageMaker model is cut and parsed before anything imports the adapter); for the test-only
    wrappers (this one, fence_only.py)."""
    from hpo_operator import cli
    from hpo_operator.shell import lean

    prepare = lean.prepare_operator_process

    def prepare_then_patch() -> None:
        prepare()
        patch()

    lean.prepare_operator_process = prepare_then_patch
    return cli.main()


def main() -> int:
    """`hpo-operator` with the wrapper installed."""
    return run_patched(install)


if __name__ == "__main__":
    sys.exit(main())
