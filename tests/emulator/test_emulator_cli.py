"""`hpo-operator emulator` as a user runs it: a subprocess that prints its URL first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hpo_emulator.config import DEFAULT_QUOTAS
from hpo_emulator.server import parse_args
from support.emulator_client import client, request


def test_subprocess_prints_its_url_and_serves_boto3(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    cli = Path(sys.executable).with_name("hpo-operator")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "hpo_operator.cli"]
    proc = subprocess.Popen(
        [
            *command,
            "emulator",
            "--port",
            "0",
            "--training-seconds",
            "0.1",
            "--state-file",
            str(state),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()  # blocks until the server listens
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else url
        sm = client(url)
        sm.create_hyper_parameter_tuning_job(**request("from-cli"))
        described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="from-cli")
        assert described["HyperParameterTuningJobStatus"] in ("InProgress", "Completed")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert "from-cli" in state.read_text()  # SIGTERM writes the state file


def test_flags() -> None:
    config = parse_args(
        [
            "--port",
            "0",
            "--region",
            "eu-west-1",
            "--account-id",
            "000000000000",
            "--training-seconds",
            "0.2",
            "--seed",
            "9",
            "--throttle-rate",
            "0.1",
            "--error-rate",
            "0.2",
            "--latency-ms",
            "5",
            "--empty-page-rate",
            "0.5",
            "--quota",
            "ListHyperParameterTuningJobs=1",
            "--quota",
            "DescribeHyperParameterTuningJob=3:6",
        ]
    )
    assert (config.port, config.region, config.account_id) == (0, "eu-west-1", "000000000000")
    assert config.training_seconds == 0.2 and config.seed == 9
    assert config.stopping() == 0.2 and config.startup() == pytest.approx(0.02)
    assert (config.faults.throttle_rate, config.faults.error_rate) == (0.1, 0.2)
    assert config.faults.latency_ms == 5 and config.faults.empty_page_rate == 0.5
    assert config.quotas["ListHyperParameterTuningJobs"] == (1.0, 1.0)
    assert config.quotas["DescribeHyperParameterTuningJob"] == (3.0, 6.0)
    assert (
        config.quotas["CreateHyperParameterTuningJob"]
        == DEFAULT_QUOTAS["CreateHyperParameterTuningJob"]
    )
    assert parse_args(["--no-quotas"]).quotas == {}
    assert parse_args([]).port == 8090


@pytest.mark.parametrize(
    "bad", [["--quota", "NoEquals"], ["--error-rate", "1.5"], ["--training-seconds", "0"]]
)
def test_bad_flags_exit_2(bad: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_args(bad)
    assert exit_.value.code == 2
