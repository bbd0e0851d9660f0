"""botocore's SageMaker service model, as the emulator reads it (its own copy, loaded once).

The emulator stands in for AWS, so it takes its knowledge from botocore's model directly and
shares nothing with the operator's model layer, translator or validator.
"""

from __future__ import annotations

from functools import cache

import botocore.session
from botocore.model import ServiceModel, Shape


@cache
def service_model() -> ServiceModel:
    """SageMaker's whole service model (documentation included)."""
    return botocore.session.get_session().get_service_model("sagemaker")


def input_shape(operation: str) -> Shape:
    """The input structure of an operation."""
    shape: Shape = service_model().operation_model(operation).input_shape
    return shape


def shape(name: str) -> Shape:
    """A named shape."""
    return service_model().shape_for(name)
