"""Emulator throughput at 100 and 10,000 tuning jobs (a benchmark, not a test).

    .venv/bin/python -m bench.emulator_bench [--sizes 100 10000]   # from the repository root

For each size it creates the jobs through boto3, then times Describe and List calls, both over
HTTP with boto3 (what a client sees) and in-process (the emulator's own cost, without HTTP and
botocore). Jobs stay InProgress (1-hour trainings), the worst case for List filters.
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config

from hpo_emulator import EmulatorConfig, run_in_thread
from hpo_emulator.operations import call
from tests.support.emulator_client import BASE_REQUEST


def rate(label: str, count: int, fn: Callable[[int], Any]) -> None:
    began = time.perf_counter()
    for i in range(count):
        fn(i)
    elapsed = time.perf_counter() - began
    print(f"  {label:<58} {count / elapsed:9.0f} ops/s  ({elapsed / count * 1000:7.2f} ms/op)")


def bench(size: int) -> None:
    print(f"{size} tuning jobs")
    config = EmulatorConfig(quotas={}, training_seconds=3600.0)
    with run_in_thread(config) as emu:
        sm = boto3.client(
            "sagemaker",
            endpoint_url=emu.url,
            region_name="us-west-2",
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        )

        def create(i: int) -> None:
            req = copy.deepcopy(BASE_REQUEST)
            req["HyperParameterTuningJobName"] = f"bench-{i:05d}"
            sm.create_hyper_parameter_tuning_job(**req)

        rate("Create (boto3, HTTP)", size, create)
        names = [f"bench-{i:05d}" for i in range(size)]
        rng = random.Random(0)

        def describe(_: int) -> None:
            sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=rng.choice(names))

        rate("Describe (boto3, HTTP)", 500, describe)
        recent = datetime.now(UTC) - timedelta(seconds=1)
        lists: dict[str, dict[str, Any]] = {
            "List MaxResults=100 (sort by Name)": {"MaxResults": 100},
            "List StatusEquals=InProgress, SortBy=CreationTime": {
                "StatusEquals": "InProgress",
                "SortBy": "CreationTime",
                "MaxResults": 100,
            },
            "List LastModifiedTimeAfter=now-1s (poller query)": {
                "LastModifiedTimeAfter": recent,
                "MaxResults": 100,
            },
            "List NameContains=00042": {"NameContains": "00042", "MaxResults": 100},
        }
        for label, params in lists.items():
            rate(
                f"{label} (boto3, HTTP)",
                50,
                lambda _, p=params: sm.list_hyper_parameter_tuning_jobs(**p),
            )
        store = emu.store
        now = time.time()
        for label, params in lists.items():
            raw = {k: v.timestamp() if isinstance(v, datetime) else v for k, v in params.items()}
            rate(
                f"{label} (in-process)",
                50,
                lambda _, p=raw: call(store, "ListHyperParameterTuningJobs", p, now),
            )
        rate(
            "Describe (in-process)",
            2000,
            lambda _: call(
                store,
                "DescribeHyperParameterTuningJob",
                {"HyperParameterTuningJobName": rng.choice(names)},
                now,
            ),
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000])
    args = parser.parse_args()
    for size in args.sizes:
        bench(size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
