"""The one timestamp parser: what boto3 returns, what Kubernetes and kopf write, what JSON holds.

A timestamp arrives as an aware `datetime` (botocore), epoch seconds (botocore's wire format,
JSON fixtures) or an ISO 8601 / RFC 3339 string (`2024-01-02T03:04:05Z`, an offset, fractions:
status fields, kopf's progress records, manifests). A naive one is taken as UTC: AWS and
Kubernetes both write UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

Timestamp = datetime | str | int | float


def parse_timestamp(value: Timestamp) -> datetime:
    """An aware datetime (naive input is UTC). Raises ValueError for text that is not ISO 8601."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, tz=UTC)
    else:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def epoch_seconds(value: object) -> float | None:
    """Seconds since the epoch; None for nothing (None, "") or what does not parse."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, datetime | str | int | float):
        value = str(value)
    try:
        return parse_timestamp(value).timestamp()
    except (ValueError, OverflowError, OSError):
        return None
