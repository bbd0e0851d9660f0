"""Search for Resource=HyperParameterTuningJob: records equal to Describe, filters, sorting,
pagination, the index-lag fault, its quota and its validation errors."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from hpo_emulator import RunningEmulator
from hpo_emulator.config import DEFAULT_QUOTAS
from hpo_emulator.search import DEFAULT_MAX_RESULTS, entity_members
from hpo_emulator.server import parse_args
from hpo_operator.model import awsmodel
from support.emulator_client import (
    START,
    ManualClock,
    StartEmulator,
    client,
    config_with,
    request,
)

HPO = "HyperParameterTuningJob"


def search(sm: Any, *filters: dict[str, str], **params: Any) -> dict[str, Any]:
    """One Search call for tuning jobs; `filters` make an And expression."""
    if filters:
        params["SearchExpression"] = {"Filters": list(filters)}
    out: dict[str, Any] = sm.search(Resource=HPO, **params)
    return out


def names(response: dict[str, Any]) -> list[str]:
    return [r[HPO]["HyperParameterTuningJobName"] for r in response["Results"]]


def every_name(sm: Any, **params: Any) -> list[str]:
    """The names over all pages, following NextToken by hand."""
    out: list[str] = []
    token = None
    while True:
        page = sm.search(Resource=HPO, **params, **({"NextToken": token} if token else {}))
        out += names(page)
        token = page.get("NextToken")
        if not token:
            return out


def f(name: str, operator: str, value: str | None = None) -> dict[str, str]:
    out = {"Name": name, "Operator": operator}
    if value is not None:
        out["Value"] = value
    return out


def error_of(call: Any, **params: Any) -> tuple[str, str]:
    try:
        call(**params)
    except ClientError as err:
        return str(err.response["Error"]["Code"]), str(err.response["Error"]["Message"])
    return "ok", ""


def admin(url: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"{url}{path}", data=data, method="GET" if data is None else "POST"
    )
    with urllib.request.urlopen(req, timeout=10) as response:
        return json.loads(response.read())


def conforms(shape: Any, value: Any, path: str, problems: list[str]) -> None:
    """A parsed response value against botocore's output shape: members, types, enums."""
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            problems.append(f"{path}: not an object")
            return
        problems += [f"{path}.{m}: required" for m in shape.required_members if m not in value]
        for key, item in value.items():
            if key not in shape.members:
                problems.append(f"{path}.{key}: not in the model")
            else:
                conforms(shape.members[key], item, f"{path}.{key}", problems)
    elif shape.type_name == "list":
        for i, item in enumerate(value):
            conforms(shape.member, item, f"{path}[{i}]", problems)
    elif shape.type_name == "map":
        for key, item in value.items():
            conforms(shape.value, item, f"{path}.{key}", problems)
    elif shape.type_name == "string" and not isinstance(value, str):
        problems.append(f"{path}: not a string")
    elif shape.type_name == "string" and shape.enum and value not in shape.enum:
        problems.append(f"{path}: {value} not in {shape.enum}")
    elif shape.type_name == "timestamp" and not isinstance(value, datetime):
        problems.append(f"{path}: not a timestamp")


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(START + seconds, UTC)


# ----- records ----------------------------------------------------------------------------------
@pytest.mark.parametrize("elapsed", [0.5, 15, 1000])  # starting, in progress, completed
def test_record_is_the_describe_document_with_tags(
    sm: Any, clock: ManualClock, elapsed: float
) -> None:
    tags = [{"Key": "team", "Value": "vision"}, {"Key": "cost-centre", "Value": "42"}]
    sm.create_hyper_parameter_tuning_job(**request("rec", Tags=tags))
    sm.create_hyper_parameter_tuning_job(**request("other"))
    clock.advance(elapsed)
    response = search(sm, f("HyperParameterTuningJobName", "Equals", "rec"))
    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="rec")
    described.pop("ResponseMetadata")
    assert names(response) == ["rec"]
    record = response["Results"][0][HPO]
    members = set(entity_members())
    assert "Tags" in members and "Autotune" not in members  # from the model, not a hand list
    assert set(record) == ({k for k in described if k in members} | {"Tags"})
    for key, value in record.items():
        if key != "Tags":
            assert value == described[key], key
    assert record["Tags"] == tags
    response.pop("ResponseMetadata")
    problems: list[str] = []
    conforms(awsmodel.output_shape("Search"), response, "Search", problems)
    assert problems == []
    assert response["TotalHits"] == {"Value": 1, "Relation": "EqualTo"}


