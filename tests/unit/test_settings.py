"""Operator settings: flags over HPO_* environment over defaults, validated at startup."""

from __future__ import annotations

import pytest

from hpo_operator.shell.runner import main
from hpo_operator.shell.settings import SettingsError, from_args

ENV = (
    "HPO_NAMESPACES",
    "HPO_ALL_NAMESPACES",
    "HPO_REGION",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "HPO_POLL_INTERVAL",
    "HPO_ENDPOINT_URL",
    "HPO_DELETION_POLICY",
    "HPO_BIND_ADDRESS",
    "HPO_ALLOW_UNSAFE_AWS_ENDPOINT_URLS",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ENV:
        monkeypatch.delenv(key, raising=False)


def test_defaults_follow_the_design_doc() -> None:
    s = from_args([])
    assert s.clusterwide and s.namespaces == ()
    assert s.poll_interval == 30.0 and s.deletion_policy == "delete"
    assert s.log_format == "json" and s.log_level == "INFO"
    assert (s.metrics_port, s.health_port) == (8080, 8081)
    assert s.region is None


def test_environment_then_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HPO_NAMESPACES", "a, b")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("HPO_POLL_INTERVAL", "12")
    s = from_args([])
    assert s.namespaces == ("a", "b") and not s.clusterwide
    assert s.region == "eu-west-1" and s.poll_interval == 12.0
    monkeypatch.setenv("HPO_REGION", "us-east-2")
    assert from_args([]).region == "us-east-2"  # HPO_REGION before AWS_REGION
    s = from_args(["--namespace", "x", "--namespace", "y", "--region", "ap-south-1"])
    assert s.namespaces == ("x", "y") and s.region == "ap-south-1"
    s = from_args(["--poll-interval", "0.5", "--deletion-policy", "retain", "--log-format", "text"])
    assert (s.poll_interval, s.deletion_policy, s.log_format) == (0.5, "retain", "text")
    rs = s.reconcile_settings()
    assert rs.poll_interval == 0.5 and rs.deletion_policy == "retain"


def test_bad_values_are_refused() -> None:
    with pytest.raises(SettingsError):
        from_args(["--poll-interval", "0"])
    with pytest.raises(SettingsError):
        from_args(["--log-level", "chatty"])
    with pytest.raises(SystemExit):
        from_args(["--namespace", "a", "--all-namespaces"])


def test_run_reports_bad_settings_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--poll-interval", "-1"]) == 2
    assert "poll_interval" in capsys.readouterr().err


def test_the_api_connection_pool_fits_every_watch_stream_plus_requests() -> None:
    from hpo_operator.shell.settings import Settings

    assert Settings().kube_connection_limit() == 2 + 4 + 8
    assert Settings(namespaces=("a", "b", "c")).kube_connection_limit() == 6 + 4 + 8
    assert Settings(kube_connections=50).kube_connection_limit() == 50


def test_kopf_settings_keep_bookkeeping_in_annotations_and_bound_the_workers() -> None:
    from hpo_operator.shell.runner import kopf_settings
    from hpo_operator.shell.settings import Settings

    default = kopf_settings(Settings())
    assert default.queueing.worker_limit is None  # 0, the default: no limit
    assert default.queueing.idle_timeout == 1.0  # not kopf's 5 s (docs/performance.md)
    assert default.persistence.finalizer.startswith("finalizers.sagemaker.services.k8s.aws/")
    bounded = kopf_settings(Settings(worker_limit=100, worker_idle_timeout=3.0))
    assert bounded.queueing.worker_limit == 100
    assert bounded.queueing.idle_timeout == 3.0


def test_probes_and_metrics_listen_on_loopback_unless_told() -> None:
    assert from_args([]).bind_address == ("127.0.0.1",)
    s = from_args(["--bind-address", "127.0.0.1, 10.1.2.3,127.0.0.1"])
    assert s.bind_address == ("127.0.0.1", "10.1.2.3")  # each once: a second bind would fail
    assert from_args(["--bind-address", "::"]).bind_address == ("::",)
    with pytest.raises(SettingsError, match="not an IP address"):
        from_args(["--bind-address", "localhost"])
    assert from_args(["--bind-address", "0.0.0.0"]).bind_address == ("0.0.0.0",)
    with pytest.raises(SettingsError, match=r"0\.0\.0\.0 listens on every address: give it alone"):
        from_args(["--bind-address", "0.0.0.0,127.0.0.1"])
    with pytest.raises(SettingsError, match=":: listens on every address"):
        from_args(["--bind-address", "::,0.0.0.0"])


def test_bind_address_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HPO_BIND_ADDRESS", "127.0.0.1,10.1.2.3")
    assert from_args([]).bind_address == ("127.0.0.1", "10.1.2.3")


def test_the_operators_own_endpoint_must_be_safe_or_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(SettingsError, match=r"--endpoint-url: .*plain HTTP"):
        from_args(["--endpoint-url", "http://10.1.2.3:8090"])
    assert from_args(["--endpoint-url", "http://127.0.0.1:8090"]).endpoint_url
    assert from_args(["--endpoint-url", "https://10.1.2.3"]).endpoint_url
    allowed = from_args(
        [
            "--endpoint-url",
            "http://10.1.2.3:8090",
            "--allow-unsafe-aws-endpoint-urls=http://10.1.2.3:8090",
        ]
    )
    assert allowed.reconcile_settings().unsafe_endpoints == {"http://10.1.2.3:8090"}
    assert allowed.aws_config().unsafe_endpoints == {"http://10.1.2.3:8090"}
    bare = from_args(["--endpoint-url", "http://10.1.2.3:8090", "--allow-unsafe-aws-endpoint-urls"])
    assert bare.unsafe_endpoints() == {"*"}  # ACK's flag, given alone: any
    monkeypatch.setenv("HPO_ALLOW_UNSAFE_AWS_ENDPOINT_URLS", "http://10.1.2.3:8090")
    assert from_args(["--endpoint-url", "http://10.1.2.3:8090"]).endpoint_url
    with pytest.raises(SettingsError, match="not an http"):
        from_args(["--allow-unsafe-aws-endpoint-urls", "10.1.2.3:8090"])


def test_environment_values_are_read_as_their_types(monkeypatch: pytest.MonkeyPatch) -> None:
    from hpo_operator.shell.settings import Settings

    monkeypatch.setenv("HPO_POLL_SEARCH", "off")
    monkeypatch.setenv("hpo_worker_limit", "100")  # names are case-insensitive
    monkeypatch.setenv("HPO_ALL_NAMESPACES", "yes")
    monkeypatch.setenv("HPO_LOG_LEVEL", "debug")
    monkeypatch.setenv("HPO_PEERING_NAME", "hpo")
    s = Settings()
    assert (s.poll_search, s.worker_limit, s.all_namespaces) == (False, 100, True)
    assert (s.log_level, s.peering_name, s.endpoint_url) == ("DEBUG", "hpo", None)


def test_every_bad_field_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from hpo_operator.shell.settings import Settings

    monkeypatch.setenv("HPO_POLL_SEARCH", "maybe")
    monkeypatch.setenv("HPO_AWS_MAX_WORKERS", "2.5")
    monkeypatch.setenv("HPO_POLL_JITTER", "1")
    monkeypatch.setenv("HPO_METRICS_PORT", "http")
    with pytest.raises(SettingsError) as raised:
        Settings(polling="sometimes", aws_rate_limits="Nonsense")
    assert [where for where, _ in raised.value.problems] == [
        "poll_jitter",
        "polling",
        "poll_search",
        "aws_rate_limits",
        "metrics_port",
        "aws_max_workers",
    ]
    with pytest.raises(SettingsError, match="settings: give --namespace or --all-namespaces"):
        Settings(namespaces=("a",), all_namespaces=True)


def test_stall_sweep_interval_from_flag_or_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert from_args([]).stall_sweep_interval == 60.0 and from_args([]).stall_margin == 60.0
    monkeypatch.setenv("HPO_STALL_SWEEP_INTERVAL", "30")
    assert from_args([]).stall_sweep_interval == 30.0
    assert from_args(["--stall-sweep-interval", "15"]).stall_sweep_interval == 15.0
