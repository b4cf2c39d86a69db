"""The refund e-mail is written in the learner's language (their profile's, else the
site's), not in the language of whoever decided the refund nor the worker's."""

import pytest
from django.core import mail
from django.utils import translation

from accounts.languages import remember
from payments.models import Refund
from payments.services import refund_approve, refund_deny, refund_request

from .conftest import refund_event

pytestmark = pytest.mark.django_db

DECLINED = {
    "en": "Your refund request for order {} was declined",
    "zh-hans": "你对订单 {} 的退款申请未通过",
}


@pytest.mark.parametrize(
    ("chosen", "deciding_in", "written_in"),
    [
        ("en", "zh-hans", "en"),
        ("zh-hans", "en", "zh-hans"),
        ("", "en", "zh-hans"),  # none chosen: the site's
    ],
)
def test_a_declined_refund_is_told_in_the_learners_language(
    learner, paid, support, django_capture_on_commit_callbacks, chosen, deciding_in, written_in
):
    order, _ = paid
    remember(learner, chosen)
    refund = refund_request(learner=learner, order_no=order.order_no, amount=2000, reason="meh")
    with translation.override(deciding_in), django_capture_on_commit_callbacks(execute=True):
        refund_deny(actor=support, refund_id=refund.pk, note="you watched every lesson")
        assert translation.get_language() == deciding_in  # the caller's, left as it was
    [message] = mail.outbox
    assert message.subject == DECLINED[written_in].format(order.order_no)
    assert message.body.endswith("you watched every lesson")
    assert ("was declined" in message.body) == (written_in == "en")


def test_the_site_language_is_the_default(
    learner, paid, support, settings, django_capture_on_commit_callbacks
):
    settings.LANGUAGE_CODE = "en"
    order, _ = paid
    refund = refund_request(learner=learner, order_no=order.order_no, amount=2000, reason="meh")
    with translation.override("zh-hans"), django_capture_on_commit_callbacks(execute=True):
        refund_deny(actor=support, refund_id=refund.pk, note="no")
    assert mail.outbox[0].subject == DECLINED["en"].format(order.order_no)


def test_a_paid_refund_is_told_in_the_learners_language(
    learner, paid, support, sandbox, gateway_refunds, django_capture_on_commit_callbacks
):
    order, _ = paid
    remember(learner, "en")
    refund = refund_request(learner=learner, order_no=order.order_no, reason="not what I expected")
    with translation.override("zh-hans"):
        with django_capture_on_commit_callbacks(execute=True):
            refund_approve(actor=support, refund_id=refund.pk, note="ok")
        refund.refresh_from_db()
        with django_capture_on_commit_callbacks(execute=True):
            assert sandbox.post(refund_event(sandbox, refund, event_id="EV-refund")).status_code == 204
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    [message] = mail.outbox
    assert message.subject == f"Your refund for order {order.order_no} was paid"
    assert f"We have refunded 99.00 CNY for order {order.order_no}" in message.body
