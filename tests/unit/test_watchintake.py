"""adapters/watchintake: the watch as kopf gets it when first sights must wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hpo_operator.adapters import watchintake

URL = "/apis/sagemaker.services.k8s.aws/v1alpha1/namespaces/n/hyperparametertuningjobs"


def ev(kind: str, uid: str, rv: int) -> dict[str, Any]:
    return {"type": kind, "object": {"metadata": {"uid": uid, "resourceVersion": str(rv)}}}


def label(event: dict[str, Any]) -> str:
    meta = event["object"]["metadata"]
    return f"{event['type']}:{meta.get('uid', '')}:{meta['resourceVersion']}"


async def source(events: list[Any], quiet: asyncio.Event | None = None) -> AsyncIterator[Any]:
    for event in events:
        if isinstance(event, BaseException):
            raise event
        yield event
    if quiet is not None:
        await quiet.wait()  # a watch with nothing more to say, until told to end


@pytest.fixture(autouse=True)
def limit_two() -> None:
    watchintake.configure(limit=2, hold=30.0)


def test_only_this_resources_watch_is_paced() -> None:
    assert watchintake._ours(URL + "?watch=true&resourceVersion=5")
    assert watchintake._ours("/apis/sagemaker.services.k8s.aws/v1alpha1/hyperparametertuningjobs")
    assert not watchintake._ours("/api/v1/namespaces?watch=true")
    assert not watchintake._ours("/apis/services.k8s.aws/v1alpha1/fieldexports?watch=true")


def test_first_sights_wait_until_settled_even_on_a_quiet_watch() -> None:
    async def main() -> list[str]:
        quiet = asyncio.Event()
        seen: list[str] = []
        events = [ev("ADDED", u, n) for n, u in enumerate("abcd", start=1)]
        events.append(ev("MODIFIED", "a", 5))  # kopf has a: passes while c and d wait
        stream = watchintake.paced(source(events, quiet), watchintake._intake_of(URL))
        for _ in range(5):
            seen.append(label(await anext(stream)))
        nxt = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.05)
        assert not nxt.done()  # c waits: nothing settled, and the watch is quiet
        watchintake.settle("a")
        seen.append(label(await asyncio.wait_for(nxt, 5)))
        seen.append(label(await anext(stream)))
        watchintake.settle("b")
        seen.append(label(await asyncio.wait_for(anext(stream), 5)))
        seen.append(label(await anext(stream)))
        quiet.set()
        seen.extend([label(e) async for e in stream])
        return seen

    assert asyncio.run(main()) == [
        "ADDED:a:1",
        "ADDED:b:2",
        "BOOKMARK::3",  # c waits in the intake: kopf would resume past it, never get it twice
        "BOOKMARK::4",
        "MODIFIED:a:5",
        "ADDED:c:3",
        "BOOKMARK::5",  # kopf resumes where the server's stream is, not at c's older version
        "ADDED:d:4",
        "BOOKMARK::5",
    ]


def test_the_end_of_the_watch_hands_everything_over_then_the_resume_point() -> None:
    async def main() -> list[str]:
        events = [ev("ADDED", u, n) for n, u in enumerate("abc", start=1)]
        events.append({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}})
        return [
            label(e) async for e in watchintake.paced(source(events), watchintake._intake_of(URL))
        ]

    # the server's bookmark passes while c waits (c stays in the intake whatever kopf resumes
    # from); at the end c is handed over, then kopf's resume point again
    assert asyncio.run(main()) == [
        "ADDED:a:1",
        "ADDED:b:2",
        "BOOKMARK::3",
        "BOOKMARK::9",
        "ADDED:c:3",
        "BOOKMARK::9",
    ]


def test_an_error_event_comes_after_what_waits() -> None:
    async def main() -> list[Any]:
        error = {"type": "ERROR", "object": {"code": 410}}
        events = [ev("ADDED", "a", 1), ev("ADDED", "b", 2), ev("ADDED", "c", 3), error]
        return [e async for e in watchintake.paced(source(events), watchintake._intake_of(URL))]

    got = asyncio.run(main())
    assert [e["type"] for e in got] == ["ADDED", "ADDED", "BOOKMARK", "ADDED", "ERROR"]
    assert got[3]["object"]["metadata"]["uid"] == "c"


def test_a_broken_connection_hands_over_what_waits_then_raises() -> None:
    async def main() -> list[str]:
        seen: list[str] = []
        events = [ev("ADDED", "a", 1), ev("ADDED", "b", 2), ev("ADDED", "c", 3)]
        with pytest.raises(ConnectionError):
            async for event in watchintake.paced(
                source([*events, ConnectionError()]), watchintake._intake_of(URL)
            ):
                seen.append(label(event))
        return seen

    # c, the newest the server sent, comes last: kopf's resume point is right without a bookmark
    assert asyncio.run(main()) == ["ADDED:a:1", "ADDED:b:2", "BOOKMARK::3", "ADDED:c:3"]


def test_listed_resources_are_not_first_sights() -> None:
    async def listing(*_: Any, **__: Any) -> Any:
        return {"items": [{"metadata": {"uid": u}} for u in "xyz"]}

    async def main() -> list[str]:
        await watchintake._wrap_get(listing)(url=URL)
        events = [ev("MODIFIED", u, n) for n, u in enumerate("xyz", start=1)]
        return [
            label(e) async for e in watchintake.paced(source(events), watchintake._intake_of(URL))
        ]

    assert asyncio.run(main()) == ["MODIFIED:x:1", "MODIFIED:y:2", "MODIFIED:z:3"]


def test_each_watched_namespace_hands_over_only_its_own_events() -> None:
    other = URL.replace("/namespaces/n/", "/namespaces/m/")

    async def main() -> tuple[list[str], list[str]]:
        ours = [ev("ADDED", u, n) for n, u in enumerate("abc", start=1)]  # c waits in n
        theirs = [ev("ADDED", "x", 7)]
        a = [
            label(e) async for e in watchintake.paced(source(theirs), watchintake._intake_of(other))
        ]
        quiet = asyncio.Event()
        stream = watchintake.paced(source(ours, quiet), watchintake._intake_of(URL))
        first = [label(await anext(stream)) for _ in range(3)]
        b = [
            label(e) async for e in watchintake.paced(source(theirs), watchintake._intake_of(other))
        ]
        quiet.set()
        return a + b, first + [label(e) async for e in stream]

    theirs, ours = asyncio.run(main())
    assert theirs == ["ADDED:x:7", "ADDED:x:7"]  # never n's waiting c
    assert ours == ["ADDED:a:1", "ADDED:b:2", "BOOKMARK::3", "ADDED:c:3"]


def test_a_request_cancelled_while_events_wait_loses_none_and_repeats_none() -> None:
    """kopf cancels a watch request that gives it nothing for its inactivity timeout: it then
    resumes from the last version it was given, the server's newest (c's), while c stays in
    the intake and comes first in the next request."""

    async def main() -> tuple[list[str], list[str]]:
        quiet = asyncio.Event()
        intake = watchintake._intake_of(URL)
        events = [ev("ADDED", u, n) for n, u in enumerate("abc", start=1)]
        stream = watchintake.paced(source(events, quiet), intake, since="0")
        first = [label(await anext(stream)) for _ in range(3)]
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.05)
        waiting.cancel()  # kopf's inactivity timeout
        with pytest.raises(asyncio.CancelledError):
            await waiting
        watchintake.settle("a")
        resumed = first[-1].rsplit(":", 1)[1]
        again = watchintake.paced(source([ev("MODIFIED", "b", 4)]), intake, since=resumed)
        return first, [label(e) async for e in again]

    first, second = asyncio.run(main())
    assert first == ["ADDED:a:1", "ADDED:b:2", "BOOKMARK::3"]
    assert second == ["ADDED:c:3", "MODIFIED:b:4"]
