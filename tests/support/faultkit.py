"""The fault suite's tools: resources through the API, emulators that can be restarted on the
same port, fault switches, call counts, and the end-of-run consistency check.

Shared by tests/chaos and tests/security.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpo_emulator.config import EmulatorConfig
from hpo_emulator.server import RunningEmulator, run_in_thread
from support.operator_harness import GROUP, PLURAL, VERSION, JobReads, wait_for

FULL = bool(os.environ.get("HPO_CHAOS_FULL"))
FINALIZER = "finalizers.sagemaker.services.k8s.aws/HyperParameterTuningJob"
FINISHED = {"Completed", "Failed", "Stopped"}


def size(ci: int, full: int) -> int:
    """`full` under `make chaos` (HPO_CHAOS_FULL=1), `ci` in `make test`."""
    return full if FULL else ci


class Resources(JobReads):
    """HyperParameterTuningJob objects through the Kubernetes API (no kubectl: it is faster)."""

    def create(self, namespace: str, manifest: dict[str, Any]) -> dict[str, Any]:
        body = {**manifest, "metadata": {**manifest["metadata"], "namespace": namespace}}
        made: dict[str, Any] = self.api.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, body
        )
        return made

    def delete(self, namespace: str, name: str) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            self.api.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        except ApiException as error:
            if error.status != 404:
                raise

    def list(self, namespace: str) -> list[dict[str, Any]]:
        found = self.api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
        items: list[dict[str, Any]] = found["items"]
        return items

    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.api.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, PLURAL, name, {"status": status}
        )

    def patch_annotations(self, namespace: str, name: str, annotations: dict[str, Any]) -> None:
        self.api.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, {"metadata": {"annotations": annotations}}
        )

    def events(self, namespace: str) -> list[Any]:
        return list(self.core.list_namespaced_event(namespace).items)

    def wait_state(self, namespace: str, name: str, states: Iterable[str], timeout: float) -> str:
        wanted = set(states)

        def reached() -> str | None:
            state = self.status(namespace, name).get("hyperParameterTuningJobStatus")
            return str(state) if state in wanted else None

        found: str = wait_for(reached, timeout, f"{namespace}/{name} in {sorted(wanted)}", 0.3)
        return found


@dataclass
class Emulator:
    """An in-process emulator that can be stopped and started again on the same port."""

    config: EmulatorConfig
    running: RunningEmulator | None = None
    port: int = 0
    restarts: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)  # stats of previous runs

    def start(self) -> Emulator:
        self.config.port = self.port
        self.running = run_in_thread(self.config)
        self.port = int(self.running.url.rsplit(":", 1)[1])
        return self

    def stop(self) -> None:
        if self.running is not None:
            self.history.append(self.stats())
            self.running.stop()
            self.running = None

    def restart(self) -> None:
        self.stop()
        self.restarts += 1
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def live(self) -> RunningEmulator:
        assert self.running is not None, "the emulator is stopped"
        return self.running

    def _admin(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}", data=data, method="POST" if data else "GET"
        )
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            document: dict[str, Any] = json.loads(response.read())
            return document

    def faults(self, **faults: Any) -> None:
        """Change the injected faults now (`throttle_rate`, `error_rate`, `latency_ms`, …)."""
        self._admin("/_emulator/faults", faults)

    def stats(self) -> dict[str, Any]:
        return self._admin("/_emulator/stats")

    def calls(self) -> dict[str, dict[str, int]]:
        """Calls by operation and outcome, over every run of this emulator."""
        total: dict[str, dict[str, int]] = {}
        for document in [*self.history, self.stats()] if self.running else self.history:
            for op, outcomes in document["operations"].items():
                for outcome, count in outcomes.items():
                    total.setdefault(op, {}).setdefault(outcome, 0)
                    total[op][outcome] += count
        return total

    def total_calls(self) -> int:
        return sum(sum(outcomes.values()) for outcomes in self.calls().values())

    def job_states(self) -> dict[str, tuple[str, dict[str, str]]]:
        """Every job the emulator knows: lower-cased name → (status, tags), via its List API."""
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "sagemaker",
            endpoint_url=self.url,
            region_name=self.config.region,
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=Config(retries={"total_max_attempts": 5, "mode": "standard"}),
        )
        found: dict[str, tuple[str, dict[str, str]]] = {}
        for page in client.get_paginator("list_hyper_parameter_tuning_jobs").paginate():
            for summary in page["HyperParameterTuningJobSummaries"]:
                arn = summary["HyperParameterTuningJobArn"]
                tags = client.list_tags(ResourceArn=arn)["Tags"]
                found[summary["HyperParameterTuningJobName"].lower()] = (
                    summary["HyperParameterTuningJobStatus"],
                    {t["Key"]: t["Value"] for t in tags},
                )
        return found


def drop_job_from_state(path: Path, job_name: str) -> None:
    """Edit a stopped emulator's state file so that one job is gone (deleted behind our back)."""
    state = json.loads(path.read_text())
    # version 2 keeps a state per account and region; version 1 was one store
    stores = [item["state"] for item in state["stores"]] if "stores" in state else [state]
    for store in stores:
        store["jobs"] = [
            j for j in store["jobs"] if j["request"]["HyperParameterTuningJobName"] != job_name
        ]
    path.write_text(json.dumps(state))


def stuck_finalizers(resources: Resources, namespace: str) -> list[str]:
    """Resources being deleted that still hold the operator's finalizer."""
    return [
        item["metadata"]["name"]
        for item in resources.list(namespace)
        if item["metadata"].get("deletionTimestamp")
        and FINALIZER in (item["metadata"].get("finalizers") or [])
    ]


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = fn(*args, **kwargs)
    return result, time.monotonic() - started


def report(name: str, figures: dict[str, Any]) -> None:
    """Keep a test's figures in .cache/chaos/NAME.json (docs/reliability.md quotes them)."""
    folder = Path(__file__).resolve().parents[2] / ".cache" / "chaos"
    folder.mkdir(parents=True, exist_ok=True)
    figures = {"full": FULL, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **figures}
    (folder / f"{name}.json").write_text(json.dumps(figures, indent=2, sort_keys=True))
    print(f"\n{name}: {json.dumps(figures, sort_keys=True)}")


def seeded(name: str) -> Any:
    """A random.Random seeded from HPO_CHAOS_SEED (or the clock), with the seed printed."""
    import random

    seed = int(os.environ.get("HPO_CHAOS_SEED") or time.time_ns() % 1_000_000)
    print(f"{name}: HPO_CHAOS_SEED={seed}")
    return random.Random(seed), seed
