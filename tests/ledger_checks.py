"""The journal's invariants, checked after every test that touched the database."""

from collections import defaultdict

from django.db.models import Sum

from orders.models import Order
from payments import ledger
from payments.models import JournalEntry, Payment, Refund


def assert_ledger_consistent() -> None:
    balances = ledger.account_balances()
    assert sum(balances.values()) == 0, f"the journal does not balance: {balances}"

    received = defaultdict(int)  # what each channel's gateway holds: taken from payers, less refunds
    applied = 0  # what reached orders and stays there: merchants' shares plus commission
    unapplied = 0
    for payment in Payment.objects.filter(status__in=[Payment.Status.SUCCEEDED, Payment.Status.UNAPPLIED]):
        received[payment.channel] += payment.amount - payment.refunded_amount
        if payment.status == Payment.Status.SUCCEEDED:
            applied += payment.amount - payment.refunded_amount
        else:
            unapplied += payment.amount
    for channel, amount in received.items():
        assert balances.get(ledger.gateway_clearing(channel), 0) == amount, f"clearing:{channel}"
    shares = sum(v for k, v in balances.items() if k.startswith("merchant:")) + balances.get(
        ledger.PLATFORM_COMMISSION, 0
    )
    assert -shares == applied, "merchant shares + commission != applied payments less refunds"
    assert -balances.get(ledger.UNAPPLIED_RECEIPTS, 0) == unapplied
    _assert_refunds_consistent()


def _assert_refunds_consistent() -> None:
    """What payments and orders say was refunded (or is in flight) is what their refunds
    say, each refund that succeeded is in the journal exactly once for its amount, and
    no reversal takes back more than its payment's posting gave."""
    succeeded = defaultdict(int)
    in_flight = defaultdict(int)
    for refund in Refund.objects.all():
        if refund.status == Refund.Status.SUCCEEDED:
            succeeded[refund.payment_id] += refund.amount
        elif refund.in_flight:
            in_flight[refund.payment_id] += refund.amount
    for payment in Payment.objects.all():
        assert payment.refunded_amount == succeeded[payment.pk], f"{payment}: refunded"
        assert payment.refund_reserved == in_flight[payment.pk], f"{payment}: in flight"
        assert payment.refunded_amount + payment.refund_reserved <= payment.amount, payment
    for order in Order.objects.filter(refunded_amount__gt=0):
        paid = order.payments.filter(status=Payment.Status.SUCCEEDED).first()
        assert paid is not None and order.refunded_amount == paid.refunded_amount, order
        expected = (
            Order.Status.REFUNDED if order.refunded_amount == order.total else Order.Status.PARTIALLY_REFUNDED
        )
        assert order.status == expected, order

    posted = dict(
        JournalEntry.objects.filter(kind=JournalEntry.Kind.REFUND)
        .values_list("refund")
        .annotate(total=Sum("amount"))
    )
    expected = dict(Refund.objects.filter(status=Refund.Status.SUCCEEDED).values_list("pk", "amount"))
    assert posted == expected, "refund postings != successful refunds"

    for payment_id in succeeded:
        legs = defaultdict(int)
        for entry in JournalEntry.objects.filter(payment_id=payment_id):
            if entry.kind == JournalEntry.Kind.PAYMENT:
                legs[entry.credit_account] += entry.amount
            elif entry.kind == JournalEntry.Kind.REFUND:
                legs[entry.debit_account] -= entry.amount
        assert all(v >= 0 for v in legs.values()), f"payment {payment_id}: reversed more than posted {legs}"