def test_tags_are_current_and_filterable(sm: Any) -> None:
    sm.create_hyper_parameter_tuning_job(**request("a", Tags=[{"Key": "team", "Value": "x"}]))
    sm.create_hyper_parameter_tuning_job(**request("b"))
    arn = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="b")[
        "HyperParameterTuningJobArn"
    ]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "y"}])
    assert names(search(sm, f("Tags.team", "Equals", "y"))) == ["b"]
    assert sorted(names(search(sm, f("Tags.team", "In", "x,y")))) == ["a", "b"]
    assert names(search(sm, f("Tags.team", "NotExists"))) == []
    assert search(sm, f("HyperParameterTuningJobName", "Equals", "b"))["Results"][0][HPO][
        "Tags"
    ] == [{"Key": "team", "Value": "y"}]


# ----- filters ----------------------------------------------------------------------------------
def test_in_over_many_names_in_one_value(sm: Any) -> None:
    created = [f"tuning-job-{i:03d}" for i in range(45)]
    for name in created:
        sm.create_hyper_parameter_tuning_job(**request(name))
    wanted = created[3:43]  # 40 names
    value = ",".join([*wanted, "no-such-job"])
    assert len(value) <= 1024
    response = search(sm, f("HyperParameterTuningJobName", "In", value), MaxResults=100)
    assert sorted(names(response)) == wanted
    assert response["TotalHits"]["Value"] == 40
    spaced = ", ".join(wanted[:5])  # blanks around the commas are not part of the names
    assert sorted(names(search(sm, f("HyperParameterTuningJobName", "In", spaced)))) == wanted[:5]


def test_and_or_with_subexpressions(sm: Any, clock: ManualClock) -> None:
    for name, team in (("a1", "a"), ("a2", "a"), ("b1", "b"), ("b2", "b")):
        sm.create_hyper_parameter_tuning_job(**request(name, Tags=[{"Key": "team", "Value": team}]))
    for name in ("a2", "b2"):
        sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    clock.advance(5)  # the stopped ones are Stopped after 1 s
    stopped_a = {
        "Filters": [
            f("Tags.team", "Equals", "a"),
            f("HyperParameterTuningJobStatus", "Equals", "Stopped"),
        ]
    }
    either = {
        "Operator": "Or",
        "SubExpressions": [
            stopped_a,
            {"Filters": [f("HyperParameterTuningJobName", "Equals", "b1")]},
        ],
    }
    assert sorted(names(sm.search(Resource=HPO, SearchExpression=either))) == ["a2", "b1"]
    narrowed = {
        "Operator": "And",
        "Filters": [f("HyperParameterTuningJobName", "Contains", "1")],
        "SubExpressions": [either],
    }
    assert names(sm.search(Resource=HPO, SearchExpression=narrowed)) == ["b1"]
    in_progress = search(
        sm,
        f("TrainingJobStatusCounters.InProgress", "GreaterThan", "0"),
        f("HyperParameterTuningJobStatus", "NotEquals", "Stopped"),
    )
    assert sorted(names(in_progress)) == ["a1", "b1"]


