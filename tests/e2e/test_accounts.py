"""Cross-account resources (ACK's CARM, issue 16) end to end: the emulator keeps accounts apart by
access key and serves STS, so a namespace's `owner-account-id` and the `ack-role-account-map`
ConfigMap decide which account a job is made in, through an assumed role; a missing mapping makes
no call at all, a refused role is ACK.Recoverable until it recovers, another account's job of the
same name is neither adopted nor stopped, and a re-annotated namespace leaves a running job where
it is."""

from __future__ import annotations

from hpo_operator.model.translate import spec_to_request
from support.carm import (
    OTHER,
    OWN,
    REGION,
    ROLE,
    TARGET,
    Carm,
    allow_role,
    calls,
    describe,
    sagemaker_in,
)
from support.operator_harness import job_name, tuning_job


def test_a_mapped_account_gets_the_job_through_the_assumed_role(carm: Carm) -> None:
    carm.setup(TARGET, {TARGET: ROLE})
    name = carm.run("carm")
    status = carm.jobs.wait_state(carm.namespace, "carm", "Completed", timeout=90)
    meta = status["ackResourceMetadata"]
    assert meta["ownerAccountID"] == TARGET and f":{TARGET}:" in meta["arn"]
    assert name.lower() in carm.emulator.store_for(REGION, TARGET).jobs
    assert name.lower() not in carm.emulator.store_for(REGION, OWN).jobs
    sessions = carm.emulator.accounts.sessions.values()
    assert {s.role_arn for s in sessions} == {ROLE}


def test_an_unmapped_account_is_terminal_and_calls_nothing_until_mapped(carm: Carm) -> None:
    carm.setup(TARGET, {OTHER: f"arn:aws:iam::{OTHER}:role/other"})
    carm.run("unmapped")
    terminal = carm.jobs.wait_condition(carm.namespace, "unmapped", "ACK.Terminal")
    assert terminal["reason"] == "RoleUnavailable"
    assert "services.k8s.aws/owner-account-id" in terminal["message"]
    assert "ack-role-account-map has no key" in terminal["message"]
    assert calls(carm.emulator) == {}  # no SageMaker call, in any account
    assert not carm.emulator.accounts.sessions  # and no role assumed
    carm.maps({TARGET: ROLE})  # mapped: the next look makes the job there
    status = carm.jobs.wait_state(carm.namespace, "unmapped", "Completed", timeout=90)
    assert status["ackResourceMetadata"]["ownerAccountID"] == TARGET


def test_a_refused_role_is_recoverable_and_never_falls_back(carm: Carm) -> None:
    refused = f"arn:aws:iam::{OTHER}:role/refused"
    carm.setup(OTHER, {OTHER: refused})
    name = carm.run("refused")
    recoverable = carm.jobs.wait_condition(carm.namespace, "refused", "ACK.Recoverable")
    assert recoverable["reason"] == "RoleUnavailable" and refused in recoverable["message"]
    for account in (OWN, OTHER):
        assert name.lower() not in carm.emulator.store_for(REGION, account).jobs
    allow_role(carm.emulator, refused)  # the role recovers: the job is made, in its account
    status = carm.jobs.wait_state(carm.namespace, "refused", "Completed", timeout=90)
    assert status["ackResourceMetadata"]["ownerAccountID"] == OTHER
    assert name.lower() in carm.emulator.store_for(REGION, OTHER).jobs
    assert name.lower() not in carm.emulator.store_for(REGION, OWN).jobs


