"""Databases from before knox keep DRF's table of plain-text tokens; migrating drops it."""

import pytest
from django.core.management import call_command
from django.db import connection


@pytest.mark.django_db(transaction=True)
def test_migrating_drops_the_old_plain_token_table(django_user_model):
    user = django_user_model.objects.create_user("had-a-token", password="x" * 12)
    call_command("migrate", "accounts", "zero", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp,"
            " user_id integer NOT NULL REFERENCES auth_user (id))"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES ('plain-secret', NULL, %s)", [user.pk])
    call_command("migrate", "accounts", verbosity=0)
    assert "authtoken_token" not in connection.introspection.table_names()
    user.delete()  # no table left whose foreign key would refuse it
