"""botocore's SageMaker service model, loaded once: the single source of truth for fields.

Every field list, constraint and description of the operator (CRD schema, request translation,
validation) comes from these shapes, never from a hand-kept copy. The emulator, which stands in
for AWS, loads botocore's model itself (`emulator/model.py`) and shares nothing with this layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import botocore.session
from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel, Shape

SERVICE = "sagemaker"
CREATE = "CreateHyperParameterTuningJob"
DESCRIBE = "DescribeHyperParameterTuningJob"

# The Describe members that status mirrors (under their ACK names, see naming.py). ACK's own status
# holds the first four; the rest are what this operator adds so that `kubectl get` tells progress.
STATUS_MEMBERS: tuple[str, ...] = (
    "HyperParameterTuningJobStatus",
    "BestTrainingJob",
    "OverallBestTrainingJob",
    "FailureReason",
    "TrainingJobStatusCounters",
    "ObjectiveStatusCounters",
    "CreationTime",
    "HyperParameterTuningEndTime",
    "LastModifiedTime",
    "ConsumedResources",
    "TuningJobCompletionDetails",
)


# A job's results beyond its Describe (`core.results`): its best training jobs, listed sorted by
# objective, and the best one's model artifact, from DescribeTrainingJob. The operator process keeps
# only these members of DescribeTrainingJob's answer (its other ~60 members reach ~150 shapes).
LIST_TRAININGS = "ListTrainingJobsForHyperParameterTuningJob"
DESCRIBE_TRAINING = "DescribeTrainingJob"
DESCRIBE_TRAINING_MEMBERS = ("TrainingJobName", "TrainingJobArn", "ModelArtifacts")

# The SageMaker operations `hpo-operator run` calls (sagemaker.py, poller.py). The operator process
# loads only these and the shapes they reach (`use_operator_subset`).
OPERATOR_OPERATIONS: tuple[str, ...] = (
    CREATE,
    DESCRIBE,
    "StopHyperParameterTuningJob",
    "ListHyperParameterTuningJobs",
    "ListTags",
    "AddTags",
    "DeleteTags",
    "Search",
    LIST_TRAININGS,
    DESCRIBE_TRAINING,
)
# Search records can hold any resource; the operator only searches tuning jobs.
SEARCH_RECORD_MEMBERS = ("HyperParameterTuningJob",)
# endpoints.json entries the operator process may need: SageMaker, and the services botocore's
# credential providers call (web identity / IRSA and SSO). Other services fall back to their
# partition's defaults, as any service botocore does not list does.
ENDPOINT_SERVICES = frozenset({"api.sagemaker", "sts", "sso", "portal.sso", "sso-oidc"})

_operator_subset = False


def use_operator_subset() -> None:
    """Load only what the operator calls (`hpo-operator run`, before anything loads the model).

    botocore parses the whole SageMaker model (425 operations, 3,200 shapes, their
    documentation: ~9.5 MB of Python objects) and every service's endpoints (~6.7 MB) into each
    process. The operator needs 7 operations, their ~200 shapes and no documentation (~0.2 MB),
    and the endpoints of SageMaker and STS. Validation and translation read the same shapes, so
    they behave the same; the CRD generator keeps the whole model (the emulator loads its own).
    """
    global _operator_subset
    if botocore_session.cache_info().currsize:
        raise RuntimeError("use_operator_subset() must come before the model is loaded")
    _operator_subset = True


def preload() -> None:
    """Parse SageMaker's model and botocore's endpoints now, before the rest of the operator is
    imported (`hpo-operator run`, right after `use_operator_subset`).

    Even cut to the subset, each file is parsed whole first: ~13 MB of short-lived objects. Parsed
    after kopf, aiohttp (and then pydantic) were imported, the freed space stays scattered between
    long-lived objects and the process kept ~10 MB more RSS for good (peak 79.9 MB, 77.9 MB
    after the first client, against 67.4 MB for both when parsed first: the imports that follow
    reuse the freed space). docs/performance.md, "Memory and imports".
    """
    service_model()
    botocore_session().get_component("data_loader").load_data("endpoints")


class OperatorSubsetLoader(Loader):  # type: ignore[misc]  # botocore ships no type hints
    """A data loader that keeps only the operator's part of SageMaker's model and endpoints.

    botocore caches each loaded file per loader instance; the subset replaces the whole file in
    that cache, so the full one is freed once trimmed.
    """

    def load_data_with_path(self, name: str) -> tuple[Any, str]:
        key = ("load_data_with_path", name)  # botocore.loaders.instance_cache's key
        if key in self._cache:
            found: tuple[Any, str] = self._cache[key]
            return found
        data, path = super().load_data_with_path(name)
        if name.startswith(f"{SERVICE}/") and name.endswith("/service-2"):
            data = operator_model(data)
        elif name == "endpoints":
            data = operator_endpoints(data)
        self._cache[key] = (data, path)
        return data, path


def _shape_refs(shape: dict[str, Any]) -> Iterator[str]:
    for key in ("member", "key", "value"):
        if key in shape:
            yield shape[key]["shape"]
    for member in shape.get("members", {}).values():
        yield member["shape"]


def _undocumented(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _undocumented(v) for k, v in value.items() if k != "documentation"}
    if isinstance(value, list):
        return [_undocumented(v) for v in value]
    return value


def operator_model(model: dict[str, Any]) -> dict[str, Any]:
    """The service model cut to OPERATOR_OPERATIONS and the shapes they reach, undocumented."""
    operations = {
        n: model["operations"][n] for n in OPERATOR_OPERATIONS if n in model["operations"]
    }
    shapes: dict[str, Any] = model["shapes"]
    kept: dict[str, Any] = {}
    todo = [
        ref["shape"]
        for op in operations.values()
        for ref in (op.get("input"), op.get("output"), *op.get("errors", ()))
        if ref
    ]
    while todo:
        name = todo.pop()
        if name in kept:
            continue
        shape = _undocumented(shapes[name])
        if name == "SearchRecord":
            shape["members"] = {
                k: v for k, v in shape["members"].items() if k in SEARCH_RECORD_MEMBERS
            }
        if name == f"{DESCRIBE_TRAINING}Response":
            shape["members"] = {
                k: v for k, v in shape["members"].items() if k in DESCRIBE_TRAINING_MEMBERS
            }
            shape["required"] = [k for k in shape.get("required", ()) if k in shape["members"]]
        kept[name] = shape
        todo.extend(_shape_refs(shape))
    out = {k: v for k, v in model.items() if k not in ("operations", "shapes", "documentation")}
    out["operations"] = _undocumented(operations)
    out["shapes"] = kept
    return out


def operator_endpoints(endpoints: dict[str, Any]) -> dict[str, Any]:
    """endpoints.json with every partition, each listing only ENDPOINT_SERVICES."""
    out = dict(endpoints)
    out["partitions"] = [
        {
            **partition,
            "services": {
                name: service
                for name, service in partition.get("services", {}).items()
                if name in ENDPOINT_SERVICES
            },
        }
        for partition in endpoints.get("partitions", ())
    ]
    return out


@cache
def botocore_session() -> botocore.session.Session:
    """The session whose data loader holds the parsed model; boto3 clients share that loader
    (sagemaker.py), so the parsed JSON is in memory once (docs/performance.md)."""
    session = botocore.session.get_session()
    if _operator_subset:
        default = session.get_component("data_loader")
        session.register_component(
            "data_loader",
            OperatorSubsetLoader(
                extra_search_paths=default.search_paths, include_default_search_paths=False
            ),
        )
    return session


@cache
def partition_of(region: str) -> str | None:
    """The ARN partition (`aws`, `aws-cn`, `aws-us-gov`, ...) of a region, by botocore's endpoint
    data; None for a name no partition claims."""
    try:
        partition: str = botocore_session().get_partition_for_region(region)
    except Exception:  # botocore's UnknownRegionError and its kin: no partition to hold to
        return None
    return partition


@cache
def service_model() -> ServiceModel:
    """The SageMaker service model shipped with the pinned botocore."""
    model: ServiceModel = botocore_session().get_service_model(SERVICE)
    return model


def operation(name: str) -> OperationModel:
    """An operation of the SageMaker model, by its AWS name."""
    op: OperationModel = service_model().operation_model(name)
    return op


def input_shape(name: str) -> Shape:
    """The request structure of an operation."""
    shape = operation(name).input_shape
    if shape is None:
        raise KeyError(f"{name} takes no input")
    return shape


def output_shape(name: str) -> Shape:
    """The response structure of an operation."""
    shape = operation(name).output_shape
    if shape is None:
        raise KeyError(f"{name} returns no output")
    return shape


def shape(name: str) -> Shape:
    """A named shape of the model."""
    found: Shape = service_model().shape_for(name)
    return found


def botocore_version() -> str:
    """The botocore version whose model is in use (recorded in generated artifacts)."""
    return str(botocore.__version__)


# Closed vs open enums. The values always come from the model; only this decision is ours.
# Rule: an enum is closed (enforced by the CRD and by validation) unless
#   1. its shape names an instance type (`…InstanceType`): AWS adds instance types every launch;
#   2. it has a single value: a one-value enum is a placeholder that AWS grows
#      (`HyperParameterTuningAllocationStrategy` = Prioritized, `AutotuneMode` = Enabled);
#   3. it is in OPEN_ENUM_SHAPES: value sets that track AWS's catalogue of products.
# An open enum is written into descriptions only; never reject what AWS would accept.
OPEN_ENUM_SHAPES: frozenset[str] = frozenset(
    {
        "FileSystemType",  # storage back-ends (EFS, FSxLustre, …) grow with AWS's products
    }
)


def closed_enum(string_shape: Shape) -> tuple[str, ...] | None:
    """The values of a closed enum shape, or None when the shape is no enum or an open one."""
    values: list[str] = list(getattr(string_shape, "enum", None) or [])
    if not values:
        return None
    name = string_shape.name
    if name.endswith("InstanceType") or len(values) == 1 or name in OPEN_ENUM_SHAPES:
        return None
    return tuple(values)
