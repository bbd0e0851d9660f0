"""kopf's private API the operator relies on, pinned: `adapters/kube.py` calls functions of
`kopf._cogs` (kopf exports no API client), and `shell/logs.py` recognises kopf's retry message by
its text. A kopf release that changes either fails here, without an API server, before the pin in
pyproject.toml is widened."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable

import kopf
from kopf._cogs.clients import api, auth, errors, events
from kopf._cogs.structs.bodies import ObjectReference, build_object_reference
from kopf._cogs.structs.references import NamespaceName
from kopf._core.actions import execution
from kopf._core.engines.peering import Identity

from hpo_operator.adapters import kube
from hpo_operator.shell import logs


def params(function: Callable[..., object]) -> dict[str, inspect._ParameterKind]:
    return {n: p.kind for n, p in inspect.signature(function).parameters.items()}


KW = inspect.Parameter.KEYWORD_ONLY


def test_the_api_request_functions_kube_uses_keep_their_keywords() -> None:
    for function in (api.get, api.patch, api.post):
        found = params(function)
        assert found["url"] is inspect.Parameter.POSITIONAL_OR_KEYWORD
        for name in ("settings", "logger", "payload", "headers"):
            assert found[name] is KW, (function, name)
    found = params(events.post_event)
    for name in ("ref", "type", "reason", "message", "resource", "settings", "logger"):
        assert found[name] is KW, name
    assert list(params(build_object_reference)) == ["body"]


def test_the_types_and_errors_kube_uses_exist() -> None:
    assert issubclass(errors.APINotFoundError, errors.APIError)
    assert issubclass(errors.APIConflictError, errors.APIError)
    assert NamespaceName("ns") == "ns" and Identity("me") == "me"
    body = kopf.Body({"apiVersion": "v1", "kind": "Thing", "metadata": {"name": "n", "uid": "u"}})
    ref: ObjectReference = build_object_reference(body)
    assert ref["name"] == "n" and ref["uid"] == "u"
    resource = kopf.Resource("g", "v1", "things", namespaced=True)
    url = resource.get_url(namespace=NamespaceName("ns"), name="n", subresource="status")
    assert url.endswith("/apis/g/v1/namespaces/ns/things/n/status")
    assert kube.kopf_identity("me") == "me"


def test_the_request_function_and_context_the_lease_adapter_uses_exist() -> None:
    """adapters/lease.py: one try per request (`backoffs`) on a session of its own (`context`),
    before kopf's login exists."""
    found = params(api.request)
    assert list(found)[:2] == ["method", "url"]
    for name in ("settings", "payload", "backoffs", "context", "logger"):
        assert found[name] is KW, name
    assert list(params(auth.APIContext))[:1] == ["info"]
    assert issubclass(errors.APIUnauthorizedError, errors.APIError)


def test_kopfs_retry_message_is_the_one_the_noise_filter_drops() -> None:
    source = inspect.getsource(execution)
    assert 'f"{handler} failed temporarily: {str(e) or repr(e)}"' in source
    assert "failed with an exception" in source
    noise = logging.LogRecord(
        "kopf.objects", logging.ERROR, __file__, 1, "Handler 'x' failed temporarily: wait", (), None
    )
    assert not logs.RetryNoiseFilter().filter(noise)
