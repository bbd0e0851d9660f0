"""`hpo-operator trials NAMESPACE/NAME` end to end: the resource the operator ran, read with the
pinned kubectl from the real API server, resolved to the job (name, and the region of its status
ARN) the operator made in the emulator, and its trials listed by the command as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hpo_emulator.server import RunningEmulator
from support.operator_harness import Jobs, OperatorProcess, job_name, tuning_job
from support.tools import tool


def trials(kubeconfig: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """The command in a process of its own, with a user's environment: AWS keys, no region."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HPO_"))}
    env.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", KUBECTL=tool("KUBECTL"))
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    argv = (*argv, "--kubeconfig", str(kubeconfig))
    return subprocess.run(
        [sys.executable, "-m", "hpo_operator.cli", "trials", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_trials_of_a_resource_the_operator_ran(
    namespace: str,
    jobs: Jobs,
    emulator: RunningEmulator,
    operator: OperatorProcess,
    kubeconfig: Path,
) -> None:
    name = job_name("trials")
    jobs.apply(namespace, tuning_job("xgb", name, max_jobs=4, parallel=2))
    done = jobs.wait_state(namespace, "xgb", "Completed", timeout=60)

    listed = trials(kubeconfig, f"{namespace}/xgb", "--endpoint-url", emulator.url, "-o", "json")
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    assert document["tuningJob"]["name"] == name
    assert document["tuningJob"]["region"] == "us-west-2"  # the status ARN's: no region given
    assert document["tuningJob"]["arn"] == done["ackResourceMetadata"]["arn"]
    rows = document["trials"]
    assert len(rows) == 4 and {r["status"] for r in rows} == {"Completed"}
    assert document["tuningJob"]["bestTrainingJob"] == rows[0]["name"]
    assert rows[0]["name"] == done["bestTrainingJob"]["trainingJobName"]  # best first

    table = trials(kubeconfig, f"{namespace}/xgb", "--endpoint-url", emulator.url)
    assert table.returncode == 0, table.stderr
    assert len(table.stdout.splitlines()) == 1 + 4

    missing = trials(kubeconfig, f"{namespace}/nothing", "--endpoint-url", emulator.url)
    assert missing.returncode == 1
    assert f"cannot read HyperParameterTuningJob {namespace}/nothing" in missing.stderr
