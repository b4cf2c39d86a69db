"""The journal's invariants, checked after every test that touched the database."""

from collections import defaultdict

from payments import ledger
from payments.models import Payment


def assert_ledger_consistent() -> None:
    balances = ledger.account_balances()
    assert sum(balances.values()) == 0, f"the journal does not balance: {balances}"

    received = defaultdict(int)  # what each channel's gateway took from payers
    applied = 0  # what reached orders: merchants' shares plus commission
    unapplied = 0
    for payment in Payment.objects.filter(status__in=[Payment.Status.SUCCEEDED, Payment.Status.UNAPPLIED]):
        received[payment.channel] += payment.amount
        if payment.status == Payment.Status.SUCCEEDED:
            applied += payment.amount
        else:
            unapplied += payment.amount
    for channel, amount in received.items():
        assert balances.get(ledger.gateway_clearing(channel), 0) == amount, f"clearing:{channel}"
    shares = sum(v for k, v in balances.items() if k.startswith("merchant:")) + balances.get(
        ledger.PLATFORM_COMMISSION, 0
    )
    assert -shares == applied, "merchant shares + commission != applied payments"
    assert -balances.get(ledger.UNAPPLIED_RECEIPTS, 0) == unapplied
