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


def test_zero_or_an_explicit_mmap_threshold_leaves_glibc_alone() -> None:
    assert memory.fix_mmap_threshold(0, env={}) is False
    assert memory.fix_mmap_threshold(1 << 17, env={"MALLOC_MMAP_THRESHOLD_": "65536"}) is False


MAPPED_AFTER_A_BIG_FREE = """
import ctypes, sys
from hpo_operator.shell import memory
if sys.argv[1] == "fixed":
    assert memory.fix_mmap_threshold(128 * 1024, env={})
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split())]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
big = bytearray(4 << 20)  # mapped; freeing it raises glibc's own threshold to 4 MiB
del big
before = libc.mallinfo2().hblks
blocks = [bytearray(512 << 10) for _ in range(8)]  # a list page's response, say
print(libc.mallinfo2().hblks - before)
"""


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_a_fixed_threshold_keeps_large_blocks_out_of_the_heap() -> None:
    """What the setting is for: after one large block is freed, glibc's own threshold puts the
    next large blocks in the heap, whose top then stays; fixed, each is mapped and given back."""

    def mapped(mode: str) -> int:
        out = subprocess.run(
            [sys.executable, "-c", MAPPED_AFTER_A_BIG_FREE, mode],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return int(out.stdout)

    assert mapped("fixed") == 8
    assert mapped("glibc") == 0
