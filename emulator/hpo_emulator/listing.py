"""Sorting and NextToken pagination shared by the List operations.

A token holds the sort key of the last item returned, so a page continues after it even when
jobs were created or deleted in between (offsets would skip or repeat items).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hpo_emulator.errors import validation

T = TypeVar("T")
Key = tuple[Any, ...]


def encode_token(key: Key | None) -> str:
    """An opaque NextToken for a sort key (None: from the first item)."""
    return base64.urlsafe_b64encode(
        json.dumps(None if key is None else list(key)).encode()
    ).decode()


START_TOKEN = encode_token(None)


def decode_token(token: str) -> Key | None:
    """The sort key inside a NextToken; ValidationException when it is not one of ours."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as err:
        raise validation("Invalid pagination token: the NextToken is not valid.") from err
    if key is None:
        return None
    if not isinstance(key, list):
        raise validation("Invalid pagination token: the NextToken is not valid.")
    return tuple(key)


def page(
    items: Sequence[T],
    key: Callable[[T], Key],
    *,
    descending: bool,
    token: str | None,
    max_results: int,
) -> tuple[list[T], str | None]:
    """One page of items in key order, and the token of the next page (None on the last)."""
    ordered = sorted(items, key=key)
    keys = [key(item) for item in ordered]
    if descending:
        end = len(ordered)
        after = decode_token(token) if token else None
        if after is not None:
            end = bisect.bisect_left(keys, _comparable(after, keys))
        start = max(0, end - max_results)
        chunk = ordered[start:end][::-1]
        more = start > 0
    else:
        start = 0
        after = decode_token(token) if token else None
        if after is not None:
            start = bisect.bisect_right(keys, _comparable(after, keys))
        chunk = ordered[start : start + max_results]
        more = start + max_results < len(ordered)
    next_token = encode_token(key(chunk[-1])) if more and chunk else None
    return chunk, next_token


def _comparable(key: Key, keys: list[Key]) -> Key:
    """Reject a token whose key cannot be compared with this listing's keys."""
    if keys:
        try:
            _ = key < keys[0]
        except TypeError as err:
            raise validation("Invalid pagination token: the NextToken is not valid.") from err
    return key
