"""The benchmark's table, targets (each with its measured figure and ratio) and PNG plot, beside
what ACK's sagemaker-controller was measured to do (`ack_measured`)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

RSS_TARGET_MB = 150.0
CALLS_TARGET = 12.0
ARN_TARGET_SECONDS = 60.0
LAG_SLACK_SECONDS = 2.0
# From ACK's source: two Describe calls per in-progress job every 30 s. Used only when the
# measured figures (ack_measured) are not available.
ACK_COMPUTED_CALLS_PER_JOB_HOUR = 240.0


def ack_measured(folder: Path) -> dict[str, Any] | None:
    """ACK's own figures, as measured when its controller ran against this project's emulator
    (`../shared/ack/captured-v1.9.1`, read at bench time; None when the folder is absent).

    Calls per in-progress job-hour: the steady file's calls (throttled ones included) over its
    window (`scale-n<N>-steady-<S>s-stats.json`) times its active jobs. The time until every ARN
    (burst) and the peak RSS are the folder README's figures (the stats files hold only calls).
    """
    steady_files = sorted(folder.glob("scale-n*-steady-*s-stats.json"))
    readme = folder / "README.md"
    if not steady_files or not readme.is_file():
        return None
    steady_file = steady_files[0]
    match = re.fullmatch(r"scale-n(\d+)-steady-([\d.]+)s-stats\.json", steady_file.name)
    if match is None:
        return None
    steady = json.loads(steady_file.read_text())
    n, window = int(match.group(1)), float(match.group(2))
    job_hours = steady["active_jobs"] * window / 3600
    text = " ".join(readme.read_text().split())
    arn = re.search(r"create until every ARN \(([\d.]+) s\)", text)
    rss = re.search(r"Peak RSS ([\d.]+) MB", text)
    version = re.search(r"sagemaker-controller (v[\w.]+)", text)
    return {
        "controller": f"ACK sagemaker-controller {version.group(1) if version else '?'}",
        "n": n,
        "calls_per_job_hour": round(steady["total"] / job_hours, 1) if job_hours else None,
        "steady_window_seconds": window,
        "arn_all_seconds": float(arn.group(1)) if arn else None,
        "peak_rss_mb": float(rss.group(1)) if rss else None,
        "source": str(folder),
    }


def ack_calls_per_job_hour(results: dict[str, Any]) -> float:
    """ACK's calls per in-progress job-hour: measured when known, else computed from its source."""
    measured = (results.get("ack") or {}).get("measured") or {}
    figure = measured.get("calls_per_job_hour")
    return float(figure) if figure else ACK_COMPUTED_CALLS_PER_JOB_HOUR


def beside_ack(results: dict[str, Any]) -> list[dict[str, Any]]:
    """This operator's figures (shared poller, at ACK's N or the nearest N run) beside ACK's
    measured ones, each with the ratio ACK ÷ operator (above 1: the operator does better)."""
    measured = (results.get("ack") or {}).get("measured")
    shared = [r for r in results["runs"] if r["polling"] == "shared"]
    if not measured or not shared:
        return []
    run = min(shared, key=lambda r: (abs(r["n"] - measured["n"]), -r["n"]))
    quiet = (run.get("quiet_window") or {}).get("calls_per_job_hour")
    rows = [
        ("SageMaker calls per in-progress job-hour (quiet window)", quiet, "calls_per_job_hour"),
        (f"seconds until all {run['n']} resources have an ARN", run["arn_all_seconds"],
         "arn_all_seconds"),
        ("peak RSS (MB)", run["operator_peak_rss_mb"], "peak_rss_mb"),
    ]  # fmt: skip
    return [
        {
            "figure": figure,
            "n": run["n"],
            "ack_n": measured["n"],
            "operator": ours,
            "ack": measured.get(key),
            "ratio": _ratio_of(measured.get(key), ours),
        }
        for figure, ours, key in rows
    ]


def _ratio_of(ack: float | None, ours: float | None) -> float | None:
    if not ack or not ours:
        return None
    return round(ack / ours, 2) if ack / ours < 10 else round(ack / ours)


