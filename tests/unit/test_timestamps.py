"""The one timestamp parser (`model/timestamps.py`) every module reads timestamps with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from hpo_operator.model.timestamps import epoch_seconds, parse_timestamp

MOMENT = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        MOMENT,
        MOMENT.replace(tzinfo=None),  # naive: UTC
        MOMENT.astimezone(timezone(timedelta(hours=2))),
        MOMENT.timestamp(),
        int(MOMENT.timestamp()),
        "2024-01-02T03:04:05Z",
        " 2024-01-02T03:04:05.000Z ",
        "2024-01-02T05:04:05+02:00",
        "2024-01-02T03:04:05",  # naive: UTC
        "2024-01-02 03:04:05+00:00",  # str(datetime)
    ],
)
def test_every_form_reads_as_the_same_moment(value: datetime | str | float) -> None:
    assert parse_timestamp(value) == MOMENT
    assert parse_timestamp(value).tzinfo is not None
    assert epoch_seconds(value) == MOMENT.timestamp()


@pytest.mark.parametrize("value", [None, "", "yesterday", "2024-13-01T00:00:00Z", True, object()])
def test_nothing_or_garbage_is_none(value: object) -> None:
    assert epoch_seconds(value) is None


def test_garbage_raises_for_the_strict_reader() -> None:
    with pytest.raises(ValueError):
        parse_timestamp("not a time")
