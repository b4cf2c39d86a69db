"""Alerts e-mailed to finance and the admins, each naming the admin page to look at, each
thing told once: a ledger breach (the daily check), a reconciliation run with differences
or failed, a failed payout, a refund stuck in processing for more than a day."""

import io
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from core.models import AlertSent
from courses import roles
from payments import ledger
from payments.gateways.base import RefundState
from payments.models import JournalEntry, Refund
from payments.monitoring import LEDGER_CHECK_CACHE_KEY
from payments.services import refund_issue
from payments.tasks import alert_stuck_refunds, ledger_check_daily
from reconciliation.tasks import alert_reconciliation
from settlement.models import Payout
from settlement.services import payout_approve, payout_fail, payout_request
from settlement.tasks import alert_failed_payouts

pytestmark = pytest.mark.django_db
BASE = "https://admin.pay.example.com"


@pytest.fixture(autouse=True)
def alert_settings(settings):
    settings.ADMINS = [("ops", "ops@example.com")]
    settings.KPAY_ALERT_EMAILS = ["oncall@example.com"]
    settings.KPAY_ALERT_BASE_URL = BASE


@pytest.fixture
def finance_user(staff):
    user = staff(roles.FINANCE, "finance-fei")
    user.email = "fei@example.com"
    user.save()
    return user


def execute(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_ledger_breach_is_mailed_once_a_day_naming_the_journal(paid, finance_user):
    _order, payment = paid
    assert ledger_check_daily() == 0 and not mail.outbox
    assert cache.get(LEDGER_CHECK_CACHE_KEY)["breaches"] == 0

    entry = JournalEntry.objects.get(credit_account=ledger.PLATFORM_COMMISSION)
    execute("UPDATE payments_journalentry SET amount = amount + 1 WHERE id = %s", [entry.pk])
    try:
        breaches = ledger_check_daily()
        assert breaches >= 1 and cache.get(LEDGER_CHECK_CACHE_KEY)["breaches"] == breaches
        assert ledger_check_daily() == breaches  # checked again, not mailed again the same day
    finally:
        execute("UPDATE payments_journalentry SET amount = amount - 1 WHERE id = %s", [entry.pk])

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert set(message.to) == {"ops@example.com", "oncall@example.com", "fei@example.com"}
    assert "ledger_check" in message.subject
    assert f"{BASE}/admin/payments/journalentry/" in message.body
    assert payment.payment_no in message.body
    assert f"{BASE}/admin/payments/payment/?q={payment.payment_no}" in message.body
    assert AlertSent.objects.filter(kind="ledger_check", key=timezone.localdate().isoformat()).exists()


def test_a_refund_stuck_in_processing_for_a_day_is_mailed_once(
    paid, support, gateway_refunds, finance_user, django_capture_on_commit_callbacks
):
    order, _payment = paid
    gateway_refunds.answer = RefundState.PROCESSING  # the gateway never says how it ended
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_issue(actor=support, order_id=order.pk, amount=1000, reason="partial")
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROCESSING

    assert alert_stuck_refunds() == 0  # processing for minutes: not stuck yet
    Refund.objects.filter(pk=refund.pk).update(submitted_at=timezone.now() - timedelta(hours=25))
    assert alert_stuck_refunds() == 1
    assert alert_stuck_refunds() == 0  # told once

    (message,) = mail.outbox
    assert refund.refund_no in message.body and order.order_no in message.body
    assert f"{BASE}/admin/payments/refund/{refund.pk}/change/" in message.body
    assert "fei@example.com" in message.to


@pytest.fixture
def funded(buy, learner, course, settings):
    """A merchant with money available (an order settled after its refund window)."""
    from settlement.services import order_settle

    settings.KPAY_PAYOUT_MIN = 100
    order, _payment = buy(learner, course)
    order_settle(order_id=order.pk, now=timezone.now() + settings.KPAY_REFUND_WINDOW + timedelta(minutes=1))
    return course.merchant


def test_a_failed_payout_is_mailed_once_without_the_account_number(funded, staff, finance_user):
    from django.contrib.auth.models import Group

    from tests.factories import MerchantStaffFactory

    requester = MerchantStaffFactory(merchant=funded)
    requester.groups.add(Group.objects.get(name=roles.MERCHANT))
    approver = staff(roles.FINANCE, "finance-two")
    payout = payout_request(
        merchant=funded,
        amount=5000,
        by=requester,
        account_name="Studio Ltd",
        bank_name="ICBC",
        account_number="6222020000009876543",
    )
    payout_approve(payout_id=payout.pk, by=approver)
    assert alert_failed_payouts() == 0
    payout_fail(payout_id=payout.pk, by=finance_user, note="account closed: 6222020000009876543")
    assert Payout.objects.get(pk=payout.pk).status == Payout.Status.FAILED

    assert alert_failed_payouts() == 1
    assert alert_failed_payouts() == 0
    (message,) = mail.outbox
    assert payout.payout_no in message.body
    assert f"{BASE}/admin/settlement/payout/{payout.pk}/change/" in message.body
    assert "6222020000009876543" not in message.body and "****6543" in message.body


def test_a_reconciliation_run_with_differences_is_mailed_once(finance_user):
    from reconciliation import services
    from tests.factories import CourseFactory
    from tests.reconciliation.bills import wechat_bill, wechat_payment
    from tests.reconciliation.conftest import paid as paid_on_wechat
    from tests.reconciliation.conftest import txn_id_for

    payment = paid_on_wechat(CourseFactory(price=9900))
    day = timezone.localdate()
    line = wechat_payment(payment.payment_no, payment.gateway_txn_id or txn_id_for(payment), 9000)  # 90 ≠ 99
    run = services.reconciliation_upload(
        actor=finance_user,
        gateway_alias="wechatpay",
        bill_date=day,
        file=io.BytesIO(wechat_bill([line])),
        file_name="bill.csv",
    )
    assert run.differences.filter(status="open").exists()

    assert alert_reconciliation() == 1
    assert alert_reconciliation() == 0
    (message,) = mail.outbox
    assert "wechatpay" in message.body and day.isoformat() in message.body
    assert f"{BASE}/admin/reconciliation/difference/?run={run.pk}&status=open" in message.body


def test_nobody_to_tell_keeps_the_alert_for_later(paid, support, gateway_refunds, settings, caplog):
    settings.ADMINS, settings.KPAY_ALERT_EMAILS = [], []
    order, _payment = paid
    gateway_refunds.answer = RefundState.PROCESSING
    refund = refund_issue(actor=support, order_id=order.pk, amount=500, reason="partial")
    Refund.objects.filter(pk=refund.pk).update(
        status=Refund.Status.PROCESSING, submitted_at=timezone.now() - timedelta(days=2)
    )
    assert alert_stuck_refunds() == 0 and not mail.outbox
    assert "nobody to tell" in caplog.text
    assert not AlertSent.objects.exists()
    settings.KPAY_ALERT_EMAILS = ["oncall@example.com"]
    assert alert_stuck_refunds() == 1 and mail.outbox[0].to == ["oncall@example.com"]


def test_the_alert_tasks_are_scheduled(settings):
    from kpay.celery import app

    app.loader.import_default_modules()
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for name in (
        "payments.tasks.ledger_check_daily",
        "payments.tasks.alert_stuck_refunds",
        "settlement.tasks.alert_failed_payouts",
        "reconciliation.tasks.alert_reconciliation",
    ):
        assert name in tasks and name in app.tasks