def test_last_modified_time_comparisons_take_iso_and_epoch(sm: Any, clock: ManualClock) -> None:
    for name in ("t0", "t100", "t200"):
        sm.create_hyper_parameter_tuning_job(**request(name))
        clock.advance(100)
    clock.advance(-100)  # now = +200; t0 and t100 ended (+21 and +121), t200 is starting
    listed = {
        s["HyperParameterTuningJobName"]: s["LastModifiedTime"]
        for s in sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    }
    boundary = listed["t100"].astimezone(UTC)
    assert boundary == at(121)
    values = [
        boundary.strftime("%Y-%m-%dT%H:%M:%S"),  # the documented form: no zone, UTC
        boundary.strftime("%Y-%m-%dT%H:%M:%SZ"),
        boundary.isoformat(),  # +00:00
        boundary.astimezone().isoformat(),  # another zone, same instant
        f"{boundary.timestamp():.3f}",  # epoch seconds
        str(int(boundary.timestamp())),
    ]
    for value in values:
        assert names(search(sm, f("LastModifiedTime", "GreaterThan", value))) == ["t200"], value
        assert names(search(sm, f("LastModifiedTime", "GreaterThanOrEqualTo", value))) == [
            "t200",
            "t100",
        ], value
        assert names(search(sm, f("LastModifiedTime", "LessThan", value))) == ["t0"], value
    assert names(search(sm, f("LastModifiedTime", "Equals", values[0]))) == ["t100"]
    # the poller's staleness test: nothing newer than what List said
    for name, modified in listed.items():
        newer = search(
            sm,
            f("HyperParameterTuningJobName", "Equals", name),
            f("LastModifiedTime", "GreaterThan", modified.isoformat()),
        )
        assert newer["Results"] == []


def test_nested_filters_match_within_one_element(sm: Any) -> None:
    sm.create_hyper_parameter_tuning_job(**request("n"))
    nested = "TrainingJobDefinition.InputDataConfig"

    def found(channel: str, content_type: str) -> list[str]:
        expression = {
            "NestedFilters": [
                {
                    "NestedPropertyName": nested,
                    "Filters": [
                        f(f"{nested}.ChannelName", "Equals", channel),
                        f(f"{nested}.ContentType", "Equals", content_type),
                    ],
                }
            ]
        }
        return names(sm.search(Resource=HPO, SearchExpression=expression))

    assert found("train", "text/csv") == ["n"]
    assert found("train", "application/json") == []
    mapped = f("TrainingJobDefinition.StaticHyperParameters.base_score", "Equals", "0.5")
    assert names(search(sm, mapped)) == ["n"]
    flag = f("TrainingJobDefinition.EnableNetworkIsolation", "Equals", "true")
    assert names(search(sm, flag)) == ["n"]


def test_unknown_properties_hold_no_value(sm: Any) -> None:
    sm.create_hyper_parameter_tuning_job(**request("u"))
    assert names(search(sm, f("NoSuchProperty", "Equals", "x"))) == []
    assert names(search(sm, f("NoSuchProperty", "Exists"))) == []
    assert names(search(sm, f("NoSuchProperty", "NotExists"))) == ["u"]
    assert names(search(sm, f("BestTrainingJob", "NotExists"))) == ["u"]  # none yet


