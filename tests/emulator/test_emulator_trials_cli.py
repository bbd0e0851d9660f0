"""`hpo-operator trials` against the emulator: a 750-trial job paged through (8 pages of 100),
every row in the table, JSON that parses in the order asked for, the watch view following a job to
its end on the emulator's clock, and the plot's PNG opened and looked at."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib import image

from hpo_emulator import RunningEmulator
from hpo_operator.cli import trialplot, trials
from hpo_operator.cli.trialrows import job_info, trial_from_summary
from support.carm import ROLE, TARGET, calls, sagemaker_in
from support.emulator_client import ManualClock, StartEmulator, client, config_with, request

BIG = "big"
TRIALS = 750


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator's default account, through the default credential chain as a user has it."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def create(emulator: RunningEmulator, name: str, total: int, parallel: int) -> Any:
    sm = client(emulator.url)
    config = config_with(
        Strategy="Random",
        ResourceLimits={"MaxNumberOfTrainingJobs": total, "MaxParallelTrainingJobs": parallel},
    )
    config.pop("TrainingJobEarlyStoppingType")
    sm.create_hyper_parameter_tuning_job(**request(name, HyperParameterTuningJobConfig=config))
    return sm


@pytest.fixture(scope="module")
def big() -> Any:
    """An emulator on a manual clock holding one finished 750-trial job (module-wide: building
    it is the slow part)."""
    from hpo_emulator import EmulatorConfig, run_in_thread

    clock = ManualClock()
    config = EmulatorConfig(quotas={}, training_seconds=10.0, startup_seconds=1.0)
    emulator = run_in_thread(config, clock)
    sm = create(emulator, BIG, TRIALS, 100)
    while (
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=BIG)[
            "HyperParameterTuningJobStatus"
        ]
        != "Completed"
    ):
        clock.advance(60)
    yield emulator
    emulator.stop()


def run(emulator: RunningEmulator, job: str, *argv: str, **kwargs: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = ["--job-name", job, "--region", "us-west-2", "--endpoint-url", emulator.url, *argv]
    code = trials.main(args, out=out, err=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


def list_calls(emulator: RunningEmulator) -> int:
    """Calls of ListTrainingJobsForHyperParameterTuningJob so far, whatever their outcome."""
    outcomes = calls(emulator).get("operations", {})
    return sum(outcomes.get("ListTrainingJobsForHyperParameterTuningJob", {}).values())


def test_750_trials_are_paged_into_one_table(big: RunningEmulator, aws_env: None) -> None:
    before = list_calls(big)
    code, out, err = run(big, BIG)
    assert code == 0, err
    assert list_calls(big) - before == 8  # pages of 100 (AWS's maximum)
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["NAME", "STATUS", "OBJECTIVE", "DURATION"]
    assert len(lines) == 1 + TRIALS
    objectives = [float(line.split()[2]) for line in lines[1:]]
    assert objectives == sorted(objectives)  # Minimize: best first
    assert "listing trials" not in err  # stderr is no terminal here


@pytest.mark.parametrize(
    ("argv", "key", "descending"),
    [
        ((), "objective", False),
        (("--sort", "objective", "--order", "desc"), "objective", True),
        (("--sort", "name", "--order", "desc"), "name", True),
        (("--sort", "created"), "created", False),
    ],
)
def test_json_parses_in_the_order_asked_for(
    big: RunningEmulator, aws_env: None, argv: tuple[str, ...], key: str, descending: bool
) -> None:
    code, out, _ = run(big, BIG, "-o", "json", *argv)
    assert code == 0
    doc = json.loads(out)
    rows = doc["trials"]
    assert len(rows) == TRIALS and len({r["name"] for r in rows}) == TRIALS
    values = [r[key] for r in rows]
    assert values == sorted(values, reverse=descending)
    assert doc["tuningJob"]["objectiveMetric"] == "validation:error"
    best = min(rows, key=lambda r: r["objective"])
    assert doc["tuningJob"]["bestTrainingJob"] == best["name"]
    assert all(r["status"] == "Completed" and r["durationSeconds"] > 0 for r in rows)


def test_a_status_filter_reaches_the_emulator(big: RunningEmulator, aws_env: None) -> None:
    code, out, _ = run(big, BIG, "--status", "Failed", "-o", "yaml")
    assert code == 0
    assert "trials: []" in out


def test_watch_follows_a_job_to_its_end_on_the_emulators_clock(
    start_emulator: StartEmulator, clock: ManualClock, aws_env: None
) -> None:
    emulator = start_emulator(clock=clock, startup_seconds=1.0)
    create(emulator, "live", 12, 3)
    code, out, err = run(emulator, "live", "--watch", "-o", "json", sleep=clock.advance)
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    finished = {e["name"] for e in events if e["status"] == "Completed"}
    assert len(finished) == 12
    assert any(e["status"] == "InProgress" for e in events)  # it saw them running first
    counters = [line for line in err.splitlines() if line.startswith("live: ")]
    assert counters[-1].startswith("live: Completed · trials Completed=12 InProgress=0")
    assert len(counters) > 2  # the counters were printed as they moved


@pytest.fixture(scope="module")
def figure_and_png(big: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> Any:
    sm = client(big.url)
    info = job_info(
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=BIG), "us-west-2"
    )
    pages = sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
    rows = [
        trial_from_summary(s)
        for page in pages.paginate(HyperParameterTuningJobName=BIG)
        for s in page["TrainingJobSummaries"]
    ]
    path = tmp_path_factory.mktemp("plot") / "trials.png"
    return trialplot.plot(info, rows, path), path


def test_the_figure_has_its_panels_and_labels(figure_and_png: Any) -> None:
    figure, _ = figure_and_png
    top, eta, rounds = figure.axes
    assert top.get_ylabel() == "validation:error (lower is better)"
    assert top.get_xlabel() == "trial, in completion order (count)"
    assert any(text.get_text().startswith("best: big-") for text in top.get_legend().get_texts())
    assert (eta.get_xlabel(), eta.get_xscale()) == ("eta (log scale)", "log")  # Logarithmic
    assert (rounds.get_xlabel(), rounds.get_xscale()) == ("num_round", "linear")
    assert eta.get_ylabel() == rounds.get_ylabel() == "validation:error"
    assert len(top.collections[0].get_offsets()) == TRIALS


def test_the_png_is_a_picture_with_marks_in_every_panel(figure_and_png: Any) -> None:
    figure, path = figure_and_png
    pixels = image.imread(path)
    assert pixels.shape[:2] == (620, 1000)  # 10 x 6.2 inches at 100 dpi
    rgb = pixels[:, :, :3]
    assert rgb.std() > 0.05  # not blank
    height = pixels.shape[0]
    for ax in figure.axes:
        box = ax.get_window_extent()
        inside = rgb[int(height - box.y1) : int(height - box.y0), int(box.x0) : int(box.x1)]
        marked = (np.abs(inside - 1.0).sum(axis=2) > 0.3).mean()  # not white
        assert marked > 0.01, f"{ax.get_xlabel()}: nothing drawn"
    assert path.stat().st_size < 200_000


def test_html_is_one_page_with_the_figure_as_svg(
    big: RunningEmulator, aws_env: None, tmp_path: Path
) -> None:
    target = tmp_path / "trials.html"
    code, _, err = run(big, BIG, "--plot", str(target), "--limit", "1")
    assert code == 0
    assert f"wrote {target}" in err
    page = target.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<title>Trials of big</title>" in page
    assert page.count("<svg") == 1 and "<?xml" not in page


class Terminal(io.StringIO):
    """stderr as a terminal: the command shows its progress there."""

    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_the_listing_progress(big: RunningEmulator, aws_env: None) -> None:
    out, err = io.StringIO(), Terminal()
    args = ["--job-name", BIG, "--region", "us-west-2", "--endpoint-url", big.url]
    assert trials.main(args, out=out, err=err) == 0
    shown = err.getvalue()
    steps = [f"\rlisting trials: {n} of {TRIALS}" for n in range(100, TRIALS, 100)]
    assert all(step in shown for step in steps), shown
    assert shown.endswith("\r\033[K")  # the line is cleared before the table
    assert len(out.getvalue().splitlines()) == 1 + TRIALS


def test_watching_750_trials_lists_only_back_to_the_running_ones(
    start_emulator: StartEmulator, clock: ManualClock, aws_env: None
) -> None:
    emulator = start_emulator(clock=clock, startup_seconds=1.0)
    create(emulator, "wide", TRIALS, 100)
    pages: list[int] = []  # List calls made before each of the command's waits

    def sleep(seconds: float) -> None:
        pages.append(list_calls(emulator))
        clock.advance(seconds)

    code, out, err = run(emulator, "wide", "--watch", "-o", "json", "--interval", "5", sleep=sleep)
    assert code == 0, err
    finished = {e["name"] for e in json.loads(f"[{','.join(out.splitlines())}]")}
    assert len(finished) == TRIALS  # every trial seen, each printed when it changed
    per_poll = [b - a for a, b in zip([0, *pages], pages, strict=False)]
    full = list_calls(emulator) - pages[-1]
    assert max([*per_poll, full]) <= 3, per_poll  # never the 8 pages of the whole job


def test_role_arn_reads_a_job_in_another_account(
    start_emulator: StartEmulator, clock: ManualClock, aws_env: None
) -> None:
    emulator = start_emulator(clock=clock, startup_seconds=1.0)
    sm = sagemaker_in(emulator, TARGET)
    config = config_with(
        ResourceLimits={"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 3}
    )
    sm.create_hyper_parameter_tuning_job(**request("far", HyperParameterTuningJobConfig=config))
    clock.advance(60)
    code, _, err = run(emulator, "far")  # the user's own account (123456789012) has no such job
    assert code == 1 and "ResourceNotFound" in err
    code, out, err = run(emulator, "far", "--role-arn", ROLE, "-o", "json")
    assert code == 0, err
    document = json.loads(out)
    assert document["tuningJob"]["arn"].split(":")[4] == TARGET
    assert len(document["trials"]) == 3


def test_the_readmes_picture_is_what_its_documented_command_draws(
    tmp_path: Path, aws_env: None
) -> None:
    from hack import trials_picture  # sets AWS keys: aws_env puts the environment back after

    drawn = tmp_path / "trials.png"
    assert trials_picture.main([str(drawn)]) == 0
    committed = trials_picture.REPO / "docs" / "trials.png"
    assert committed.stat().st_size < 200_000
    new, old = image.imread(drawn), image.imread(committed)
    assert new.shape == old.shape
    assert np.abs(new - old).mean() < 0.01  # the same picture (font rendering may differ a hair)