def run_line(run: dict[str, Any]) -> str:
    window = run.get("quiet_window") or {}
    return (
        f"  N={run['n']:<5} {run['polling']:<12} ARN all {run['arn_all_seconds']} s "
        f"({run['resources_with_arn']}/{run['n']}), finished {run['finished']}, "
        f"calls/job-hour {run['calls_per_job_hour_total']} (quiet: "
        f"{window.get('calls_per_job_hour')}), lag p50/p95 {run['lag_p50_seconds']}/"
        f"{run['lag_p95_seconds']} s, RSS {run['operator_peak_rss_mb']} MB{_steady(run)}, "
        f"CPU {run['operator_cpu_seconds']} s, writes/job {run['apiserver_writes_per_job']}"
    )


MEMORY_RECORD = Path(__file__).with_name("memory.json")


def memory_record(results: dict[str, Any]) -> dict[str, Any]:
    """What the chart's memory settings are checked against (tests/ship/test_chart.py): each
    history and burst run's RSS figures, with the machine and the command that measured them."""
    keys = (
        "n",
        "running",
        "rss_before_restart_mb",
        "restart_peak_rss_mb",
        "restart_rss_at_60s_mb",
        "restart_steady_rss_min_mb",
        "restart_steady_rss_max_mb",
        "running_status_current_seconds",
        "restart_calls",
        "memory_limit_mb",
        "restart_oom_kills",
    )
    return {
        "measured": results.get("started"),
        "command": results.get("command"),
        "machine": results.get("machine"),
        "history": [{k: run.get(k) for k in keys} for run in results.get("history") or ()],
        "burst": [
            {k: run.get(k) for k in ("n", "peak_rss_mb", "finished", "left_behind")}
            for run in results.get("burst") or ()
        ],
    }


def history_line(run: dict[str, Any]) -> str:
    if "restart_failed" in run:
        return (
            f"  history N={run['n']} running={run['running']}: the restarted operator failed "
            f"(OOM kills {run['restart_oom_kills']}): {run['restart_failed']}"
        )
    return (
        f"  history N={run['n']} running={run['running']}: RSS before restart "
        f"{run['rss_before_restart_mb']} MB; after: peak {run['restart_peak_rss_mb']}, at 60 s "
        f"{run['restart_rss_at_60s_mb']}, steady {run['restart_steady_rss_min_mb']}-"
        f"{run['restart_steady_rss_max_mb']} MB; restart calls {run['restart_calls']}; running "
        f"status current after {run['running_status_current_seconds']} s; OOM kills "
        f"{run['restart_oom_kills']} (limit {run['memory_limit_mb']} MB)"
    )


def burst_line(run: dict[str, Any]) -> str:
    return (
        f"  burst N={run['n']}: finished {run['finished']}, left behind {run['left_behind']}, "
        f"all finished after {run['all_finished_seconds']} s, peak RSS {run['peak_rss_mb']} MB"
    )


def _steady(run: dict[str, Any]) -> str:
    held = run.get("hold") or {}
    if not held:
        return ""
    return (
        f" (steady {held['steady_rss_min_mb']}-{held['steady_rss_max_mb']} MB over "
        f"{held['hold_seconds']} s held)"
    )


