"""hpo-operator: SageMaker hyperparameter tuning jobs as ACK-compatible Kubernetes resources."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sagemaker-hpo-operator")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"
