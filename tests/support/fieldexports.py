"""ACK's FieldExport in e2e tests: manifests, their conditions, and the ConfigMaps and Secrets
they write, read through the API (test_field_export.py, test_watch_selectors.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hpo_operator.identity import FIELD_EXPORT_CRD_NAME, GROUP
from support.kube import Kubectl
from support.operator_harness import Jobs, OperatorProcess, job_name, tuning_job, wait_for

FIELD_EXPORTS = "fieldexports.services.k8s.aws"
ENABLED = {"HPO_ENABLE_FIELD_EXPORT_RECONCILER": "true"}
BEST_NAME = ".status.bestTrainingJob.trainingJobName"


def field_export(
    name: str, source: str, path: str, kind: str, target: str, **to: str
) -> dict[str, Any]:
    """A FieldExport of HyperParameterTuningJob `source`'s `path` into `kind` `target`."""
    return {
        "apiVersion": "services.k8s.aws/v1alpha1",
        "kind": "FieldExport",
        "metadata": {"name": name},
        "spec": {
            "from": {
                "path": path,
                "resource": {"group": GROUP, "kind": "HyperParameterTuningJob", "name": source},
            },
            "to": {"kind": kind, "name": target, **to},
        },
    }


def wait_established(kubectl: Kubectl) -> None:
    """ACK's FieldExport CRD (in crds/, applied with the others) Established."""
    established = 'jsonpath={.status.conditions[?(@.type=="Established")].status}'
    wait_for(
        lambda: kubectl("get", f"crd/{FIELD_EXPORT_CRD_NAME}", "-o", established).stdout == "True",
        60,
        "the FieldExport CRD to be Established",
    )


@dataclass(frozen=True)
class Exports:
    """One test's namespace, with its FieldExports, targets, job and operator."""

    namespace: str
    jobs: Jobs
    kubectl: Kubectl
    start_operator: Callable[..., OperatorProcess]

    def apply(self, name: str, path: str, kind: str, target: str, **to: str) -> None:
        """A FieldExport of the job `tuned`."""
        manifest = field_export(name, "tuned", path, kind, target, **to)
        self.kubectl.apply(manifest, "-n", self.namespace)

    def run_job(self) -> dict[str, Any]:
        """The job `tuned` applied and run to Completed; its status."""
        self.jobs.apply(self.namespace, tuning_job("tuned", job_name("fe"), max_jobs=3))
        return self.jobs.wait_state(self.namespace, "tuned", "Completed")

    def conditions(self, name: str) -> dict[str, dict[str, str]]:
        body = self.kubectl.json("get", FIELD_EXPORTS, name, "-n", self.namespace)
        return {c["type"]: c for c in (body.get("status") or {}).get("conditions") or []}

    def wait_condition(self, name: str, kind: str) -> dict[str, str]:
        def reached() -> dict[str, str] | None:
            found = self.conditions(name).get(kind)
            return found if found and found.get("status") == "True" else None

        found: dict[str, str] = wait_for(reached, 60, f"FieldExport {name} {kind}=True")
        return found

    def data(self, kind: str, name: str, namespace: str | None = None) -> dict[str, str]:
        """The `data` of ConfigMap or Secret `name` ({} when there is none)."""
        from kubernetes.client.exceptions import ApiException

        core = self.jobs.core
        read = core.read_namespaced_secret if kind == "secret" else core.read_namespaced_config_map
        try:
            found = read(name, namespace or self.namespace)
        except ApiException as error:
            if error.status == 404:
                return {}
            raise
        return dict(found.data or {})
