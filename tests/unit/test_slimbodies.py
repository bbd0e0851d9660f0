"""adapters/slimbodies: bodies lose `metadata.managedFields` right after kopf parses them, and
kopf still reads through the three functions it wraps (fails on a kopf bump that moves them)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from typing import Any

import kopf
from kopf._cogs.clients import api, fetching, patching, watching

from hpo_operator.adapters import slimbodies


def body(name: str) -> dict[str, Any]:
    return {
        "kind": "HyperParameterTuningJob",
        "metadata": {
            "name": name,
            "managedFields": [{"manager": "kubectl-create", "fieldsV1": {"f:spec": {}}}],
            "annotations": {"a": "b"},
        },
        "spec": {"hyperParameterTuningJobName": name},
    }


def test_slim_drops_managed_fields_only() -> None:
    b = body("x")
    assert slimbodies.slim(b) is b
    assert b["metadata"] == {"name": "x", "annotations": {"a": "b"}}
    assert b["spec"] == {"hyperParameterTuningJobName": "x"}


def test_slim_a_list_and_an_event() -> None:
    page = {"kind": "List", "metadata": {"continue": "t"}, "items": [body("a"), body("b")]}
    slimbodies.slim(page)
    assert [i["metadata"] for i in page["items"]] == [
        {"name": "a", "annotations": {"a": "b"}},
        {"name": "b", "annotations": {"a": "b"}},
    ]
    assert page["metadata"] == {"continue": "t"}
    event = {"type": "MODIFIED", "object": body("c")}
    assert "managedFields" not in slimbodies.slim_event(event)["object"]["metadata"]


def test_other_values_pass_through() -> None:
    for value in (None, "text", 3, [1, 2], {"metadata": "not a map"}, {"items": "no"}):
        assert slimbodies.slim(value) == value
    assert slimbodies.slim_event({"type": "BOOKMARK"}) == {"type": "BOOKMARK"}
    assert slimbodies.slim_event({"type": "ERROR", "object": {"code": 410}})["object"] == {
        "code": 410
    }


def test_wrappers_slim_what_the_originals_return() -> None:
    async def get(url: str, **_: Any) -> Any:
        return {"items": [body(url)]}

    async def stream(url: str, **_: Any) -> AsyncIterator[Any]:
        yield {"type": "ADDED", "object": body(url)}
        yield {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}}

    async def main() -> tuple[Any, list[Any]]:
        page = await slimbodies._wrap(get)("u")
        events = [e async for e in slimbodies._wrap_stream(stream)("w")]
        return page, events

    page, events = asyncio.run(main())
    assert page["items"][0]["metadata"] == {"name": "u", "annotations": {"a": "b"}}
    assert events[0]["object"]["metadata"] == {"name": "w", "annotations": {"a": "b"}}
    assert events[1]["object"] == {"metadata": {"resourceVersion": "9"}}


def test_install_wraps_kopfs_functions_once() -> None:
    originals = (api.get, api.patch, api.stream)
    try:
        slimbodies.install()
        wrapped = (api.get, api.patch, api.stream)
        assert all(getattr(fn, slimbodies.MARK, False) for fn in wrapped)
        slimbodies.install()
        assert (api.get, api.patch, api.stream) == wrapped  # not wrapped twice
        # the wrappers keep the originals' names and signatures (functools.wraps)
        for fn, original in zip(wrapped, originals, strict=True):
            assert inspect.signature(fn) == inspect.signature(original)
    finally:
        api.get, api.patch, api.stream = originals


def test_kopf_still_reads_through_these_functions() -> None:
    """A kopf bump that renames them, changes their keyword arguments, or has its listing,
    patching or watching import them by name (so a wrapper on the module is not seen) fails
    here, before it silently brings managedFields back into memory."""
    assert kopf.__version__ == "1.45.2", "check slimbodies against the new kopf, then bump this"
    assert inspect.isasyncgenfunction(api.stream)
    for fn in (api.get, api.patch):
        assert inspect.iscoroutinefunction(fn)
        assert {"url", "settings", "logger"} <= set(inspect.signature(fn).parameters)
    assert "await api.get(" in inspect.getsource(fetching)
    assert "await api.patch(" in inspect.getsource(patching)
    assert "api.stream(" in inspect.getsource(watching)
    for module in (fetching, patching, watching):
        source = inspect.getsource(module)
        assert "from kopf._cogs.clients import api" in source
        assert "from kopf._cogs.clients.api import" not in source