# ----- sort and pages ---------------------------------------------------------------------------
def test_sort_and_pages_return_every_job_once(sm: Any, clock: ManualClock) -> None:
    created = []
    for i in range(250):
        name = f"p{(i * 37) % 250:03d}"  # creation order differs from name order
        sm.create_hyper_parameter_tuning_job(**request(name))
        created.append(name)
        clock.advance(0.5)
    by_name = every_name(sm, SortBy="HyperParameterTuningJobName", SortOrder="Ascending")
    assert by_name == sorted(created)
    first = search(sm, SortBy="HyperParameterTuningJobName", SortOrder="Ascending", MaxResults=100)
    assert len(first["Results"]) == 100 and first["TotalHits"]["Value"] == 250
    pages = every_name(sm, SortBy="CreationTime", SortOrder="Descending", MaxResults=100)
    assert pages == created[::-1]
    # The default: LastModifiedTime, Descending, DEFAULT_MAX_RESULTS per page.
    default = search(sm)
    assert len(default["Results"]) == DEFAULT_MAX_RESULTS and default["NextToken"]
    everything = every_name(sm, MaxResults=100)
    assert sorted(everything) == sorted(created)
    paginated = sm.get_paginator("search").paginate(
        Resource=HPO, PaginationConfig={"PageSize": 100}
    )
    assert sorted(name for p in paginated for name in names(p)) == sorted(created)
    modified = [
        r[HPO]["LastModifiedTime"] for r in search(sm, MaxResults=100)["Results"]
    ]  # the newest first
    assert modified == sorted(modified, reverse=True)
    counters = every_name(sm, SortBy="TrainingJobStatusCounters.InProgress", MaxResults=37)
    assert sorted(counters) == sorted(created)
    by_status = search(sm, SortBy="HyperParameterTuningJobStatus", SortOrder="Ascending")
    statuses = [r[HPO]["HyperParameterTuningJobStatus"] for r in by_status["Results"]]
    assert statuses == sorted(statuses) and statuses[0] == "Completed"
    in_order = every_name(sm, SortBy="HyperParameterTuningJobStatus", MaxResults=60)
    assert sorted(in_order) == sorted(created)


def test_missing_sort_values_come_last(sm: Any, clock: ManualClock) -> None:
    sm.create_hyper_parameter_tuning_job(**request("early"))
    clock.advance(30)  # early has a best training job, late does not yet
    sm.create_hyper_parameter_tuning_job(**request("late"))
    for order in ("Ascending", "Descending"):
        sorted_by = search(sm, SortBy="BestTrainingJob.TrainingJobName", SortOrder=order)
        assert names(sorted_by) == ["early", "late"]


# ----- the index lag ----------------------------------------------------------------------------
def test_search_lag_shows_the_old_record_then_the_new(
    emulator: RunningEmulator, sm: Any, clock: ManualClock
) -> None:
    """slow: 10 waves of 2 trainings from +1 s, 10 s each; stopped at +40, Stopped at +41."""
    limits = {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 2}
    sm.create_hyper_parameter_tuning_job(
        **request("slow", HyperParameterTuningJobConfig=config_with(ResourceLimits=limits))
    )
    clock.advance(40)
    faults = admin(emulator.url, "/_emulator/faults", {"search_lag": 30})
    assert faults["search_lag"] == 30
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="slow")
    clock.advance(2)  # +42: Stopped now, on Describe and List; Search sees +12
    sm.create_hyper_parameter_tuning_job(**request("young"))
    listed = sm.list_hyper_parameter_tuning_jobs(NameContains="slow")
    summary = listed["HyperParameterTuningJobSummaries"][0]
    assert summary["HyperParameterTuningJobStatus"] == "Stopped"
    stale = search(sm, MaxResults=100)
    assert names(stale) == ["slow"]  # young was created less than 30 s ago
    record = stale["Results"][0][HPO]
    assert record["HyperParameterTuningJobStatus"] == "InProgress"
    assert record["LastModifiedTime"] == at(11)  # wave 2 began at +11
    assert record["LastModifiedTime"] < summary["LastModifiedTime"]  # how a poller sees it
    assert record["TrainingJobStatusCounters"]["InProgress"] == 2
    clock.advance(25)  # +67, 27 s after the stop: still behind
    assert search(sm)["Results"][0][HPO]["HyperParameterTuningJobStatus"] == "InProgress"
    clock.advance(5)  # +72: Search sees +42
    fresh = search(sm, f("HyperParameterTuningJobName", "Equals", "slow"))["Results"][0][HPO]
    assert fresh["HyperParameterTuningJobStatus"] == "Stopped"
    assert fresh["LastModifiedTime"] == summary["LastModifiedTime"]
    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="slow")
    assert fresh["TrainingJobStatusCounters"] == described["TrainingJobStatusCounters"]
    clock.advance(5)
    assert sorted(names(search(sm))) == ["slow", "young"]
    admin(emulator.url, "/_emulator/faults", {"search_lag": 0})
    current = search(sm, f("HyperParameterTuningJobName", "Equals", "young"))["Results"][0][HPO]
    young = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="young")
    assert current["LastModifiedTime"] == young["LastModifiedTime"]
    assert len(emulator.store.lagged) == 0  # no replays kept without a lag


