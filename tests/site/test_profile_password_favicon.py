"""The learner's account pages: password reset by e-mail, the profile (name, e-mail,
time zone shown in), changing the password; the favicon; dates in each language."""

import re
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import Profile
from orders.services import order_checkout
from tests.factories import UserFactory


def reset_link(message) -> str:
    return re.search(r"http://\S+/accounts/password/reset/\S+/\S+/", message.body)[0]


def test_password_reset_by_email_from_the_login_page(client, learner, settings):
    settings.KPAY_PUBLIC_URL = "http://127.0.0.1:8105"
    assert reverse("password_reset") in client.get(reverse("login")).content.decode()

    response = client.post(reverse("password_reset"), {"email": learner.email.upper()}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("password_reset_done")
    assert "Check your e-mail" in response.content.decode()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [learner.email] and message.subject == "Your kpay password"
    link = reset_link(message)
    assert link.startswith("http://127.0.0.1:8105/accounts/password/reset/")  # the public URL

    path = link.removeprefix(settings.KPAY_PUBLIC_URL)
    form_page = client.get(path, follow=True)  # Django swaps the token for a session marker
    assert form_page.context["validlink"] is True
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-new-long-pw-2291", "new_password2": "a-new-long-pw-2291"},
        follow=True,
    )
    assert done.redirect_chain[-1][0] == reverse("password_reset_complete")
    assert "Your new password is set" in done.content.decode()
    assert client.login(username=learner.username, password="a-new-long-pw-2291")
    client.logout()
    # The link works once.
    assert client.get(path, follow=True).context["validlink"] is False


def test_password_reset_reveals_nothing_and_sends_only_a_few(client, learner):
    unknown = client.post(reverse("password_reset"), {"email": "nobody@example.com"}, follow=True)
    assert unknown.redirect_chain[-1][0] == reverse("password_reset_done") and not mail.outbox
    for _ in range(5):
        client.post(reverse("password_reset"), {"email": learner.email})
    assert len(mail.outbox) == 3  # per address and hour; the answer stays the same


def test_profile_sets_name_email_and_time_zone(site, learner):
    page = site.get(reverse("profile"))
    assert page.status_code == 200
    assert page.context["form"]["time_zone"].value() == "Asia/Shanghai"
    assert reverse("profile") in page.content.decode()  # the header links to it

    taken = UserFactory(email="taken@example.com")
    refused = site.post(
        reverse("profile"),
        {"first_name": "Li", "last_name": "Wei", "email": taken.email.upper(), "time_zone": "Europe/Berlin"},
    )
    assert refused.status_code == 200 and "email" in refused.context["form"].errors
    bad_zone = site.post(
        reverse("profile"),
        {"first_name": "", "last_name": "", "email": learner.email, "time_zone": "Mars/Base"},
    )
    assert "time_zone" in bad_zone.context["form"].errors

    saved = site.post(
        reverse("profile"),
        {"first_name": "Wei", "last_name": "Li", "email": "wei@example.com", "time_zone": "Europe/Berlin"},
        follow=True,
    )
    assert [str(m) for m in saved.context["messages"]] == ["Your profile was saved."]
    learner.refresh_from_db()
    assert (learner.first_name, learner.last_name, learner.email) == ("Wei", "Li", "wei@example.com")
    assert Profile.objects.get(user=learner).time_zone == "Europe/Berlin"
    assert "Times are shown in Europe/Berlin." in saved.content.decode()


def test_times_follow_the_learners_time_zone_and_the_language(client, learner, course):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    placed = datetime(2026, 11, 29, 16, 5, tzinfo=UTC)
    type(order).objects.filter(pk=order.pk).update(created_at=placed)
    url = reverse("orders:detail", args=[order.order_no])

    client.force_login(learner)  # the site's zone: Beijing, UTC+8
    # One format per language across the site and the back office (kpay/formats): ISO dates
    # and a 24-hour clock in both languages, so only the zone moves the figures.
    for language in ("zh-hans", "en"):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert "2026-11-30 00:05" in page, language

    Profile.objects.create(user=learner, time_zone="Europe/London")
    client.force_login(learner)  # read again at login
    london = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "2026-11-29 16:05" in london and "Europe/London" in london
    assert timezone.get_current_timezone_name() == "Asia/Shanghai"  # nothing leaks out of the request


def test_changing_the_password_keeps_you_logged_in_and_revokes_tokens(site, learner):
    AuthToken.objects.create(user=learner)
    assert reverse("password_change") in site.get(reverse("profile")).content.decode()
    changed = site.post(
        reverse("password_change"),
        {
            "old_password": "pw-learner-123",
            "new_password1": "another-pw-7781",
            "new_password2": "another-pw-7781",
        },
        follow=True,
    )
    assert changed.redirect_chain[-1][0] == reverse("profile")
    assert "Your password was changed." in changed.content.decode()
    assert site.get(reverse("profile")).status_code == 200  # still logged in here
    assert not AuthToken.objects.filter(user=learner).exists()
    assert get_user_model().objects.get(pk=learner.pk).check_password("another-pw-7781")


def test_account_pages_need_a_login(client, db):
    for name in ("profile", "password_change"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_favicon_is_served_and_linked(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page = client.get(reverse("courses:catalog")).content.decode()
    assert 'rel="icon" href="/favicon.ico"' in page and "favicon.svg" in page
