"""Where the operator's memory goes: with this folder on PYTHONPATH and BENCH_TRACEMALLOC set
to a file path, the process traces its allocations (tracemalloc, 1 frame) and, on SIGUSR2, writes
the largest live allocation sites grouped by file and line to that path. A measuring aid for
`python -m bench` (docs/performance.md, "Where the memory goes"); never in the image."""

from __future__ import annotations

import os
import signal
import tracemalloc
from types import FrameType

_PATH = os.environ.get("BENCH_TRACEMALLOC")


def _dump(signum: int, frame: FrameType | None) -> None:
    if not _PATH:
        return
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    total = sum(stat.size for stat in snapshot.statistics("filename"))
    with open(_PATH, "a") as out:
        out.write(f"== traced {total / 1e6:.1f} MB\n")
        for kind in ("filename", "lineno"):
            for stat in snapshot.statistics(kind)[:25]:
                out.write(f"{stat.size / 1e6:8.2f} MB {stat.count:8d} {stat.traceback}\n")
            out.write("--\n")


if _PATH:
    tracemalloc.start(1)
    signal.signal(signal.SIGUSR2, _dump)
