"""The back office's home page starts from each person's work: the queues waiting for
them (refunds to approve, payouts, differences, held orders), each a figure and a link."""

import pytest
from django.urls import reverse

from courses import roles
from payments.models import Refund
from payments.services import refund_issue

pytestmark = pytest.mark.django_db


def queues(client, user):
    client.force_login(user)
    response = client.get(reverse("admin:index"), headers={"accept-language": "en"})
    assert response.status_code == 200
    return {str(queue.label): queue for queue in response.context["work_queues"]}, response.content.decode()


def test_support_see_the_refunds_waiting_for_them(client, staff, learner, course, pay, superuser, settings):
    settings.KPAY_REFUND_APPROVAL_THRESHOLD = 100  # above it, a second person approves
    order, _payment = pay(learner, course)
    refund_issue(actor=superuser, order_id=order.pk, reason="Asked by the learner")
    assert Refund.objects.get().status == Refund.Status.REQUESTED

    support, text = queues(client, staff(roles.SUPPORT))
    refunds = support["Refunds to approve"]
    assert refunds.count == 1 and refunds.url.startswith(reverse("admin:payments_refund_changelist"))
    assert f'href="{refunds.url}"' in text and "Payouts to approve" not in support

    finance, _text = queues(client, staff(roles.FINANCE))
    assert {"Payouts to approve", "Payouts to transfer", "Reconciliation differences"} <= set(finance)
    assert finance["Payouts to approve"].count == 0


def test_a_merchant_sees_its_payouts_and_balance(client, merchant_user):
    merchant, text = queues(client, merchant_user)
    assert set(merchant) == {"Your payouts in progress"}
    assert "Available to withdraw now: ¥0.00." in text


def test_the_home_page_costs_one_query_a_queue(client, staff, django_assert_max_num_queries):
    finance = staff(roles.FINANCE)
    client.force_login(finance)
    client.get(reverse("admin:index"))
    with django_assert_max_num_queries(12):
        client.get(reverse("admin:index"))
