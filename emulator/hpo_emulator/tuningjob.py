"""One tuning job's lifecycle, computed lazily from the clock.

No thread runs per job. Training jobs run in waves of MaxParallelTrainingJobs, each lasting
`training_seconds`; wave w starts at creation + startup + w * training_seconds. `advance(now)`
walks the wave boundaries up to `now` in order: it finishes the wave that ended (best job,
completion criteria, failure rule) and launches the next one (Bayesian proposals can use every
result known at that moment). Stop is the only outside event; it freezes the schedule. So the state
at any instant is a pure function of the request, the seeds, the creation time and the stop time,
which is all the state file needs to keep.
"""

from __future__ import annotations

import copy
import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hpo_emulator.scope import partition_of
from hpo_emulator.space import SearchSpace, improves, objective_value

TERMINAL = ("Completed", "Failed", "Stopped")
FAIL_AFTER = 5  # AWS: "No training job succeeded after 5 attempts."
NOT_IMPROVING_MARGIN = 0.01  # AWS counts a job as not improving at 1 % or less.
CONVERGENCE_WINDOW = 10  # trainings without improvement that count as convergence


@dataclass(frozen=True)
class Timing:
    """How long the phases of a job take, in seconds (fixed per job at creation)."""

    training_seconds: float
    startup_seconds: float
    stop_seconds: float


@dataclass(frozen=True)
class Definition:
    """One training job definition as the scheduler needs it."""

    raw: Mapping[str, Any]
    name: str | None
    space: SearchSpace
    objective_type: str
    metric: str
    image: str
    fails: bool


@dataclass
class Training:
    """A launched training job: its planned timing and its (deterministic) outcome."""

    index: int
    name: str
    definition: int
    tuned: dict[str, str]
    value: float | None  # None when the training fails
    start: float
    end: float


@dataclass(frozen=True)
class ParentBest:
    """A warm-start parent's best training job, fixed when the child is created."""

    summary: Mapping[str, Any]
    value: float
    tuned: Mapping[str, str]


def image_fails(image: str) -> bool:
    """The documented way to make failing trainings: an image whose tag is `fail`."""
    last = image.rsplit("/", 1)[-1]
    return ":" in last and last.split("@", 1)[0].rsplit(":", 1)[1] == "fail"


def definitions(request: Mapping[str, Any]) -> list[Definition]:
    """The training job definitions of a Create request, with their objectives and spaces."""
    config = request.get("HyperParameterTuningJobConfig") or {}
    objective = config.get("HyperParameterTuningJobObjective") or {}
    if request.get("TrainingJobDefinitions"):
        raws = list(request["TrainingJobDefinitions"])
    else:
        raws = [request.get("TrainingJobDefinition") or {}]
    out: list[Definition] = []
    for raw in raws:
        ranges = raw.get("HyperParameterRanges") or config.get("ParameterRanges")
        own = raw.get("TuningObjective") or objective
        algo = raw.get("AlgorithmSpecification") or {}
        image = str(algo.get("TrainingImage") or algo.get("AlgorithmName") or "")
        out.append(
            Definition(
                raw=raw,
                name=raw.get("DefinitionName"),
                space=SearchSpace.from_ranges(ranges),
                objective_type=str(own.get("Type", "Maximize")),
                metric=str(own.get("MetricName", "")),
                image=image,
                fails=image_fails(str(algo.get("TrainingImage") or "")),
            )
        )
    return out


def planned_trainings(request: Mapping[str, Any], defs: list[Definition]) -> int:
    """How many training jobs the job will launch at most."""
    config = request.get("HyperParameterTuningJobConfig") or {}
    limit = (config.get("ResourceLimits") or {}).get("MaxNumberOfTrainingJobs")
    if config.get("Strategy") == "Grid":
        grid = sum(d.space.grid_size() for d in defs)
        return min(int(limit), grid) if limit else grid
    return int(limit) if limit else 1


