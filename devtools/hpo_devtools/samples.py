"""The sample HyperParameterTuningJob that tests, bench/ and the demo apply: the repository's
examples/xgboost-tuning.yaml (what a user first applies), with the few fields a scenario varies.

One source, so a change to the example is what every scenario runs.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "xgboost-tuning.yaml"


@cache
def _example() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return loaded


def example_image() -> str:
    """The example's training image."""
    spec = _example()["spec"]["trainingJobDefinition"]["algorithmSpecification"]
    return str(spec["trainingImage"])


def sample_job(
    name: str,
    job_name: str | None = None,
    *,
    image: str | None = None,
    max_jobs: int | None = None,
    parallel: int | None = None,
    strategy: str | None = None,
    annotations: dict[str, str] | None = None,
    tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """The example as resource `name` (job `job_name`, default `name`); None keeps its value."""
    manifest = copy.deepcopy(_example())
    manifest["metadata"] = {"name": name, "annotations": dict(annotations or {})}
    spec = manifest["spec"]
    spec["hyperParameterTuningJobName"] = job_name or name
    config = spec["hyperParameterTuningJobConfig"]
    if strategy is not None:
        config["strategy"] = strategy
    if max_jobs is not None:
        config["resourceLimits"]["maxNumberOfTrainingJobs"] = max_jobs
    if parallel is not None:
        config["resourceLimits"]["maxParallelTrainingJobs"] = parallel
    if image is not None:
        spec["trainingJobDefinition"]["algorithmSpecification"]["trainingImage"] = image
    if tags is not None:
        spec["tags"] = copy.deepcopy(tags)
    return manifest
