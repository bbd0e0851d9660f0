"""Running in a pod: an identity without a passwd entry, the API server from the environment."""

from __future__ import annotations

import datetime
import inspect
import re

import kopf
import pytest

from hpo_operator.adapters import kube
from hpo_operator.shell.handlers import in_cluster_server
from hpo_operator.shell.runner import peering_identity

NOW = datetime.datetime(2026, 11, 26, 16, 50, 0, tzinfo=datetime.UTC)


def test_identity_is_kopf_pod_id_when_set() -> None:
    assert peering_identity({"POD_ID": "hpo-operator-7d9f-abcde"}) == "hpo-operator-7d9f-abcde"


def test_identity_without_passwd_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenShift's restricted policy runs images under a random UID that has no passwd entry."""

    def no_user(*_: object) -> object:
        raise KeyError("getpwuid(): uid not found: 1000770000")

    monkeypatch.setattr("pwd.getpwuid", no_user)
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    ident = peering_identity({}, uid=1000770000, hostname="hpo-operator-abc", now=NOW)
    assert re.fullmatch(r"1000770000@hpo-operator-abc/20261126165000/[0-9a-f]{6}", ident), ident
    assert peering_identity({}, uid=1, hostname="h", now=NOW) != peering_identity(
        {}, uid=1, hostname="h", now=NOW
    ), "two processes started in the same second must not share an identity"


def test_kopf_takes_an_identity() -> None:
    """kube.kopf_identity wraps kopf's unexported Identity type: a kopf upgrade that moves it or
    drops `kopf.operator(identity=...)` fails here, not in a pod."""
    assert "identity" in inspect.signature(kopf.operator).parameters
    assert kube.kopf_identity("x@y") == "x@y"
    assert kopf.__version__.startswith("1.45."), "re-check kube.py's private kopf imports"


@pytest.mark.parametrize(
    ("env", "server"),
    [
        ({"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"},
         "https://10.96.0.1:443"),
        ({"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"},
         "https://[fd00::1]:6443"),
        ({"KUBERNETES_SERVICE_HOST": "10.96.0.1"}, None),
        ({}, None),
    ],
)  # fmt: skip
def test_in_cluster_server_follows_the_kubelets_environment(
    env: dict[str, str], server: str | None
) -> None:
    """Like client-go's in-cluster config: no cluster DNS needed to find the API server."""
    assert in_cluster_server(env) == server
