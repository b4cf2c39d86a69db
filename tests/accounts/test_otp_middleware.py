"""``accounts.otp_middleware.OTPMiddleware`` against django-otp's own middleware: for every
kind of value a session can hold, the same device (field for field), the same
``is_verified()``, and the same session afterwards."""

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.middleware import OTPMiddleware as DjangoOTPMiddleware
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.otp_middleware import OTPMiddleware
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def devices(db):
    user = UserFactory(username="otp-staff", is_staff=True)
    other = UserFactory(username="otp-other", is_staff=True)
    return {
        "user": user,
        "phone": TOTPDevice.objects.create(user=user, name="phone", confirmed=True),
        "codes": StaticDevice.objects.create(user=user, name="recovery", confirmed=True),
        "unconfirmed": TOTPDevice.objects.create(user=user, name="new phone", confirmed=False),
        "others": TOTPDevice.objects.create(user=other, name="their phone", confirmed=True),
    }


def session_values(devices):
    phone, codes = devices["phone"], devices["codes"]
    gone = TOTPDevice.objects.create(user=devices["user"], name="lost", confirmed=True)
    gone_id = gone.persistent_id
    gone.delete()
    return {
        "none": None,
        "the user's phone": phone.persistent_id,
        "the user's recovery codes": codes.persistent_id,
        "unconfirmed": devices["unconfirmed"].persistent_id,
        "another user's": devices["others"].persistent_id,
        "deleted": gone_id,
        "legacy path": f"django_otp.plugins.otp_totp.models.TOTPDevice/{phone.pk}",
        "unknown model": f"otp_totp.nodevice/{phone.pk}",
        "unknown app": f"nowhere.totpdevice/{phone.pk}",
        "not a number": "otp_totp.totpdevice/x",
        "no slash": "otp_totp.totpdevice",
        "empty": "",
    }


def run(middleware_class, user, value):
    request = RequestFactory().get("/admin/")
    request.session = SessionStore()
    if value is not None:
        request.session[DEVICE_ID_SESSION_KEY] = value
    request.user = user
    seen = {}

    def view(request):
        seen["device"] = request.user.otp_device
        seen["verified"] = request.user.is_verified()
        return None

    middleware_class(view)(request)
    device = seen["device"]
    return {
        "device": None if device is None else (type(device), device.__dict__ | {"_state": None}),
        "verified": seen["verified"],
        "session": dict(request.session.items()),
    }


def test_every_session_value_gives_django_otps_answer(devices):
    user = devices["user"]
    for name, value in session_values(devices).items():
        fresh = type(user).objects.get(pk=user.pk)
        ours = run(OTPMiddleware, fresh, value)
        theirs = run(DjangoOTPMiddleware, type(user).objects.get(pk=user.pk), value)
        assert ours == theirs, name
    assert run(OTPMiddleware, user, devices["phone"].persistent_id)["verified"]
    assert not run(OTPMiddleware, user, devices["others"].persistent_id)["verified"]
    assert run(OTPMiddleware, AnonymousUser(), devices["phone"].persistent_id) == run(
        DjangoOTPMiddleware, AnonymousUser(), devices["phone"].persistent_id
    )


def test_a_model_that_is_no_device_verifies_nothing(devices):
    """A value only a forged session could hold: django-otp fails with an error; None here."""
    user = devices["user"]
    answer = run(OTPMiddleware, user, f"auth.user/{user.pk}")
    assert answer == {"device": None, "verified": False, "session": {}}
    assert run(OTPMiddleware, user, "otp_totp.totpdevice/99999999999999999999999")["device"] is None


def test_the_device_is_read_in_one_statement_each_request(devices):
    user, phone = devices["user"], devices["phone"]
    for _ in range(2):
        fresh = type(user).objects.get(pk=user.pk)
        with CaptureQueriesContext(connection) as reads:
            answer = run(OTPMiddleware, fresh, phone.persistent_id)
        assert answer["verified"] and len(reads) == 1  # the device (the session is not saved)
    phone.confirmed = False
    phone.save()
    assert not run(OTPMiddleware, type(user).objects.get(pk=user.pk), phone.persistent_id)["verified"]


def test_request_auser_is_verified_as_well(devices):
    """``await request.auser()`` gets the same fields (django-otp's async read)."""
    user, phone = devices["user"], devices["phone"]
    for value, verified in ((phone.persistent_id, True), (devices["others"].persistent_id, False)):
        request = RequestFactory().get("/admin/")
        request.session = SessionStore()
        request.session[DEVICE_ID_SESSION_KEY] = value
        request.user = user

        async def auser(user=user):
            return user

        request.auser = auser
        OTPMiddleware(lambda request: None)(request)
        found = async_to_sync(request.auser)()
        assert found.is_verified() is verified
        assert found.otp_device == (phone if verified else None)
        assert (DEVICE_ID_SESSION_KEY in request.session) is verified
