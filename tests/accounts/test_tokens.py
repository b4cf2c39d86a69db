"""API tokens (django-rest-knox): hashed, expiring, listed and revoked by their owner,
revoked by a password change."""

import hashlib
import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken

from tests.factories import UserFactory

from .conftest import PASSWORD


def obtain(api_client, user, password=PASSWORD):
    response = api_client.post("/api/v1/auth/token/", {"username": user.username, "password": password})
    assert response.status_code == 200, response.content
    return response.json()


def use(api_client, token):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api_client


def test_the_token_endpoint_answers_a_token_and_its_expiry(api_client, learner, settings):
    before = timezone.now()
    body = obtain(api_client, learner)

    assert set(body) == {"token", "expiry"}
    expiry = AuthToken.objects.get(user=learner).expiry
    assert before + settings.KPAY_API_TOKEN_TTL <= expiry <= timezone.now() + settings.KPAY_API_TOKEN_TTL
    assert use(api_client, body["token"]).get("/api/v1/orders/").status_code == 200


def test_a_wrong_password_is_a_400_in_the_error_shape(api_client, learner):
    response = api_client.post("/api/v1/auth/token/", {"username": learner.username, "password": "nope"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert not AuthToken.objects.exists()


def test_the_database_holds_no_usable_token(api_client, learner):
    token = obtain(api_client, learner)["token"]

    row = AuthToken.objects.get(user=learner)
    assert row.digest == hashlib.sha512(token.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM knox_authtoken")
        stored = " ".join(str(value) for record in cursor.fetchall() for value in record)
    assert token not in stored
    # What the database holds does not authenticate.
    for forged in (row.digest, row.token_key, row.digest[:64]):
        assert use(api_client, forged).get("/api/v1/orders/").status_code == 401


def test_an_expired_token_is_refused(api_client, learner):
    token = obtain(api_client, learner)["token"]
    AuthToken.objects.filter(user=learner).update(expiry=timezone.now() - timedelta(seconds=1))

    response = use(api_client, token).get("/api/v1/orders/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert not AuthToken.objects.filter(user=learner).exists()


def test_a_learner_lists_their_tokens_without_the_secrets(api_client, learner):
    first = obtain(api_client, learner)["token"]
    second = obtain(api_client, learner)["token"]
    obtain(api_client, UserFactory())  # someone else's

    listing = use(api_client, second).get("/api/v1/auth/tokens/")

    assert listing.status_code == 200
    rows = listing.json()
    assert len(rows) == 2
    assert {tuple(sorted(row)) for row in rows} == {("created", "current", "expiry", "id")}
    assert [row["current"] for row in rows] == [True, False]
    text = listing.content.decode()
    assert first not in text and second not in text
    assert not any(row.digest in text for row in AuthToken.objects.all())


def test_revoke_one_token(api_client, learner):
    first = obtain(api_client, learner)["token"]
    second = obtain(api_client, learner)["token"]
    rows = use(api_client, second).get("/api/v1/auth/tokens/").json()
    other_id = next(row["id"] for row in rows if not row["current"])

    assert api_client.delete(f"/api/v1/auth/tokens/{other_id}/").status_code == 204

    assert use(api_client, first).get("/api/v1/orders/").status_code == 401
    assert use(api_client, second).get("/api/v1/orders/").status_code == 200
    missing = api_client.delete(f"/api/v1/auth/tokens/{other_id}/")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert api_client.delete("/api/v1/auth/tokens/not-an-id/").status_code == 404


def test_a_learner_cannot_revoke_someone_elses_token(api_client, learner):
    obtain(api_client, learner)
    victim_id = AuthToken.objects.get(user=learner).digest[:16]
    stranger_token = obtain(api_client, UserFactory())["token"]

    assert use(api_client, stranger_token).delete(f"/api/v1/auth/tokens/{victim_id}/").status_code == 404
    assert AuthToken.objects.filter(user=learner).exists()


def test_revoke_all_and_logout(api_client, learner):
    tokens = [obtain(api_client, learner)["token"] for _ in range(3)]

    assert use(api_client, tokens[0]).post("/api/v1/auth/logout/").status_code == 204
    assert use(api_client, tokens[0]).get("/api/v1/orders/").status_code == 401
    assert use(api_client, tokens[1]).get("/api/v1/orders/").status_code == 200

    assert use(api_client, tokens[1]).delete("/api/v1/auth/tokens/").status_code == 204
    assert not AuthToken.objects.filter(user=learner).exists()
    assert use(api_client, tokens[2]).get("/api/v1/orders/").status_code == 401


def test_set_password_revokes_every_token(api_client, learner):
    token = obtain(api_client, learner)["token"]
    other_users_token = obtain(api_client, other := UserFactory())["token"]

    learner.set_password("a-brand-new-pw-771")
    learner.save()

    assert use(api_client, token).get("/api/v1/orders/").status_code == 401
    assert not AuthToken.objects.filter(user=learner).exists()
    assert AuthToken.objects.filter(user=other).exists()
    assert use(api_client, other_users_token).get("/api/v1/orders/").status_code == 200


def test_saving_a_user_without_a_new_password_keeps_the_tokens(api_client, learner):
    obtain(api_client, learner)
    learner.first_name = "Li"
    learner.save()
    learner.save(update_fields=["last_login"])
    assert AuthToken.objects.filter(user=learner).count() == 1


def test_the_admin_password_change_revokes_every_token(api_client, client, learner):
    token = obtain(api_client, learner)["token"]
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)

    response = client.post(
        f"/admin/auth/user/{learner.pk}/password/",
        {"password1": "a-brand-new-pw-771", "password2": "a-brand-new-pw-771"},
    )

    assert response.status_code == 302
    assert use(api_client, token).get("/api/v1/orders/").status_code == 401


def test_changepassword_command_revokes_every_token(api_client, learner, monkeypatch):
    token = obtain(api_client, learner)["token"]
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "a-brand-new-pw-771")
    call_command("changepassword", learner.username, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert use(api_client, token).get("/api/v1/orders/").status_code == 401


def test_tokens_never_reach_the_logs(api_client, learner, caplog):
    with caplog.at_level(logging.DEBUG):
        token = obtain(api_client, learner)["token"]
        use(api_client, token).get("/api/v1/auth/tokens/")
        api_client.post("/api/v1/auth/logout/")
        use(api_client, token).get("/api/v1/orders/")  # now refused
    assert token not in caplog.text and token[:15] not in caplog.text


@pytest.mark.parametrize("path", ["/admin/knox/authtoken/", "/admin/authtoken/tokenproxy/"])
def test_tokens_are_not_in_the_admin(client, db, path):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    assert client.get(path).status_code == 404


def test_a_bulk_password_update_revokes_the_tokens_too(api_client, learner):
    """The database's trigger (accounts.0004): a queryset update, which sends no signal,
    still revokes the tokens of the users whose password changed, and only theirs."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    token = obtain(api_client, learner)["token"]
    other_users_token = obtain(api_client, other := UserFactory())["token"]

    get_user_model().objects.filter(pk=learner.pk).update(password=make_password("a-brand-new-pw-771"))
    get_user_model().objects.filter(pk=other.pk).update(first_name="Wang")  # password untouched

    assert not AuthToken.objects.filter(user=learner).exists()
    assert use(api_client, token).get("/api/v1/orders/").status_code == 401
    assert use(api_client, other_users_token).get("/api/v1/orders/").status_code == 200


# Transactional: SQLite's schema editor refuses to run inside the test's transaction
# (it must turn foreign key checks off first); PostgreSQL would accept either.
@pytest.mark.django_db(transaction=True)
def test_the_trigger_goes_and_comes_back_with_its_migration(api_client, learner):
    from importlib import import_module

    from django.apps import apps
    from django.contrib.auth import get_user_model
    from django.db import connection

    migration = import_module("accounts.migrations.0004_password_update_revokes_tokens")
    with connection.schema_editor() as editor:
        migration.drop_trigger(apps, editor)
    obtain(api_client, learner)
    get_user_model().objects.filter(pk=learner.pk).update(password="!unusable")
    assert AuthToken.objects.filter(user=learner).exists()  # gone with it

    with connection.schema_editor() as editor:
        migration.create_trigger(apps, editor)
    get_user_model().objects.filter(pk=learner.pk).update(password="!unusable-again")
    assert not AuthToken.objects.filter(user=learner).exists()
