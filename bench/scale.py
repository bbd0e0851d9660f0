"""One scale run: N HyperParameterTuningJob resources applied at once, one polling strategy.

Real kube-apiserver (hpo_devtools.cluster), the SageMaker emulator in this process (AWS-like
per-operation quotas, a lifecycle compressed to minutes), `hpo-operator run` as a subprocess. A
watch on the resources records when each got its ARN, every status change and every
resourceVersion; the emulator's `/_emulator/stats` counters give the calls; /proc of the operator
gives its peak RSS and CPU seconds.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpo_devtools.operator import OperatorProcess
from hpo_devtools.samples import sample_job
from hpo_emulator.config import EmulatorConfig
from hpo_emulator.server import RunningEmulator, run_in_thread
from hpo_emulator.store import Store
from hpo_emulator.tuningjob import TuningJob
from hpo_operator.model.timestamps import parse_timestamp

GROUP, VERSION, PLURAL = "sagemaker.services.k8s.aws", "v1alpha1", "hyperparametertuningjobs"
FINISHED = ("Completed", "Failed", "Stopped")


@dataclass(frozen=True)
class Workload:
    """What is applied and how the emulated jobs behave."""

    n: int
    polling: str  # shared | per-resource
    poll_interval: float = 30.0
    fast_interval: float = 5.0
    training_seconds: float = 240.0  # one wave of trainings: a job is InProgress this long
    startup_seconds: float = 20.0  # Create → first trainings start (a change)
    waves_mix: int = 1  # job i runs 1 + i % waves_mix waves: 1 = every job alike (lockstep)
    apply_processes: int = 8  # parallel `kubectl create` processes, each with a share of N
    operator_env: tuple[tuple[str, str], ...] = ()  # extra environment for the operator
    # > 0: ACK's measurement. Jobs are held InProgress (their trainings never end within the run);
    # once every resource has its ARN and first status, the run goes on this long (the steady
    # window) and stops without waiting for any job to finish.
    hold_seconds: float = 0.0


@dataclass
class Seen:
    """What the watch saw of one resource."""

    versions: set[str] = field(default_factory=set)
    created_at: float | None = None  # metadata.creationTimestamp (whole seconds)
    arn_at: float | None = None
    modified: str | None = None
    state: str | None = None
    finished_at: float | None = None
    lags: list[float] = field(default_factory=list)
    changes_at: list[float] = field(default_factory=list)  # when the watch saw each change
    completed: int | None = None  # status.trainingJobStatusCounters.completed
    # Finished with its results read (top training jobs at the final count, the best one's
    # model artifact): the run's calls then include every read a job costs (core/results.py).
    results_at: float | None = None


def _results_read(status: dict[str, Any]) -> bool:
    """The job's results in status are those of its final state (`core/results.py`)."""
    completed = (status.get("trainingJobStatusCounters") or {}).get("completed") or 0
    best = (status.get("bestTrainingJob") or {}).get("trainingJobName")
    artifacts = (status.get("bestTrainingJobModelArtifacts") or {}).get("trainingJobName")
    listed = completed == 0 or status.get("topTrainingJobsCompleted") == completed
    return listed and artifacts == best


def manifest(name: str, waves: int = 1) -> dict[str, Any]:
    """The repository's example whose job runs `waves` waves of two trainings."""
    return sample_job(name, strategy="Random", max_jobs=2 * waves, parallel=2)


def _epoch(text: str) -> float:
    return parse_timestamp(text).timestamp()


