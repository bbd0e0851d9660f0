"""The chart's RBAC against what the code calls (hpo_operator.shell.rbac.USES): exactly, both ways.

Why: least privilege means no verb the operator never uses, and no missing verb it does use. A new
API call in the operator (or in a kopf upgrade) goes into hpo_operator.shell.rbac next to
the code; this test then names the chart rule to add. Also: rules are bound to the chart's
ServiceAccount only, and a namespace install gets Roles only in the namespaces it watches.
"""

from __future__ import annotations

from typing import Any

import pytest

from hpo_operator.shell import rbac
from ship.chart import Helm, one, only, rule_triples

WATCHED = ["team-a", "team-b"]


def values(scope: str, peering: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"installScope": scope, "peering": {"enabled": peering}}
    if scope == "namespace":
        result["watchNamespaces"] = WATCHED
    return result


@pytest.mark.parametrize("peering", [False, True], ids=["standalone", "peering"])
def test_cluster_install_grants_exactly_what_the_code_calls(helm: Helm, peering: bool) -> None:
    objects = helm.objects(values("cluster", peering))
    carm = only(objects, "Role") + only(objects, "RoleBinding")  # the role maps' only
    assert len(carm) == 2 and all(o["metadata"]["name"].endswith("-carm") for o in carm)
    role = one(objects, "ClusterRole")
    assert rule_triples(role["rules"]) == rbac.required("cluster", peering=peering)


@pytest.mark.parametrize("peering", [False, True], ids=["standalone", "peering"])
def test_namespace_install_grants_exactly_what_the_code_calls(helm: Helm, peering: bool) -> None:
    objects = helm.objects(values("namespace", peering))
    cluster_role = one(objects, "ClusterRole")
    assert rule_triples(cluster_role["rules"]) == rbac.required(
        "namespace", peering=peering, cluster_scoped=True
    )
    roles = [r for r in only(objects, "Role") if not r["metadata"]["name"].endswith("-carm")]
    assert sorted(r["metadata"]["namespace"] for r in roles) == WATCHED
    for role in roles:
        assert rule_triples(role["rules"]) == rbac.required(
            "namespace", peering=peering, cluster_scoped=False
        )


@pytest.mark.parametrize("scope", ["cluster", "namespace"])
def test_bindings_name_only_the_chart_service_account(helm: Helm, scope: str) -> None:
    objects = helm.objects(values(scope, False), release="hpo", namespace="hpo-system")
    account = one(objects, "ServiceAccount")["metadata"]
    bindings = only(objects, "ClusterRoleBinding") + only(objects, "RoleBinding")
    assert len(bindings) == (1 if scope == "cluster" else 1 + len(WATCHED)) + 1  # + role maps
    for binding in bindings:
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account["name"], "namespace": "hpo-system"}
        ]
        kind = "Role" if binding["kind"] == "RoleBinding" else "ClusterRole"
        carm = binding["metadata"]["name"].endswith("-carm")
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": kind,
            "name": "hpo-hpo-operator" + ("-carm" if carm else ""),
        }


def test_every_use_says_who_calls_it() -> None:
    for use in rbac.USES:
        assert use.caller and use.verbs
        assert set(use.verbs) <= {"get", "list", "watch", "create", "patch", "update", "delete"}


@pytest.mark.parametrize("teams", [False, True], ids=["accounts", "teams"])
@pytest.mark.parametrize("scope", ["cluster", "namespace"])
def test_role_maps_are_readable_by_name_in_the_release_namespace_only(
    helm: Helm, scope: str, teams: bool
) -> None:
    given = {**values(scope, False), "carm": {"teams": teams}}
    objects = helm.objects(given, release="hpo", namespace="hpo-system")
    (role,) = [r for r in only(objects, "Role") if r["metadata"]["name"] == "hpo-hpo-operator-carm"]
    assert role["metadata"]["namespace"] == "hpo-system"
    granted = {
        (group, resource, verb, name)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
        for name in rule["resourceNames"]
    }
    assert granted == rbac.named(teams=teams)
    off = helm.objects({**values(scope, False), "carm": {"enabled": False}})
    assert not [r for r in only(off, "Role") if r["metadata"]["name"].endswith("-carm")]


@pytest.mark.parametrize("scope", ["cluster", "namespace"])
def test_field_export_adds_exactly_its_grants_and_only_when_on(helm: Helm, scope: str) -> None:
    given = {**values(scope, False), "fieldExport": {"enabled": True}, "watchSelectors": "team=a"}
    objects = helm.objects(given)
    roles = [r for r in only(objects, "Role") if not r["metadata"]["name"].endswith("-carm")]
    if scope == "cluster":
        granted = rule_triples(one(objects, "ClusterRole")["rules"])
        assert granted == rbac.required("cluster", peering=False, field_export=True)
    else:
        for role in roles:
            assert rule_triples(role["rules"]) == rbac.required(
                "namespace", peering=False, cluster_scoped=False, field_export=True
            )
    extra = rbac.required(scope, peering=False, field_export=True) - rbac.required(
        scope, peering=False
    )
    assert {(group, resource) for group, resource, _ in extra} == {
        ("services.k8s.aws", "fieldexports"),
        ("services.k8s.aws", "fieldexports/status"),
        ("", "configmaps"),
        ("", "secrets"),
    }
    (container,) = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["HPO_ENABLE_FIELD_EXPORT_RECONCILER"] == "true"
    assert env["HPO_WATCH_SELECTORS"] == "team=a"
    off = helm.objects(values(scope, False))
    (container,) = one(off, "Deployment")["spec"]["template"]["spec"]["containers"]
    names = {e["name"] for e in container["env"]}
    assert not names & {"HPO_ENABLE_FIELD_EXPORT_RECONCILER", "HPO_WATCH_SELECTORS"}


@pytest.mark.parametrize("scope", ["cluster", "namespace"])
def test_leader_election_may_use_its_lease_in_the_release_namespace_only(
    helm: Helm, scope: str
) -> None:
    given = {**values(scope, False), "leaderElection": {"enabled": True, "leaseName": "hpo-lock"}}
    objects = helm.objects(given, release="hpo", namespace="hpo-system")
    (role,) = [r for r in only(objects, "Role") if r["metadata"]["name"].endswith("-election")]
    assert role["metadata"]["namespace"] == "hpo-system"
    granted = {
        (group, resource, verb, tuple(rule.get("resourceNames") or ()))
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    # create cannot be limited by name (the Lease may not exist yet); get and update can.
    assert granted == {
        (group, resource, verb, () if verb == "create" else ("hpo-lock",))
        for group, resource, verb in rbac.election()
    }
    (binding,) = [
        b for b in only(objects, "RoleBinding") if b["metadata"]["name"].endswith("-election")
    ]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["namespace"] == "hpo-system"
    # Nothing of it elsewhere, and nothing at all with election off.
    assert not rbac.election() & rule_triples(one(objects, "ClusterRole")["rules"])
    off = helm.objects(values(scope, False))
    assert not [o for o in off if o["metadata"]["name"].endswith("-election")]
