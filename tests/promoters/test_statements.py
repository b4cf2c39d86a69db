"""A merchant's statement deducts its promoters' commission (README, "Promoters": the
deduction order and its worked example, figure for figure)."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from payments import ledger
from payments.ledger import checks as ledger_check
from promoters.ledger import promoter_balances
from promoters.services import promoter_payout_request
from settlement import selectors
from settlement.models import SettlementStatement
from settlement.services import payout_approve, payout_mark_paid, statements_generate
from tests.factories import CouponFactory
from tests.settlement.conftest import merchant_user  # noqa: F401
from tests.settlement.test_admin import as_user, csv_rows

pytestmark = pytest.mark.django_db


def around_today():
    today = timezone.localdate()
    start, end = today - timedelta(days=1), today + timedelta(days=1)
    return start, end, selectors.day_start(end + timedelta(days=1))


def available_identity(figures) -> int:
    """What the statement's available-balance lines add up to."""
    return (
        figures["opening_available"]
        + figures["settled"]
        - figures["charge_backs"]
        - figures["payouts_requested"]
        + figures["payouts_returned"]
    )


class WorkedExample:
    """The README's worked example: a 99.00 course, a merchant coupon of 9.00 off (the
    learner pays 90.00), platform commission 10 %, promoter rate 10 %. :meth:`first`: a
    third refunded, settled, a 0.54 gateway fee; :meth:`rest`: the promoter's 6.00
    withdrawn, the other 60.00 refunded."""

    def __init__(self, **fixtures):
        self.__dict__.update(fixtures)
        self.coupon = CouponFactory(
            amount_off=900, funded_by="merchant", merchant=self.course.merchant, scope="merchant"
        ).code

    def first(self):
        order, payment = self.buy_referred(self.learner, self.course, self.referral, coupon=self.coupon)
        assert order.total == 9000 and order.promoter_id == self.promoter.pk
        self.refund(order, 3000)
        order = self.settle(order)
        ledger.post_gateway_fee(payment=payment, amount=54, reference="sandbox:fee-w", at=timezone.now())
        return order

    def rest(self, order):
        promoter = self.promoter
        payout = promoter_payout_request(
            user=promoter.user, promoter_id=promoter.pk, amount=600, account_name="P"
        )
        payout_approve(payout_id=payout.pk, by=self.finance)
        payout_mark_paid(payout_id=payout.pk, by=self.finance2, reference="BANK-W")
        self.refund(order, 6000)
        order.refresh_from_db()
        return order


@pytest.fixture
def worked_example(
    learner,
    course,
    promoter,
    referral,
    buy_referred,
    no_refund_window,
    settle,
    refund,
    finance,
    finance2,
    settings,
):
    settings.KPAY_PAYOUT_MIN = 100
    return WorkedExample(
        learner=learner,
        course=course,
        promoter=promoter,
        referral=referral,
        buy_referred=buy_referred,
        settle=settle,
        refund=refund,
        finance=finance,
        finance2=finance2,
    )


def test_the_statement_of_a_partly_refunded_referred_order(worked_example, promoter, merchant):
    worked_example.first()
    start, end, after = around_today()

    (statement,) = statements_generate(period_start=start, period_end=end, now=after)

    figures = statement.figures()
    assert {name: figures[name] for name in list(figures)[:6]} == {
        "gross_sales": 9000,
        "refunds": 3000,
        "commission": 900 - 300,
        "promoter_commission": 900 - 300,
        "gateway_fees": 54,
        "net": 4746,  # 9000 - 3000 - 600 - 600 - 54
    }
    assert (figures["settled"], figures["charge_backs"], figures["closing_available"]) == (4800, 54, 4746)
    assert figures["closing_available"] == available_identity(figures)
    assert figures["closing_available"] == ledger.merchant_available_balance(merchant.pk)
    assert promoter_balances([promoter.pk])[promoter.pk]["available"] == 600
    assert ledger_check.run() == []


