"""The HyperParameterTuningJob watch, handed to kopf at the pace its workers settle
(`core/intake.py` says why and decides; this module is its I/O).

kopf reads a watch through `kopf._cogs.clients.api.stream` (private; `adapters/slimbodies.py`
wraps it there too, and `tests/unit/test_slimbodies.py` fails when kopf moves it). For this
resource's watch URLs only, `install` puts `paced` around it: each event is offered to the one
`Intake`; an event that must wait is kept as its JSON text and parsed again when its turn comes.
While something waits, the next event is read in a task of its own, so a settled resource lets a
waiting one go even when the watch is quiet.

kopf resumes its watch from the resourceVersion of the last event it was given, and cancels a
request that gives it nothing for `watching.inactivity_timeout` (70 s). An event handed over late
carries an older version than events given before it, so every handing-over of waiting events is
followed by a BOOKMARK with the last resourceVersion the server sent (kopf keeps a bookmark's
version and drops the event), and the server's own bookmarks pass: kopf always resumes where the
server's stream is, as it would without the wait, and never gets events again that it already
had. What waits stays in the intake (one per watched path, kept across watch requests) until its
turn, even when a request is cancelled. When a request ends, whatever waits is handed over, then
that BOOKMARK; an ERROR (a 410, after which kopf lists again) comes after whatever waits.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from functools import wraps
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kopf._cogs.clients import api

from hpo_operator.core.intake import Intake
from hpo_operator.identity import GROUP, PLURAL

MARK = "_hpo_intake"
_PATH = (
    f"/apis/{GROUP}/"  # the resource's watch URLs: /apis/<group>/<version>/[namespaces/x/]<plural>
)

_limit, _hold = 0, 30.0
# One intake per watched path (a namespace's, or the cluster's): each watch request hands over
# only its own events, and a namespace's burst waits behind its own first sights.
_intakes: dict[str, Intake[str]] = {}
_changed = asyncio.Event()  # a first sight settled or was forgotten: waiting events may go
_on_held: Callable[[], None] | None = None


def configure(limit: int, hold: float, on_held: Callable[[], None] | None = None) -> None:
    """At most `limit` first sights unsettled at once per watched namespace (0: no pacing), each
    for `hold` s at most; `on_held` is told of each first sight that has to wait (a metric)."""
    global _limit, _hold, _changed, _on_held
    _limit, _hold = limit, hold
    _intakes.clear()
    _changed = asyncio.Event()
    _on_held = on_held


def _intake_of(url: Any) -> Intake[str]:
    path = str(url).split("?", 1)[0]
    found = _intakes.get(path)
    if found is None:
        found = _intakes[path] = Intake(limit=_limit, hold=_hold, clock=time.monotonic)
    return found


def waiting() -> int:
    """Events waiting now (a metric)."""
    return sum(len(intake.waiting) for intake in _intakes.values())


def settle(uid: str) -> None:
    """One of the operator's handlers has finished with this resource."""
    for intake in _intakes.values():
        if uid in intake.unsettled:
            intake.settle(uid)
            _changed.set()


def forget(uid: str) -> None:
    """The resource is gone."""
    for intake in _intakes.values():
        intake.forget(uid)
    _changed.set()


def _ours(url: Any) -> bool:
    path = str(url).split("?", 1)[0]
    return _PATH in path and path.endswith(f"/{PLURAL}")


def _uid(event: Any) -> str | None:
    if not isinstance(event, dict) or event.get("type") not in ("ADDED", "MODIFIED", "DELETED"):
        return None
    obj = event.get("object")
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    uid = meta.get("uid") if isinstance(meta, dict) else None
    return uid if isinstance(uid, str) and uid else None


def _version(event: Any) -> str | None:
    obj = event.get("object") if isinstance(event, dict) else None
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    version = meta.get("resourceVersion") if isinstance(meta, dict) else None
    return version if isinstance(version, str) else None


