"""Validation against the model and CreateHyperParameterTuningJob's cross-field rules."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hpo_operator import identity
from hpo_operator.model import awsmodel, translate
from hpo_operator.model.validate import (
    Problem,
    format_path,
    matches,
    validate_request,
    validate_spec,
)


def _spec() -> dict[str, Any]:
    return {
        "hyperParameterTuningJobName": "xgboost-tuning",
        "hyperParameterTuningJobConfig": {
            "strategy": "Bayesian",
            "hyperParameterTuningJobObjective": {
                "type_": "Minimize",
                "metricName": "validation:error",
            },
            "resourceLimits": {"maxNumberOfTrainingJobs": 4, "maxParallelTrainingJobs": 2},
            "parameterRanges": {
                "integerParameterRanges": [
                    {
                        "name": "num_round",
                        "minValue": "10",
                        "maxValue": "20",
                        "scalingType": "Linear",
                    }
                ],
                "continuousParameterRanges": [
                    {"name": "eta", "minValue": "0.1", "maxValue": "0.5", "scalingType": "Auto"}
                ],
            },
        },
        "trainingJobDefinition": {
            "staticHyperParameters": {"base_score": "0.5"},
            "algorithmSpecification": {"trainingImage": "xgboost:1", "trainingInputMode": "File"},
            "roleARN": "arn:aws:iam::123456789012:role/SageMakerExecution",
            "inputDataConfig": [
                {
                    "channelName": "train",
                    "dataSource": {
                        "s3DataSource": {"s3DataType": "S3Prefix", "s3URI": "s3://example-bucket/t"}
                    },
                }
            ],
            "outputDataConfig": {"s3OutputPath": "s3://example-bucket/out"},
            "resourceConfig": {
                "instanceType": "ml.m5.large",
                "instanceCount": 1,
                "volumeSizeInGB": 5,
            },
            "stoppingCondition": {"maxRuntimeInSeconds": 3600},
        },
        "tags": [{"key": "team", "value": "ml platform"}],
    }


def _messages(spec: dict[str, Any]) -> list[str]:
    return [str(problem) for problem in validate_spec(spec)]


def test_a_valid_spec_and_its_request_pass() -> None:
    assert validate_spec(_spec()) == []
    request = translate.spec_to_request(_spec())
    assert validate_request(awsmodel.CREATE, request) == []


def test_problem_paths_in_both_styles() -> None:
    problem = Problem(("spec", "trainingJobDefinition", "inputDataConfig", 0, "channelName"), "x")
    assert problem.manifest_path() == "spec.trainingJobDefinition.inputDataConfig[0].channelName"
    assert str(problem) == "spec.trainingJobDefinition.inputDataConfig[0].channelName: x"
    aws = Problem(("TrainingJobDefinition", "InputDataConfig", 0, "ChannelName"), "x")
    assert aws.aws_path() == "trainingJobDefinition.inputDataConfig.1.member.channelName"
    assert format_path(()) == ""


def test_map_keys_that_are_not_plain_are_quoted_in_paths() -> None:
    static = ("spec", "trainingJobDefinition", "staticHyperParameters")
    assert format_path((*static, "eta")) == "spec.trainingJobDefinition.staticHyperParameters.eta"
    assert format_path((*static, "1_max-depth")).endswith(".1_max-depth")
    assert format_path((*static, "learning rate")).endswith('Parameters["learning rate"]')
    assert format_path((*static, "a.b")).endswith('["a.b"]')  # not two keys
    assert format_path((*static, "x:\ny")).endswith('["x:\\ny"]')  # one line, no bare colon
    problem = validate_spec({"trainingJobDefinition": {"environment": {"A B": 1}}})
    assert any('spec.trainingJobDefinition.environment["A B"]' in str(p) for p in problem)


def _edit(path: str, value: Any) -> dict[str, Any]:
    spec = _spec()
    node: Any = spec
    keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return spec


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "hyperParameterTuningJobConfig.resourceLimits.maxNumberOfTrainingJobs",
            0,
            "spec.hyperParameterTuningJobConfig.resourceLimits.maxNumberOfTrainingJobs: "
            "must be ≥ 1",
        ),
        (
            "hyperParameterTuningJobConfig.resourceLimits.maxRuntimeInSeconds",
            16000000,
            "spec.hyperParameterTuningJobConfig.resourceLimits.maxRuntimeInSeconds: "
            "must be ≤ 15768000",
        ),
        (
            "hyperParameterTuningJobConfig.strategy",
            "Genetic",
            "spec.hyperParameterTuningJobConfig.strategy: must be one of: "
            "Bayesian, Random, Hyperband, Grid",
        ),
        ("hyperParameterTuningJobName", _DELETE, "spec.hyperParameterTuningJobName: is required"),
        (
            "hyperParameterTuningJobName",
            "bad_name",
            "spec.hyperParameterTuningJobName: must match pattern [a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}",
        ),
        (
            "hyperParameterTuningJobName",
            "a" * 33,
            "spec.hyperParameterTuningJobName: must be at most 32 characters long",
        ),
        ("trainingJobDefinition.roleArn", "x", "spec.trainingJobDefinition.roleArn: unknown field"),
        (
            "trainingJobDefinition.roleARN",
            "arn:aws:iam::12345:role/x",
            "spec.trainingJobDefinition.roleARN: must match pattern "
            r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+",
        ),
        (
            "trainingJobDefinition.inputDataConfig",
            [],
            "spec.trainingJobDefinition.inputDataConfig: must have at least 1 item",
        ),
        (
            "trainingJobDefinition.resourceConfig.instanceCount",
            "1",
            "spec.trainingJobDefinition.resourceConfig.instanceCount: must be an integer",
        ),
        (
            "trainingJobDefinition.resourceConfig.instanceCount",
            True,
            "spec.trainingJobDefinition.resourceConfig.instanceCount: must be an integer",
        ),
        (
            "trainingJobDefinition.enableNetworkIsolation",
            "true",
            "spec.trainingJobDefinition.enableNetworkIsolation: must be true or false",
        ),
        (
            "trainingJobDefinition.staticHyperParameters",
            {f"k{i}": "v" for i in range(101)},
            "spec.trainingJobDefinition.staticHyperParameters: must have at most 100 entries",
        ),
        (
            "trainingJobDefinition.environment",
            {"1BAD": "v"},
            "spec.trainingJobDefinition.environment.1BAD: key must match pattern "
            "[a-zA-Z_][a-zA-Z0-9_]*",
        ),
        (
            "trainingJobDefinition.inputDataConfig.0.dataSource.s3DataSource.s3URI",
            "ftp://x",
            "spec.trainingJobDefinition.inputDataConfig[0].dataSource.s3DataSource.s3URI: "
            "must match pattern (https|s3)://([^/]+)/?(.*)",
        ),
        (
            "tags.0.key",
            "bad#key",
            r"spec.tags[0].key: must match pattern ([\p{L}\p{Z}\p{N}_.:/=+\-@]*)",
        ),
        ("tags.0", None, "spec.tags[0]: must not be null"),
        ("tags", "team=a", "spec.tags: must be a list"),
        (
            "trainingJobDefinition.outputDataConfig",
            "s3://b",
            "spec.trainingJobDefinition.outputDataConfig: must be an object",
        ),
    ],
)
def test_model_constraints(path: str, value: Any, expected: str) -> None:
    assert expected in _messages(_edit(path, value))


def test_instance_types_are_never_rejected() -> None:
    spec = _edit("trainingJobDefinition.resourceConfig.instanceType", "ml.future99.48xlarge")
    assert validate_spec(spec) == []


def test_algorithm_name_lookbehind_applies() -> None:
    spec = _edit("trainingJobDefinition.algorithmSpecification.algorithmName", "my-algo-")
    assert any("algorithmName: must match pattern" in m for m in _messages(spec))
    fine = _edit("trainingJobDefinition.algorithmSpecification.algorithmName", "my-algo")
    assert _messages(fine) == [
        "spec.trainingJobDefinition.algorithmSpecification.trainingImage: "
        "must not be set together with algorithmName"
    ]
    del fine["trainingJobDefinition"]["algorithmSpecification"]["trainingImage"]
    assert validate_spec(fine) == []


def test_exactly_one_training_job_definition() -> None:
    neither = _edit("trainingJobDefinition", _DELETE)
    assert _messages(neither) == [
        "spec.trainingJobDefinition: is required (or trainingJobDefinitions): "
        "exactly one of the two"
    ]
    both = _spec()
    both["trainingJobDefinitions"] = [copy.deepcopy(both["trainingJobDefinition"])]
    assert _messages(both) == [
        "spec.trainingJobDefinitions: must not be set together with trainingJobDefinition"
    ]
    request = translate.spec_to_request(both)
    assert [str(p) for p in validate_request(awsmodel.CREATE, request)] == [
        "TrainingJobDefinitions: must not be set together with TrainingJobDefinition"
    ]


RANGES = "hyperParameterTuningJobConfig.parameterRanges"


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        (
            {"integerParameterRanges.0.minValue": "30"},
            "spec.hyperParameterTuningJobConfig.parameterRanges.integerParameterRanges[0].maxValue:"
            " must be ≥ minValue (30)",
        ),
        (
            {"integerParameterRanges.0.minValue": "1.5"},
            "spec.hyperParameterTuningJobConfig.parameterRanges.integerParameterRanges[0].minValue:"
            " must be an integer written as a string",
        ),
        (
            {"continuousParameterRanges.0.maxValue": "lots"},
            "spec.hyperParameterTuningJobConfig.parameterRanges.continuousParameterRanges[0]"
            ".maxValue: must be a number written as a string",
        ),
        (
            {"continuousParameterRanges.0.maxValue": "nan"},
            "spec.hyperParameterTuningJobConfig.parameterRanges.continuousParameterRanges[0]"
            ".maxValue: must be a number written as a string",
        ),
        (
            {
                "continuousParameterRanges.0.minValue": "0",
                "continuousParameterRanges.0.scalingType": "Logarithmic",
            },
            "spec.hyperParameterTuningJobConfig.parameterRanges.continuousParameterRanges[0]"
            ".minValue: must be > 0 with Logarithmic scaling (log of 0 or less)",
        ),
        (
            {
                "continuousParameterRanges.0.maxValue": "1",
                "continuousParameterRanges.0.scalingType": "ReverseLogarithmic",
            },
            "spec.hyperParameterTuningJobConfig.parameterRanges.continuousParameterRanges[0]"
            ".maxValue: must be < 1 with ReverseLogarithmic scaling",
        ),
        (
            {
                "continuousParameterRanges.0.minValue": "-0.1",
                "continuousParameterRanges.0.scalingType": "ReverseLogarithmic",
            },
            "spec.hyperParameterTuningJobConfig.parameterRanges.continuousParameterRanges[0]"
            ".minValue: must be ≥ 0 with ReverseLogarithmic scaling",
        ),
        (
            {"integerParameterRanges.0.scalingType": "ReverseLogarithmic"},
            "spec.hyperParameterTuningJobConfig.parameterRanges.integerParameterRanges[0]"
            ".scalingType: must be Auto, Linear or Logarithmic for an integer range "
            "(ReverseLogarithmic is for continuous ranges)",
        ),
    ],
)
def test_parameter_range_rules(edits: dict[str, Any], expected: str) -> None:
    spec = _spec()
    for path, value in edits.items():
        node: Any = spec
        keys: list[Any] = [int(k) if k.isdigit() else k for k in f"{RANGES}.{path}".split(".")]
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    assert expected in _messages(spec)


def test_logarithmic_and_reverse_logarithmic_accept_their_ranges() -> None:
    spec = _spec()
    ranges = spec["hyperParameterTuningJobConfig"]["parameterRanges"]
    ranges["continuousParameterRanges"] = [
        {"name": "a", "minValue": "0.001", "maxValue": "10", "scalingType": "Logarithmic"},
        {"name": "b", "minValue": "0", "maxValue": "0.999", "scalingType": "ReverseLogarithmic"},
    ]
    assert validate_spec(spec) == []


def test_ranges_inside_training_job_definitions_are_checked_too() -> None:
    spec = _spec()
    definition = spec.pop("trainingJobDefinition")
    definition["hyperParameterRanges"] = {
        "integerParameterRanges": [{"name": "n", "minValue": "5", "maxValue": "1"}]
    }
    spec["trainingJobDefinitions"] = [definition]
    assert _messages(spec) == [
        "spec.trainingJobDefinitions[0].hyperParameterRanges.integerParameterRanges[0].maxValue:"
        " must be ≥ minValue (5)"
    ]


def test_parallel_jobs_at_most_total_jobs() -> None:
    spec = _edit("hyperParameterTuningJobConfig.resourceLimits.maxParallelTrainingJobs", 5)
    assert _messages(spec) == [
        "spec.hyperParameterTuningJobConfig.resourceLimits.maxParallelTrainingJobs: "
        "must be ≤ maxNumberOfTrainingJobs (4)"
    ]


def test_objective_metric_must_be_a_defined_metric() -> None:
    metrics = [{"name": "validation:auc", "regex": "auc=(.*)"}]
    spec = _edit("trainingJobDefinition.algorithmSpecification.metricDefinitions", metrics)
    assert _messages(spec) == [
        "spec.hyperParameterTuningJobConfig.hyperParameterTuningJobObjective.metricName: "
        "must be one of the metricDefinitions names: validation:auc"
    ]
    metrics.append({"name": "validation:error", "regex": "err=(.*)"})
    assert validate_spec(spec) == []


def test_per_definition_tuning_objective_is_checked() -> None:
    spec = _spec()
    definition = spec.pop("trainingJobDefinition")
    definition["algorithmSpecification"]["metricDefinitions"] = [{"name": "m1", "regex": "(.*)"}]
    definition["tuningObjective"] = {"type_": "Maximize", "metricName": "m2"}
    spec["trainingJobDefinitions"] = [definition]
    assert _messages(spec) == [
        "spec.trainingJobDefinitions[0].tuningObjective.metricName: "
        "must be one of the metricDefinitions names: m1"
    ]


def test_validate_request_uses_aws_names() -> None:
    request = translate.spec_to_request(_spec())
    request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 0
    request["TrainingJobDefinition"]["roleARN"] = "x"
    problems = validate_request(awsmodel.CREATE, request)
    assert [str(p) for p in problems] == [
        "HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs: must be ≥ 1",
        "TrainingJobDefinition.roleARN: unknown field",
    ]  # and no knock-on "MaxParallelTrainingJobs must be ≤ 0"
    assert problems[0].aws_path() == (
        "hyperParameterTuningJobConfig.resourceLimits.maxNumberOfTrainingJobs"
    )


def test_validate_request_for_other_operations() -> None:
    assert validate_request("DescribeHyperParameterTuningJob", {}) == [
        Problem(("HyperParameterTuningJobName",), "is required")
    ]
    assert (
        validate_request("StopHyperParameterTuningJob", {"HyperParameterTuningJobName": "a"}) == []
    )


def test_non_mapping_spec() -> None:
    assert _messages([]) == ["spec: must be an object"]  # type: ignore[arg-type]


# --- issue 13: tags as AWS counts them (F4, F5, F6) and F7's documented rules ------------------

TAGS = "spec.tags"
DEF = "spec.trainingJobDefinition"
SPEC_RANGES = "spec.hyperParameterTuningJobConfig.parameterRanges"


def _tags(*keys: str) -> dict[str, Any]:
    spec = _spec()
    spec["tags"] = [{"key": key, "value": "v"} for key in keys]
    return spec


def test_tag_count_leaves_room_for_the_system_tags() -> None:
    """F4: AWS allows 50 tags; the operator adds 4, so a spec may hold 46."""
    assert len(identity.SYSTEM_TAG_KEYS) == 4
    limit = 50 - len(identity.SYSTEM_TAG_KEYS)
    assert _messages(_tags(*(f"k{i}" for i in range(limit)))) == []
    for count in (limit + 1, 50):
        (message,) = _messages(_tags(*(f"k{i}" for i in range(count))))
        assert message.startswith(f"{TAGS}: must have at most {limit} items, not {count}: ")
        assert all(key in message for key in identity.SYSTEM_TAG_KEYS)


@pytest.mark.parametrize(
    "text", ["équipe", "チーム", "команда", "فريق", "Team ٣", "a\u00a0b", "x_.:/=+-@"]
)
def test_unicode_tags_pass_as_aws_means_its_patterns(text: str) -> None:
    """F5: TagKey/TagValue are `[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*`: any letter, space or number."""
    spec = _spec()
    spec["tags"] = [{"key": text, "value": text}]
    assert _messages(spec) == []


def test_patterns_keep_javas_ascii_classes() -> None:
    """`\\d` is an ASCII digit in Java; `\\p{Alnum}` is ASCII; `\\p{L}` is any letter."""
    assert matches(r"\d+", "42") and not matches(r"\d+", "٤٢")
    assert matches(r"[\p{Alnum}\-]+", "a-1") and not matches(r"[\p{Alnum}\-]+", "é")
    assert matches(r"[\S\s]+", "é\n") and matches(r"\p{L}+", "é")
    assert not matches(r"\w", "é") and not matches(r"[\p{L}]*", "!")
    (message,) = _messages(_tags("bad!"))
    assert message.startswith(f"{TAGS}[0].key: must match pattern")


def test_duplicate_tag_keys_are_refused() -> None:
    """F6: "Tag keys must be unique per resource"."""
    assert _messages(_tags("team", "owner", "team")) == [
        f"{TAGS}[2].key: must be unique: tags[0] has the same key 'team'"
    ]
    assert _messages(_tags("Team", "team")) == []  # tag keys are case-sensitive


@pytest.mark.parametrize("key", (*identity.SYSTEM_TAG_KEYS, "services.k8s.aws/anything"))
def test_the_operators_own_tag_keys_are_refused(key: str) -> None:
    """F6: no spec tag may speak for the system tags (they prove which resource owns a job)."""
    (message,) = _messages(_tags("team", key))
    assert message.startswith(f"{TAGS}[1].key: must not start with services.k8s.aws/: ")
    request = translate.spec_to_request(_tags(key))
    assert validate_request(awsmodel.CREATE, request) == []  # AWS itself has no such rule


@pytest.mark.parametrize("key", ["aws:cost-center", "AWS:x", "Aws:"])
def test_aws_prefixed_tag_keys_are_refused(key: str) -> None:
    """F7: the `aws:` prefix is reserved by AWS, in any letter case."""
    assert _messages(_tags(key)) == [f"{TAGS}[0].key: must not start with aws: (reserved by AWS)"]
    request = translate.spec_to_request(_tags(key))
    assert [p.aws_path() for p in validate_request(awsmodel.CREATE, request)] == [
        "tags.1.member.key"
    ]


def test_duplicate_parameter_range_names_are_refused() -> None:
    """F7: one range per hyperparameter, across the kinds."""
    spec = _spec()
    ranges = spec["hyperParameterTuningJobConfig"]["parameterRanges"]
    ranges["categoricalParameterRanges"] = [{"name": "eta", "values": ["0.1", "0.2"]}]
    ranges["integerParameterRanges"].append(dict(ranges["integerParameterRanges"][0]))
    assert _messages(spec) == [
        f"{SPEC_RANGES}.integerParameterRanges[1].name: must be unique among the ranges: "
        "integerParameterRanges[0] already names 'num_round'",
        f"{SPEC_RANGES}.categoricalParameterRanges[0].name: must be unique among the ranges: "
        "continuousParameterRanges[0] already names 'eta'",
    ]


def test_a_hyperparameter_both_static_and_tuned_is_refused() -> None:
    """F7: static hyperparameters "do not change": one that is also tuned is both."""
    spec = _spec()
    spec["trainingJobDefinition"]["staticHyperParameters"]["eta"] = "0.3"
    assert _messages(spec) == [
        f"{DEF}.staticHyperParameters.eta: must not also be tuned: continuousParameterRanges[0] "
        "searches it (a hyperparameter is either static or tuned)"
    ]


def test_static_and_tuned_inside_training_job_definitions() -> None:
    spec = _spec()
    definition = spec.pop("trainingJobDefinition")
    definition["definitionName"] = "one"
    definition["tuningObjective"] = spec["hyperParameterTuningJobConfig"].pop(
        "hyperParameterTuningJobObjective"
    )
    definition["hyperParameterRanges"] = spec["hyperParameterTuningJobConfig"].pop(
        "parameterRanges"
    )
    definition["staticHyperParameters"]["num_round"] = "5"
    spec["trainingJobDefinitions"] = [definition]
    assert _messages(spec) == [
        "spec.trainingJobDefinitions[0].staticHyperParameters.num_round: must not also be "
        "tuned: integerParameterRanges[0] searches it (a hyperparameter is either static or tuned)"
    ]


def test_a_metric_regex_that_does_not_compile_is_refused() -> None:
    spec = _spec()
    spec["trainingJobDefinition"]["algorithmSpecification"]["metricDefinitions"] = [
        {"name": "validation:error", "regex": "error=([0-9.]+)"},
        {"name": "loss", "regex": "loss=([0-9.]+"},
    ]
    (message,) = _messages(spec)
    assert message.startswith(
        f"{DEF}.algorithmSpecification.metricDefinitions[1].regex: "
        "must be a valid regular expression ("
    )


@pytest.mark.parametrize(
    ("region", "partition"),
    [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"), ("eusc-de-east-1", "aws-eusc")],
)
def test_a_role_of_another_partition_is_refused(region: str, partition: str) -> None:
    """F7: the partition comes from botocore's endpoint data, not a list kept here."""
    assert validate_spec(_spec(), "us-west-2") == []
    assert [str(p) for p in validate_spec(_spec(), region)] == [
        f"{DEF}.roleARN: must be a role of partition {partition} (arn:{partition}:iam::...), "
        f"the partition of region {region}, not aws"
    ]
    spec = _spec()
    spec["trainingJobDefinition"]["roleARN"] = f"arn:{partition}:iam::123456789012:role/R"
    assert validate_spec(spec, region) == []
    assert validate_spec(spec) == []  # no region known: the rule waits for one


