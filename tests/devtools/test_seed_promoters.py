"""``seed_demo`` gives a newcomer a promoter to look at (分销): Demo Studio's programme, an
approved ``promoter`` login, clicks and referred orders whose commission is in the
journal, played through the real services, once."""

import io
import re
from unittest import mock

import pytest
from django.core.management import call_command
from django.urls import reverse

from devtools import promoter_demo
from payments.models import JournalEntry
from promoters.ledger import promoter_balances
from promoters.models import Click, OrderReferral, Programme, Promoter
from settlement.models import Payout

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_makes_a_promoter_with_figures_once(client):
    out = seed()

    programme = Programme.objects.get()
    assert programme.merchant.slug == "demo-studio" and programme.rate_bp == 2000 and programme.active
    assert sorted(programme.courses.values_list("slug", flat=True)) == [
        "data-analysis",
        "python-basics",
        "writing-that-works",
    ]  # the published ones; not the draft
    promoter = Promoter.objects.select_related("user").get()
    assert promoter.user.username == "promoter" and not promoter.user.is_staff
    assert promoter.status == Promoter.Status.APPROVED and promoter.decided_by.username == "merchant"
    assert promoter.links.count() == 3

    referred = OrderReferral.objects.filter(promoter=promoter).select_related("order")
    assert len(referred) == 6 and Click.objects.count() == 13
    assert all(r.commission == r.order.total * 2000 // 10000 for r in referred)
    settled = sum(r.commission for r in referred if r.order.status == "completed")
    assert promoter_balances([promoter.pk])[promoter.pk] == {
        "pending": sum(r.commission for r in referred) - settled,
        "available": settled,
        "payouts": 0,
        "paid_out": 0,
    }
    assert (settled, promoter_balances([promoter.pk])[promoter.pk]["pending"]) == (11920, 5960)
    # In the journal as the services post it: accrued when paid, moved when settled.
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.PROMOTER).count() == 6 + 4
    assert "Promoter demo: 13 clicks, 6 referred orders" in out
    call_command("ledger_check", stdout=io.StringIO())  # raises on any breach

    counts = (Programme.objects.count(), Promoter.objects.count(), Click.objects.count())
    again = seed()
    assert (Programme.objects.count(), Promoter.objects.count(), Click.objects.count()) == counts
    assert OrderReferral.objects.count() == 6 and "Finance demo: already there." in again

    # The promoter logs in with the demo password and sees the figures, and can withdraw.
    assert client.login(username="promoter", password="kpay-demo")
    page = client.get("/promoter/", HTTP_ACCEPT_LANGUAGE="en")
    assert '<dd class="clicks">13</dd>' in page.text and '<dd class="orders">6</dd>' in page.text
    assert '<dd class="available">¥119.20</dd>' in page.text and "¥59.60" in page.text
    token = re.search(rf'name="w{promoter.pk}-token" value="([^"]+)"', page.text).group(1)
    data = {"amount": "100", "token": token, "account_name": "推广员", "bank_name": "ICBC"}
    data["account_number"] = "6222000000000001"
    response = client.post(
        f"/promoter/{promoter.pk}/withdraw/", {f"w{promoter.pk}-{k}": v for k, v in data.items()}
    )
    assert response.status_code == 302
    assert Payout.objects.get(payee=f"promoter:{promoter.pk}").amount == 10000


def test_finance_sees_the_demo_promoters_balances(client):
    seed()
    promoter = Promoter.objects.get()
    assert client.login(username="finance", password="kpay-demo")
    page = client.get(reverse("admin:promoters_promoter_change", args=[promoter.pk]))
    assert page.status_code == 200
    assert "¥119.20" in page.text


def test_a_demo_seeded_before_promoters_gets_a_referred_order_now():
    """``bin/dev`` on a database seeded before the promoter demo: the fortnight is not played
    again, and the promoter gets one referred order now, its commission pending."""
    with mock.patch.object(promoter_demo, "demo_promoter", return_value=None):  # the older seed
        assert "Promoter demo: skipped" in seed()
    assert not Promoter.objects.exists() and not OrderReferral.objects.exists()

    out = seed() + seed()

    promoter = Promoter.objects.get()
    referred = OrderReferral.objects.get(promoter=promoter)
    assert referred.commission == referred.order.total * 2000 // 10000 > 0
    assert referred.order.status == "fulfilled"  # in its refund window
    assert promoter_balances([promoter.pk])[promoter.pk]["pending"] == referred.commission
    assert out.count("Promoter demo: 1 clicks, 1 referred orders") == 2
    call_command("ledger_check", stdout=io.StringIO())
