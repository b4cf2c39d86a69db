"""Payouts (提现) through the services: limits, balance, decisions and the journal."""

import pytest
from django.utils import translation

from payments import ledger
from payments.ledger import checks as ledger_check
from payments.models import JournalEntry
from settlement import checks
from settlement.exceptions import (
    DecisionNoteRequired,
    InsufficientBalance,
    InvalidPayoutAmount,
    PayoutAboveMaximum,
    PayoutBelowMinimum,
    PayoutNotAllowed,
    PayoutSecondUserRequired,
    PayoutStateConflict,
    TransferReferenceRequired,
    TransferReferenceUsed,
)
from settlement.models import Payout, PayoutStatusChange
from settlement.services import (
    payout_approve,
    payout_fail,
    payout_mark_paid,
    payout_reject,
    payout_request,
)

pytestmark = pytest.mark.django_db

SHARE = 8910


@pytest.fixture
def funded(settled_orders, settings):
    """The merchant has 3 × 89.10 = 267.30 yuan available; payouts from 1.00 yuan."""
    settings.KPAY_PAYOUT_MIN = 100
    settings.KPAY_PAYOUT_MAX = 20_000
    orders = settled_orders(3)
    return orders[0].merchant


def balances(merchant):
    return ledger.merchant_balances([merchant.pk])[merchant.pk]


def test_a_payout_within_the_balance_sets_the_money_aside(funded, merchant_user):
    payout = payout_request(
        merchant=funded,
        amount=20_000,
        by=merchant_user,
        account_name="Studio One Ltd",
        bank_name="ICBC",
        account_number="6222020000001234",
    )

    assert payout.status == Payout.Status.REQUESTED and payout.payout_no.startswith("W")
    assert len(payout.payout_no) == 20 and payout.requested_by == merchant_user
    assert balances(funded) == {
        "pending": 0,
        "available": 3 * SHARE - 20_000,
        "payouts": 20_000,
        "paid_out": 0,
    }
    entry = JournalEntry.objects.get(kind=JournalEntry.Kind.PAYOUT)
    assert entry.reference == f"{payout.payout_no}:requested"
    change = PayoutStatusChange.objects.get(payout=payout)
    assert (change.to_status, change.actor) == ("requested", merchant_user)


def test_limits_and_balance_are_enforced(funded, merchant_user, settings):
    with pytest.raises(PayoutBelowMinimum):
        payout_request(merchant=funded, amount=99, by=merchant_user)
    with pytest.raises(PayoutAboveMaximum):
        payout_request(merchant=funded, amount=20_001, by=merchant_user)
    for bad in (0, -5, 100.0, True, "100"):
        with pytest.raises(InvalidPayoutAmount):
            payout_request(merchant=funded, amount=bad, by=merchant_user)
    settings.KPAY_PAYOUT_MAX = 100_000
    with pytest.raises(InsufficientBalance):
        payout_request(merchant=funded, amount=3 * SHARE + 1, by=merchant_user)
    assert not Payout.objects.exists()
    payout_request(merchant=funded, amount=3 * SHARE, by=merchant_user)  # all of it: fine
    with pytest.raises(InsufficientBalance):
        payout_request(merchant=funded, amount=100, by=merchant_user)
    assert balances(funded)["available"] == 0


def test_only_the_merchants_own_staff_may_request(funded, merchant2_user, finance, support):
    for user in (merchant2_user, finance, support):
        with pytest.raises(PayoutNotAllowed):
            payout_request(merchant=funded, amount=1000, by=user)
    assert not Payout.objects.exists()


def test_approve_then_pay_moves_the_money_to_paid_out(funded, merchant_user, finance, finance2):
    payout = payout_request(merchant=funded, amount=10_000, by=merchant_user)
    payout_approve(payout_id=payout.pk, by=finance, note="ok")
    with pytest.raises(TransferReferenceRequired):
        payout_mark_paid(payout_id=payout.pk, by=finance2, reference="  ")

    payout = payout_mark_paid(payout_id=payout.pk, by=finance2, reference="ICBC-20250101-77")

    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID and payout.transfer_reference == "ICBC-20250101-77"
    assert payout.decided_by == finance and payout.paid_at is not None
    assert (payout.approved_by, payout.paid_by) == (finance, finance2)
    assert balances(funded) == {
        "pending": 0,
        "available": 3 * SHARE - 10_000,
        "payouts": 0,
        "paid_out": 10_000,
    }
    assert list(payout.status_changes.values_list("to_status", flat=True)) == [
        "requested",
        "approved",
        "paid",
    ]


