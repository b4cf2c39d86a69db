"""The account settings: production defaults and refusals."""

from tests.test_settings_and_checks import PRODUCTION, run_manage

SHOW = (
    "from django.conf import settings as s; "
    "print(s.KPAY_ADMIN_OTP_REQUIRED, s.KPAY_TRUSTED_PROXIES, s.AXES_FAILURE_LIMIT, "
    "s.AXES_COOLOFF_TIME, s.REST_KNOX['TOKEN_TTL'], 'rest_framework.authtoken' in s.INSTALLED_APPS)"
)


def test_production_requires_the_second_factor_by_default():
    result = run_manage("shell", "-c", SHOW, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["True", "[]", "5", "0:15:00", "10:00:00", "False"]


def test_development_defaults_and_overrides():
    result = run_manage("shell", "-c", SHOW)
    assert result.stdout.splitlines()[-1].split()[0] == "False"
    result = run_manage(
        "shell",
        "-c",
        SHOW,
        KPAY_ADMIN_OTP_REQUIRED="true",
        KPAY_TRUSTED_PROXIES="10.0.0.0/8,192.168.1.5",
        KPAY_LOGIN_FAILURE_LIMIT="8",
        KPAY_LOGIN_COOLOFF="1h",
        KPAY_API_TOKEN_TTL="1d",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split()[:4] == ["True", "['10.0.0.0/8',", "'192.168.1.5']", "8"]
    assert "1:00:00" in result.stdout and "1 day" in result.stdout


def test_bad_account_settings_are_refused():
    for name, value in [
        ("KPAY_TRUSTED_PROXIES", "proxy.internal"),
        ("KPAY_LOGIN_FAILURE_LIMIT", "0"),
        ("KPAY_PASSWORD_MIN_LENGTH", "4"),
        ("KPAY_API_TOKEN_TTL", "forever"),
    ]:
        result = run_manage("check", **{name: value})
        assert result.returncode != 0 and name in result.stderr, (name, result.stderr[-300:])
