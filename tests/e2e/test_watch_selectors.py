"""`--watch-selectors` end to end: two installs (two `hpo-operator run` processes) with disjoint
label selectors on one namespace, one API server and one emulator.

Each install signs its SageMaker calls with its own access key, which the emulator puts in an
account of its own (a key ending in twelve digits is in that account): where a job was created
says which process created it. Each install creates and follows only the resources it selects and
never writes to the other's or to a resource neither selects (no finalizer, status, bookkeeping
annotation or stall-sweep touch; its log never names them); a FieldExport of one install's job
is served by that install alone; a resource relabelled into one install's selector is picked up by
that install.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hpo_emulator.server import RunningEmulator
from hpo_operator.identity import BOOKKEEPING_PREFIX, FINALIZER
from support.fieldexports import BEST_NAME, ENABLED, field_export
from support.operator_harness import Jobs, OperatorProcess, job_name, stats, tuning_job, wait_for

REGION = "us-west-2"
ACCOUNT = {"a": "111111111111", "b": "222222222222"}
FAST_SWEEP = {"HPO_STALL_SWEEP_INTERVAL": "1", "HPO_STALL_MARGIN": "1"}


def labelled(name: str, job: str, team: str | None) -> dict[str, Any]:
    manifest = tuning_job(name, job)
    if team is not None:
        manifest["metadata"]["labels"] = {"team": team}
    return manifest


def created_in(emulator: RunningEmulator, job: str) -> set[str]:
    """The accounts whose store holds SageMaker job `job`."""
    return {
        team
        for team, account in ACCOUNT.items()
        if job.lower() in emulator.store_for(REGION, account).jobs
    }


def untouched(jobs: Jobs, namespace: str, name: str) -> dict[str, Any]:
    """The resource as kubectl left it: no operator's finalizer, status or bookkeeping."""
    body = jobs.get(namespace, name) or {}
    meta = body.get("metadata") or {}
    assert FINALIZER not in (meta.get("finalizers") or []), meta
    assert not body.get("status"), body.get("status")
    ours = [k for k in meta.get("annotations") or {} if k.startswith(BOOKKEEPING_PREFIX)]
    assert not ours, ours
    managers = {m.get("manager") for m in meta.get("managedFields") or []}
    assert all(str(m).startswith("kubectl") for m in managers), managers
    return body


def test_two_installs_with_disjoint_selectors_serve_only_their_own_resources(
    namespace: str,
    jobs: Jobs,
    emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    names = {team: job_name(f"sel-{team}") for team in ("a", "b", "c")}
    # Neither install selects `c`: applied first, it is pending for kopf's stall sweep from the
    # start (no finalizer), so a sweep that listed it would touch it and post `Stalled`.
    jobs.apply(namespace, labelled("job-c", names["c"], None))
    operators = {
        team: start_operator(
            namespace,
            HPO_WATCH_SELECTORS=f"team={team}",
            AWS_ACCESS_KEY_ID=f"team-{team}-{ACCOUNT[team]}",
            **ENABLED,
            **FAST_SWEEP,
        )
        for team in ("a", "b")
    }
    for team in ("a", "b"):
        jobs.apply(namespace, labelled(f"job-{team}", names[team], team))
    for team in ("a", "b"):
        status = jobs.wait_state(namespace, f"job-{team}", "Completed")
        assert status["ackResourceMetadata"]["ownerAccountID"] == ACCOUNT[team]
        assert created_in(emulator, names[team]) == {team}  # one Create, by its own install
    for team, operator in operators.items():
        # Each install's stall sweep has listed (and parked) its finished resource: sweeps ran
        # well past the margin after `job-c` was made.
        wait_for(
            lambda op=operator: op.metric("hpo_resources_parked", '{status="Completed"}') == 1,
            30,
            f"install {team}'s sweep to count its parked resource",
        )

    untouched(jobs, namespace, "job-c")
    assert created_in(emulator, names["c"]) == set()
    assert not [e for e in jobs.events(namespace, "job-c") if e["reason"] == "Stalled"]
    for team, operator in operators.items():
        other = "b" if team == "a" else "a"
        log = operator.log()
        assert f"job-{team}" in log or names[team] in log, (
            f"install {team} logged nothing of its own"
        )
        for foreign in (f"job-{other}", names[other], "job-c", names["c"]):
            assert foreign not in log, f"install {team} logged {foreign}"

    # A FieldExport of b's job is served by b alone: a reads its source through its selector,
    # finds none, and writes nothing (no status, no target, no log line).
    export = field_export(
        "export-of-b", "job-b", BEST_NAME, "configmap", "results-of-b", key="best"
    )
    jobs.kubectl.apply(export, "-n", namespace)
    best = jobs.status(namespace, "job-b")["bestTrainingJob"]["trainingJobName"]

    def exported() -> bool:
        found = jobs.core.list_namespaced_config_map(
            namespace, field_selector="metadata.name=results-of-b"
        )
        return bool(found.items) and (found.items[0].data or {}).get("best") == best

    wait_for(exported, 60, "install b to export job-b's best training job")
    assert "export-of-b" in operators["b"].log()
    assert "export-of-b" not in operators["a"].log()

    # Relabelled into install a's selector, `c` is a's from its next watch event.
    jobs.kubectl("label", "hyperparametertuningjobs", "job-c", "team=a", "-n", namespace)
    status = jobs.wait_state(namespace, "job-c", "Completed")
    assert status["ackResourceMetadata"]["ownerAccountID"] == ACCOUNT["a"]
    assert created_in(emulator, names["c"]) == {"a"}
    assert "job-c" not in operators["b"].log()


def test_a_running_job_relabelled_to_another_install_is_followed_there_not_created_again(
    namespace: str,
    jobs: Jobs,
    emulator: RunningEmulator,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    operators = {
        team: start_operator(namespace, HPO_WATCH_SELECTORS=f"team={team}") for team in ("a", "b")
    }
    name = job_name("move")
    manifest = labelled("moving", name, "a")
    manifest["spec"]["hyperParameterTuningJobConfig"]["resourceLimits"].update(
        maxNumberOfTrainingJobs=8, maxParallelTrainingJobs=1
    )
    jobs.apply(namespace, manifest)
    jobs.wait_state(namespace, "moving", "InProgress")
    creates = creates_of(emulator)

    jobs.kubectl(
        "label", "--overwrite", "hyperparametertuningjobs", "moving", "team=b", "-n", namespace
    )
    wait_for(
        lambda: "left this operator's watch" in operators["a"].log(),
        30,
        "install a to let the resource go",
    )
    status = jobs.wait_state(namespace, "moving", "Completed")
    assert status["ackResourceMetadata"]["arn"].endswith(f"/{name.lower()}")
    assert "moving" in operators["b"].log()
    assert creates_of(emulator) == creates  # b followed the job from its status: no Create
    meta = (jobs.get(namespace, "moving") or {}).get("metadata") or {}
    assert (meta.get("labels") or {}).get("team") == "b"


def creates_of(emulator: RunningEmulator) -> int:
    """CreateHyperParameterTuningJob calls the emulator has answered, whatever the outcome."""
    counts = stats(emulator)["operations"].get("CreateHyperParameterTuningJob", {})
    return sum(counts.values())
