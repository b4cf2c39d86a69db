"""The data migration encrypts the account numbers already stored, and back."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from settlement.models import Payout
from tests.factories import MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("settlement", "0003_payout_approved_by_paid_by")]
AFTER = [("settlement", "0004_payout_account_number_encrypted")]


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes("settlement")


LATEST = None  # every settlement migration, looked up when the test runs


def migrate(target):
    if target is LATEST:
        target = _latest()
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def raw(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT account_number, account_last4 FROM settlement_payout WHERE id = %s", [pk])
        return cursor.fetchone()


def test_existing_numbers_are_encrypted_and_the_migration_reverses():
    merchant, user = MerchantFactory(), UserFactory()
    try:
        old_apps = migrate(BEFORE)
        OldPayout = old_apps.get_model("settlement", "Payout")
        common = {"merchant_id": merchant.pk, "requested_by_id": user.pk, "requested_at": timezone.now()}
        with_number = OldPayout.objects.create(
            payout_no="W-OLD-1", amount=100, account_number="6222020000009876", **common
        )
        without = OldPayout.objects.create(payout_no="W-OLD-2", amount=100, account_number="", **common)

        migrate(AFTER)
        token, last4 = raw(with_number.pk)
        assert "9876" not in token and token.startswith("gAAAA") and last4 == "9876"
        assert raw(without.pk) == ("", "")
        # Today's model at that migration: read only the columns it had then.
        assert (
            Payout.objects.only("account_number").get(pk=with_number.pk).account_number == "6222020000009876"
        )

        migrate(BEFORE)
        assert raw_plain(with_number.pk) == "6222020000009876"
    finally:
        migrate(LATEST)
        Payout.objects.filter(payout_no__startswith="W-OLD-").delete()  # made without the journal


def raw_plain(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT account_number FROM settlement_payout WHERE id = %s", [pk])
        return cursor.fetchone()[0]
