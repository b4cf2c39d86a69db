"""Payouts record who approved them and who marked them paid: two different finance
users (``payout_paid_by_second_user``).

Existing payouts are filled in from their status history (the actor of the ``approve``
and ``mark_paid`` transitions). A payout paid before this rule by the user who approved
it keeps ``paid_by`` empty (the history still says who): the rule is not applied
backwards. Reversible: the columns are dropped.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def fill_from_history(apps, schema_editor):
    Payout = apps.get_model("settlement", "Payout")
    PayoutStatusChange = apps.get_model("settlement", "PayoutStatusChange")
    actors = {}
    for payout_id, transition, actor_id in (
        PayoutStatusChange.objects.filter(transition__in=["approve", "mark_paid"], actor__isnull=False)
        .order_by("created_at", "pk")
        .values_list("payout_id", "transition", "actor_id")
    ):
        actors.setdefault(payout_id, {})[transition] = actor_id
    for payout_id, by in actors.items():
        approved_by, paid_by = by.get("approve"), by.get("mark_paid")
        if paid_by is not None and paid_by == approved_by:
            paid_by = None
        Payout.objects.filter(pk=payout_id).update(approved_by_id=approved_by, paid_by_id=paid_by)


class Migration(migrations.Migration):
    dependencies = [
        ("settlement", "0002_statement_payout_labels"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="payout",
            name="approved_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="approved by",
            ),
        ),
        migrations.AddField(
            model_name="payout",
            name="paid_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="marked paid by",
            ),
        ),
        migrations.RunPython(fill_from_history, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="payout",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("paid_by__isnull", True),
                    ("approved_by__isnull", True),
                    models.Q(("paid_by", models.F("approved_by")), _negated=True),
                    _connector="OR",
                ),
                name="payout_paid_by_second_user",
            ),
        ),
    ]
