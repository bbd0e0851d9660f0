"""The trials command's pure parts: summaries read into rows, sorting, filtering, the table, the
JSON document's keys, the watch view's changes, the tuning job's ranges, and the plot's series."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from hpo_operator.cli import trialplot
from hpo_operator.cli.trialrows import (
    STATUSES,
    Trial,
    best_trial,
    changed,
    changing_since,
    default_descending,
    document,
    filter_trials,
    format_duration,
    job_info,
    render_table,
    sort_trials,
    trial_from_summary,
    trials_table,
)

T0 = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)


def summary(name: str, status: str = "Completed", value: float | None = 0.5, **more: Any) -> Any:
    out: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-west-2:123456789012:training-job/{name}",
        "CreationTime": T0,
        "TrainingJobStatus": status,
        "TunedHyperParameters": {"eta": "0.1", "num_round": "12"},
    }
    if value is not None:
        out["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": "m", "Value": value}
    out.update(more)
    return out


def trial(
    name: str, objective: float | None = None, status: str = "Completed", **more: Any
) -> Trial:
    return Trial(name=name, status=status, objective=objective, **more)


def test_a_summary_becomes_a_row() -> None:
    t = trial_from_summary(
        summary(
            "a",
            TrainingStartTime=T0.replace(minute=1),
            TrainingEndTime=T0.replace(minute=13, second=5),
            ObjectiveStatus="Succeeded",
        )
    )
    assert (t.name, t.status, t.objective, t.objective_status) == (
        "a",
        "Completed",
        0.5,
        "Succeeded",
    )
    assert t.hyperparameters == {"eta": "0.1", "num_round": "12"}
    assert t.created == T0.timestamp()
    assert t.duration(now=0.0) == 12 * 60 + 5


def test_a_running_trial_lasts_until_now_and_one_not_started_has_no_duration() -> None:
    running = trial_from_summary(summary("r", "InProgress", None, TrainingStartTime=T0))
    assert running.objective is None
    assert running.duration(T0.timestamp() + 90) == 90
    assert trial_from_summary(summary("p", "InProgress", None)).duration(1e12) is None


def test_the_statuses_come_from_botocores_model() -> None:
    assert {"InProgress", "Completed", "Failed", "Stopping", "Stopped"} <= set(STATUSES)


def test_objective_sorts_best_first_for_either_direction_and_unscored_last() -> None:
    rows = [trial("b", 0.3), trial("n", None, "Failed"), trial("a", 0.1), trial("c", 0.3)]
    minimize = sort_trials(rows, "objective", default_descending("objective", "Minimize"))
    assert [t.name for t in minimize] == ["a", "b", "c", "n"]
    maximize = sort_trials(rows, "objective", default_descending("objective", "Maximize"))
    assert [t.name for t in maximize] == ["b", "c", "a", "n"]  # ties in name order, both ways


@pytest.mark.parametrize(
    ("key", "descending", "expected"),
    [
        ("name", False, ["a", "b", "c"]),
        ("name", True, ["c", "b", "a"]),
        ("created", False, ["c", "a", "b"]),
        ("status", False, ["b", "a", "c"]),
    ],
)
def test_sort_keys(key: str, descending: bool, expected: list[str]) -> None:
    rows = [
        trial("a", status="Failed", created=2.0),
        trial("b", status="Completed", created=3.0),
        trial("c", status="InProgress", created=1.0),
    ]
    assert [t.name for t in sort_trials(rows, key, descending)] == expected
    assert not default_descending(key, "Maximize")


def test_an_unknown_sort_key_is_refused() -> None:
    with pytest.raises(ValueError, match="objective, name, created, status"):
        sort_trials([], "duration", False)


def test_filter_keeps_the_statuses_asked_for_and_everything_without_one() -> None:
    rows = [trial("a"), trial("b", status="Failed"), trial("c", status="Stopped")]
    assert [t.name for t in filter_trials(rows, ["Failed", "Stopped"])] == ["b", "c"]
    assert filter_trials(rows, []) == rows


def test_best_trial_by_direction() -> None:
    rows = [trial("a", 0.2), trial("b", 0.9), trial("c")]
    assert best_trial(rows, "Minimize") == rows[0]
    assert best_trial(rows, "Maximize") == rows[1]
    assert best_trial([trial("c")], "Minimize") is None


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, ""), (0, "0s"), (45.4, "45s"), (725, "12m05s"), (3723, "1h02m03s")]
)
def test_durations_read_like_kubectl_ages(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_the_table_has_a_column_per_hyperparameter_aligned() -> None:
    rows = [
        trial("short", 0.25, hyperparameters={"eta": "0.1"}, started=0.0, ended=30.0),
        trial(
            "a-much-longer-name",
            None,
            "Failed",
            hyperparameters={"depth": "7"},
            failure_reason="AlgorithmError: " + "x" * 100,
        ),
    ]
    lines = trials_table(rows, now=100.0).splitlines()
    assert lines[0].split() == [
        "NAME",
        "STATUS",
        "OBJECTIVE",
        "DURATION",
        "depth",
        "eta",
        "FAILURE",
    ]
    starts = [
        line.index(word)
        for line, word in zip(lines, ["STATUS", "Completed", "Failed"], strict=True)
    ]
    assert len(set(starts)) == 1  # one column start for every row
    assert lines[1].split()[:5] == ["short", "Completed", "0.25", "30s", "0.1"]
    assert lines[2].endswith("…") and len(lines[2].split("AlgorithmError")[1]) < 60
    assert render_table([]) == ""


def test_the_json_document_has_its_documented_keys() -> None:
    info = job_info(
        {
            "HyperParameterTuningJobName": "j",
            "HyperParameterTuningJobStatus": "InProgress",
            "HyperParameterTuningJobConfig": {
                "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "auc"}
            },
            "TrainingJobStatusCounters": {"Completed": 1, "InProgress": 1},
        },
        "eu-west-1",
    )
    rows = [trial("x", 0.7, started=0.0, ended=12.5), trial("y", None, "InProgress", started=10.0)]
    doc = json.loads(json.dumps(document(info, rows, now=20.0)))
    assert doc["tuningJob"] == {
        "name": "j",
        "arn": None,
        "region": "eu-west-1",
        "status": "InProgress",
        "objectiveMetric": "auc",
        "objectiveType": "Maximize",
        "trainingJobStatusCounters": {"Completed": 1, "InProgress": 1},
        "bestTrainingJob": "x",
    }
    assert list(doc["trials"][0]) == [
        "name",
        "status",
        "objective",
        "objectiveStatus",
        "hyperParameters",
        "created",
        "started",
        "ended",
        "durationSeconds",
        "failureReason",
        "arn",
        "trainingJobDefinitionName",
    ]
    assert doc["trials"][0]["ended"] == "1970-01-01T00:00:12.500000Z"
    assert [t["durationSeconds"] for t in doc["trials"]] == [12.5, 10.0]


def test_the_watch_view_prints_new_and_changed_trials_only() -> None:
    before = {"a": trial("a", None, "InProgress"), "b": trial("b", 0.1)}
    after = [trial("a", 0.4), trial("b", 0.1), trial("c", None, "InProgress")]
    assert [t.name for t in changed(before, after)] == ["a", "c"]


def test_ranges_from_every_definition_with_their_scaling_and_categories() -> None:
    info = job_info(
        {
            "HyperParameterTuningJobName": "j",
            "HyperParameterTuningJobConfig": {"Strategy": "Bayesian"},
            "TrainingJobDefinitions": [
                {
                    "TuningObjective": {"Type": "Minimize", "MetricName": "loss"},
                    "HyperParameterRanges": {
                        "ContinuousParameterRanges": [
                            {
                                "Name": "lr",
                                "MinValue": "1e-5",
                                "MaxValue": "1",
                                "ScalingType": "Logarithmic",
                            }
                        ],
                        "CategoricalParameterRanges": [{"Name": "opt", "Values": ["sgd", "adam"]}],
                    },
                },
                {"HyperParameterRanges": {"IntegerParameterRanges": [{"Name": "depth"}]}},
            ],
        },
        "us-west-2",
    )
    assert info.metric == "loss" and info.objective_type == "Minimize"
    assert info.ranges == {
        "lr": ("Continuous", "Logarithmic"),
        "opt": ("Categorical", "Auto"),
        "depth": ("Integer", "Auto"),
    }
    assert info.categories == {"opt": ("sgd", "adam")}


def test_the_plot_series_completion_order_and_running_best() -> None:
    rows = [trial("late", 0.1, ended=30.0), trial("early", 0.5, ended=10.0), trial("none")]
    assert [t.name for t in trialplot.scored_in_completion_order(rows)] == ["early", "late"]
    assert trialplot.running_best([0.5, 0.7, 0.1, 0.3], "Minimize") == [0.5, 0.5, 0.1, 0.1]
    assert trialplot.running_best([0.5, 0.7, 0.1, 0.9], "Maximize") == [0.5, 0.7, 0.7, 0.9]


def test_the_watch_view_lists_back_to_the_oldest_trial_that_can_still_change() -> None:
    done = [trial("a", 0.1, created=1.0), trial("b", 0.2, "Failed", created=2.0)]
    running = [
        trial("c", None, "InProgress", created=3.0),
        trial("d", None, "Stopping", created=4.0),
    ]
    assert changing_since(done + running) == 3.0  # c and d may change, a and b no more
    assert changing_since(done) == 2.0  # only trials created from now on
    assert changing_since([trial("x", created=None)]) == 0.0  # unknown: everything