async def paced(
    events: AsyncIterator[Any], intake: Intake[str], since: str | None = None
) -> AsyncIterator[Any]:
    """`events` (one watch request's, from resourceVersion `since`), with first sights held back
    past `intake`'s limit. Before each wait kopf is told the newest version the server sent (a
    BOOKMARK) when what it was given last is older: a request cancelled while it waits then
    resumes past what the intake holds, and nothing it was handed comes again."""
    _intake = intake
    source = aiter(events)
    reading: asyncio.Task[Any] | None = None
    last_version: str | None = since  # the newest version the server sent
    given: str | None = since  # the version kopf would resume from now
    failed: Exception | None = None
    try:
        while True:
            _changed.clear()  # before looking: a settlement from now on wakes the wait below
            released = _intake.release()
            for text in released:
                event = json.loads(text)
                given = _version(event) or given
                yield event
            if released:
                continue  # more may have settled while kopf took those
            if last_version is not None and given != last_version:
                given = last_version
                yield _bookmark(last_version)
                continue
            if reading is None:
                reading = asyncio.ensure_future(anext(source))
            if _intake.waiting:
                waker = asyncio.ensure_future(_changed.wait())
                expiry = _intake.next_expiry()
                timeout = None if expiry is None else max(0.05, expiry - time.monotonic())
                try:
                    await asyncio.wait(
                        {reading, waker}, timeout=timeout, return_when="FIRST_COMPLETED"
                    )
                finally:
                    waker.cancel()
                if not reading.done():
                    continue  # a settlement or an expiry: release what may go
            try:
                event = await reading
            except StopAsyncIteration:
                break
            except Exception as error:  # the connection broke: kopf reconnects, or lists again
                failed = error
                break
            finally:
                reading = None
            last_version = _version(event) or last_version
            uid = _uid(event)
            if uid is None:
                if isinstance(event, dict) and event.get("type") != "BOOKMARK":
                    for text in _intake.flush():  # an ERROR (410: kopf lists again): in order
                        yield json.loads(text)
                given = last_version
                yield event
                continue
            deleted = event.get("type") == "DELETED"
            if _intake.admits(uid, deleted):
                given = last_version
                yield event
                continue
            if _on_held is not None and uid not in _intake.waiting_per_uid:
                _on_held()
            _intake.defer(uid, json.dumps(event), deleted)
    finally:
        if reading is not None:
            reading.cancel()
    for text in _intake.flush():
        event = json.loads(text)
        given = _version(event) or given
        yield event
    if last_version is not None and given != last_version:
        yield _bookmark(last_version)
    if failed is not None:
        raise failed


def _bookmark(version: str) -> dict[str, Any]:
    """A BOOKMARK event: kopf keeps its version as where to resume, and hands nothing on."""
    return {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": version}}}


def _wrap_stream(fn: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
    @wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        events = fn(*args, **kwargs)
        url = kwargs.get("url")
        if _limit <= 0 or not _ours(url):
            async for event in events:
                yield event
            return
        versions = parse_qs(urlsplit(str(url)).query).get("resourceVersion")
        since = versions[0] if versions else None
        async for event in paced(events, _intake_of(url), since):
            yield event

    setattr(call, MARK, True)
    return call


def _wrap_get(
    fn: Callable[..., Coroutine[Any, Any, Any]],
) -> Callable[..., Coroutine[Any, Any, Any]]:
    @wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        found = await fn(*args, **kwargs)
        if _limit <= 0:
            return found  # no pacing: nothing to remember (the default)
        url = kwargs.get("url", args[0] if args else None)
        items = found.get("items") if isinstance(found, dict) and _ours(url) else None
        if isinstance(items, list):  # kopf's listing hands these over at once
            uids = (_uid({"type": "ADDED", "object": item}) for item in items)
            _intake_of(url).listed(uid for uid in uids if uid is not None)
        return found

    setattr(call, MARK, True)
    return call


def install() -> None:
    """Wrap kopf's `api.stream` and `api.get` (once)."""
    if not getattr(api.stream, MARK, False):
        api.stream = _wrap_stream(api.stream)
    if not getattr(api.get, MARK, False):
        api.get = _wrap_get(api.get)