def _two_definitions(**environments: dict[str, str]) -> dict[str, Any]:
    spec = _spec()
    definition = spec.pop("trainingJobDefinition")
    spec["trainingJobDefinitions"] = []
    for name, environment in environments.items():
        one = copy.deepcopy(definition)
        one.update(definitionName=name, environment=environment)
        spec["trainingJobDefinitions"].append(one)
    return spec


def test_environment_variables_count_over_all_definitions() -> None:
    """Environment: "the sum ... for all the training job definitions can't exceed" 48."""
    half = {f"V{i}": "x" for i in range(24)}
    assert _messages(_two_definitions(a=half, b=half)) == []
    (message,) = _messages(_two_definitions(a=half, b={**half, "ONE_MORE": "x"}))
    assert message == (
        "spec.trainingJobDefinitions: must hold at most 48 environment variables over all its "
        "definitions, not 49"
    )


def test_instance_configs_exclude_the_single_instance_fields() -> None:
    spec = _spec()
    definition = spec["trainingJobDefinition"]
    del definition["resourceConfig"]
    definition["hyperParameterTuningResourceConfig"] = {
        "instanceConfigs": [
            {"instanceType": "ml.m5.large", "instanceCount": 1, "volumeSizeInGB": 5}
        ],
        "instanceType": "ml.m5.large",
    }
    assert _messages(spec) == [
        f"{DEF}.hyperParameterTuningResourceConfig.instanceType: must not be set together with "
        "instanceConfigs"
    ]
    del definition["hyperParameterTuningResourceConfig"]["instanceType"]
    assert _messages(spec) == []


def test_max_wait_time_at_least_max_runtime() -> None:
    spec = _spec()
    stopping = spec["trainingJobDefinition"]["stoppingCondition"]
    stopping["maxWaitTimeInSeconds"] = 3599
    assert _messages(spec) == [
        f"{DEF}.stoppingCondition.maxWaitTimeInSeconds: must be ≥ maxRuntimeInSeconds (3600)"
    ]
    stopping["maxWaitTimeInSeconds"] = 3600
    assert _messages(spec) == []
