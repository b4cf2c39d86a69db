"""Staff recovery codes (django-otp's otp_static, stored as digests) and enrolment links
a superuser issues (accounts.otp)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import otp
from accounts.models import OtpEnrolment
from tests.factories import UserFactory

from .conftest import PASSWORD
from .test_admin_otp import admin_login, code_for, in_admin

pytestmark = pytest.mark.django_db

CODE = re.compile(r"<code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code>")


@pytest.fixture
def otp_on(settings):
    settings.KPAY_ADMIN_OTP_REQUIRED = True
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def device(staff_user):
    return TOTPDevice.objects.create(user=staff_user, name="phone", confirmed=True)


def test_codes_are_stored_as_digests_only(staff_user):
    codes = otp.recovery_codes_regenerate(staff_user)

    stored = set(StaticToken.objects.filter(device__user=staff_user).values_list("token", flat=True))
    assert len(codes) == len(set(codes)) == 10 and len(stored) == 10
    assert all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", code) for code in codes)
    assert not stored & {otp.normalize_code(code) for code in codes} and not stored & set(codes)
    assert stored == {otp.code_digest(code) for code in codes}
    assert otp.recovery_codes_left(staff_user) == 10


@pytest.mark.usefixtures("otp_on")
def test_a_recovery_code_opens_the_admin_once(client, staff_user, device):
    codes = otp.recovery_codes_regenerate(staff_user)
    typed = codes[3].upper().replace("-", " ")  # as read out from paper

    assert admin_login(client, staff_user, otp_token=typed).status_code == 302
    assert in_admin(client)
    assert otp.recovery_codes_left(staff_user) == 9
    client.logout()
    again = admin_login(client, staff_user, otp_token=codes[3])
    assert again.status_code == 200 and "not valid" in again.content.decode()
    assert not in_admin(client)


@pytest.mark.usefixtures("otp_on")
def test_the_stored_digest_is_not_a_code(client, staff_user, device):
    otp.recovery_codes_regenerate(staff_user)
    digest = StaticToken.objects.filter(device__user=staff_user).values_list("token", flat=True)[0]

    assert admin_login(client, staff_user, otp_token=digest).status_code == 200
    assert not in_admin(client)
    assert otp.recovery_codes_left(staff_user) == 10


@pytest.mark.usefixtures("otp_on")
def test_someone_elses_code_does_not_open_the_admin(client, staff_user, device):
    other = UserFactory(username="finance-staff", is_staff=True)
    [code, *_] = otp.recovery_codes_regenerate(other)
    otp.recovery_codes_regenerate(staff_user)

    assert admin_login(client, staff_user, otp_token=code).status_code == 200
    assert not in_admin(client)


@pytest.mark.usefixtures("otp_on")
def test_regenerating_needs_the_password_and_the_app_and_invalidates_the_old_codes(
    client, staff_user, device, settings
):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0  # no pause after trying an old code
    old = otp.recovery_codes_regenerate(staff_user)
    client.force_login(staff_user)
    page = client.get("/accounts/otp/recovery-codes/")
    assert "You have 10 unused recovery codes." in page.content.decode()
    assert not CODE.search(page.content.decode())

    wrong_password = client.post(
        "/accounts/otp/recovery-codes/", {"password": "nope", "otp_token": code_for(device)}
    )
    wrong_code = client.post("/accounts/otp/recovery-codes/", {"password": PASSWORD, "otp_token": "000000"})
    assert not CODE.search(wrong_password.content.decode()) and not CODE.search(wrong_code.content.decode())
    assert set(StaticToken.objects.values_list("token", flat=True)) == {otp.code_digest(c) for c in old}

    made = client.post(
        "/accounts/otp/recovery-codes/", {"password": PASSWORD, "otp_token": code_for(device, 1)}
    )
    new = CODE.findall(made.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert made["Cache-Control"].startswith("max-age=0")
    client.logout()
    assert admin_login(client, staff_user, otp_token=old[0]).status_code == 200
    assert admin_login(client, staff_user, otp_token=new[0]).status_code == 302


@pytest.mark.usefixtures("otp_on")
def test_wrong_recovery_codes_pause_the_device(client, staff_user, device):
    """otp_static's throttling: after a wrong code, even a right one waits (1 s, doubling)."""
    [code, *_] = otp.recovery_codes_regenerate(staff_user)

    assert admin_login(client, staff_user, otp_token="aaaa-bbbb-cccc-dddd").status_code == 200
    assert admin_login(client, staff_user, otp_token=code).status_code == 200
    assert not in_admin(client) and otp.recovery_codes_left(staff_user) == 10


def test_recovery_codes_page_is_for_staff_with_an_app(client, learner, staff_user):
    client.force_login(learner)
    assert client.get("/accounts/otp/recovery-codes/").status_code == 403
    client.force_login(staff_user)
    response = client.get("/accounts/otp/recovery-codes/")
    assert response.status_code == 302 and response.url == "/accounts/otp/setup/"


