"""Payments and refunds carry their order's merchant (merchant staff's lists filter on it
without joining the orders): the column, filled from the orders, then required, then
indexed as the admin's list is sorted.

On the million-order database of ``bench/scale.py`` (950,000 payments) this took 115 s
(load average 12 on 2 cores) and locks both tables meanwhile: see README, "A million
orders", for doing it on a live database.
"""

import django.db.models.deletion
from django.db import migrations, models


def fill_merchant(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        # The foreign key is checked at once, row by row as the column is filled, not at
        # commit: a deferred check still pending would forbid the ALTER TABLE below.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for table in ("payments_payment", "payments_refund"):
        if connection.vendor == "postgresql":  # a join, not a lookup per row
            sql = (
                f"UPDATE {table} t SET merchant_id = o.merchant_id FROM orders_order o "  # noqa: S608
                "WHERE o.id = t.order_id AND t.merchant_id IS NULL"
            )
        else:
            sql = (
                f"UPDATE {table} SET merchant_id = (SELECT o.merchant_id FROM orders_order o "  # noqa: S608
                f"WHERE o.id = {table}.order_id) WHERE merchant_id IS NULL"
            )
        with connection.cursor() as cursor:
            cursor.execute(sql)
            if connection.vendor == "postgresql":
                # The planner's statistics of the new column (the admin's estimated counts
                # read them), rather than waiting for autovacuum after a million updates.
                cursor.execute(f"ANALYZE {table}")


class Migration(migrations.Migration):

    dependencies = [
        ("courses", "0003_labels_in_chinese"),
        ("orders", "0010_admin_list_indexes"),
        ("payments", "0011_journal_kind_promoter"),
    ]

    operations = [
        migrations.AddField(
            model_name="payment",
            name="merchant",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="courses.merchant",
                verbose_name="merchant",
            ),
        ),
        migrations.AddField(
            model_name="refund",
            name="merchant",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="courses.merchant",
                verbose_name="merchant",
            ),
        ),
        migrations.RunPython(fill_merchant, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="payment",
            name="merchant",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="courses.merchant",
                verbose_name="merchant",
            ),
        ),
        migrations.AlterField(
            model_name="refund",
            name="merchant",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="courses.merchant",
                verbose_name="merchant",
            ),
        ),
        migrations.AddIndex(
            model_name="payment",
            index=models.Index(fields=["merchant", "-created_at", "-id"], name="payment_merchant_list_idx"),
        ),
        migrations.AddIndex(
            model_name="refund",
            index=models.Index(fields=["merchant", "-created_at", "-id"], name="refund_merchant_list_idx"),
        ),
    ]
