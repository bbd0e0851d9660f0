"""The README's install sections against the code: IAM actions, settings and chart values.

Why: docs drift silently. The IAM policy must name exactly the SageMaker operations the operator's
modules call on a boto3 client (found by their method names, e.g. `.list_tags(`), plus AddTags,
which tagging on Create needs; every operator setting and every chart value must appear in the
configuration reference.
"""

from __future__ import annotations

import json
import re
from dataclasses import fields

import yaml

from hpo_operator.model import awsmodel
from hpo_operator.shell.settings import Settings, environment, parser, shown_default
from ship.chart import CHART, REPO

README = (REPO / "README.md").read_text()

DOCUMENTED_SETTINGS = (
    "namespaces",
    "all_namespaces",
    "region",
    "endpoint_url",
    "poll_interval",
    "deletion_policy",
    "log_format",
    "log_level",
    "metrics_port",
    "health_port",
    "peering_name",
    "polling",
    "bind_address",
    "allow_unsafe_aws_endpoint_urls",
    "carm",
    "carm_teams",
    "carm_namespace",
    "account_id",
    "resource_tags",
    "watch_selectors",
    "enable_field_export_reconciler",
)


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def iam_policy() -> dict[str, object]:
    (block,) = re.findall(r"```json\n(.*?)```", section("IAM policy"), re.S)
    policy: dict[str, object] = json.loads(block)
    return policy


def operations_called(package: str = "", skip: str = "cli") -> set[str]:
    """SageMaker operations whose boto3 method the operator's modules (not the emulator) name,
    as an attribute (`.describe_hyper_parameter_tuning_job`) or a string. The command-line tools
    (`skip`: cli/) run with the user's credentials, not the operator's role: `package="cli"`
    reads only them.

    One-word operations (`Search`) are left out: `.search(` is far more often `re.search`.
    """
    from botocore import xform_name

    source = "\n".join(
        path.read_text()
        for path in (REPO / "operator" / "hpo_operator" / package).rglob("*.py")
        if "emulator" not in path.parts and skip not in path.parts
    )
    return {
        name
        for name in awsmodel.service_model().operation_names
        if "_" in xform_name(name)
        and re.search(rf"(\.{xform_name(name)}\b|\"{xform_name(name)}\")", source)
    }


def test_iam_policy_names_exactly_the_calls_the_operator_makes() -> None:
    statements = iam_policy()["Statement"]
    assert isinstance(statements, list)
    sagemaker = {
        action
        for s in statements
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        if action.startswith("sagemaker:")
    }
    called = operations_called()
    assert "CreateHyperParameterTuningJob" in called
    assert "ListHyperParameterTuningJobs" in called
    # Every call the code makes is in the model subset `hpo-operator run` loads, and the policy
    # grants exactly that subset (AddTags: Create with tags; Search: the poller's bursts).
    assert called <= set(awsmodel.OPERATOR_OPERATIONS)
    assert sagemaker == {f"sagemaker:{name}" for name in awsmodel.OPERATOR_OPERATIONS}
    for statement in statements:
        assert "*" not in json.dumps(statement["Action"])
        assert statement["Effect"] == "Allow"


def test_the_trials_section_names_the_calls_the_trials_command_makes() -> None:
    called = operations_called("cli", skip="")
    assert called == {
        "DescribeHyperParameterTuningJob",
        "ListTrainingJobsForHyperParameterTuningJob",
    }
    text = section("Trials of a tuning job")
    for name in called:
        assert f"sagemaker:{name}" in text


def test_iam_pass_role_only_to_sagemaker() -> None:
    statements = iam_policy()["Statement"]
    assert isinstance(statements, list)
    (passing,) = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    assert passing["Resource"].startswith("arn:aws:iam::") and ":role/" in passing["Resource"]


def test_every_setting_is_in_the_reference() -> None:
    reference = section("Configuration reference")
    for name in DOCUMENTED_SETTINGS:
        assert name in {f.name for f in fields(Settings)}, (
            f"Settings lost {name}: update the README"
        )
        assert f"`HPO_{name.upper()}`" in reference, name
    documented = set(re.findall(r"`(--[a-z-]+)", reference))
    flags = {
        option
        for action in parser()._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }
    assert documented == flags


def test_the_references_defaults_and_variables_are_the_settings() -> None:
    """`Settings` is the one source: each row's variables (in order) and the default it shows
    are the field's (rows whose default is decided at startup, or empty, say so in words)."""
    rows = [
        [cell.strip() for cell in line.strip("|").split(" | ")]
        for line in section("Configuration reference").splitlines()
        if line.startswith("| ") and "`HPO_" in line
    ]
    checked = 0
    for _flag, env, default, _chart in rows:
        variables = re.findall(r"`((?:HPO|AWS|ACK)_[A-Z_]+)`", env)
        name = variables[0].removeprefix("HPO_").lower()
        assert tuple(variables) == environment(name), env
        shown = shown_default(name)
        if shown is not None:
            assert default.split()[0] == shown, (name, default, shown)
            checked += 1
    assert checked >= 9  # not vacuous: the rows with a default to show


def test_the_design_doc_keeps_no_copy_of_the_settings() -> None:
    design = (REPO / "docs" / "design.md").read_text()
    assert not [line for line in design.splitlines() if line.startswith("|") and "`HPO_" in line]


def test_every_chart_value_is_in_the_reference() -> None:
    reference = section("Configuration reference")
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for key in values:
        if key in ("nameOverride", "fullnameOverride"):
            continue
        assert re.search(rf"`{re.escape(key)}[`.=]", reference), f"{key} is not documented"