def test_the_admin_counts_codes_without_showing_them(client, staff_user, root):
    codes = otp.recovery_codes_regenerate(staff_user)
    client.force_login(root)
    listing = client.get("/admin/otp_static/staticdevice/").content.decode()
    device = StaticDevice.objects.get(user=staff_user)
    detail = client.get(f"/admin/otp_static/staticdevice/{device.pk}/change/").content.decode()

    assert 'class="field-codes_left">10<' in listing
    for page in (listing, detail):
        for code in codes:
            assert code not in page and otp.code_digest(code) not in page
    client.force_login(UserFactory(username="other-staff", is_staff=True))
    assert client.get("/admin/otp_static/staticdevice/").status_code == 403


def test_resetting_the_app_in_the_admin_removes_the_recovery_codes_too(client, staff_user, device, root):
    otp.recovery_codes_regenerate(staff_user)
    client.force_login(root)

    response = client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=staff_user).exists()
    assert not StaticDevice.objects.filter(user=staff_user).exists()


# -- enrolment links ------------------------------------------------------------------
@pytest.mark.usefixtures("otp_on")
def test_the_password_alone_no_longer_enrols_a_device(client, staff_user):
    client.force_login(staff_user)

    page = client.get("/accounts/otp/setup/")
    posted = client.post("/accounts/otp/setup/", {"password": PASSWORD})

    assert "enrolment link" in page.content.decode() and 'name="password"' not in page.content.decode()
    assert posted.status_code == 200 and not TOTPDevice.objects.exists()


def test_a_superuser_issues_a_link_shown_once_and_stored_as_a_digest(client, staff_user, root):
    client.force_login(root)

    response = client.post("/admin/accounts/otpenrolment/add/", {"user": staff_user.pk}, follow=True)

    page = response.content.decode()
    [token] = re.findall(r"/accounts/otp/enrol/([A-Za-z0-9_-]+)/", page)
    enrolment = OtpEnrolment.objects.get()
    assert (enrolment.user, enrolment.issued_by, enrolment.used_at) == (staff_user, root, None)
    assert enrolment.token_digest == otp.token_digest(token) and token not in enrolment.token_digest
    assert token not in client.get(f"/admin/accounts/otpenrolment/{enrolment.pk}/change/").content.decode()
    client.force_login(staff_user)
    assert client.get("/admin/accounts/otpenrolment/add/").status_code in (302, 403)


def _enrol(client, user, token, device_code=None):
    """Follow the link, give the password and confirm the app's code; returns the response."""
    client.force_login(user)
    client.get(f"/accounts/otp/enrol/{token}/")
    client.post("/accounts/otp/setup/", {"password": PASSWORD})
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        return None
    return client.post("/accounts/otp/setup/", {"otp_token": code_for(device)})


def test_a_link_works_once_for_its_own_user_until_it_expires(client, staff_user, root):
    other = UserFactory(username="finance-staff", is_staff=True)
    _e, token = otp.enrolment_issue(user=staff_user, by=root)

    client.force_login(other)
    assert client.get(f"/accounts/otp/enrol/{token}/").status_code == 404
    assert client.get("/accounts/otp/enrol/not-a-token/").status_code == 404

    assert _enrol(client, staff_user, token).status_code == 200
    assert TOTPDevice.objects.get(user=staff_user).confirmed
    assert OtpEnrolment.objects.get().used_at is not None
    assert otp.recovery_codes_left(staff_user) == 10

    # A reset, then the same link again: used.
    otp.second_factor_reset(user=staff_user)
    assert _enrol(client, staff_user, token) is None
    assert not TOTPDevice.objects.filter(user=staff_user).exists()

    _e, expired = otp.enrolment_issue(user=staff_user, by=root, now=timezone.now() - timedelta(hours=73))
    assert _enrol(client, staff_user, expired) is None


def test_a_new_link_withdraws_the_earlier_one(client, staff_user, root):
    _e, first = otp.enrolment_issue(user=staff_user, by=root)
    _e, second = otp.enrolment_issue(user=staff_user, by=root)

    assert _enrol(client, staff_user, first) is None
    assert _enrol(client, staff_user, second).status_code == 200


def test_the_command_issues_a_link_for_the_first_superuser(client, root):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("otp_enrolment_link", root.username, stdout=out)

    [token] = re.findall(r"/accounts/otp/enrol/([A-Za-z0-9_-]+)/", out.getvalue())
    assert OtpEnrolment.objects.get().issued_by is None
    assert _enrol(client, root, token).status_code == 200
    with pytest.raises(CommandError):
        call_command("otp_enrolment_link", "nobody", stdout=StringIO())
