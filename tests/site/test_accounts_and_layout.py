"""Signing up and logging in, the layout, and showing money."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from core.templatetags.money import yuan


@pytest.mark.parametrize(
    ("fen", "shown"),
    [
        (9900, "¥99.00"),
        (1, "¥0.01"),
        (0, "¥0.00"),
        (123456789, "¥1234567.89"),
        (-150, "-¥1.50"),
        (Decimal(100), "¥1.00"),
        (None, ""),
        (9.9, ""),
        ("x", ""),
    ],
)
def test_yuan_shows_fen_as_yuan(fen, shown):
    assert yuan(fen) == shown


def test_signup_creates_the_account_logs_in_and_goes_on(client, db, course):
    response = client.post(
        reverse("signup"),
        {
            "username": "newbie",
            "email": "newbie@example.com",
            "password1": "a-long-pw-8812",
            "password2": "a-long-pw-8812",
            "next": course.get_absolute_url(),
        },
    )
    assert response.status_code == 302 and response.url == course.get_absolute_url()
    user = get_user_model().objects.get(username="newbie")
    assert user.email == "newbie@example.com"
    assert client.get(reverse("courses:my-courses")).status_code == 200  # logged in


def test_signup_refuses_a_taken_email_and_an_outside_next(client, learner):
    taken = client.post(
        reverse("signup"),
        {
            "username": "other",
            "email": learner.email.upper(),
            "password1": "a-long-pw-8812",
            "password2": "a-long-pw-8812",
        },
    )
    assert taken.status_code == 200 and "email" in taken.context["form"].errors

    response = client.post(
        reverse("signup"),
        {
            "username": "other",
            "email": "other@example.com",
            "password1": "a-long-pw-8812",
            "password2": "a-long-pw-8812",
            "next": "https://evil.example/",
        },
    )
    assert response.url == reverse("courses:catalog")


def test_login_page_and_layout(client, learner):
    login_page = client.get(reverse("login"), {"next": "/my/orders/"})
    content = login_page.content.decode()
    assert login_page.status_code == 200
    assert 'name="next" value="/my/orders/"' in content
    assert 'name="viewport"' in content
    assert f'action="{reverse("set_language")}"' in content

    logged_in = client.post(
        reverse("login"), {"username": learner.username, "password": "pw-learner-123", "next": "/my/orders/"}
    )
    assert logged_in.url == "/my/orders/"
    page = client.get(reverse("courses:catalog")).content.decode()
    assert learner.username in page
    assert f'<form class="inline" method="post" action="{reverse("logout")}">' in page
    assert client.post(reverse("logout")).status_code == 302
    assert learner.username not in client.get(reverse("courses:catalog")).content.decode()


def test_language_switch(client, db):
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert client.get("/").content.decode().startswith('<!doctype html>\n<html lang="en">')


def test_the_site_speaks_simplified_chinese_by_default(db, course):
    from django.test import Client

    response = Client().get(reverse("courses:detail", args=[course.slug]))

    assert response["Content-Language"] == "zh-hans"
    content = response.content.decode()
    assert "课时" in content and "免费试看" in content  # "Lessons", "Free preview"
