"""Production settings of operations: refused when unsafe, clean under check --deploy."""

from tests.test_settings_and_checks import PRODUCTION, run_manage


def test_production_with_metrics_sentry_and_alerts_passes_check_deploy():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **PRODUCTION,
        KPAY_METRICS_TOKEN="t" * 32,
        KPAY_METRICS_ALLOWED_NETWORKS="10.0.0.0/8,127.0.0.1",
        SENTRY_DSN="https://public@sentry.example.com/1",
        ADMINS="ops@example.com",
        KPAY_ALERT_EMAILS="finance@example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_short_metrics_token_or_a_bad_network_is_refused():
    short = run_manage("check", **PRODUCTION, KPAY_METRICS_TOKEN="short")
    assert short.returncode != 0 and "KPAY_METRICS_TOKEN must be at least 24" in short.stderr
    assert "short" not in short.stderr.replace("KPAY_METRICS_TOKEN must be at least", "")
    network = run_manage("check", **PRODUCTION, KPAY_METRICS_ALLOWED_NETWORKS="10.0.0.0/33")
    assert network.returncode != 0 and "KPAY_METRICS_ALLOWED_NETWORKS" in network.stderr
