"""On the real clock, as the operator's tests and the demo use it: fast trainings, many clients."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hpo_devtools.wait import wait_for
from support.emulator_client import StartEmulator, client, request


def test_fast_lifecycle_on_the_wall_clock(start_emulator: StartEmulator) -> None:
    emu = start_emulator(training_seconds=0.1)
    sm = client(emu.url)
    sm.create_hyper_parameter_tuning_job(**request())

    def status() -> str:
        found: str = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="job")[
            "HyperParameterTuningJobStatus"
        ]
        return found

    wait_for(lambda: status() == "Completed")
    d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="job")
    assert d["TrainingJobStatusCounters"]["Completed"] == 4
    assert d["HyperParameterTuningEndTime"] >= d["CreationTime"]


def test_many_clients_at_once(start_emulator: StartEmulator) -> None:
    emu = start_emulator(training_seconds=0.2)

    def work(worker: int) -> list[str]:
        sm = client(emu.url)
        names = []
        for i in range(15):
            name = f"w{worker}-{i}"
            sm.create_hyper_parameter_tuning_job(**request(name))
            sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
            sm.list_hyper_parameter_tuning_jobs(NameContains=f"w{worker}-", MaxResults=5)
            names.append(name)
        return names

    with ThreadPoolExecutor(max_workers=8) as pool:
        created = [n for names in pool.map(work, range(8)) for n in names]
    sm = client(emu.url)
    listed: list[Any] = []
    for page in sm.get_paginator("list_hyper_parameter_tuning_jobs").paginate():
        listed += page["HyperParameterTuningJobSummaries"]
    assert sorted(s["HyperParameterTuningJobName"] for s in listed) == sorted(created)
    wait_for(
        lambda: (
            not sm.list_hyper_parameter_tuning_jobs(StatusEquals="InProgress")[
                "HyperParameterTuningJobSummaries"
            ]
        )
    )
    completed = sm.list_hyper_parameter_tuning_jobs(StatusEquals="Completed", MaxResults=100)
    assert len(completed["HyperParameterTuningJobSummaries"]) == 100
