"""ListHyperParameterTuningJobs and ListTrainingJobsForHyperParameterTuningJob: filters, sorting,
NextToken pagination; and the tag operations on a tuning job's ARN."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.emulator_client import START, ManualClock, config_with, request


def names(sm: Any, **params: Any) -> list[str]:
    """Every job name over all pages, following NextToken by hand."""
    out: list[str] = []
    token = None
    while True:
        page = sm.list_hyper_parameter_tuning_jobs(
            **params, **({"NextToken": token} if token else {})
        )
        out += [s["HyperParameterTuningJobName"] for s in page["HyperParameterTuningJobSummaries"]]
        token = page.get("NextToken")
        if not token:
            return out


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(START + seconds, UTC)


@pytest.fixture
def five_jobs(sm: Any, clock: ManualClock) -> list[str]:
    """job-c (t=0), job-a (t=10), other-b (t=20, stopped at 40), job-e (t=30), job-d (t=40)."""
    created = []
    for name in ("job-c", "job-a", "other-b", "job-e", "job-d"):
        sm.create_hyper_parameter_tuning_job(**request(name))
        created.append(name)
        clock.advance(10)
    clock.advance(-10)  # now = t+40: job-c (ended +21) and job-a (ended +31) completed
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="other-b")
    return created


def test_default_sort_is_name_ascending_with_pages(sm: Any, five_jobs: list[str]) -> None:
    assert names(sm, MaxResults=2) == sorted(five_jobs)
    first = sm.list_hyper_parameter_tuning_jobs()
    assert len(first["HyperParameterTuningJobSummaries"]) == 5 and "NextToken" not in first
    assert names(sm, MaxResults=1, SortOrder="Descending") == sorted(five_jobs, reverse=True)


def test_sort_by_creation_time_and_status(sm: Any, five_jobs: list[str]) -> None:
    assert names(sm, SortBy="CreationTime", MaxResults=2) == five_jobs
    assert (
        names(sm, SortBy="CreationTime", SortOrder="Descending", MaxResults=3) == (five_jobs[::-1])
    )
    by_status = sm.list_hyper_parameter_tuning_jobs(SortBy="Status", MaxResults=100)
    statuses = [
        s["HyperParameterTuningJobStatus"] for s in by_status["HyperParameterTuningJobSummaries"]
    ]
    assert statuses == sorted(statuses)
    assert set(statuses) == {"Completed", "InProgress", "Stopping"}


def test_filters(sm: Any, clock: ManualClock, five_jobs: list[str]) -> None:
    assert names(sm, NameContains="JOB-") == ["job-a", "job-c", "job-d", "job-e"]
    assert names(sm, StatusEquals="Completed") == ["job-a", "job-c"]
    assert names(sm, StatusEquals="Stopping") == ["other-b"]
    assert names(sm, StatusEquals="InProgress") == ["job-d", "job-e"]
    assert names(sm, CreationTimeAfter=at(10), CreationTimeBefore=at(40)) == ["job-e", "other-b"]
    # modified strictly after +30: job-a ended at +31, other-b stopped at +40, job-e launched
    # trainings at +31, job-d was created at +40
    assert names(sm, LastModifiedTimeAfter=at(30)) == ["job-a", "job-d", "job-e", "other-b"]
    assert names(sm, LastModifiedTimeBefore=at(30)) == ["job-c"]
    assert names(sm, NameContains="job", StatusEquals="InProgress", SortBy="CreationTime") == [
        "job-e",
        "job-d",
    ]
    clock.advance(1)
    assert names(sm, StatusEquals="Stopped") == ["other-b"]


def test_summaries_carry_counters_and_lowercase_arns(sm: Any, clock: ManualClock) -> None:
    sm.create_hyper_parameter_tuning_job(**request("Mixed-Case"))
    clock.advance(100)
    (summary,) = sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    assert summary["HyperParameterTuningJobArn"].endswith("/mixed-case")  # as AWS (boto3#4606)
    assert summary["HyperParameterTuningJobStatus"] == "Completed"
    assert summary["Strategy"] == "Bayesian"
    assert summary["TrainingJobStatusCounters"]["Completed"] == 4
    assert summary["ObjectiveStatusCounters"]["Succeeded"] == 4
    assert summary["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2}
    assert summary["HyperParameterTuningEndTime"] == summary["LastModifiedTime"] == at(21)


def test_pages_survive_creates_between_calls(sm: Any) -> None:
    for name in ("b", "d", "f"):
        sm.create_hyper_parameter_tuning_job(**request(name))
    page = sm.list_hyper_parameter_tuning_jobs(MaxResults=2)
    assert [s["HyperParameterTuningJobName"] for s in page["HyperParameterTuningJobSummaries"]] == [
        "b",
        "d",
    ]
    sm.create_hyper_parameter_tuning_job(**request("a"))  # before the cursor: not repeated
    sm.create_hyper_parameter_tuning_job(**request("e"))  # after it: listed
    rest = sm.list_hyper_parameter_tuning_jobs(MaxResults=10, NextToken=page["NextToken"])
    assert [s["HyperParameterTuningJobName"] for s in rest["HyperParameterTuningJobSummaries"]] == [
        "e",
        "f",
    ]


def test_bad_token_is_a_validation_error(sm: Any) -> None:
    sm.create_hyper_parameter_tuning_job(**request())
    with pytest.raises(ClientError) as err:
        sm.list_hyper_parameter_tuning_jobs(NextToken="not-a-token")
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_boto3_paginator_walks_every_page(sm: Any) -> None:
    for i in range(23):
        sm.create_hyper_parameter_tuning_job(**request(f"j{i:02d}"))
    paginator = sm.get_paginator("list_hyper_parameter_tuning_jobs")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 5}))
    assert len(pages) == 5
    seen = [
        s["HyperParameterTuningJobName"]
        for p in pages
        for s in p["HyperParameterTuningJobSummaries"]
    ]
    assert seen == [f"j{i:02d}" for i in range(23)]


def test_training_job_listing(sm: Any, clock: ManualClock) -> None:
    limits = {"MaxNumberOfTrainingJobs": 7, "MaxParallelTrainingJobs": 3}
    sm.create_hyper_parameter_tuning_job(
        **request(HyperParameterTuningJobConfig=config_with(ResourceLimits=limits))
    )
    clock.advance(25)  # waves at +1 and +11 done, third wave (1 job) running
    list_ = sm.list_training_jobs_for_hyper_parameter_tuning_job

    def listed(**params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        token = None
        while True:
            extra = {"NextToken": token} if token else {}
            page = list_(HyperParameterTuningJobName="job", MaxResults=2, **params, **extra)
            out += page["TrainingJobSummaries"]
            token = page.get("NextToken")
            if not token:
                return out

    everything = listed()
    assert [t["TrainingJobName"] for t in everything] == sorted(
        t["TrainingJobName"] for t in everything
    )
    assert len(everything) == 7
    assert [t["TrainingJobStatus"] for t in listed(StatusEquals="InProgress")] == ["InProgress"]
    assert len(listed(StatusEquals="Completed")) == 6
    by_value = listed(SortBy="FinalObjectiveMetricValue")
    values = [t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in by_value]
    assert len(values) == 6 and values == sorted(values)  # the running one has no value yet
    down = listed(SortBy="FinalObjectiveMetricValue", SortOrder="Descending")
    assert [t["TrainingJobName"] for t in down] == [t["TrainingJobName"] for t in by_value][::-1]
    by_creation = listed(SortBy="CreationTime")
    assert [t["CreationTime"] for t in by_creation] == sorted(
        t["CreationTime"] for t in by_creation
    )
    by_status = listed(SortBy="Status", SortOrder="Descending")
    assert by_status[0]["TrainingJobStatus"] == "InProgress"


def test_tags_on_the_tuning_job_arn(sm: Any) -> None:
    arn = sm.create_hyper_parameter_tuning_job(
        **request("Tagged", Tags=[{"Key": "team", "Value": "ml"}])
    )["HyperParameterTuningJobArn"]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    added = sm.add_tags(
        ResourceArn=arn, Tags=[{"Key": "team", "Value": "ops"}, {"Key": "env", "Value": "ci"}]
    )
    assert added["Tags"] == [{"Key": "team", "Value": "ops"}, {"Key": "env", "Value": "ci"}]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "team", "Value": "ops"},
        {"Key": "env", "Value": "ci"},
    ]
    sm.delete_tags(ResourceArn=arn, TagKeys=["team", "absent"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "ci"}]
    for wrong in (arn.lower(), arn.replace("Tagged", "Other")):  # AWS matches the ARN exactly
        with pytest.raises(ClientError) as err:
            sm.list_tags(ResourceArn=wrong)
        assert err.value.response["Error"]["Code"] == "ValidationException"


def test_tag_calls_refuse_what_aws_refuses(sm: Any) -> None:
    """Tagging AWS resources: aws: keys cannot be added or deleted, keys are unique in a call,
    and a resource holds at most 50 tags; a refused call changes nothing."""
    arn = sm.create_hyper_parameter_tuning_job(**request("Limits"))["HyperParameterTuningJobArn"]
    refused = (
        (sm.add_tags, {"Tags": [{"Key": "AWS:x", "Value": "1"}]}, "reserved aws: prefix"),
        (sm.delete_tags, {"TagKeys": ["aws:cloudformation:stack-name"]}, "reserved aws: prefix"),
        (sm.add_tags, {"Tags": [{"Key": "k", "Value": "1"}] * 2}, "unique tag key"),
        (sm.add_tags, {"Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]}, "<= 50"),
    )
    for call, params, words in refused:
        with pytest.raises(ClientError) as err:
            call(ResourceArn=arn, **params)
        assert err.value.response["Error"]["Code"] == "ValidationException"
        assert words in err.value.response["Error"]["Message"].replace(
            "less than or equal to", "<="
        )
    assert sm.list_tags(ResourceArn=arn)["Tags"] == []
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(45)])
    with pytest.raises(ClientError) as err:  # 45 held, 6 more: 51 on the job
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": f"n{i}", "Value": "v"} for i in range(6)])
    assert "more than the maximum of 50" in err.value.response["Error"]["Message"]
    assert len(sm.list_tags(ResourceArn=arn, MaxResults=100)["Tags"]) == 45


def test_indexed_listing_agrees_with_brute_force(sm: Any, clock: ManualClock) -> None:
    """List pages come from sorted indexes or a filtered scan; both must match a plain filter."""
    import random

    rng = random.Random(5)
    for i in range(40):
        sm.create_hyper_parameter_tuning_job(**request(f"{rng.choice(['ab', 'cd'])}-{i:02d}"))
        clock.advance(rng.choice([0.5, 3, 7]))
        if i % 7 == 3:  # stop the newest job
            newest = sm.list_hyper_parameter_tuning_jobs(
                SortBy="CreationTime", SortOrder="Descending", MaxResults=1
            )["HyperParameterTuningJobSummaries"][0]["HyperParameterTuningJobName"]
            sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=newest)
    clock.advance(2)
    everything = []
    token = None
    while True:
        extra = {"NextToken": token} if token else {}
        page = sm.list_hyper_parameter_tuning_jobs(MaxResults=100, **extra)
        everything += page["HyperParameterTuningJobSummaries"]
        token = page.get("NextToken")
        if not token:
            break
    assert len(everything) == 40
    mid = sorted(s["LastModifiedTime"] for s in everything)[20]
    created_mid = sorted(s["CreationTime"] for s in everything)[10]
    for params in (
        {},
        {"StatusEquals": "InProgress"},
        {"StatusEquals": "Stopped"},
        {"StatusEquals": "Completed", "SortBy": "CreationTime", "SortOrder": "Descending"},
        {"LastModifiedTimeAfter": mid},
        {"LastModifiedTimeAfter": mid, "StatusEquals": "InProgress", "SortBy": "Status"},
        {"LastModifiedTimeBefore": mid, "NameContains": "ab"},
        {"CreationTimeAfter": created_mid, "SortBy": "CreationTime"},
        {"NameContains": "cd", "SortOrder": "Descending"},
    ):
        expected = [s for s in everything if matches(s, params)]
        sort_by = params.get("SortBy", "Name")
        field = {
            "Name": "HyperParameterTuningJobName",
            "CreationTime": "CreationTime",
            "Status": "HyperParameterTuningJobStatus",
        }[sort_by]
        expected.sort(
            key=lambda s, f=field: (s[f], s["HyperParameterTuningJobName"]),
            reverse=params.get("SortOrder") == "Descending",
        )
        want = [s["HyperParameterTuningJobName"] for s in expected]
        assert names(sm, MaxResults=3, **params) == want, params


def matches(summary: dict[str, Any], params: dict[str, Any]) -> bool:
    if (
        "StatusEquals" in params
        and summary["HyperParameterTuningJobStatus"] != params["StatusEquals"]
    ):
        return False
    if (
        "NameContains" in params
        and params["NameContains"] not in summary["HyperParameterTuningJobName"]
    ):
        return False
    if (
        "LastModifiedTimeAfter" in params
        and not summary["LastModifiedTime"] > params["LastModifiedTimeAfter"]
    ):
        return False
    if (
        "LastModifiedTimeBefore" in params
        and not summary["LastModifiedTime"] < params["LastModifiedTimeBefore"]
    ):
        return False
    return not (
        "CreationTimeAfter" in params and not summary["CreationTime"] > params["CreationTimeAfter"]
    )
