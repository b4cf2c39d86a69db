"""The finance dashboard's memberships: revenue, members with access at each month's end,
and churn, per month, on crafted data (bought, renewed, refunded on a controlled clock)."""

from datetime import date, timedelta

import pytest
from django.urls import reverse

from courses import roles
from memberships.models import MembershipPeriod
from memberships.services.refunds import period_refund_issue
from orders.services import order_checkout
from payments.gateways.base import RefundState
from payments.services import payment_start
from settlement.selectors import membership_months
from tests.factories import UserFactory
from tests.memberships.helpers import PlanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(
    plan,
    studio,
    course,
    buy_plan,
    clock,
    sandbox,
    support,
    gateway_refunds,
    django_capture_on_commit_callbacks,
):
    """Studio members A (10 Jan, renewed 5 Feb: to 10 March), B (20 January to 20
    February), C (25 February, refunded pro rata on 20 March); another merchant's member
    D (1 March); and a course (of another merchant) bought in January."""
    a, b, c, d = (UserFactory(username=name) for name in ("member-a", "member-b", "member-c", "member-d"))
    clock.set("2026-01-10 10:00")
    buy_plan(a, plan)
    course_order = order_checkout(learner=a, course_slug=course.slug).order
    assert (
        sandbox.pay(payment_start(learner=a, order_no=course_order.order_no, channel="sandbox")).status_code
        == 204
    )
    clock.set("2026-01-20 10:00")
    buy_plan(b, plan)
    clock.set("2026-02-05 10:00")
    buy_plan(a, plan)
    clock.set("2026-02-25 10:00")
    c_order, _ = buy_plan(c, plan)
    clock.set("2026-03-01 10:00")
    buy_plan(d, PlanFactory(price=9900))
    clock.set("2026-03-20 10:00")
    gateway_refunds.answer = RefundState.SUCCEEDED
    with django_capture_on_commit_callbacks(execute=True):
        refund = period_refund_issue(
            actor=support,
            period_id=MembershipPeriod.objects.get(order_no=c_order.order_no).pk,
            reason="pro rata",
        )
    assert refund.amount == 3000 * 5 // 29  # 21 … 25 March left of 25 February … 25 March
    clock.set("2026-04-15 12:00")
    return studio


def test_membership_figures_per_month_for_one_merchant(history):
    months = membership_months(last_day=date(2026, 3, 31), months=4, merchant_id=history.pk)

    assert [m["month"] for m in months] == [
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]
    december, january, february, march = months
    assert (december["paid"], december["active_members"], december["churn_rate"]) == (0, 0, None)
    assert (january["orders"], january["paid"], january["refunds"], january["net"]) == (2, 6000, 0, 6000)
    assert (january["active_members"], january["churned"], january["churn_rate"]) == (2, 0, None)
    assert (february["orders"], february["paid"], february["net"]) == (2, 6000, 6000)
    assert (february["active_members"], february["churned"], february["churn_rate"]) == (2, 1, 50.0)
    assert (march["paid"], march["refunds"], march["net"]) == (0, 517, -517)
    assert (march["active_members"], march["churned"], march["churn_rate"]) == (0, 2, 100.0)


def test_all_merchants_together(history):
    march = membership_months(last_day=date(2026, 3, 31), months=1)[0]
    assert (march["orders"], march["paid"], march["refunds"]) == (1, 9900, 517)
    assert (march["active_members"], march["churned"]) == (1, 2)  # D still runs on 1 April


def test_the_month_under_way_counts_members_now(history, clock):
    clock.set("2026-03-05 12:00")
    march = membership_months(last_day=date(2026, 3, 5), months=1, merchant_id=history.pk)[0]
    assert (march["active_members"], march["churned"]) == (2, 0)  # A and C, now


def test_the_dashboard_shows_them(history, client, staff):
    client.force_login(staff(roles.FINANCE, "finance-ann"))
    page = client.get(reverse("admin:settlement_dashboard_changelist"), {"end": "2026-03-31"})
    assert page.status_code == 200
    table = page.text.split('id="dashboard-memberships"')[1].split("</table>")[0]
    march = table.split("<td>2026-03</td>")[1].split("</tr>")[0]
    assert ">¥99.00<" in march and ">¥5.17<" in march and ">¥93.83<" in march and ">100.0%<" in march
    assert "50.0%" in table.split("<td>2026-02</td>")[1].split("</tr>")[0]
    assert page.text.count("2026-01</td>") == 1


