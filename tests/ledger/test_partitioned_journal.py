"""The journal partitioned by month (``deploy/postgres/partition_journal.sql``, the first
step of the README's partitioning plan) keeps its invariants and passes ``ledger_check``.

The test runs the plan's SQL inside its own transaction (PostgreSQL's DDL is
transactional: everything is rolled back with the test), then posts through the real
services and checks the books. PostgreSQL only: partitioning is PostgreSQL's.
"""

from datetime import UTC, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from payments import ledger
from payments.ledger import checks as ledger_check
from payments.models import JournalEntry, Payment
from tests.factories import UserFactory

PLAN = Path(settings.BASE_DIR) / "deploy" / "postgres" / "partition_journal.sql"

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.postgres(reason="declarative partitioning is PostgreSQL's"),
]


def partition_the_journal() -> None:
    """The plan's SQL, without its BEGIN/COMMIT: the test's transaction stands in."""
    lines = PLAN.read_text().splitlines()
    sql = "\n".join(line for line in lines if line.strip() not in ("BEGIN;", "COMMIT;"))
    with connection.cursor() as cursor:
        # The test's own inserts left deferred foreign-key checks on the old table, which
        # could not be dropped with them pending; the plan runs in a fresh transaction.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql)


def partition_of(entry_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM payments_journalentry WHERE id = %s", [entry_id])
        return cursor.fetchone()[0]


def test_partitioned_journal_keeps_the_books(paid, buy, course):
    order, payment = paid
    entries_before = JournalEntry.objects.count()
    partition_the_journal()

    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'payments_journalentry'")
        assert cursor.fetchone()[0] == "p"  # partitioned
    # What was posted before is still there, in its month's partition.
    assert JournalEntry.objects.count() == entries_before
    first = JournalEntry.objects.filter(payment=payment).first()
    assert partition_of(first.pk) == f"payments_journalentry_{first.created_at.astimezone(UTC):%Y_%m}"
    assert ledger_check.run() == []

    # New postings through the services land in the partitioned table; ids go on.
    _other_order, other_payment = buy(UserFactory(), course)
    new_entries = JournalEntry.objects.filter(payment=other_payment)
    assert new_entries.count() == 2
    assert min(entry.pk for entry in new_entries) > first.pk
    assert ledger_check.run() == []

    # An entry dated months ahead goes to its own month (created ahead by the plan).
    later = timezone.now() + timedelta(days=62)
    entry = ledger.post_points(
        kind="granted", value=100, learner_id=order.learner_id, order_id=None, at=later
    )
    assert partition_of(entry.pk) == f"payments_journalentry_{later.astimezone(UTC):%Y_%m}"
    # Taken out again: no points lot backs it, and the test ends with a ledger_check.
    JournalEntry.objects.filter(pk=entry.pk)._raw_delete(JournalEntry.objects.db)


def test_partitioned_journal_refuses_what_the_journal_refuses(paid):
    order, payment = paid
    partition_the_journal()
    now = timezone.now()
    bad_rows = [
        {"amount": 0, "debit": ledger.PLATFORM_COMMISSION, "credit": ledger.gateway_clearing("sandbox")},
        {"amount": 100, "debit": ledger.PLATFORM_COMMISSION, "credit": ledger.PLATFORM_COMMISSION},
    ]
    for row in bad_rows:
        with pytest.raises(IntegrityError), transaction.atomic():
            JournalEntry.objects.create(
                kind=JournalEntry.Kind.FEE,
                debit_account=row["debit"],
                credit_account=row["credit"],
                amount=row["amount"],
                created_at=now,
            )

    # Exactly once per (kind, reference), across partitions (journal_reference): the
    # same settlement reference a month apart is refused, as on the unpartitioned table.
    def settle(at):
        return JournalEntry.objects.create(
            kind=JournalEntry.Kind.SETTLEMENT,
            debit_account=ledger.merchant_pending(order.merchant_id),
            credit_account=ledger.merchant_available(order.merchant_id),
            amount=1,
            merchant_id=order.merchant_id,
            order=order,
            reference="once-only",
            created_at=at,
        )

    settle(now)
    with pytest.raises(IntegrityError), transaction.atomic():
        settle(now + timedelta(days=40))
    # And ledger_check sees a breach in the partitioned journal: that stray settlement
    # of an order that is not completed.
    assert any("settled order" in breach for breach in ledger_check.run())
    JournalEntry.objects.filter(reference="once-only")._raw_delete(JournalEntry.objects.db)
    assert ledger_check.run() == []
    assert Payment.objects.filter(pk=payment.pk, status=Payment.Status.SUCCEEDED).exists()
