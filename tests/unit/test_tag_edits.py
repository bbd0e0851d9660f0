"""Issue 17, items 1-3, as pure decisions: adoption-policy adopt-or-create, the default resource
tags of `--resource-tags` (ACK's templates and precedence), and edits of spec.tags applied with
AddTags / DeleteTags. Each `FakeSageMaker` plays one operator process (test_reconcile.py)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import pytest
from test_reconcile import FakeSageMaker, apply, condition, reasons, resource, run

from hpo_operator.cli.render import main as render_main
from hpo_operator.cli.render import render_manifest
from hpo_operator.core import conditions as c
from hpo_operator.core.outcome import spec_hash
from hpo_operator.core.reconcile import create_request, decide, spec_problems
from hpo_operator.core.types import (
    AwsFailure,
    ErrorKind,
    Observation,
    Op,
    ReconcileSettings,
    Resource,
    Retry,
    Trigger,
)
from hpo_operator.identity import (
    ANN_ADOPTION_FIELDS,
    ANN_ADOPTION_POLICY,
    ANN_JOB_NAME,
    ANN_SPEC_HASH,
    ANN_TAGS_REFUSED,
    ANN_UNTAGGED_HASH,
    SYSTEM_TAG_KEYS,
)
from hpo_operator.model.resourcetags import (
    default_tags,
    parse_resource_tags,
    resource_tag_problems,
    tag_edit,
)
from hpo_operator.model.translate import spec_tag_limit, system_tags
from hpo_operator.shell.settings import Settings, SettingsError

JOB = "xgb-tuning-1"  # test_reconcile.SPEC's job name
OR_CREATE = {ANN_ADOPTION_POLICY: "adopt-or-create"}
TEMPLATED = (
    ("cost-center", "ml-%K8S_NAMESPACE%"),
    ("owner", "%K8S_RESOURCE_KIND%/%K8S_RESOURCE_NAME%"),
    ("made-by", "%CONTROLLER_SERVICE%-%CONTROLLER_VERSION%"),
    ("managed-by", "%MANAGED_BY%"),
)


def tags_of(sm: FakeSageMaker, name: str = JOB) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in sm.tags[sm.arn(name)]}


def with_tags(r: Resource, *pairs: tuple[str, str]) -> Resource:
    spec = copy.deepcopy(dict(r.spec))
    spec["tags"] = [{"key": k, "value": v} for k, v in pairs]
    return replace(r, spec=spec, generation=r.generation + 1)


def created(sm: FakeSageMaker, **settings: Any) -> Resource:
    """The resource after its job was created and its status written."""
    r = resource()
    return apply(r, run(r, sm, **settings))


# --- --resource-tags: ACK's parsing, templates and precedence -----------------------------------


def test_resource_tags_are_parsed_as_ack_parses_them() -> None:
    text = " team = ml ,bad,a=b=c,=x,empty=, cost=%K8S_NAMESPACE%"
    assert parse_resource_tags(text) == (("team", "ml"), ("cost", "%K8S_NAMESPACE%"))
    assert parse_resource_tags("") == ()


def test_every_template_expands_and_an_empty_expansion_is_left_out() -> None:
    tags = default_tags(TEMPLATED, "team-a", "tuning", {}, "1.2.3")
    assert tags == [
        {"Key": "cost-center", "Value": "ml-team-a"},
        {"Key": "owner", "Value": "HyperParameterTuningJob/tuning"},
        {"Key": "made-by", "Value": "sagemaker-1.2.3"},
    ]  # no app.kubernetes.io/managed-by label: %MANAGED_BY% is empty, the tag left out
    labelled = default_tags(TEMPLATED, "n", "r", {"app.kubernetes.io/managed-by": "argocd"}, "v")
    assert {"Key": "managed-by", "Value": "argocd"} in labelled


def test_default_tag_keys_that_can_never_be_sent_are_refused_at_startup() -> None:
    assert resource_tag_problems((("AWS:x", "1"), ("services.k8s.aws/name", "y"))) == [
        "tag key 'AWS:x' starts with aws: (reserved by AWS)",
        "tag key 'services.k8s.aws/name' starts with services.k8s.aws/: the operator sets its "
        f"own system tags there ({', '.join(SYSTEM_TAG_KEYS)})",
    ]
    with pytest.raises(SettingsError, match="resource_tags: tag key 'aws:cost'"):
        Settings(resource_tags="aws:cost=1")


def test_settings_read_resource_tags_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HPO_RESOURCE_TAGS", "cost=%K8S_NAMESPACE%,team=ml")
    cfg = Settings().reconcile_settings()
    assert cfg.resource_tags == (("cost", "%K8S_NAMESPACE%"), ("team", "ml"))


def test_the_create_request_carries_default_tags_between_spec_and_system_tags() -> None:
    cfg = ReconcileSettings(operator_version="1.2.3", resource_tags=(*TEMPLATED, ("team", "x")))
    r = replace(resource(), labels={"app.kubernetes.io/managed-by": "flux"})
    keys = [(t["Key"], t["Value"]) for t in create_request(r, cfg)["Tags"]]
    assert keys[0] == ("team", "ml")  # the spec's own tag wins over the default of that key
    assert keys[1:5] == [
        ("cost-center", "ml-team-a"),
        ("owner", "HyperParameterTuningJob/tuning"),
        ("made-by", "sagemaker-1.2.3"),
        ("managed-by", "flux"),
    ]
    assert [k for k, _ in keys[5:]] == list(SYSTEM_TAG_KEYS)


def test_default_tags_count_against_the_tag_limit_and_the_problem_names_the_field() -> None:
    full = [{"key": f"k{i}", "value": "v"} for i in range(spec_tag_limit())]
    spec = {**resource().spec, "tags": full}
    assert spec_problems(spec) == []
    (problem,) = spec_problems(spec, None, ["cost"])
    assert problem.startswith(f"spec.tags: must have at most {spec_tag_limit() - 1} items")
    assert "1 default resource tags from --resource-tags (cost)" in problem
    assert spec_problems(spec, None, ["k0"]) == []  # overridden by the spec: no extra room


def test_an_invalid_spec_because_of_default_tags_is_terminal_with_no_call() -> None:
    sm = FakeSageMaker()
    full = [{"key": f"k{i}", "value": "v"} for i in range(spec_tag_limit())]
    r = replace(resource(), spec={**resource().spec, "tags": full})
    step = run(r, sm, resource_tags=(("cost", "%K8S_NAMESPACE%"),))
    assert sm.calls == []
    terminal = condition(step, c.TERMINAL)
    assert terminal is not None and terminal["reason"] == "InvalidSpec"
    assert "--resource-tags (cost)" in terminal["message"]


def test_render_shows_the_default_tags(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    manifest = {
        "apiVersion": "sagemaker.services.k8s.aws/v1alpha1",
        "kind": "HyperParameterTuningJob",
        "metadata": {"name": "tuning", "namespace": "team-a"},
        "spec": resource().spec,
    }
    rendered = render_manifest(manifest, None, TEMPLATED)
    assert rendered.request is not None
    found = {t["Key"]: t["Value"] for t in rendered.request["Tags"]}
    assert found["cost-center"] == "ml-team-a" and "managed-by" not in found
    path = tmp_path / "job.yaml"
    path.write_text(json.dumps(manifest))
    assert render_main([str(path), "--resource-tags", "cost=%K8S_RESOURCE_NAME%"]) == 0
    request = json.loads(capsys.readouterr().out)
    assert {"Key": "cost", "Value": "tuning"} in request["Tags"]
    assert render_main([str(path), "--resource-tags", "aws:x=1"]) == 2


# --- adoption-policy adopt-or-create -----------------------------------------------------------


def test_adopt_or_create_adopts_an_existing_job_without_creating() -> None:
    sm = FakeSageMaker()
    arn = sm.add_job(JOB, [{"Key": "made-by", "Value": "hand"}])
    step = run(resource(annotations=OR_CREATE), sm)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TAGS, Op.ADD_TAGS]  # recorded on the job, no Create
    assert tags_of(sm)["services.k8s.aws/uid"] == "uid-1"
    assert step.status is not None and step.status["ackResourceMetadata"]["arn"] == arn
    assert "Adopted" in reasons(step)
    assert step.annotations[ANN_JOB_NAME] == JOB
    assert condition(step, c.TERMINAL) is None


def test_adopt_or_create_creates_the_job_when_none_exists() -> None:
    sm = FakeSageMaker()
    step = run(resource(annotations=OR_CREATE), sm)
    assert sm.calls == [Op.DESCRIBE, Op.CREATE, Op.DESCRIBE]
    assert "Created" in reasons(step)
    assert tags_of(sm)["team"] == "ml"
    r = apply(resource(annotations=OR_CREATE), step)
    sm.calls.clear()
    run(r, sm)
    assert sm.calls == [Op.DESCRIBE]  # followed from its ARN: never created again


def test_adopt_or_create_never_takes_another_resources_job() -> None:
    sm = FakeSageMaker()
    sm.add_job(JOB, system_tags("team-a", "other", "uid-9", "1.2.3"))
    step = run(resource(annotations=OR_CREATE), sm)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TAGS]
    terminal = condition(step, c.TERMINAL)
    assert terminal is not None and terminal["reason"] == "OwnedByAnotherResource"
    assert "belongs to another resource" in terminal["message"]
    assert step.status is not None and "ackResourceMetadata" not in step.status


def test_adopt_or_create_takes_adoption_fields_only_naming_the_specs_job() -> None:
    sm = FakeSageMaker()
    same = {**OR_CREATE, ANN_ADOPTION_FIELDS: json.dumps({"hyperParameterTuningJobName": JOB})}
    run(resource(annotations=same), sm)
    assert sm.calls == [Op.DESCRIBE, Op.CREATE, Op.DESCRIBE]
    other = {**OR_CREATE, ANN_ADOPTION_FIELDS: '{"hyperParameterTuningJobName": "elsewhere"}'}
    sm = FakeSageMaker()
    step = run(resource(annotations=other), sm)
    assert sm.calls == []
    recoverable = condition(step, c.RECOVERABLE)
    assert recoverable is not None and recoverable["reason"] == "InvalidAnnotation"
    assert "must name the same job" in recoverable["message"]


def test_adopt_or_create_with_an_invalid_spec_makes_no_call() -> None:
    sm = FakeSageMaker()
    spec = {**resource().spec, "tags": [{"key": "aws:x", "value": "1"}]}
    step = run(resource(annotations=OR_CREATE, spec=spec), sm)
    assert sm.calls == []
    terminal = condition(step, c.TERMINAL)
    assert terminal is not None and terminal["reason"] == "InvalidSpec"


def test_adopt_or_create_losing_a_create_race_adopts_on_the_next_round() -> None:
    """Another process created the job between the Describe and the Create (ResourceInUse):
    retried, and the next round adopts it if its tags allow."""
    sm = FakeSageMaker()
    r = resource(annotations=OR_CREATE)
    obs = Observation(not_found=True)
    call = decide(
        r,
        obs,
        "2026-03-01T10:00:00Z",
        ReconcileSettings(default_region="us-west-2"),
        Trigger.CHANGE,
    )
    assert call.call is not None and call.call.op is Op.CREATE
    lost = AwsFailure(Op.CREATE, "ResourceInUse", "in use", ErrorKind.IN_USE)
    step = decide(
        r,
        replace(obs, create_failure=lost),
        "2026-03-01T10:00:00Z",
        ReconcileSettings(default_region="us-west-2"),
        Trigger.CHANGE,
    )
    assert step.call is None and step.retry is Retry.BACKOFF
    sm.add_job(JOB, [])
    again = run(apply(r, step), sm)
    assert "Adopted" in reasons(again)


# --- tag edits ---------------------------------------------------------------------------------


def test_an_edit_of_spec_tags_alone_becomes_add_and_delete_tags() -> None:
    sm = FakeSageMaker()
    r = created(sm)
    sm.calls.clear()
    edited = with_tags(r, ("team", "research"), ("cost", "42"))
    step = run(edited, sm)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TAGS, Op.ADD_TAGS]  # team changed, cost added
    assert tags_of(sm)["team"] == "research" and tags_of(sm)["cost"] == "42"
    assert "TagsUpdated" in reasons(step)
    assert condition(step, c.TERMINAL) is None
    synced = condition(step, c.SYNCED)
    assert synced is not None and synced["reason"] == "InProgress"  # the job's own state
    r = apply(edited, step)
    removed = with_tags(r, ("cost", "42"))
    sm.calls.clear()
    step = run(removed, sm)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TAGS, Op.DELETE_TAGS]
    assert "team" not in tags_of(sm)
    assert all(key in tags_of(sm) for key in SYSTEM_TAG_KEYS)  # never removed
    r = apply(removed, step)
    sm.calls.clear()
    run(r, sm)
    assert sm.calls == [Op.DESCRIBE]  # applied and recorded: nothing more to do


def test_default_and_aws_tags_are_never_deleted_and_a_default_comes_back() -> None:
    sm = FakeSageMaker()
    defaults = (("cost", "%K8S_NAMESPACE%"),)
    r = created(sm, resource_tags=defaults)
    assert tags_of(sm)["cost"] == "team-a"
    sm.tags[sm.arn(JOB)].append({"Key": "aws:cloudformation:stack-name", "Value": "s"})
    overridden = with_tags(r, ("team", "ml"), ("cost", "mine"))
    r = apply(overridden, run(overridden, sm, resource_tags=defaults))
    assert tags_of(sm)["cost"] == "mine"  # the spec's own tag wins over the default
    cleared = with_tags(r)
    sm.calls.clear()
    run(cleared, sm, resource_tags=defaults)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TAGS, Op.DELETE_TAGS, Op.ADD_TAGS]
    tags = tags_of(sm)
    assert tags["cost"] == "team-a"  # back to the default, not deleted
    assert "aws:cloudformation:stack-name" in tags and "team" not in tags
    assert all(key in tags for key in SYSTEM_TAG_KEYS)


def test_a_crash_between_add_tags_and_the_status_write_repeats_harmlessly() -> None:
    sm = FakeSageMaker()
    r = created(sm)
    edited = with_tags(r, ("team", "ml"), ("cost", "42"))
    run(edited, sm)  # AddTags made; the step (status, annotations) never written
    sm.calls.clear()
    step = run(edited, sm)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TAGS]  # the job already has them: no call again
    assert step.annotations[ANN_SPEC_HASH] != r.annotations[ANN_SPEC_HASH]
    assert step.annotations[ANN_UNTAGGED_HASH] == r.annotations[ANN_UNTAGGED_HASH]
    assert "TagsUpdated" in reasons(step)


def test_any_other_edit_keeps_the_spec_immutable_answer_and_sends_no_tag_call() -> None:
    sm = FakeSageMaker()
    r = created(sm)
    spec = copy.deepcopy(dict(r.spec))
    spec["hyperParameterTuningJobConfig"]["resourceLimits"]["maxNumberOfTrainingJobs"] = 9
    spec["tags"] = [{"key": "team", "value": "other"}]  # beside a change SageMaker cannot make
    sm.calls.clear()
    step = run(replace(r, spec=spec, generation=2), sm)
    assert sm.calls == [Op.DESCRIBE]
    terminal = condition(step, c.TERMINAL)
    assert terminal is not None and terminal["reason"] == "SpecImmutable"
    assert tags_of(sm)["team"] == "ml"


def test_a_tag_edit_sagemaker_refuses_is_terminal_with_its_message_and_not_resent() -> None:
    sm = FakeSageMaker()
    r = created(sm)
    refused = AwsFailure(Op.ADD_TAGS, "ValidationException", "too many tags", ErrorKind.TERMINAL)
    sm.failures[Op.ADD_TAGS] = refused
    edited = with_tags(r, ("team", "x"))
    step = run(edited, sm)
    terminal = condition(step, c.TERMINAL)
    assert terminal is not None and terminal["reason"] == "TagUpdateRejected"
    assert "ValidationException): too many tags" in terminal["message"]
    assert step.status is not None and step.status["hyperParameterTuningJobStatus"] == "InProgress"
    r = apply(edited, step)
    assert r.annotations[ANN_TAGS_REFUSED] == spec_hash(edited.spec)
    sm.calls.clear()
    again = run(r, sm)
    assert Op.ADD_TAGS not in sm.calls  # refused for this spec: not sent again
    kept = condition(again, c.TERMINAL)
    assert kept is not None and kept["message"] == terminal["message"]
    del sm.failures[Op.ADD_TAGS]
    fixed = with_tags(r, ("team", "y"))
    step = run(fixed, sm)
    assert tags_of(sm)["team"] == "y" and condition(step, c.TERMINAL) is None


def test_tags_beyond_the_limit_with_the_defaults_are_terminal_naming_the_field() -> None:
    sm = FakeSageMaker()
    defaults = (("cost", "%K8S_NAMESPACE%"),)
    r = created(sm, resource_tags=defaults)
    full = [(f"k{i}", "v") for i in range(spec_tag_limit())]
    sm.calls.clear()
    step = run(with_tags(r, *full), sm, resource_tags=defaults)
    assert Op.ADD_TAGS not in sm.calls and Op.DELETE_TAGS not in sm.calls
    terminal = condition(step, c.TERMINAL)
    assert terminal is not None and terminal["reason"] == "InvalidSpec"
    assert f"spec.tags: must have at most {spec_tag_limit() - 1} items" in terminal["message"]
    assert step.status is not None and step.status["hyperParameterTuningJobStatus"] == "InProgress"


def test_a_throttled_tag_edit_is_recoverable_and_retried() -> None:
    sm = FakeSageMaker()
    r = created(sm)
    sm.failures[Op.ADD_TAGS] = AwsFailure(
        Op.ADD_TAGS, "ThrottlingException", "Rate exceeded", ErrorKind.RECOVERABLE, throttled=True
    )
    edited = with_tags(r, ("team", "x"))
    step = run(edited, sm)
    assert step.retry is Retry.BACKOFF
    recoverable = condition(step, c.RECOVERABLE)
    assert recoverable is not None and "Rate exceeded" in recoverable["message"]
    assert ANN_SPEC_HASH not in step.annotations  # not recorded: the edit is still to apply
    del sm.failures[Op.ADD_TAGS]
    step = run(apply(edited, step), sm)
    assert tags_of(sm)["team"] == "x" and condition(step, c.RECOVERABLE) is None


def test_a_resource_recorded_before_tag_edits_existed_gets_its_untagged_digest() -> None:
    sm = FakeSageMaker()
    r = created(sm)
    older = replace(
        r, annotations={k: v for k, v in r.annotations.items() if k != ANN_UNTAGGED_HASH}
    )
    step = run(older, sm)
    assert step.annotations == {ANN_UNTAGGED_HASH: r.annotations[ANN_UNTAGGED_HASH]}


def test_the_tag_diff_is_what_listtags_shows_against_what_is_desired() -> None:
    actual = [
        {"Key": "a", "Value": "1"},
        {"Key": "b", "Value": "2"},
        {"Key": "aws:x", "Value": "3"},
        {"Key": "services.k8s.aws/uid", "Value": "u"},
        {"Key": "kept", "Value": "4"},
    ]
    edit = tag_edit([{"Key": "a", "Value": "9"}, {"Key": "c", "Value": "5"}], actual, ["kept"])
    assert edit.add == ({"Key": "a", "Value": "9"}, {"Key": "c", "Value": "5"})
    assert edit.delete == ("b",)
    assert not tag_edit([{"Key": "a", "Value": "1"}], [{"Key": "a", "Value": "1"}])


class LaggingIndex(FakeSageMaker):
    """A process whose non-authoritative ListTags come from a Search index that lags: it still
    shows the tags as they were at Create."""

    def __init__(self) -> None:
        super().__init__()
        self.indexed: dict[str, list[dict[str, str]]] = {}

    async def __call__(self, call: Any) -> Any:
        if call.op is Op.LIST_TAGS and not call.authoritative and call.arn in self.indexed:
            self.calls.append(call.op)
            return {"Tags": copy.deepcopy(self.indexed[call.arn])}
        return await super().__call__(call)


def test_a_tag_edit_is_computed_from_listtags_itself_not_a_lagging_index() -> None:
    sm = LaggingIndex()
    r = created(sm)
    arn = sm.arn(JOB)
    r = apply(
        with_tags(r, ("team", "ml"), ("extra", "1")),
        run(with_tags(r, ("team", "ml"), ("extra", "1")), sm),
    )
    sm.indexed[arn] = [t for t in sm.tags[arn] if t["Key"] != "extra"]  # the index lags
    sm.proven.clear()  # a restart: ownership is proven again, from the index
    sm.calls.clear()
    run(with_tags(r, ("team", "ml")), sm)
    assert sm.calls == [Op.DESCRIBE, Op.LIST_TAGS, Op.LIST_TAGS, Op.DELETE_TAGS]
    assert "extra" not in tags_of(sm)  # removed although the index never showed it


def test_a_finished_jobs_tags_are_edited_without_describing_it() -> None:
    sm = FakeSageMaker()
    r = created(sm)
    sm.set_state(JOB, "Completed")
    r = apply(r, run(r, sm))
    assert r.status["hyperParameterTuningJobStatus"] == "Completed"
    sm.calls.clear()
    step = run(with_tags(r, ("team", "archived")), sm)
    assert sm.calls == [Op.LIST_TAGS, Op.ADD_TAGS]
    assert tags_of(sm)["team"] == "archived"
    assert "TagsUpdated" in reasons(step) and condition(step, c.TERMINAL) is None
