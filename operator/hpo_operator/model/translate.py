"""Spec → CreateHyperParameterTuningJob request, Describe response → status, and system tags.

Both directions walk botocore's shapes and respell members through `naming.fields_of`, so a field
exists in a request exactly when the CRD declares it. Map keys (hyperparameters, environment) are
data and pass through untouched. Nothing here validates: `validate.py` reports problems first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.model import Shape

from hpo_operator.identity import (
    SYSTEM_TAG_KEYS,
    TAG_CONTROLLER_VERSION,
    TAG_NAME,
    TAG_NAMESPACE,
    TAG_UID,
)
from hpo_operator.model import awsmodel
from hpo_operator.model.naming import field_name, fields_of
from hpo_operator.model.timestamps import parse_timestamp

AWS_TAG_PREFIX = "aws:"  # reserved by AWS in any letter case: no user tag key may start with it


def spec_tag_limit() -> int:
    """How many tags a spec may hold: AWS's maximum (the model's TagList) less the system tags."""
    return int(awsmodel.shape("TagList").metadata["max"]) - len(SYSTEM_TAG_KEYS)


def spec_to_request(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The CreateHyperParameterTuningJob request for a manifest's spec (ACK names → AWS names).

    Values keep their types (a string stays a string, an integer an integer); unset and null fields
    are left out; fields the model does not know are left out here and reported by validation.
    """
    request = _to_request(awsmodel.input_shape(awsmodel.CREATE), spec)
    return dict(request) if isinstance(request, Mapping) else {}


