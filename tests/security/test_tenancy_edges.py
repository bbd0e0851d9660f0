"""Tenancy edges (issue 13, items 4-6): what a tenant, or whoever may annotate a namespace, can do
to the operator through annotations, deletions and bursts, against the live operator and emulator.

Tenants act through impersonation (`Impersonate-User`) with a Role in their own namespace only:
edit rights on HyperParameterTuningJobs and their status subresource, as platform roles grant.
- F9: a namespace's `services.k8s.aws/endpoint-url` pointing at a plain-HTTP server on a
  non-loopback address of this machine gets ACK.Terminal naming the annotation; the server never
  sees a connection (so no access key ID, session token or body).
- F8: a resource whose region, endpoint or adoption annotations are unusable, or whose spec is
  invalid, is gone right after its delete, with no SageMaker call at all.
- Noise: deleting resources faster than the operator's own Describe budget posts no
  `ClientRateLimited` Warning Event; the deferrals are a metric and one log line.
- The probes and /metrics do not listen on the machine's other addresses.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from support.capture import Capture, non_loopback_address
from support.crash_after_create import CRASH_AFTER_CREATE, EXIT_CODE
from support.faultkit import Emulator, Resources
from support.operator_harness import OperatorProcess, job_name, tuning_job, wait_for

ENDPOINT = "services.k8s.aws/endpoint-url"
REGION = "services.k8s.aws/region"
ADOPT = "services.k8s.aws/adoption-policy"
ADOPT_FIELDS = "services.k8s.aws/adoption-fields"
GONE_WITHIN = 20.0  # seconds: a release needs one reconcile, no backoff (before: 21 minutes)


def tenant(k8s_api: Any, namespace: str, user: str) -> Resources:
    """`user` with a Role in `namespace` only (jobs and their status, all verbs; Events read),
    and a Resources acting as that user."""
    from kubernetes import client

    rbac = client.RbacAuthorizationV1Api(k8s_api)
    role = client.V1Role(
        metadata=client.V1ObjectMeta(name=user),
        rules=[
            client.V1PolicyRule(
                api_groups=["sagemaker.services.k8s.aws"],
                resources=["hyperparametertuningjobs", "hyperparametertuningjobs/status"],
                verbs=["get", "list", "watch", "create", "update", "patch", "delete"],
            ),
            client.V1PolicyRule(api_groups=[""], resources=["events"], verbs=["get", "list"]),
        ],
    )
    rbac.create_namespaced_role(namespace, role)
    binding = client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name=user),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name=user),
        subjects=[
            client.RbacV1Subject(api_group="rbac.authorization.k8s.io", kind="User", name=user)
        ],
    )
    rbac.create_namespaced_role_binding(namespace, binding)
    acting = client.ApiClient(configuration=k8s_api.configuration)
    acting.set_default_header("Impersonate-User", user)
    return Resources(acting)


def annotate_namespace(resources: Resources, namespace: str, annotations: dict[str, str]) -> None:
    resources.core.patch_namespace(namespace, {"metadata": {"annotations": annotations}})


def true_condition(status: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for item in status.get("conditions") or []:
        if item.get("type") == kind and item.get("status") == "True":
            found: dict[str, Any] = item
            return found
    return None


def events_with_reason(resources: Resources, namespace: str, reason: str) -> list[Any]:
    return [e for e in resources.events(namespace) if e.reason == reason]


@pytest.fixture
def capture() -> Iterator[Capture]:
    """A plain-HTTP capture server on a non-loopback address of this machine."""
    address = non_loopback_address()
    if address is None:
        pytest.skip("no address but loopback: tests/unit/test_endpoints.py covers the client")
    with Capture(address) as server:
        yield server


@pytest.fixture
def live(
    namespace: str,
    emulators: Callable[..., Emulator],
    operators: Callable[..., OperatorProcess],
) -> tuple[Emulator, OperatorProcess]:
    """An emulator and an operator watching the test's namespace."""
    emulator = emulators()
    return emulator, operators(emulator.url, [namespace])


def test_a_plain_http_namespace_endpoint_gets_no_request_and_releases_at_once(
    namespace: str,
    resources: Resources,
    k8s_api: Any,
    capture: Capture,
    live: tuple[Emulator, OperatorProcess],
) -> None:
    emulator, _ = live
    # Whoever may annotate the namespace points it at the capture server.
    annotate_namespace(resources, namespace, {ENDPOINT: capture.url})
    victim = tenant(k8s_api, namespace, "tenant-a")
    victim.create(namespace, tuning_job("tuning", job_name("captured")))

    def refused() -> dict[str, Any] | None:
        return true_condition(victim.status(namespace, "tuning"), "ACK.Terminal")

    terminal = wait_for(refused, 60, "ACK.Terminal naming the endpoint annotation")
    assert f"namespace annotation {ENDPOINT}" in terminal["message"]
    assert "--allow-unsafe-aws-endpoint-urls" in terminal["message"]
    victim.delete(namespace, "tuning")
    victim.wait_gone(namespace, "tuning", timeout=GONE_WITHIN)
    assert capture.connections == 0 and capture.seen == [], capture.seen[:1]
    assert emulator.total_calls() == 0  # nor was the operator's own endpoint used instead


def test_an_endpoint_the_operator_was_started_to_allow_is_used(
    namespace: str,
    resources: Resources,
    k8s_api: Any,
    capture: Capture,
    emulators: Callable[..., Emulator],
    operators: Callable[..., OperatorProcess],
) -> None:
    """The allow-list is explicit and exact: the named plain-HTTP endpoint gets the requests."""
    operators(emulators().url, [namespace], HPO_ALLOW_UNSAFE_AWS_ENDPOINT_URLS=capture.url)
    annotate_namespace(resources, namespace, {ENDPOINT: capture.url})
    tenant(k8s_api, namespace, "tenant-a").create(namespace, tuning_job("sent", job_name("sent")))
    wait_for(lambda: capture.seen, 60, "the allowed endpoint to get the Create")
    assert "CreateHyperParameterTuningJob" in capture.seen[0]


