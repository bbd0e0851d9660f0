"""`hpo-operator trials` against botocore's Stubber (the requests it sends are checked against
botocore's model: paging, the server-side status filter, the watch view's backoff on throttling),
the target resolved from a resource as the operator resolves it, and the plot extra missing."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.config import Config
from botocore.stub import Stubber

from hpo_operator.adapters.sagemaker import sagemaker_client
from hpo_operator.cli import main as cli_main
from hpo_operator.cli import trials
from hpo_operator.cli.trialtarget import JobTarget, TargetError, arn_parts, resolve
from hpo_operator.core.types import ReconcileSettings
from hpo_operator.identity import ANN_DEFAULT_REGION, ANN_ENDPOINT_URL, ANN_JOB_NAME, ANN_REGION

T0 = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
JOB = "job-a"
ARN = f"arn:aws:sagemaker:us-west-2:123456789012:hyper-parameter-tuning-job/{JOB}"


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """The command's client, stubbed: every request must be the one the test expects."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    client = sagemaker_client("us-west-2", None, None, Config(), frozenset())
    monkeypatch.setattr(trials, "_client", lambda *args: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def describe(status: str = "Completed", completed: int = 3) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": JOB,
        "HyperParameterTuningJobArn": ARN,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 1},
        },
        "HyperParameterTuningJobStatus": status,
        "CreationTime": T0,
        "TrainingJobStatusCounters": {"Completed": completed, "InProgress": 3 - completed},
        "ObjectiveStatusCounters": {"Succeeded": completed},
    }


def summary(name: str, value: float | None, status: str = "Completed") -> dict[str, Any]:
    out: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-west-2:123456789012:training-job/{name}",
        "CreationTime": T0 + timedelta(minutes=int(name[1:])),  # t1, t2, ... in name order
        "TrainingJobStatus": status,
        "TunedHyperParameters": {"eta": "0.1"},
    }
    if value is not None:
        out["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": "loss", "Value": value}
    return out


def listing(
    token: str | None = None, status: str | None = None, order: str = "Ascending"
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "HyperParameterTuningJobName": JOB,
        "MaxResults": 100,
        "SortBy": "CreationTime",
        "SortOrder": order,
    }
    if token:
        params["NextToken"] = token
    if status:
        params["StatusEquals"] = status
    return params


def run(*argv: str, sleep: Any = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = trials.main(
        ["--job-name", JOB, "--region", "us-west-2", *argv],
        out=out,
        err=err,
        sleep=sleep or (lambda _: pytest.fail("no sleep outside --watch")),
    )
    return code, out.getvalue(), err.getvalue()


def test_pages_are_followed_and_sorted_best_first(stub: Stubber) -> None:
    stub.add_response(
        "describe_hyper_parameter_tuning_job", describe(), {"HyperParameterTuningJobName": JOB}
    )
    page1 = {"TrainingJobSummaries": [summary("t1", 0.5), summary("t2", 0.2)], "NextToken": "n1"}
    stub.add_response("list_training_jobs_for_hyper_parameter_tuning_job", page1, listing())
    page2 = {"TrainingJobSummaries": [summary("t3", 0.3)]}
    stub.add_response("list_training_jobs_for_hyper_parameter_tuning_job", page2, listing("n1"))
    code, out, _ = run()
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["NAME", "t2", "t3", "t1"]


def test_one_status_is_filtered_by_aws(stub: Stubber) -> None:
    stub.add_response(
        "describe_hyper_parameter_tuning_job", describe(), {"HyperParameterTuningJobName": JOB}
    )
    page = {"TrainingJobSummaries": [summary("t9", None, "Failed")]}
    stub.add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job", page, listing(status="Failed")
    )
    code, out, _ = run("--status", "Failed", "-o", "json")
    assert code == 0
    assert [t["name"] for t in json.loads(out)["trials"]] == ["t9"]


def test_several_statuses_are_filtered_here(stub: Stubber) -> None:
    stub.add_response(
        "describe_hyper_parameter_tuning_job", describe(), {"HyperParameterTuningJobName": JOB}
    )
    page = {
        "TrainingJobSummaries": [
            summary("t1", 0.5),
            summary("t2", None, "Failed"),
            summary("t3", None, "Stopped"),
        ]
    }
    stub.add_response("list_training_jobs_for_hyper_parameter_tuning_job", page, listing())
    code, out, _ = run("--status", "Failed", "--status", "Stopped", "--sort", "name", "-o", "yaml")
    assert code == 0
    import yaml

    assert [t["name"] for t in yaml.safe_load(out)["trials"]] == ["t2", "t3"]


def test_aws_refusing_exits_1_with_its_message(stub: Stubber) -> None:
    stub.add_client_error(
        "describe_hyper_parameter_tuning_job",
        "ResourceNotFound",
        f"Amazon SageMaker can't find a tuning job with name {JOB}",
    )
    code, out, err = run()
    assert (code, out) == (1, "")
    assert "DescribeHyperParameterTuningJob: ResourceNotFound: Amazon SageMaker can't find" in err
    assert err.rstrip().endswith(f"(looked for {JOB} in us-west-2)")


