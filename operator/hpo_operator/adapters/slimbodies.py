"""Objects read from the API server lose `metadata.managedFields` as soon as they are parsed.

Server-side field tracking (`managedFields`) is close to half of a HyperParameterTuningJob's
parsed body (218 of 461 JSON values for a running job: kubectl's, kopf's and the status
writer's field sets), and nothing in this process reads it: not kopf, not the handlers. The API
server cannot be asked to leave it out (no such option on GET, LIST or WATCH), so each body is
trimmed right after kopf's JSON decoding, before kopf queues it for its worker. At a burst
(1,000 resources applied at once, each body waiting for its worker) this halves what waits, and
CPython keeps the high-water mark of such a burst for good (its arenas are returned only when
wholly empty; docs/performance.md).

kopf reads through three functions of its private `kopf._cogs.clients.api` (`get` for lists and
single reads, `patch` whose response it keeps, `stream` for watches), looked up on that module at
each call; `install` wraps them there, once. kopf is pinned (requirements/lock.txt) and
`tests/unit/test_slimbodies.py` fails when these functions change shape.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from functools import wraps
from typing import Any

from kopf._cogs.clients import api

MARK = "_hpo_slim"  # set on the wrappers, so that `install` is idempotent


def slim(obj: Any) -> Any:
    """`obj` without `metadata.managedFields`, in place; a list's `items` too. Returns `obj`."""
    if isinstance(obj, dict):
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            meta.pop("managedFields", None)
        items = obj.get("items")
        if isinstance(items, list):
            for item in items:
                slim(item)
    return obj


def slim_event(event: Any) -> Any:
    """A watch event (`{"type": ..., "object": ...}`) with its object slimmed."""
    if isinstance(event, dict):
        slim(event.get("object"))
    return event


def _wrap(fn: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Coroutine[Any, Any, Any]]:
    @wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        return slim(await fn(*args, **kwargs))

    setattr(call, MARK, True)
    return call


def _wrap_stream(fn: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
    @wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async for event in fn(*args, **kwargs):
            yield slim_event(event)

    setattr(call, MARK, True)
    return call


def install() -> None:
    """Wrap kopf's `api.get`, `api.patch` and `api.stream` (once; later calls do nothing)."""
    if getattr(api.stream, MARK, False):
        return
    api.get = _wrap(api.get)
    api.patch = _wrap(api.patch)
    api.stream = _wrap_stream(api.stream)
