"""Which AWS account a resource's job is in and which IAM role reaches it: ACK's cross-account
resource management (CARM), decided from the namespace's annotations, the role maps (ACK's
ConfigMaps, read by the shell) and the account recorded in the resource's status. Pure.

ACK's rules, kept (aws-controllers-k8s/runtime `pkg/runtime/reconciler.go`, `cache/`):
- a namespace annotated `services.k8s.aws/owner-account-id: ACCOUNT` is served with the role that
  `ack-role-account-map` (a ConfigMap in the controller's namespace) maps ACCOUNT to;
- with team-level CARM enabled (an ACK feature gate, off by default), `services.k8s.aws/team-id:
  TEAM` takes precedence: the role is `ack-role-team-map`'s TEAM and the account is the role's;
- a key `sagemaker.<ACCOUNT or TEAM>` (ACK's service-level CARM) is preferred over the plain one;
- no ConfigMap, no key or an empty value: no call at all, the resource says so.

Where this operator does better:
- ACK takes the namespace's account over the one in status, so re-annotating a namespace moves
  its resources' calls to another account where their jobs are not. Here a job stays followed (and
  is stopped on delete) in the account its ARN names, with the role that account maps to; the
  resource gets an `ACK.Advisory` condition saying the namespace now names another account.
- A namespace naming the operator's own account (`--account-id`) needs no role in the map.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hpo_operator.core.types import RoleMaps
from hpo_operator.identity import (
    ANN_OWNER_ACCOUNT,
    ANN_TEAM_ID,
    CARM_SERVICE_ALIAS,
    ROLE_ACCOUNT_MAP,
    ROLE_TEAM_MAP,
)


@dataclass(frozen=True)
class Placement:
    """Where a resource's job is, and how to reach it.

    `role_arn` None: the operator's own credentials. `account` None: the operator's own account,
    whose number is not known (no `--account-id`). `problem`: why no call may be made (the
    resource's ACK.Terminal); `note`: the namespace names another account than the job's."""

    account: str | None = None
    role_arn: str | None = None
    problem: str | None = None
    note: str | None = None


def role_account(role_arn: str) -> str | None:
    """The account of an IAM role ARN (`arn:PARTITION:iam::ACCOUNT:role/NAME`), if it is one."""
    parts = role_arn.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "iam" and parts[5].startswith("role/"):
        return parts[4] or None
    return None


def recorded_account(status: Mapping[str, Any]) -> str | None:
    """The account the resource's job is in: the status ARN's, else `ownerAccountID`."""
    meta = status.get("ackResourceMetadata")
    if not isinstance(meta, Mapping):
        return None
    arn = str(meta.get("arn") or "")
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[4]:
        return parts[4]
    owner = meta.get("ownerAccountID")
    return str(owner) if owner else None


def _lookup(
    data: Mapping[str, str] | None, key: str, map_name: str, unreadable: str | None = None
) -> tuple[str | None, str]:
    """The role a map gives `key` (service-level key first), or why there is none."""
    if data is None and unreadable:
        return (
            None,
            f"the ConfigMap {map_name} cannot be read in the operator's namespace: {unreadable}",
        )
    if data is None:
        return None, f"the ConfigMap {map_name} does not exist in the operator's namespace"
    for candidate in (f"{CARM_SERVICE_ALIAS}.{key}", key):
        value = str(data.get(candidate) or "").strip()
        if value:
            if role_account(value) is None:
                return None, f"{map_name}[{candidate!r}] is not an IAM role ARN: {value!r}"
            return value, ""
    if key in data:
        return None, f"{map_name}[{key!r}] is empty"
    return None, f"{map_name} has no key {key!r}"


def placement(
    namespace_annotations: Mapping[str, str],
    status: Mapping[str, Any],
    maps: RoleMaps,
    *,
    enabled: bool = True,
    teams_enabled: bool = False,
    own_account: str | None = None,
) -> Placement:
    """The account and role for one resource (see the module docstring for the rules)."""
    owner = str(namespace_annotations.get(ANN_OWNER_ACCOUNT) or "").strip()
    team = str(namespace_annotations.get(ANN_TEAM_ID) or "").strip() if teams_enabled else ""
    recorded = recorded_account(status)
    if not enabled:
        if owner or team:
            which = ANN_TEAM_ID if team else ANN_OWNER_ACCOUNT
            return Placement(
                problem=f"the namespace has the annotation {which}, and cross-account resource "
                "management is off in this operator (--carm=false): no job is made in the "
                "operator's own account instead"
            )
        return Placement(account=recorded or own_account)
    wanted = _wanted(owner, team, maps, own_account)
    if recorded is None or recorded == wanted.account:
        return wanted
    if wanted.account is None and wanted.problem is None and not owner and not team:
        # A plain namespace and a job in some account: the operator's own, unless a role maps it.
        role, why = _lookup(maps.accounts, recorded, ROLE_ACCOUNT_MAP, maps.unreadable)
        if role is None and own_account is not None:
            return Placement(
                account=recorded,
                problem=f"the job is in account {recorded}, not the operator's own "
                f"({own_account}), and no role reaches it: {why}",
            )
        return Placement(account=recorded, role_arn=role)
    # The job is in another account than the namespace names now: follow it where it is.
    names = f"account {wanted.account}" if wanted.account else "the operator's own account"
    if wanted.problem is not None:
        names = f"a role that cannot be found ({wanted.problem})"
    note = f"the namespace now names {names}; the job stays in account {recorded}"
    if recorded == own_account:
        return Placement(account=recorded, note=note)
    role, why = _lookup(maps.accounts, recorded, ROLE_ACCOUNT_MAP, maps.unreadable)
    if role is None:
        return Placement(
            account=recorded,
            problem=f"the job is in account {recorded}, and no role reaches it: {why}; {note}",
        )
    return Placement(account=recorded, role_arn=role, note=note)


def _wanted(owner: str, team: str, maps: RoleMaps, own_account: str | None) -> Placement:
    """Where the namespace's annotations say new jobs go."""
    if team:
        role, why = _lookup(maps.teams, team, ROLE_TEAM_MAP, maps.unreadable)
        if role is None:
            return Placement(
                problem=f"the namespace has the annotation {ANN_TEAM_ID}={team!r}, and no role "
                f"is mapped for it: {why}"
            )
        return Placement(account=role_account(role), role_arn=role)
    if owner:
        role, why = _lookup(maps.accounts, owner, ROLE_ACCOUNT_MAP, maps.unreadable)
        if role is not None:
            return Placement(account=owner, role_arn=role)
        if owner == own_account:
            return Placement(account=owner)
        return Placement(
            account=owner,
            problem=f"the namespace has the annotation {ANN_OWNER_ACCOUNT}={owner!r}, and no "
            f"role is mapped for that account: {why}",
        )
    return Placement(account=own_account)
