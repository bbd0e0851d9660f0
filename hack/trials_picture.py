"""The README's picture of a search (docs/trials.png), made from the emulator's lifecycle.

examples/xgboost-tuning.yaml with 60 trials (6 at a time) over three ranges (num_round, a
logarithmic eta and a categorical booster), translated to its Create request by the operator's own
code (`render`), run by the SageMaker emulator on a clock this script moves (no waiting), then
drawn by `hpo-operator trials --plot` exactly as a user would draw it:

    .venv/bin/python hack/trials_picture.py docs/trials.png
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Any

import boto3
import yaml

from hpo_emulator import EmulatorConfig, run_in_thread
from hpo_operator.cli import trials
from hpo_operator.cli.render import render_manifest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "xgboost-tuning.yaml"
REGION = "us-west-2"
START = 1_800_000_000.0


class Clock:
    """The emulator's clock, moved by the command's own waits (`--watch`'s sleep)."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def manifest() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    config = found["spec"]["hyperParameterTuningJobConfig"]
    config["resourceLimits"] = {"maxNumberOfTrainingJobs": 60, "maxParallelTrainingJobs": 6}
    ranges = config["parameterRanges"]
    ranges["continuousParameterRanges"] = [
        {"name": "eta", "minValue": "0.001", "maxValue": "1", "scalingType": "Logarithmic"}
    ]
    ranges["categoricalParameterRanges"] = [{"name": "booster", "values": ["gbtree", "dart"]}]
    return found


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else REPO / "docs" / "trials.png"
    os.environ.update(AWS_ACCESS_KEY_ID="emulator", AWS_SECRET_ACCESS_KEY="emulator")
    rendered = render_manifest(manifest(), REGION)
    if rendered.request is None:
        print(rendered.problems, file=sys.stderr)
        return 1
    clock = Clock()
    config = EmulatorConfig(quotas={}, training_seconds=600.0, startup_seconds=60.0)
    with run_in_thread(config, clock) as emulator:
        sagemaker = boto3.client("sagemaker", region_name=REGION, endpoint_url=emulator.url)
        sagemaker.create_hyper_parameter_tuning_job(**rendered.request)
        name = rendered.request["HyperParameterTuningJobName"]
        args = ["--job-name", name, "--region", REGION, "--endpoint-url", emulator.url]
        watch = [*args, "--watch", "--interval", "300", "--plot", str(target)]
        return trials.main(watch, out=io.StringIO(), sleep=clock.advance)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
