"""Brute force: every login door locks a username for one client IP after
KPAY_LOGIN_FAILURE_LIMIT wrong passwords, for KPAY_LOGIN_COOLOFF (django-axes)."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings

from .conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("loose_token_throttle")
IP = "198.51.100.77"


class SiteDoor:
    url = "/accounts/login/"

    def __init__(self, client, api_client):
        self.client = client

    def attempt(self, username, password, ip=IP):
        return self.client.post(self.url, {"username": username, "password": password}, REMOTE_ADDR=ip)

    def logged_in(self, response):
        return response.status_code == 302 and "_auth_user_id" in self.client.session


class AdminDoor(SiteDoor):
    url = "/admin/login/"


class ApiDoor:
    def __init__(self, client, api_client):
        self.client = api_client

    def attempt(self, username, password, ip=IP):
        return self.client.post(
            "/api/v1/auth/token/", {"username": username, "password": password}, REMOTE_ADDR=ip
        )

    def logged_in(self, response):
        return response.status_code == 200 and "token" in response.json()


@pytest.fixture(params=[SiteDoor, AdminDoor, ApiDoor], ids=["site", "admin", "api"])
def door(request, client, api_client):
    return request.param(client, api_client)


def test_sixty_wrong_passwords_then_the_right_one_does_not_log_in(door, staff_user, settings):
    settings.LANGUAGE_CODE = "en"
    for _ in range(60):
        assert not door.logged_in(door.attempt(staff_user.username, "wrong-guess"))
    response = door.attempt(staff_user.username, PASSWORD)

    assert not door.logged_in(response)
    assert response.status_code == 429
    if isinstance(door, ApiDoor):
        assert response.json()["error"]["code"] == "login_locked"
        assert "15 minutes" in response.json()["error"]["message"]
    else:
        assert "Too many failed logins" in response.content.decode()
    assert response["Retry-After"] == "900"


def test_the_lockout_starts_at_the_limit(door, staff_user):
    for _ in range(settings.KPAY_LOGIN_FAILURE_LIMIT - 1):
        door.attempt(staff_user.username, "wrong-guess")
    assert door.logged_in(door.attempt(staff_user.username, PASSWORD))


def test_the_lockout_ends_after_the_cool_off(door, staff_user):
    for _ in range(settings.KPAY_LOGIN_FAILURE_LIMIT):
        door.attempt(staff_user.username, "wrong-guess")
    assert not door.logged_in(door.attempt(staff_user.username, PASSWORD))

    started = AccessAttempt.objects.get().attempt_time
    AccessAttempt.objects.update(attempt_time=started - timedelta(minutes=16))

    assert door.logged_in(door.attempt(staff_user.username, PASSWORD))


def test_a_success_resets_the_count(door, staff_user):
    limit = settings.KPAY_LOGIN_FAILURE_LIMIT
    for _ in range(limit - 1):
        door.attempt(staff_user.username, "wrong-guess")
    assert door.logged_in(door.attempt(staff_user.username, PASSWORD))
    door.client.logout()
    for _ in range(limit - 1):
        door.attempt(staff_user.username, "wrong-guess")
    assert door.logged_in(door.attempt(staff_user.username, PASSWORD))


def test_the_lock_is_per_username_and_ip(door, staff_user):
    """Keyed on both: a guesser does not lock the owner out from elsewhere, and is not
    stopped from being locked on another name either."""
    for _ in range(settings.KPAY_LOGIN_FAILURE_LIMIT):
        door.attempt(staff_user.username, "wrong-guess", ip="203.0.113.66")
    assert door.attempt(staff_user.username, PASSWORD, ip="203.0.113.66").status_code == 429
    assert door.logged_in(door.attempt(staff_user.username, PASSWORD, ip="198.51.100.1"))


def test_a_spoofed_forwarded_for_does_not_escape_the_lockout(api_client, staff_user):
    for i in range(settings.KPAY_LOGIN_FAILURE_LIMIT):
        api_client.post(
            "/api/v1/auth/token/",
            {"username": staff_user.username, "password": "wrong-guess"},
            REMOTE_ADDR=IP,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}",
        )
    response = api_client.post(
        "/api/v1/auth/token/",
        {"username": staff_user.username, "password": PASSWORD},
        REMOTE_ADDR=IP,
        HTTP_X_FORWARDED_FOR="192.0.2.200",
    )
    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {IP}


def test_behind_a_trusted_proxy_the_lock_follows_the_real_client(client, staff_user, settings):
    settings.KPAY_TRUSTED_PROXIES = ["10.0.0.2"]

    def attempt(real_client, password):
        return client.post(
            "/accounts/login/",
            {"username": staff_user.username, "password": password},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"6.6.6.6, {real_client}",
        )

    for _ in range(settings.KPAY_LOGIN_FAILURE_LIMIT):
        attempt("198.51.100.1", "wrong-guess")
    assert attempt("198.51.100.1", PASSWORD).status_code == 429
    assert attempt("198.51.100.2", PASSWORD).status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.1"}


def test_authenticate_without_a_request_is_not_a_login_door(staff_user, client):
    """Code and the test client may authenticate without a request; no lock applies or is
    counted (every door passes its request)."""
    from django.contrib.auth import authenticate

    assert authenticate(username=staff_user.username, password="wrong") is None
    assert authenticate(username=staff_user.username, password=PASSWORD) == staff_user
    assert client.login(username=staff_user.username, password=PASSWORD)
    assert not AccessAttempt.objects.exists()


def test_attempt_records_hold_no_password_or_code(client, staff_user, settings):
    settings.KPAY_ADMIN_OTP_REQUIRED = True
    client.post(
        "/admin/login/",
        {"username": staff_user.username, "password": "secret-guess-1", "otp_token": "492039"},
    )
    client.post("/accounts/login/", {"username": staff_user.username, "password": "secret-guess-2"})
    stored = " ".join(f"{a.get_data} {a.post_data}" for a in AccessAttempt.objects.all())
    assert AccessAttempt.objects.exists()
    assert "secret-guess" not in stored and "492039" not in stored