def test_a_job_not_found_names_the_account_the_status_puts_it_in() -> None:
    target = JobTarget(JOB, "eu-west-1", account="222222222222")
    gone = trials.AwsError("DescribeHyperParameterTuningJob: ...", code="ResourceNotFound")
    hint = trials._where(target, None, gone)
    assert "looked for job-a in eu-west-1" in hint
    assert "puts it in account 222222222222" in hint and "--role-arn" in hint
    assert "account" not in trials._where(target, "arn:aws:iam::222222222222:role/r", gone)
    assert trials._where(target, None, trials.AwsError("x", code="ThrottlingException")) == ""


def test_watch_backs_off_while_throttled_and_stops_when_the_job_ends(stub: Stubber) -> None:
    name = {"HyperParameterTuningJobName": JOB}
    stub.add_response("describe_hyper_parameter_tuning_job", describe("InProgress", 1), name)
    running = {"TrainingJobSummaries": [summary("t1", 0.5), summary("t2", None, "InProgress")]}
    stub.add_response("list_training_jobs_for_hyper_parameter_tuning_job", running, listing())
    stub.add_response("describe_hyper_parameter_tuning_job", describe("InProgress", 1), name)
    stub.add_client_error(
        "describe_hyper_parameter_tuning_job", "ThrottlingException", "Rate exceeded"
    )
    stub.add_client_error(
        "describe_hyper_parameter_tuning_job", "ThrottlingException", "Rate exceeded"
    )
    stub.add_response("describe_hyper_parameter_tuning_job", describe("Completed", 3), name)
    done = {  # newest first, back past t2 (the one that was running), no further
        "TrainingJobSummaries": [summary("t3", 0.7), summary("t2", 0.1), summary("t1", 0.5)],
        "NextToken": "older",
    }
    since_t2 = listing(order="Descending")
    stub.add_response("list_training_jobs_for_hyper_parameter_tuning_job", done, since_t2)
    slept: list[float] = []
    code, out, err = run("--watch", "--interval", "10", sleep=slept.append)
    assert code == 0
    assert slept == [10, 10, 20, 40]  # unchanged, throttled twice (doubling), then it ended
    lines = out.splitlines()
    assert lines[0].split()[0] == "NAME"
    assert [line.split()[:2] for line in lines[1:]] == [
        ["t1", "Completed"],
        ["t2", "InProgress"],
        ["t2", "Completed"],  # changed
        ["t3", "Completed"],  # new
    ]  # t1, unchanged, is not printed again
    assert err.count("ThrottlingException") == 2
    assert f"{JOB}: Completed · trials Completed=3 InProgress=0" in err


def test_a_missing_matplotlib_names_the_extra_before_any_call(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr(trials, "_client", lambda *args: pytest.fail("no AWS call"))
    code, _, err = run("--plot", str(tmp_path / "p.png"))
    assert code == 1
    assert "pip install 'sagemaker-hpo-operator[plot]'" in err


def test_the_dispatcher_runs_it_and_arguments_are_checked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli_main(["trials"])
    assert exited.value.code == 2
    assert "give NAMESPACE/NAME, or --job-name" in capsys.readouterr().err
    for bad in (["--plot", "p.svg"], ["--interval", "0"], ["--limit", "-1"], ["-w", "-o", "yaml"]):
        with pytest.raises(SystemExit) as exited:
            cli_main(["trials", "--job-name", "j", *bad])
        assert exited.value.code == 2


def resource(annotations: dict[str, str] | None = None, status: Any = None) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "team",
            "name": "res",
            "uid": "u1",
            "annotations": annotations or {},
        },
        "spec": {"hyperParameterTuningJobName": "spec-name"},
        "status": status or {},
    }


def test_the_target_is_the_operators_region_endpoint_and_job() -> None:
    cfg = ReconcileSettings(default_region="us-east-1", endpoint_url="https://sm.example")
    t = resolve(resource(), {}, cfg)
    assert (t.job_name, t.region, t.endpoint_url) == (
        "spec-name",
        "us-east-1",
        "https://sm.example",
    )
    namespace = {ANN_DEFAULT_REGION: "eu-west-1", ANN_ENDPOINT_URL: "https://ns.example"}
    t = resolve(resource(), namespace, cfg)
    assert (t.region, t.endpoint_url) == ("eu-west-1", "https://ns.example")
    t = resolve(resource({ANN_REGION: "ap-south-1"}), namespace, cfg)
    assert t.region == "ap-south-1"
    assert t.source == "HyperParameterTuningJob team/res"


def test_the_status_arn_says_where_the_job_is_and_the_recorded_name_wins() -> None:
    arn = "arn:aws:sagemaker:eu-central-1:222222222222:hyper-parameter-tuning-job/recorded"
    status = {"ackResourceMetadata": {"arn": arn}}
    t = resolve(resource({ANN_JOB_NAME: "recorded"}, status), {}, ReconcileSettings())
    assert (t.job_name, t.region, t.account, t.arn) == (
        "recorded",
        "eu-central-1",
        "222222222222",
        arn,
    )
    assert arn_parts("not-an-arn") == (None, None)


def test_a_resource_naming_no_job_is_an_error() -> None:
    empty = resource()
    empty["spec"] = {}
    with pytest.raises(TargetError, match="names no job"):
        resolve(empty, {}, ReconcileSettings(default_region="us-west-2"))
