"""What kopf's progress annotations say about a resource: its per-handler records.

kopf keeps one JSON record per handler under the operator's bookkeeping prefix while the handler
is in progress (started, retries, delayed until), and marks it success or failure when done. The
stall sweep reads them to tell a stalled resource from a busy one, and parking to know that kopf
is done with a resource before it leaves the watch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hpo_operator import identity


def records(annotations: Mapping[str, str], prefix: str) -> dict[str, dict[str, Any]]:
    """kopf's per-handler progress records under `prefix` (handler id → record)."""
    found: dict[str, dict[str, Any]] = {}
    for key, value in annotations.items():
        head, _, handler = key.partition("/")
        if head != prefix or handler == identity.DIFF_BASE_KEY:
            continue
        try:
            record = json.loads(value)
        except (TypeError, ValueError):
            continue  # not a record: kopf's touch-dummy, the operator's own bookkeeping
        if isinstance(record, dict) and "started" in record:
            found[handler] = record
    return found


def unfinished(annotations: Mapping[str, str], prefix: str) -> dict[str, dict[str, Any]]:
    """The records of handlers neither succeeded nor failed for good."""
    return {
        handler: record
        for handler, record in records(annotations, prefix).items()
        if not record.get("success") and not record.get("failure")
    }