def test_another_accounts_job_is_neither_adopted_nor_stopped(carm: Carm) -> None:
    """A job of the same name in another account than the namespace names is not found where
    the operator looks (the namespace's account), so it is not adopted, and deleting the resource
    stops nothing anywhere."""
    name = job_name("elsewhere")
    request = spec_to_request(tuning_job("x", name, max_jobs=200, parallel=1)["spec"])
    sagemaker_in(carm.emulator, OTHER).create_hyper_parameter_tuning_job(**request)
    carm.setup(TARGET, {TARGET: ROLE, OTHER: f"arn:aws:iam::{OTHER}:role/other"})
    annotations = {
        "services.k8s.aws/adoption-policy": "adopt",
        "services.k8s.aws/adoption-fields": f'{{"hyperParameterTuningJobName": "{name}"}}',
    }
    carm.jobs.apply(carm.namespace, tuning_job("adopter", name, annotations=annotations))
    waiting = carm.jobs.wait_condition(carm.namespace, "adopter", "ACK.Recoverable")
    assert "to adopt" in waiting["message"] and name in waiting["message"]
    assert "ackResourceMetadata" not in carm.jobs.status(carm.namespace, "adopter")
    carm.jobs.delete(carm.namespace, "adopter")
    carm.jobs.wait_gone(carm.namespace, "adopter", timeout=60)
    assert describe(carm.emulator, OTHER, name) == "InProgress"
    assert "StopHyperParameterTuningJob" not in calls(carm.emulator).get("operations", {})
    assert name.lower() not in carm.emulator.store_for(REGION, TARGET).jobs


def test_a_reannotated_namespace_leaves_the_running_job_in_its_account(carm: Carm) -> None:
    carm.setup(TARGET, {TARGET: ROLE})
    name = carm.run("moved", max_jobs=200, parallel=1)
    carm.jobs.wait_state(carm.namespace, "moved", "InProgress", timeout=60)
    carm.jobs.annotate_namespace(carm.namespace, {"services.k8s.aws/owner-account-id": OTHER})
    advisory = carm.jobs.wait_condition(carm.namespace, "moved", "ACK.Advisory", timeout=60)
    assert OTHER in advisory["message"] and TARGET in advisory["message"]
    carm.jobs.delete(carm.namespace, "moved")
    carm.jobs.wait_gone(carm.namespace, "moved", timeout=60)
    assert describe(carm.emulator, TARGET, name) in ("Stopping", "Stopped")
    assert name.lower() not in carm.emulator.store_for(REGION, OTHER).jobs


def test_a_region_annotation_combines_with_the_account(carm: Carm) -> None:
    """As in ACK: the role gives the account, the region annotation the region."""
    carm.setup(TARGET, {TARGET: ROLE})
    name = job_name("east")
    annotations = {"services.k8s.aws/region": "us-east-1"}
    carm.jobs.apply(carm.namespace, tuning_job("east", name, annotations=annotations))
    status = carm.jobs.wait_state(carm.namespace, "east", "Completed", timeout=90)
    meta = status["ackResourceMetadata"]
    assert (meta["ownerAccountID"], meta["region"]) == (TARGET, "us-east-1")
    assert name.lower() in carm.emulator.store_for("us-east-1", TARGET).jobs
    for region, account in ((REGION, TARGET), ("us-east-1", OWN)):
        assert name.lower() not in carm.emulator.store_for(region, account).jobs


def test_with_team_level_carm_the_team_role_wins(carm: Carm) -> None:
    """--carm-teams (ACK's TeamLevelCARM): team-id over owner-account-id, the role's account."""
    team_role = f"arn:aws:iam::{OTHER}:role/team-a"
    carm.maps({"team-a": team_role}, name="ack-role-team-map")
    carm.jobs.annotate_namespace(carm.namespace, {"services.k8s.aws/team-id": "team-a"})
    carm.setup(TARGET, {TARGET: ROLE}, HPO_CARM_TEAMS="true")
    name = carm.run("team")
    status = carm.jobs.wait_state(carm.namespace, "team", "Completed", timeout=90)
    assert status["ackResourceMetadata"]["ownerAccountID"] == OTHER
    assert name.lower() in carm.emulator.store_for(REGION, OTHER).jobs
    assert {s.role_arn for s in carm.emulator.accounts.sessions.values()} == {team_role}
