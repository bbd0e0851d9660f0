"""What ACK's real sagemaker-controller v1.9.1 sent and wrote, read from `../shared/ack/` at test
time (never copied into the repository). Tests that use it skip when the folder is absent.

`../shared/ack/captured-v1.9.1/README.md` says how it was captured: ACK's controller against this
project's emulator and a local kube-apiserver, `--aws-region us-west-2`, namespace `default`.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
ACK = REPO / ".." / "shared" / "ack"
CAPTURED = ACK / "captured-v1.9.1"
ACK_CRD = ACK / "sagemaker.services.k8s.aws_hyperparametertuningjobs.yaml"
ABSENT = f"{CAPTURED} is absent"
SYSTEM_TAG_PREFIX = "services.k8s.aws/"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# The resources ACK left, by job name: what state each job was in when captured.
RESOURCE_FILES = {
    "xgboost-tuning": "xgboost-tuning.yaml",  # Completed
    "ack-e2e-xgboost": "ack-e2e-xgboost.yaml",  # Completed
    "failing-tuning": "failing-tuning.yaml",  # Failed
    "delete-test": "delete-test-before-delete.yaml",  # InProgress
}


def present() -> bool:
    return CAPTURED.is_dir()


@cache
def calls() -> tuple[dict[str, Any], ...]:
    """Every SageMaker request ACK sent, in order (`sagemaker-calls.jsonl`)."""
    lines = (CAPTURED / "sagemaker-calls.jsonl").read_text().splitlines()
    return tuple(json.loads(line) for line in lines if line.strip())


def operation(call: dict[str, Any]) -> str:
    return str(call["target"]).rsplit(".", 1)[-1]


def create_bodies() -> dict[str, dict[str, Any]]:
    """ACK's CreateHyperParameterTuningJob bodies, by job name."""
    found: dict[str, dict[str, Any]] = {}
    for call in calls():
        if operation(call) == "CreateHyperParameterTuningJob":
            body: dict[str, Any] = json.loads(call["req"])
            found[body["HyperParameterTuningJobName"]] = body
    return found


def resource(job_name: str) -> dict[str, Any]:
    """The resource as ACK left it (`kubectl get -o yaml`): real status, late-initialized spec."""
    document: dict[str, Any] = yaml.safe_load((CAPTURED / RESOURCE_FILES[job_name]).read_text())
    return document


def applied_spec(job_name: str) -> dict[str, Any]:
    """The spec as the user applied it (before ACK late-initialized it)."""
    annotations = resource(job_name)["metadata"]["annotations"]
    spec: dict[str, Any] = json.loads(annotations[LAST_APPLIED])["spec"]
    return spec


def e2e_variables() -> dict[str, str]:
    """How ACK's e2e sample (`e2e_xgboost_hpojob.yaml`) was filled in for `ack-e2e-xgboost`: the
    image and role are taken from the spec ACK was given, the rest is plain."""
    definition = applied_spec("ack-e2e-xgboost")["trainingJobDefinition"]
    return {
        "HPO_JOB_NAME": "ack-e2e-xgboost",
        "XGBOOST_IMAGE_URI": definition["algorithmSpecification"]["trainingImage"],
        "SAGEMAKER_EXECUTION_ROLE_ARN": definition["roleARN"],
        "SAGEMAKER_DATA_BUCKET": "example-bucket",
    }


def e2e_sample(variables: dict[str, str] | None = None) -> dict[str, Any]:
    """ACK's e2e sample manifest with its `$VARIABLES` filled in."""
    text = (ACK / "e2e_xgboost_hpojob.yaml").read_text()
    for name, value in (variables or e2e_variables()).items():
        text = text.replace(f"${name}", value)
    manifest: dict[str, Any] = yaml.safe_load(text)
    return manifest


def without_system_tags(request: dict[str, Any]) -> dict[str, Any]:
    """A Create body without the `services.k8s.aws/` tags (the only part meant to differ)."""
    tags = [t for t in request.get("Tags") or [] if not t["Key"].startswith(SYSTEM_TAG_PREFIX)]
    return {**request, "Tags": tags}


def system_tags(request: dict[str, Any]) -> dict[str, str]:
    return {
        t["Key"]: t["Value"]
        for t in request.get("Tags") or []
        if t["Key"].startswith(SYSTEM_TAG_PREFIX)
    }


@cache
def stats(name: str) -> dict[str, Any]:
    """One of the emulator's stats files (`emulator-stats.json`, `scale-n100-*-stats.json`)."""
    document: dict[str, Any] = json.loads((CAPTURED / name).read_text())
    return document
