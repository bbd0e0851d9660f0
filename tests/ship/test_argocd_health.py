"""The Argo CD health check (argocd/health.lua), run by Lua 5.1 as Argo CD's gopher-lua runs it.

Why: Argo CD shows whatever this script returns, so each job state must map to the health a user
expects, for both this operator's status and ACK's real status shapes (../shared/ack fixtures).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

lua51 = pytest.importorskip("lupa.lua51")

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "argocd" / "health.lua"
ACK_FIXTURES = REPO / ".." / "shared" / "ack" / "unit_testdata"
HEALTH_KEY = "resource.customizations.health.sagemaker.services.k8s.aws_HyperParameterTuningJob"


def health(obj: dict[str, Any]) -> tuple[str, str]:
    """Run the script on one object in a fresh Lua 5.1 runtime; return (status, message)."""
    lua = lua51.LuaRuntime(unpack_returned_tuples=True)
    assert lua.eval("_VERSION") == "Lua 5.1"
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(SCRIPT.read_text())
    return str(result["status"]), str(result["message"])


def job(
    state: str | None,
    *,
    conditions: list[dict[str, str]] | None = None,
    generation: int = 1,
    observed: int | None = 1,
    **status: Any,
) -> dict[str, Any]:
    """A HyperParameterTuningJob with the given job status, conditions and generations."""
    body: dict[str, Any] = {"conditions": conditions or []}
    if state is not None:
        body["hyperParameterTuningJobStatus"] = state
    if observed is not None:
        body["observedGeneration"] = observed
    body.update(status)
    return {
        "apiVersion": "sagemaker.services.k8s.aws/v1alpha1",
        "kind": "HyperParameterTuningJob",
        "metadata": {"name": "j", "namespace": "ns", "generation": generation},
        "spec": {"hyperParameterTuningJobName": "j"},
        "status": body,
    }


def cond(kind: str, status: str = "True", message: str = "") -> dict[str, str]:
    return {"type": kind, "status": status, "message": message}


def test_in_progress_is_progressing() -> None:
    assert health(job("InProgress")) == ("Progressing", "The tuning job is InProgress")


def test_stopping_is_progressing() -> None:
    assert health(job("Stopping")) == ("Progressing", "The tuning job is Stopping")


def test_completed_is_healthy() -> None:
    assert health(job("Completed"))[0] == "Healthy"


def test_failed_is_degraded_with_the_failure_reason() -> None:
    assert health(job("Failed", failureReason="No training job succeeded")) == (
        "Degraded",
        "No training job succeeded",
    )


def test_terminal_condition_is_degraded_with_its_message() -> None:
    obj = job(None, conditions=[cond("ACK.Terminal", message="ValidationException: bad range")])
    assert health(obj) == ("Degraded", "ValidationException: bad range")


def test_terminal_condition_wins_over_a_running_job() -> None:
    obj = job("InProgress", conditions=[cond("ACK.Terminal", message="spec is immutable")])
    assert health(obj) == ("Degraded", "spec is immutable")


def test_terminal_false_is_not_degraded() -> None:
    obj = job("InProgress", conditions=[cond("ACK.Terminal", status="False")])
    assert health(obj)[0] == "Progressing"


def test_stopped_is_suspended() -> None:
    assert health(job("Stopped"))[0] == "Suspended"


def test_no_status_is_progressing() -> None:
    obj = job("Completed")
    del obj["status"]
    assert health(obj) == ("Progressing", "Waiting for the operator to write status")


def test_status_of_an_older_generation_is_progressing() -> None:
    obj = job("Completed", generation=3, observed=2)
    assert health(obj) == ("Progressing", "Waiting for the operator to observe generation 3")


def test_status_of_the_current_generation_counts() -> None:
    assert health(job("Completed", generation=3, observed=3))[0] == "Healthy"


def test_recoverable_is_progressing_with_its_message() -> None:
    obj = job("InProgress", conditions=[cond("ACK.Recoverable", message="ThrottlingException")])
    assert health(obj) == ("Progressing", "ThrottlingException")


def test_not_created_yet_is_progressing() -> None:
    assert health(job(None)) == ("Progressing", "Waiting for the tuning job to be created")


ACK_EXPECTED = {
    "v1alpha1_readone_observed_completed.yaml": "Healthy",
    "v1alpha1_readone_observed_completed_variation.yaml": "Healthy",
    "v1alpha1_readone_observed_completed_warm_start_variation.yaml": "Healthy",
    "v1alpha1_readone_observed_conditions_clear_on_success.yaml": "Progressing",
    "v1alpha1_readone_observed_error_on_describe.yaml": "Progressing",
    "v1alpha1_readone_observed_inprogress.yaml": "Progressing",
    "v1alpha1_readone_observed_late_initialize.yaml": "Progressing",
    "v1alpha1_readone_observed_stopping.yaml": "Progressing",
    "v1alpha1_create_observed_invalid_create_attempted.yaml": "Degraded",
}


@pytest.mark.parametrize("name", sorted(ACK_EXPECTED))
def test_real_ack_status_shapes(name: str) -> None:
    path = ACK_FIXTURES / name
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is not mounted)")
    obj = yaml.safe_load(path.read_text())
    status, message = health(obj)
    assert status == ACK_EXPECTED[name]
    if name.endswith("error_on_describe.yaml"):
        assert message.startswith("ServiceUnavailable: Server is down")
    if name.endswith("invalid_create_attempted.yaml"):
        assert message.startswith("InvalidParameterValue")


def test_readme_argocd_cm_snippet_is_the_script() -> None:
    """The README's argocd-cm snippet carries health.lua verbatim, so users copy what is tested."""
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
    snippets = [b for b in blocks if HEALTH_KEY in b]
    assert len(snippets) == 1, "README needs exactly one argocd-cm snippet with the health check"
    config_map = yaml.safe_load(snippets[0])
    assert config_map["kind"] == "ConfigMap"
    assert config_map["metadata"]["name"] == "argocd-cm"
    assert config_map["data"][HEALTH_KEY] == SCRIPT.read_text()