def test_search_lag_replays_only_unfinished_jobs(
    emulator: RunningEmulator, sm: Any, clock: ManualClock
) -> None:
    for i in range(5):
        sm.create_hyper_parameter_tuning_job(**request(f"done-{i}"))
    clock.advance(1000)  # all completed
    sm.create_hyper_parameter_tuning_job(**request("running"))
    clock.advance(20)
    admin(emulator.url, "/_emulator/faults", {"search_lag": 10})
    response = search(sm, MaxResults=100)
    assert len(response["Results"]) == 6
    assert len(emulator.store.lagged) == 1  # finished jobs are their own past
    running = search(sm, f("HyperParameterTuningJobName", "Equals", "running"))["Results"][0][HPO]
    assert running["LastModifiedTime"] == at(1001)  # its first wave began at +1 s


def test_search_lag_flag_and_bad_values(emulator: RunningEmulator) -> None:
    assert parse_args(["--search-lag", "7.5"]).faults.search_lag == 7.5
    assert parse_args([]).faults.search_lag == 0
    with pytest.raises(SystemExit):
        parse_args(["--search-lag", "-1"])
    req = urllib.request.Request(
        f"{emulator.url}/_emulator/faults", data=b'{"search_lag": -1}', method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=10)
    assert refused.value.code == 400


# ----- quota, faults, statistics ----------------------------------------------------------------
def test_search_is_throttled_by_its_quota(start_emulator: StartEmulator) -> None:
    rate, burst = DEFAULT_QUOTAS["Search"]
    assert (rate, burst) == (1.0, 2.0)
    emu = start_emulator(quotas={"Search": (rate, burst)})
    sm = client(emu.url)
    began = time.monotonic()
    outcomes: list[str] = []
    while "ThrottlingException" not in outcomes and time.monotonic() < began + 30:
        outcomes.append(error_of(sm.search, Resource=HPO)[0])
    elapsed = time.monotonic() - began
    assert "ThrottlingException" in outcomes
    assert outcomes[0] == "ok"
    assert outcomes.count("ok") <= burst + rate * elapsed + 1
    stats = admin(emu.url, "/_emulator/stats")
    assert stats["operations"]["Search"]["ok"] == outcomes.count("ok")
    assert stats["operations"]["Search"]["ThrottlingException"] == outcomes.count(
        "ThrottlingException"
    )


def test_injected_faults_apply_to_search(emulator: RunningEmulator, sm: Any) -> None:
    admin(emulator.url, "/_emulator/faults", {"throttle_rate": 1.0, "operations": ["Search"]})
    assert error_of(sm.search, Resource=HPO)[0] == "ThrottlingException"
    assert error_of(sm.list_hyper_parameter_tuning_jobs)[0] == "ok"
    admin(emulator.url, "/_emulator/faults", {"throttle_rate": 0, "error_rate": 1.0})
    assert error_of(sm.search, Resource=HPO)[0] == "InternalFailure"
    admin(emulator.url, "/_emulator/faults", {"error_rate": 0})
    assert error_of(sm.search, Resource=HPO)[0] == "ok"


