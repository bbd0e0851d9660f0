"""Which job a resource acts on, where it runs, and whether it is provably the resource's: the
annotations and settings read, the job name chosen among spec, annotation and status ARN, and
ownership from the job's system tags. Pure, like the decisions that use it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from hpo_operator.core.accounts import placement
from hpo_operator.core.endpoints import endpoint_problem, region_problem
from hpo_operator.core.outcome import status_arn
from hpo_operator.core.types import (
    ARN_JOB_MARK,
    Call,
    Mode,
    Observation,
    Op,
    ReconcileSettings,
    Resource,
    Target,
)
from hpo_operator.identity import (
    ANN_ADOPTION_FIELDS,
    ANN_ADOPTION_POLICY,
    ANN_DEFAULT_REGION,
    ANN_DELETION_POLICY,
    ANN_ENDPOINT_URL,
    ANN_JOB_NAME,
    ANN_NS_DELETION_POLICY,
    ANN_READ_ONLY,
    ANN_REGION,
    TAG_NAME,
    TAG_NAMESPACE,
    TAG_UID,
)
from hpo_operator.model.translate import system_tags, tags_name_resource


def target_of(r: Resource, cfg: ReconcileSettings) -> Target:
    """Region, endpoint, mode, deletion policy and job name, from annotations and settings.

    Region: resource annotation, then the namespace's default-region, then the operator's.
    Endpoint: the namespace annotation, then the operator's. Deletion policy: resource, namespace,
    operator. The job name is the one recorded at Create/adoption, else the spec's (or
    adoption-fields' for adoption).
    """
    ann, ns_ann = r.annotations, r.namespace_annotations
    region = ann.get(ANN_REGION) or ns_ann.get(ANN_DEFAULT_REGION) or cfg.default_region
    endpoint = ns_ann.get(ANN_ENDPOINT_URL) or cfg.endpoint_url
    policy = (
        ann.get(ANN_DELETION_POLICY)
        or ns_ann.get(ANN_NS_DELETION_POLICY)
        or ns_ann.get(ANN_DELETION_POLICY)
        or cfg.deletion_policy
    ).lower()
    problem: str | None = None
    if policy not in ("delete", "retain"):
        problem = f'annotation {ANN_DELETION_POLICY} must be "delete" or "retain", not {policy!r}'
        policy = "retain"  # never stop a job on a policy the operator cannot read
    mode = Mode.MANAGED
    job_name = str(r.spec.get("hyperParameterTuningJobName") or "")
    if ann.get(ANN_READ_ONLY, "").lower() == "true":
        mode = Mode.READ_ONLY
    elif ann.get(ANN_ADOPTION_POLICY, "").lower() == "adopt":
        mode = Mode.ADOPT
        job_name, problem = _adoption_fields(ann.get(ANN_ADOPTION_FIELDS), job_name)
    elif ann.get(ANN_ADOPTION_POLICY, "").lower() == "adopt-or-create":
        mode = Mode.ADOPT_OR_CREATE
        named, problem = _adoption_fields(ann.get(ANN_ADOPTION_FIELDS), job_name)
        if problem is None and named.lower() != job_name.lower():
            problem = (
                f"annotation {ANN_ADOPTION_FIELDS} names job {named!r} but "
                f"spec.hyperParameterTuningJobName is {job_name!r}: with adopt-or-create the job "
                "is created from the spec when it does not exist, so they must name the same job"
            )
    elif ann.get(ANN_ADOPTION_POLICY):
        problem = f'annotation {ANN_ADOPTION_POLICY} supports only "adopt" and "adopt-or-create"'
    if mode is not Mode.READ_ONLY:
        job_name = choose_job_name(ann.get(ANN_JOB_NAME), status_arn(r.status), job_name)
    place = placement(
        ns_ann,
        r.status,
        r.role_maps,
        enabled=cfg.carm,
        teams_enabled=cfg.carm_teams,
        own_account=cfg.account_id,
    )
    unreachable = _unreachable(r, cfg, region, endpoint)
    reason = None
    if unreachable is None and place.problem is not None:
        unreachable, reason = place.problem, "RoleUnavailable"
    if unreachable is not None:
        problem = unreachable  # the first thing to fix: nothing can be sent until it is
    if not job_name and problem is None:
        problem = "spec.hyperParameterTuningJobName is empty"
    if not region and problem is None:
        problem = (
            "no AWS region: annotate the resource with services.k8s.aws/region, or its namespace "
            "with services.k8s.aws/default-region, or start the operator with --region"
        )
    return Target(
        job_name,
        region,
        endpoint,
        mode,
        policy,
        problem,
        unreachable=unreachable,
        unreachable_reason=reason,
        account=place.account,
        role_arn=place.role_arn,
        account_note=place.note,
    )


def _adoption_fields(raw: str | None, named: str) -> tuple[str, str | None]:
    """The job name ACK's adoption-fields annotation gives (a JSON object whose
    hyperParameterTuningJobName is the job's identifier), else `named` (the spec's), and what is
    wrong with the annotation."""
    if not raw:
        return named, None
    try:
        fields = json.loads(raw)
    except ValueError as error:
        return named, f"annotation {ANN_ADOPTION_FIELDS} is not JSON: {error}"
    if isinstance(fields, Mapping) and fields.get("hyperParameterTuningJobName"):
        return str(fields["hyperParameterTuningJobName"]), None
    return named, (
        f'annotation {ANN_ADOPTION_FIELDS} must be a JSON object with "hyperParameterTuningJobName"'
    )


def _unreachable(
    r: Resource, cfg: ReconcileSettings, region: str | None, endpoint: str | None
) -> str | None:
    """Why the region or endpoint this resource resolves to cannot be used, naming where it
    came from; None when both can (or no region is set at all: `target_of` says so)."""
    if region:
        why = region_problem(region)
        if why is not None:
            if r.annotations.get(ANN_REGION):
                where = f"annotation {ANN_REGION}"
            elif r.namespace_annotations.get(ANN_DEFAULT_REGION):
                where = f"namespace annotation {ANN_DEFAULT_REGION}"
            else:
                where = "the operator's --region"
            return f"{where}: {why}"
    if endpoint:
        why = endpoint_problem(endpoint, cfg.unsafe_endpoints)
        if why is not None:
            if r.namespace_annotations.get(ANN_ENDPOINT_URL):
                return f"namespace annotation {ANN_ENDPOINT_URL}: {why}"
            return f"the operator's --endpoint-url: {why}"
    return None


def choose_job_name(recorded: str | None, arn: str | None, named: str) -> str:
    """The job a resource acts on, from the name recorded at Create/adoption (an annotation: anyone
    who may edit the resource may edit it), the status ARN (anyone who may write status may write
    it) and the spec's (or adoption-fields') name. None of them is trusted alone:

    - two that agree win (names compared case-insensitively, as SageMaker does; ARNs carry them
      lower-cased): recorded = spec outvotes a status ARN pointing elsewhere; recorded = ARN is a
      spec renamed after Create (reported as immutable); spec = ARN outvotes an edited annotation;
    - no recorded name (ACK's resources, or the annotation removed) and the ARN names another job
      than the spec: the ARN's job, which is then followed only if its tags prove it is this
      resource's (`ownership`), like any job a process has not proven yet;
    - otherwise the recorded name, else the spec's.
    """
    owned = (_arn_job(arn) if arn and ARN_JOB_MARK in arn else "") or None
    rec = recorded.lower() if recorded else None
    if recorded and rec == named.lower():
        return recorded
    if owned is not None and owned == rec:
        return str(recorded)
    if owned is not None and owned == named.lower():
        return named
    if owned is not None and not recorded:
        return owned
    return recorded or named


def job_ref(t: Target) -> str:
    """What a proof of ownership is about: one job name in one region and endpoint, reached with
    one role (an account: the same name in another account is another job)."""
    return f"{t.role_arn or ''}|{t.region or ''}|{t.endpoint_url or ''}|{t.job_name.lower()}"


def owned_by(tags: Sequence[Mapping[str, Any]], r: Resource) -> bool:
    """Whether a job's tags name this very resource (namespace, name and uid)."""
    return tags_name_resource(tags, r.namespace, r.name, r.uid)


class Claim(Enum):
    """Whose a job is, by its system tags, seen from one resource."""

    THIS = "this"  # namespace, name and uid of this resource: created or adopted by it
    NAMESPACE = "namespace"  # this namespace, no resource named: ACK's tags (it created the job)
    FREE = "free"  # no owner tags: made outside Kubernetes
    SIBLING = "sibling"  # another resource of this namespace
    FOREIGN = "foreign"  # another namespace's


def claim(tags: Sequence[Mapping[str, Any]], r: Resource) -> Claim:
    """Who the job's system tags say holds it."""
    if owned_by(tags, r):
        return Claim.THIS
    found = {str(t.get("Key")): str(t.get("Value")) for t in tags if isinstance(t, Mapping)}
    if not {TAG_NAMESPACE, TAG_NAME, TAG_UID} & found.keys():
        return Claim.FREE
    if found.get(TAG_NAMESPACE) != r.namespace:
        return Claim.FOREIGN
    return Claim.SIBLING if {TAG_NAME, TAG_UID} & found.keys() else Claim.NAMESPACE


# Per mode, the claims under which the operator may act on the job as it is (read-only: read it;
# managed and adopt: follow, report and stop it), and those the resource first records itself
# over with AddTags, so that no other resource can take the job after it: an adoption, and a job
# ACK's controller made for this namespace (a resource migrated from ACK).
ACCEPTED = {
    Mode.MANAGED: frozenset({Claim.THIS}),
    Mode.ADOPT: frozenset({Claim.THIS}),
    Mode.ADOPT_OR_CREATE: frozenset({Claim.THIS}),
    Mode.READ_ONLY: frozenset({Claim.THIS, Claim.NAMESPACE, Claim.FREE, Claim.SIBLING}),
}
RECORDABLE = {
    Mode.MANAGED: frozenset({Claim.NAMESPACE}),
    Mode.ADOPT: frozenset({Claim.FREE, Claim.NAMESPACE}),
    Mode.ADOPT_OR_CREATE: frozenset({Claim.FREE, Claim.NAMESPACE}),
}


def ownership(r: Resource, t: Target, obs: Observation, arn: str, version: str) -> Call | bool:
    """Whether `t.job_name` is provably this resource's: True, False (refuse, and change nothing),
    or the call that tells (ListTags once per process, cached by the shell; AddTags recording an
    adoption on the job, so that no other resource can adopt it again)."""
    if obs.known == job_ref(t) or obs.created_arn or obs.tagged:
        return True
    if obs.tags is None:
        return Call(Op.LIST_TAGS, t.job_name, arn=arn)
    held = claim(obs.tags, r)
    if held in ACCEPTED[t.mode]:
        return True
    if held in RECORDABLE.get(t.mode, ()):
        tags = system_tags(r.namespace, r.name, r.uid, version)
        return Call(Op.ADD_TAGS, t.job_name, request={"Tags": tags}, arn=arn)
    return False


def proven(r: Resource, t: Target, obs: Observation) -> bool:
    if obs.known == job_ref(t) or obs.created_arn or obs.tagged:
        return True
    return obs.tags is not None and claim(obs.tags, r) in ACCEPTED[t.mode]


def arn_names(arn: str | None, t: Target) -> bool:
    """Whether a status ARN is the ARN of the job the resource acts on."""
    return bool(arn) and ARN_JOB_MARK in str(arn) and _arn_job(str(arn)) == t.job_name.lower()


def _arn_job(arn: str) -> str:
    return arn.rsplit("/", 1)[-1].lower()
