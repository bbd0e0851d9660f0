"""Issue 17, items 1-3, end to end (real API server, the emulator, the operator process):
adoption-policy adopt-or-create, default resource tags (`HPO_RESOURCE_TAGS`), and edits of
spec.tags applied to the running job with AddTags / DeleteTags.
"""

from __future__ import annotations

import copy
import json
import urllib.request
from collections.abc import Callable
from typing import Any

from test_ownership import calls, create_outside, sagemaker
from test_parking import SWEEP, _wait_parked

from hpo_devtools.wait import wait_for
from hpo_emulator.server import RunningEmulator
from hpo_operator.identity import SYSTEM_TAG_KEYS
from support.operator_harness import Jobs, OperatorProcess, job_name, tuning_job

OR_CREATE = {"services.k8s.aws/adoption-policy": "adopt-or-create"}


def job_tags(emulator: RunningEmulator, arn: str) -> dict[str, str]:
    """The job's tags as ListTags answers them (what SageMaker holds)."""
    found = sagemaker(emulator.url).list_tags(ResourceArn=arn, MaxResults=100)["Tags"]
    return {t["Key"]: t["Value"] for t in found}


def test_adopt_or_create_adopts_an_existing_job_and_creates_none(
    namespace: str, jobs: Jobs, emulator: RunningEmulator, operator: OperatorProcess
) -> None:
    name = job_name("aoc-found")
    arn = create_outside(emulator, name)
    creates = calls(emulator, "CreateHyperParameterTuningJob")
    jobs.apply(namespace, tuning_job("found", name, annotations=OR_CREATE))
    status = jobs.wait_state(namespace, "found", "Completed", timeout=60)
    assert status["ackResourceMetadata"]["arn"] == arn
    assert calls(emulator, "CreateHyperParameterTuningJob") == creates
    assert "Adopted" in [e["reason"] for e in jobs.events(namespace, "found")]
    uid = (jobs.get(namespace, "found") or {})["metadata"]["uid"]
    assert job_tags(emulator, arn)["services.k8s.aws/uid"] == uid  # recorded: no one else adopts


def test_adopt_or_create_creates_the_job_when_none_exists(
    namespace: str, jobs: Jobs, emulator: RunningEmulator, operator: OperatorProcess
) -> None:
    name = job_name("aoc-new")
    assert name.lower() not in emulator.store.jobs
    jobs.apply(namespace, tuning_job("new", name, annotations=OR_CREATE))
    status = jobs.wait_state(namespace, "new", "Completed", timeout=60)
    assert status["ackResourceMetadata"]["arn"].endswith(f"/{name.lower()}")
    assert name.lower() in emulator.store.jobs
    reasons = [e["reason"] for e in jobs.events(namespace, "new")]
    assert "Created" in reasons and "Adopted" not in reasons
    assert jobs.condition(namespace, "new", "ACK.Terminal") is None


def test_adopt_or_create_refuses_a_job_another_resource_owns(
    namespace: str, jobs: Jobs, emulator: RunningEmulator, operator: OperatorProcess
) -> None:
    name = job_name("aoc-taken")
    jobs.apply(namespace, tuning_job("owner", name, max_jobs=50, parallel=1))
    owner = jobs.wait_state(namespace, "owner", "InProgress", timeout=30)
    arn = owner["ackResourceMetadata"]["arn"]
    before = job_tags(emulator, arn)
    creates = calls(emulator, "CreateHyperParameterTuningJob")

    jobs.apply(namespace, tuning_job("taker", name, annotations=OR_CREATE))
    terminal = jobs.wait_condition(namespace, "taker", "ACK.Terminal")
    assert terminal["reason"] == "OwnedByAnotherResource"
    assert "belongs to another resource" in terminal["message"]
    assert "ackResourceMetadata" not in jobs.status(namespace, "taker")
    assert job_tags(emulator, arn) == before  # still the owner's
    assert calls(emulator, "CreateHyperParameterTuningJob") == creates