# ----- what is refused, and other resources -----------------------------------------------------
@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"MaxResults": 101}, "at 'maxResults' failed to satisfy constraint"),
        (
            {
                "SearchExpression": {
                    "Filters": [f("HyperParameterTuningJobName", "GreaterThan", "a")]
                }
            },
            "not supported for the text property HyperParameterTuningJobName",
        ),
        (
            {"SearchExpression": {"Filters": [f("CreationTime", "In", "a,b")]}},
            "supported only for text properties",
        ),
        (
            {
                "SearchExpression": {
                    "Filters": [f("TrainingJobStatusCounters.Completed", "In", "1")]
                }
            },
            "supported only for text properties",
        ),
        (
            {"SearchExpression": {"Filters": [f("CreationTime", "Contains", "2027")]}},
            "supported only for text properties",
        ),
        (
            {
                "SearchExpression": {
                    "Filters": [f("HyperParameterTuningJobName", "Contains", "a")],
                    "SubExpressions": [{"Filters": [f("FailureReason", "Contains", "b")]}],
                }
            },
            "'CONTAINS' operator usage limit of 1 exceeded.",
        ),
        (
            {"SearchExpression": {"Filters": [f("HyperParameterTuningJobName", "Like", "a")]}},
            "Member must satisfy enum value set",
        ),
        (
            {"SearchExpression": {"Filters": [f("LastModifiedTime", "GreaterThan", "yesterday")]}},
            "is not a valid timestamp value",
        ),
        (
            {
                "SearchExpression": {
                    "Filters": [f("ConsumedResources.RuntimeInSeconds", "LessThan", "x")]
                }
            },
            "is not a valid number value",
        ),
        (
            {"SearchExpression": {"Filters": [f("HyperParameterTuningJobName", "Equals")]}},
            "needs a Value",
        ),
        (
            {"SearchExpression": {"Filters": [f("BestTrainingJob", "Equals", "x")]}},
            "is not a single value",
        ),
        ({"SearchExpression": {"Operator": "Or"}}, "at least one of Filters"),
        (
            {
                "SearchExpression": {
                    "Filters": [f("CreationTime", "Exists")] * 20,
                    "SubExpressions": [{"Filters": [f("CreationTime", "Exists")] * 20}] * 2,
                }
            },
            "the maximum is 50",
        ),
        (
            {
                "SearchExpression": {
                    "NestedFilters": [
                        {
                            "NestedPropertyName": "TrainingJobDefinitions",
                            "Filters": [f("CreationTime", "Exists")],
                        }
                    ]
                }
            },
            "must start with TrainingJobDefinitions",
        ),
        ({"SortBy": "TrainingJobStatusCounters"}, "SortBy TrainingJobStatusCounters"),
        ({"NextToken": "not-a-token"}, "Invalid pagination token"),
    ],
)
def test_validation_errors(sm: Any, params: dict[str, Any], words: str) -> None:
    sm.create_hyper_parameter_tuning_job(**request("v"))  # errors do not depend on matches
    code, message = error_of(sm.search, Resource=HPO, **params)
    assert code == "ValidationException"
    assert words in message


def test_a_token_of_another_sort_is_refused(sm: Any) -> None:
    for name in ("a", "b", "c"):
        sm.create_hyper_parameter_tuning_job(**request(name))
    token = search(sm, MaxResults=1)["NextToken"]
    code, message = error_of(
        sm.search, Resource=HPO, MaxResults=1, SortBy="CreationTime", NextToken=token
    )
    assert (code, "Invalid pagination token" in message) == ("ValidationException", True)
    listed = sm.list_hyper_parameter_tuning_jobs(MaxResults=1)["NextToken"]
    assert error_of(sm.search, Resource=HPO, NextToken=listed)[0] == "ValidationException"


def test_other_resources_and_accounts_have_no_records(sm: Any) -> None:
    sm.create_hyper_parameter_tuning_job(**request("mine"))
    for params in (
        {"Resource": "TrainingJob"},
        {"Resource": "Model", "SearchExpression": {"Filters": [f("ModelName", "Exists")]}},
        {"Resource": HPO, "CrossAccountFilterOption": "CrossAccount"},
    ):
        response = sm.search(**params)
        assert response["Results"] == []
        assert response["TotalHits"] == {"Value": 0, "Relation": "EqualTo"}
    same = sm.search(Resource=HPO, CrossAccountFilterOption="SameAccount")
    assert names(same) == ["mine"]
