"""Bank account numbers encrypted at rest (``settlement.crypto``), their last four
digits kept in clear for the mask.

The column becomes text (a Fernet token is longer than 64 characters); existing numbers
are encrypted with the newest ``KPAY_FIELD_ENCRYPTION_KEY``, in batches. Reversible
while a configured key opens them: going back decrypts every number into the old
64-character column.
"""

from django.db import migrations, models

import settlement.crypto

BATCH = 500


def _rewrite(apps, change):
    Payout = apps.get_model("settlement", "Payout")
    rows = Payout.objects.exclude(account_number="").order_by("pk").values_list("pk", "account_number")
    last = 0
    while batch := list(rows.filter(pk__gt=last)[:BATCH]):
        for pk, value in batch:
            Payout.objects.filter(pk=pk).update(**change(value))
        last = batch[-1][0]


def encrypt_numbers(apps, schema_editor):
    _rewrite(
        apps,
        lambda number: {
            "account_number": settlement.crypto.encrypt(number),
            "account_last4": settlement.crypto.last4(number),
        },
    )


def decrypt_numbers(apps, schema_editor):
    _rewrite(apps, lambda token: {"account_number": settlement.crypto.decrypt(token)})


class Migration(migrations.Migration):
    dependencies = [
        ("settlement", "0003_payout_approved_by_paid_by"),
    ]

    operations = [
        migrations.AddField(
            model_name="payout",
            name="account_last4",
            field=models.CharField(blank=True, max_length=4, verbose_name="account number, last 4 digits"),
        ),
        # Plain text first: the numbers are read and written as they are stored ...
        migrations.AlterField(
            model_name="payout",
            name="account_number",
            field=models.TextField(blank=True, verbose_name="account number"),
        ),
        migrations.RunPython(encrypt_numbers, decrypt_numbers),
        # ... then the model reads them through the key (no change in the database).
        migrations.AlterField(
            model_name="payout",
            name="account_number",
            field=settlement.crypto.EncryptedTextField(blank=True, verbose_name="account number"),
        ),
    ]
