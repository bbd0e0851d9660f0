"""`make bench`'s report: ACK's measured figures read from the capture folder, beside ours, as
ratios (bench/report.py). A small fixture folder, then the real one (skipped when absent)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import report
from support import ack_capture

README = """# What ACK's sagemaker-controller v1.9.1 really did

- `scale-n100-*-stats.json`: N=100 jobs held InProgress. Burst: create until every ARN (31.4 s).
  Steady: a 600 s window, 4,010 calls (3,985 Describe + 25 throttled) = 240.6 calls per
  in-progress job-hour. Peak RSS 76.0 MB, steady 73.4–75.6 MB.
"""


@pytest.fixture
def captured(tmp_path: Path) -> Path:
    (tmp_path / "README.md").write_text(README)
    steady = {
        "total": 4010,
        "operations": {"DescribeHyperParameterTuningJob": {"ThrottlingException": 25, "ok": 3985}},
        "jobs": 100,
        "active_jobs": 100,
    }
    (tmp_path / "scale-n100-steady-600s-stats.json").write_text(json.dumps(steady))
    return tmp_path


def _run(n: int, quiet: float, arn: float, rss: float) -> dict[str, Any]:
    return {
        "n": n,
        "polling": "shared",
        "poll_interval": 30.0,
        "arn_all_seconds": arn,
        "resources_with_arn": n,
        "finished": n,
        "calls_per_job_hour_total": 12.5,
        "calls_per_job_hour": {"ListHyperParameterTuningJobs": 2.0},
        "quiet_window": {"calls_per_job_hour": quiet},
        "lag_p50_seconds": 5.0,
        "lag_p95_seconds": 9.0,
        "operator_peak_rss_mb": rss,
        "operator_cpu_seconds": 4.0,
        "apiserver_writes_per_job": 6.0,
    }


def _results(measured: dict[str, Any] | None, *runs: dict[str, Any]) -> dict[str, Any]:
    results: dict[str, Any] = {
        "ack": {
            "measured": measured,
            "computed_calls_per_job_hour": report.ACK_COMPUTED_CALLS_PER_JOB_HOUR,
        },
        "runs": list(runs),
    }
    results["targets"] = report.targets(results)
    return results


def test_ack_measured_reads_the_stats_and_the_readme(captured: Path) -> None:
    measured = report.ack_measured(captured)
    assert measured is not None
    assert measured["controller"] == "ACK sagemaker-controller v1.9.1"
    assert measured["n"] == 100 and measured["steady_window_seconds"] == 600
    assert measured["calls_per_job_hour"] == 240.6  # 4,010 calls / (100 jobs · 600 s)
    assert measured["arn_all_seconds"] == 31.4
    assert measured["peak_rss_mb"] == 76.0


def test_ack_measured_is_none_without_the_folder(tmp_path: Path) -> None:
    assert report.ack_measured(tmp_path / "absent") is None


def test_the_table_puts_ours_beside_acks_measured_figures_as_ratios(captured: Path) -> None:
    results = _results(
        report.ack_measured(captured), _run(100, 1.4, 6.8, 95.7), _run(1000, 0.3, 53, 130)
    )
    beside = {row["figure"]: row for row in report.beside_ack(results)}
    calls = beside["SageMaker calls per in-progress job-hour (quiet window)"]
    assert (calls["operator"], calls["ack"], calls["n"], calls["ack_n"]) == (1.4, 240.6, 100, 100)
    assert calls["ratio"] == 172  # 240.6 / 1.4
    arn = beside["seconds until all 100 resources have an ARN"]
    assert (arn["operator"], arn["ack"], arn["ratio"]) == (6.8, 31.4, 4.62)
    rss = beside["peak RSS (MB)"]
    assert (rss["operator"], rss["ack"], rss["ratio"]) == (95.7, 76.0, 0.79)
    # The targets' ratio uses the measured figure, at the largest N (1,000: 240.6 / 0.3).
    assert results["targets"][0]["ratio_to_ack"] == 802.0

    table = report.table(results)
    assert "| 100 | ACK sagemaker-controller v1.9.1 (measured) | 31.4 | | | 240.6 |" in table
    assert "computed" not in table
    assert "| peak RSS (MB) | 95.7 (100) | 76.0 (100) | 0.79 |" in table
    assert str(captured) in table


def test_without_the_capture_the_computed_figure_is_labelled() -> None:
    results = _results(None, _run(100, 1.4, 6.8, 95.7))
    assert report.beside_ack(results) == []
    assert results["targets"][0]["ratio_to_ack"] == round(240.0 / 1.4, 1)
    table = report.table(results)
    assert "ACK (computed from its source: 2 Describe / 30 s)" in table
    assert "captured-v1.9.1 is absent" in table


@pytest.mark.skipif(not ack_capture.present(), reason=ack_capture.ABSENT)
def test_the_real_capture_gives_the_issues_figures() -> None:
    measured = report.ack_measured(ack_capture.CAPTURED)
    assert measured is not None
    assert (measured["n"], measured["calls_per_job_hour"]) == (100, 240.6)
    assert (measured["arn_all_seconds"], measured["peak_rss_mb"]) == (31.4, 76.0)


def test_the_plot_draws_acks_figures_beside_a_tiny_run(captured: Path, tmp_path: Path) -> None:
    results = _results(report.ack_measured(captured), _run(3, 1.4, 0.8, 87.8))
    results["runs"][0]["quiet_window"] = None  # a run too short for a quiet window
    results["machine"] = {"nproc": 2, "memory": "1 GiB", "python": "3.11"}
    report.plot(results, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").read_bytes().startswith(b"\x89PNG")


def _by_store(**calls: dict[str, dict[str, int]]) -> dict[str, Any]:
    return {"by_store": {k.replace("_", "/"): {"operations": ops} for k, ops in calls.items()}}


def test_store_window_gives_each_account_region_its_calls_per_job_hour() -> None:
    before = _by_store(a_east={"ListHyperParameterTuningJobs": {"ok": 10}})
    after = _by_store(
        a_east={"ListHyperParameterTuningJobs": {"ok": 13, "ThrottlingException": 1}},
        b_west={"DescribeHyperParameterTuningJob": {"ok": 2}},
        c_west={"sts:AssumeRole": {"ok": 1}},  # a place without jobs is not reported
    )
    rows = report.store_window(before, after, {"a/east": 7200.0, "b/west": 3600.0, "d/x": 0.0})
    assert rows["a/east"] == {
        "calls": {"ListHyperParameterTuningJobs": 4},  # throttled calls count too
        "calls_total": 4,
        "job_hours": 2.0,
        "calls_per_job_hour": 2.0,
    }
    assert rows["b/west"]["calls_per_job_hour"] == 2.0
    assert rows["d/x"] == {"calls": {}, "calls_total": 0, "job_hours": 0.0,
                           "calls_per_job_hour": None}  # fmt: skip
    assert set(rows) == {"a/east", "b/west", "d/x"}


def test_one_credential_per_role_until_botocore_refreshes_it() -> None:
    assert report.spread_lifetimes(600.0, 3600.0, 900.0) == 1
    assert report.spread_lifetimes(2700.0, 3600.0, 900.0) == 2
    assert report.spread_lifetimes(6000.0, 3600.0, 900.0) == 3


def _spread(steady: list[float | None], assume: int) -> dict[str, Any]:
    places = [
        {
            "account": f"10000000000{i}",
            "region": "us-west-2",
            "jobs": 100,
            "arn_all_seconds": 20.0,
            "steady": {"calls_total": 3, "calls_per_job_hour": rate},
            "run": {"calls_per_job_hour": 11.0},
        }
        for i, rate in enumerate(steady)
    ]
    return {
        "n": 100 * len(places),
        "per": 100,
        "accounts": len(places),
        "regions": 1,
        "arn_all_seconds": 31.0,
        "resources_with_arn": 100 * len(places),
        "places": places,
        "steady_window": {
            "seconds": 300.0,
            "calls": {"ListHyperParameterTuningJobs": 9},
            "calls_per_job_hour": 0.4,
        },
        "calls_per_job_hour_total": 10.5,
        "duration_seconds": 420.0,
        "sts": {
            "assume_role": assume,
            "roles": len(places),
            "role_regions": len(places),
            "expected_max": len(places),
        },
        "operator_peak_rss_mb": 90.0,
        "steady_rss_min_mb": 80.0,
        "steady_rss_max_mb": 85.0,
        "operator_cpu_seconds": 30.0,
    }


def test_spread_targets_hold_every_account_region_to_the_single_account_goal() -> None:
    results = _results(None)
    results["spread"] = [_spread([0.3, 0.5, 14.0], assume=3)]
    rows = {row["target"].split(": ", 1)[1]: row for row in report.targets(results)}
    every = next(r for t, r in rows.items() if "in every" in t)
    assert (every["measured"], every["met"], every["n"]) == (14.0, False, 300)
    sts = next(r for t, r in rows.items() if t.startswith("AssumeRole"))
    assert sts["met"] and sts["measured"].startswith("3 ")
    results["spread"] = [_spread([0.3, None], assume=9)]
    rows = {row["target"].split(": ", 1)[1]: row for row in report.targets(results)}
    assert not next(r for t, r in rows.items() if "in every" in t)["met"]  # a place unmeasured
    assert not next(r for t, r in rows.items() if t.startswith("AssumeRole"))["met"]


def test_the_spread_table_has_a_row_per_account_region_and_the_whole() -> None:
    results = _results(None)
    results["spread"] = [_spread([0.3, 0.5], assume=2)]
    lines = report.spread_table(results)
    assert "| 100000000000/us-west-2 | 100 | 20.0 | 3 | 0.3 | 11.0 |" in lines
    assert "| all | 200 | 31.0 | 9 | 0.4 | 10.5 |" in lines
    assert any(line.startswith("STS: 2 AssumeRole for 2 roles") for line in lines)
    assert "| all | 200 |" in report.table(results)
    assert "worst account-region 0.5" in report.spread_line(results["spread"][0])
