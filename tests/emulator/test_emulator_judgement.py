"""The emulator's own judgement: it rejects what AWS's model and documentation say it must, in
AWS's words, without any of the operator's validation code; and where the operator's validator
and the emulator disagree, a test says which one is wrong."""

from __future__ import annotations

import ast
import copy
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from test_emulator_protocol import post, unvalidated

from hpo_emulator import RunningEmulator, checks
from hpo_emulator import errors as emulator_errors
from hpo_operator.model.translate import spec_to_request
from hpo_operator.model.validate import validate_request
from support.emulator_client import client, config_with, definition_with, request
from support.model_strategies import PROPERTY_SETTINGS, valid_specs

EMULATOR = Path(__file__).resolve().parents[2] / "emulator" / "hpo_emulator"
FORBIDDEN = (
    "hpo_operator.model.validate",
    "hpo_operator.model.translate",
    "hpo_operator.model.schema",
)


# --- no shared code ------------------------------------------------------------------------------


# What the emulator shares with the operator on purpose: mechanics with no judgement in them, kept
# once (the token bucket and the OP=RATE[:BURST] parser; the timestamp parser).
SHARED = ("hpo_operator.adapters.ratelimit", "hpo_operator.model.timestamps")


def test_emulator_sources_import_nothing_of_the_operator() -> None:
    """Every import in the emulator's package stays in the package (botocore, the standard
    library and the `SHARED` mechanics aside): not the operator's validator, translator, schema,
    naming or model layer."""
    outside: list[str] = []
    for path in sorted(EMULATOR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                if name.split(".")[0] == "hpo_operator" and not name.startswith(SHARED):
                    outside.append(f"{path.name}: {name}")
    assert outside == []


def test_loading_the_emulator_loads_none_of_the_operators_validation() -> None:
    code = (
        "import sys\n"
        "import hpo_emulator.server, hpo_emulator.operations\n"
        "import hpo_emulator.checks\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('hpo_operator'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert [m for m in out if m.startswith(FORBIDDEN)] == []
    packages = sorted({m.rpartition(".")[0] for m in SHARED})
    assert out == sorted(["hpo_operator", *packages, *SHARED]), "only the SHARED mechanics"


# --- what the emulator rejects, and how it says so ----------------------------------------------


def rejection(emulator: RunningEmulator, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        unvalidated(emulator.url).create_hyper_parameter_tuning_job(**params)
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def ranges(integer: int = 0, continuous: int = 0, categorical: int = 0) -> dict[str, Any]:
    return {
        "IntegerParameterRanges": [
            {"Name": f"i{n}", "MinValue": "1", "MaxValue": "9"} for n in range(integer)
        ],
        "ContinuousParameterRanges": [
            {"Name": f"c{n}", "MinValue": "0.1", "MaxValue": "0.9"} for n in range(continuous)
        ],
        "CategoricalParameterRanges": [
            {"Name": f"k{n}", "Values": ["a", "b"]} for n in range(categorical)
        ],
    }


def config_without(member: str) -> dict[str, Any]:
    config = config_with()
    del config[member]
    return config


def algorithm(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = copy.deepcopy(
        request()["TrainingJobDefinition"]["AlgorithmSpecification"]
    )
    spec.update(changes)
    return spec


def without_resource_config(**changes: Any) -> dict[str, Any]:
    definition = definition_with(**changes)
    del definition["ResourceConfig"]
    return definition


CFG = "hyperParameterTuningJobConfig"
BASE_RANGES = request()["HyperParameterTuningJobConfig"]["ParameterRanges"]
BASE_ROLE = request()["TrainingJobDefinition"]["RoleArn"]
REGION = "us-west-2"  # the region of the test clients (`client`, `unvalidated`)
INT0 = f"{CFG}.parameterRanges.integerParameterRanges.1.member"
CONT0 = f"{CFG}.parameterRanges.continuousParameterRanges.1.member"

# (id, request changes, AWS path, the constraint's words)
REJECTED: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "required",
        {"HyperParameterTuningJobConfig": config_without("Strategy")},
        f"{CFG}.strategy",
        "Member must not be null",
    ),
    (
        "json-null-is-absent",
        {"TrainingJobDefinition": definition_with(RoleArn=None)},
        "trainingJobDefinition.roleArn",
        "Member must not be null",
    ),
    (
        "min-value",
        {
            "HyperParameterTuningJobConfig": config_with(
                ResourceLimits={"MaxNumberOfTrainingJobs": 0, "MaxParallelTrainingJobs": 1}
            )
        },
        f"{CFG}.resourceLimits.maxNumberOfTrainingJobs",
        "Member must have value greater than or equal to 1",
    ),
    (
        "min-length",
        {"Tags": [{"Key": "", "Value": "v"}]},
        "tags.1.member.key",
        "Member must have length greater than or equal to 1",
    ),
    (
        "max-length",
        {"Tags": [{"Key": "k" * 129, "Value": "v"}]},
        "tags.1.member.key",
        "Member must have length less than or equal to 128",
    ),
    (
        "list-max",
        {"Tags": [{"Key": f"k{n}", "Value": "v"} for n in range(51)]},
        "tags",
        "Member must have length less than or equal to 50",
    ),
    (
        "enum",
        {"HyperParameterTuningJobConfig": config_with(Strategy="Sideways")},
        f"{CFG}.strategy",
        "Member must satisfy enum value set: [Bayesian, Random, Hyperband, Grid]",
    ),
    (
        "pattern",
        {"TrainingJobDefinition": definition_with(RoleArn="arn:aws:iam::12:role/short-account")},
        "trainingJobDefinition.roleArn",
        "Member must satisfy regular expression pattern: "
        r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+",
    ),
    (
        "both-definitions",
        {"TrainingJobDefinitions": [definition_with(DefinitionName="d")]},
        "trainingJobDefinitions",
        "Member must be null when trainingJobDefinition is set",
    ),
    (
        "no-definition",
        {"TrainingJobDefinition": None},
        "trainingJobDefinition",
        "Member must not be null when trainingJobDefinitions is not set",
    ),
    (
        "min-above-max",
        {
            "HyperParameterTuningJobConfig": config_with(
                ParameterRanges={
                    "IntegerParameterRanges": [{"Name": "n", "MinValue": "9", "MaxValue": "3"}]
                }
            )
        },
        f"{INT0}.maxValue",
        "Member must be greater than or equal to minValue",
    ),
    (
        "not-a-number",
        {
            "HyperParameterTuningJobConfig": config_with(
                ParameterRanges={
                    "ContinuousParameterRanges": [
                        {"Name": "lr", "MinValue": "tiny", "MaxValue": "1"}
                    ]
                }
            )
        },
        f"{CONT0}.minValue",
        "Member must be a number",
    ),
    (
        "logarithmic-from-zero",
        {
            "HyperParameterTuningJobConfig": config_with(
                ParameterRanges={
                    "ContinuousParameterRanges": [
                        {
                            "Name": "lr",
                            "MinValue": "0",
                            "MaxValue": "1",
                            "ScalingType": "Logarithmic",
                        }
                    ]
                }
            )
        },
        f"{CONT0}.minValue",
        "Member must be greater than 0 with Logarithmic scaling",
    ),
    (
        "reverse-logarithmic-to-one",
        {
            "HyperParameterTuningJobConfig": config_with(
                ParameterRanges={
                    "ContinuousParameterRanges": [
                        {
                            "Name": "m",
                            "MinValue": "0.5",
                            "MaxValue": "1",
                            "ScalingType": "ReverseLogarithmic",
                        }
                    ]
                }
            )
        },
        f"{CONT0}.maxValue",
        "Member must be within 0<=x<1.0 with ReverseLogarithmic scaling",
    ),
    (
        "too-many-hyperparameters",
        {"HyperParameterTuningJobConfig": config_with(ParameterRanges=ranges(12, 12, 7))},
        f"{CFG}.parameterRanges",
        "Member must have at most 30 hyperparameters over all its ranges (it has 31)",
    ),
    (
        "algorithm-name-and-image",
        {
            "TrainingJobDefinition": definition_with(
                AlgorithmSpecification=algorithm(AlgorithmName="my-algorithm")
            )
        },
        "trainingJobDefinition.algorithmSpecification.trainingImage",
        "Member must be null when algorithmName is set",
    ),
    (
        "grid-numeric-range",
        {"HyperParameterTuningJobConfig": config_with(Strategy="Grid")},
        INT0,
        "Member must not be set with the Grid strategy",
    ),
    (
        "hyperband-early-stopping",
        {"HyperParameterTuningJobConfig": config_with(Strategy="Hyperband")},
        f"{CFG}.trainingJobEarlyStoppingType",
        "Member must be Off with the Hyperband strategy",
    ),
    (
        "strategy-config-without-hyperband",
        {
            "HyperParameterTuningJobConfig": config_with(
                StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}}
            )
        },
        f"{CFG}.strategyConfig",
        "Member must be null with the Bayesian strategy (it is for Hyperband)",
    ),
    (
        "total-required-unless-grid",
        {
            "HyperParameterTuningJobConfig": config_with(
                ResourceLimits={"MaxParallelTrainingJobs": 1}
            )
        },
        f"{CFG}.resourceLimits.maxNumberOfTrainingJobs",
        "Member must not be null with the Bayesian strategy (only Grid may omit it)",
    ),
    (
        "objective-not-a-defined-metric",
        {
            "TrainingJobDefinition": definition_with(
                AlgorithmSpecification=algorithm(
                    MetricDefinitions=[{"Name": "loss", "Regex": "loss=(.*)"}]
                )
            )
        },
        f"{CFG}.hyperParameterTuningJobObjective.metricName",
        "Member must be one of the metricDefinitions names: [loss]",
    ),
    # issue 13 (F6, F7): tags, ranges, static hyperparameters, metric regexes and the role's
    # partition, each as the API reference and the model's documentation state it.
    (
        "duplicate-tag-keys",
        {"Tags": [{"Key": "team", "Value": "a"}, {"Key": "team", "Value": "b"}]},
        "tags.2.member.key",
        "Member must be a unique tag key",
    ),
    (
        "aws-tag-prefix",
        {"Tags": [{"Key": "AWS:cost-center", "Value": "a"}]},
        "tags.1.member.key",
        "Member must not start with the reserved aws: prefix",
    ),
    (
        "duplicate-range-names",
        {
            "HyperParameterTuningJobConfig": config_with(
                ParameterRanges={
                    **BASE_RANGES,
                    "CategoricalParameterRanges": [{"Name": "eta", "Values": ["0.1", "0.2"]}],
                }
            )
        },
        f"{CFG}.parameterRanges.categoricalParameterRanges.1.member.name",
        "Member must be unique among the hyperparameter ranges",
    ),
    (
        "static-and-tuned",
        {"TrainingJobDefinition": definition_with(StaticHyperParameters={"num_round": "5"})},
        "trainingJobDefinition.staticHyperParameters.num_round",
        "Member must not name a hyperparameter that is also tuned",
    ),
    (
        "metric-regex-does-not-compile",
        {
            "TrainingJobDefinition": definition_with(
                AlgorithmSpecification=algorithm(
                    MetricDefinitions=[{"Name": "validation:error", "Regex": "error=([0-9.]+"}]
                )
            )
        },
        "trainingJobDefinition.algorithmSpecification.metricDefinitions.1.member.regex",
        "Member must be a valid regular expression",
    ),
    (
        "role-in-another-partition",
        {
            "TrainingJobDefinition": definition_with(
                RoleArn="arn:aws-cn:iam::123456789012:role/sagemaker"
            )
        },
        "trainingJobDefinition.roleArn",
        "Member must be an ARN in partition aws (the partition of us-west-2)",
    ),
    (
        "instance-configs-and-instance-type",
        {
            "TrainingJobDefinition": without_resource_config(
                HyperParameterTuningResourceConfig={
                    "InstanceConfigs": [
                        {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5}
                    ],
                    "InstanceCount": 1,
                },
            )
        },
        "trainingJobDefinition.hyperParameterTuningResourceConfig.instanceCount",
        "Member must be null when instanceConfigs is set",
    ),
    (
        "max-wait-below-max-runtime",
        {
            "TrainingJobDefinition": definition_with(
                StoppingCondition={"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 60}
            )
        },
        "trainingJobDefinition.stoppingCondition.maxWaitTimeInSeconds",
        "Member must be greater than or equal to maxRuntimeInSeconds",
    ),
    (
        "environment-over-all-definitions",
        {
            "TrainingJobDefinition": None,
            "TrainingJobDefinitions": [
                definition_with(
                    DefinitionName=name, Environment={f"{name.upper()}{i}": "x" for i in range(25)}
                )
                for name in ("a", "b")
            ],
        },
        "trainingJobDefinitions",
        "Member must have at most 48 environment variables over all definitions (it has 50)",
    ),
]


@pytest.mark.parametrize(
    ("changes", "where", "constraint"),
    [case[1:] for case in REJECTED],
    ids=[case[0] for case in REJECTED],
)
def test_emulator_rejects(
    emulator: RunningEmulator, changes: dict[str, Any], where: str, constraint: str
) -> None:
    code, message = rejection(emulator, **request(**changes))
    assert code == "ValidationException"
    assert f" at '{where}' failed to satisfy constraint: {constraint}" in message
    assert message.startswith(("1 validation error detected: ", "2 validation errors detected"))


def test_several_violations_in_one_message(emulator: RunningEmulator) -> None:
    code, message = rejection(
        emulator,
        **request("x" * 33, HyperParameterTuningJobConfig=config_with(Strategy="Sideways")),
    )
    assert code == "ValidationException"
    assert message.startswith("3 validation errors detected: ")  # length, pattern, enum
    assert (
        f"Value '{'x' * 33}' at 'hyperParameterTuningJobName' failed to satisfy constraint: "
        "Member must have length less than or equal to 32"
    ) in message
    assert "at 'hyperParameterTuningJobConfig.strategy'" in message


@pytest.mark.parametrize(
    "changes",
    [
        {
            "HyperParameterTuningJobConfig": config_with(
                ResourceLimits={"MaxNumberOfTrainingJobs": "4", "MaxParallelTrainingJobs": 1}
            )
        },
        {"Tags": {"Key": "not-a-list"}},
        {"Colour": "blue"},
    ],
    ids=["string-for-integer", "object-for-list", "unknown-member"],
)
def test_unreadable_requests_are_serialization_errors(
    emulator: RunningEmulator, changes: dict[str, Any]
) -> None:
    status, document = post(
        emulator.url,
        "SageMaker.CreateHyperParameterTuningJob",
        json.dumps(request(**changes)).encode(),
    )
    assert (status, document["__type"]) == (400, "SerializationException")


def test_other_operations_are_judged_too(emulator: RunningEmulator) -> None:
    sm = unvalidated(emulator.url)
    with pytest.raises(ClientError) as err:
        sm.list_hyper_parameter_tuning_jobs(MaxResults=101, SortBy="Colour")
    message = err.value.response["Error"]["Message"]
    assert message.startswith("2 validation errors detected: ")
    assert "Value '101' at 'maxResults' failed to satisfy constraint: Member must have value " in (
        message
    )
    assert "at 'sortBy' failed to satisfy constraint: Member must satisfy enum value set" in (
        message
    )


def test_a_valid_request_passes(emulator: RunningEmulator) -> None:
    client(emulator.url).create_hyper_parameter_tuning_job(**request())


# --- the operator's validator against the emulator's judgement ---------------------------------


def operator_rejects(params: dict[str, Any]) -> bool:
    return bool(validate_request("CreateHyperParameterTuningJob", params, REGION))


def emulator_rejects(params: dict[str, Any]) -> bool:
    try:
        checks.check("CreateHyperParameterTuningJob", params, REGION)
    except emulator_errors.ApiError:
        return True
    return False


OPERATOR_TOO_LAX = {
    "total-required-unless-grid": "the operator's validator accepts ResourceLimits without "
    "MaxNumberOfTrainingJobs under a strategy other than Grid; the emulator requires it, a rule "
    "no AWS document states in these words and not verified against AWS",
}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            case,
            id=case[0],
            marks=[pytest.mark.xfail(reason=OPERATOR_TOO_LAX[case[0]], strict=True)]
            if case[0] in OPERATOR_TOO_LAX
            else [],
        )
        for case in REJECTED
        if case[0] not in ("json-null-is-absent",)  # JSON's null: a wire matter, not a spec one
    ],
)
def test_operator_validator_agrees(case: tuple[str, dict[str, Any], str, str]) -> None:
    """Each request the emulator rejects is one the operator's validator rejects before Create.
    An xfail names a case where the operator is wrong (too lax)."""
    params = request(**case[1])
    assert emulator_rejects(params)
    assert operator_rejects(params), f"the operator accepts {case[0]}; the emulator rejects it"


