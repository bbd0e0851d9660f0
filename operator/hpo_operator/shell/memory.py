"""glibc's allocator, tuned for a long-running operator process.

Measured (docs/performance.md, "Memory and imports"): most of the operator's heap is long-lived
(imported code), and what a burst of work frees is scattered between it, so glibc keeps it. Two
knobs, both from `hpo-operator run`'s settings:

- `HPO_MALLOC_ARENA_MAX` (2): glibc gives each thread that allocates its own arena, up to 8 per
  core; the boto3 thread pool would each keep their freed memory apart. 0 leaves glibc's
  default, and an explicit `MALLOC_ARENA_MAX` in the environment always wins.
- `HPO_MALLOC_TRIM_INTERVAL` (60 s): `malloc_trim(0)` gives the free pages inside the heap back to
  the kernel (after start-up, then at this interval). 0 turns it off.
- `HPO_MALLOC_MMAP_THRESHOLD` (128 KiB): blocks this large or larger get their own mapping,
  returned to the kernel when freed. glibc starts there too but raises the threshold to the
  size of each mapped block freed (up to 32 MiB), after which a list page's response (1-2 MB)
  lands in the heap, whose top then stays: measured +5.3 MB of heap, 5.7 MB of it the free top,
  after the first stall sweep at N = 1,000. Setting it fixes it (glibc's `mallopt` semantics).
  0 leaves glibc's dynamic threshold; an explicit `MALLOC_MMAP_THRESHOLD_` always wins.

Elsewhere (musl, macOS) both are no-ops.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import sys
from functools import cache

M_ARENA_MAX = -8  # glibc's mallopt parameters
M_MMAP_THRESHOLD = -3


@cache
def _glibc() -> ctypes.CDLL | None:
    """The process's C library when it is glibc (it has both `mallopt` and `malloc_trim`)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    if not (hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim")):
        return None
    return libc


def _mallopt(param: int, value: int, env_name: str, env: dict[str, str] | None) -> bool:
    """glibc's `mallopt(param, value)` unless `value` <= 0 or `env_name` is set (glibc reads it
    itself, and it wins); True when applied."""
    env = dict(os.environ) if env is None else env
    libc = _glibc()
    if value <= 0 or env_name in env or libc is None:
        return False
    return bool(libc.mallopt(param, value))


def limit_arenas(arenas: int, env: dict[str, str] | None = None) -> bool:
    """At most `arenas` malloc arenas (call before threads start); True when applied."""
    return _mallopt(M_ARENA_MAX, arenas, "MALLOC_ARENA_MAX", env)


def fix_mmap_threshold(size: int, env: dict[str, str] | None = None) -> bool:
    """Blocks of `size` bytes or more always mapped on their own; True when applied."""
    return _mallopt(M_MMAP_THRESHOLD, size, "MALLOC_MMAP_THRESHOLD_", env)


def trim() -> bool:
    """Give free heap pages back to the kernel; True when glibc released memory."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


async def trim_every(interval: float) -> None:
    """Trim now, then every `interval` seconds, until cancelled (never when `interval` <= 0)."""
    if interval <= 0:
        return
    while True:
        trim()
        await asyncio.sleep(interval)
