"""The Helm chart, rendered offline: lint, golden files, values schema, pod security, settings.

Why: the chart is what most users install. The golden files make every rendered change visible in
review (regenerate with HPO_UPDATE_GOLDEN=1 and read the diff); the other checks pin what the
issue promises whatever the values: restricted pod security, probes on the health port, values
mapped onto the operator's HPO_* settings, and the chart's CRD identical to crds/.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from ship.chart import CHART, GOLDEN, REPO, Helm, HelmError, env_of, memory_bytes, one, only

SCOPES: dict[str, dict[str, Any]] = {
    "cluster": {},
    "namespace": {
        "installScope": "namespace",
        "watchNamespaces": ["team-a", "team-b"],
        "replicaCount": 2,
        "aws": {"region": "eu-west-1"},
        "serviceAccount": {
            "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/hpo"}
        },
    },
}


def test_chart_crds_are_byte_identical_to_crds_dir() -> None:
    top = {p.name: p.read_bytes() for p in (REPO / "crds").glob("*.yaml")}
    chart = {p.name: p.read_bytes() for p in (CHART / "crds").glob("*.yaml")}
    assert top, "crds/ is empty: run `make crds`"
    assert chart.keys() == top.keys()
    for name, content in top.items():
        assert chart[name] == content, f"charts/hpo-operator/crds/{name} differs: run `make crds`"


@pytest.mark.parametrize("scope", sorted(SCOPES))
def test_helm_lint(helm: Helm, scope: str, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(json.dumps(SCOPES[scope]))
    result = helm("lint", "--strict", str(CHART), "--values", str(values))
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("scope", sorted(SCOPES))
def test_golden(helm: Helm, scope: str) -> None:
    rendered = helm.template(SCOPES[scope], release="hpo", namespace="hpo-system")
    golden = GOLDEN / f"{scope}.yaml"
    if os.environ.get("HPO_UPDATE_GOLDEN") == "1":
        golden.write_text(rendered)
    assert golden.exists(), f"{golden} is missing: run with HPO_UPDATE_GOLDEN=1"
    assert rendered == golden.read_text(), (
        f"the chart renders differently from {golden.name}; if intended, rerun with "
        "HPO_UPDATE_GOLDEN=1 and review the diff"
    )


@pytest.mark.parametrize("scope", sorted(SCOPES))
def test_restricted_pod_security(helm: Helm, scope: str) -> None:
    pod = one(helm.objects(SCOPES[scope]), "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]


def test_probes_use_the_health_port(helm: Helm) -> None:
    deployment = one(helm.objects({"health": {"port": 9091}}), "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": 8080, "health": 9091}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert env_of(deployment)["HPO_HEALTH_PORT"] == "9091"


def test_values_become_operator_settings(helm: Helm) -> None:
    values = {
        "aws": {
            "region": "us-west-2",
            "endpointUrl": "http://emulator:8090",
            "allowUnsafeEndpointURLs": ["http://emulator:8090", "http://other:80"],
        },
        "pollInterval": 45,
        "stallSweepInterval": 120,
        "deletionPolicy": "retain",
        "log": {"level": "DEBUG", "format": "text"},
        "metrics": {"port": 9090},
        "carm": {"teams": True, "accountId": "111122223333"},
        "extraEnv": [{"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"}],
    }
    env = env_of(one(helm.objects(values), "Deployment"))
    assert env == {
        "HPO_ALL_NAMESPACES": "true",
        "HPO_REGION": "us-west-2",
        "HPO_ENDPOINT_URL": "http://emulator:8090",
        "HPO_ALLOW_UNSAFE_AWS_ENDPOINT_URLS": "http://emulator:8090,http://other:80",
        "HPO_CARM": "true",
        "HPO_CARM_TEAMS": "true",
        "HPO_CARM_NAMESPACE": "hpo-system",  # the role maps are read where the chart installs
        "HPO_ACCOUNT_ID": "111122223333",
        "HPO_POLL_INTERVAL": "45",
        "HPO_STALL_SWEEP_INTERVAL": "120",
        "HPO_DELETION_POLICY": "retain",
        "HPO_TOP_TRAINING_JOBS": "5",
        "HPO_LOG_LEVEL": "DEBUG",
        "HPO_LOG_FORMAT": "text",
        "HPO_METRICS_PORT": "9090",
        "HPO_HEALTH_PORT": "8081",
        "POD_IP": "",  # from the downward API (valueFrom)
        "HPO_BIND_ADDRESS": "127.0.0.1,$(POD_IP)",
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
    }
    from hpo_operator.shell.settings import Settings

    settings = Settings(
        endpoint_url=env["HPO_ENDPOINT_URL"],
        allow_unsafe_aws_endpoint_urls=env["HPO_ALLOW_UNSAFE_AWS_ENDPOINT_URLS"],
    )  # the operator starts with the endpoint the chart allowed
    assert settings.unsafe_endpoints() == {"http://emulator:8090", "http://other:80"}


def test_probes_and_metrics_listen_on_loopback_and_the_pod_ip(helm: Helm) -> None:
    """Issue 13: not 0.0.0.0. The kubelet probes the pod's IP and Prometheus scrapes it, so the
    chart binds it (the downward API) besides loopback; bindAddress overrides."""
    deployment = one(helm.objects(), "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    names = [e["name"] for e in container["env"]]
    assert names.index("POD_IP") < names.index("HPO_BIND_ADDRESS")  # $(POD_IP) is expanded
    assert env["HPO_BIND_ADDRESS"]["value"] == "127.0.0.1,$(POD_IP)"
    chosen = one(helm.objects({"bindAddress": "0.0.0.0"}), "Deployment")
    assert env_of(chosen)["HPO_BIND_ADDRESS"] == "0.0.0.0"


def test_namespace_scope_watches_the_release_namespace_by_default(helm: Helm) -> None:
    objects = helm.objects({"installScope": "namespace"}, namespace="ml")
    assert env_of(one(objects, "Deployment"))["HPO_NAMESPACES"] == "ml"
    assert [r["metadata"]["namespace"] for r in only(objects, "Role")] == ["ml", "ml"]  # + maps


def test_namespace_scope_lists_watched_namespaces(helm: Helm) -> None:
    objects = helm.objects(SCOPES["namespace"])
    assert env_of(one(objects, "Deployment"))["HPO_NAMESPACES"] == "team-a,team-b"
    assert "HPO_ALL_NAMESPACES" not in env_of(one(objects, "Deployment"))


def test_one_replica_runs_standalone(helm: Helm) -> None:
    objects = helm.objects()
    assert "HPO_PEERING_NAME" not in env_of(one(objects, "Deployment"))
    assert not [o for o in objects if o["apiVersion"].startswith("kopf.dev/")]
    assert not only(objects, "CustomResourceDefinition")


def test_more_replicas_turn_on_leader_election_instead_of_peering(helm: Helm) -> None:
    objects = helm.objects({"replicaCount": 3}, release="hpo", namespace="hpo-system")
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    env = env_of(deployment)
    assert "HPO_PEERING_NAME" not in env
    assert {k: v for k, v in env.items() if k.startswith("HPO_LEADER_ELECTION")} == {
        "HPO_LEADER_ELECTION": "true",
        "HPO_LEADER_ELECTION_NAMESPACE": "hpo-system",
        "HPO_LEADER_ELECTION_ID": "hpo-hpo-operator-leader",
        "HPO_LEADER_ELECTION_LEASE_DURATION": "15",
        "HPO_LEADER_ELECTION_RENEW_DEADLINE": "10",
        "HPO_LEADER_ELECTION_RETRY_PERIOD": "2",
    }
    assert not [o for o in objects if o["apiVersion"].startswith("kopf.dev/")]
    assert not only(objects, "CustomResourceDefinition")
    assert one(objects, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    single = env_of(one(helm.objects(), "Deployment"))
    assert not [k for k in single if k.startswith("HPO_LEADER_ELECTION")]  # one replica: off


def test_more_replicas_with_leader_election_off_turn_on_peering(helm: Helm) -> None:
    objects = helm.objects({"replicaCount": 3, "leaderElection": {"enabled": False}})
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert env_of(deployment)["HPO_PEERING_NAME"] == "hpo-hpo-operator"
    peering = one(objects, "ClusterKopfPeering")
    assert peering["metadata"]["name"] == "hpo-hpo-operator"
    assert peering["metadata"]["annotations"] == {"helm.sh/hook": "post-install,post-upgrade"}
    crd = one(objects, "CustomResourceDefinition")
    assert crd["metadata"]["name"] == "clusterkopfpeerings.kopf.dev"
    assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}


def test_namespaced_peering_has_one_object_per_watched_namespace(helm: Helm) -> None:
    peering = {**SCOPES["namespace"], "leaderElection": {"enabled": False}}
    objects = helm.objects(peering)
    peerings = only(objects, "KopfPeering")
    assert sorted(p["metadata"]["namespace"] for p in peerings) == ["team-a", "team-b"]
    assert one(objects, "CustomResourceDefinition")["metadata"]["name"] == "kopfpeerings.kopf.dev"
    no_crds = helm.objects({**peering, "peering": {"installCRDs": False}})
    assert not only(no_crds, "CustomResourceDefinition")
    assert len(only(no_crds, "KopfPeering")) == 2


def test_irsa_annotation_lands_on_the_service_account(helm: Helm) -> None:
    account = one(helm.objects(SCOPES["namespace"]), "ServiceAccount")
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/hpo"
    }


def test_existing_service_account(helm: Helm) -> None:
    objects = helm.objects({"serviceAccount": {"create": False, "name": "mine"}})
    assert not only(objects, "ServiceAccount")
    assert one(objects, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "mine"
    assert one(objects, "ClusterRoleBinding")["subjects"][0]["name"] == "mine"


def test_scheduling_values_pass_through(helm: Helm) -> None:
    values = {
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "ml", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {}},
        "podAnnotations": {"example.com/team": "ml"},
        "priorityClassName": "system-cluster-critical",
        "resources": {"requests": {"cpu": "1"}},
        "image": {"repository": "registry.example.com/hpo", "tag": "1.2.3"},
    }
    pod = one(helm.objects(values), "Deployment")["spec"]["template"]
    assert pod["metadata"]["annotations"] == values["podAnnotations"]
    spec = pod["spec"]
    for key in ("nodeSelector", "tolerations", "affinity", "priorityClassName"):
        assert spec[key] == values[key]
    (container,) = spec["containers"]
    assert container["resources"] == {  # helm merges maps with the chart's defaults
        "requests": {"cpu": "1", "memory": "128Mi", "ephemeral-storage": "64Mi"},
        "limits": {"memory": "768Mi", "ephemeral-storage": "256Mi"},
    }
    assert container["image"] == "registry.example.com/hpo:1.2.3"
    digest = "sha256:" + "a" * 64
    pod = one(helm.objects({"image": {"digest": digest}}), "Deployment")["spec"]["template"]
    assert pod["spec"]["containers"][0]["image"] == f"hpo-operator@{digest}"


def test_metrics_service_and_service_monitor(helm: Helm) -> None:
    objects = helm.objects({"metrics": {"serviceMonitor": {"enabled": True, "interval": "30s"}}})
    service = one(objects, "Service")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}
    ]
    monitor = one(objects, "ServiceMonitor")
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s"}
    ]
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    quiet = helm.objects({"metrics": {"enabled": False}})
    assert not only(quiet, "Service") and not only(quiet, "ServiceMonitor")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"log": {"format": "xml"}}, "/log/format"),
        ({"installScope": "everywhere"}, "/installScope"),
        ({"deletionPolicy": "orphan"}, "/deletionPolicy"),
        ({"replicas": 2}, "replicas"),
        ({"aws": {"region": "Ireland"}}, "/aws/region"),
        ({"pollInterval": 0}, "/pollInterval"),
        ({"stallSweepInterval": 0}, "/stallSweepInterval"),
        ({"watchNamespaces": ["team-a"]}, "watchNamespaces is for installScope=namespace"),
        (
            {
                "replicaCount": 2,
                "peering": {"enabled": False},
                "leaderElection": {"enabled": False},
            },
            "replicaCount > 1 needs leader election or peering",
        ),
        (
            {"replicaCount": 2, "peering": {"enabled": True}},
            "leaderElection and peering are both on",
        ),
        (
            {"leaderElection": {"enabled": True, "leaseDuration": 0}},
            "/leaderElection/leaseDuration",
        ),
        ({"serviceAccount": {"create": False}}, "serviceAccount.name is required"),
    ],
)
def test_bad_values_are_refused(helm: Helm, values: dict[str, Any], message: str) -> None:
    with pytest.raises(HelmError, match=re.escape(message)):
        helm.template(values)


def test_chart_app_version_is_the_package_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert chart["appVersion"] == project["version"]


def test_memory_settings_cover_what_the_bench_measured_at_10000_resources(helm: Helm) -> None:
    """The chart's memory request and limit come from `make bench` (`bench/memory.json`, written
    by its history and burst runs): the limit covers every peak measured at 10,000 resources
    (a restart on that history, a burst of that many), the request the steady RSS."""
    record = json.loads((REPO / "bench" / "memory.json").read_text())
    history = [run for run in record["history"] if run["n"] >= 10_000]
    bursts = [run for run in record["burst"] if run["n"] >= 10_000]
    assert history and bursts, "bench/memory.json lacks the 10,000-resource runs: `make bench`"
    # (Not the history's builder: it creates at ten times SageMaker's Create quota, to save time.)
    peaks = [run["restart_peak_rss_mb"] for run in history]
    peaks += [run["peak_rss_mb"] for run in bursts]
    steady = max(run["restart_steady_rss_max_mb"] for run in history)
    (container,) = one(helm.objects(), "Deployment")["spec"]["template"]["spec"]["containers"]
    resources = container["resources"]
    mib = 2**20  # the bench's "MB" is /proc's KiB / 1024
    assert memory_bytes(resources["limits"]["memory"]) / mib >= max(peaks), (resources, peaks)
    assert memory_bytes(resources["requests"]["memory"]) / mib >= steady, (resources, steady)


def test_resource_tags_reach_the_operator_as_ack_spells_them(helm: Helm) -> None:
    """Issue 17: the chart's resourceTags list becomes HPO_RESOURCE_TAGS, which the operator
    parses with ACK's rules; unset, no variable at all."""
    assert "HPO_RESOURCE_TAGS" not in env_of(one(helm.objects(), "Deployment"))
    values = {"resourceTags": ["cost-center=ml-%K8S_NAMESPACE%", "owner=%K8S_RESOURCE_NAME%"]}
    env = env_of(one(helm.objects(values), "Deployment"))
    assert env["HPO_RESOURCE_TAGS"] == "cost-center=ml-%K8S_NAMESPACE%,owner=%K8S_RESOURCE_NAME%"
    from hpo_operator.shell.settings import Settings

    parsed = Settings(resource_tags=env["HPO_RESOURCE_TAGS"]).reconcile_settings().resource_tags
    assert parsed == (("cost-center", "ml-%K8S_NAMESPACE%"), ("owner", "%K8S_RESOURCE_NAME%"))