def test_a_rejection_needs_a_note_and_returns_the_money(funded, merchant_user, finance):
    payout = payout_request(merchant=funded, amount=10_000, by=merchant_user)
    with pytest.raises(DecisionNoteRequired):
        payout_reject(payout_id=payout.pk, by=finance, note=" ")

    payout_reject(payout_id=payout.pk, by=finance, note="account holder does not match")

    payout.refresh_from_db()
    assert payout.status == Payout.Status.REJECTED and payout.decision_note == "account holder does not match"
    assert balances(funded) == {"pending": 0, "available": 3 * SHARE, "payouts": 0, "paid_out": 0}
    with pytest.raises(PayoutStateConflict):
        payout_approve(payout_id=payout.pk, by=finance)
    with pytest.raises(PayoutStateConflict):
        payout_reject(payout_id=payout.pk, by=finance, note="twice")
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.PAYOUT_RETURNED).count() == 1


def test_a_failed_transfer_returns_the_money_and_cannot_be_paid(funded, merchant_user, finance):
    payout = payout_request(merchant=funded, amount=10_000, by=merchant_user)
    with pytest.raises(PayoutStateConflict):  # not approved yet
        payout_mark_paid(payout_id=payout.pk, by=finance, reference="X")
    payout_approve(payout_id=payout.pk, by=finance)
    payout_fail(payout_id=payout.pk, by=finance, note="bank returned it: account closed")
    with pytest.raises(PayoutStateConflict):
        payout_mark_paid(payout_id=payout.pk, by=finance, reference="X")
    assert Payout.objects.get().status == Payout.Status.FAILED
    assert balances(funded)["available"] == 3 * SHARE


def test_a_transfer_reference_is_recorded_once(funded, merchant_user, finance, finance2):
    one = payout_request(merchant=funded, amount=10_000, by=merchant_user)
    two = payout_request(merchant=funded, amount=10_000, by=merchant_user)
    for payout in (one, two):
        payout_approve(payout_id=payout.pk, by=finance)
    payout_mark_paid(payout_id=one.pk, by=finance2, reference="BANK-1")
    with pytest.raises(TransferReferenceUsed):
        payout_mark_paid(payout_id=two.pk, by=finance2, reference="BANK-1")
    two.refresh_from_db()
    assert two.status == Payout.Status.APPROVED and balances(funded)["paid_out"] == 10_000


def test_merchants_and_support_cannot_decide(funded, merchant_user, support):
    payout = payout_request(merchant=funded, amount=10_000, by=merchant_user)
    for user in (merchant_user, support):
        with pytest.raises(PayoutNotAllowed):
            payout_approve(payout_id=payout.pk, by=user)
        with pytest.raises(PayoutNotAllowed):
            payout_reject(payout_id=payout.pk, by=user, note="no")
    assert Payout.objects.get().status == Payout.Status.REQUESTED


def test_the_check_catches_a_payout_that_disagrees_with_the_journal(funded, merchant_user):
    payout = payout_request(merchant=funded, amount=10_000, by=merchant_user)
    assert not list(checks.payouts_match_journal())
    Payout.objects.filter(pk=payout.pk).update(status=Payout.Status.REJECTED, decision_note="sneaky")
    try:
        found = list(checks.payouts_match_journal())
        assert f"merchant {funded.pk}: payouts holds 10000, its payouts say 0" in found
        assert any(line.startswith(f"payout {payout.payout_no} (rejected") for line in found)
        assert any(b.startswith("payouts_match_journal:") for b in ledger_check.run())
    finally:
        Payout.objects.filter(pk=payout.pk).update(status=Payout.Status.REQUESTED, decision_note="")


# -- two finance users: one approves, another marks paid ---------------------------------
def test_the_approver_cannot_mark_the_payout_paid(funded, merchant_user, finance, finance2, admin_user):
    payout = payout_request(merchant=funded, amount=10_000, by=merchant_user)
    payout_approve(payout_id=payout.pk, by=finance)
    with pytest.raises(PayoutSecondUserRequired) as refused, translation.override("en"):
        payout_mark_paid(payout_id=payout.pk, by=finance, reference="BANK-9")
    with translation.override("en"):
        assert "different finance user" in str(refused.value.message)
    payout.refresh_from_db()
    assert payout.status == Payout.Status.APPROVED and payout.paid_by is None
    assert balances(funded)["paid_out"] == 0
    # A superuser who approved is no exception.
    other = payout_request(merchant=funded, amount=10_000, by=merchant_user)
    payout_approve(payout_id=other.pk, by=admin_user)
    with pytest.raises(PayoutSecondUserRequired):
        payout_mark_paid(payout_id=other.pk, by=admin_user, reference="BANK-10")
    payout_mark_paid(payout_id=payout.pk, by=finance2, reference="BANK-9")
    payout_mark_paid(payout_id=other.pk, by=finance, reference="BANK-10")
    assert balances(funded)["paid_out"] == 20_000


def test_the_database_refuses_the_approver_as_payer(funded, merchant_user, finance):
    from django.db import IntegrityError, transaction

    payout = payout_request(merchant=funded, amount=10_000, by=merchant_user)
    payout_approve(payout_id=payout.pk, by=finance)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payout.objects.filter(pk=payout.pk).update(paid_by=finance)
