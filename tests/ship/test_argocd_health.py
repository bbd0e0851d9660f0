"""Argo CD's own health engine on what the operator really writes.

Why: Argo CD shows whatever its health checks return, and a user sees one of two: Argo CD's stock
check for `*.services.k8s.aws` (built into Argo CD since v3.6; it walks `status.conditions` in list
order and answers at the first `ACK.Terminal=True` or `Ready`), or ours (`argocd/health.lua`,
installed through the README's `argocd-cm` snippet). Both run here in Argo CD itself:
`hack/argocd-health` is built against Argo CD v3.6.1 (gitops-engine's `GetResourceHealth` with
argo-cd's Lua overrides and embedded resource customizations), and it reads the README's ConfigMap
with Argo CD's settings manager, so the key name and the script are tested as a user installs them.

The objects are not written by hand: the operator runs (under the chart's RBAC) against the
emulator and the local API server, each state is reached for real, and the live objects are asked
about. ACK's own captured status shapes (../shared/ack) are asked about too.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from hpo_devtools.wait import wait_for
from hpo_emulator.config import EmulatorConfig
from hpo_emulator.server import RunningEmulator, run_in_thread
from hpo_operator.model.translate import spec_to_request
from ship.chart import Helm
from ship.live import JOBS, operator_under_chart, sample_job
from support.emulator_client import client as sagemaker
from support.kube import Kubectl, unique_name
from support.tools import tool

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "argocd" / "health.lua"
ACK = REPO / ".." / "shared" / "ack"
HEALTH_KEY = "resource.customizations.health.sagemaker.services.k8s.aws_HyperParameterTuningJob"
GROUP_KIND = "sagemaker.services.k8s.aws/HyperParameterTuningJob"
FINALIZER = "finalizers.sagemaker.services.k8s.aws/HyperParameterTuningJob"
ARGOCD_VERSION = "v3.6.1"
# ask_argocd runs the argocd-health binary hack/build-tools.sh builds.
pytestmark = pytest.mark.tools


# --------------------------------------------------------------------------------------------
# The engine


def readme_argocd_cm() -> dict[str, Any]:
    """The README's argocd-cm snippet (the one YAML block that sets the health key)."""
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
    snippets = [b for b in blocks if HEALTH_KEY in b]
    assert len(snippets) == 1, "README needs exactly one argocd-cm snippet with the health check"
    config_map: dict[str, Any] = yaml.safe_load(snippets[0])
    return config_map


@pytest.fixture(scope="module")
def argocd_cm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("argocd") / "argocd-cm.yaml"
    path.write_text(yaml.safe_dump(readme_argocd_cm()))
    return path


