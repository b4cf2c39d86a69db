"""``seed_demo`` leaves the finance console something to show, once."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from courses.models import Merchant
from orders.models import Order
from payments import ledger
from settlement.models import Payout, SettlementStatement

pytestmark = pytest.mark.django_db


def test_seed_demo_plays_a_finance_fortnight_once(client, capsys):
    call_command("seed_demo")
    assert "Finance demo: 8 orders settled, 2 payouts" in capsys.readouterr().out
    demo = Merchant.objects.get(slug="demo-studio")

    assert Order.objects.filter(status=Order.Status.COMPLETED).count() == 8
    # still in their refund window: the day before yesterday's and yesterday's
    assert Order.objects.filter(status=Order.Status.FULFILLED, merchant=demo).count() == 3
    paid, waiting = Payout.objects.filter(merchant=demo).order_by("requested_at")
    assert (paid.status, paid.transfer_reference, waiting.status) == ("paid", "DEMO-CMB-0001", "requested")
    statements = SettlementStatement.objects.filter(merchant=demo)
    assert statements.count() >= 5
    latest = statements.order_by("period_start").last()
    assert latest.closing_available == ledger.merchant_available_balance(demo.pk) > 0

    counts = (Order.objects.count(), Payout.objects.count(), SettlementStatement.objects.count())
    call_command("seed_demo")
    assert "Finance demo: already there." in capsys.readouterr().out
    assert (Order.objects.count(), Payout.objects.count(), SettlementStatement.objects.count()) == counts

    assert client.login(username="finance", password="kpay-demo")
    page = client.get(reverse("admin:settlement_payout_changelist"), {"status__exact": "requested"})
    assert waiting.payout_no in page.text
    assert client.get(reverse("admin:settlement_dashboard_changelist")).status_code == 200
