"""Bank account numbers: encrypted at rest, in full for finance only, masked elsewhere."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from courses import roles
from settlement import crypto
from settlement.models import Payout
from settlement.services import payout_approve, payout_request

from .test_admin import PAYOUT_ADD, as_user, change_url, csv_rows, decide_url

pytestmark = pytest.mark.django_db

NUMBER = "6222020000001234"
EXPORT = reverse("admin:settlement_payout_export_csv")
PAYOUTS = reverse("admin:settlement_payout_changelist")


def raw_column(payout) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT account_number, account_last4 FROM settlement_payout WHERE id = %s", [payout.pk]
        )
        return cursor.fetchone()


def test_the_database_holds_a_token_not_the_number(books):
    stored, last4 = raw_column(books)
    assert NUMBER not in stored and "62220200" not in stored
    assert stored.startswith("gAAAA")  # a Fernet token
    assert last4 == "1234"
    assert Payout.objects.get(pk=books.pk).account_number == NUMBER
    # The same number twice is two different tokens (a random IV each time).
    books.save(update_fields=["account_number"])
    assert raw_column(books)[0] != stored


@pytest.fixture
def support_user(staff):
    return staff(roles.SUPPORT, "support-sue")


def account_cell(rows, payout_no):
    header = rows[0]
    row = next(dict(zip(header, row, strict=True)) for row in rows[1:] if row[0] == payout_no)
    return row["account_number"]


def test_support_and_merchants_see_only_the_mask(client, books, support_user, merchant_user):
    for user in (support_user, merchant_user):
        as_user(client, user)
        rows = csv_rows(client.get(EXPORT))
        assert account_cell(rows, books.payout_no) == "**** 1234", user
        assert NUMBER not in "".join(",".join(row) for row in rows)
        page = client.get(change_url(books))
        assert page.status_code == 200 and "**** 1234" in page.text and NUMBER not in page.text
        listing = client.get(PAYOUTS)
        assert "**** 1234" in listing.text and NUMBER not in listing.text


def test_finance_sees_the_number_in_full(client, books, finance):
    as_user(client, finance)
    assert account_cell(csv_rows(client.get(EXPORT)), books.payout_no) == NUMBER
    assert NUMBER in client.get(change_url(books)).text
    assert NUMBER in client.get(decide_url(books, "approve")).text
    listing = client.get(PAYOUTS)  # the list is masked for everyone
    assert "**** 1234" in listing.text and NUMBER not in listing.text


def test_the_request_form_never_shows_the_last_number_and_reuses_it(client, books, merchant_user, settings):
    as_user(client, merchant_user)
    form = client.get(PAYOUT_ADD).text
    assert NUMBER not in form and "**** 1234" in form and 'value="Studio One Ltd"' in form
    response = client.post(
        PAYOUT_ADD,
        {"amount": "1.00", "account_name": "Studio One Ltd", "bank_name": "ICBC", "account_number": ""},
    )
    assert response.status_code == 302, response.content
    latest = Payout.objects.filter(merchant=books.merchant).order_by("-pk").first()
    assert latest.pk != books.pk and latest.account_number == NUMBER and latest.account_last4 == "1234"
    assert NUMBER not in raw_column(latest)[0]


def test_keys_rotate_and_a_missing_key_is_a_clear_error(books, settings):
    old = list(settings.KPAY_FIELD_ENCRYPTION_KEYS)
    new = Fernet.generate_key().decode()
    settings.KPAY_FIELD_ENCRYPTION_KEYS = [new, *old]  # the new key first, the old one still readable
    assert Payout.objects.get(pk=books.pk).account_number == NUMBER
    call_command("rotate_field_encryption", verbosity=0)
    settings.KPAY_FIELD_ENCRYPTION_KEYS = [new]  # the old key dropped
    assert Payout.objects.get(pk=books.pk).account_number == NUMBER

    settings.KPAY_FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the wrong key
    with pytest.raises(ImproperlyConfigured, match="KPAY_FIELD_ENCRYPTION_KEY"):
        Payout.objects.get(pk=books.pk)


def test_empty_numbers_stay_empty_and_mask_as_a_dash(books):
    assert crypto.encrypt("") == "" and crypto.decrypt("") == ""
    assert crypto.mask("") == "-" and crypto.mask("1234") == "**** 1234"
    empty = payout_request(merchant=books.merchant, amount=100, by=books.requested_by)
    assert raw_column(empty) == ("", "")


def test_no_account_number_in_the_logs(books, finance, finance2, caplog):
    from settlement.services import payout_mark_paid

    caplog.set_level("DEBUG")
    payout_approve(payout_id=books.pk, by=finance)
    payout_mark_paid(payout_id=books.pk, by=finance2, reference="BANK-LOG-1")
    assert books.payout_no in caplog.text and NUMBER not in caplog.text
