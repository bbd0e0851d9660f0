"""glibc allocator tuning of `hpo-operator run` (`memory.py`, settings `HPO_MALLOC_*`).

Why: freed memory scattered between long-lived objects stays in the process unless glibc is told
to give it back; these check the knobs are applied as documented (memory.py, settings.py), not
how much they save (that is the benchmark's job).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from hpo_operator.shell import memory
from hpo_operator.shell.settings import Settings

GLIBC = memory._glibc() is not None


def test_the_defaults_and_the_environment_variables() -> None:
    settings = Settings()
    assert (settings.malloc_arena_max, settings.malloc_trim_interval) == (2, 60.0)


def test_the_environment_sets_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HPO_MALLOC_ARENA_MAX", "0")
    monkeypatch.setenv("HPO_MALLOC_TRIM_INTERVAL", "0")
    settings = Settings()
    assert (settings.malloc_arena_max, settings.malloc_trim_interval) == (0, 0.0)


def test_zero_or_an_explicit_malloc_arena_max_leaves_glibc_alone() -> None:
    assert memory.limit_arenas(0, env={}) is False
    assert memory.limit_arenas(2, env={"MALLOC_ARENA_MAX": "4"}) is False


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_on_glibc_the_limit_is_applied_and_trim_runs() -> None:
    code = (
        "from hpo_operator.shell import memory; "
        "print(memory.limit_arenas(2, env={}), isinstance(memory.trim(), bool))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["True", "True"]


def test_trim_every_zero_returns_at_once() -> None:
    asyncio.run(asyncio.wait_for(memory.trim_every(0), timeout=5))


def test_trim_every_trims_at_start_and_stops_when_cancelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    trimmed = asyncio.Event()

    def fake_trim() -> bool:
        calls.append(1)
        trimmed.set()
        return True

    monkeypatch.setattr(memory, "trim", fake_trim)

    async def scenario() -> None:
        task = asyncio.create_task(memory.trim_every(3600))
        await asyncio.wait_for(trimmed.wait(), timeout=5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert calls == [1]