def _to_request(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        table = fields_of(shape)
        out: dict[str, Any] = {}
        for key, item in value.items():
            member = table.get(key)
            if member is not None and item is not None:
                out[member] = _to_request(shape.members[member], item)
        return out
    if kind == "list" and isinstance(value, list | tuple):
        return [_to_request(shape.member, item) for item in value if item is not None]
    if kind == "map" and isinstance(value, Mapping):
        return {k: _to_request(shape.value, v) for k, v in value.items() if v is not None}
    return value


def describe_to_status(describe: Mapping[str, Any]) -> dict[str, Any]:
    """Status fields (ACK names) from a DescribeHyperParameterTuningJob response.

    Only the members in `awsmodel.STATUS_MEMBERS` (the fields the CRD's status declares); nulls are
    left out; timestamps (datetime, ISO string or epoch seconds) become RFC 3339 UTC strings.
    """
    output = awsmodel.output_shape(awsmodel.DESCRIBE)
    status: dict[str, Any] = {}
    for member in awsmodel.STATUS_MEMBERS:
        value = describe.get(member)
        if value is not None:
            status[field_name(member)] = _to_status(output.members[member], value)
    return status


# The status fields of a job's results (`core.results`), additions to ACK's status: the top
# training jobs (ListTrainingJobsForHyperParameterTuningJob's summaries), the Completed count they
# were read at, and BestTrainingJob's model artifact (DescribeTrainingJob's ModelArtifacts, with
# the training job it was read for).
TOP_TRAINING_JOBS = "topTrainingJobs"
TOP_TRAINING_JOBS_COMPLETED = "topTrainingJobsCompleted"
BEST_MODEL_ARTIFACTS = "bestTrainingJobModelArtifacts"
RESULT_FIELDS = (TOP_TRAINING_JOBS, TOP_TRAINING_JOBS_COMPLETED, BEST_MODEL_ARTIFACTS)


def trainings_to_status(listed: Mapping[str, Any]) -> list[Any]:
    """`topTrainingJobs` from a ListTrainingJobsForHyperParameterTuningJob page."""
    member = awsmodel.output_shape(awsmodel.LIST_TRAININGS).members["TrainingJobSummaries"]
    found = _to_status(member, list(listed.get("TrainingJobSummaries") or []))
    return list(found)


def model_artifacts_to_status(training_job: str, described: Mapping[str, Any]) -> dict[str, Any]:
    """`bestTrainingJobModelArtifacts` from a DescribeTrainingJob answer for `training_job`."""
    member = awsmodel.output_shape(awsmodel.DESCRIBE_TRAINING).members["ModelArtifacts"]
    artifacts = _to_status(member, described.get("ModelArtifacts") or {})
    return {field_name("TrainingJobName"): training_job, **artifacts}


def _to_status(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        return {
            field_name(member): _to_status(shape.members[member], item)
            for member, item in value.items()
            if member in shape.members and item is not None
        }
    if kind == "list" and isinstance(value, list | tuple):
        return [_to_status(shape.member, item) for item in value if item is not None]
    if kind == "map" and isinstance(value, Mapping):
        return {k: _to_status(shape.value, v) for k, v in value.items() if v is not None}
    if kind == "timestamp":
        return rfc3339(value)
    return value


def rfc3339(value: datetime | str | float) -> str:
    """A timestamp as Kubernetes writes one: `2024-01-02T03:04:05Z` (UTC, whole seconds).

    Accepts what boto3 returns (aware datetimes), ISO 8601 strings from JSON fixtures (`…Z`,
    offsets, fractions) and epoch seconds. A naive datetime is taken as UTC.
    """
    return parse_timestamp(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def system_tags(namespace: str, name: str, uid: str | None, version: str) -> list[dict[str, str]]:
    """The tags that tie a SageMaker job to the resource that created it (AWS Key/Value form),
    one per `SYSTEM_TAG_KEYS`.

    ACK writes `controller-version` and `namespace`; `name` and `uid` are added so that, after a
    crash between Create and the status write, the operator adopts only its own job. The `uid`
    tag is there even when the uid is unknown (`render` of a manifest never applied), with an
    empty value: the API server assigns it, and the tag counts against AWS's limit all the same.
    """
    values = {
        TAG_CONTROLLER_VERSION: f"hpo-operator-{version}",
        TAG_NAMESPACE: namespace,
        TAG_NAME: name,
        TAG_UID: uid or "",
    }
    return [{"Key": key, "Value": values[key]} for key in SYSTEM_TAG_KEYS]


def with_system_tags(
    request: Mapping[str, Any],
    namespace: str,
    name: str,
    uid: str | None,
    version: str,
    defaults: Sequence[Mapping[str, str]] = (),
) -> dict[str, Any]:
    """The request with the default resource tags (`--resource-tags`, those whose key the spec
    does not use: the spec's own win, as in ACK) and then the system tags appended after the
    spec's own tags.

    Validation refuses spec tags under `SYSTEM_TAG_PREFIX` with a message; should one get here
    anyway, it is dropped (AWS rejects duplicate keys, and the system tags must say who owns the
    job).
    """
    own = [
        tag
        for tag in request.get("Tags") or []
        if not (isinstance(tag, Mapping) and tag.get("Key") in SYSTEM_TAG_KEYS)
    ]
    taken = {tag.get("Key") for tag in own if isinstance(tag, Mapping)} | set(SYSTEM_TAG_KEYS)
    extra = [tag for tag in defaults if tag.get("Key") not in taken]
    return {**request, "Tags": [*own, *extra, *system_tags(namespace, name, uid, version)]}


def tags_name_resource(
    tags: Iterable[Mapping[str, Any]], namespace: str, name: str, uid: str
) -> bool:
    """Whether a job's tags (AWS Key/Value form) say it belongs to this very resource.

    All three of namespace, name and uid must match: a job created for a deleted and recreated
    resource of the same name (another uid) is not ours.
    """
    found = {tag.get("Key"): tag.get("Value") for tag in tags if isinstance(tag, Mapping)}
    return (
        found.get(TAG_NAMESPACE) == namespace
        and found.get(TAG_NAME) == name
        and bool(uid)
        and found.get(TAG_UID) == uid
    )