def test_a_create_whose_answer_was_lost_is_still_found_and_stopped_on_delete(
    namespace: str,
    k8s_api: Any,
    emulators: Callable[..., Emulator],
    operators: Callable[..., OperatorProcess],
) -> None:
    """Deletion skips SageMaker only when no job can exist: the operator dies right after a
    Create (no ARN, no recorded name, no status), the resource is deleted meanwhile, and the
    next operator still finds the job by its tags and stops it before releasing."""
    emulator = emulators(training_seconds=600.0, stop_seconds=0.5)
    tenant_a = tenant(k8s_api, namespace, "tenant-a")
    name = job_name("lost")
    doomed = operators(emulator.url, [namespace], command=CRASH_AFTER_CREATE)
    tenant_a.create(namespace, tuning_job("lost", name, max_jobs=50, parallel=1))
    assert doomed.wait_exit(timeout=60) == EXIT_CODE
    assert "ackResourceMetadata" not in tenant_a.status(namespace, "lost")
    tenant_a.delete(namespace, "lost")
    operators(emulator.url, [namespace])
    tenant_a.wait_gone(namespace, "lost", timeout=60)
    assert emulator.job_states()[name.lower()][0] in ("Stopping", "Stopped")


def test_unusable_annotations_and_invalid_specs_never_hold_a_deletion(
    namespace: str, resources: Resources, k8s_api: Any, live: tuple[Emulator, OperatorProcess]
) -> None:
    emulator, _ = live
    tenant_a = tenant(k8s_api, namespace, "tenant-a")
    grid = tuning_job("invalid-spec", job_name("grid"))
    grid["spec"]["hyperParameterTuningJobConfig"]["strategy"] = "Grid"  # integer ranges: refused
    cases = {
        "bad-region": tuning_job("bad-region", annotations={REGION: "us west 2"}),
        "bad-policy": tuning_job("bad-policy", annotations={ADOPT: "steal"}),
        "bad-fields": tuning_job(
            "bad-fields", annotations={ADOPT: "adopt", ADOPT_FIELDS: "{not json"}
        ),
        "invalid-spec": grid,
    }
    for manifest in cases.values():
        tenant_a.create(namespace, manifest)

    def all_reported() -> bool:
        statuses = [tenant_a.status(namespace, name) for name in cases]
        return all(
            true_condition(status, "ACK.Terminal") or true_condition(status, "ACK.Recoverable")
            for status in statuses
        )

    wait_for(all_reported, 60, "every resource's problem in its status")
    before = emulator.total_calls()
    for name in cases:
        tenant_a.delete(namespace, name)
    for name in cases:
        tenant_a.wait_gone(namespace, name, timeout=GONE_WITHIN)
    assert emulator.total_calls() == before, emulator.calls()
    released = [e.message for e in events_with_reason(resources, namespace, "Released")]
    assert len(released) == len(cases), released


def test_the_operators_own_rate_limiting_posts_no_warning_event_per_resource(
    namespace: str,
    resources: Resources,
    k8s_api: Any,
    emulators: Callable[..., Emulator],
    operators: Callable[..., OperatorProcess],
) -> None:
    emulator = emulators(training_seconds=600.0, stop_seconds=0.5)
    operator = operators(
        emulator.url,
        [namespace],
        HPO_AWS_RATE_LIMITS="DescribeHyperParameterTuningJob=1:1",
        HPO_DEFERRAL_LOG_INTERVAL="1",
    )
    tenant_a = tenant(k8s_api, namespace, "tenant-a")
    names = [f"burst-{i}" for i in range(8)]
    for name in names:
        tenant_a.create(namespace, tuning_job(name, job_name(name), max_jobs=50, parallel=1))
    for name in names:
        tenant_a.wait_state(namespace, name, {"InProgress"}, timeout=90)
    for name in names:  # all at once: more Describes than the budget lets through in 2 s
        tenant_a.delete(namespace, name)
    for name in names:
        tenant_a.wait_gone(namespace, name, timeout=180)

    def deferred() -> float:
        found = re.findall(
            r'^hpo_client_rate_limited_total\{operation="DescribeHyperParameterTuningJob"\} (\S+)$',
            operator.metrics(),
            re.M,
        )
        return float(found[0]) if found else 0.0

    assert events_with_reason(resources, namespace, "ClientRateLimited") == []
    assert deferred() > 0, "the budget deferred nothing: the test did not test"
    released = events_with_reason(resources, namespace, "Released")
    assert len(released) == len(names) and all("Stopped" in e.message for e in released)
    wait_for(lambda: "budget in us-west-2" in operator.tail(400), 30, "the deferral log line")
    lines = [line for line in operator.tail(400).splitlines() if "deferred" in line]
    assert lines and all("DescribeHyperParameterTuningJob" in line for line in lines)
    assert len(lines) < deferred()  # aggregated, not one line per deferral


def test_probes_and_metrics_do_not_listen_on_other_addresses(
    live: tuple[Emulator, OperatorProcess],
) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("no address but loopback")
    _, operator = live  # started: /healthz answered on loopback
    assert operator.metrics()  # and /metrics too
    for port in (operator.health_port, operator.metrics_port):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(5)
            assert probe.connect_ex((address, port)) != 0, f"{address}:{port} accepts"
