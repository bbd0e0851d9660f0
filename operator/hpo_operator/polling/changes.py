"""The shared poller's pure parts: what identifies a job's visible state (`signature`), when a
List summary stands in for a Describe, Search requests and their freshness, paging, the watermark
and the adaptive interval. No I/O, no clock, so each is a unit test."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hpo_operator.core.types import STATUS_JOB_STATE
from hpo_operator.model.awsmodel import STATUS_MEMBERS
from hpo_operator.model.timestamps import epoch_seconds as epoch

SEARCH_VALUE_MAX = 1024  # characters in one Filter Value (botocore's FilterValue)
SEARCH_FILTERS_MAX = 20  # Filters in one SearchExpression
PAGE_SIZE = 100  # the API's maximum MaxResults

Signature = tuple[float | None, str | None, str, str]


def _counters(value: Any) -> str:
    if not isinstance(value, Mapping):
        return ""
    return json.dumps({str(k).lower(): v for k, v in value.items()}, sort_keys=True)


def signature(summary: Mapping[str, Any]) -> Signature:
    """What identifies a job's visible state, from a List summary or a Describe response.

    LastModifiedTime at whole seconds (status keeps whole seconds), the status and both counters
    (keys lower-cased, so that status's camelCase copy compares equal to AWS's PascalCase).
    """
    modified = epoch(summary.get("LastModifiedTime"))
    return (
        None if modified is None else float(int(modified)),
        summary.get("HyperParameterTuningJobStatus"),
        _counters(summary.get("TrainingJobStatusCounters")),
        _counters(summary.get("ObjectiveStatusCounters")),
    )


def status_signature(status: Mapping[str, Any]) -> Signature:
    """The same signature from a resource's status (ACK field names)."""
    return signature(
        {
            "LastModifiedTime": status.get("lastModifiedTime"),
            "HyperParameterTuningJobStatus": status.get(STATUS_JOB_STATE),
            "TrainingJobStatusCounters": status.get("trainingJobStatusCounters"),
            "ObjectiveStatusCounters": status.get("objectiveStatusCounters"),
        }
    )


# What a List summary carries of a Describe: when nothing else can have changed, the summary
# merged into the last Describe is the Describe SageMaker would return (see `from_summary`).
SUMMARY_MEMBERS = (
    "HyperParameterTuningJobStatus",
    "LastModifiedTime",
    "HyperParameterTuningEndTime",
    "TrainingJobStatusCounters",
    "ObjectiveStatusCounters",
)
KEPT_MEMBERS = (*STATUS_MEMBERS, "HyperParameterTuningJobName", "HyperParameterTuningJobArn")


