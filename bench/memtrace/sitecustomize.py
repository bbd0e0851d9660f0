"""Where the operator's memory goes, for `python -m bench` (docs/performance.md, "Where the rest
goes"); never in the image. With this folder on PYTHONPATH, in the `run` process:

- BENCH_TRACEMALLOC=FILE: the process traces its allocations (tracemalloc, 1 frame) and, on
  SIGUSR2, appends the largest live allocation sites grouped by file and line to FILE;
- BENCH_MALLOCSTATS=FILE (without tracemalloc, whose hooks hide CPython's allocator): on SIGUSR2,
  appends CPython's `sys._debugmallocstats()` (arenas, pools and blocks per size class) to FILE;
- BENCH_MEMTRACE_AT=S1,S2,...: also at these seconds after start, as if signalled (a scale run
  has no moment to signal from, and its burst is over in seconds).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import tracemalloc
from types import FrameType

_PATH = os.environ.get("BENCH_TRACEMALLOC")
_STATS = os.environ.get("BENCH_MALLOCSTATS")
_AT = [float(s) for s in os.environ.get("BENCH_MEMTRACE_AT", "").split(",") if s.strip()]


def _rss() -> str:
    with open("/proc/self/status") as status:
        return " ".join(line.split()[1] for line in status if line.startswith(("VmRSS", "VmHWM")))


def _trace() -> None:
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    total = sum(stat.size for stat in snapshot.statistics("filename"))
    with open(str(_PATH), "a") as out:
        out.write(f"== traced {total / 1e6:.1f} MB\n")
        for kind in ("filename", "lineno"):
            for stat in snapshot.statistics(kind)[:25]:
                out.write(f"{stat.size / 1e6:8.2f} MB {stat.count:8d} {stat.traceback}\n")
            out.write("--\n")


def _mallocstats(label: str) -> None:
    """CPython writes the statistics to the C stderr: point it at the file for the call."""
    fd = os.open(str(_STATS), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, f"##### {label}: VmRSS VmHWM (kB) {_rss()}\n".encode())
    saved = os.dup(2)
    try:
        os.dup2(fd, 2)
        sys._debugmallocstats()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)


def _dump(label: str) -> None:
    if _PATH:
        _trace()
    if _STATS:
        _mallocstats(label)


def _signalled(signum: int, frame: FrameType | None) -> None:
    _dump("SIGUSR2")


def _timed() -> None:
    started = time.monotonic()
    for at in _AT:
        time.sleep(max(0.0, started + at - time.monotonic()))
        _dump(f"t={at:g}s")


if (_PATH or _STATS) and "run" in sys.argv:
    if _PATH:
        tracemalloc.start(1)
    signal.signal(signal.SIGUSR2, _signalled)
    if _AT:
        threading.Thread(target=_timed, name="memtrace", daemon=True).start()
