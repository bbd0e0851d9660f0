"""Sorted indexes over the tuning jobs, so List pages cost O(page), not O(jobs).

Status and LastModifiedTime change only at the events the store's heap processes, so the store
re-indexes a job exactly then. A List page picks its cheapest source: the jobs modified after a
time (the poller's query) or of one status when those are few, else a scan of the name or
creation-time index from the NextToken on, which stops once the page is full.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import Any

from hpo_emulator.tuningjob import TuningJob

Key = tuple[Any, ...]


def _remove(items: list[Key], item: Key) -> None:
    i = bisect.bisect_left(items, item)
    if i < len(items) and items[i] == item:
        del items[i]


class JobIndex:
    """Jobs by name, by creation time, by last modification and by status."""

    def __init__(self) -> None:
        self.by_name: list[Key] = []  # (name,)
        self.by_created: list[Key] = []  # (created, name)
        self.by_modified: list[Key] = []  # (last_modified, name)
        self.by_status: dict[str, set[str]] = {}  # status -> names
        self._seen: dict[str, tuple[str, float]] = {}  # name -> (status, last_modified)

    def add(self, job: TuningJob, now: float) -> None:
        """Index a new job."""
        bisect.insort(self.by_name, (job.name,))
        bisect.insort(self.by_created, (job.created, job.name))
        self.update(job, now)

    def update(self, job: TuningJob, now: float) -> None:
        """Re-index a job's status and LastModifiedTime after it changed."""
        status, modified = job.status(now), job.last_modified(now)
        old = self._seen.get(job.name)
        if old == (status, modified):
            return
        if old is not None:
            self.by_status[old[0]].discard(job.name)
            _remove(self.by_modified, (old[1], job.name))
        self._seen[job.name] = (status, modified)
        self.by_status.setdefault(status, set()).add(job.name)
        bisect.insort(self.by_modified, (modified, job.name))

    def remove(self, job: TuningJob) -> None:
        """Forget a deleted job."""
        _remove(self.by_name, (job.name,))
        _remove(self.by_created, (job.created, job.name))
        old = self._seen.pop(job.name, None)
        if old is not None:
            self.by_status[old[0]].discard(job.name)
            _remove(self.by_modified, (old[1], job.name))

    def modified_after(self, after: float) -> list[str]:
        """Names of the jobs modified strictly after a time."""
        start = bisect.bisect_right(self.by_modified, (after, "\U0010ffff"))
        return [name for _, name in self.by_modified[start:]]

    def scan(self, sort_by: str, descending: bool, token: Key | None) -> Iterator[str]:
        """Names in Name or CreationTime order, starting after the token's key."""
        keys = self.by_created if sort_by == "CreationTime" else self.by_name
        if descending:
            end = len(keys) if token is None else bisect.bisect_left(keys, token)
            for i in range(end - 1, -1, -1):
                yield keys[i][-1]
        else:
            start = 0 if token is None else bisect.bisect_right(keys, token)
            for i in range(start, len(keys)):
                yield keys[i][-1]