def ask_argocd(objects: Mapping[str, Mapping[str, Any]], argocd_cm: Path) -> dict[str, Any]:
    """Argo CD's answer for each object (by key): {"stock": {...}, "configured": {...}}, plus
    "_keys", the health override keys Argo CD's settings manager read from the ConfigMap."""
    named = []
    for key, obj in objects.items():
        item = copy.deepcopy(dict(obj))
        item.setdefault("metadata", {})["name"] = key  # the engine reports results by name
        named.append(item)
    result = subprocess.run(
        [tool("ARGOCD_HEALTH"), "--argocd-cm", str(argocd_cm)],
        input=json.dumps(named),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["argocd"] == ARGOCD_VERSION
    found: dict[str, Any] = {r["name"]: r for r in answer["results"]}
    assert list(found) == list(objects)
    for entry in found.values():
        assert entry["stock"]["script"] == "built-in", entry
        assert entry["configured"]["script"] == "argocd-cm", entry
        assert not entry["stock"].get("error") and not entry["configured"].get("error"), entry
    found["_keys"] = answer["healthKeys"]
    return found


def health(entry: Mapping[str, Any]) -> tuple[str, str]:
    """(stock status, configured status)."""
    return entry["stock"]["status"], entry["configured"]["status"]


# --------------------------------------------------------------------------------------------
# The README snippet, as Argo CD reads it


def test_readme_argocd_cm_snippet_is_the_script_and_argocd_picks_it(argocd_cm: Path) -> None:
    config_map = readme_argocd_cm()
    assert config_map["kind"] == "ConfigMap"
    assert config_map["metadata"]["name"] == "argocd-cm"
    assert config_map["data"][HEALTH_KEY] == SCRIPT.read_text()
    readme_health_table()  # parses (the live test holds its rows to what Argo CD said)
    obj = {"apiVersion": f"{GROUP_KIND.split('/')[0]}/v1alpha1", "kind": "HyperParameterTuningJob"}
    answer = ask_argocd({"fresh": obj}, argocd_cm)  # asserts built-in vs argocd-cm scripts
    assert answer["_keys"] == [GROUP_KIND]
    # Not written yet: both wait. The stock check's message is Argo CD's.
    assert answer["fresh"]["stock"] == {
        "status": "Progressing",
        "message": "Waiting for resource to be ready",
        "script": "built-in",
    }
    assert answer["fresh"]["configured"]["status"] == "Progressing"


# --------------------------------------------------------------------------------------------
# ACK's controller, as captured (ACK v1.9.1 against the emulator)

ACK_CAPTURED = {
    "captured-v1.9.1/xgboost-tuning.yaml": ("Completed", ("Healthy", "Healthy")),
    "captured-v1.9.1/delete-test-before-delete.yaml": (
        "InProgress",
        ("Progressing", "Progressing"),
    ),
    # ACK writes Ready=True and no ACK.Terminal for a Failed job: the stock check says Healthy.
    "captured-v1.9.1/failing-tuning.yaml": ("Failed", ("Healthy", "Degraded")),
    "unit_testdata/v1alpha1_readone_observed_stopping.yaml": (
        "Stopping",
        ("Progressing", "Progressing"),
    ),
    "unit_testdata/v1alpha1_create_observed_invalid_create_attempted.yaml": (
        None,
        ("Degraded", "Degraded"),
    ),
    "unit_testdata/v1alpha1_readone_observed_error_on_describe.yaml": (
        None,
        ("Progressing", "Progressing"),
    ),
}


def test_acks_real_status_under_both_checks(argocd_cm: Path) -> None:
    if not ACK.exists():
        pytest.skip(f"{ACK} is absent (../shared is not mounted)")
    objects = {}
    for index, relative in enumerate(ACK_CAPTURED):
        obj = yaml.safe_load((ACK / relative).read_text())
        assert (obj.get("status") or {}).get("hyperParameterTuningJobStatus") == (
            ACK_CAPTURED[relative][0]
        ), relative
        objects[f"ack-{index}"] = obj
    answer = ask_argocd(objects, argocd_cm)
    for index, relative in enumerate(ACK_CAPTURED):
        assert health(answer[f"ack-{index}"]) == ACK_CAPTURED[relative][1], relative


# --------------------------------------------------------------------------------------------
# The operator, live: every state reached for real, then asked about

# state: (stock check, ours)
EXPECTED: dict[str, tuple[str, str]] = {
    "InProgress": ("Progressing", "Progressing"),
    "Completed": ("Healthy", "Healthy"),
    "Failed": ("Degraded", "Degraded"),
    "Stopping": ("Progressing", "Progressing"),
    # The stock check has no Suspended: Ready=False ("stopped before it completed") is Progressing.
    "Stopped": ("Progressing", "Suspended"),
    "invalid spec": ("Degraded", "Degraded"),
    "ValidationException": ("Degraded", "Degraded"),
    "throttled (Recoverable)": ("Progressing", "Progressing"),
    "read-only": ("Progressing", "Progressing"),
    "adopted": ("Progressing", "Progressing"),
    # Argo CD's own rule for a terminating object wins over both scripts.
    "deleted while running": ("Progressing", "Progressing"),
    "spec edited after create": ("Degraded", "Degraded"),
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    """A SageMaker emulator whose Stopping lasts long enough to be seen."""
    config = EmulatorConfig(training_seconds=1.0, stop_seconds=6.0, quotas={})
    with run_in_thread(config) as em:
        yield em


class Scene:
    """Applies manifests in one namespace and records live objects in the states they reach."""

    def __init__(self, kubectl: Kubectl, namespace: str, emulator: RunningEmulator) -> None:
        self.kubectl = kubectl
        self.namespace = namespace
        self.emulator = emulator
        self.recorded: dict[str, dict[str, Any]] = {}

    def manifest(
        self, name: str, *, training_jobs: int = 2, annotations: dict[str, str] | None = None
    ) -> dict[str, Any]:
        manifest = sample_job(unique_name(name, max_length=32))
        manifest["metadata"]["name"] = name
        manifest["metadata"]["annotations"] = dict(annotations or {})
        limits = manifest["spec"]["hyperParameterTuningJobConfig"]["resourceLimits"]
        limits["maxNumberOfTrainingJobs"] = training_jobs
        limits["maxParallelTrainingJobs"] = 1 if training_jobs > 2 else 2
        return manifest

    def apply(self, manifest: Mapping[str, Any]) -> None:
        self.kubectl.apply(dict(manifest), "-n", self.namespace)

    def get(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.kubectl.json("get", JOBS, name, "-n", self.namespace)
        return found

    def record(
        self, label: str, name: str, reached: Callable[[dict[str, Any]], bool], timeout: float = 60
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            obj = self.get(name)
            return obj if reached(obj) else None

        obj: dict[str, Any] = wait_for(check, timeout, f"{name}: {label}")
        self.recorded[label] = obj
        return obj

    def create_outside(self, manifest: Mapping[str, Any]) -> None:
        """The job created in SageMaker directly (by someone else), not by the operator."""
        sagemaker(self.emulator.url).create_hyper_parameter_tuning_job(
            **spec_to_request(manifest["spec"])
        )

    def faults(self, **body: Any) -> None:
        request = urllib.request.Request(
            f"{self.emulator.url}/_emulator/faults", data=json.dumps(body).encode()
        )
        urllib.request.urlopen(request, timeout=5).close()


def state(obj: Mapping[str, Any]) -> str | None:
    value = (obj.get("status") or {}).get("hyperParameterTuningJobStatus")
    return str(value) if value is not None else None


def condition(obj: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    for item in (obj.get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            found: dict[str, Any] = item
            return found
    return None


def is_true(obj: Mapping[str, Any], kind: str) -> bool:
    found = condition(obj, kind)
    return found is not None and found.get("status") == "True"


def in_state(wanted: str) -> Callable[[dict[str, Any]], bool]:
    return lambda obj: state(obj) == wanted


# Training jobs in a job that must still run when it is recorded: one a second, one at a time, so
# several minutes even on a slow machine.
LONG = 300


def record_every_state(scene: Scene) -> None:
    """Drive one resource into each state the operator writes, recording each live object."""
    # Throttled first, while nothing else is being created: every Create is throttled.
    create = "CreateHyperParameterTuningJob"
    scene.faults(throttle_rate=1.0, operations=[create])
    scene.apply(scene.manifest("throttled"))
    scene.record(
        "throttled (Recoverable)", "throttled", lambda o: is_true(o, "ACK.Recoverable"), 60
    )
    scene.faults(throttle_rate=0.0, operations=None)

    long_running = scene.manifest("running", training_jobs=LONG)
    scene.apply(long_running)
    scene.apply(scene.manifest("completed"))
    failing = scene.manifest("failed")
    image = failing["spec"]["trainingJobDefinition"]["algorithmSpecification"]
    image["trainingImage"] = image["trainingImage"].rsplit(":", 1)[0] + ":fail"
    scene.apply(failing)
    invalid = scene.manifest("invalid")
    ranges = invalid["spec"]["hyperParameterTuningJobConfig"]["parameterRanges"]
    ranges["integerParameterRanges"][0].update(minValue="20", maxValue="10")
    scene.apply(invalid)
    refused = scene.manifest("refused")
    refused["spec"]["warmStartConfig"] = {
        "parentHyperParameterTuningJobs": [{"hyperParameterTuningJobName": "no-such-parent"}],
        "warmStartType": "IdenticalDataAndAlgorithm",
    }
    scene.apply(refused)
    read_only = scene.manifest(
        "read-only", training_jobs=LONG, annotations={"services.k8s.aws/read-only": "true"}
    )
    scene.create_outside(read_only)
    scene.apply(read_only)
    adopted = scene.manifest("adopted", training_jobs=LONG)
    scene.create_outside(adopted)
    job = adopted["spec"]["hyperParameterTuningJobName"]
    adopted["metadata"]["annotations"] = {
        "services.k8s.aws/adoption-policy": "adopt",
        "services.k8s.aws/adoption-fields": json.dumps({"hyperParameterTuningJobName": job}),
    }
    scene.apply(adopted)
    stopped = scene.manifest("stopped", training_jobs=LONG)
    scene.apply(stopped)
    deleted = scene.manifest("deleted", training_jobs=LONG)
    scene.apply(deleted)
    edited = scene.manifest("edited", training_jobs=LONG)
    scene.apply(edited)

    scene.record("InProgress", "running", in_state("InProgress"))
    scene.record("Completed", "completed", in_state("Completed"))
    scene.record("Failed", "failed", lambda o: state(o) == "Failed" and is_true(o, "ACK.Terminal"))
    scene.record("invalid spec", "invalid", lambda o: is_true(o, "ACK.Terminal"))
    scene.record("ValidationException", "refused", lambda o: is_true(o, "ACK.Terminal"))
    scene.record("read-only", "read-only", in_state("InProgress"))
    scene.record("adopted", "adopted", in_state("InProgress"))

    # Stopped outside Kubernetes (the console, the CLI): Stopping, then Stopped.
    scene.record("_stopped-running", "stopped", in_state("InProgress"))
    name = stopped["spec"]["hyperParameterTuningJobName"]
    sagemaker(scene.emulator.url).stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    scene.record("Stopping", "stopped", in_state("Stopping"))
    scene.record("Stopped", "stopped", in_state("Stopped"))

    # Deleted while running: the operator stops the job and holds its finalizer until Stopped.
    scene.record("_deleted-running", "deleted", in_state("InProgress"))
    scene.kubectl("delete", JOBS, "deleted", "-n", scene.namespace, "--wait=false")
    scene.record(
        "deleted while running",
        "deleted",
        lambda o: bool(o["metadata"].get("deletionTimestamp")) and state(o) == "Stopping",
    )

    # A spec edit SageMaker cannot apply: ACK.Terminal while the job keeps running.
    scene.record("_edited-running", "edited", in_state("InProgress"))
    edited["spec"]["hyperParameterTuningJobConfig"]["resourceLimits"][
        "maxNumberOfTrainingJobs"
    ] -= 1
    scene.apply(edited)
    scene.record("spec edited after create", "edited", lambda o: is_true(o, "ACK.Terminal"))


# The README's table of what Argo CD shows: the start of each row's first cell, and the states
# (labels below) that the row speaks for.
README_ROWS = {
    "no status yet": ["_unwritten"],
    "`status.observedGeneration` <": ["_newer"],
    "`InProgress`, `Stopping`": ["InProgress", "Stopping", "read-only", "adopted"],
    "`ACK.Recoverable=True`": ["throttled (Recoverable)"],
    "`Completed`": ["Completed"],
    "`Failed`": ["Failed"],
    "`ACK.Terminal=True`": ["invalid spec", "ValidationException", "spec edited after create"],
    "`Stopped`": ["Stopped"],
    "being deleted": ["deleted while running"],
}


def readme_health_table() -> dict[str, tuple[str, str]]:
    """README row (its key in README_ROWS) → (stock, ours) as the README states them: the first
    word of each cell; "the same" repeats the stock cell, "as the status says" is None."""
    readme = (REPO / "README.md").read_text()
    header = "| job state | stock check | with `argocd/health.lua` |"
    assert readme.count(header) == 1, "README needs the table of Argo CD health"
    lines = readme.split(header, 1)[1].splitlines()[2:]
    table: dict[str, tuple[str, str]] = {}
    for line in lines:
        if not line.startswith("|"):
            break
        first, stock, ours = (cell.strip() for cell in line.strip("|").split("|"))
        row = next((key for key in README_ROWS if first.startswith(key)), None)
        assert row is not None, f"a README row the test does not know: {first}"
        stock_word = "" if stock.startswith("as the status") else stock.split()[0].strip(",")
        ours_word = stock_word if ours == "the same" else ours.split()[0].strip(",")
        table[row] = (stock_word, ours_word)
    assert sorted(table) == sorted(README_ROWS)
    return table


@pytest.mark.e2e
def test_argocd_health_of_every_state_the_operator_writes(
    helm: Helm,
    kubeconfig: Path,
    kubectl: Kubectl,
    namespace: str,
    emulator: RunningEmulator,
    release: str,
    tmp_path: Path,
    argocd_cm: Path,
) -> None:
    operator = operator_under_chart(
        helm, kubeconfig, kubectl, release, namespace, emulator.url, tmp_path
    )
    scene = Scene(kubectl, namespace, emulator)
    try:
        wait_for(operator.ready, 60, "the operator's /readyz")
        record_every_state(scene)
    finally:
        operator.stop()
    live = {label: obj for label, obj in scene.recorded.items() if not label.startswith("_")}
    # Derived from live objects: a spec change the operator has not observed yet, and an object
    # the operator has not written status to (only the script's own rules differ here).
    newer = copy.deepcopy(live["Completed"])
    newer["metadata"]["generation"] += 1
    unwritten = copy.deepcopy(live["Completed"])
    del unwritten["status"]
    # The same Failed conditions in the order the operator used to write them (Ready first).
    ready_first = copy.deepcopy(live["Failed"])
    ready_first["status"]["conditions"].sort(key=lambda c: c["type"] != "Ready")
    extra = {"_newer": newer, "_unwritten": unwritten, "_ready_first": ready_first}

    answer = ask_argocd({**live, **extra}, argocd_cm)
    table = "\n".join(
        f"| {label} | {answer[label]['stock']['status']}: {answer[label]['stock']['message']} "
        f"| {answer[label]['configured']['status']}: {answer[label]['configured']['message']} |"
        for label in live
    )
    print(f"\n| state | Argo CD stock check | argocd/health.lua |\n|---|---|---|\n{table}")
    assert {label: health(answer[label]) for label in live} == EXPECTED, table

    # Messages: the operator's own words reach Argo CD under both checks.
    failed, stock_failed = live["Failed"], answer["Failed"]["stock"]
    assert failed["status"]["failureReason"] in stock_failed["message"]
    for label in ("Failed", "invalid spec", "ValidationException", "throttled (Recoverable)"):
        assert answer[label]["stock"]["message"] == answer[label]["configured"]["message"], label
    assert "maxValue" in answer["invalid spec"]["stock"]["message"]
    assert "no-such-parent" in answer["ValidationException"]["stock"]["message"]
    assert "Throttling" in answer["throttled (Recoverable)"]["stock"]["message"]
    assert "was stopped before it completed" in answer["Stopped"]["stock"]["message"]
    for check in ("stock", "configured"):
        assert answer["deleted while running"][check]["message"] == (
            f"Pending deletion; blocked by finalizers: {FINALIZER}"
        )

    assert health(answer["_newer"]) == ("Healthy", "Progressing")
    assert health(answer["_unwritten"]) == ("Progressing", "Progressing")
    assert health(answer["_ready_first"]) == ("Progressing", "Degraded")

    # The README says what Argo CD said.
    for row, (stock, ours) in readme_health_table().items():
        for label in README_ROWS[row]:
            said = health(answer[label])
            assert (stock or said[0], ours) == said, f"README row {row!r}, state {label}: {said}"