def trimmed(described: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a Describe that status is made of (about 1 KB, not the whole request)."""
    return {k: described[k] for k in KEPT_MEMBERS if described.get(k) is not None}


def from_summary(
    last: Mapping[str, Any] | None, summary: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The job's Describe rebuilt from its last one and a newer List summary, when the summary
    holds every member that can have changed: the job was and is InProgress, and no training job
    completed (so the best training job cannot have moved). None when a Describe is needed."""
    if last is None:
        return None
    state = summary.get("HyperParameterTuningJobStatus")
    if state != "InProgress" or last.get("HyperParameterTuningJobStatus") != "InProgress":
        return None
    before = last.get("TrainingJobStatusCounters") or {}
    after = summary.get("TrainingJobStatusCounters") or {}
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return None
    if after.get("Completed", 0) != before.get("Completed", 0):
        return None
    merged = dict(last)
    merged.update({k: summary[k] for k in SUMMARY_MEMBERS if summary.get(k) is not None})
    return merged


def search_requests(names: Iterable[str]) -> list[dict[str, Any]]:
    """Search requests that return the records of `names`, at most 100 per request (one page).

    Each request ORs `In` filters on the job name; a filter's Value is a comma-separated list of
    at most 1,024 characters, and an expression holds at most 20 filters.
    """
    requests: list[dict[str, Any]] = []
    filters: list[dict[str, str]] = []
    value: list[str] = []
    count = 0

    def close_filter() -> None:
        if value:
            filters.append(
                {"Name": "HyperParameterTuningJobName", "Operator": "In", "Value": ",".join(value)}
            )
            value.clear()

    def close_request() -> None:
        nonlocal count
        close_filter()
        if filters:
            requests.append(
                {
                    "Resource": "HyperParameterTuningJob",
                    "SearchExpression": {"Filters": list(filters), "Operator": "Or"},
                    "MaxResults": PAGE_SIZE,
                }
            )
            filters.clear()
        count = 0

    for name in names:
        if count == PAGE_SIZE:
            close_request()
        if value and len(",".join(value)) + 1 + len(name) > SEARCH_VALUE_MAX:
            close_filter()
            if len(filters) == SEARCH_FILTERS_MAX:
                close_request()
        value.append(name)
        count += 1
    close_request()
    return requests


def fresh_enough(record: Mapping[str, Any], expected: Signature | None) -> bool:
    """Whether a Search record shows at least the change the List reported.

    Search is served from an index that can lag behind the job (eventually consistent): a record
    older than the List summary that announced the change, or still InProgress when the sweep
    said the job left InProgress, is not used (a Describe is made instead).
    """
    if expected is None:
        return True
    modified = epoch(record.get("LastModifiedTime"))
    if expected[0] is not None and (modified is None or int(modified) < expected[0]):
        return False
    if expected[1] == LEFT_IN_PROGRESS:
        return record.get("HyperParameterTuningJobStatus") != "InProgress"
    return True


LEFT_IN_PROGRESS = "(left InProgress)"  # what a sweep knows of a job missing from its listing


@dataclass(frozen=True)
class ListFailure:
    """A List call that failed; `throttled` and AWS's Retry-After drive the limiter."""

    code: str
    message: str
    throttled: bool = False
    retry_after: float | None = None


Fetch = Callable[[dict[str, Any]], Awaitable[Mapping[str, Any] | ListFailure]]


@dataclass
class Listing:
    """The outcome of one paginated listing."""

    summaries: list[Mapping[str, Any]] = field(default_factory=list)
    pages: int = 0
    complete: bool = False  # the listing reached its end (no NextToken, or an empty page)
    empty_page_with_token: bool = False
    next_token: str | None = None  # where to resume when the page budget ran out
    failure: ListFailure | None = None


async def list_pages(
    fetch: Fetch, params: Mapping[str, Any], budget: int, token: str | None = None
) -> Listing:
    """Page through a listing: at most `budget` pages; an empty page ends it, token or not."""
    out = Listing()
    while out.pages < budget:
        request = dict(params)
        if token:
            request["NextToken"] = token
        response = await fetch(request)
        if isinstance(response, ListFailure):
            out.failure = response
            out.next_token = token
            return out
        out.pages += 1
        items = [s for s in response.get("HyperParameterTuningJobSummaries") or () if s]
        out.summaries.extend(items)
        token = response.get("NextToken") or None
        if token is None:
            out.complete = True
            return out
        if not items:
            out.complete = True
            out.empty_page_with_token = True
            return out
    out.next_token = token
    return out


def next_watermark(
    current: float | None, modified: Iterable[float | None], margin: float
) -> float | None:
    """The next LastModifiedTimeAfter: the newest LastModifiedTime SageMaker returned, minus
    `margin`; never earlier than `current`, and unchanged when nothing was returned."""
    seen = [m for m in modified if m is not None]
    if not seen:
        return current
    candidate = max(seen) - margin
    return candidate if current is None else max(current, candidate)


class AdaptiveInterval:
    """Fast right after a change, then slower by `growth` per quiet poll up to `slow`.

    Jitter only shortens an interval (by up to `jitter`·interval), so the time from a change to
    its poll never exceeds `slow`, whatever the draw.
    """

    def __init__(self, fast: float, slow: float, growth: float = 1.5, jitter: float = 0.2) -> None:
        self.fast = min(fast, slow)
        self.slow = slow
        self.growth = growth
        self.jitter = jitter
        self.current = self.fast

    def next(self, changed: bool, rand: float) -> float:
        """The pause before the next poll, after a poll that found changes or not."""
        self.current = self.fast if changed else min(self.slow, self.current * self.growth)
        return self.current * (1.0 - self.jitter * rand)


def job_key(name_or_arn: str) -> str:
    """Job names are unique per account and region regardless of case (List lower-cases ARNs)."""
    return name_or_arn.rsplit("/", 1)[-1].lower()
