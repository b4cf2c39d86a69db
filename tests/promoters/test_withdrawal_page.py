"""Withdrawing commission from the promoter page (提现): the form, its refusals (never a
500), the list of withdrawals with their statuses, and one payout per form however often
it is sent."""

import re

import pytest
from django.test import Client

from promoters.ledger import promoter_balances
from promoters.services import promoter_apply, promoter_payout_request, promoter_payout_request_once
from settlement.models import Payout
from settlement.services import payout_approve, payout_reject
from tests.concurrency import race
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ACCOUNT = {"account_name": "Li Lei", "bank_name": "ICBC", "account_number": "6222000011112222"}


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def earned(learner, course, promoter, referral, buy_referred, no_refund_window, settle, settings):
    """The promoter has 9.90 available (a settled 99.00 order at 10%); withdrawals from 1.00."""
    settings.KPAY_PAYOUT_MIN = 100
    settings.KPAY_PAYOUT_MAX = 5000
    order, _payment = buy_referred(learner, course, referral)
    settle(order)
    assert promoter_balances([promoter.pk])[promoter.pk]["available"] == 990
    return order


def token_of(page, promoter) -> str:
    found = re.search(rf'name="w{promoter.pk}-token" value="([^"]+)"', page.text)
    assert found, "the withdrawal form and its token"
    return found.group(1)


def form_data(promoter, token, amount, **account):
    data = {"amount": amount, "token": token, **ACCOUNT, **account}
    return {f"w{promoter.pk}-{name}": value for name, value in data.items()}


def withdraw(client, promoter, amount, *, token=None, **account):
    if token is None:
        token = token_of(client.get("/promoter/"), promoter)
    return client.post(f"/promoter/{promoter.pk}/withdraw/", form_data(promoter, token, amount, **account))


def test_a_promoter_withdraws_from_the_page_and_sees_its_status(client, promoter, earned, finance):
    client.force_login(promoter.user)

    response = withdraw(client, promoter, "5.00")

    assert response.status_code == 302 and response.url == f"/promoter/#promoter-{promoter.pk}"
    payout = Payout.objects.get()
    assert (payout.payee, payout.amount, payout.status) == (f"promoter:{promoter.pk}", 500, "requested")
    assert payout.merchant_id == promoter.merchant_id and payout.account_last4 == "2222"
    page = client.get(response.url)
    assert f"Withdrawal {payout.payout_no} of ¥5.00 requested" in page.text
    assert payout.payout_no in page.text and "Requested" in page.text
    assert '<dd class="available">¥4.90</dd>' in page.text

    payout_reject(payout_id=payout.pk, by=finance, note="wrong bank")
    page = client.get("/promoter/")
    assert "Rejected" in page.text and "wrong bank" in page.text
    assert '<dd class="available">¥9.90</dd>' in page.text  # given back


def test_the_next_withdrawal_may_keep_the_last_account(client, promoter, earned, finance):
    client.force_login(promoter.user)
    assert withdraw(client, promoter, "2.00").status_code == 302
    page = client.get("/promoter/")
    assert "**** 2222" in page.text and "6222000011112222" not in page.text  # never the number

    assert withdraw(client, promoter, "3.00", account_number="").status_code == 302

    second = Payout.objects.order_by("-pk").first()
    assert second.amount == 300 and second.account_number == "6222000011112222"


def test_sending_the_form_twice_makes_one_payout(client, promoter, earned):
    client.force_login(promoter.user)
    token = token_of(client.get("/promoter/"), promoter)

    first = withdraw(client, promoter, "5.00", token=token)
    again = withdraw(client, promoter, "5.00", token=token)

    assert first.status_code == again.status_code == 302
    payout = Payout.objects.get()
    page = client.get(again.url)
    assert f"Withdrawal {payout.payout_no} of ¥5.00 was already requested." in page.text
    assert promoter_balances([promoter.pk])[promoter.pk]["available"] == 490
    # A new form, a new token: another withdrawal.
    assert withdraw(client, promoter, "1.00").status_code == 302
    assert Payout.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_double_click_racing_makes_one_payout(promoter, earned):
    results = race(
        2,
        lambda: promoter_payout_request_once(
            user=promoter.user, token="same-form", promoter_id=promoter.pk, amount=500, **ACCOUNT
        ),
    )

    assert sorted(made for _payout, made in results) == [False, True]
    assert results[0][0].pk == results[1][0].pk == Payout.objects.get().pk


def test_a_refused_withdrawal_keeps_the_token_usable(promoter, earned):
    from core.errors import KpayError

    with pytest.raises(KpayError):
        promoter_payout_request_once(
            user=promoter.user, token="t1", promoter_id=promoter.pk, amount=5000, **ACCOUNT
        )
    payout, made = promoter_payout_request_once(
        user=promoter.user, token="t1", promoter_id=promoter.pk, amount=500, **ACCOUNT
    )
    assert made and payout.amount == 500


