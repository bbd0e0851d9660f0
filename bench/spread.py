"""The spread run: one operator, jobs in several accounts and regions through ACK's CARM.

K account-regions of PER jobs each (AWS caps concurrent tuning jobs at 100 per account and
region), laid out account by account over R regions: the i-th is account i // R in region i % R,
so 5 over 2 regions is 3 accounts × 2 regions minus one. That layout makes one role serve two
regions (its credentials are assumed per region, the operator's clients being per role and
region) and one region hold three accounts (one shared lister each). Each account-region is a
namespace annotated `services.k8s.aws/owner-account-id` and `services.k8s.aws/default-region`;
`ack-role-account-map` in the operator's namespace (`--carm-namespace`) maps every account to a
role in it, assumed through the emulator's STS (its keys are in the role's account, so every call
lands in that account's store). Every job is held InProgress (`Workload.hold_seconds`): once every
resource has its ARN and first status, a steady window of that length, then the run stops.

Reported, from the emulator's own counters (`by_store`): calls per in-progress job-hour per
account-region, in the steady window and over the whole run; AssumeRole calls; the operator's peak
and steady RSS; the time until every ARN.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import report
from bench.scale import (
    Operator,
    Seen,
    Watcher,
    Workload,
    _calls,
    _diff,
    create_resources,
    job_seconds,
    manifest,
)
from hpo_emulator.config import EmulatorConfig
from hpo_emulator.server import RunningEmulator, run_in_thread
from hpo_operator.identity import ANN_DEFAULT_REGION, ANN_OWNER_ACCOUNT, ROLE_ACCOUNT_MAP

REGIONS = ("us-west-2", "us-east-1", "eu-west-1", "ap-northeast-1", "eu-central-1")
ROLE_NAME = "hpo-bench-carm"
CREDENTIAL_SECONDS = 3600.0  # AssumeRole's default duration (the operator asks for no other)
REFRESH_BEFORE = 900.0  # botocore refreshes assumed-role credentials 15 min before they expire


@dataclass(frozen=True)
class Spread:
    """`places` account-regions of `per` jobs each, over `regions` regions."""

    places: int = 5
    per: int = 100
    regions: int = 2

    @classmethod
    def parse(cls, text: str, regions: int) -> Spread:
        """`KxPER` (e.g. `5x100`)."""
        places, _, per = text.lower().partition("x")
        spread = cls(int(places), int(per or 100), regions)
        if spread.places < 1 or spread.per < 1 or not 1 <= regions <= len(REGIONS):
            raise ValueError(f"--spread wants KxPER with K, PER ≥ 1 and 1-{len(REGIONS)} regions")
        return spread

    def layout(self) -> list[tuple[str, str]]:
        """(account, region) of each account-region: account by account, region by region."""
        return [
            (f"{100000000001 + i // self.regions}", REGIONS[i % self.regions])
            for i in range(self.places)
        ]


def role_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:role/{ROLE_NAME}"


def run(
    spread: Spread, w: Workload, kubeconfig: Path, api_client: Any, kubectl: str
) -> dict[str, Any]:
    """Apply every account-region's resources at once, hold, measure; the figures as a dict."""
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    tag = uuid.uuid4().hex[:5]
    system = f"bench-carm-{tag}"
    places = spread.layout()
    namespaces = [f"bench-spread-{tag}-{i}" for i in range(len(places))]
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=system)))
    core.create_namespaced_config_map(
        system,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=ROLE_ACCOUNT_MAP),
            data={account: role_arn(account) for account, _ in places},
        ),
    )
    for namespace, (account, region) in zip(namespaces, places, strict=True):
        annotations = {ANN_OWNER_ACCOUNT: account, ANN_DEFAULT_REGION: region}
        meta = client.V1ObjectMeta(name=namespace, annotations=annotations)
        core.create_namespace(client.V1Namespace(metadata=meta))
    config = EmulatorConfig(
        training_seconds=2 * w.hold_seconds + 3600,  # held: no training ends within the run
        startup_seconds=w.startup_seconds,
        stop_seconds=1.0,
        max_parallel_training_jobs=100,
    )  # default quotas: AWS-like token buckets per operation, account and region
    emulator = run_in_thread(config)
    watchers = [Watcher(api_client, namespace).start() for namespace in namespaces]
    operator = Operator(
        kubeconfig, emulator.url, namespaces, w, extra_args=["--carm-namespace", system]
    )
    stats = emulator.emulator.stats
    snapshots: list[tuple[float, dict[str, Any]]] = []
    rss_at: list[tuple[float, float]] = []
    held_from: float | None = None
    n = spread.places * spread.per
    try:
        stats.reset()
        applied_at = time.time()
        processes = max(1, w.apply_processes // len(namespaces))
        with ThreadPoolExecutor(len(namespaces)) as pool:
            for done in [
                pool.submit(
                    create_resources,
                    kubectl,
                    kubeconfig,
                    namespace,
                    [manifest(f"job-{i:05d}") for i in range(spread.per)],
                    processes,
                )
                for namespace in namespaces
            ]:
                done.result()
        apply_seconds = time.time() - applied_at
        deadline = applied_at + w.startup_seconds + 240 + n / 10 + w.hold_seconds
        while time.time() < deadline:
            now = time.time()
            snapshots.append((now, stats.document()))
            rss_at.append((now, operator.proc()["VmRSS"]))
            if held_from is None and _settled(w, n, watchers, emulator, now):
                held_from = now
            if held_from is not None and now >= held_from + w.hold_seconds:
                break
            time.sleep(2.0)
        ended = time.time()
        proc = operator.proc()
    finally:
        operator.stop()
        for watcher in watchers:
            watcher.stop()
        emulator.stop()
    final = stats.document()
    stores = {f"{a}/{r}": emulator.emulator.store_for(a, r) for a, r in places}
    whole = report.store_window(
        {},
        final,
        {k: job_seconds(s.jobs.values(), applied_at, ended, ended) for k, s in stores.items()},
    )
    steady: dict[str, dict[str, Any]] = {}
    window: dict[str, Any] = {"seconds": None, "job_hours": None, "calls": {},
                              "calls_per_job_hour": None}  # fmt: skip
    if held_from is not None:
        inside = [(t, doc) for t, doc in snapshots if t >= held_from]
        (t0, first), (t1, last) = inside[0], inside[-1]
        seconds = {k: job_seconds(s.jobs.values(), t0, t1, ended) for k, s in stores.items()}
        steady = report.store_window(first, last, seconds)
        calls = _diff(_calls(last), _calls(first))  # every account and region, STS included
        held_hours = sum(seconds.values()) / 3600
        window = {
            "seconds": round(t1 - t0, 1),
            "job_hours": round(held_hours, 3),
            "calls": calls,
            "calls_per_job_hour": round(sum(calls.values()) / held_hours, 2)
            if held_hours
            else None,
        }
    steady_rss = [r for t, r in rss_at if held_from is not None and t >= held_from] or [0.0]
    rows: list[dict[str, Any]] = []
    for namespace, (account, region) in zip(namespaces, places, strict=True):
        key = f"{account}/{region}"
        seen = watchers[namespaces.index(namespace)].snapshot()
        arns = [s.arn_at - applied_at for s in seen.values() if s.arn_at is not None]
        rows.append(
            {
                "account": account,
                "region": region,
                "namespace": namespace,
                "jobs": len(stores[key].jobs),
                "resources_with_arn": len(arns),
                "arn_all_seconds": round(max(arns), 1) if len(arns) == spread.per else None,
                "steady": steady.get(key) or {"calls_per_job_hour": None, "calls_total": 0},
                "run": whole[key],
            }
        )
    arn_all = [row["arn_all_seconds"] for row in rows]
    job_hours = sum(r["job_hours"] for r in whole.values())
    total = int(final["total"])  # every account and region, STS included
    sessions = list(emulator.emulator.accounts.sessions.values())
    assume = sum(final["operations"].get("sts:AssumeRole", {}).values())
    roles = {role_arn(account) for account, _ in places}
    duration = ended - applied_at
    return {
        "n": n,
        "per": spread.per,
        "accounts": len({account for account, _ in places}),
        "regions": len({region for _, region in places}),
        "polling": w.polling,
        "poll_interval": w.poll_interval,
        "startup_seconds": w.startup_seconds,
        "carm_namespace": system,
        "apply_seconds": round(apply_seconds, 1),
        "resources_with_arn": sum(row["resources_with_arn"] for row in rows),
        "arn_all_seconds": None if None in arn_all else max(a for a in arn_all if a is not None),
        "duration_seconds": round(duration, 1),
        "places": rows,
        "steady_window": window,
        "calls": final["operations"],
        "calls_total": total,
        "in_progress_job_hours": round(job_hours, 3),
        "calls_per_job_hour_total": round(total / job_hours, 2) if job_hours else None,
        "sts": {
            "assume_role": assume,
            "roles": len(roles),
            "role_regions": len(places),
            "expected_max": len(places)
            * report.spread_lifetimes(duration, CREDENTIAL_SECONDS, REFRESH_BEFORE),
            "sessions_per_role": {
                role: sum(1 for s in sessions if s.role_arn == role) for role in sorted(roles)
            },
            "calls_by_store": {
                place: doc["operations"]
                for place, doc in final["by_store"].items()
                if any(op.startswith("sts:") for op in doc["operations"])
            },
        },
        # VmHWM is updated lazily by the kernel: a sampled VmRSS can be above it
        "operator_peak_rss_mb": round(max([proc["VmHWM"], *(r for _, r in rss_at)]), 1),
        "steady_rss_min_mb": round(min(steady_rss), 1),
        "steady_rss_max_mb": round(max(steady_rss), 1),
        "operator_cpu_seconds": round(proc["cpu_seconds"], 1),
        "operator_log": str(operator.log_path),
    }


def _settled(
    w: Workload, n: int, watchers: list[Watcher], emulator: RunningEmulator, now: float
) -> bool:
    """Every resource has its ARN, and every job's trainings have started and its status shows
    it (a change after the first status) or had a poll interval to show it."""
    seen: list[Seen] = [s for watcher in watchers for s in watcher.snapshot().values()]
    if len(seen) < n or not all(s.arn_at for s in seen):
        return False
    if all(s.lags for s in seen):
        return True
    jobs = [job for store in list(emulator.emulator.stores.values()) for job in store.jobs.values()]
    last = max((job.created for job in jobs), default=now)
    return len(jobs) >= n and now >= last + w.startup_seconds + w.poll_interval