def _find(results: dict[str, Any], n: int, polling: str) -> dict[str, Any] | None:
    for run in results["runs"]:
        if run["n"] == n and run["polling"] == polling:
            found: dict[str, Any] = run
            return found
    return None


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target at the largest N measured with the shared poller (1,000 when run), then the
    history, burst and spread targets."""
    return _running_targets(results) + history_targets(results) + spread_targets(results)


def history_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 14's targets: no resource left behind in a burst; a restart on a long history."""
    rows: list[dict[str, Any]] = []
    for run in results.get("burst") or ():
        rows.append(
            {
                "n": run["n"],
                "target": f"burst of {run['n']}: every resource reaches its final state",
                "measured": f"{run['finished']} finished, {run['left_behind']} left behind",
                "met": run["left_behind"] == 0 and run["finished"] == run["n"],
            }
        )
    for run in results.get("history") or ():
        n, running = run["n"], run["running"]
        if "restart_failed" in run:
            rows.append({"n": n, "target": "restart", "measured": "failed", "met": False})
            continue
        worst = max(run["restart_peak_rss_mb"], run["restart_steady_rss_max_mb"] or 0.0)
        per_job = sum(
            run["restart_calls"].get(op, 0)
            for op in ("DescribeHyperParameterTuningJob", "ListTags", "DescribeTrainingJob")
        )
        current = run["running_status_current_seconds"]
        rows += [
            {
                "n": n,
                "target": f"history {n} ({running} running): RSS after a restart ≤ "
                f"{RSS_TARGET_MB:g} MB, peak and steady",
                "measured": worst,
                "met": worst <= RSS_TARGET_MB,
            },
            {
                "n": n,
                "target": "restart: ≤ 1 per-job SageMaker call per running job, 0 per finished",
                "measured": f"{per_job} per-job calls for {running} running jobs",
                "met": per_job <= running,
            },
            {
                "n": n,
                "target": "restart: every running job's status current again within 60 s",
                "measured": current,
                "met": current is not None and current <= 60,
            },
        ]
    return rows


def _running_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    shared = [r for r in results["runs"] if r["polling"] == "shared"]
    if not shared:
        return []
    run = max(shared, key=lambda r: r["n"])
    timer = _find(results, run["n"], "per-resource")
    ack = ack_calls_per_job_hour(results)
    window = run.get("quiet_window") or {}
    quiet = window.get("calls_per_job_hour")
    lag_bound = run["poll_interval"] + LAG_SLACK_SECONDS
    rows = [
        {
            "target": f"≤ {CALLS_TARGET:g} SageMaker calls per in-progress job-hour (quiet window)",
            "measured": quiet,
            "met": quiet is not None and quiet <= CALLS_TARGET,
            "ratio_to_ack": round(ack / quiet, 1) if quiet else None,
            "ratio_to_per_resource": _ratio(timer, quiet),
        },
        {
            "target": "SageMaker calls per in-progress job-hour, whole run (changes included)",
            "measured": run["calls_per_job_hour_total"],
            "met": run["calls_per_job_hour_total"] is not None
            and run["calls_per_job_hour_total"] <= CALLS_TARGET,
            "ratio_to_per_resource": _ratio_total(timer, run["calls_per_job_hour_total"]),
        },
        {
            "target": f"status lag p95 ≤ poll interval + 2 s = {lag_bound:g} s",
            "measured": run["lag_p95_seconds"],
            "met": run["lag_p95_seconds"] is not None and run["lag_p95_seconds"] <= lag_bound,
        },
        *_arn_and_rss_targets(run),
    ]
    for row in rows:
        row["n"] = run["n"]
    return rows