ACCEPTED: list[tuple[str, Callable[[], dict[str, Any]]]] = [
    ("base", request),
    (
        # TagKey/TagValue `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`: letters, spaces and numbers of any script.
        "unicode-tags",
        lambda: request(
            Tags=[
                {"Key": "équipe", "Value": "données"},
                {"Key": "チーム", "Value": "機械学習 ٣"},
                {"Key": "Team", "Value": "a"},
                {"Key": "team", "Value": "a"},  # keys are case-sensitive: not a duplicate
            ]
        ),
    ),
    (
        "role-in-the-regions-partition",
        lambda: request(TrainingJobDefinition=definition_with(RoleArn=BASE_ROLE)),
    ),
    (
        "grid-without-total",
        lambda: request(
            HyperParameterTuningJobConfig=config_with(
                Strategy="Grid",
                ParameterRanges=ranges(categorical=2),
                ResourceLimits={"MaxParallelTrainingJobs": 2},
                TrainingJobEarlyStoppingType="Off",
            )
        ),
    ),
    (
        "thirty-hyperparameters",
        lambda: request(
            HyperParameterTuningJobConfig=config_with(ParameterRanges=ranges(10, 10, 10))
        ),
    ),
    (
        "algorithm-name-alone",
        lambda: request(
            TrainingJobDefinition=definition_with(
                AlgorithmSpecification={
                    "AlgorithmName": "my-algorithm",
                    "TrainingInputMode": "File",
                }
            )
        ),
    ),
]


