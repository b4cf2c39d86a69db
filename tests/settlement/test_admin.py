"""The finance console over HTTP: balances, statements, payouts, CSV and the dashboard."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from settlement import selectors
from settlement.models import Payout, SettlementStatement
from settlement.services import payout_approve, payout_request, statements_generate
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

BALANCES = reverse("admin:settlement_merchantbalance_changelist")
STATEMENTS = reverse("admin:settlement_settlementstatement_changelist")
PAYOUTS = reverse("admin:settlement_payout_changelist")
PAYOUT_ADD = reverse("admin:settlement_payout_add")
DASHBOARD = reverse("admin:settlement_dashboard_changelist")


def decide_url(payout, action):
    return reverse("admin:settlement_payout_decide", args=[payout.pk, action])


def change_url(payout):
    return reverse("admin:settlement_payout_change", args=[payout.pk])


def as_user(client, user):
    client.force_login(user)
    return client


def queries_for(client, url) -> int:
    """Statements a page costs (counted at once: the log is reset by the next request)."""
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def csv_rows(response):
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def stated(books):
    """``books``, and statements of a period around today (nothing is posted after)."""
    today = timezone.localdate()
    statements_generate(
        period_start=today - timedelta(days=1),
        period_end=today + timedelta(days=1),
        now=selectors.day_start(today + timedelta(days=2)),
    )
    return books


# -- balances -----------------------------------------------------------------------------
def test_finance_sees_every_balance_and_debt_is_plain(client, finance, books, merchant, merchant2):
    response = as_user(client, finance).get(BALANCES)
    assert response.status_code == 200
    rows = {m.pk: m.balances for m in response.context["cl"].result_list}
    assert rows[merchant.pk] == {"pending": 0, "available": 3910, "payouts": 5000, "paid_out": 0}
    assert rows[merchant2.pk] == {"pending": 0, "available": -4410, "payouts": 4410, "paid_out": 0}
    assert "-¥44.10 (debt / 欠款)" in response.text and "¥39.10" in response.text

    debtors = as_user(client, finance).get(BALANCES, {"balance": "debt"})
    assert [m.pk for m in debtors.context["cl"].result_list] == [merchant2.pk]


def test_merchants_are_filtered_by_their_available_balance_in_the_database(books, merchant, merchant2):
    from courses.models import Merchant

    both = Merchant.objects.filter(pk__in=[merchant.pk, merchant2.pk])
    assert list(selectors.merchants_by_available_balance(both, in_debt=True)) == [merchant2]
    assert list(selectors.merchants_by_available_balance(both, in_debt=False)) == [merchant]


def test_the_dashboard_figures_total_their_days(books, merchant):
    today = timezone.localdate()
    figures = selectors.dashboard_figures(first_day=today - timedelta(days=29), last_day=today)
    days, totals = figures["days"], figures["totals"]
    assert len(days) == 30 and days[-1]["day"] == today
    assert totals["gross_sales"] == sum(day["gross_sales"] for day in days) > 0
    assert totals["order_count"] == 3
    own = selectors.dashboard_figures(first_day=today, last_day=today, merchant_id=merchant.pk)["totals"]
    assert own["order_count"] == 2 and own["gross_sales"] < totals["gross_sales"]


def test_a_merchant_sees_only_its_own_balance(client, merchant2_user, books, merchant2):
    response = as_user(client, merchant2_user).get(BALANCES)
    assert [m.pk for m in response.context["cl"].result_list] == [merchant2.pk]
    assert "Studio One" not in response.text and "39.10" not in response.text


def test_balances_page_is_constant_in_queries(client, finance, settled_orders, django_assert_max_num_queries):
    from tests.factories import CourseFactory

    settled_orders(1)
    as_user(client, finance)
    one = queries_for(client, BALANCES)
    for _ in range(4):
        settled_orders(1, on=CourseFactory())
    with django_assert_max_num_queries(one):
        response = client.get(BALANCES)
    assert len(response.context["cl"].result_list) == 5


# -- statements ---------------------------------------------------------------------------
def test_statements_are_scoped_and_exported(client, merchant_user, merchant2_user, finance, stated, merchant):
    ours = SettlementStatement.objects.get(merchant=merchant)
    theirs = SettlementStatement.objects.exclude(merchant=merchant).get()

    page = as_user(client, merchant2_user).get(STATEMENTS)
    assert [s.pk for s in page.context["cl"].result_list] == [theirs.pk]
    assert "Studio One" not in page.text
    other = client.get(reverse("admin:settlement_settlementstatement_change", args=[ours.pk]), follow=True)
    assert other.status_code == 404 and "Studio One" not in other.text  # not found, as if deleted

    rows = csv_rows(client.get(reverse("admin:settlement_settlementstatement_export_csv")))
    assert len(rows) == 2 and rows[1][1] == "Rival Two"
    header = rows[0]
    assert rows[1][header.index("gross_sales_yuan")] == "49.00"
    assert rows[1][header.index("closing_available_yuan")] == "-44.10"

    rows = csv_rows(as_user(client, finance).get(reverse("admin:settlement_settlementstatement_export_csv")))
    by_merchant = {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert set(by_merchant) == {"Studio One", "Rival Two"}
    assert by_merchant["Studio One"]["payouts_requested_yuan"] == "50.00"
    assert by_merchant["Studio One"]["charge_backs_yuan"] == "89.10"
    assert by_merchant["Studio One"]["order_count"] == "2"


def test_statement_changelist_is_constant_in_queries(
    client, finance, buy, course, django_assert_max_num_queries
):
    from tests.factories import CourseFactory

    buy(UserFactory(), course)
    today = timezone.localdate()
    after = selectors.day_start(today + timedelta(days=1))
    statements_generate(period_start=today, now=after)
    as_user(client, finance)
    one = queries_for(client, STATEMENTS)
    SettlementStatement.objects.all().delete()
    for _ in range(4):
        buy(UserFactory(), CourseFactory())
    statements_generate(period_start=today, now=after)
    with django_assert_max_num_queries(one):
        response = client.get(STATEMENTS)
    assert len(response.context["cl"].result_list) == 5


# -- payouts ------------------------------------------------------------------------------
def test_a_merchant_requests_a_payout_in_yuan(
    client, names, settled_orders, merchant_user, merchant, settings
):
    settings.KPAY_PAYOUT_MIN = 100
    settled_orders(2)  # 178.20 available
    as_user(client, merchant_user)
    page = client.get(PAYOUTS)
    assert PAYOUT_ADD in page.text  # the "Add payout" button

    form = client.get(PAYOUT_ADD)
    assert form.status_code == 200 and "178.20" in form.text

    too_much = client.post(
        PAYOUT_ADD, {"amount": "178.21", "account_name": "A", "bank_name": "B", "account_number": "1"}
    )
    assert too_much.status_code == 200 and "Only ¥178.20 is available." in too_much.text
    below = client.post(
        PAYOUT_ADD, {"amount": "0.99", "account_name": "A", "bank_name": "B", "account_number": "1"}
    )
    assert "The minimum payout is ¥1.00." in below.text
    assert not Payout.objects.exists()

    response = client.post(
        PAYOUT_ADD,
        {
            "amount": "100.50",
            "account_name": "Studio One Ltd",
            "bank_name": "ICBC",
            "account_number": "62220001234",
        },
    )
    payout = Payout.objects.get()
    assert response.status_code == 302 and response.url == change_url(payout)
    assert (payout.amount, payout.merchant, payout.requested_by) == (10050, merchant, merchant_user)
    assert payout.account_number == "62220001234"
    # The merchant sees its payout, without decision buttons, and the next form is prefilled.
    detail = client.get(change_url(payout))
    assert detail.status_code == 200 and decide_url(payout, "approve") not in detail.text
    assert 'value="Studio One Ltd"' in client.get(PAYOUT_ADD).text
    assert client.post(decide_url(payout, "approve"), {"note": "self"}).status_code == 403
    payout.refresh_from_db()
    assert payout.status == Payout.Status.REQUESTED


def test_platform_staff_cannot_request_and_other_merchants_see_nothing(
    client, books, finance, merchant2_user
):
    assert as_user(client, finance).get(PAYOUT_ADD).status_code == 403
    as_user(client, merchant2_user)
    assert [p.merchant.name for p in client.get(PAYOUTS).context["cl"].result_list] == ["Rival Two"]
    hidden = client.get(change_url(books), follow=True)
    assert hidden.status_code == 404 and books.payout_no not in hidden.text
    assert client.post(decide_url(books, "reject"), {"note": "x"}).status_code == 404
    # merchant 2 asks: its own merchant, whatever it tries; 44.10 in debt, so refused
    response = client.post(
        PAYOUT_ADD,
        {
            "amount": "10.00",
            "account_name": "A",
            "bank_name": "B",
            "account_number": "1",
            "merchant": books.merchant_id,
        },
    )
    assert response.status_code == 200 and "Only ¥0.00 is available." in response.text
    assert Payout.objects.count() == 2
    rows = csv_rows(client.get(reverse("admin:settlement_payout_export_csv")))
    assert [row[2] for row in rows[1:]] == ["Rival Two"]


def test_finance_approves_and_pays_from_the_queue(client, books, finance, finance2):
    as_user(client, finance)
    queue = client.get(PAYOUTS, {"status__exact": "requested"})
    assert books.payout_no in queue.text and decide_url(books, "approve") in queue.text

    assert client.post(decide_url(books, "approve"), {"note": "looks right"}).url == change_url(books)
    books.refresh_from_db()
    assert books.status == Payout.Status.APPROVED and books.decided_by == finance

    # The approver is not offered "Mark paid", and is refused it with a clear message.
    page = client.get(change_url(books))
    assert decide_url(books, "pay") not in page.text and decide_url(books, "approve") not in page.text
    assert decide_url(books, "pay") not in client.get(PAYOUTS).text
    own = client.post(decide_url(books, "pay"), {"reference": "ICBC-778899", "note": ""})
    assert own.status_code == 200 and "a different finance user must mark it paid" in own.text
    books.refresh_from_db()
    assert books.status == Payout.Status.APPROVED

    as_user(client, finance2)
    page = client.get(change_url(books))
    assert decide_url(books, "pay") in page.text and decide_url(books, "approve") not in page.text
    missing = client.post(decide_url(books, "pay"), {"reference": "", "note": ""})
    assert missing.status_code == 200 and "This field is required." in missing.text
    paid = client.post(decide_url(books, "pay"), {"reference": "ICBC-778899", "note": ""})
    assert paid.status_code == 302
    books.refresh_from_db()
    assert books.status == Payout.Status.PAID and books.transfer_reference == "ICBC-778899"
    assert (books.approved_by, books.paid_by) == (finance, finance2)

    rows = csv_rows(client.get(reverse("admin:settlement_payout_export_csv"), {"status__exact": "paid"}))
    assert len(rows) == 2  # the filter applies to the export
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["payout_no"], row["amount_yuan"], row["status"], row["transfer_reference"]) == (
        books.payout_no,
        "50.00",
        "paid",
        "ICBC-778899",
    )
    assert row["merchant"] == "Studio One" and row["requested_by"] == "studio-one-staff"


def test_finance_rejects_with_a_note_and_the_money_returns(client, books, finance, merchant):
    from payments import ledger

    as_user(client, finance)
    no_note = client.post(decide_url(books, "reject"), {"note": ""})
    assert no_note.status_code == 200 and "This field is required." in no_note.text
    books.refresh_from_db()
    assert books.status == Payout.Status.REQUESTED
    assert client.post(decide_url(books, "reject"), {"note": "account name mismatch"}).status_code == 302
    books.refresh_from_db()
    assert books.status == Payout.Status.REJECTED and books.decision_note == "account name mismatch"
    assert ledger.merchant_available_balance(merchant.pk) == 8910
    # Nothing more to decide; a stale form gets a clear message, not a 500.
    stale = client.post(decide_url(books, "approve"), {"note": ""})
    assert stale.status_code == 200 and "The payout has changed in the meantime" in stale.text


def test_support_sees_payouts_but_cannot_decide(client, books, support):
    as_user(client, support)
    page = client.get(change_url(books))
    assert page.status_code == 200 and decide_url(books, "approve") not in page.text
    assert client.post(decide_url(books, "approve"), {"note": ""}).status_code == 403
    assert client.get(PAYOUT_ADD).status_code == 403


def test_payout_changelist_is_constant_in_queries(
    client, finance, settled_orders, merchant_user, settings, django_assert_max_num_queries
):
    settings.KPAY_PAYOUT_MIN = 100
    merchant = settled_orders(1)[0].merchant
    payout_request(merchant=merchant, amount=1000, by=merchant_user)
    as_user(client, finance)
    one = queries_for(client, PAYOUTS)
    for _ in range(4):
        payout = payout_request(merchant=merchant, amount=1000, by=merchant_user)
        payout_approve(payout_id=payout.pk, by=finance)
    with django_assert_max_num_queries(one):
        response = client.get(PAYOUTS)
    assert len(response.context["cl"].result_list) == 5


# -- dashboard ----------------------------------------------------------------------------
def test_the_dashboard_shows_the_days_figures_for_finance(client, books, finance, merchant):
    response = as_user(client, finance).get(DASHBOARD)
    assert response.status_code == 200
    today = timezone.localdate()
    row = next(r for r in response.context["rows"] if r["day"] == today)
    # paid 99 + 99 + 49; refunds 99 + 49; commission 9.90 × 2 + 4.90 − 9.90 − 4.90
    assert row["orders"] == 3
    assert [str(c) for c in row["cells"][:3]] == ["¥247.00", "¥148.00", "¥9.90"]
    assert response.text.count('class="kpay-chart"') == 4
    assert "¥247.00" in response.text

    only_one = client.get(DASHBOARD, {"merchant": merchant.pk})
    row = next(r for r in only_one.context["rows"] if r["day"] == today)
    assert [str(c) for c in row["cells"][:3]] == ["¥198.00", "¥99.00", "¥9.90"]

    past = client.get(DASHBOARD, {"end": (today - timedelta(days=1)).isoformat()})
    assert all(r["orders"] == 0 for r in past.context["rows"]) and len(past.context["rows"]) == 30


@pytest.mark.parametrize("end", ["garbage", "2026-02-30", "0001-01-01", "9999-12-31"])
def test_an_impossible_dashboard_date_shows_a_valid_period_not_a_500(client, finance, end):
    response = as_user(client, finance).get(DASHBOARD, {"end": end})
    assert response.status_code == 200
    first, last = response.context["first_day"], response.context["last_day"]
    assert (last - first).days == 29 and last <= timezone.localdate()
    assert first.year >= 2000


def test_a_merchant_sees_its_own_dashboard_only(client, books, merchant2_user, merchant):
    response = as_user(client, merchant2_user).get(DASHBOARD, {"merchant": merchant.pk})
    assert response.status_code == 200 and "Studio One" not in response.text
    row = next(r for r in response.context["rows"] if r["day"] == timezone.localdate())
    assert [str(c) for c in row["cells"][:2]] == ["¥49.00", "¥49.00"]


def test_the_dashboard_is_one_query_whatever_the_journal(
    client, finance, settled_orders, django_assert_max_num_queries
):
    settled_orders(1)
    as_user(client, finance)
    one = queries_for(client, DASHBOARD)
    settled_orders(5)
    with django_assert_max_num_queries(one):
        response = client.get(DASHBOARD)
    assert response.context["total_orders"] == 6


def test_support_and_learners_have_no_dashboard(client, support, learner):
    assert as_user(client, support).get(DASHBOARD).status_code == 403
    response = as_user(client, learner).get(DASHBOARD)
    assert response.status_code == 302  # to the admin login


def test_the_admin_index_links_the_finance_pages(client, finance):
    page = as_user(client, finance).get(reverse("admin:index")).text
    for url in (BALANCES, STATEMENTS, PAYOUTS, DASHBOARD):
        assert url in page


@pytest.mark.parametrize("amount", ["abc", "-5", "0.001", "100.005", "1e9", "NaN", "Infinity", "", "9" * 30])
def test_an_unreadable_payout_amount_is_a_form_error(amount):
    from settlement.admin import PayoutRequestForm

    form = PayoutRequestForm(
        data={"amount": amount, "account_name": "A", "bank_name": "B", "account_number": "1"},
        available=10**12,
    )
    assert not form.is_valid() and "amount" in form.errors


def test_full_width_digits_from_a_chinese_keyboard_are_read_as_yuan():
    from settlement.admin import PayoutRequestForm

    form = PayoutRequestForm(
        data={"amount": "１００.５０", "account_name": "A", "bank_name": "B", "account_number": "1"},
        available=10**12,
    )
    assert form.is_valid() and form.cleaned_data["amount"] == 10050


def test_the_dashboard_shows_platform_promotions_and_the_points_liability_to_finance_only(
    client, books, finance, merchant_user
):
    # Settled orders earned their points (99, 99, 49: one per yuan); two were refunded
    # after settlement and their points clawed back: 99 points (¥0.99) are owed.
    response = as_user(client, finance).get(DASHBOARD)
    assert response.context["promotions"] == {"coupon_cost": 0, "points_expense": 99, "points_liability": 99}
    assert "Points liability (owed to learners)" in response.text

    mine = as_user(client, merchant_user).get(DASHBOARD)
    assert mine.context["promotions"] is None
    assert "Points liability" not in mine.text
