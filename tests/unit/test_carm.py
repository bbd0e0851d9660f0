"""ACK's cross-account resource management (CARM), issue 16: which account and role a resource's
job is reached with (the pure `core.accounts.placement` through the reconciler), and the refusals
that make no AWS call in any account. Each account is its own fake SageMaker: a call in the wrong
account shows as a call on the wrong fake."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from test_reconcile import SETTINGS, FakeSageMaker, apply, condition, resource

from hpo_operator.core import conditions as c
from hpo_operator.core.accounts import placement, recorded_account, role_account
from hpo_operator.core.driver import drive
from hpo_operator.core.target import job_ref, target_of
from hpo_operator.core.types import Op, Resource, RoleMaps, Step, Trigger
from hpo_operator.identity import ANN_OWNER_ACCOUNT, ANN_TEAM_ID, ROLE_ACCOUNT_MAP, ROLE_TEAM_MAP

OWN, A, B = "111111111111", "222222222222", "333333333333"
ROLE_A = f"arn:aws:iam::{A}:role/hpo-a"
ROLE_B = f"arn:aws:iam::{B}:role/hpo-b"
ROLE_TEAM = f"arn:aws:iam::{B}:role/team-x"
MAPS = RoleMaps(accounts={A: ROLE_A, B: ROLE_B}, teams={"team-x": ROLE_TEAM})


class AccountSageMaker(FakeSageMaker):
    def __init__(self, account: str) -> None:
        super().__init__()
        self.account = account

    def arn(self, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:hyper-parameter-tuning-job/{name}"


class Accounts:
    """SageMaker in every account; calls go where the target's role (or own credentials) lead."""

    def __init__(self) -> None:
        self.by_account = {acct: AccountSageMaker(acct) for acct in (OWN, A, B)}

    def reached_with(self, role: str | None) -> AccountSageMaker:
        return self.by_account[role_account(role) if role else OWN]

    def calls(self) -> dict[str, list[Op]]:
        return {acct: sm.calls for acct, sm in self.by_account.items() if sm.calls}


def run(r: Resource, accounts: Accounts, trigger: Trigger = Trigger.CHANGE, **cfg: Any) -> Step:
    settings = replace(SETTINGS, **cfg)
    sm = accounts.reached_with(target_of(r, settings).role_arn)
    return asyncio.run(drive(r, settings, trigger, sm, lambda: "2026-03-01T10:00:00Z"))


def in_namespace(annotations: dict[str, str], maps: RoleMaps = MAPS, **changes: Any) -> Resource:
    return resource(namespace_annotations=annotations, role_maps=maps, **changes)


# --- the pure decision -----------------------------------------------------------------------


def test_placement_follows_acks_precedence() -> None:
    assert placement({}, {}, MAPS) == placement({}, {}, RoleMaps())  # plain: own credentials
    assert placement({ANN_OWNER_ACCOUNT: A}, {}, MAPS).role_arn == ROLE_A
    both = {ANN_OWNER_ACCOUNT: A, ANN_TEAM_ID: "team-x"}
    # team-id wins over owner-account-id with team-level CARM on; the account is the role's
    teams = placement(both, {}, MAPS, teams_enabled=True)
    assert (teams.account, teams.role_arn) == (B, ROLE_TEAM)
    # with it off (ACK's default), team-id is not looked at
    assert placement(both, {}, MAPS).role_arn == ROLE_A
    # ACK's service-level key is preferred to the plain one
    service = RoleMaps(accounts={A: ROLE_A, f"sagemaker.{A}": ROLE_B})
    assert placement({ANN_OWNER_ACCOUNT: A}, {}, service).role_arn == ROLE_B
    # the operator's own account needs no role when the operator knows its number
    own = placement({ANN_OWNER_ACCOUNT: OWN}, {}, RoleMaps(accounts={}), own_account=OWN)
    assert own.problem is None and own.role_arn is None


@pytest.mark.parametrize(
    ("maps", "why"),
    [
        (RoleMaps(), f"the ConfigMap {ROLE_ACCOUNT_MAP} does not exist"),
        (RoleMaps(accounts={B: ROLE_B}), f"{ROLE_ACCOUNT_MAP} has no key '{A}'"),
        (RoleMaps(accounts={A: ""}), f"{ROLE_ACCOUNT_MAP}['{A}'] is empty"),
        (RoleMaps(accounts={A: "not-a-role"}), "is not an IAM role ARN"),
    ],
)
def test_a_missing_role_names_the_annotation_and_the_map(maps: RoleMaps, why: str) -> None:
    problem = placement({ANN_OWNER_ACCOUNT: A}, {}, maps).problem
    assert problem is not None and ANN_OWNER_ACCOUNT in problem and A in problem and why in problem


def test_a_missing_team_role_names_the_team_map() -> None:
    problem = placement({ANN_TEAM_ID: "team-y"}, {}, MAPS, teams_enabled=True).problem
    assert problem is not None and ANN_TEAM_ID in problem and ROLE_TEAM_MAP in problem


