"""--state-file: an emulator restarted on the same file continues every job on the wall clock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hpo_emulator.statefile import load_state, save_state
from support.emulator_client import ManualClock, StartEmulator, client, config_with, request


def status(sm: Any, name: str) -> str:
    out: str = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
        "HyperParameterTuningJobStatus"
    ]
    return out


def test_restart_keeps_jobs_tags_stops_and_deletes(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "state.json"
    clock = ManualClock()
    first = start_emulator(clock=clock, state_file=path, startup_seconds=1.0, stop_seconds=1.0)
    sm = client(first.url)
    limits = {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 2}  # ends at +51
    for name in ("running", "stopped", "deleted"):
        config = config_with(ResourceLimits=limits) if name == "running" else config_with()
        sm.create_hyper_parameter_tuning_job(
            **request(
                name, HyperParameterTuningJobConfig=config, Tags=[{"Key": "k", "Value": name}]
            )
        )
    clock.advance(15)
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="stopped")
    before = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="running")
    arn = before["HyperParameterTuningJobArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "added", "Value": "later"}])
    clock.advance(10)
    trainings = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="deleted"
    )["TrainingJobSummaries"]
    clock.advance(100)
    sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="deleted")
    first.stop()  # writes the file on the way out
    assert path.exists()

    clock.advance(-100)  # back to +25: the restarted emulator sees the same instant
    second = start_emulator(clock=clock, state_file=path, startup_seconds=5.0, stop_seconds=5.0)
    sm = client(second.url)
    after = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="running")
    assert after["HyperParameterTuningJobStatus"] == "InProgress"
    assert after["CreationTime"] == before["CreationTime"]
    assert after["TrainingJobStatusCounters"]["Completed"] == 4  # waves ended at +11 and +21
    assert status(sm, "stopped") == "Stopped"
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "k", "Value": "running"},
        {"Key": "added", "Value": "later"},
    ]
    names = [
        s["HyperParameterTuningJobName"]
        for s in sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    ]
    assert names == ["running", "stopped"]
    # the deleted job's training jobs are still there, with the same results
    again = sm.describe_training_job(TrainingJobName=trainings[0]["TrainingJobName"])
    assert again["TrainingJobName"] == trainings[0]["TrainingJobName"]
    clock.advance(100)  # the job keeps its own timing (1 s startup), not the new flags
    final = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="running")
    assert final["HyperParameterTuningJobStatus"] == "Completed"
    assert (final["HyperParameterTuningEndTime"] - final["CreationTime"]).total_seconds() == 51


def test_state_file_is_written_while_running(start_emulator: StartEmulator, tmp_path: Path) -> None:
    import time

    path = tmp_path / "nested" / "state.json"
    emu = start_emulator(state_file=path, state_interval=0.05)
    client(emu.url).create_hyper_parameter_tuning_job(**request())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not path.exists():
        time.sleep(0.02)
    state = json.loads(path.read_text())
    assert state["version"] == 2
    [store] = state["stores"]
    assert (store["account"], store["region"]) == ("123456789012", "us-west-2")
    assert [job["request"]["HyperParameterTuningJobName"] for job in store["state"]["jobs"]] == [
        "job"
    ]
    assert not [p for p in path.parent.iterdir() if p.name != "state.json"]  # no temp files left


def test_save_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    save_state(path, {"version": 1, "jobs": []})
    save_state(path, {"version": 1, "jobs": [], "retired": []})
    assert load_state(path) == {"version": 1, "jobs": [], "retired": []}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]


def test_restart_keeps_every_region(start_emulator: StartEmulator, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    clock = ManualClock()
    first = start_emulator(clock=clock, state_file=path)
    client(first.url, region="us-east-1").create_hyper_parameter_tuning_job(**request("east"))
    client(first.url, region="eu-west-1").create_hyper_parameter_tuning_job(**request("europe"))
    first.stop()
    second = start_emulator(clock=clock, state_file=path)
    east = client(second.url, region="us-east-1")
    arn = east.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="east")[
        "HyperParameterTuningJobArn"
    ]
    assert arn.startswith("arn:aws:sagemaker:us-east-1:")
    europe = client(second.url, region="eu-west-1")
    names = europe.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    assert [s["HyperParameterTuningJobName"] for s in names] == ["europe"]
    assert second.store.jobs == {}  # the default region (us-west-2) has none


def test_a_version_1_file_loads_into_the_default_region(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "state.json"
    clock = ManualClock()
    first = start_emulator(clock=clock, state_file=path)
    client(first.url).create_hyper_parameter_tuning_job(**request("old"))
    first.stop()
    state = json.loads(path.read_text())
    save_state(path, state["stores"][0]["state"])  # what an emulator before regions wrote
    second = start_emulator(clock=clock, state_file=path)
    assert list(second.store.jobs) == ["old"]