class Watcher:
    """Watches the namespace's resources from a thread and records what it sees, when."""

    def __init__(self, api_client: Any, namespace: str) -> None:
        from kubernetes import client

        self.api = client.CustomObjectsApi(api_client)
        self.namespace = namespace
        self.seen: dict[str, Seen] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-watch", daemon=True)

    def start(self) -> Watcher:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)

    def _run(self) -> None:
        from kubernetes import watch

        version: str | None = None
        while not self.stopping.is_set():
            stream = watch.Watch()
            try:
                for event in stream.stream(
                    self.api.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    self.namespace,
                    PLURAL,
                    resource_version=version,
                    timeout_seconds=5,
                ):
                    body = event["object"]
                    version = body.get("metadata", {}).get("resourceVersion") or version
                    self._record(body, time.time())
                    if self.stopping.is_set():
                        stream.stop()
            except Exception as error:  # an expired resourceVersion: start over from now
                version = None
                print(f"bench: watch restarted ({error})", file=sys.stderr)

    def _record(self, body: dict[str, Any], now: float) -> None:
        meta = body.get("metadata") or {}
        status = body.get("status") or {}
        with self.lock:
            seen = self.seen.setdefault(str(meta.get("name")), Seen())
            seen.versions.add(str(meta.get("resourceVersion")))
            if seen.created_at is None and meta.get("creationTimestamp"):
                seen.created_at = _epoch(str(meta["creationTimestamp"]))
            arn = (status.get("ackResourceMetadata") or {}).get("arn")
            if arn and seen.arn_at is None:
                seen.arn_at = now
            modified = status.get("lastModifiedTime")
            if modified and modified != seen.modified:
                if seen.modified is not None:  # a change SageMaker made after the first status
                    seen.lags.append(now - _epoch(str(modified)))
                    seen.changes_at.append(now)
                seen.modified = str(modified)
            state = status.get("hyperParameterTuningJobStatus")
            seen.state = state
            counters = status.get("trainingJobStatusCounters") or {}
            if isinstance(counters.get("completed"), int):
                seen.completed = counters["completed"]
            if state in FINISHED and seen.finished_at is None:
                seen.finished_at = now
            if seen.finished_at is not None and seen.results_at is None and _results_read(status):
                seen.results_at = now

    def snapshot(self) -> dict[str, Seen]:
        with self.lock:
            return dict(self.seen)


def _join(cgroup: Path) -> None:
    """In the child, before exec: move this process into `cgroup`."""
    (cgroup / "cgroup.procs").write_text(str(os.getpid()))