def test_the_recorded_account_is_the_arns() -> None:
    arn = f"arn:aws:sagemaker:us-west-2:{A}:hyper-parameter-tuning-job/x"
    assert recorded_account({"ackResourceMetadata": {"arn": arn, "ownerAccountID": B}}) == A
    assert recorded_account({"ackResourceMetadata": {"ownerAccountID": B}}) == B
    assert recorded_account({}) is None


# --- through the reconciler ------------------------------------------------------------------


def test_an_unmapped_account_is_terminal_with_no_call_in_any_account() -> None:
    accounts = Accounts()
    r = in_namespace({ANN_OWNER_ACCOUNT: A}, RoleMaps(accounts={B: ROLE_B}))
    step = run(r, accounts)
    assert accounts.calls() == {}
    terminal = condition(step, c.TERMINAL)
    assert terminal is not None and terminal["reason"] == "RoleUnavailable"
    assert ANN_OWNER_ACCOUNT in terminal["message"] and ROLE_ACCOUNT_MAP in terminal["message"]
    assert step.retry is not None  # looked at again: the map may gain the account
    again = run(apply(r, step), accounts, Trigger.POLL)
    assert accounts.calls() == {} and not again.events
    gone = run(replace(apply(r, step), deleting=True), accounts, Trigger.DELETE)
    assert gone.release and accounts.calls() == {}
    # the map gains the account: the job is made there, and only there
    fixed = run(replace(apply(r, step), role_maps=MAPS), accounts)
    assert condition(fixed, c.TERMINAL) is None
    assert list(accounts.calls()) == [A] and Op.CREATE in accounts.calls()[A]


def test_carm_off_refuses_annotated_namespaces() -> None:
    accounts = Accounts()
    step = run(in_namespace({ANN_OWNER_ACCOUNT: A}), accounts, carm=False)
    terminal = condition(step, c.TERMINAL)
    assert terminal is not None and "--carm=false" in terminal["message"]
    assert accounts.calls() == {}


def test_the_job_is_made_in_the_mapped_account_and_its_metadata_names_it() -> None:
    accounts = Accounts()
    r = in_namespace({ANN_OWNER_ACCOUNT: A})
    step = run(r, accounts)
    assert list(accounts.calls()) == [A]
    meta = (step.status or {})["ackResourceMetadata"]
    assert meta["ownerAccountID"] == A and f":{A}:" in meta["arn"]


def test_a_namespace_moved_to_another_account_leaves_the_job_where_it_is() -> None:
    accounts = Accounts()
    r = in_namespace({ANN_OWNER_ACCOUNT: A})
    r = apply(r, run(r, accounts))
    moved = replace(r, namespace_annotations={ANN_OWNER_ACCOUNT: B})
    t = target_of(moved, SETTINGS)
    assert (t.account, t.role_arn) == (A, ROLE_A)
    step = run(moved, accounts, Trigger.POLL)
    assert B not in accounts.calls()
    advisory = condition(step, c.ADVISORY)
    assert advisory is not None and B in advisory["message"] and A in advisory["message"]
    assert condition(step, c.TERMINAL) is None
    # deleting it stops the job in its own account
    deleted = replace(apply(moved, step), deleting=True)
    run(deleted, accounts, Trigger.DELETE)
    assert Op.STOP in accounts.by_account[A].calls and B not in accounts.calls()


def test_a_job_in_an_account_no_role_reaches_anymore_is_terminal_without_a_call() -> None:
    accounts = Accounts()
    r = in_namespace({ANN_OWNER_ACCOUNT: A})
    r = apply(r, run(r, accounts))
    made = dict(accounts.calls())
    moved = replace(
        r, namespace_annotations={ANN_OWNER_ACCOUNT: B}, role_maps=RoleMaps({B: ROLE_B})
    )
    step = run(moved, accounts, Trigger.POLL)
    assert accounts.calls() == made
    terminal = condition(step, c.TERMINAL)
    assert terminal is not None and A in terminal["message"]
    assert (step.status or {})["ackResourceMetadata"]["ownerAccountID"] == A  # job kept in status


def test_a_plain_namespace_uses_the_operators_own_credentials() -> None:
    accounts = Accounts()
    step = run(in_namespace({}), accounts)
    assert list(accounts.calls()) == [OWN] and step.status is not None


def test_a_proof_of_ownership_holds_in_one_account_only() -> None:
    """The same job name in two accounts is two jobs: a proof of one is no proof of the other."""
    here = target_of(in_namespace({ANN_OWNER_ACCOUNT: A}), SETTINGS)
    there = target_of(in_namespace({ANN_OWNER_ACCOUNT: B}), SETTINGS)
    assert here.job_name == there.job_name and job_ref(here) != job_ref(there)