def test_the_compiled_reads_give_the_orm_figures(history):
    """The dashboard's reads are compiled once (``core.prepared_values``): on the same
    crafted history they give what the ORM's querysets give, summarised or not, for every
    merchant or one, all entries or membership orders' only; and the members' counts."""
    from memberships.selectors import _members_at_counts, members_at, membership_orders_q
    from payments.ledger import summaries
    from payments.models import JournalEntry
    from settlement.selectors import (
        ZERO,
        add_components,
        components_by_merchant_day,
        day_start,
        summarised_days,
    )

    first, last = date(2025, 12, 1), date(2026, 4, 30)

    def from_the_journal(merchant_id, membership):
        entries = JournalEntry.objects.filter(
            created_at__gte=day_start(first), created_at__lt=day_start(last)
        )
        if merchant_id is not None:
            entries = entries.filter(merchant_id=merchant_id)
        if membership:
            entries = entries.filter(membership_orders_q("order__"))
        by_day = {}
        for (_merchant, day), components in components_by_merchant_day(entries).items():
            add_components(by_day.setdefault(day, dict(ZERO)), components)
        return by_day

    shapes = [(m, ms) for m in (None, history.pk) for ms in (False, True)]
    expected = {shape: from_the_journal(*shape) for shape in shapes}
    assert expected[(history.pk, True)] and expected[(None, True)] != expected[(None, False)]
    for _ in ("entries after the checkpoint only", "summarised"):
        for merchant_id, membership in shapes:
            got = summarised_days(
                first_day=first,
                last_day=last - date.resolution,
                merchant_id=merchant_id,
                membership=membership,
            )
            assert got == expected[(merchant_id, membership)]
        summaries.fold_all()

    # The dashboard's days, its figures summed from their components only: as from all.
    from settlement.selectors import DASHBOARD_TOTALS, dashboard_figures, figures_from

    for merchant_id in (None, history.pk):
        days = dashboard_figures(
            first_day=date(2026, 1, 1), last_day=date(2026, 3, 31), merchant_id=merchant_id
        )
        for day in days["days"]:
            full = figures_from(expected[(merchant_id, False)].get(day["day"], dict(ZERO)))
            assert day == {"day": day["day"], **{name: full[name] for name in DASHBOARD_TOTALS}}
        assert days["totals"]["gross_sales"] > 0

    # The members' counts (one pass over the periods) against their EXISTS definition, at
    # month starts, and at days and instants inside periods, on their ends and in grace.
    months = [day_start(date(2026, month, 1)) for month in (1, 2, 3, 4)]
    days = [
        day_start(date(2025, 12, 1)) + timedelta(days=d, hours=h) for d in range(0, 150, 9) for h in (0, 7)
    ]
    for instants in (months, days, days[::3], days[1::4]):
        for merchant_id in (None, history.pk):
            counts = members_at(instants=instants, merchant_id=merchant_id)
            params = {f"at{i}": at for i, at in enumerate(instants)}
            (row,) = _members_at_counts(
                **params, **({} if merchant_id is None else {"merchant_id": merchant_id})
            )
            assert [c["active_at_start"] for c in counts] == [row[f"n{i}"] for i in range(len(instants) - 1)]
            assert [c["active_at_end"] for c in counts] == [row[f"n{i}"] for i in range(1, len(instants))]
            assert [c["churned"] for c in counts] == [row[f"lost{i}"] for i in range(len(instants) - 1)]
            if instants is months:
                assert any(c["active_at_end"] for c in counts) and any(c["churned"] for c in counts)


def test_each_dashboard_figure_needs_only_its_components():
    """The dashboard sums only the components its figures are made of
    (``FIGURE_COMPONENTS``): each such figure is the same from those alone as from all."""
    import random

    from settlement import selectors

    rng = random.Random(17)
    for _ in range(20):
        every = {name: rng.randint(-(10**6), 10**6) for name in selectors.ZERO}
        full = selectors.figures_from(every)
        for figure, names in selectors.FIGURE_COMPONENTS.items():
            only = {**selectors.ZERO, **{name: every[name] for name in names}}
            assert selectors.figures_from(only)[figure] == full[figure], figure
    assert set(selectors.DASHBOARD_TOTALS) <= set(selectors.FIGURE_COMPONENTS)
    shown = ("gross_sales", "refunds", "commission", "order_count")  # membership_months
    needed = {name for figure in shown for name in selectors.FIGURE_COMPONENTS[figure]}
    assert needed == set(selectors._MEMBERSHIP_COMPONENTS)
