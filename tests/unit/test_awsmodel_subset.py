"""The operator process's cut of botocore's SageMaker model and endpoints (`awsmodel`).

Why: `hpo-operator run` loads only the operations it calls, without documentation, to save the
memory of the other 418 operations; validation and translation must see exactly the same shapes.
"""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore.model import ServiceModel, Shape

from hpo_operator.model import awsmodel


def _full() -> dict[str, Any]:
    loader = botocore.session.get_session().get_component("data_loader")
    model: dict[str, Any] = loader.load_service_model("sagemaker", "service-2")
    return model


def _tree(shape: Shape, seen: frozenset[str] = frozenset()) -> Any:
    """Everything validation and translation read of a shape, recursively (no documentation)."""
    if shape.name in seen:
        return shape.name
    seen = seen | {shape.name}
    out: dict[str, Any] = {
        "type": shape.type_name,
        "metadata": {k: v for k, v in shape.metadata.items() if k != "documentation"},
        "required": sorted(getattr(shape, "required_members", []) or []),
        "enum": list(getattr(shape, "enum", []) or []),
    }
    if shape.type_name == "structure":
        out["members"] = {k: _tree(v, seen) for k, v in shape.members.items()}
    elif shape.type_name == "list":
        out["member"] = _tree(shape.member, seen)
    elif shape.type_name == "map":
        out["key"], out["value"] = _tree(shape.key, seen), _tree(shape.value, seen)
    return out


def test_the_subset_holds_the_operators_operations_with_unchanged_shapes() -> None:
    full = _full()
    cut = awsmodel.operator_model(full)
    assert set(cut["operations"]) == set(awsmodel.OPERATOR_OPERATIONS)
    assert len(cut["shapes"]) < len(full["shapes"]) / 5
    assert "documentation" not in cut["shapes"]["HyperParameterTuningJobConfig"]
    whole, part = ServiceModel(full, "sagemaker"), ServiceModel(cut, "sagemaker")
    for name in awsmodel.OPERATOR_OPERATIONS:
        for side in ("input_shape", "output_shape"):
            expected = getattr(whole.operation_model(name), side)
            found = getattr(part.operation_model(name), side)
            if name in ("Search", awsmodel.DESCRIBE_TRAINING) and side == "output_shape":
                continue  # cut: Search's records to tuning jobs, DescribeTrainingJob's members
            if expected is None:
                assert found is None
                continue
            assert _tree(found) == _tree(expected), (name, side)
    record = part.shape_for("SearchRecord")
    assert list(record.members) == ["HyperParameterTuningJob"]
    assert _tree(record.members["HyperParameterTuningJob"]) == _tree(
        whole.shape_for("HyperParameterTuningJobSearchEntity")
    )
    training = part.operation_model(awsmodel.DESCRIBE_TRAINING).output_shape
    whole_training = whole.operation_model(awsmodel.DESCRIBE_TRAINING).output_shape
    assert list(training.members) == list(awsmodel.DESCRIBE_TRAINING_MEMBERS)
    for member in awsmodel.DESCRIBE_TRAINING_MEMBERS:
        assert _tree(training.members[member]) == _tree(whole_training.members[member])


def test_the_endpoints_keep_every_partition_with_sagemaker_and_sts() -> None:
    loader = botocore.session.get_session().get_component("data_loader")
    full = loader.load_data("endpoints")
    cut = awsmodel.operator_endpoints(full)
    assert [p["partition"] for p in cut["partitions"]] == [
        p["partition"] for p in full["partitions"]
    ]
    aws = next(p for p in cut["partitions"] if p["partition"] == "aws")
    assert {"api.sagemaker", "sts"} <= set(aws["services"]) <= awsmodel.ENDPOINT_SERVICES
    assert (
        aws["regions"] == next(p for p in full["partitions"] if p["partition"] == "aws")["regions"]
    )


def test_the_subset_loader_frees_the_whole_model_and_serves_the_cut() -> None:
    default = botocore.session.get_session().get_component("data_loader")
    loader = awsmodel.OperatorSubsetLoader(
        extra_search_paths=default.search_paths, include_default_search_paths=False
    )
    model = loader.load_service_model("sagemaker", "service-2")
    assert set(model["operations"]) == set(awsmodel.OPERATOR_OPERATIONS)
    cached = [v for v in loader._cache.values() if isinstance(v, tuple)]
    limit = len(awsmodel.OPERATOR_OPERATIONS)
    assert all(len(data.get("operations", ())) <= limit for data, _ in cached if "shapes" in data)
    session = botocore.session.get_session()
    session.register_component("data_loader", loader)
    client = session.create_client(
        "sagemaker", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    assert client.meta.endpoint_url == "https://api.sagemaker.eu-west-1.amazonaws.com"
    assert hasattr(client, "search") and not hasattr(client, "create_endpoint")
