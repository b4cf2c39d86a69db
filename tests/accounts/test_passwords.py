"""Sign-up applies Django's password validators."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse


def sign_up(client, password, username="wanglei"):
    return client.post(
        reverse("signup"),
        {
            "username": username,
            "email": f"{username}@example.com",
            "password1": password,
            "password2": password,
        },
    )


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("1", "This password is too short. It must contain at least 10 characters."),
        ("1", "This password is entirely numeric."),
        ("password", "This password is too common."),
        ("password", "This password is too short."),
        ("20261130201611", "This password is entirely numeric."),
        ("wanglei2026", "The password is too similar to the username."),
        ("wanglei", "The password is too similar to the username."),
    ],
)
def test_weak_passwords_are_refused_with_a_clear_message(client, db, settings, password, message):
    settings.LANGUAGE_CODE = "en"
    response = sign_up(client, password)

    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors.get("password2", []))
    assert message in errors
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not get_user_model().objects.filter(username="wanglei").exists()


def test_the_messages_are_translated(client, db):
    response = sign_up(client, "password")
    assert response.status_code == 200
    assert "这个密码太常见了" in response.content.decode()


def test_a_good_password_is_accepted(client, db):
    assert sign_up(client, "blue-kettle-orbit-42").status_code == 302
    assert get_user_model().objects.filter(username="wanglei").exists()
