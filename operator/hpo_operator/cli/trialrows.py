"""The trials of a tuning job as rows: read from AWS's HyperParameterTrainingJobSummary shapes,
sorted, filtered, and written as a table, JSON/YAML documents or watch lines.

Pure (no AWS, no cluster): `hpo-operator trials` (trials.py) feeds it what
ListTrainingJobsForHyperParameterTuningJob and DescribeHyperParameterTuningJob answered. The JSON
keys below are the command's documented output (README, "Trials of a tuning job"); add keys, never
rename them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hpo_operator.model import awsmodel
from hpo_operator.model.timestamps import epoch_seconds

SORT_KEYS = ("objective", "name", "created", "status")
MAXIMIZE = "Maximize"
# The statuses a trial can have, and those ListTrainingJobsForHyperParameterTuningJob can filter
# on server-side (StatusEquals): both from botocore's model.
STATUSES: tuple[str, ...] = awsmodel.closed_enum(awsmodel.shape("TrainingJobStatus")) or ()
FAILURE_WIDTH = 60  # the table cuts failure reasons here; JSON and YAML keep them whole


@dataclass(frozen=True)
class Trial:
    """One training job of a tuning job, as the command shows it."""

    name: str
    status: str
    objective: float | None = None
    objective_status: str | None = None
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    created: float | None = None  # seconds since the epoch
    started: float | None = None
    ended: float | None = None
    failure_reason: str | None = None
    arn: str | None = None
    definition: str | None = None

    def duration(self, now: float) -> float | None:
        """Seconds of training: start to end, or to `now` while it runs."""
        if self.started is None:
            return None
        end = self.ended if self.ended is not None else now
        return max(end - self.started, 0.0)


def trial_from_summary(summary: Mapping[str, Any]) -> Trial:
    """A Trial from one HyperParameterTrainingJobSummary (botocore's datetimes or epoch numbers)."""
    metric = summary.get("FinalHyperParameterTuningJobObjectiveMetric")
    value = metric.get("Value") if isinstance(metric, Mapping) else None
    objective = float(value) if isinstance(value, int | float) and math.isfinite(value) else None
    tuned = summary.get("TunedHyperParameters")
    return Trial(
        name=str(summary.get("TrainingJobName") or ""),
        status=str(summary.get("TrainingJobStatus") or ""),
        objective=objective,
        objective_status=summary.get("ObjectiveStatus"),
        hyperparameters=(
            {str(k): str(v) for k, v in tuned.items()} if isinstance(tuned, Mapping) else {}
        ),
        created=epoch_seconds(summary.get("CreationTime")),
        started=epoch_seconds(summary.get("TrainingStartTime")),
        ended=epoch_seconds(summary.get("TrainingEndTime")),
        failure_reason=summary.get("FailureReason"),
        arn=summary.get("TrainingJobArn"),
        definition=summary.get("TrainingJobDefinitionName"),
    )


def filter_trials(trials: Iterable[Trial], statuses: Sequence[str]) -> list[Trial]:
    """The trials whose status is one of `statuses` (all of them when none is given)."""
    wanted = set(statuses)
    return [t for t in trials if not wanted or t.status in wanted]


def default_descending(key: str, objective_type: str | None) -> bool:
    """Best first for the objective (descending when it is maximized), else ascending."""
    return key == "objective" and objective_type == MAXIMIZE


def sort_trials(trials: Iterable[Trial], key: str, descending: bool) -> list[Trial]:
    """Sorted by `key` (SORT_KEYS), ties by name; trials without that value come last in either
    order (a trial without an objective is never the best)."""
    if key not in SORT_KEYS:
        raise ValueError(f"cannot sort by {key!r}: one of {', '.join(SORT_KEYS)}")

    def value(t: Trial) -> Any:
        if key == "objective":
            return t.objective
        if key == "created":
            return t.created
        if key == "status":
            return t.status
        return t.name

    known = [t for t in trials if value(t) is not None]
    unknown = sorted((t for t in trials if value(t) is None), key=lambda t: t.name)
    known.sort(key=lambda t: t.name)
    known.sort(key=value, reverse=descending)  # stable: equal values stay in name order
    return known + unknown


def best_trial(trials: Iterable[Trial], objective_type: str | None) -> Trial | None:
    """The trial with the best objective (ties: the first by name), None when none has one."""
    scored = sort_trials(
        [t for t in trials if t.objective is not None],
        "objective",
        default_descending("objective", objective_type),
    )
    return scored[0] if scored else None


def format_number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def format_duration(seconds: float | None) -> str:
    """`45s`, `12m05s`, `1h02m03s`: kubectl's way of saying an age."""
    if seconds is None:
        return ""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def hyperparameter_names(trials: Iterable[Trial]) -> list[str]:
    """Every tuned hyperparameter any trial has, in name order: one table column each."""
    return sorted({name for t in trials for name in t.hyperparameters})


def _cut(text: str | None, width: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def table_header(names: Sequence[str]) -> list[str]:
    return ["NAME", "STATUS", "OBJECTIVE", "DURATION", *names, "FAILURE"]


def table_row(t: Trial, names: Sequence[str], now: float) -> list[str]:
    return [
        t.name,
        t.status,
        format_number(t.objective),
        format_duration(t.duration(now)),
        *(t.hyperparameters.get(n, "") for n in names),
        _cut(t.failure_reason, FAILURE_WIDTH),
    ]


def render_table(rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, three spaces apart, as `kubectl get` prints them; the
    last column is not padded."""
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def trials_table(trials: Sequence[Trial], now: float) -> str:
    names = hyperparameter_names(trials)
    return render_table([table_header(names), *(table_row(t, names, now) for t in trials)])


def iso(seconds: float | None) -> str | None:
    """RFC 3339 UTC, as Kubernetes writes times."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def trial_document(t: Trial, now: float) -> dict[str, Any]:
    """One trial's stable keys (README): absent values are null, never left out."""
    duration = t.duration(now)
    return {
        "name": t.name,
        "status": t.status,
        "objective": t.objective,
        "objectiveStatus": t.objective_status,
        "hyperParameters": dict(sorted(t.hyperparameters.items())),
        "created": iso(t.created),
        "started": iso(t.started),
        "ended": iso(t.ended),
        "durationSeconds": None if duration is None else round(duration, 3),
        "failureReason": t.failure_reason,
        "arn": t.arn,
        "trainingJobDefinitionName": t.definition,
    }


@dataclass(frozen=True)
class JobInfo:
    """What the command shows about the tuning job itself, from its Describe."""

    name: str
    region: str
    arn: str | None = None
    status: str | None = None
    metric: str | None = None
    objective_type: str | None = None
    counters: Mapping[str, int] = field(default_factory=dict)
    objective_counters: Mapping[str, int] = field(default_factory=dict)
    ranges: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # name: (kind, scaling)
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


RANGE_KINDS = {
    "IntegerParameterRanges": "Integer",
    "ContinuousParameterRanges": "Continuous",
    "CategoricalParameterRanges": "Categorical",
}


def job_info(describe: Mapping[str, Any], region: str) -> JobInfo:
    """The tuning job from DescribeHyperParameterTuningJob: status, objective, counters, and each
    tuned hyperparameter's kind and scaling over all its training job definitions."""
    config = describe.get("HyperParameterTuningJobConfig") or {}
    objective = config.get("HyperParameterTuningJobObjective") or {}
    range_sets = [config.get("ParameterRanges") or {}]
    single = describe.get("TrainingJobDefinition")
    for definition in ([single] if single else []) + list(
        describe.get("TrainingJobDefinitions") or []
    ):
        range_sets.append(definition.get("HyperParameterRanges") or {})
        objective = objective or definition.get("TuningObjective") or {}
    ranges: dict[str, tuple[str, str]] = {}
    categories: dict[str, tuple[str, ...]] = {}
    for found in range_sets:
        for member, kind in RANGE_KINDS.items():
            for item in found.get(member) or []:
                name = str(item.get("Name"))
                ranges[name] = (kind, str(item.get("ScalingType") or "Auto"))
                if kind == "Categorical":
                    categories[name] = tuple(str(v) for v in item.get("Values") or [])
    return JobInfo(
        name=str(describe.get("HyperParameterTuningJobName") or ""),
        region=region,
        arn=describe.get("HyperParameterTuningJobArn"),
        status=describe.get("HyperParameterTuningJobStatus"),
        metric=objective.get("MetricName"),
        objective_type=objective.get("Type"),
        counters=dict(describe.get("TrainingJobStatusCounters") or {}),
        objective_counters=dict(describe.get("ObjectiveStatusCounters") or {}),
        ranges=ranges,
        categories=categories,
    )


def trial_count(info: JobInfo) -> int:
    """How many training jobs the counters account for (the listing's expected length)."""
    return sum(int(v) for v in info.counters.values())


def counters_line(info: JobInfo) -> str:
    """`job: InProgress · trials Completed=12 InProgress=3 ...`, for the watch view."""
    counts = " ".join(f"{k}={v}" for k, v in info.counters.items())
    return f"{info.name}: {info.status or 'Unknown'} · trials {counts}".rstrip()


def document(info: JobInfo, trials: Sequence[Trial], now: float) -> dict[str, Any]:
    """The `--output json|yaml` document: the tuning job, then its trials in the chosen order."""
    best = best_trial(trials, info.objective_type)
    return {
        "tuningJob": {
            "name": info.name,
            "arn": info.arn,
            "region": info.region,
            "status": info.status,
            "objectiveMetric": info.metric,
            "objectiveType": info.objective_type,
            "trainingJobStatusCounters": dict(info.counters),
            "bestTrainingJob": best.name if best else None,
        },
        "trials": [trial_document(t, now) for t in trials],
    }


FINAL = frozenset({"Completed", "Failed", "Stopped"})  # a trial that changes no more


def changing_since(trials: Iterable[Trial]) -> float:
    """The creation time from which a listing newest-first must go back to see every trial that
    can have changed: the oldest unfinished one's, else the newest's (only new trials can come);
    0 (everything) when a time is unknown. The watch view lists this far, not the whole job."""
    known = list(trials)
    if not known or any(t.created is None for t in known):
        return 0.0
    open_ = [float(t.created or 0.0) for t in known if t.status not in FINAL]
    return min(open_) if open_ else max(float(t.created or 0.0) for t in known)


def changed(before: Mapping[str, Trial], after: Iterable[Trial]) -> list[Trial]:
    """The trials that are new or differ from what was shown (status, objective, end), in the
    order given: what the watch view prints next."""
    out = []
    for t in after:
        old = before.get(t.name)
        if old is None or (old.status, old.objective, old.ended) != (
            t.status,
            t.objective,
            t.ended,
        ):
            out.append(t)
    return out
