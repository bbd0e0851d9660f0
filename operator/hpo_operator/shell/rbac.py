"""Every Kubernetes API call the operator makes (its own and kopf's), as RBAC rules.

Why a list in code: the Helm chart's ClusterRole/Role must grant exactly these verbs on exactly
these resources, no more. tests/ship/test_chart_rbac.py renders the chart for both install scopes
and compares; tests/ship/test_rbac_live.py runs the operator with the chart's ServiceAccount token
and fails on any refused call. When a handler starts calling a new API (or a kopf upgrade does),
add it here in the same change; the tests then say which chart rule is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hpo_operator.identity import (
    FIELD_EXPORT_GROUP,
    FIELD_EXPORT_PLURAL,
    GROUP,
    PLURAL,
    ROLE_ACCOUNT_MAP,
    ROLE_TEAM_MAP,
)

Scope = Literal["cluster", "namespace"]


@dataclass(frozen=True)
class ApiUse:
    """One resource the operator calls, the verbs it uses and who calls it.

    `scopes`: the install scopes that need it. `peering`: only needed when kopf peering is on
    (more than one replica). `cluster_scoped`: the resource itself is cluster-scoped, so a
    namespace install cannot be granted it by a Role.
    """

    group: str
    resource: str
    verbs: tuple[str, ...]
    caller: str
    scopes: tuple[Scope, ...] = ("cluster", "namespace")
    peering: bool = False
    cluster_scoped: bool = False
    # Only these objects, by name, in the operator's own namespace (a Role there, with
    # resourceNames), whatever the install scope. None: every object of the resource.
    names: tuple[str, ...] | None = None
    # Only with --enable-field-export-reconciler (the chart's fieldExport.enabled).
    field_export: bool = False
    # Only with leader election on, in the operator's own namespace (a Role there; the chart
    # limits get and update to the one Lease by name, which is a setting).
    election: bool = False


USES: tuple[ApiUse, ...] = (
    ApiUse(
        GROUP,
        PLURAL,
        ("get", "list", "watch", "patch"),
        "kopf: list+watch the jobs; patch for the finalizer and kopf's progress annotations; "
        "get: the shared poller reads a job's resource before reporting a change to it",
    ),
    ApiUse(
        GROUP, f"{PLURAL}/status", ("patch",), "handlers: status, conditions, observedGeneration"
    ),
    ApiUse("", "events", ("create",), "kopf and handlers: Events on the job"),
    ApiUse(
        "",
        "namespaces",
        ("list", "watch"),
        "handlers: kopf index of the services.k8s.aws/* namespace annotations (default region, "
        "endpoint URL, deletion policy); kopf's namespace observer in namespace installs",
        cluster_scoped=True,
    ),
    ApiUse(
        "",
        "configmaps",
        ("get",),
        "carm.RoleMapSource: ACK's role maps for cross-account resources, read by name in the "
        "operator's own namespace (only when cross-account management is on)",
        names=(ROLE_ACCOUNT_MAP, ROLE_TEAM_MAP),
    ),
    ApiUse(
        FIELD_EXPORT_GROUP,
        FIELD_EXPORT_PLURAL,
        ("list", "watch"),
        "fieldexport: kopf's watch of ACK's FieldExports (each synced when new or edited)",
        field_export=True,
    ),
    ApiUse(
        FIELD_EXPORT_GROUP,
        f"{FIELD_EXPORT_PLURAL}/status",
        ("patch",),
        "fieldexport: ACK.ResourceSynced, ACK.Terminal, ACK.Recoverable",
        field_export=True,
    ),
    ApiUse(
        "",
        "configmaps",
        ("get", "create", "patch"),
        "fieldexport: read the target, create it when missing, write the exported key",
        field_export=True,
    ),
    ApiUse(
        "",
        "secrets",
        ("get", "create", "patch"),
        "fieldexport: read the target, create it when missing, write the exported key",
        field_export=True,
    ),
    ApiUse(
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        ("list", "watch"),
        "kopf: resource observer (notices the CRD being installed, upgraded or removed)",
        cluster_scoped=True,
    ),
    ApiUse(
        "kopf.dev",
        "clusterkopfpeerings",
        ("list", "watch", "patch"),
        "kopf peering (cluster-wide operator): read peers, write own keep-alive",
        scopes=("cluster",),
        peering=True,
        cluster_scoped=True,
    ),
    ApiUse(
        "kopf.dev",
        "kopfpeerings",
        ("list", "watch", "patch"),
        "kopf peering (namespaced operator): read peers, write own keep-alive",
        scopes=("namespace",),
        peering=True,
    ),
    ApiUse(
        "coordination.k8s.io",
        "leases",
        ("get", "create", "update"),
        "election.Elector: read, create and renew (a PUT with the resourceVersion) the leader "
        "election Lease in the operator's own namespace",
        election=True,
    ),
)


def required(
    scope: Scope,
    *,
    peering: bool,
    cluster_scoped: bool | None = None,
    field_export: bool = False,
) -> set[tuple[str, str, str]]:
    """The (apiGroup, resource, verb) triples an install of this scope needs.

    `cluster_scoped`: True for only the cluster-scoped resources (a namespace install grants them
    with a ClusterRole), False for only the namespaced ones, None for all. `field_export`: with
    the FieldExport reconciler on.
    """
    return {
        (use.group, use.resource, verb)
        for use in USES
        if scope in use.scopes
        and use.names is None
        and not use.election
        and (peering or not use.peering)
        and (field_export or not use.field_export)
        and (cluster_scoped is None or use.cluster_scoped == cluster_scoped)
        for verb in use.verbs
    }


def named(*, teams: bool) -> set[tuple[str, str, str, str]]:
    """The (apiGroup, resource, verb, name) grants on objects by name in the operator's own
    namespace, with cross-account management on (`--carm-teams`: the team map too)."""
    return {
        (use.group, use.resource, verb, name)
        for use in USES
        if use.names is not None
        for verb in use.verbs
        for name in use.names
        if teams or name != ROLE_TEAM_MAP
    }


def election() -> set[tuple[str, str, str]]:
    """The (apiGroup, resource, verb) triples leader election needs in the operator's own
    namespace."""
    return {(use.group, use.resource, verb) for use in USES if use.election for verb in use.verbs}