@dataclass
class TuningJob:
    """A tuning job: the request, its clock-derived schedule and what happened so far."""

    request: dict[str, Any]
    arn: str
    region: str
    account: str
    created: float
    seed: int
    timing: Timing
    parents: list[ParentBest] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    stop_at: float | None = None
    # derived, rebuilt by advance()
    trainings: list[Training] = field(default_factory=list)
    waves: int = 0
    best: int | None = None
    not_improving: int = 0
    convergence_at: float | None = None
    terminal: tuple[str, float, str | None] | None = None
    _defs: list[Definition] = field(default_factory=list, repr=False)
    _final_view: dict[str, Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._defs = definitions(self.request)
        self.total = planned_trainings(self.request, self._defs)
        limits = self.config.get("ResourceLimits") or {}
        self.parallel = max(1, min(int(limits.get("MaxParallelTrainingJobs", 1)), self.total))
        self.first_start = self.created + self.timing.startup_seconds
        criteria = self.config.get("TuningJobCompletionCriteria") or {}
        self.target: float | None = criteria.get("TargetObjectiveMetricValue")
        self.max_not_improving: int | None = (criteria.get("BestObjectiveNotImproving") or {}).get(
            "MaxNumberOfTrainingJobsNotImproving"
        )
        convergence = criteria.get("ConvergenceDetected") or {}
        self.complete_on_convergence = convergence.get("CompleteOnConvergence") == "Enabled"

    # ----- identity -----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The name as given at creation (case kept)."""
        return str(self.request["HyperParameterTuningJobName"])

    @property
    def config(self) -> dict[str, Any]:
        """The HyperParameterTuningJobConfig of the request."""
        config: dict[str, Any] = self.request["HyperParameterTuningJobConfig"]
        return config

    @property
    def objective_type(self) -> str:
        """Maximize or Minimize (of the first definition when there are several)."""
        return self._defs[0].objective_type

    # ----- the clock-driven schedule ------------------------------------------------------------
    def _boundary(self, wave: int) -> float:
        return self.first_start + wave * self.timing.training_seconds

    def advance(self, now: float) -> None:
        """Bring the schedule up to `now`: finish ended waves, launch due ones."""
        while self.terminal is None:
            at = self._boundary(self.waves)
            if at > now:
                return
            if self.waves > 0 and self._finish_wave(self.waves - 1, at):
                return
            self._launch_wave(self.waves, at)
            self.waves += 1

    def next_event(self) -> float | None:
        """When the visible state changes next (None once nothing will change any more)."""
        if self.terminal is not None:
            return self.terminal[1]
        return self._boundary(self.waves)

    def _launch_wave(self, wave: int, at: float) -> None:
        first = wave * self.parallel
        best_tuned = self._best_tuned()
        for index in range(first, min(first + self.parallel, self.total)):
            self.trainings.append(self._new_training(index, at, best_tuned))

    def _best_tuned(self) -> Mapping[str, str] | None:
        if self.best is not None:
            return self.trainings[self.best].tuned
        if self.parents:
            return self._best_parent().tuned
        return None

    def _new_training(self, index: int, at: float, best: Mapping[str, str] | None) -> Training:
        strategy = str(self.config.get("Strategy", "Bayesian"))
        definition_index = index % len(self._defs)
        definition = self._defs[definition_index]
        seed_text = self.config.get("RandomSeed")
        rng_key = f"{seed_text}" if seed_text is not None else f"{self.seed}:{self.name.lower()}"
        rng = random.Random(f"{rng_key}:{index}")
        grid_index = index // len(self._defs) if strategy == "Grid" else index
        tuned = definition.space.propose(strategy, rng, grid_index, best)
        value: float | None = None
        if not definition.fails:
            quality = definition.space.quality(self.seed, definition.metric, tuned)
            noise = random.Random(f"noise:{rng_key}:{index}").gauss(0.0, 0.005)
            value = objective_value(quality, definition.objective_type, noise)
        digest = hashlib.sha256(f"{self.name}:{self.created}:{index}".encode()).hexdigest()[:8]
        return Training(
            index=index,
            name=f"{self.name}-{index + 1:03d}-{digest}",
            definition=definition_index,
            tuned=tuned,
            value=value,
            start=at,
            end=at + self.timing.training_seconds,
        )

    def _finish_wave(self, wave: int, at: float) -> bool:
        """Account for the wave that ended at `at`; True when that ended the job."""
        first = wave * self.parallel
        reached = False
        kind = self.objective_type
        for t in self.trainings[first : first + self.parallel]:
            if t.value is None:
                continue
            best_value = self.trainings[self.best].value if self.best is not None else None
            if improves(t.value, best_value, kind, NOT_IMPROVING_MARGIN):
                self.not_improving = 0
            else:
                self.not_improving += 1
            if improves(t.value, best_value, kind):
                self.best = t.index
            if self.target is not None and not improves(float(self.target), t.value, kind):
                reached = True
        succeeded = sum(1 for t in self.trainings if t.value is not None)
        failed = len(self.trainings) - succeeded
        if (
            self.convergence_at is None
            and self.complete_on_convergence
            and self.not_improving >= CONVERGENCE_WINDOW
        ):
            self.convergence_at = at
        if reached:
            self.terminal = ("Completed", at, None)
        elif succeeded == 0 and failed >= min(FAIL_AFTER, self.total):
            reason = (
                f"No training job succeeded after {failed} attempts. "
                "Please take a look at the training job failures to get more details."
            )
            self.terminal = ("Failed", at, reason)
        elif self.max_not_improving is not None and self.not_improving >= self.max_not_improving:
            self.terminal = ("Completed", at, None)  # BestObjectiveNotImproving
        elif self.convergence_at is not None or len(self.trainings) >= self.total:
            self.terminal = ("Completed", at, None)
        return self.terminal is not None

    def stop(self, now: float) -> None:
        """Stop an in-progress job at `now`: running trainings stop, nothing new launches."""
        self.advance(now)
        if self.terminal is None:
            self.stop_at = now
            self.terminal = ("Stopped", now + self.timing.stop_seconds, None)

    # ----- what a Describe sees at `now` ---------------------------------------------------------
    def status(self, now: float) -> str:
        """HyperParameterTuningJobStatus at `now` (after advance(now))."""
        if self.terminal is not None and now >= self.terminal[1]:
            return self.terminal[0]
        if self.stop_at is not None and now >= self.stop_at:
            return "Stopping"
        return "InProgress"

    def finished(self, now: float) -> bool:
        """Whether the job is in a terminal status at `now`."""
        return self.status(now) in TERMINAL

    def last_modified(self, now: float) -> float:
        """The latest visible change at or before `now`."""
        times = [self.created]
        if self.waves:
            times.append(self._boundary(self.waves - 1))
        if self.stop_at is not None and self.stop_at <= now:
            times.append(self.stop_at)
        if self.terminal is not None and self.terminal[1] <= now:
            times.append(self.terminal[1])
        return max(times)

    def training_status(self, t: Training, now: float) -> tuple[str, float | None]:
        """A training job's status at `now` and its end time when it has ended."""
        stop = self.stop_at
        if stop is not None and t.start <= stop < t.end:
            if now < stop:
                return "InProgress", None
            end = stop + self.timing.stop_seconds
            return ("Stopping", None) if now < end else ("Stopped", end)
        if now < t.end:
            return "InProgress", None
        return ("Completed", t.end) if t.value is not None else ("Failed", t.end)

    def definition_of(self, t: Training) -> Definition:
        """The training job definition a training job was launched from."""
        return self._defs[t.definition]

    def _best_parent(self) -> ParentBest:
        kind = self.objective_type
        best = self.parents[0]
        for p in self.parents[1:]:
            if improves(p.value, best.value, kind):
                best = p
        return best

    # ----- output documents ---------------------------------------------------------------------
    def training_arn(self, t: Training) -> str:
        """The ARN of a training job."""
        partition = partition_of(self.region)
        return f"arn:{partition}:sagemaker:{self.region}:{self.account}:training-job/{t.name}"

    def summary(self, t: Training, now: float) -> dict[str, Any]:
        """A HyperParameterTrainingJobSummary at `now`."""
        status, end = self.training_status(t, now)
        out: dict[str, Any] = {
            "TrainingJobName": t.name,
            "TrainingJobArn": self.training_arn(t),
            "CreationTime": t.start,
            "TrainingJobStatus": status,
            "TunedHyperParameters": dict(t.tuned),
        }
        definition = self.definition_of(t)
        if definition.name:
            out["TrainingJobDefinitionName"] = definition.name
        started = t.start + 0.2 * self.timing.training_seconds
        if now >= started and (self.stop_at is None or self.stop_at >= started):
            out["TrainingStartTime"] = started
        if end is not None:
            out["TrainingEndTime"] = end
        if status == "Completed":
            out["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "MetricName": definition.metric,
                "Value": t.value,
            }
            out["ObjectiveStatus"] = "Succeeded"
        elif status in ("InProgress", "Stopping"):
            out["ObjectiveStatus"] = "Pending"
        else:
            out["ObjectiveStatus"] = "Failed"
        if status == "Failed":
            out["FailureReason"] = failure_reason(definition.image)
        return out

    def counters(self, now: float) -> tuple[dict[str, int], dict[str, int]]:
        """TrainingJobStatusCounters and ObjectiveStatusCounters at `now`."""
        by_status = {"Completed": 0, "InProgress": 0, "Failed": 0, "Stopped": 0}
        for t in self.trainings:
            status, _ = self.training_status(t, now)
            by_status["InProgress" if status == "Stopping" else status] += 1
        jobs = {
            "Completed": by_status["Completed"],
            "InProgress": by_status["InProgress"],
            "RetryableError": 0,
            "NonRetryableError": by_status["Failed"],
            "Stopped": by_status["Stopped"],
        }
        objectives = {
            "Succeeded": by_status["Completed"],
            "Pending": by_status["InProgress"],
            "Failed": by_status["Failed"] + by_status["Stopped"],
        }
        return jobs, objectives

    def describe(self, now: float) -> dict[str, Any]:
        """DescribeHyperParameterTuningJob at `now` (cached once the job is final)."""
        if self._final_view is not None:
            return self._final_view
        status = self.status(now)
        jobs, objectives = self.counters(now)
        out: dict[str, Any] = {
            "HyperParameterTuningJobName": self.name,
            "HyperParameterTuningJobArn": self.arn,
            "HyperParameterTuningJobConfig": echo_config(self.config),
        }
        if self.request.get("TrainingJobDefinitions"):
            out["TrainingJobDefinitions"] = [echo_definition(d.raw, d.metric) for d in self._defs]
        else:
            out["TrainingJobDefinition"] = echo_definition(self._defs[0].raw, self._defs[0].metric)
        out["HyperParameterTuningJobStatus"] = status
        out["CreationTime"] = self.created
        if status in TERMINAL and self.terminal is not None:
            out["HyperParameterTuningEndTime"] = self.terminal[1]
        out["LastModifiedTime"] = self.last_modified(now)
        out["TrainingJobStatusCounters"] = jobs
        out["ObjectiveStatusCounters"] = objectives
        best = self.best_summary(now)
        if best is not None:
            out["BestTrainingJob"] = best
        if self.request.get("WarmStartConfig"):
            overall = self.overall_best(now)
            if overall is not None:
                out["OverallBestTrainingJob"] = overall
            out["WarmStartConfig"] = copy.deepcopy(self.request["WarmStartConfig"])
        if self.request.get("Autotune"):
            out["Autotune"] = copy.deepcopy(self.request["Autotune"])
        if status == "Failed" and self.terminal is not None and self.terminal[2]:
            out["FailureReason"] = self.terminal[2]
        details: dict[str, Any] = {"NumberOfTrainingJobsObjectiveNotImproving": self.not_improving}
        if self.convergence_at is not None and self.convergence_at <= now:
            details["ConvergenceDetectedTime"] = self.convergence_at
        out["TuningJobCompletionDetails"] = details
        end = self.terminal[1] if status in TERMINAL and self.terminal is not None else now
        out["ConsumedResources"] = {"RuntimeInSeconds": max(0, int(end - self.created))}
        if status in TERMINAL:
            self._final_view = out
        return out

    def best_summary(self, now: float) -> dict[str, Any] | None:
        """BestTrainingJob: the best completed training job of this job so far."""
        if self.best is None:
            return None
        return self.summary(self.trainings[self.best], now)

    def best_value(self) -> float | None:
        """The objective value of BestTrainingJob."""
        return None if self.best is None else self.trainings[self.best].value

    def overall_best(self, now: float) -> dict[str, Any] | None:
        """OverallBestTrainingJob: the best of this job and its warm-start parents."""
        record = self.overall_best_record(now)
        return None if record is None else copy.deepcopy(dict(record.summary))

    def overall_best_record(self, now: float) -> ParentBest | None:
        """The best training job of this job and its parents, as a warm-start child keeps it."""
        candidates = list(self.parents)
        if self.best is not None:
            t = self.trainings[self.best]
            assert t.value is not None
            own = {**self.summary(t, now), "TuningJobName": self.name}
            candidates.insert(0, ParentBest(own, t.value, dict(t.tuned)))
        if not candidates:
            return None
        best = candidates[0]
        for c in candidates[1:]:
            if improves(c.value, best.value, self.objective_type):
                best = c
        return best


def failure_reason(image: str) -> str:
    """A training job's FailureReason for the `:fail` image."""
    return (
        "AlgorithmError: the training container exited with a non-zero status "
        f"(the SageMaker emulator fails every training job of the image {image}, tagged 'fail')"
    )


def echo_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config as Describe returns it: the request, with the defaults AWS fills in."""
    out = copy.deepcopy(dict(config))
    out.setdefault("TrainingJobEarlyStoppingType", "Off")
    return out


def echo_definition(raw: Mapping[str, Any], metric: str) -> dict[str, Any]:
    """A training job definition as Describe returns it, with AWS's defaults filled in."""
    out = copy.deepcopy(dict(raw))
    for flag in (
        "EnableInterContainerTrafficEncryption",
        "EnableManagedSpotTraining",
        "EnableNetworkIsolation",
    ):
        out.setdefault(flag, False)
    algo = out.setdefault("AlgorithmSpecification", {})
    if metric and not algo.get("MetricDefinitions"):
        # A built-in algorithm: AWS lists the algorithm's metrics, the objective among them.
        algo["MetricDefinitions"] = [
            {"Name": metric, "Regex": builtin_metric_regex(metric)},
            {"Name": "ObjectiveMetric", "Regex": builtin_metric_regex(metric)},
        ]
    static = dict(out.get("StaticHyperParameters") or {})
    if metric:
        static.setdefault("_tuning_objective_metric", metric)
    out["StaticHyperParameters"] = static
    return out


def builtin_metric_regex(metric: str) -> str:
    """The log pattern SageMaker's built-in algorithms declare for a metric (XGBoost style)."""
    number = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
    return rf".*\[[0-9]+\].*#011{metric.replace(':', '-')}:{number}.*"
