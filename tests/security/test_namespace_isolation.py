"""Namespace isolation: a resource in namespace B that names namespace A's SageMaker job, by every
route there is (same spec name, adoption, read-only, an edited bookkeeping annotation, a renamed
spec), never adopts, stops, tags or reads back A's job.

Proof: a watch on B records every status B ever had (none holds A's ARN or A's job state); the
emulator's stats show no AddTags/DeleteTags at all and Stop only for B's own job; A's job is still
running at the end with A's tags, and A's status is untouched.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from support.faultkit import Emulator, Resources, report
from support.kube import unique_name
from support.operator_harness import GROUP, PLURAL, VERSION, OperatorProcess, job_name, tuning_job

ADOPT = "services.k8s.aws/adoption-policy"
ADOPT_FIELDS = "services.k8s.aws/adoption-fields"
READ_ONLY = "services.k8s.aws/read-only"
JOB_NAME_ANNOTATION = "hpo-operator.sagemaker.services.k8s.aws/job-name"


class StatusRecorder:
    """Every status written to any resource of one namespace, from a watch, in a thread."""

    def __init__(self, k8s_api: Any, namespace: str) -> None:
        from kubernetes import client, watch

        self.api = client.CustomObjectsApi(k8s_api)
        self.namespace = namespace
        self.watch = watch.Watch()
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.stopped = False
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        stream = self.watch.stream(
            self.api.list_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            timeout_seconds=600,
        )
        try:
            for event in stream:
                obj = event["object"]
                self.seen.append((obj["metadata"]["name"], dict(obj.get("status") or {})))
        except Exception as error:  # the stream ends abruptly when stopped
            if not self.stopped:
                self.error = error

    def stop(self) -> None:
        self.stopped = True
        self.watch.stop()
        assert self.error is None, f"the watch on {self.namespace} failed: {self.error!r}"


@pytest.fixture
def namespace_b(resources: Resources) -> Iterator[str]:
    from kubernetes import client

    name = unique_name("t-intruder", max_length=40)
    resources.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    resources.core.delete_namespace(name)


def condition(status: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for item in status.get("conditions") or []:
        if item.get("type") == kind and item.get("status") == "True":
            found: dict[str, Any] = item
            return found
    return None


def test_namespace_b_can_never_touch_namespace_as_job(
    namespace: str,
    namespace_b: str,
    resources: Resources,
    k8s_api: Any,
    emulators: Callable[..., Emulator],
    operators: Callable[..., OperatorProcess],
) -> None:
    from support.operator_harness import wait_for

    emulator = emulators(training_seconds=1.0, stop_seconds=0.5)
    operators(emulator.url, [namespace, namespace_b])
    victim = job_name("victim")
    resources.create(namespace, tuning_job("owner", victim, max_jobs=200, parallel=1))
    resources.wait_state(namespace, "owner", {"InProgress"}, timeout=60)
    owner_status = resources.status(namespace, "owner")
    victim_arn = owner_status["ackResourceMetadata"]["arn"]
    recorder = StatusRecorder(k8s_api, namespace_b)
    try:
        # 1. Same job name, managed: Create meets ResourceInUse, the tags say A owns it.
        resources.create(namespace_b, tuning_job("same-name", victim))
        # 2. Explicit adoption of A's job.
        adopt = {ADOPT: "adopt", ADOPT_FIELDS: f'{{"hyperParameterTuningJobName": "{victim}"}}'}
        resources.create(namespace_b, tuning_job("adopter", victim, annotations=adopt))
        # 3. Read-only on A's job.
        resources.create(namespace_b, tuning_job("reader", victim, annotations={READ_ONLY: "true"}))
        # 4. B's own job, then its bookkeeping annotation, then its spec, pointed at A's job.
        own = job_name("own")
        resources.create(namespace_b, tuning_job("hijack", own, max_jobs=200, parallel=1))
        resources.wait_state(namespace_b, "hijack", {"InProgress"}, timeout=60)
        resources.patch_annotations(namespace_b, "hijack", {JOB_NAME_ANNOTATION: victim})
        resources.create(
            namespace_b, tuning_job("renamed", job_name("own2"), max_jobs=200, parallel=1)
        )
        resources.wait_state(namespace_b, "renamed", {"InProgress"}, timeout=60)
        resources.api.patch_namespaced_custom_object(
            GROUP, VERSION, namespace_b, PLURAL, "renamed",
            {"spec": {"hyperParameterTuningJobName": victim},
             "metadata": {"annotations": {JOB_NAME_ANNOTATION: None}}},
        )  # fmt: skip

        refused = {
            "same-name": "NameInUse",
            "adopter": "OwnedByAnotherResource",
            "reader": "OwnedByAnotherResource",
        }
        for name, reason in refused.items():
            found = wait_for(
                lambda n=name: condition(resources.status(namespace_b, n), "ACK.Terminal"),
                60,
                f"{name} refused",
            )
            assert found["reason"] == reason, (name, found)
        wait_for(
            lambda: condition(resources.status(namespace_b, "renamed"), "ACK.Terminal"),
            60,
            "the renamed spec to be reported as immutable",
        )
        # A few poll intervals with the hostile annotation and spec in place.
        seen_before = len(recorder.seen)
        wait_for(lambda: len(recorder.seen) >= seen_before + 2, 30, "more status writes in B")

        names = ("same-name", "adopter", "reader", "hijack", "renamed")
        for name in names:
            resources.delete(namespace_b, name)
        for name in names:
            resources.wait_gone(namespace_b, name, timeout=60)
    finally:
        recorder.stop()

    calls = emulator.calls()
    # Read back = A's ARN anywhere in a status of B, or any field copied from a Describe of A's
    # job on the resources that named it from the start (their messages may name it: B wrote it).
    job_fields = {"hyperParameterTuningJobStatus", "bestTrainingJob", "trainingJobStatusCounters",
                  "creationTime", "ackResourceMetadata"}  # fmt: skip
    leaked = [
        (name, status)
        for name, status in recorder.seen
        if victim_arn in json.dumps(status) or (name in refused and job_fields & set(status))
    ]
    assert leaked == [], leaked[:3]
    assert recorder.seen, "the watch saw nothing: the test proves nothing"
    assert "AddTags" not in calls and "DeleteTags" not in calls
    stops = calls.get("StopHyperParameterTuningJob", {})
    assert stops == {"ok": 2}, stops  # hijack's and renamed's own jobs, nothing else
    jobs = emulator.job_states()
    state, tags = jobs[victim.lower()]
    assert state == "InProgress"
    assert tags["services.k8s.aws/namespace"] == namespace
    assert tags["services.k8s.aws/name"] == "owner"
    after = resources.status(namespace, "owner")
    assert after["ackResourceMetadata"] == owner_status["ackResourceMetadata"]
    report(
        "namespace_isolation",
        {
            "routes_tried": list(names),
            "statuses_watched_in_b": len(recorder.seen),
            "statuses_holding_a_job": len(leaked),
            "stop_calls": stops,
            "tag_write_calls": 0,
            "calls": calls,
        },
    )
