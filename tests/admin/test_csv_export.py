"""CSV export of admin change lists: the journal, scoped and filtered like the page."""

import csv
import io

import pytest
from django.urls import reverse

from core.admin.csv_export import csv_cell
from courses import roles
from payments import ledger
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

EXPORT = reverse("admin:payments_journalentry_export_csv")


def rows_of(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="journal-')
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


@pytest.fixture
def two_paid_orders(own_course, other_course, pay):
    return pay(UserFactory(), own_course), pay(UserFactory(), other_course)


def test_finance_exports_every_journal_row_with_the_list_filters(client, staff_in, two_paid_orders):
    (ours, _), (theirs, _) = two_paid_orders
    client.force_login(staff_in(roles.FINANCE))
    rows = rows_of(client.get(EXPORT))
    assert {row["order_no"] for row in rows} == {ours.order_no, theirs.order_no}
    commission = [row for row in rows if row["credit_account"] == ledger.PLATFORM_COMMISSION]
    assert sorted(row["amount_yuan"] for row in commission) == ["4.90", "9.90"]

    filtered = rows_of(client.get(EXPORT, {"q": ours.order_no}))
    assert {row["order_no"] for row in filtered} == {ours.order_no}
    assert len(filtered) == 2  # merchant share + commission


def test_a_merchant_exports_only_its_own_rows(client, merchant_user, two_paid_orders):
    (ours, _), (theirs, _) = two_paid_orders
    client.force_login(merchant_user)
    page = client.get(reverse("admin:payments_journalentry_changelist"))
    assert EXPORT in page.text  # the button
    rows = rows_of(client.get(EXPORT))
    assert rows and {row["order_no"] for row in rows} == {ours.order_no}
    assert theirs.order_no not in str(rows)


def test_people_who_may_not_see_the_journal_cannot_export_it(client, db):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(EXPORT).status_code == 403
    client.logout()
    assert client.get(EXPORT).status_code == 302  # to the admin login


def test_an_unknown_filter_is_a_clear_400_not_a_500(client, staff_in):
    client.force_login(staff_in(roles.FINANCE))
    response = client.get(EXPORT, {"no_such_field__gt": "1"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-12.50", "-12.50"),
        ("+86 138", "'+86 138"),
        ("课程", "课程"),
        (None, ""),
    ],
)
def test_cells_a_spreadsheet_would_run_are_defused(value, cell):
    assert csv_cell(value) == cell
