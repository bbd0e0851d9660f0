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


@cache
def service_model() -> ServiceModel:
    """The SageMaker service model shipped with the pinned botocore."""
    session = botocore.session.get_session()
    model: ServiceModel = session.get_service_model(SERVICE)
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
