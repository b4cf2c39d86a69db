# A changed password revokes the user's API tokens (accounts.signals) on the model's save;
# a bulk QuerySet.update(password=...), raw SQL or another program writing the table went
# around it. This trigger makes the database do it on every path: any UPDATE that changes
# a user's password hash deletes that user's knox tokens, in the same transaction.
# PostgreSQL and SQLite; elsewhere only the signal holds (README, "Security notes").

from django.db import migrations

FUNCTION = "kpay_password_change_revokes_tokens"
TRIGGER = "kpay_password_change_revokes_tokens"


def _tables(apps):
    user = apps.get_model("auth", "User")._meta.db_table
    token = apps.get_model("knox", "AuthToken")._meta.db_table
    return user, token


def create_trigger(apps, schema_editor):
    user, token = _tables(apps)
    quote = schema_editor.quote_name
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN DELETE FROM {quote(token)} WHERE user_id = NEW.id; RETURN NULL; END $$"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {TRIGGER} AFTER UPDATE OF password ON {quote(user)} FOR EACH ROW "
            f"WHEN (OLD.password IS DISTINCT FROM NEW.password) EXECUTE FUNCTION {FUNCTION}()"
        )
    elif vendor == "sqlite":
        schema_editor.execute(
            f"CREATE TRIGGER {TRIGGER} AFTER UPDATE OF password ON {quote(user)} FOR EACH ROW "
            f"WHEN OLD.password IS NOT NEW.password "
            f"BEGIN DELETE FROM {quote(token)} WHERE user_id = NEW.id; END"
        )


def drop_trigger(apps, schema_editor):
    user, _token = _tables(apps)
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {schema_editor.quote_name(user)}")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
    elif vendor == "sqlite":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_otp_enrolment"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
