# API tokens are now knox's (hashed, expiring, revocable). DRF's authtoken app is no longer
# installed, but databases created before keep its table of plain-text tokens: credentials
# nobody should hold any more, and a foreign key to auth_user that no model tracks (deleting
# such a user would fail). Dropping the table revokes every old token; learners log in again.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.RunSQL(
            "DROP TABLE IF EXISTS authtoken_token",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
