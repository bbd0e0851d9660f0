"""The thin shell around the decisions: body → Resource, the polling filter, logs, metrics."""

from __future__ import annotations

import json
import logging

from hpo_operator.core.types import Op
from hpo_operator.polling.strategy import needs_polling
from hpo_operator.shell import logs
from hpo_operator.shell.handlers import namespace_annotations_of, to_resource
from hpo_operator.shell.metrics import Metrics

ARN = "arn:aws:sagemaker:us-west-2:123456789012:hyper-parameter-tuning-job/j"


def test_to_resource_copies_and_reads_deletion() -> None:
    body = {
        "metadata": {
            "namespace": "ns",
            "name": "n",
            "uid": "u",
            "generation": 3,
            "annotations": {"a": "b"},
            "deletionTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {"hyperParameterTuningJobName": "j", "nested": {"x": 1}},
        "status": {"conditions": []},
    }
    r = to_resource(body, {"services.k8s.aws/default-region": "eu-west-1"})
    assert (r.namespace, r.name, r.uid, r.generation, r.deleting) == ("ns", "n", "u", 3, True)
    assert r.namespace_annotations["services.k8s.aws/default-region"] == "eu-west-1"
    r.spec["nested"]["x"] = 2  # type: ignore[index]
    assert body["spec"]["nested"] == {"x": 1}  # the core never mutates kopf's body


def test_namespace_index_lookup() -> None:
    index = {"ns": [{"services.k8s.aws/default-region": "eu-west-1"}]}
    assert namespace_annotations_of(index, "ns") == {"services.k8s.aws/default-region": "eu-west-1"}
    assert namespace_annotations_of(index, "other") == {}
    assert namespace_annotations_of(None, "ns") == {}


def test_only_known_running_jobs_are_polled() -> None:
    running = {"ackResourceMetadata": {"arn": ARN}, "hyperParameterTuningJobStatus": "InProgress"}
    assert needs_polling(running, {})
    assert needs_polling({"ackResourceMetadata": {"arn": ARN}}, {})  # created, not yet described
    assert not needs_polling({**running, "hyperParameterTuningJobStatus": "Completed"}, {})
    assert not needs_polling({}, {})  # nothing created: the change handlers own that
    assert not needs_polling(running, {"deletionTimestamp": "2026-01-01T00:00:00Z"})
    gone = {
        **running,
        "conditions": [{"type": "ACK.Terminal", "status": "True", "reason": "JobNotFound"}],
    }
    assert not needs_polling(gone, {})


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("hpo_operator", logging.INFO, __file__, 1, "hello %s", ("x",), None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_logs_name_the_resource_and_job() -> None:
    record = _record(**logs.fields("ns", "tuning", "job-1"))
    entry = json.loads(logs.JsonFormatter().format(record))
    assert entry["message"] == "hello x"
    assert (entry["namespace"], entry["name"], entry["job"]) == ("ns", "tuning", "job-1")
    kopf_record = _record(k8s_ref={"namespace": "ns", "name": "r", "uid": "u"})
    entry = json.loads(logs.JsonFormatter().format(kopf_record))
    assert (entry["namespace"], entry["name"]) == ("ns", "r") and "uid" not in entry
    text = logs.TextFormatter().format(_record(**logs.fields("ns", "tuning", "job-1")))
    assert "[ns/tuning job-1] hello x" in text


def test_planned_kopf_retries_are_not_logged_as_errors() -> None:
    noise = logging.LogRecord(
        "kopf.objects", logging.ERROR, __file__, 1, "Handler 'x' failed temporarily: wait", (), None
    )
    crash = logging.LogRecord(
        "kopf.objects", logging.ERROR, __file__, 1, "Handler 'x' failed with an exception", (), None
    )
    assert not logs.RetryNoiseFilter().filter(noise)
    assert logs.RetryNoiseFilter().filter(crash)


def test_metrics_count_calls_and_jobs_by_status() -> None:
    m = Metrics()
    m.observe_call(Op.DESCRIBE, "throttled", 0.01)
    m.job_state("a", "InProgress")
    m.job_state("b", "InProgress")
    m.job_state("a", "Completed")
    m.job_state("b", None)
    text = m.render().decode()
    assert (
        'hpo_sagemaker_calls_total{account="own",operation="DescribeHyperParameterTuningJob",'
        'outcome="throttled",region=""} 1.0' in text
    )
    assert 'hpo_tuning_jobs{status="InProgress"} 0.0' in text
    assert 'hpo_tuning_jobs{status="Completed"} 1.0' in text
