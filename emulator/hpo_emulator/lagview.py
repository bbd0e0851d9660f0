"""The tuning jobs as they were some seconds ago, for Search's eventually consistent index.

A job's state at any instant is a pure function of its request, seeds, creation time and stop
time (tuningjob.py), so the past is recomputed, not recorded: a replay of the job, advanced to
`now - lag` and stopped if the real job had been stopped by then. A replay exists only while the
job is unfinished at that past instant; after that the live job's final document is the past one.
So memory grows with the jobs that are running, never with time or with the number of changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from hpo_emulator.tuningjob import TuningJob


@dataclass
class _Replay:
    live: TuningJob  # the job this replays (a deleted and re-created name is another job)
    past: TuningJob
    at: float  # the instant `past` is advanced to


def replay(job: TuningJob) -> TuningJob:
    """A fresh copy of a job at its creation: same request, seeds, timing and parents."""
    return TuningJob(
        request=job.request,
        arn=job.arn,
        region=job.region,
        account=job.account,
        created=job.created,
        seed=job.seed,
        timing=job.timing,
        parents=list(job.parents),
        tags=job.tags,
    )


class LaggedJobs:
    """Per job, a replay that follows the live job `lag` seconds behind."""

    def __init__(self) -> None:
        self._replays: dict[str, _Replay] = {}  # lower-cased name -> replay

    def __len__(self) -> int:
        return len(self._replays)

    def at(self, job: TuningJob, past: float) -> TuningJob | None:
        """The job as it was at `past` (None when it did not exist yet); describe it at `past`."""
        if job.created > past:
            return None
        key = job.name.lower()
        if job.terminal is not None and job.terminal[1] <= past:
            self._replays.pop(key, None)
            return job  # finished by then: its final document is the one of that instant
        entry = self._replays.get(key)
        if entry is None or entry.live is not job or entry.at > past:  # new, or the lag grew
            entry = _Replay(job, replay(job), job.created)
            self._replays[key] = entry
        stop_at = job.stop_at
        if stop_at is not None and stop_at <= past and entry.past.stop_at is None:
            entry.past.stop(stop_at)
        entry.past.advance(past)
        entry.at = past
        return entry.past

    def prune(self, live: dict[str, TuningJob]) -> None:
        """Forget the replays of deleted jobs (`live`: the store's jobs by lower-cased name)."""
        for key in [k for k, e in self._replays.items() if live.get(k) is not e.live]:
            del self._replays[key]

    def clear(self) -> None:
        """Forget every replay (the lag is back to zero)."""
        self._replays.clear()
