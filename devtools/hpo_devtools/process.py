"""Server processes of the local test ground (devcluster's API server and etcd, devnode's node).

Both start programs with a log file each, wait for them with the log tail at hand when one dies,
and stop them with SIGTERM then SIGKILL. One copy of that here; each module keeps its own errors.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(eq=False)
class Process:
    """One server process: a child (`popen`) when we started it, else a pid from a state file.

    Compared by identity (a process is not its fields), so processes can be kept in sets.
    """

    name: str
    pid: int
    log: Path
    popen: subprocess.Popen[bytes] | None = None


def spawn(directory: Path, name: str, argv: Sequence[str], *, detached: bool) -> Process:
    """Start `argv` in `directory`, output to `directory/NAME.log`, in a session of its own.

    Unless `detached` (a server meant to outlive this process), the child dies with its parent.
    """
    log = directory / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=directory,
            start_new_session=True,
            preexec_fn=None if detached else parent_death_signal(),
        )
    return Process(name=name, pid=popen.pid, log=log, popen=popen)


def parent_death_signal() -> Callable[[], None] | None:
    """A preexec hook that makes the child get SIGKILL when its parent dies (Linux only).

    Why: a test run killed hard (timeout, OOM) must not leave an API server or a kubelet eating a
    shared CPU. libc is loaded here, in the parent, so that the child only makes one system call.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    prctl = libc.prctl
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGKILL))

    return hook


def alive(process: Process) -> bool:
    """Is the process still running? A zombie counts as gone: it holds no port and no memory."""
    if process.popen is not None:
        return process.popen.poll() is None
    try:
        stat = Path(f"/proc/{process.pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def terminate(process: Process, timeout: float, error: type[Exception]) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL and wait again: the process is gone after.

    Raises `error` if even SIGKILL left it running.
    """
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        if not alive(process):
            break
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, sig)
        if process.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=wait)
        else:
            poll(lambda: not alive(process), time.monotonic() + wait)
    if alive(process):
        raise error(f"{process.name} (pid {process.pid}) did not exit after SIGKILL")


def poll(condition: Callable[[], bool], deadline: float) -> bool:
    """Check `condition` with a growing pause (20 ms to 250 ms) until it holds or `deadline`."""
    delay = 0.02
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, 0.25)


def wait_for(condition: Callable[[], bool], process: Process, deadline: float) -> str | None:
    """Wait for `condition` while `process` runs: None once it holds, else why not."""
    exited = False

    def done() -> bool:
        nonlocal exited
        if condition():
            return True
        exited = not alive(process)
        return exited

    if poll(done, deadline) and not exited:
        return None
    if exited:
        code = process.popen.returncode if process.popen is not None else "?"
        return f"{process.name} exited with code {code}"
    return "timed out"


def tail(path: Path, lines: int = 40) -> str:
    """The last `lines` lines of a log, or "(no log)"."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
