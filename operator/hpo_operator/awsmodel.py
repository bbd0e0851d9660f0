"""botocore's SageMaker service model, loaded once: the single source of truth for fields.

Every field list, constraint and description in this project (CRD schema, request translation,
validation, the emulator's checks) comes from these shapes, never from a hand-kept copy.
"""

from __future__ import annotations

from functools import cache

import botocore.session
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


@cache
def botocore_session() -> botocore.session.Session:
    """The session whose data loader holds the parsed model; boto3 clients share that loader
    (sagemaker.py), so the ~15 MB of parsed JSON is in memory once (docs/performance.md)."""
    return botocore.session.get_session()


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
