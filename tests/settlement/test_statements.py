"""Statements: figures summed from the journal, made once per merchant and period,
and kept honest by the ledger checks."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from payments import ledger
from payments.ledger import checks as ledger_check
from settlement import checks, selectors
from settlement.exceptions import StatementPeriodInvalid, StatementPeriodOpen, StatementPeriodOverlaps
from settlement.models import SettlementStatement
from settlement.services import (
    payout_approve,
    payout_mark_paid,
    payout_reject,
    payout_request,
    statements_generate,
    statements_generate_due,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def breaches(check):
    return list(check())


@pytest.fixture
def low_minimum(settings):
    settings.KPAY_PAYOUT_MIN = 100


@pytest.fixture
def crafted(
    buy, course, course2, settle, refund, finance, finance2, merchant_user, no_refund_window, low_minimum
):
    """Four orders of merchant 1 (99.00 each, 10 % commission) and one of merchant 2:

    1. settled, then a gateway fee of 0.54 (charged back to available);
    2. 30.00 refunded in its window (from pending), then settled;
    3. settled, then refunded in full (charged back to available);
    4. not settled, a gateway fee of 0.59 (from pending);
    and payouts of 50.00 (rejected) and 30.00 (paid).
    """
    orders = [buy(UserFactory(), course) for _ in range(4)]
    (o1, p1), (o2, _), (o3, _), (_o4, p4) = orders
    settle(o1)
    ledger.post_gateway_fee(payment=p1, amount=54, reference="sandbox:fee-1", at=timezone.now())
    refund(o2, amount=3000)
    settle(o2)
    settle(o3)
    refund(o3)
    ledger.post_gateway_fee(payment=p4, amount=59, reference="sandbox:fee-4", at=timezone.now())
    rejected = payout_request(merchant=course.merchant, amount=5000, by=merchant_user)
    payout_reject(payout_id=rejected.pk, by=finance, note="wrong account")
    paid = payout_request(merchant=course.merchant, amount=3000, by=merchant_user)
    payout_approve(payout_id=paid.pk, by=finance)
    payout_mark_paid(payout_id=paid.pk, by=finance2, reference="BANK-0001")  # a second finance user
    buy(UserFactory(), course2)
    return course.merchant, course2.merchant


def around_today():
    """A three-day period around today (robust to a test crossing midnight) and a
    moment after it."""
    today = timezone.localdate()
    start, end = today - timedelta(days=1), today + timedelta(days=1)
    return start, end, selectors.day_start(end + timedelta(days=1))


def test_statement_figures_on_crafted_orders_refunds_fees_and_payouts(crafted):
    merchant, merchant2 = crafted
    start, end, after = around_today()

    made = statements_generate(period_start=start, period_end=end, now=after)

    assert len(made) == 2
    one = SettlementStatement.objects.get(merchant=merchant)
    assert one.figures() == {
        "gross_sales": 4 * 9900,
        "refunds": 3000 + 9900,
        "commission": 4 * 990 - 300 - 990,
        "promoter_commission": 0,  # no order was referred
        "gateway_fees": 54 + 59,
        "net": 39600 - 12900 - 2670 - 113,
        "platform_coupons": 0,
        "points_redeemed": 0,
        "settled": 8910 + (8910 - 2700) + 8910,
        "charge_backs": 8910 + 54,
        "payouts_requested": 5000 + 3000,
        "payouts_returned": 5000,
        "payouts_paid": 3000,
        "opening_available": 0,
        "closing_available": 24030 - 8964 - 8000 + 5000,
        "order_count": 4,
        "refund_count": 2,
    }
    assert one.closing_available == ledger.merchant_available_balance(merchant.pk)
    two = SettlementStatement.objects.get(merchant=merchant2)
    assert (two.gross_sales, two.commission, two.net, two.settled, two.order_count) == (4900, 490, 4410, 0, 1)
    assert not ledger_check.run()


def test_generating_again_changes_nothing(crafted):
    start, end, after = around_today()
    statements_generate(period_start=start, period_end=end, now=after)
    first = {s.pk: (s.figures(), s.generated_at) for s in SettlementStatement.objects.all()}

    assert statements_generate(period_start=start, period_end=end, now=after + timedelta(hours=1)) == []

    assert {s.pk: (s.figures(), s.generated_at) for s in SettlementStatement.objects.all()} == first


def test_a_period_that_is_not_over_is_refused(paid):
    today = timezone.localdate()
    with pytest.raises(StatementPeriodOpen):
        statements_generate(period_start=today)
    with pytest.raises(StatementPeriodInvalid):
        statements_generate(period_start=today, period_end=today - timedelta(days=1))
    assert not SettlementStatement.objects.exists()


def test_overlapping_periods_are_refused(paid):
    start, end, after = around_today()
    statements_generate(period_start=start, period_end=end, now=after)
    with pytest.raises(StatementPeriodOverlaps):
        statements_generate(period_start=timezone.localdate(), now=after)
    assert SettlementStatement.objects.count() == 1


def test_a_late_posting_is_caught_by_the_check_and_regenerating_fixes_it(paid, buy, course):
    start, end, after = around_today()
    statements_generate(period_start=start, period_end=end, now=after)
    assert not breaches(checks.statements_match_journal)

    buy(UserFactory(), course)  # posted into a period already stated

    found = breaches(checks.statements_match_journal)
    assert len(found) == 1 and "gross_sales': (9900, 19800)" in found[0]
    changed = statements_generate(period_start=start, period_end=end, now=after, regenerate=True)
    assert [s.gross_sales for s in changed] == [19800]
    assert not breaches(checks.statements_match_journal)


def test_statements_chain_from_closing_to_opening_balance(settled_orders, merchant, merchant_user, settings):
    settings.KPAY_PAYOUT_MIN = 100
    settled_orders(2)
    today = timezone.localdate()
    tomorrow_noon = selectors.day_start(today + timedelta(days=1)) + timedelta(hours=12)
    payout_request(merchant=merchant, amount=10000, by=merchant_user, now=tomorrow_noon)
    after = selectors.day_start(today + timedelta(days=2))

    statements_generate(period_start=today, now=after)
    statements_generate(period_start=today + timedelta(days=1), now=after)

    first, second = SettlementStatement.objects.order_by("period_start")
    assert first.closing_available == 2 * 8910 == second.opening_available
    assert second.payouts_requested == 10000 and second.gross_sales == 0 and second.order_count == 0
    assert second.closing_available == 2 * 8910 - 10000
    assert not breaches(checks.statements_chain) and not breaches(checks.statements_match_journal)

    SettlementStatement.objects.filter(pk=second.pk).update(opening_available=1, closing_available=1 - 10000)
    try:
        assert breaches(checks.statements_chain) == [
            f"statement {second.pk} ({second}) opens at 1, statement {first.pk} closed at {2 * 8910}"
        ]
        assert "opening_available': (1, 17820)" in breaches(checks.statements_match_journal)[0]
    finally:
        SettlementStatement.objects.filter(pk=second.pk).update(
            opening_available=second.opening_available, closing_available=second.closing_available
        )


def test_the_periodic_run_makes_yesterdays_statements_once_the_day_is_over(paid, course2, buy):
    buy(UserFactory(), course2)
    today = timezone.localdate()
    midnight = selectors.day_start(today + timedelta(days=1))

    assert statements_generate_due(now=midnight + timedelta(minutes=5)) == 0  # grace: not yet
    assert statements_generate_due(now=midnight + timedelta(hours=1)) == 2
    assert statements_generate_due(now=midnight + timedelta(hours=2)) == 0
    assert set(SettlementStatement.objects.values_list("period_start", "period_end")) == {(today, today)}


def test_the_periodic_task_runs(paid):
    from settlement.tasks import generate_statements

    generate_statements.delay()  # today is not over: nothing to state yet
    assert not SettlementStatement.objects.exists()


def test_the_command_refuses_open_periods_and_bad_dates(paid, capsys):
    from django.core.management import CommandError, call_command

    today = timezone.localdate()
    with pytest.raises(CommandError, match="only be made for a period that is over"):
        call_command("settlement_statements", "--from", today.isoformat())
    yesterday = (today - timedelta(days=1)).isoformat()
    call_command("settlement_statements", "--from", yesterday)  # no activity: nothing to state
    assert "0 statements made" in capsys.readouterr().out
    for bad in ("yesterday", "2026-02-30"):
        with pytest.raises(CommandError, match="dates"):
            call_command("settlement_statements", "--from", bad)
    assert not SettlementStatement.objects.exists()


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("day", date(2026, 11, 18), date(2026, 11, 18)),
        ("week", date(2026, 11, 18), date(2026, 11, 22)),  # Wednesday → Sunday
        ("month", date(2026, 2, 3), date(2026, 2, 28)),
        ("month", date(2024, 2, 3), date(2024, 2, 29)),
        ("month", date(2026, 12, 1), date(2026, 12, 31)),
    ],
)
def test_period_ends(period, start, end):
    from settlement.services import period_end_for

    assert period_end_for(start, period) == end


def test_weekly_statements_cover_monday_to_sunday_and_follow_on_without_overlap(paid, settings):
    from settlement.services import statements_generate_due

    settings.KPAY_STATEMENT_PERIOD = "week"
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    next_monday = monday + timedelta(days=7)
    during = selectors.day_start(next_monday - timedelta(days=2)) + timedelta(hours=1)  # Saturday

    assert statements_generate_due(now=during) == 0  # the week is not over
    assert statements_generate_due(now=selectors.day_start(next_monday) + timedelta(hours=1)) == 1
    statement = SettlementStatement.objects.get()
    assert (statement.period_start, statement.period_end) == (monday, next_monday - timedelta(days=1))
    assert statement.order_count == 1

    # Switching to daily statements carries on from the day after, never overlapping.
    settings.KPAY_STATEMENT_PERIOD = "day"
    assert statements_generate_due(now=selectors.day_start(next_monday + timedelta(days=2))) == 0
    assert SettlementStatement.objects.count() == 1  # no activity since: nothing to state


def test_the_checks_read_the_folds_figures_another_way(crafted):
    """``checks.journal_days`` (the sums hashed by merchant and day, each count in a pass
    of its own) gives every merchant's every day exactly what the fold's query gives."""
    from payments.models import JournalEntry

    entries = selectors.merchant_entries()
    expected = selectors.components_by_merchant_day(entries)
    assert {components["order_count"] for components in expected.values()} != {0}
    assert checks.journal_days(entries) == expected
    some = JournalEntry.objects.filter(kind=JournalEntry.Kind.REFUND)
    assert checks.journal_days(some) == selectors.components_by_merchant_day(some)
