"""``ledger_check`` passes on sound books and catches each kind of corruption.

Corruptions are written with raw SQL, around the model's append-only guard, as a
faulty script or a manual fix would; each test puts the row back before it ends (the
suite checks the ledger after every test).
"""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from payments import ledger
from payments.ledger import checks as ledger_check
from payments.models import JournalEntry

pytestmark = pytest.mark.django_db


def run_command() -> str:
    out = io.StringIO()
    call_command("ledger_check", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def execute(sql: str, params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_sound_books_pass(paid):
    assert ledger_check.run() == []
    assert "ledger OK" in run_command()


def commission_entry() -> JournalEntry:
    return JournalEntry.objects.get(credit_account=ledger.PLATFORM_COMMISSION)


CORRUPTIONS = {
    # name: (SQL that corrupts the commission entry, SQL that repairs it, check that must fire)
    "amount changed": (
        "UPDATE payments_journalentry SET amount = amount + 1 WHERE id = %s",
        "UPDATE payments_journalentry SET amount = amount - 1 WHERE id = %s",
        "payments_posted_once",
    ),
    "account renamed": (
        "UPDATE payments_journalentry SET credit_account = 'platform:comission' WHERE id = %s",
        "UPDATE payments_journalentry SET credit_account = 'platform:commission' WHERE id = %s",
        "accounts_well_formed",
    ),
    "moved to another merchant": (
        "UPDATE payments_journalentry SET credit_account = 'merchant:999999:pending' WHERE id = %s",
        "UPDATE payments_journalentry SET credit_account = 'platform:commission' WHERE id = %s",
        "accounts_well_formed",
    ),
    "posting cut loose from its payment": (
        "UPDATE payments_journalentry SET payment_id = NULL WHERE id = %s",
        None,  # repaired below: the payment id is not known to the SQL
        "payments_posted_once",
    ),
}


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_a_corrupted_entry_is_caught_and_the_command_exits_non_zero(paid, name):
    _order, payment = paid
    corrupt, repair, check = CORRUPTIONS[name]
    entry = commission_entry()
    execute(corrupt, [entry.pk])
    try:
        breaches = ledger_check.run()
        assert any(b.startswith(f"{check}:") for b in breaches), breaches
        with pytest.raises(CommandError, match="breach"):
            run_command()
    finally:
        if repair:
            execute(repair, [entry.pk])
        else:
            execute("UPDATE payments_journalentry SET payment_id = %s WHERE id = %s", [payment.pk, entry.pk])
    assert ledger_check.run() == []


def test_a_deleted_entry_is_caught(paid):
    entry = commission_entry()
    execute("DELETE FROM payments_journalentry WHERE id = %s", [entry.pk])
    try:
        breaches = ledger_check.run()
        assert any(b.startswith("payments_posted_once:") for b in breaches)
        assert any(b.startswith("journal_balances:") or b.startswith("clearing_matches") for b in breaches)
    finally:
        JournalEntry.objects.bulk_create([entry])  # the same row again, id included
    assert ledger_check.run() == []


def test_an_entry_posted_twice_is_caught(paid):
    entry = commission_entry()
    entry.pk = None
    copy = JournalEntry.objects.bulk_create([entry])[0]
    try:
        assert any(b.startswith("payments_posted_once:") for b in ledger_check.run())
    finally:
        execute("DELETE FROM payments_journalentry WHERE id = %s", [copy.pk])


def test_a_payment_marked_refunded_without_a_refund_is_caught(paid):
    _order, payment = paid
    execute("UPDATE payments_payment SET refunded_amount = 100 WHERE id = %s", [payment.pk])
    try:
        breaches = ledger_check.run()
        assert any(b.startswith("refund_bookkeeping:") for b in breaches)
        assert any(b.startswith("clearing_matches_gateways:") for b in breaches)
    finally:
        execute("UPDATE payments_payment SET refunded_amount = 0 WHERE id = %s", [payment.pk])


def test_a_settlement_of_an_order_still_in_its_window_is_caught(paid):
    order, _payment = paid
    entry = JournalEntry.objects.create(
        kind=JournalEntry.Kind.SETTLEMENT,
        debit_account=ledger.merchant_pending(order.merchant_id),
        credit_account=ledger.merchant_available(order.merchant_id),
        amount=1,
        merchant_id=order.merchant_id,
        order=order,
        reference=order.order_no,
        created_at=order.paid_at,
    )
    try:
        assert any(b.startswith("settled_orders_left_nothing_pending:") for b in ledger_check.run())
    finally:
        execute("DELETE FROM payments_journalentry WHERE id = %s", [entry.pk])


def test_a_settlement_of_no_order_is_caught(paid):
    order, _payment = paid
    entry = JournalEntry.objects.create(
        kind=JournalEntry.Kind.SETTLEMENT,
        debit_account=ledger.merchant_pending(order.merchant_id),
        credit_account=ledger.merchant_available(order.merchant_id),
        amount=1,
        merchant_id=order.merchant_id,
        reference="no-order",
        created_at=order.paid_at,
    )
    try:
        breaches = ledger_check.run()
        assert f"settled_orders_left_nothing_pending: entry {entry.pk} settled no order" in breaches
    finally:
        execute("DELETE FROM payments_journalentry WHERE id = %s", [entry.pk])


def test_timings_name_every_check(paid):
    out = io.StringIO()
    call_command("ledger_check", "--timings", stdout=out, stderr=io.StringIO())
    printed = out.getvalue()
    for check in ledger_check.checks():
        assert f" s  {check.__name__}\n" in printed
    assert f"({len(ledger_check.checks())} checks)" in printed
    assert "ledger OK" in printed


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_run_reads_one_read_only_snapshot():
    """Outside any transaction, every check of a run reads the same snapshot: one
    ``REPEATABLE READ`` transaction, read-only, with the run's ``work_mem``."""
    seen = []

    def snapshot_settings():
        with connection.cursor() as cursor:
            for setting in ("transaction_isolation", "transaction_read_only", "work_mem"):
                cursor.execute(f"SHOW {setting}")
                seen.append(cursor.fetchone()[0])
        return []

    ledger_check.register(snapshot_settings)
    try:
        assert ledger_check.run() == []
    finally:
        ledger_check._CHECKS.remove(snapshot_settings)
    assert seen == ["repeatable read", "on", ledger_check.WORK_MEM]
    assert not connection.in_atomic_block


def test_a_refund_taking_more_than_its_payment_gave_is_caught(paid):
    """A refund leg that takes back from the merchant more than the payment's posting
    gave it (here one fen more than its share)."""
    order, payment = paid
    share = JournalEntry.objects.get(
        payment=payment, credit_account=ledger.merchant_pending(order.merchant_id)
    )
    execute("UPDATE payments_payment SET refunded_amount = 1 WHERE id = %s", [payment.pk])
    entry = JournalEntry.objects.create(
        kind=JournalEntry.Kind.REFUND,
        debit_account=ledger.merchant_pending(order.merchant_id),
        credit_account=share.debit_account,
        amount=share.amount + 1,
        merchant_id=order.merchant_id,
        order=order,
        payment=payment,
        created_at=order.paid_at,
    )
    try:
        breaches = ledger_check.run()
        took = f"payment {payment.pk}: refunds took 1 more from merchant than it was given"
        assert f"reversals_within_postings: {took}" in breaches
    finally:
        execute("DELETE FROM payments_journalentry WHERE id = %s", [entry.pk])
        execute("UPDATE payments_payment SET refunded_amount = 0 WHERE id = %s", [payment.pk])