@pytest.mark.parametrize("make", [c[1] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_both_accept(make: Callable[[], dict[str, Any]]) -> None:
    params = make()
    assert not emulator_rejects(params)
    assert not operator_rejects(params)


# Constraint phrases of the emulator's rules that the operator's validator lacks (OPERATOR_TOO_LAX).
KNOWN_DISAGREEMENTS = ("Member must not be null with the ",)  # MaxNumberOfTrainingJobs unless Grid


@PROPERTY_SETTINGS
@given(valid_specs())
def test_the_emulator_rejects_an_operator_valid_spec_only_for_a_known_disagreement(
    spec: dict[str, Any],
) -> None:
    """Specs generated from the model that the operator's validator passes: the emulator passes
    them too, or refuses them only for one of the disagreements above."""
    params = spec_to_request(spec)
    assert validate_request("CreateHyperParameterTuningJob", params) == []
    try:
        checks.check("CreateHyperParameterTuningJob", params)
    except emulator_errors.ApiError as err:
        assert err.code == "ValidationException", err.message
        constraints = re.findall(r"failed to satisfy constraint: (.*?)(?=; Value |$)", err.message)
        assert constraints
        assert [c for c in constraints if not c.startswith(KNOWN_DISAGREEMENTS)] == []


def test_instance_types_outside_the_model() -> None:
    """A deliberate difference, not a bug on either side: the operator never refuses an instance
    type (AWS adds them faster than botocore's model), the emulator is AWS as its model knows
    it and refuses one the model does not list."""
    params = request(
        TrainingJobDefinition=definition_with(
            ResourceConfig={"InstanceType": "ml.future.xlarge", "InstanceCount": 1}
        )
    )
    params["TrainingJobDefinition"]["ResourceConfig"]["VolumeSizeInGB"] = 25
    assert not operator_rejects(params)
    with pytest.raises(emulator_errors.ApiError) as err:
        checks.check("CreateHyperParameterTuningJob", params)
    assert "at 'trainingJobDefinition.resourceConfig.instanceType'" in err.value.message
    assert "Member must satisfy enum value set: [" in err.value.message
