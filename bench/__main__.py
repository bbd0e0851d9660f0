"""`make bench` = `python -m bench`: the operator at scale, shared poller vs per-resource timers.

    python -m bench [--sizes 100 1000] [--polling shared per-resource] [--poll-interval 30]
                    [--history 10000:500] [--burst 5000 10000] [--memory-limit MIB]
                    [--spread 5x100] [--spread-regions 2] [--spread-hold 300]

Starts a local kube-apiserver (or uses --kubeconfig / HPO_TEST_KUBECONFIG), installs the CRD, and
for each size and strategy applies N resources at once against a fresh in-process emulator with
AWS-like quotas (bench/scale.py). Writes bench/results.json and bench/results.png, and prints the
table that docs/performance.md quotes. First come the history and burst scenarios
(bench/history.py): a restart on 10,000 resources of which 500 run, and bursts of 5,000 and
10,000 by one `kubectl create -f`; their RSS figures also go to bench/memory.json, which the
chart's memory settings are tested against. Last, the spread (bench/spread.py): one operator
and 5 account-regions (ACK's CARM) of 100 jobs each, held InProgress for a steady window. An
empty `--sizes`, `--history`, `--burst` or `--spread` skips that part. A benchmark, not a test:
it asserts nothing, it reports each target with the measured figure and whether it was met.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import hpo_operator
from bench import history, report, scale, spread
from hpo_devtools.cluster import Binaries, DevCluster

REPO = Path(__file__).resolve().parents[1]


def machine() -> dict[str, Any]:
    """What the figures came from."""
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = ""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {
        "nproc": os.cpu_count(),
        "memory": memory,
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def compile_operator() -> None:
    """Byte-compile the operator's package, as installing the wheel does (the image runs it so).

    From a source checkout under PYTHONDONTWRITEBYTECODE, every start would compile the
    operator's own modules again: measured, that left 2.2 MB more RSS after import (56.3 against
    54.1 MB), a cost the installed operator never pays.
    """
    compileall.compile_dir(str(Path(hpo_operator.__file__).parent), quiet=1)


def _rss_after_import(lean: bool) -> tuple[float, str]:
    prefix = "import hpo_operator.shell.lean as l; l.prepare_operator_process();" if lean else ""
    code = (
        prefix + "import resource, hpo_operator.shell.runner, hpo_operator.polling.poller;"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip()) / 1024, out.stderr


def import_cost() -> dict[str, Any]:
    """RSS after importing the operator as `hpo-operator run` does (client libraries blocked)
    and as a plain import would, and the slowest top-level imports (python -X importtime)."""
    lean_rss, lean_times = _rss_after_import(lean=True)
    full_rss, _ = _rss_after_import(lean=False)
    rows: list[tuple[int, str]] = []
    for line in lean_times.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            if not name.startswith("  "):
                rows.append((int(parts[1]), name.strip()))
    rows.sort(reverse=True)
    return {
        "rss_after_import_mb": round(lean_rss, 1),
        "rss_after_import_with_kubernetes_client_mb": round(full_rss, 1),
        "top_imports_ms": {name: round(us / 1000, 1) for us, name in rows[:8]},
    }


def save(results: dict[str, Any], output: Path, memory_record: bool = False) -> None:
    """The results so far (a long run keeps what it measured if stopped), and the memory record
    the chart's settings are tested against."""
    output.write_text(json.dumps(results, indent=2) + "\n")
    if memory_record:
        report.MEMORY_RECORD.write_text(json.dumps(report.memory_record(results), indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 1000])
    parser.add_argument("--polling", nargs="+", default=["shared", "per-resource"])
    parser.add_argument("--poll-interval", type=float, default=30.0)
    parser.add_argument("--fast-interval", type=float, default=5.0)
    parser.add_argument("--training-seconds", type=float, default=300.0)
    parser.add_argument("--startup-seconds", type=float, default=60.0)
    parser.add_argument(
        "--waves-mix",
        type=int,
        default=1,
        help="job i runs 1 + i %% WAVES_MIX waves of trainings (1: all alike, in lockstep)",
    )
    parser.add_argument(
        "--operator-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the operator (repeatable), e.g. HPO_WORKER_LIMIT=0",
    )
    parser.add_argument(
        "--hold",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="ACK's measurement: hold every job InProgress and, once every resource has its "
        "first status, keep running this long (the steady window; ACK's figures: 600), then stop",
    )
    parser.add_argument(
        "--history",
        nargs="*",
        default=["10000:500"],
        metavar="N:RUNNING",
        help="restart on a history of N resources, RUNNING of them running (bench/history.py)",
    )
    parser.add_argument(
        "--burst",
        type=int,
        nargs="*",
        default=[5000, 10000],
        metavar="N",
        help="N resources by one `kubectl create -f`; every one must finish",
    )
    parser.add_argument(
        "--spread",
        nargs="*",
        default=["5x100"],
        metavar="KxPER",
        help="one operator, K account-regions (CARM) of PER jobs each, held InProgress "
        "(bench/spread.py)",
    )
    parser.add_argument(
        "--spread-regions",
        type=int,
        default=2,
        metavar="R",
        help="the spread's account-regions are laid out account by account over R regions "
        "(5 over 2: 3 accounts × 2 regions minus one)",
    )
    parser.add_argument(
        "--spread-hold",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="the spread's steady window, once every resource has its first status",
    )
    parser.add_argument(
        "--memory-limit",
        type=float,
        default=None,
        metavar="MB",
        help="the history's restarted operator runs in a memory cgroup of this size (MiB)",
    )
    parser.add_argument("--kubeconfig", type=Path, default=os.environ.get("HPO_TEST_KUBECONFIG"))
    parser.add_argument(
        "--ack-captured",
        type=Path,
        default=REPO.parent / "shared" / "ack" / "captured-v1.9.1",
        help="ACK's measured figures, reported beside ours (skipped when absent)",
    )
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results.json")
    parser.add_argument("--plot", type=Path, default=REPO / "bench" / "results.png")
    args = parser.parse_args(argv)

    from kubernetes import config

    compile_operator()
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "import": import_cost(),
        "ack": {
            "measured": report.ack_measured(args.ack_captured),
            "computed_calls_per_job_hour": report.ACK_COMPUTED_CALLS_PER_JOB_HOUR,
        },
        "runs": [],
    }
    operator_env: tuple[tuple[str, str], ...] = tuple(
        (key, value) for key, _, value in (item.partition("=") for item in args.operator_env)
    )
    with ExitStack() as stack:
        kubeconfig = args.kubeconfig
        if kubeconfig is None:
            cluster = stack.enter_context(DevCluster.temporary(binaries=Binaries.from_assets()))
            kubeconfig = cluster.kubeconfig
        kubectl = os.environ.get("KUBECTL", "kubectl")
        subprocess.run(
            [kubectl, "--kubeconfig", str(kubeconfig), "apply", "--server-side", "-f", "crds/"],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        api_client = config.new_client_from_config(config_file=str(kubeconfig))
        api_client.configuration.connection_pool_maxsize = 32
        for spec in args.history:
            n, running = (int(part) for part in spec.split(":"))
            print(f"bench: history N={n} running={running} ...", flush=True)
            found = history.history(n, running, kubeconfig, api_client, kubectl,
                                    memory_limit_mb=args.memory_limit,
                                    operator_env=operator_env)  # fmt: skip
            results.setdefault("history", []).append(found)
            print(report.history_line(found), flush=True)
            save(results, args.output, memory_record=True)
        for n in args.burst:
            print(f"bench: burst N={n} ...", flush=True)
            found = history.burst(n, kubeconfig, api_client, kubectl, operator_env=operator_env)
            results.setdefault("burst", []).append(found)
            print(report.burst_line(found), flush=True)
            save(results, args.output, memory_record=True)
        for n in args.sizes:
            for polling in args.polling:
                workload = scale.Workload(
                    n=n,
                    polling=polling,
                    poll_interval=args.poll_interval,
                    fast_interval=args.fast_interval,
                    training_seconds=args.training_seconds,
                    startup_seconds=args.startup_seconds,
                    waves_mix=args.waves_mix,
                    hold_seconds=args.hold,
                    operator_env=operator_env,
                )
                print(f"bench: N={n} polling={polling} ...", flush=True)
                run = scale.run(workload, kubeconfig, api_client, kubectl)
                results["runs"].append(run)
                print(report.run_line(run), flush=True)
                args.output.write_text(json.dumps(results, indent=2) + "\n")
        for spec in args.spread:
            layout = spread.Spread.parse(spec, args.spread_regions)
            print(f"bench: spread {spec} over {args.spread_regions} regions ...", flush=True)
            workload = scale.Workload(
                n=layout.places * layout.per,
                polling="shared",
                poll_interval=args.poll_interval,
                fast_interval=args.fast_interval,
                startup_seconds=args.startup_seconds,
                hold_seconds=args.spread_hold,
            )
            found = spread.run(layout, workload, kubeconfig, api_client, kubectl)
            results.setdefault("spread", []).append(found)
            print(report.spread_line(found), flush=True)
            args.output.write_text(json.dumps(results, indent=2) + "\n")
    results["targets"] = report.targets(results)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    report.plot(results, args.plot)
    print(report.table(results))
    print(f"bench: wrote {args.output} and {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
