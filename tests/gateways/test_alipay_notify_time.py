"""Issue 11: Alipay notifications are checked against their signed ``notify_time``.

Alipay re-sends an unacknowledged notification for 24 h 22 min (eight deliveries within
25 h: 4m, 10m, 10m, 1h, 2h, 6h, 15h), with the same notify_id and, possibly, the first
delivery's notify_time. kpay admits 26 h (every genuine retry, plus margin) and 10
minutes of clock skew into the future; older or future-dated ones are replays or forgeries."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from orders.services import order_checkout
from payments.exceptions import InvalidNotification
from payments.gateways import get_gateway
from payments.gateways.alipay.protocol import alipay_timestamp
from payments.models import GatewayEvent, Payment
from payments.services import payment_start
from tests.gateways.test_alipay_contract import (  # noqa: F401 (alipay_configured is an autouse fixture)
    alipay_configured,
    signed_notify_body,
)

RETRIES = [240, 600, 600, 3600, 7200, 21600, 54000]  # seconds between Alipay's deliveries
LAST_GENUINE_RETRY = timedelta(seconds=sum(RETRIES))  # 24 h 24 min after the first


class Trade:
    payment_no = "P20261130NOTIFY"
    amount = 9900


def parse(**fields):
    return get_gateway("alipay").parse_notification({}, signed_notify_body(Trade, **fields))


@pytest.mark.parametrize(
    "age",
    [
        timedelta(0),
        timedelta(minutes=4),
        timedelta(hours=9, minutes=24),
        LAST_GENUINE_RETRY,
        timedelta(hours=25),
    ],
    ids=["first", "first retry", "middle", "last retry", "25 h"],
)
def test_every_genuine_retry_is_admitted(db, age):
    notification = parse(notify_time=alipay_timestamp(timezone.now() - age))
    assert notification.trade_no == Trade.payment_no


def test_a_clock_a_few_minutes_ahead_is_admitted(db):
    assert parse(notify_time=alipay_timestamp(timezone.now() + timedelta(minutes=5)))


@pytest.mark.parametrize(
    "notify_time",
    [
        lambda: alipay_timestamp(timezone.now() - timedelta(hours=27)),
        lambda: alipay_timestamp(timezone.now() - timedelta(days=30)),
        lambda: alipay_timestamp(timezone.now() + timedelta(hours=1)),
        lambda: "",
        lambda: "yesterday",
        lambda: "2026-13-45 99:99:99",
    ],
    ids=["27 h old", "a month old", "an hour ahead", "empty", "words", "impossible date"],
)
def test_a_notification_outside_the_window_is_refused(db, notify_time):
    with pytest.raises(InvalidNotification):
        parse(notify_time=notify_time())


def test_a_notification_without_notify_time_is_refused(db):
    from devtools.simulators.alipay.protocol import sign_notify_params
    from devtools.simulators.alipay.views import alipay_private_key, notify_body
    from tests.gateways.test_alipay_contract import notify_fields

    fields = {"notify_type": "trade_status_sync", "notify_id": "n-1", "charset": "utf-8", "version": "1.0"}
    params = sign_notify_params(alipay_private_key(), fields | notify_fields(Trade))
    assert "notify_time" not in params
    with pytest.raises(InvalidNotification):
        get_gateway("alipay").parse_notification({}, notify_body(params))


@pytest.mark.django_db(transaction=True)
def test_a_replayed_old_notification_is_refused_over_http_and_changes_nothing(
    live_simulators, learner, course
):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="alipay_qr")
    old = signed_notify_body(payment, notify_time=alipay_timestamp(timezone.now() - timedelta(hours=30)))

    response = Client().post(
        "/payments/webhooks/alipay/", data=old, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400 and response.content == b"fail"
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING
    assert not GatewayEvent.objects.exists()

    fresh = signed_notify_body(payment, notify_time=alipay_timestamp(timezone.now() - timedelta(hours=24)))
    response = Client().post(
        "/payments/webhooks/alipay/", data=fresh, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200 and response.content == b"success"
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED
