# IdempotencyRecord moves from orders to core: the table (orders_idempotencyrecord) stays;
# only Django's model state changes hands (orders 0006 removes it from orders' state).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("orders", "0005_order_settlement_due_idx"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="IdempotencyRecord",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("key", models.CharField(max_length=255)),
                        ("scope", models.CharField(help_text="METHOD and path", max_length=200)),
                        ("fingerprint", models.CharField(help_text="SHA-256 of the request body", max_length=64)),
                        ("status_code", models.PositiveSmallIntegerField(help_text="Empty while in progress", null=True)),
                        ("response_body", models.JSONField(null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "db_table": "orders_idempotencyrecord",
                        "constraints": [models.UniqueConstraint(fields=("user", "key"), name="idempotency_key_per_user")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
