"""Staff second factor: with KPAY_ADMIN_OTP_REQUIRED the admin wants a TOTP code."""

import re

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import otp
from tests.factories import UserFactory

from .conftest import PASSWORD


@pytest.fixture
def otp_on(settings):
    settings.KPAY_ADMIN_OTP_REQUIRED = True


@pytest.fixture
def device(staff_user):
    return TOTPDevice.objects.create(user=staff_user, name="phone", confirmed=True)


def code_for(device, offset=0):
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift + offset):06d}"


def admin_login(client, user, **extra):
    return client.post(
        "/admin/login/?next=/admin/", {"username": user.username, "password": PASSWORD, **extra}
    )


def in_admin(client):
    return client.get("/admin/").status_code == 200


@pytest.mark.usefixtures("otp_on")
def test_the_password_alone_does_not_open_the_admin(client, staff_user, device, settings):
    settings.LANGUAGE_CODE = "en"
    response = admin_login(client, staff_user)
    assert response.status_code == 200
    assert "Enter the code from your authenticator app." in response.content.decode()
    assert not in_admin(client)


@pytest.mark.usefixtures("otp_on")
@pytest.mark.parametrize("code", ["000000", "12345", "abcdef", "9" * 40])
def test_a_wrong_code_does_not_open_the_admin(client, staff_user, device, code):
    if code == code_for(device):
        code = "111111"
    response = admin_login(client, staff_user, otp_token=code)
    assert response.status_code == 200
    assert not in_admin(client)


@pytest.mark.usefixtures("otp_on")
def test_the_code_from_the_device_opens_the_admin(client, staff_user, device):
    response = admin_login(client, staff_user, otp_token=code_for(device))
    assert response.status_code == 302 and response.url == "/admin/"
    assert in_admin(client)


@pytest.mark.usefixtures("otp_on")
def test_a_code_works_once(client, staff_user, device):
    code = code_for(device)
    assert admin_login(client, staff_user, otp_token=code).status_code == 302
    client.logout()
    assert admin_login(client, staff_user, otp_token=code).status_code == 200
    assert not in_admin(client)


@pytest.mark.usefixtures("otp_on")
def test_another_users_device_does_not_help(client, staff_user):
    other = UserFactory(username="finance-staff", is_staff=True)
    other_device = TOTPDevice.objects.create(user=other, name="phone", confirmed=True)
    TOTPDevice.objects.create(user=staff_user, name="phone", confirmed=True)
    admin_login(client, staff_user, otp_token=code_for(other_device))
    assert not in_admin(client)


@pytest.mark.usefixtures("otp_on")
def test_a_site_session_is_not_an_admin_session(client, staff_user, device):
    """Logged in on the site (password only), a staff user still needs the code for the admin."""
    client.force_login(staff_user)
    response = client.get("/admin/")
    assert response.status_code == 302 and response.url.startswith("/admin/login/")
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(superuser)
    assert not in_admin(client)


@pytest.mark.usefixtures("otp_on")
def test_staff_without_a_device_is_sent_to_set_one_up(client, staff_user, settings):
    settings.LANGUAGE_CODE = "en"
    response = admin_login(client, staff_user, otp_token="123456")
    assert "has no authenticator app yet" in response.content.decode()
    assert "/accounts/otp/setup/" in response.content.decode()
    assert not in_admin(client)


@pytest.mark.usefixtures("otp_on")
def test_setting_up_the_authenticator_app(client, staff_user, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # no pause after the deliberate wrong code
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    _enrolment, token = otp.enrolment_issue(user=staff_user, by=root)
    client.force_login(staff_user)
    assert client.get(f"/accounts/otp/enrol/{token}/").status_code == 302
    first = client.get("/accounts/otp/setup/")
    assert first.status_code == 200 and 'name="password"' in first.content.decode()

    wrong = client.post("/accounts/otp/setup/", {"password": "not-it"})
    assert wrong.status_code == 200 and not TOTPDevice.objects.exists()

    assert client.post("/accounts/otp/setup/", {"password": PASSWORD}).status_code == 302
    scan = client.get("/accounts/otp/setup/")
    page = scan.content.decode()
    assert "<svg" in page
    device = TOTPDevice.objects.get(user=staff_user, confirmed=False)
    secret = re.search(r"<code>([A-Z2-7=]+)</code>", page)[1]
    assert secret.rstrip("=") == __import__("base64").b32encode(device.bin_key).decode().rstrip("=")
    assert scan["Cache-Control"].startswith("max-age=0")

    assert client.post(
        "/accounts/otp/setup/", {"otp_token": "000000" if code_for(device) != "000000" else "1"}
    )
    assert not TOTPDevice.objects.filter(confirmed=True).exists()

    confirmed = client.post("/accounts/otp/setup/", {"otp_token": code_for(device)})
    assert confirmed.status_code == 200  # the recovery codes, shown once
    assert len(re.findall(r"<code>[a-z2-7]{4}(?:-[a-z2-7]{4}){3}</code>", confirmed.content.decode())) == 10
    assert confirmed["Cache-Control"].startswith("max-age=0")
    assert TOTPDevice.objects.get(user=staff_user).confirmed
    assert in_admin(client)

    # Once set up, the page does not replace the device (a superuser removes a lost one).
    client.logout()
    client.force_login(staff_user)
    assert client.post("/accounts/otp/setup/", {"password": PASSWORD}).status_code == 200
    assert TOTPDevice.objects.filter(user=staff_user).count() == 1


def test_learners_have_no_authenticator_page(client, learner):
    client.force_login(learner)
    assert client.get("/accounts/otp/setup/").status_code == 403


def test_development_default_needs_no_code(client, staff_user, settings):
    assert settings.KPAY_ADMIN_OTP_REQUIRED is False
    assert admin_login(client, staff_user).status_code == 302
    assert in_admin(client)


def test_totp_keys_are_not_shown_in_the_admin(client, device):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    listing = client.get("/admin/otp_totp/totpdevice/")
    assert listing.status_code == 200
    detail = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/").content.decode()
    assert device.key not in listing.content.decode() and device.key not in detail
    assert client.get("/admin/otp_totp/totpdevice/add/").status_code == 403
