"""The emulator's account: tuning jobs by name, their event heap, tags, and persistence.

Every operation first calls `tick(now)`, which advances only the jobs whose next visible change is
due (a heap keyed by time), so 10,000 idle jobs cost nothing per request.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from typing import Any

from hpo_emulator import errors
from hpo_emulator.config import EmulatorConfig
from hpo_emulator.index import JobIndex
from hpo_emulator.lagview import LaggedJobs
from hpo_emulator.listing import decode_token, encode_token, page
from hpo_emulator.scope import partition_of
from hpo_emulator.tuningjob import ParentBest, Timing, Training, TuningJob

STATE_VERSION = 1
MAX_TAGS = 50


class Store:
    """All tuning jobs of one emulated account and region."""

    def __init__(
        self, config: EmulatorConfig, account: str | None = None, region: str | None = None
    ) -> None:
        self.config = config
        self.account = account or config.account_id
        self.region = region or config.region
        self.jobs: dict[str, TuningJob] = {}  # lower-cased name -> job, in creation order
        self.retired: dict[str, list[TuningJob]] = {}  # deleted jobs, for DescribeTrainingJob
        self._heap: list[tuple[float, int, TuningJob]] = []
        self._scheduled: dict[int, float] = {}  # id(job) -> the time it is queued for
        self._seq = itertools.count()
        self.index = JobIndex()
        self.lagged = LaggedJobs()  # Search's view under the search_lag fault
        self.changes = 0  # bumped on every change the state file must keep

    # ----- time ---------------------------------------------------------------------------------
    def _schedule(self, job: TuningJob, now: float) -> None:
        """Re-index a job that may have changed, and queue its next event."""
        self.index.update(job, now)
        at = job.next_event()
        if at is None or (at <= now and job.terminal is not None):
            self._scheduled.pop(id(job), None)
            return
        if self._scheduled.get(id(job)) == at:
            return
        self._scheduled[id(job)] = at
        heapq.heappush(self._heap, (at, next(self._seq), job))

    def tick(self, now: float) -> None:
        """Advance every job whose state changes at or before `now`."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            at, _, job = heapq.heappop(heap)
            if self._scheduled.get(id(job)) != at:
                continue  # superseded by a later entry
            del self._scheduled[id(job)]
            if self.jobs.get(job.name.lower()) is not job:
                continue  # deleted
            job.advance(now)
            self._schedule(job, now)

    def active_jobs(self) -> int:
        """Jobs still InProgress or Stopping (after tick)."""
        return len(self._scheduled)

    # ----- lookups ------------------------------------------------------------------------------
    def arn(self, name: str) -> str:
        """The ARN of a tuning job: SageMaker keeps the name's case in Create and Describe."""
        partition = partition_of(self.region)
        return (
            f"arn:{partition}:sagemaker:{self.region}:{self.account}:"
            f"hyper-parameter-tuning-job/{name}"
        )

    def get(self, name: str) -> TuningJob:
        """A live tuning job by name (case-insensitive), or ResourceNotFound."""
        job = self.jobs.get(name.lower())
        if job is None:
            raise errors.not_found(f"Amazon SageMaker can't find a tuning job with name {name}")
        return job

    def by_arn(self, arn: str) -> TuningJob:
        """The tuning job with exactly this ARN (as AWS, case-sensitive), for the tag calls."""
        prefix = self.arn("")
        if arn.startswith(prefix):
            job = self.jobs.get(arn[len(prefix) :].lower())
            if job is not None and job.arn == arn:
                return job
        raise errors.validation(f"Resource {arn} does not exist.")

    def training(self, name: str, now: float) -> tuple[TuningJob, Training]:
        """A training job launched by a tuning job (also after its tuning job was deleted)."""
        parts = name.rsplit("-", 2)
        if len(parts) == 3 and parts[1].isdigit():
            index = int(parts[1]) - 1
            key = parts[0].lower()
            candidates = list(self.retired.get(key, []))
            if key in self.jobs:
                candidates.append(self.jobs[key])
            for job in candidates:
                job.advance(now)
                found = job.trainings[index] if 0 <= index < len(job.trainings) else None
                if found is not None and found.name.lower() == name.lower():
                    return job, found
        raise errors.not_found("Requested resource not found.")

    # ----- changes ------------------------------------------------------------------------------
    def create(self, request: Mapping[str, Any], now: float) -> TuningJob:
        """Start a job after the checks that need the account's state."""
        name = str(request["HyperParameterTuningJobName"])
        existing = self.jobs.get(name.lower())
        if existing is not None:
            raise errors.in_use(
                "Hyperparameter tuning job names must be unique within an AWS account and region, "
                f"and a hyperparameter tuning job with this name already exists ({existing.arn})"
            )
        parents = self._warm_start_parents(request, now)
        limit = self.config.max_concurrent_jobs
        if limit and self.active_jobs() >= limit:
            raise errors.limit_exceeded(
                "The account-level service limit 'Number of concurrent hyperparameter tuning jobs'"
                f" is {limit} HyperParameterTuningJobs, with current utilization of "
                f"{self.active_jobs()} HyperParameterTuningJobs and a request delta of 1 "
                "HyperParameterTuningJobs."
            )
        job = TuningJob(
            request=dict(request),
            arn=self.arn(name),
            region=self.region,
            account=self.account,
            created=round(now, 3),
            seed=self.config.seed,
            timing=Timing(
                training_seconds=self.config.training_seconds,
                startup_seconds=self.config.startup(),
                stop_seconds=self.config.stopping(),
            ),
            parents=parents,
            tags=[dict(t) for t in request.get("Tags") or []],
        )
        self._check_limits(job)
        self.jobs[name.lower()] = job
        self.index.add(job, now)
        self._schedule(job, now)
        self.changes += 1
        return job

    def _check_limits(self, job: TuningJob) -> None:
        cfg = self.config
        if job.total > cfg.max_training_jobs:
            raise errors.limit_exceeded(
                "The account-level service limit 'Maximum number of training jobs per "
                f"hyperparameter tuning job' is {cfg.max_training_jobs}, and the request asks for "
                f"{job.total}."
            )
        limits = job.config.get("ResourceLimits") or {}
        parallel = int(limits.get("MaxParallelTrainingJobs", 1))
        if parallel > cfg.max_parallel_training_jobs:
            raise errors.limit_exceeded(
                "The account-level service limit 'Number of parallel training jobs per "
                f"hyperparameter tuning job' is {cfg.max_parallel_training_jobs}, and the "
                f"request asks for {parallel}."
            )

    def _warm_start_parents(self, request: Mapping[str, Any], now: float) -> list[ParentBest]:
        warm = request.get("WarmStartConfig") or {}
        parents: list[ParentBest] = []
        for i, ref in enumerate(warm.get("ParentHyperParameterTuningJobs") or []):
            name = str(ref.get("HyperParameterTuningJobName", ""))
            where = f"warmStartConfig.parentHyperParameterTuningJobs.{i + 1}.member"
            job = self.jobs.get(name.lower())
            if job is None:
                raise errors.validation(
                    f"1 validation error detected: Value '{name}' at '{where}' failed to satisfy "
                    "constraint: the parent hyperparameter tuning job does not exist"
                )
            self.tick(now)
            status = job.status(now)
            if status not in ("Completed", "Stopped", "Failed"):
                raise errors.validation(
                    f"1 validation error detected: Value '{name}' at '{where}' failed to satisfy "
                    f"constraint: the parent hyperparameter tuning job is {status}; it must be "
                    "finished (Completed, Stopped or Failed)"
                )
            record = job.overall_best_record(now)
            if record is not None:
                parents.append(record)
        return parents

    def stop(self, name: str, now: float) -> None:
        """Stop a job; ValidationException when it has already ended."""
        job = self.get(name)
        job.advance(now)
        status = job.status(now)
        if status == "Stopping":
            return
        if status != "InProgress":
            raise errors.validation(
                f"The hyperparameter tuning job {job.name} is {status} and cannot be stopped; "
                "only InProgress jobs can be stopped."
            )
        job.stop(now)
        self._schedule(job, now)
        self.changes += 1

    def delete(self, name: str, now: float) -> None:
        """Delete a finished job (AWS refuses to delete one that is running or stopping)."""
        job = self.get(name)
        job.advance(now)
        status = job.status(now)
        if status not in ("Completed", "Failed", "Stopped"):
            raise errors.validation(
                f"The hyperparameter tuning job {job.name} is {status}. Only a job in Completed, "
                "Failed or Stopped status can be deleted."
            )
        del self.jobs[name.lower()]
        self.index.remove(job)
        self._scheduled.pop(id(job), None)
        self.retired.setdefault(name.lower(), []).append(job)
        self.changes += 1

    def add_tags(self, arn: str, tags: list[dict[str, str]]) -> list[dict[str, str]]:
        """Add or overwrite tags on a tuning job."""
        job = self.by_arn(arn)
        merged = {t["Key"]: t for t in job.tags}
        for t in tags:
            merged[t["Key"]] = dict(t)
        if len(merged) > MAX_TAGS:
            raise errors.validation(
                f"1 validation error detected: the resource would have {len(merged)} tags, "
                f"more than the maximum of {MAX_TAGS}."
            )
        job.tags = list(merged.values())
        self.changes += 1
        return [dict(t) for t in tags]

    def delete_tags(self, arn: str, keys: list[str]) -> None:
        """Remove tags by key (absent keys are ignored, as on AWS)."""
        job = self.by_arn(arn)
        job.tags = [t for t in job.tags if t["Key"] not in set(keys)]
        self.changes += 1

    # ----- listings -----------------------------------------------------------------------------
    def list_jobs(self, params: Mapping[str, Any], now: float) -> dict[str, Any]:
        """ListHyperParameterTuningJobs with every filter, sort and NextToken."""
        contains = str(params.get("NameContains") or "").lower()
        status_eq = params.get("StatusEquals")
        c_after, c_before = params.get("CreationTimeAfter"), params.get("CreationTimeBefore")
        m_after = params.get("LastModifiedTimeAfter")
        m_before = params.get("LastModifiedTimeBefore")
        sort_by = params.get("SortBy") or "Name"
        descending = params.get("SortOrder") == "Descending"
        token = params.get("NextToken")
        max_results = int(params.get("MaxResults") or 10)

        def keep(job: TuningJob) -> bool:
            if contains and contains not in job.name.lower():
                return False
            if c_after is not None and not job.created > c_after:
                return False
            if c_before is not None and not job.created < c_before:
                return False
            if status_eq is not None and job.status(now) != status_eq:
                return False
            if m_after is not None or m_before is not None:
                modified = job.last_modified(now)
                if m_after is not None and not modified > m_after:
                    return False
                if m_before is not None and not modified < m_before:
                    return False
            return True

        def key(job: TuningJob) -> tuple[Any, ...]:
            if sort_by == "CreationTime":
                return (job.created, job.name)
            if sort_by == "Status":
                return (job.status(now), job.name)
            return (job.name,)

        few: list[str] | None = None  # a small superset of the matches, from an index
        if m_after is not None:
            few = self.index.modified_after(m_after)
        if status_eq is not None:
            same = self.index.by_status.get(status_eq, set())
            if few is None or len(same) < len(few):
                few = list(same)
        if contains and few is None:  # one pass over the lower-cased keys, in C
            few = [job.name for lowered, job in self.jobs.items() if contains in lowered]
        if sort_by == "Status" or (few is not None and len(few) * 4 < len(self.jobs)):
            names = few if few is not None else [job.name for job in self.jobs.values()]
            jobs = [j for j in (self.jobs[n.lower()] for n in names) if keep(j)]
            chunk, next_token = page(
                jobs, key, descending=descending, token=token, max_results=max_results
            )
        else:  # walk the sort order from the token on; stop once the page is full
            after = decode_token(token) if token else None
            chunk = []
            next_token = None
            for name in self.index.scan(sort_by, descending, after):
                lowered = name.lower()
                if contains and contains not in lowered:
                    continue  # the cheap test first: a NameContains listing scans every name
                job = self.jobs[lowered]
                if not keep(job):
                    continue
                if len(chunk) == max_results:
                    next_token = encode_token(key(chunk[-1]))
                    break
                chunk.append(job)
        out: dict[str, Any] = {
            "HyperParameterTuningJobSummaries": [self._summary(job, now) for job in chunk]
        }
        if next_token:
            out["NextToken"] = next_token
        return out

    def _summary(self, job: TuningJob, now: float) -> dict[str, Any]:
        jobs, objectives = job.counters(now)
        status = job.status(now)
        out: dict[str, Any] = {
            "HyperParameterTuningJobName": job.name,
            # SageMaker's List returns the ARN lower-cased (boto/boto3#4606).
            "HyperParameterTuningJobArn": job.arn.lower(),
            "HyperParameterTuningJobStatus": status,
            "Strategy": job.config.get("Strategy"),
            "CreationTime": job.created,
        }
        if job.finished(now) and job.terminal is not None:
            out["HyperParameterTuningEndTime"] = job.terminal[1]
        out["LastModifiedTime"] = job.last_modified(now)
        out["TrainingJobStatusCounters"] = jobs
        out["ObjectiveStatusCounters"] = objectives
        if job.config.get("ResourceLimits"):
            out["ResourceLimits"] = dict(job.config["ResourceLimits"])
        return out

    def list_trainings(self, params: Mapping[str, Any], now: float) -> dict[str, Any]:
        """ListTrainingJobsForHyperParameterTuningJob with its filter, sorts and NextToken."""
        job = self.get(str(params["HyperParameterTuningJobName"]))
        job.advance(now)
        status_eq = params.get("StatusEquals")
        sort_by = params.get("SortBy") or "Name"
        rows: list[tuple[Training, str]] = []
        for t in job.trainings:
            status, _ = job.training_status(t, now)
            if status_eq is not None and status != status_eq:
                continue
            if sort_by == "FinalObjectiveMetricValue" and status != "Completed":
                continue  # AWS leaves out jobs without an objective value
            rows.append((t, status))

        def key(row: tuple[Training, str]) -> tuple[Any, ...]:
            t, status = row
            if sort_by == "CreationTime":
                return (t.start, t.name)
            if sort_by == "Status":
                return (status, t.name)
            if sort_by == "FinalObjectiveMetricValue":
                return (t.value, t.name)
            return (t.name,)

        chunk, token = page(
            rows,
            key,
            descending=params.get("SortOrder") == "Descending",
            token=params.get("NextToken"),
            max_results=int(params.get("MaxResults") or 10),
        )
        out: dict[str, Any] = {"TrainingJobSummaries": [job.summary(t, now) for t, _ in chunk]}
        if token:
            out["NextToken"] = token
        return out

    # ----- persistence --------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """Everything needed to rebuild the account: the lifecycle is recomputed from it."""
        return {
            "version": STATE_VERSION,
            "jobs": [_job_state(j) for j in self.jobs.values()],
            "retired": [_job_state(j) for js in self.retired.values() for j in js],
        }

    def load_state(self, state: Mapping[str, Any], now: float) -> None:
        """Replace the account with a saved one; jobs continue on the wall clock."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported state file version {state.get('version')!r}")
        self.jobs.clear()
        self.retired.clear()
        self._heap.clear()
        self._scheduled.clear()
        self.index = JobIndex()
        for item in state.get("jobs", []):
            job = _job_from_state(item)
            self.jobs[job.name.lower()] = job
            job.advance(now)
            self.index.add(job, now)
            self._schedule(job, now)
        for item in state.get("retired", []):
            job = _job_from_state(item)
            self.retired.setdefault(job.name.lower(), []).append(job)


def _job_state(job: TuningJob) -> dict[str, Any]:
    return {
        "request": job.request,
        "arn": job.arn,
        "region": job.region,
        "account": job.account,
        "created": job.created,
        "seed": job.seed,
        "timing": [
            job.timing.training_seconds,
            job.timing.startup_seconds,
            job.timing.stop_seconds,
        ],
        "parents": [
            {"summary": p.summary, "value": p.value, "tuned": p.tuned} for p in job.parents
        ],
        "tags": job.tags,
        "stop_at": job.stop_at,
    }


def _job_from_state(item: Mapping[str, Any]) -> TuningJob:
    training, startup, stopping = item["timing"]
    job = TuningJob(
        request=item["request"],
        arn=item["arn"],
        region=item["region"],
        account=item["account"],
        created=float(item["created"]),
        seed=int(item["seed"]),
        timing=Timing(float(training), float(startup), float(stopping)),
        parents=[ParentBest(p["summary"], float(p["value"]), p["tuned"]) for p in item["parents"]],
        tags=list(item["tags"]),
    )
    if item.get("stop_at") is not None:
        job.stop(float(item["stop_at"]))
    return job
