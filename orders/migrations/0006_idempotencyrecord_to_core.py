# IdempotencyRecord now belongs to core (core 0001): drop it from orders' model state only;
# the table stays where it is.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0005_order_settlement_due_idx"),
        ("core", "0001_idempotencyrecord_from_orders"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="IdempotencyRecord")],
            database_operations=[],
        ),
    ]
