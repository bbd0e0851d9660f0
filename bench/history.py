"""History and burst: what a long-lived, busy cluster costs the operator.

history(N, running): N resources, of which `running` keep their jobs InProgress and the rest have
finished, built by one operator process; then that process stops and a fresh one starts on the
same cluster and emulator, as a restart or an upgrade does. Measured: RSS before the restart,
after it (peak, at 60 s, steady), the SageMaker calls the restart costs (finished jobs must cost
none, running ones at most one each) and how long until every running job's status shows what
changed while the operator was down. With `memory_limit_mb` the new process runs in a memory
cgroup of that size (the chart's limit), so an OOM kill shows as it would in a pod.

burst(N): N resources in one `kubectl create -f`; every one must reach its final state.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.scale import (
    FINISHED,
    Operator,
    Seen,
    Watcher,
    Workload,
    _calls,
    _diff,
    _percentile,
    _round,
    create_resources,
    manifest,
)
from hpo_emulator.config import DEFAULT_QUOTAS, EmulatorConfig
from hpo_emulator.server import RunningEmulator, run_in_thread

_NONE = Seen()  # a resource the watch has not seen yet
TRAINING_SECONDS = 20.0  # one wave: a running job's status changes this often
RUNNING_WAVES = 375  # 750 trainings, AWS's default cap per tuning job: ~2 h InProgress
BUILD_CREATE_RATE = "CreateHyperParameterTuningJob=200:400"  # building history is not measured
CGROUP_ROOT = Path("/sys/fs/cgroup/memory")  # cgroup v1's memory controller


def _namespace(api_client: Any, kind: str, n: int) -> str:
    from kubernetes import client

    namespace = f"bench-{kind}-{n}-{uuid.uuid4().hex[:5]}"
    client.CoreV1Api(api_client).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace))
    )
    return namespace


@contextmanager
def memory_cgroup(limit_mb: float | None) -> Iterator[Path | None]:
    """A cgroup v1 memory cgroup of `limit_mb` (no swap), removed afterwards; None without one."""
    if limit_mb is None:
        yield None
        return
    path = CGROUP_ROOT / f"hpo-bench-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    try:
        (path / "memory.limit_in_bytes").write_text(str(int(limit_mb * 1024 * 1024)))
        swap = path / "memory.memsw.limit_in_bytes"
        if swap.exists():
            swap.write_text(str(int(limit_mb * 1024 * 1024)))
        yield path
    finally:
        for _ in range(50):
            try:
                path.rmdir()
                break
            except OSError:
                time.sleep(0.1)


def _oom_kills(cgroup: Path | None) -> int:
    if cgroup is None:
        return 0
    for line in (cgroup / "memory.oom_control").read_text().splitlines():
        if line.startswith("oom_kill "):
            return int(line.split()[1])
    return int((cgroup / "memory.failcnt").read_text().strip() != "0")


def _emulator(quotas: dict[str, tuple[float, float]] | None = None) -> RunningEmulator:
    config = EmulatorConfig(
        training_seconds=TRAINING_SECONDS,
        startup_seconds=2.0,
        stop_seconds=1.0,
        max_parallel_training_jobs=100,
        quotas=quotas or dict(DEFAULT_QUOTAS),
    )
    return run_in_thread(config)


def history(
    n: int,
    running: int,
    kubeconfig: Path,
    api_client: Any,
    kubectl: str,
    *,
    downtime: float = 30.0,
    window: float = 180.0,
    memory_limit_mb: float | None = None,
    operator_env: tuple[tuple[str, str], ...] = (),
) -> dict[str, Any]:
    """Build the history with one operator, restart, measure the new process."""
    namespace = _namespace(api_client, "history", n)
    quotas = dict(DEFAULT_QUOTAS)
    quotas["CreateHyperParameterTuningJob"] = (200.0, 400.0)
    emulator = _emulator(quotas)
    watcher = Watcher(api_client, namespace).start()
    names = [f"job-{i:05d}" for i in range(n)]
    running_names = set(names[n - running :])
    items = [manifest(name, RUNNING_WAVES if name in running_names else 1) for name in names]
    base = Workload(n=n, polling="shared", operator_env=operator_env)
    build = replace(base, operator_env=(*operator_env, ("HPO_AWS_RATE_LIMITS", BUILD_CREATE_RATE)))
    result: dict[str, Any] = {"n": n, "running": running, "finished": n - running}
    try:
        began = time.time()
        builder = Operator(kubeconfig, emulator.url, namespace, build)
        try:
            result["apply_seconds"] = round(
                create_resources(kubectl, kubeconfig, namespace, items, 8), 1
            )
            deadline = began + 900 + n / 5
            while time.time() < deadline:
                seen = watcher.snapshot()
                done = sum(1 for name, s in seen.items() if s.finished_at)
                follow = sum(1 for name in running_names if (seen.get(name) or _NONE).lags)
                if done == n - running and follow == running:
                    break
                time.sleep(2.0)
            else:
                raise RuntimeError(f"history not built in time: {done} finished, {follow} running")
            result["build_seconds"] = round(time.time() - began, 1)
            _trace(builder, "built")
            result["rss_before_restart_mb"] = round(builder.proc()["VmRSS"], 1)
            result["peak_rss_while_building_mb"] = round(builder.proc()["VmHWM"], 1)
        finally:
            builder.stop()
        time.sleep(downtime)  # the jobs go on while no operator runs
        store = emulator.store
        now = time.time()
        completed = {
            name: store.jobs[name.lower()].counters(now)[0]["Completed"] for name in running_names
        }  # what each running job's status must show again
        emulator.emulator.stats.reset()
        with memory_cgroup(memory_limit_mb) as cgroup:
            result.update(_restart(kubeconfig, emulator, namespace, base, watcher, completed,
                                   window, cgroup))  # fmt: skip
        result["memory_limit_mb"] = memory_limit_mb
    finally:
        watcher.stop()
        emulator.stop()
    return result


def _restart(kubeconfig: Path, emulator: RunningEmulator, namespace: str, w: Workload,
             watcher: Watcher, completed: dict[str, int], window: float,
             cgroup: Path | None) -> dict[str, Any]:  # fmt: skip
    started = time.time()
    try:
        operator = Operator(kubeconfig, emulator.url, namespace, w, cgroup=cgroup)
    except RuntimeError as error:  # it exited before it was healthy (an OOM kill, say)
        return {"restart_failed": str(error)[-500:], "restart_oom_kills": _oom_kills(cgroup)}
    rss: list[tuple[float, float]] = []
    current_at: float | None = None
    exited: int | None = None
    try:
        while time.time() < started + window:
            exited = operator.process.poll()
            if exited is not None:
                break
            now = time.time()
            rss.append((now - started, operator.proc()["VmRSS"]))
            if current_at is None:
                seen = watcher.snapshot()
                if all(
                    ((seen.get(name) or _NONE).completed or 0) >= count
                    for name, count in completed.items()
                ):
                    current_at = now - started
            time.sleep(1.0)
        proc = operator.proc() if exited is None else {}
        if exited is None:
            _trace(operator, "restarted")
    finally:
        operator.stop()
    calls = _calls(emulator.emulator.stats.document())
    steady = [r for t, r in rss if t >= window - 60]
    at_60 = [r for t, r in rss if t >= 60]
    return {
        "restart_exit_code": exited,
        "restart_oom_kills": _oom_kills(cgroup),
        "restart_peak_rss_mb": round(proc.get("VmHWM", max((r for _, r in rss), default=0)), 1),
        "restart_rss_at_60s_mb": round(at_60[0], 1) if at_60 else None,
        "restart_steady_rss_min_mb": round(min(steady), 1) if steady else None,
        "restart_steady_rss_max_mb": round(max(steady), 1) if steady else None,
        "restart_calls": calls,
        "restart_calls_total": sum(calls.values()),
        "running_status_current_seconds": _round(current_at),
        "restart_window_seconds": window,
        "restart_rss_every_5s_mb": [round(r) for _, r in rss[::5]],
        "operator_log": str(operator.log_path),
    }


def _trace(operator: Operator, moment: str) -> None:
    """With BENCH_TRACEMALLOC set (and bench/memtrace on PYTHONPATH), have the operator write its
    largest live allocations to that file now."""
    path = os.environ.get("BENCH_TRACEMALLOC")
    if not path:
        return
    with open(path, "a") as out:
        out.write(f"### {moment}: VmRSS {operator.proc()['VmRSS']:.1f} MB\n")
    operator.process.send_signal(signal.SIGUSR2)
    time.sleep(20)  # a snapshot of a large heap takes a while; the file says when it is done


def burst(n: int, kubeconfig: Path, api_client: Any, kubectl: str, *,
          operator_env: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:  # fmt: skip
    """N resources by one `kubectl create -f`, each job one short wave; all must finish."""
    namespace = _namespace(api_client, "burst", n)
    emulator = _emulator()
    watcher = Watcher(api_client, namespace).start()
    items = [manifest(f"job-{i:05d}") for i in range(n)]
    w = Workload(n=n, polling="shared", operator_env=operator_env)
    operator = Operator(kubeconfig, emulator.url, namespace, w)
    rss: list[float] = []
    try:
        applied = time.time()
        apply_seconds = create_resources(kubectl, kubeconfig, namespace, items, 1)
        # Create's quota (20/s) bounds the run: n / 19 s, plus a job's life and slack.
        deadline = applied + n / 15 + 600
        progress_at, progress = applied, 0
        while time.time() < deadline:
            seen = watcher.snapshot()
            finished = sum(1 for s in seen.values() if s.finished_at)
            rss.append(operator.proc()["VmRSS"])
            if finished > progress:
                progress_at, progress = time.time(), finished
            if finished == n:
                break
            time.sleep(2.0)
        ended = time.time()
        proc = operator.proc()
    finally:
        operator.stop()
        watcher.stop()
        emulator.stop()
    seen = watcher.snapshot()
    left = sorted(name for name, s in seen.items() if not s.finished_at)
    ends = [s.finished_at - applied for s in seen.values() if s.finished_at]
    return {
        "n": n,
        "apply_seconds": round(apply_seconds, 1),
        "finished": len(ends),
        "left_behind": len(left) + (n - len(seen)),
        "left_behind_names": left[:20],
        "all_finished_seconds": round(max(ends), 1) if len(ends) == n else None,
        "finished_p50_seconds": _round(_percentile(ends, 50)),
        "last_progress_seconds": round(progress_at - applied, 1),
        "duration_seconds": round(ended - applied, 1),
        "peak_rss_mb": round(proc["VmHWM"], 1),
        "calls": _diff(_calls(emulator.emulator.stats.document()), {}),
        "operator_log": str(operator.log_path),
        "operator_env": dict(operator_env),
        "finished_states": sorted({s.state or "" for s in seen.values()} & set(FINISHED)),
    }


def environment_ok() -> str | None:
    """Why a memory cgroup cannot be made here, or None."""
    if not CGROUP_ROOT.is_dir() or not os.access(CGROUP_ROOT, os.W_OK):
        return f"no writable cgroup v1 memory controller at {CGROUP_ROOT}"
    return None