def test_the_statement_after_the_full_refund(worked_example, promoter, merchant):
    start, end, after = around_today()
    worked_example.rest(worked_example.first())

    (statement,) = statements_generate(period_start=start, period_end=end, now=after)

    assert statement.figures() == {
        "gross_sales": 9000,
        "refunds": 9000,
        "commission": 0,
        "promoter_commission": 0,  # 900 accrued, 300 and 600 given back by the refunds
        "gateway_fees": 54,
        "net": -54,  # the merchant bears only the fee
        "platform_coupons": 0,
        "points_redeemed": 0,
        "settled": 4800,
        # The fee, and the merchant's 5400 share of the settled refund less the 600 the
        # promoter gives back: the available lines add up to the closing balance.
        "charge_backs": 54 + 5400 - 600,
        "payouts_requested": 0,  # the promoter's payout is not the merchant's
        "payouts_returned": 0,
        "payouts_paid": 0,
        "opening_available": 0,
        "closing_available": -54,
        "order_count": 1,
        "refund_count": 2,
    }
    assert statement.closing_available == available_identity(statement.figures())
    assert statement.closing_available == ledger.merchant_available_balance(merchant.pk)
    assert promoter_balances([promoter.pk])[promoter.pk] == {
        "pending": 0,
        "available": -600,  # owes back what was paid out
        "payouts": 0,
        "paid_out": 600,
    }
    assert ledger_check.run() == []


def test_regenerating_a_statement_brings_in_the_later_refund(worked_example, merchant):
    start, end, after = around_today()
    order = worked_example.first()
    statements_generate(period_start=start, period_end=end, now=after)
    statement = SettlementStatement.objects.get(merchant=merchant)
    assert (statement.promoter_commission, statement.net, statement.charge_backs) == (600, 4746, 54)

    worked_example.rest(order)  # posted into the period already stated
    assert any(breach.startswith("statements_match_journal") for breach in ledger_check.run())
    statements_generate(period_start=start, period_end=end, now=after, regenerate=True)

    statement.refresh_from_db()
    assert (statement.promoter_commission, statement.net, statement.charge_backs) == (0, -54, 4854)
    assert ledger_check.run() == []


def test_the_database_refuses_a_net_that_does_not_deduct_the_promoter_commission(merchant):
    today = timezone.localdate()
    figures = dict.fromkeys(SettlementStatement.FIGURES, 0)
    figures.update(gross_sales=9000, refunds=3000, commission=600, promoter_commission=600, gateway_fees=54)
    with pytest.raises(IntegrityError), transaction.atomic():
        SettlementStatement.objects.create(
            merchant=merchant,
            period_start=today,
            period_end=today,
            generated_at=timezone.now(),
            **{**figures, "net": 9000 - 3000 - 600 - 54},  # the old formula
        )
    made = SettlementStatement.objects.create(
        merchant=merchant,
        period_start=today,
        period_end=today,
        generated_at=timezone.now(),
        **{**figures, "net": 4746},
    )
    made.delete()  # no journal behind it: the ledger check would report it


def test_the_statement_shows_the_promoter_commission_in_admin_and_csv(
    client,
    worked_example,
    merchant,
    merchant_user,  # noqa: F811
):
    worked_example.first()
    start, end, after = around_today()
    statements_generate(period_start=start, period_end=end, now=after)
    statement = SettlementStatement.objects.get(merchant=merchant)
    as_user(client, merchant_user)

    page = client.get(reverse("admin:settlement_settlementstatement_change", args=[statement.pk]))
    assert page.status_code == 200
    assert "promoter commission" in page.text.lower() and "6.00" in page.text and "47.46" in page.text
    listed = client.get(reverse("admin:settlement_settlementstatement_changelist"))
    assert "promoter commission" in listed.text.lower()

    rows = csv_rows(client.get(reverse("admin:settlement_settlementstatement_export_csv")))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["promoter_commission_yuan"], row["net_yuan"]) == ("6.00", "47.46")


def test_the_promoter_commission_is_in_chinese(client, worked_example, merchant, merchant_user):  # noqa: F811
    worked_example.first()
    start, end, after = around_today()
    statements_generate(period_start=start, period_end=end, now=after)
    statement = SettlementStatement.objects.get(merchant=merchant)
    as_user(client, merchant_user)

    page = client.get(
        reverse("admin:settlement_settlementstatement_change", args=[statement.pk]),
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )

    assert page.status_code == 200 and "推广佣金" in page.text
