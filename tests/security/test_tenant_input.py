"""A tenant's input, as the tenant sends it: issue 13's tag findings (F4, F5, F6) and the
documented cross-field rules (F7), against the real API server, the operator as a process and the
emulator, which judges every request as AWS would (its own code).

The tenant is impersonated (`kubectl --as`) and holds a Role in its own namespace only, with
status write as some platforms grant it. The tag rules the CRD can carry (46 tags beside the
operator's 4, unique keys, no `aws:` or `services.k8s.aws/` key) are refused by `kubectl apply`,
naming the field; each other spec SageMaker documents as invalid gets `ACK.Terminal` and a
Warning Event naming the field, and the emulator never sees a Create for it; what AWS accepts
(any script in tags, 46 tags) runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hpo_operator.identity import SYSTEM_TAG_KEYS
from support.faultkit import Emulator, Resources
from support.kube import Kubectl
from support.operator_harness import OperatorProcess, job_name, tuning_job, wait_for

CREATE = "CreateHyperParameterTuningJob"
TENANT = "tenant-a@example.com"
DEF = "spec.trainingJobDefinition"
RANGES = "spec.hyperParameterTuningJobConfig.parameterRanges"


@pytest.fixture
def tenant(kubectl: Kubectl, namespace: str) -> Iterator[Callable[..., Any]]:
    """`tenant(*kubectl args)`: kubectl as a user bound to a Role in `namespace` only."""
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "hpo-tenant", "namespace": namespace},
        "rules": [
            {
                "apiGroups": ["sagemaker.services.k8s.aws"],
                "resources": ["hyperparametertuningjobs", "hyperparametertuningjobs/status"],
                "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
            },
            {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]},
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "hpo-tenant", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "hpo-tenant"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": TENANT}],
    }
    kubectl.apply(role)
    kubectl.apply(binding)

    def run(*args: str, input: str | None = None, check: bool = True) -> Any:
        return kubectl(*args, f"--as={TENANT}", "-n", namespace, input=input, check=check)

    yield run


@pytest.fixture
def emulator(
    namespace: str,
    emulators: Callable[..., Emulator],
    operators: Callable[..., OperatorProcess],
) -> Emulator:
    """An emulator, and the operator (region us-west-2) watching `namespace` against it."""
    started = emulators()
    operators(started.url, [namespace])
    return started


def _manifest(name: str, edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    manifest = tuning_job(name, job_name(name))
    edit(manifest["spec"])
    return manifest


def _tags(*keys: str) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec.update(tags=[{"key": key, "value": "v"} for key in keys])


def _ranges(spec: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = spec["hyperParameterTuningJobConfig"]["parameterRanges"]
    return found


# (resource name, edit of the spec, the field the Terminal condition and the Event must name)
REFUSED: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "dup-range",
        lambda spec: _ranges(spec).update(
            categoricalParameterRanges=[{"name": "num_round", "values": ["10", "20"]}]
        ),
        f"{RANGES}.categoricalParameterRanges[0].name",
    ),
    (
        "static-tuned",
        lambda spec: spec["trainingJobDefinition"]["staticHyperParameters"].update(num_round="15"),
        f"{DEF}.staticHyperParameters.num_round",
    ),
    (
        "bad-regex",
        lambda spec: spec["trainingJobDefinition"]["algorithmSpecification"].update(
            metricDefinitions=[{"name": "validation:error", "regex": "error=([0-9.]+"}]
        ),
        f"{DEF}.algorithmSpecification.metricDefinitions[0].regex",
    ),
    (
        "china-role",  # the operator runs in us-west-2: partition aws
        lambda spec: spec["trainingJobDefinition"].update(
            roleARN="arn:aws-cn:iam::123456789012:role/SageMakerExecution"
        ),
        f"{DEF}.roleARN",
    ),
    (
        "short-wait",
        lambda spec: spec["trainingJobDefinition"]["stoppingCondition"].update(
            maxWaitTimeInSeconds=60
        ),
        f"{DEF}.stoppingCondition.maxWaitTimeInSeconds",
    ),
]


# The tag rules the CRD carries (CEL, maxItems): `kubectl apply` refuses them, naming the field.
REFUSED_AT_APPLY: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "dup-tag",
        _tags("team", "owner", "team"),
        "spec.tags: Invalid value: tag keys must be unique",
    ),
    (
        "system-tag",
        _tags("team", "services.k8s.aws/namespace"),
        "spec.tags[1].key: Invalid value: keys under services.k8s.aws/",
    ),
    (
        "aws-tag",
        _tags("Aws:cost-center"),
        "spec.tags[0].key: Invalid value: keys starting with aws: are reserved by AWS",
    ),
    (
        "too-many-tags",
        _tags(*(f"k{i}" for i in range(50 - len(SYSTEM_TAG_KEYS) + 1))),
        f"spec.tags: Too many: 47: must have at most {50 - len(SYSTEM_TAG_KEYS)} items",
    ),
]


def _terminal(resources: Resources, namespace: str, name: str) -> dict[str, Any] | None:
    for item in resources.status(namespace, name).get("conditions") or []:
        if item.get("type") == "ACK.Terminal" and item.get("status") == "True":
            found: dict[str, Any] = item
            return found
    return None


def _warnings(resources: Resources, namespace: str, name: str, field: str) -> list[Any]:
    return [
        event
        for event in resources.events(namespace)
        if event.involved_object.name == name
        and event.type == "Warning"
        and f"{field}: " in (event.message or "")
    ]


def test_documented_invalid_specs_are_terminal_and_never_sent(
    namespace: str, tenant: Callable[..., Any], resources: Resources, emulator: Emulator
) -> None:
    for name, edit, _ in REFUSED:
        tenant("apply", "-f", "-", input=json.dumps(_manifest(name, edit)))
    for name, _, field in REFUSED:
        condition = wait_for(
            lambda name=name: _terminal(resources, namespace, name), 60, f"{name} ACK.Terminal"
        )
        assert condition["reason"] == "InvalidSpec", (name, condition)
        assert f"{field}: " in condition["message"], (name, condition["message"])
        wait_for(
            lambda name=name, field=field: _warnings(resources, namespace, name, field),
            30,
            f"a Warning Event on {name} naming {field}",
        )
    # The tenant reads why in its own namespace.
    described = tenant("get", "hyperparametertuningjob", "static-tuned", "-o", "json")
    assert f"{DEF}.staticHyperParameters.num_round: must not also be tuned" in described.stdout
    assert CREATE not in emulator.calls(), emulator.calls()


@pytest.mark.parametrize(
    ("name", "edit", "said"), REFUSED_AT_APPLY, ids=[c[0] for c in REFUSED_AT_APPLY]
)
def test_tag_rules_are_refused_at_apply(
    tenant: Callable[..., Any], name: str, edit: Callable[[dict[str, Any]], None], said: str
) -> None:
    refused = tenant("apply", "-f", "-", input=json.dumps(_manifest(name, edit)), check=False)
    assert refused.returncode != 0 and said in refused.stderr, refused.stderr
    assert tenant("get", "hyperparametertuningjobs", "-o", "name").stdout == ""


def test_tags_as_aws_counts_them(
    namespace: str, tenant: Callable[..., Any], resources: Resources, emulator: Emulator
) -> None:
    """46 spec tags + the operator's 4 reach AWS's 50 and run; tags in any script run."""
    limit = 50 - len(SYSTEM_TAG_KEYS)
    full = _manifest("full-tags", _tags(*(f"k{i}" for i in range(limit))))
    unicode_tags = [
        {"key": "équipe", "value": "données"},
        {"key": "チーム", "value": "機械学習 ٣"},
        {"key": "команда", "value": "a\u00a0b"},
    ]
    letters = _manifest("unicode-tags", lambda spec: spec.update(tags=unicode_tags))
    for manifest in (full, letters):
        tenant("apply", "-f", "-", input=json.dumps(manifest))
    for manifest in (full, letters):
        name = manifest["metadata"]["name"]
        resources.wait_state(namespace, name, {"InProgress", "Completed"}, timeout=60)
    jobs = emulator.job_states()
    sent_full = jobs[full["spec"]["hyperParameterTuningJobName"].lower()][1]
    assert len(sent_full) == 50 and set(SYSTEM_TAG_KEYS) <= set(sent_full)
    sent_letters = jobs[letters["spec"]["hyperParameterTuningJobName"].lower()][1]
    assert {t["key"]: t["value"] for t in unicode_tags}.items() <= sent_letters.items()
    assert emulator.calls()[CREATE] == {"ok": 2}, emulator.calls()