def _arn_and_rss_targets(run: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """Every resource's ARN within the target's seconds; the operator's peak RSS."""
    arn = run["arn_all_seconds"]
    return [
        {
            "target": f"{prefix}all {run['n']} resources have an ARN within "
            f"{ARN_TARGET_SECONDS:g} s",
            "measured": arn,
            "met": arn is not None and arn <= ARN_TARGET_SECONDS,
        },
        {
            "target": f"{prefix}operator RSS ≤ {RSS_TARGET_MB:g} MB",
            "measured": run["operator_peak_rss_mb"],
            "met": run["operator_peak_rss_mb"] <= RSS_TARGET_MB,
        },
    ]


def _ratio(timer: dict[str, Any] | None, quiet: float | None) -> float | None:
    if timer is None or not quiet:
        return None
    other = (timer.get("quiet_window") or {}).get("calls_per_job_hour")
    return round(other / quiet, 1) if other else None


def _ratio_total(timer: dict[str, Any] | None, total: float | None) -> float | None:
    if timer is None or not total or not timer.get("calls_per_job_hour_total"):
        return None
    return round(timer["calls_per_job_hour_total"] / total, 1)


def table(results: dict[str, Any]) -> str:
    """A Markdown table of every run, then the targets."""
    head = (
        "| N | polling | ARN all (s) | finished | calls/job-hour (run) | calls/job-hour "
        "(quiet) | Describe | List | Search | lag p50/p95 (s) | peak RSS (MB) | CPU (s) "
        "| writes/job |"
    )
    lines = [head, "|" + "---|" * 13]
    for r in results["runs"]:
        per = r["calls_per_job_hour"]
        lines.append(
            f"| {r['n']} | {r['polling']} | {r['arn_all_seconds']} | {r['finished']}/{r['n']} "
            f"| {r['calls_per_job_hour_total']} "
            f"| {(r.get('quiet_window') or {}).get('calls_per_job_hour')} "
            f"| {per.get('DescribeHyperParameterTuningJob', 0)} "
            f"| {per.get('ListHyperParameterTuningJobs', 0)} "
            f"| {per.get('Search', 0)} "
            f"| {r['lag_p50_seconds']}/{r['lag_p95_seconds']} | {r['operator_peak_rss_mb']} "
            f"| {r['operator_cpu_seconds']} | {r['apiserver_writes_per_job']} |"
        )
    measured = (results.get("ack") or {}).get("measured")
    if measured:
        lines.append(
            f"| {measured['n']} | {measured['controller']} (measured) "
            f"| {_cell(measured['arn_all_seconds'])} | | "
            f"| {_cell(measured['calls_per_job_hour'])} | | | | | "
            f"{_cell(measured['peak_rss_mb'])} | | |"
        )
    else:
        lines.append(
            f"| any | ACK (computed from its source: 2 Describe / 30 s) | | | "
            f"{ACK_COMPUTED_CALLS_PER_JOB_HOUR:g} | {ACK_COMPUTED_CALLS_PER_JOB_HOUR:g} "
            "| | | | | | | |"
        )
    lines += [
        "",
        "| target (N) | measured | met | vs ACK | vs per-resource |",
        "|---|---|---|---|---|",
    ]
    for t in results.get("targets", []):
        lines.append(
            f"| {t['target']} ({t['n']}) | {t['measured']} | {'yes' if t['met'] else 'NO'} "
            f"| {t.get('ratio_to_ack') or ''} | {t.get('ratio_to_per_resource') or ''} |"
        )
    beside = beside_ack(results)
    if beside:
        source = measured["source"] if measured else ""
        lines += [
            "",
            f"Beside {measured['controller'] if measured else 'ACK'}, measured ({source}):",
            "",
            "| figure | this operator (N) | ACK (N) | ACK ÷ operator |",
            "|---|---|---|---|",
        ]
        for row in beside:
            lines.append(
                f"| {row['figure']} | {_cell(row['operator'])} ({row['n']}) "
                f"| {_cell(row['ack'])} ({row['ack_n']}) | {_cell(row['ratio'])} |"
            )
    elif not measured:
        lines += ["", "ACK's measured figures: none (../shared/ack/captured-v1.9.1 is absent)."]
    lines += spread_table(results)
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def plot(results: dict[str, Any], path: Path) -> None:
    """Each cost against N, one line per polling strategy, and ACK's measured figures (calls,
    ARN time and RSS) as dashed lines (its computed call cost when they are absent)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("calls_per_job_hour_total", "SageMaker calls / in-progress job-hour (run)"),
        ("quiet", "calls / job-hour, quiet window"),
        ("arn_all_seconds", "time until every ARN (s)"),
        ("lag_p95_seconds", "status lag p95 (s)"),
        ("operator_peak_rss_mb", "operator peak RSS (MB)"),
        ("operator_cpu_seconds", "operator CPU (s)"),
        ("apiserver_writes_per_job", "API-server writes per job"),
    ]
    fig, axes = plt.subplots(2, 4, figsize=(16, 7.5))
    strategies = sorted({r["polling"] for r in results["runs"]})
    for ax, (key, title) in zip(axes.flat, panels, strict=False):
        for polling in strategies:
            runs = sorted((r for r in results["runs"] if r["polling"] == polling), key=_n)
            xs = [r["n"] for r in runs]
            if key == "quiet":
                ys = [(r.get("quiet_window") or {}).get("calls_per_job_hour") for r in runs]
            else:
                ys = [r.get(key) for r in runs]
            ax.plot(xs, [y if y is not None else float("nan") for y in ys], "o-", label=polling)
        measured = (results.get("ack") or {}).get("measured") or {}
        if key in ("calls_per_job_hour_total", "quiet"):
            label = f"ACK, measured at N={measured['n']}" if measured else "ACK, computed"
            ns = {r["n"] for r in results["runs"]}
            xs = sorted(ns | {measured["n"]} if measured else ns)
            ax.plot(xs, [ack_calls_per_job_hour(results)] * len(xs), "k--", label=label)
            ax.set_yscale("log")
        ack_key = {"arn_all_seconds": "arn_all_seconds", "operator_peak_rss_mb": "peak_rss_mb"}
        if key in ack_key and measured.get(ack_key[key]) is not None:
            ax.plot([measured["n"]], [measured[ack_key[key]]], "kx", label="ACK, measured")
        ax.set_xscale("log")
        ax.set_xlabel("N resources")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    axes.flat[-1].axis("off")
    m = results["machine"]
    fig.suptitle(f"hpo-operator at scale — {m['nproc']} CPUs, {m['memory']}, Python {m['python']}")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_history(series: dict[str, list[dict[str, Any]]], path: Path, limit_mb: float) -> None:
    """RSS after a restart against the resources' count (N, a few % running), one line per
    code version (`series`: label → history runs), and the chart's memory limit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, runs in series.items():
        runs = sorted(runs, key=_n)
        xs = [r["n"] for r in runs]
        for key, style in (("restart_peak_rss_mb", "o-"), ("restart_steady_rss_max_mb", "s--")):
            ys = [r.get(key) if r.get(key) is not None else float("nan") for r in runs]
            what = "peak" if key == "restart_peak_rss_mb" else "steady (max)"
            ax.plot(xs, ys, style, label=f"{label}: {what}")
    ax.axhline(limit_mb, color="k", linestyle=":", label=f"chart memory limit ({limit_mb:.0f} MiB)")
    ax.set_xlabel("resources (5-10 % of them running, the rest finished)")
    ax.set_ylabel("operator RSS after a restart (MB)")
    ax.set_title("RSS against history, before and after parking", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _n(run: dict[str, Any]) -> int:
    n: int = run["n"]
    return n


# ----- the spread run: several accounts and regions, one operator (bench/spread.py) ------------


def store_window(
    before: Mapping[str, Any], after: Mapping[str, Any], job_seconds: Mapping[str, float]
) -> dict[str, dict[str, Any]]:
    """For each `ACCOUNT/REGION` of `job_seconds` (its jobs' in-progress seconds in the window):
    the calls made there between two emulator stats documents (their `by_store`), and the calls
    per in-progress job-hour."""
    rows: dict[str, dict[str, Any]] = {}
    for place, seconds in job_seconds.items():
        first = _op_calls(before.get("by_store", {}).get(place))
        last = _op_calls(after.get("by_store", {}).get(place))
        calls = {op: n - first.get(op, 0) for op, n in last.items() if n - first.get(op, 0)}
        total = sum(calls.values())
        hours = seconds / 3600
        rows[place] = {
            "calls": calls,
            "calls_total": total,
            "job_hours": round(hours, 3),
            "calls_per_job_hour": round(total / hours, 2) if hours else None,
        }
    return rows


def _op_calls(store: Mapping[str, Any] | None) -> dict[str, int]:
    operations = (store or {}).get("operations") or {}
    return {op: sum(outcomes.values()) for op, outcomes in operations.items()}


def spread_lifetimes(seconds: float, lifetime: float, refresh_before: float) -> int:
    """How many credentials one role needs over `seconds`: botocore asks STS again
    `refresh_before` seconds before each expires."""
    usable = max(lifetime - refresh_before, 1.0)
    return 1 + int(seconds // usable)


def spread_line(run: dict[str, Any]) -> str:
    steady = run["steady_window"]
    worst = max((p["steady"]["calls_per_job_hour"] or 0.0) for p in run["places"])
    return (
        f"  spread {len(run['places'])}x{run['per']} ({run['accounts']} accounts, "
        f"{run['regions']} regions): ARN all {run['arn_all_seconds']} s "
        f"({run['resources_with_arn']}/{run['n']}), steady calls/job-hour "
        f"{steady['calls_per_job_hour']} (worst account-region {worst}), AssumeRole "
        f"{run['sts']['assume_role']} for {run['sts']['roles']} roles, RSS peak "
        f"{run['operator_peak_rss_mb']} MB, steady {run['steady_rss_min_mb']}-"
        f"{run['steady_rss_max_mb']} MB over {steady['seconds']} s held"
    )


def spread_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The single-account targets, per account-region, for each spread run."""
    rows: list[dict[str, Any]] = []
    for run in results.get("spread") or ():
        n, steady = run["n"], run["steady_window"]
        per_place = [p["steady"]["calls_per_job_hour"] for p in run["places"]]
        worst = None if None in per_place or not per_place else max(per_place)
        sts = run["sts"]
        where = f"spread {len(run['places'])}x{run['per']}"
        rows += [
            {
                "target": f"{where}: ≤ {CALLS_TARGET:g} calls per in-progress job-hour in every "
                "account-region (steady window)",
                "measured": worst,
                "met": worst is not None and worst <= CALLS_TARGET,
            },
            {
                "target": f"{where}: ≤ {CALLS_TARGET:g} calls per in-progress job-hour, all "
                "account-regions (steady window)",
                "measured": steady["calls_per_job_hour"],
                "met": steady["calls_per_job_hour"] is not None
                and steady["calls_per_job_hour"] <= CALLS_TARGET,
            },
            {
                "target": f"{where}: AssumeRole ≤ one per role and region per credential "
                f"lifetime ({sts['expected_max']})",
                "measured": f"{sts['assume_role']} ({sts['roles']} roles, "
                f"{sts['role_regions']} role-regions)",
                "met": sts["assume_role"] <= sts["expected_max"],
            },
            *_arn_and_rss_targets(run, f"{where}: "),
        ]
        for row in rows[-5:]:
            row["n"] = n
    return rows


def spread_table(results: dict[str, Any]) -> list[str]:
    """The spread runs' rows, one per account-region then the whole, as Markdown lines."""
    lines: list[str] = []
    for run in results.get("spread") or ():
        lines += [
            "",
            f"Spread: {run['n']} jobs held InProgress over {len(run['places'])} account-regions "
            f"({run['accounts']} accounts × {run['regions']} regions), one operator; steady "
            f"window {run['steady_window']['seconds']} s:",
            "",
            "| account/region | jobs | ARN all (s) | steady calls | calls/job-hour (steady) "
            "| calls/job-hour (run) |",
            "|---|---|---|---|---|---|",
        ]
        for place in run["places"]:
            lines.append(
                f"| {place['account']}/{place['region']} | {place['jobs']} "
                f"| {_cell(place['arn_all_seconds'])} | {place['steady']['calls_total']} "
                f"| {_cell(place['steady']['calls_per_job_hour'])} "
                f"| {_cell(place['run']['calls_per_job_hour'])} |"
            )
        steady = run["steady_window"]
        lines += [
            f"| all | {run['n']} | {_cell(run['arn_all_seconds'])} "
            f"| {sum(steady['calls'].values())} | {_cell(steady['calls_per_job_hour'])} "
            f"| {_cell(run['calls_per_job_hour_total'])} |",
            "",
            f"STS: {run['sts']['assume_role']} AssumeRole for {run['sts']['roles']} roles "
            f"({run['sts']['role_regions']} role-regions) over {run['duration_seconds']} s; "
            f"operator RSS peak {run['operator_peak_rss_mb']} MB, steady "
            f"{run['steady_rss_min_mb']}-{run['steady_rss_max_mb']} MB; CPU "
            f"{run['operator_cpu_seconds']} s.",
        ]
    return lines
