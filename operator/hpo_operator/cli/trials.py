"""`hpo-operator trials NAMESPACE/NAME`: every trial (training job) of a tuning job, for a person
at a terminal with AWS credentials, or against the emulator.

The job is the one the operator acts on for that resource (trialtarget.py), or `--job-name` and
`--region`. Trials come from ListTrainingJobsForHyperParameterTuningJob in pages of 100 (AWS's
maximum), oldest first, with a progress line on stderr when it is a terminal; the server filters
by status when one is asked for (StatusEquals), and the rows are sorted here, since AWS's sort by
objective leaves out the trials without one. `--watch` follows a running job like `kubectl get
-w`: one Describe per interval, the trials listed again only when its counters moved (newest
first, back to the oldest one still running: `trialrows.changing_since`), new and changed rows
printed as they come, the interval doubled while AWS throttles. The client is the
operator's (adapters.sagemaker: its credentials chain, roles and endpoint checks) with botocore's
standard retries, which back off on throttling; the user's credentials need
sagemaker:DescribeHyperParameterTuningJob and sagemaker:ListTrainingJobsForHyperParameterTuningJob.
Exit codes: 0 listed, 1 AWS or the cluster refused, or the job does not exist, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import botocore.exceptions
import yaml
from botocore.config import Config

from hpo_operator.adapters.sagemaker import (
    NETWORK_ERRORS,
    NOT_FOUND_CODES,
    THROTTLE_CODES,
    sagemaker_client,
    shared_session,
)
from hpo_operator.cli import trialplot
from hpo_operator.cli.trialrows import (
    SORT_KEYS,
    STATUSES,
    JobInfo,
    Trial,
    changed,
    changing_since,
    counters_line,
    default_descending,
    document,
    filter_trials,
    hyperparameter_names,
    job_info,
    render_table,
    sort_trials,
    table_header,
    table_row,
    trial_count,
    trial_from_summary,
    trials_table,
)
from hpo_operator.cli.trialtarget import JobTarget, TargetError, from_cluster
from hpo_operator.shell.settings import Settings, SettingsError

PAGE_SIZE = 100  # ListTrainingJobsForHyperParameterTuningJob's MaxResults maximum
TERMINAL = frozenset({"Completed", "Failed", "Stopped", "Deleted"})
MAX_INTERVAL = 300.0  # the watch interval doubles up to this while AWS throttles


class AwsError(Exception):
    """A call AWS refused or that did not reach it; `throttled` when the answer was to slow down."""

    def __init__(
        self, message: str, throttled: bool = False, retry: bool = False, code: str = ""
    ) -> None:
        super().__init__(message)
        self.throttled = throttled
        self.retry = retry or throttled
        self.code = code


def _aws_error(call: str, error: Exception) -> AwsError:
    if isinstance(error, botocore.exceptions.ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code") or "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        message = f"{call}: {code}: {details.get('Message') or error}"
        throttled = code in THROTTLE_CODES
        return AwsError(message, throttled=throttled, retry=int(status) >= 500, code=code)
    if isinstance(error, NETWORK_ERRORS):
        return AwsError(f"{call}: {error}", retry=True)
    return AwsError(f"{call}: {type(error).__name__}: {error}")


@dataclass
class Reader:
    """The two reads the command makes, on one client."""

    client: Any
    target: JobTarget
    progress: TextIO | None = None  # stderr when it is a terminal

    def describe(self) -> JobInfo:
        try:
            answer = self.client.describe_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=self.target.job_name
            )
        except Exception as error:
            raise _aws_error("DescribeHyperParameterTuningJob", error) from None
        return job_info(answer, self.client.meta.region_name)

    def trials(self, status: str | None, expected: int, since: float | None = None) -> list[Trial]:
        """Every trial, in pages of 100 (oldest first), `status` filtered by the server; with
        `since`, newest first and only back to the page that reaches trials created before it."""
        params: dict[str, Any] = {
            "HyperParameterTuningJobName": self.target.job_name,
            "MaxResults": PAGE_SIZE,
            "SortBy": "CreationTime",
            "SortOrder": "Ascending" if since is None else "Descending",
        }
        if status:
            params["StatusEquals"] = status
        found: list[Trial] = []
        while True:
            try:
                page = self.client.list_training_jobs_for_hyper_parameter_tuning_job(**params)
            except Exception as error:
                self._done()
                raise _aws_error("ListTrainingJobsForHyperParameterTuningJob", error) from None
            found += [trial_from_summary(s) for s in page.get("TrainingJobSummaries") or []]
            token = page.get("NextToken")
            if not token or (since is not None and found and (found[-1].created or 0) < since):
                break
            params["NextToken"] = token
            if self.progress is not None:
                of = f" of {expected}" if expected and not status else ""
                self.progress.write(f"\rlisting trials: {len(found)}{of}")
                self.progress.flush()
        self._done()
        return found

    def _done(self) -> None:
        if self.progress is not None:
            self.progress.write("\r\033[K")
            self.progress.flush()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hpo-operator trials",
        description="List the trials (training jobs) of a HyperParameterTuningJob's SageMaker "
        "tuning job: a table, JSON or YAML, a live view (--watch) or a plot (--plot).",
    )
    parser.add_argument(
        "resource",
        nargs="?",
        metavar="NAMESPACE/NAME",
        help="the HyperParameterTuningJob, read with kubectl (its job name, region and endpoint "
        "resolved as the operator does)",
    )
    parser.add_argument("--job-name", help="the SageMaker tuning job, instead of NAMESPACE/NAME")
    parser.add_argument(
        "--region",
        help="the job's region when neither the resource, its namespace nor its status ARN "
        "names one [HPO_REGION, AWS_REGION, AWS_DEFAULT_REGION, the AWS profile's]",
    )
    parser.add_argument(
        "--endpoint-url",
        help="SageMaker endpoint (the emulator's, say) unless the namespace's "
        "services.k8s.aws/endpoint-url says otherwise [HPO_ENDPOINT_URL]",
    )
    parser.add_argument("--role-arn", help="an IAM role to assume for the reads (another account)")
    parser.add_argument("--kubeconfig", help="kubectl's --kubeconfig")
    parser.add_argument("--context", help="kubectl's --context")
    parser.add_argument("--sort", choices=SORT_KEYS, default="objective", help="default: objective")
    parser.add_argument(
        "--order",
        choices=("asc", "desc"),
        help="default: best objective first, else ascending",
    )
    parser.add_argument(
        "--status",
        action="append",
        choices=STATUSES,
        default=[],
        help="only trials with this status (repeat for several; one is filtered by AWS)",
    )
    parser.add_argument("--limit", type=int, help="at most this many rows, after sorting")
    parser.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table")
    parser.add_argument(
        "-w", "--watch", action="store_true", help="follow the job until it ends (Ctrl-C stops)"
    )
    parser.add_argument(
        "--interval", type=float, default=15.0, help="--watch: seconds between polls (15)"
    )
    parser.add_argument(
        "--plot",
        type=Path,
        metavar="FILE.png|FILE.html",
        help="also draw the search: objective per trial and per hyperparameter "
        "(needs the [plot] extra: matplotlib)",
    )
    return parser


def _target(args: argparse.Namespace, settings: Settings) -> tuple[JobTarget, str | None]:
    if args.job_name:
        return JobTarget(args.job_name, settings.region, settings.endpoint_url), None
    return from_cluster(args.resource, settings.reconcile_settings(), args.kubeconfig, args.context)


def _client(target: JobTarget, role_arn: str | None, unsafe: frozenset[str]) -> Any:
    region = target.region or shared_session().get_config_variable("region")
    if not region:
        raise TargetError(
            "no AWS region: give --region (or set AWS_REGION), or annotate the resource"
        )
    config = Config(
        connect_timeout=5,
        read_timeout=20,
        retries={"mode": "standard", "total_max_attempts": 5},  # backs off on throttling
        user_agent_extra="hpo-operator-trials",
    )
    return sagemaker_client(region, target.endpoint_url, role_arn, config, unsafe)


@dataclass(frozen=True)
class View:
    """How the rows are chosen and shown."""

    sort: str
    order: str | None
    statuses: tuple[str, ...]
    limit: int | None
    output: str

    def rows(self, info: JobInfo, trials: Sequence[Trial]) -> list[Trial]:
        descending = (
            self.order == "desc"
            if self.order
            else default_descending(self.sort, info.objective_type)
        )
        chosen = sort_trials(filter_trials(trials, self.statuses), self.sort, descending)
        return chosen if self.limit is None else chosen[: self.limit]

    def server_status(self) -> str | None:
        return self.statuses[0] if len(self.statuses) == 1 else None


def write_listing(
    out: TextIO, view: View, info: JobInfo, trials: Sequence[Trial], now: float
) -> None:
    rows = view.rows(info, trials)
    if view.output == "json":
        out.write(json.dumps(document(info, rows, now), indent=2, ensure_ascii=False) + "\n")
    elif view.output == "yaml":
        out.write(yaml.safe_dump(document(info, rows, now), sort_keys=False, allow_unicode=True))
    elif rows:
        out.write(trials_table(rows, now))
    else:
        out.write("No trials found.\n")


def watch(
    reader: Reader,
    view: View,
    interval: float,
    out: TextIO,
    err: TextIO,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> tuple[JobInfo, list[Trial]]:
    """Print new and changed trials and the counters as they move, until the job ends."""
    shown: dict[str, Trial] = {}
    known: dict[str, Trial] = {}
    names: list[str] = []
    last_counters: dict[str, int] | None = None
    wait = interval
    info: JobInfo | None = None
    while True:
        try:
            info = reader.describe()
            moved = dict(info.counters) != last_counters
            if moved:  # the whole job once, then back only as far as trials can have changed
                since = changing_since(known.values()) if known else None
                fresh = reader.trials(None, trial_count(info), since)
                known.update((t.name, t) for t in fresh)
            wait = interval
        except AwsError as error:
            if not error.retry or info is None:
                raise
            wait = min(wait * 2, MAX_INTERVAL)
            err.write(f"{error}; next poll in {wait:.0f}s\n")
            err.flush()
            sleep(wait)
            continue
        trials = list(known.values())
        if moved:
            last_counters = dict(info.counters)
            new = changed(shown, view.rows(info, trials) if not shown else fresh[::-1])
            new = filter_trials(new, view.statuses)
            now = clock()
            if view.output == "table":
                if not names:
                    names = hyperparameter_names(trials)
                    header = [table_header(names)]
                else:
                    header = []
                out.write(render_table(header + [table_row(t, names, now) for t in new]))
            else:
                for t in new:
                    line = document(info, [t], now)["trials"][0]
                    out.write(json.dumps(line, ensure_ascii=False) + "\n")
            out.flush()
            shown.update({t.name: t for t in new})
            err.write(counters_line(info) + "\n")
            err.flush()
        if info.status in TERMINAL:
            return info, trials
        sleep(wait)


def _where(target: JobTarget, role_arn: str | None, error: AwsError) -> str:
    """For a job AWS does not find: where the command looked, and where the status says it is."""
    if error.code not in NOT_FOUND_CODES:
        return ""
    hint = f" (looked for {target.job_name} in {target.region or 'the default region'}"
    if target.account and not role_arn:
        hint += (
            f"; the resource's status puts it in account {target.account}: read it with "
            "credentials of that account, or --role-arn"
        )
    return hint + ")"


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """List, watch or plot a tuning job's trials; see the module docstring for the exits."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    if bool(args.resource) == bool(args.job_name):
        parser.error("give NAMESPACE/NAME, or --job-name (with --region)")
    if args.plot is not None:
        if args.plot.suffix.lower() not in trialplot.SUFFIXES:
            parser.error("--plot writes a .png or an .html file")
        try:
            trialplot.check_available()
        except trialplot.PlotUnavailable as missing:
            err.write(f"{missing}\n")
            return 1
    if args.interval <= 0 or (args.limit is not None and args.limit < 0):
        parser.error("--interval must be above 0, --limit at least 0")
    if args.watch and args.output == "yaml":
        parser.error("--watch prints one JSON object per line (-o json) or table rows")
    view = View(args.sort, args.order, tuple(args.status), args.limit, args.output)
    try:
        settings = Settings(region=args.region, endpoint_url=args.endpoint_url)
        target, note = _target(args, settings)
        if note:
            err.write(f"note: {note}\n")
        client = _client(target, args.role_arn, settings.unsafe_endpoints())
        reader = Reader(client, target, err if err.isatty() else None)
        try:
            if args.watch:
                info, trials = watch(reader, view, args.interval, out, err, sleep)
            else:
                info = reader.describe()
                trials = reader.trials(view.server_status(), trial_count(info))
                write_listing(out, view, info, trials, time.time())
        except AwsError as error:
            raise AwsError(f"{error}{_where(target, args.role_arn, error)}") from None
    except (SettingsError, TargetError, AwsError) as error:
        err.write(f"hpo-operator trials: {error}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    if args.plot is not None:
        trialplot.plot(info, filter_trials(trials, view.statuses), args.plot)
        err.write(f"wrote {args.plot}\n")
    return 0