def test_default_resource_tags_are_in_the_create_body(
    namespace: str,
    jobs: Jobs,
    emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    defaults = (
        "cost-center=ml-%K8S_NAMESPACE%,owner=%K8S_RESOURCE_KIND%/%K8S_RESOURCE_NAME%,"
        "made-by=%CONTROLLER_SERVICE%,managed-by=%MANAGED_BY%,team=default"
    )
    start_operator(namespace, HPO_RESOURCE_TAGS=defaults)
    name = job_name("deftags")
    manifest = tuning_job("deftags", name)
    manifest["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "e2e"}
    jobs.apply(namespace, manifest)
    status = jobs.wait_state(namespace, "deftags", "Completed", timeout=60)
    created = emulator.store.jobs[name.lower()].tags  # as the Create request carried them
    tags = {t["Key"]: t["Value"] for t in created}
    assert tags["cost-center"] == f"ml-{namespace}"
    assert tags["owner"] == "HyperParameterTuningJob/deftags"
    assert tags["made-by"] == "sagemaker"
    assert tags["managed-by"] == "e2e"
    assert tags["team"] == "e2e"  # the spec's own tag wins over the default
    assert [t["Key"] for t in created][-len(SYSTEM_TAG_KEYS) :] == list(SYSTEM_TAG_KEYS)
    assert job_tags(emulator, status["ackResourceMetadata"]["arn"]) == tags


def test_tag_edits_reach_the_running_job_and_other_edits_keep_their_answer(
    namespace: str, jobs: Jobs, emulator: RunningEmulator, operator: OperatorProcess
) -> None:
    name = job_name("edit-tags")
    manifest = tuning_job("tagged", name, max_jobs=50, parallel=1)
    jobs.apply(namespace, manifest)
    arn = jobs.wait_state(namespace, "tagged", "InProgress", timeout=30)["ackResourceMetadata"][
        "arn"
    ]
    system = {k: v for k, v in job_tags(emulator, arn).items() if k in SYSTEM_TAG_KEYS}
    assert len(system) == len(SYSTEM_TAG_KEYS)

    edited = copy.deepcopy(manifest)
    edited["spec"]["tags"] = [{"key": "team", "value": "research"}, {"key": "cost", "value": "42"}]
    jobs.apply(namespace, edited)
    wanted = {**system, "team": "research", "cost": "42"}
    wait_for(lambda: job_tags(emulator, arn) == wanted, 30, "the edited tags on the job")

    edited["spec"]["tags"] = [{"key": "cost", "value": "42"}]
    jobs.apply(namespace, edited)
    wanted = {**system, "cost": "42"}
    wait_for(lambda: job_tags(emulator, arn) == wanted, 30, "team removed from the job")
    wait_for(
        lambda: [e for e in jobs.events(namespace, "tagged") if e["reason"] == "TagsUpdated"],
        30,
        "a TagsUpdated event",
    )
    status = jobs.status(namespace, "tagged")
    assert jobs.condition(namespace, "tagged", "ACK.Terminal") is None
    assert status["hyperParameterTuningJobStatus"] == "InProgress"
    assert calls(emulator, "DeleteTags").get("ok", 0) >= 1

    other = copy.deepcopy(edited)
    other["spec"]["hyperParameterTuningJobConfig"]["resourceLimits"]["maxParallelTrainingJobs"] = 2
    other["spec"]["tags"] = [{"key": "cost", "value": "43"}]
    jobs.apply(namespace, other)
    terminal = jobs.wait_condition(namespace, "tagged", "ACK.Terminal")
    assert terminal["reason"] == "SpecImmutable"
    assert terminal["message"].startswith("SageMaker cannot update a tuning job;")
    assert job_tags(emulator, arn) == wanted  # nothing applied from an edit SageMaker refuses


def test_a_tag_edit_is_recoverable_while_throttled_and_terminal_beyond_the_limit(
    namespace: str,
    jobs: Jobs,
    emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    start_operator(namespace, HPO_RESOURCE_TAGS="cost=%K8S_NAMESPACE%")
    name = job_name("throttled-tags")
    manifest = tuning_job("throttled", name, max_jobs=50, parallel=1)
    jobs.apply(namespace, manifest)
    arn = jobs.wait_state(namespace, "throttled", "InProgress", timeout=30)["ackResourceMetadata"][
        "arn"
    ]
    before = job_tags(emulator, arn)
    assert before["cost"] == namespace

    edited: dict[str, Any] = copy.deepcopy(manifest)
    edited["spec"]["tags"] = [{"key": "team", "value": "later"}]
    set_faults(emulator, throttle_rate=1.0, operations=["AddTags"])
    try:
        jobs.apply(namespace, edited)
        waiting = jobs.wait_condition(namespace, "throttled", "ACK.Recoverable")
        assert "ThrottlingException" in waiting["message"]
        assert job_tags(emulator, arn) == before
    finally:
        set_faults(emulator, throttle_rate=0.0, operations=None)
    wait_for(lambda: job_tags(emulator, arn)["team"] == "later", 60, "the edit applied")
    wait_for(
        lambda: jobs.condition(namespace, "throttled", "ACK.Recoverable") is None,
        30,
        "ACK.Recoverable gone once the edit is applied",
    )

    edited["spec"]["tags"] = [{"key": f"k{i}", "value": "v"} for i in range(46)]
    jobs.apply(namespace, edited)  # 46 is the CRD's maximum: with the default tag, 51 in all
    terminal = jobs.wait_condition(namespace, "throttled", "ACK.Terminal")
    assert terminal["reason"] == "InvalidSpec"
    assert "spec.tags: must have at most 45 items, not 46" in terminal["message"]
    assert "--resource-tags (cost)" in terminal["message"]
    assert job_tags(emulator, arn)["team"] == "later"  # nothing sent
    assert jobs.status(namespace, "throttled")["hyperParameterTuningJobStatus"] == "InProgress"


def set_faults(emulator: RunningEmulator, **faults: Any) -> None:
    """Change the emulator's injected faults now (`/_emulator/faults`)."""
    body = json.dumps(faults).encode()
    request = urllib.request.Request(f"{emulator.url}/_emulator/faults", data=body)
    urllib.request.urlopen(request, timeout=5).close()


def test_a_tag_edit_of_a_parked_finished_resource_is_applied(
    namespace: str,
    jobs: Jobs,
    emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    """A finished job's tags can still change (cost allocation after the fact): the stall sweep
    notices the edit of a parked resource, and the edit reaches the job."""
    start_operator(namespace, **SWEEP)
    name = job_name("parked-tags")
    manifest = tuning_job("archived", name)
    jobs.apply(namespace, manifest)
    arn = jobs.wait_state(namespace, "archived", "Completed")["ackResourceMetadata"]["arn"]
    _wait_parked(jobs, namespace, "archived")

    manifest["spec"]["tags"] = [{"key": "team", "value": "archive"}]
    jobs.apply(namespace, manifest)
    wait_for(lambda: job_tags(emulator, arn).get("team") == "archive", 60, "the edit applied")
    _wait_parked(jobs, namespace, "archived")
    assert jobs.condition(namespace, "archived", "ACK.Terminal") is None
    assert jobs.status(namespace, "archived")["hyperParameterTuningJobStatus"] == "Completed"