class Operator(OperatorProcess):
    """`hpo-operator run` for one workload, started at once (`hpo_devtools.operator`), with
    /proc readings (`proc()`)."""

    def __init__(
        self,
        kubeconfig: Path,
        endpoint: str,
        namespace: str | Sequence[str],
        w: Workload,
        cgroup: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        """`namespace`: the one watched, or several; `cgroup`: a cgroup folder the process joins
        before it starts (a memory limit); `extra_args`: more `run` flags."""
        namespaces = [namespace] if isinstance(namespace, str) else list(namespace)
        args = [arg for ns in namespaces for arg in ("--namespace", ns)]
        args += ["--region", "us-west-2", "--endpoint-url", endpoint, *extra_args]
        args += ["--poll-interval", str(w.poll_interval), "--log-format", "text"]
        # BENCH_OPERATOR_LOG_LEVEL=INFO (or DEBUG) keeps more of the operator's log, to find
        # out after a run why a resource was left behind; more lines cost the operator CPU.
        args += ["--log-level", os.environ.get("BENCH_OPERATOR_LOG_LEVEL", "WARNING")]
        env = {"HPO_POLLING": w.polling, "HPO_POLL_FAST_INTERVAL": str(w.fast_interval)}
        env.update(dict(w.operator_env))
        log = Path(f"/tmp/hpo-bench-operator-{namespaces[0]}.log")
        log.unlink(missing_ok=True)
        preexec = None if cgroup is None else lambda: _join(cgroup)
        super().__init__(kubeconfig, log, args, env, preexec=preexec)
        self.start()


def create_resources(
    kubectl: str, kubeconfig: Path, namespace: str, items: list[dict[str, Any]], processes: int
) -> float:
    """`kubectl create -f -` of `items` split over `processes` parallel processes; seconds."""
    began = time.time()
    chunks = [items[i::processes] for i in range(min(processes, len(items)))]
    creators = [
        subprocess.Popen(
            [kubectl, "--kubeconfig", str(kubeconfig), "create", "-n", namespace, "-f", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        for _ in chunks
    ]
    for creator, chunk in zip(creators, chunks, strict=True):
        assert creator.stdin is not None
        creator.stdin.write(json.dumps({"apiVersion": "v1", "kind": "List", "items": chunk}))
        creator.stdin.close()
    for creator in creators:
        if creator.wait() != 0:
            raise RuntimeError("kubectl create failed")
    return time.time() - began


def _calls(document: dict[str, Any]) -> dict[str, int]:
    return {op: sum(outcomes.values()) for op, outcomes in document["operations"].items()}


def _diff(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {op: n - before.get(op, 0) for op, n in after.items() if n - before.get(op, 0)}


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _job_seconds(
    emulator: RunningEmulator, start: float, end: float, until: float, store: Store | None = None
) -> float:
    """In-progress seconds of every job (of `store`, else the default one) inside [start, end]
    (a job runs until its terminal)."""
    return job_seconds((store or emulator.store).jobs.values(), start, end, until)


def job_seconds(jobs: Iterable[TuningJob], start: float, end: float, until: float) -> float:
    """In-progress seconds of `jobs` inside [start, end] (a job runs until its terminal)."""
    total = 0.0
    for job in list(jobs):
        finish = job.terminal[1] if job.terminal is not None else until
        total += max(0.0, min(finish, end) - max(job.created, start))
    return total


def run(w: Workload, kubeconfig: Path, api_client: Any, kubectl: str) -> dict[str, Any]:
    """Apply N resources at once and follow them to the end; the measurements as a dict."""
    from kubernetes import client

    namespace = f"bench-{w.polling}-{w.n}-{uuid.uuid4().hex[:5]}"
    client.CoreV1Api(api_client).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace))
    )
    config = EmulatorConfig(
        training_seconds=max(w.training_seconds, 2 * w.hold_seconds + 3600)
        if w.hold_seconds
        else w.training_seconds,
        startup_seconds=w.startup_seconds,
        stop_seconds=1.0,
        max_parallel_training_jobs=100,
    )  # default quotas: AWS-like token buckets per operation
    emulator = run_in_thread(config)
    watcher = Watcher(api_client, namespace).start()
    operator = Operator(kubeconfig, emulator.url, namespace, w)
    names = [f"job-{i:05d}" for i in range(w.n)]
    snapshots: list[tuple[float, dict[str, int]]] = []
    rss: list[float] = []
    rss_at: list[tuple[float, float]] = []  # (time, VmRSS MB)
    held_from: float | None = None  # hold mode: when every resource had its first change
    try:
        items = [manifest(name, 1 + i % w.waves_mix) for i, name in enumerate(names)]
        emulator.emulator.stats.reset()
        applied_at = time.time()

        create_resources(kubectl, kubeconfig, namespace, items, w.apply_processes)
        apply_seconds = time.time() - applied_at
        lifetime = w.startup_seconds + w.training_seconds
        deadline = applied_at + lifetime + (w.waves_mix - 1) * w.training_seconds + 240 + w.n / 10
        if w.hold_seconds:
            deadline = applied_at + w.startup_seconds + 240 + w.n / 10 + w.hold_seconds
        while time.time() < deadline:
            seen = watcher.snapshot()
            now = time.time()
            snapshots.append((now, _calls(emulator.emulator.stats.document())))
            rss.append(operator.proc()["VmRSS"])
            rss_at.append((now, rss[-1]))
            if w.hold_seconds:
                if held_from is None and _settled(w, seen, emulator, now):
                    held_from = now
                if held_from is not None and now >= held_from + w.hold_seconds:
                    break
            elif len(seen) == w.n and all(s.finished_at and s.results_at for s in seen.values()):
                break
            time.sleep(2.0)
        ended = time.time()
        proc = operator.proc()
    finally:
        operator.stop()
        watcher.stop()
        emulator.stop()
    seen = watcher.snapshot()
    stats_doc = emulator.emulator.stats.document()
    calls = _calls(stats_doc)
    arn_times = [s.arn_at - applied_at for s in seen.values() if s.arn_at is not None]
    arn_latency = [
        s.arn_at - s.created_at
        for s in seen.values()
        if s.arn_at is not None and s.created_at is not None
    ]
    lags = [lag for s in seen.values() for lag in s.lags]
    job_hours = _job_seconds(emulator, applied_at, ended, ended) / 3600
    total = sum(calls.values())

    # The quiet window: from the last change reported before any job finished (so every job has
    # started its trainings and its status shows it) to just before the first job finishes. The
    # calls in it are what watching costs when there is nothing to report.
    ends = [j.terminal[1] for j in emulator.store.jobs.values() if j.terminal is not None]
    window: dict[str, Any] = {}
    held: dict[str, Any] = {}
    if held_from is not None:  # hold mode: the steady window is the quiet window
        inside = [(t, c) for t, c in snapshots if t >= held_from]
        steady_rss = [r for t, r in rss_at if t >= held_from]
        window = _window(emulator, inside, ended)
        held = {
            "hold_seconds": window["seconds"],
            "steady_rss_min_mb": round(min(steady_rss), 1),
            "steady_rss_max_mb": round(max(steady_rss), 1),
        }
    elif ends:
        stop = min(ends) - 5
        before = [t for s in seen.values() for t in s.changes_at if t < stop]
        start = (max(before) if before else applied_at) + 5
        inside = [(t, c) for t, c in snapshots if start <= t <= stop]
        if len(inside) >= 2 and inside[-1][0] - inside[0][0] > 30:
            window = _window(emulator, inside, ended)
    return {
        "n": w.n,
        "polling": w.polling,
        "poll_interval": w.poll_interval,
        "fast_interval": w.fast_interval,
        "training_seconds": w.training_seconds,
        "startup_seconds": w.startup_seconds,
        "waves_mix": w.waves_mix,
        "apply_seconds": round(apply_seconds, 1),
        "resources_with_arn": len(arn_times),
        "arn_all_seconds": round(max(arn_times), 1) if len(arn_times) == w.n else None,
        "arn_p50_seconds": round(_percentile(arn_times, 50) or 0.0, 1),
        "arn_after_apply_p50_seconds": _round(_percentile(arn_latency, 50)),
        "arn_after_apply_max_seconds": _round(max(arn_latency) if arn_latency else None),
        "operator_env": dict(w.operator_env),
        "finished": sum(1 for s in seen.values() if s.finished_at),
        "completed": sum(1 for s in seen.values() if s.state == "Completed"),
        "duration_seconds": round(ended - applied_at, 1),
        "in_progress_job_hours": round(job_hours, 3),
        "calls": stats_doc["operations"],
        "calls_total": total,
        "calls_per_job_hour": {op: round(n / job_hours, 2) for op, n in calls.items()},
        "calls_per_job_hour_total": round(total / job_hours, 2) if job_hours else None,
        "calls_per_job": round(total / w.n, 2),
        "quiet_window": window,
        "status_changes": len(lags),
        "lag_p50_seconds": _round(_percentile(lags, 50)),
        "lag_p95_seconds": _round(_percentile(lags, 95)),
        "lag_max_seconds": _round(max(lags) if lags else None),
        "operator_peak_rss_mb": round(proc["VmHWM"], 1),
        "hold": held,
        "operator_rss_every_10s_mb": [round(x) for x in rss[::5]],
        "operator_cpu_seconds": round(proc["cpu_seconds"], 1),
        "apiserver_writes_per_job": round(
            statistics.mean(len(s.versions) - 1 for s in seen.values()) if seen else 0.0, 2
        ),
        "operator_log": str(operator.log_path),
    }


def _settled(w: Workload, seen: dict[str, Seen], emulator: RunningEmulator, now: float) -> bool:
    """Hold mode: every resource has its ARN, and every job's trainings have started and its
    status shows it (a change after the first status) or had a poll interval to show it."""
    if len(seen) < w.n or not all(s.arn_at for s in seen.values()):
        return False
    if all(s.lags for s in seen.values()):
        return True
    jobs = list(emulator.store.jobs.values())
    last = max((job.created for job in jobs), default=now)
    return len(jobs) >= w.n and now >= last + w.startup_seconds + w.poll_interval


def _window(
    emulator: RunningEmulator, inside: list[tuple[float, dict[str, int]]], ended: float
) -> dict[str, Any]:
    """The calls between the first and last snapshot `inside`, per in-progress job-hour."""
    (t0, c0), (t1, c1) = inside[0], inside[-1]
    hours = _job_seconds(emulator, t0, t1, ended) / 3600
    in_window = _diff(c1, c0)
    return {
        "seconds": round(t1 - t0, 1),
        "job_hours": round(hours, 3),
        "calls": in_window,
        "calls_per_job_hour": round(sum(in_window.values()) / hours, 2) if hours else None,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