@pytest.mark.parametrize(
    ("amount", "says"),
    [
        ("abc", "Enter an amount in yuan, e.g. 49.90."),
        ("1e3", "Enter an amount in yuan, e.g. 49.90."),
        ("", "This field is required."),
        ("0", "Ensure this value is greater than or equal to 0.01."),
        ("-5", "Ensure this value is greater than or equal to 0.01."),
        ("1.001", "Ensure that there are no more than 2 decimal places."),
        ("0.50", "The minimum withdrawal is ¥1.00."),
        ("50.01", "The maximum withdrawal is ¥50.00."),
        ("9.91", "Only ¥9.90 is available."),
        ("９９９９９９９９９９９９９９", "Ensure that there are no more than 12 digits in total."),
    ],
)
def test_a_refused_amount_says_why_and_keeps_what_was_typed(client, promoter, earned, amount, says):
    client.force_login(promoter.user)

    response = withdraw(client, promoter, amount)

    assert response.status_code == 200
    assert says in response.text
    assert 'class="field has-error"' in response.text
    assert f'value="{amount}"' in response.text if amount else True
    assert 'value="Li Lei"' in response.text  # what was typed stays
    assert not Payout.objects.exists()


def test_the_account_is_required(client, promoter, earned):
    client.force_login(promoter.user)
    response = withdraw(client, promoter, "5.00", account_name="", account_number="")
    assert response.status_code == 200 and response.text.count("This field is required.") == 2
    assert not Payout.objects.exists()


def test_a_form_without_its_token_is_refused(client, promoter, earned):
    client.force_login(promoter.user)
    response = withdraw(client, promoter, "5.00", token="")
    assert response.status_code == 200
    assert "This form is out of date: please fill it in again." in response.text
    assert not Payout.objects.exists()


def test_a_promoter_in_debt_is_told_what_they_owe(client, promoter, earned, refund, finance):
    payout = promoter_payout_request(user=promoter.user, promoter_id=promoter.pk, amount=990, **ACCOUNT)
    payout_approve(payout_id=payout.pk, by=finance)
    refund(earned, 9900)  # after the payout: the commission is clawed back
    client.force_login(promoter.user)

    page = client.get("/promoter/")
    assert "You owe ¥9.90 of commission on refunded orders" in page.text
    assert f'name="w{promoter.pk}-token"' not in page.text  # no form to fill in

    response = withdraw(client, promoter, "1.00", token="from-an-old-page")
    assert response.status_code == 200
    assert response.text.count("You owe ¥9.90 of commission on refunded orders") == 1
    assert Payout.objects.count() == 1


def test_an_applicant_is_not_offered_the_form_and_is_refused(client, learner, programme):
    promoter = promoter_apply(user=learner, merchant_id=programme.merchant_id)
    client.force_login(learner)

    page = client.get("/promoter/")
    assert "Once your application is approved" in page.text
    assert f'name="w{promoter.pk}-token"' not in page.text

    response = withdraw(client, promoter, "1.00", token="from-an-old-page")
    assert response.status_code == 200
    assert "Your application has not been approved yet" in response.text
    assert not Payout.objects.exists()


def test_no_withdrawal_for_someone_else_or_anonymously(client, promoter, earned):
    data = form_data(promoter, "t", "1.00")
    assert client.post(f"/promoter/{promoter.pk}/withdraw/", data).status_code == 302  # to log in
    client.force_login(UserFactory())
    assert client.post(f"/promoter/{promoter.pk}/withdraw/", data).status_code == 404
    assert client.post("/promoter/not-a-number/withdraw/", data).status_code == 404
    assert client.post(f"/promoter/{2**70}/withdraw/", data).status_code == 404
    client.force_login(promoter.user)
    assert client.get(f"/promoter/{promoter.pk}/withdraw/").status_code == 405
    assert not Payout.objects.exists()


def test_the_form_needs_its_csrf_token(promoter, earned):
    browser = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(promoter.user)
    page = browser.get("/promoter/")
    assert 'name="csrfmiddlewaretoken"' in page.text
    data = form_data(promoter, token_of(page, promoter), "1.00")

    assert browser.post(f"/promoter/{promoter.pk}/withdraw/", data).status_code == 403
    assert not Payout.objects.exists()


def test_the_withdrawal_speaks_chinese(client, promoter, earned):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    client.force_login(promoter.user)

    page = client.get("/promoter/")
    assert "提现" in page.text and "申请提现" in page.text
    refused = withdraw(client, promoter, "0.50")
    assert "最低提现金额为 ¥1.00。" in refused.text
    done = client.get(withdraw(client, promoter, "5.00").url)
    assert "已申请" in done.text and "¥5.00" in done.text
