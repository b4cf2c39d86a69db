"""Runs and differences move through their state machines by transitions only, and
every move is in their history: who (empty: a run), which transition, why."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_fsm import can_proceed

from payments.gateways.base import TradeState
from reconciliation import services
from reconciliation.models import Difference, ReconciliationRun

from .bills import wechat_bill, wechat_payment
from .conftest import paid
from .test_matching import pay_line, upload

pytestmark = pytest.mark.django_db
Kind, Status = Difference.Kind, Difference.Status


def history(obj) -> list[tuple]:
    return [
        (change.from_status, change.to_status, change.transition, change.actor)
        for change in obj.status_changes.all()
    ]


def test_a_run_starts_and_succeeds_in_its_history(course, today, finance):
    run = upload("wechatpay", today, wechat_bill([]), actor=finance)

    assert history(run) == [("", "running", "start", finance), ("running", "succeeded", "succeed", None)]
    assert run.status_changes.last().created_at == run.finished_at


def test_a_failed_run_says_why_in_its_history(course, today):
    ok = paid(course)
    rows = [pay_line(ok)] + [wechat_payment(f"PX{i}", f"4201{i:08d}", 100) for i in range(5000)]
    data = wechat_bill(rows, compress=True)
    run = upload("wechatpay", today, data[: len(data) * 2 // 3])

    assert run.status == ReconciliationRun.Status.FAILED
    last = run.status_changes.last()
    assert (last.from_status, last.to_status, last.transition) == ("running", "failed", "fail")
    assert last.reason == run.error[:255] and last.created_at == run.finished_at


def test_an_abandoned_run_fails_by_transition(course, today):
    stale = ReconciliationRun.objects.create(
        gateway="wechatpay", bill_date=today, source="fetched", started_at=timezone.now() - timedelta(hours=3)
    )
    upload("wechatpay", today, wechat_bill([]))

    stale.refresh_from_db()
    assert history(stale) == [("running", "failed", "fail", None)]
    assert stale.status_changes.get().reason.startswith("Abandoned")


def test_status_is_changed_by_transitions_only(course, today):
    run = upload("wechatpay", today, wechat_bill([]))
    with pytest.raises(AttributeError):
        run.status = ReconciliationRun.Status.RUNNING
    assert not can_proceed(run.fail)  # a finished run stays finished


def test_a_staff_resolution_is_in_the_history_and_is_not_reopened(course, today, gateway_answers, finance):
    ok, missing = paid(course), paid(course)
    upload("wechatpay", today, wechat_bill([pay_line(ok)]))
    difference = Difference.objects.get(kind=Kind.MISSING_AT_GATEWAY, payment=missing)

    services.difference_resolve(actor=finance, difference_id=difference.pk, note="Paid by bank transfer")

    difference.refresh_from_db()
    assert history(difference) == [("open", "resolved", "resolve", finance)]
    assert difference.status_changes.get().reason == "Paid by bank transfer"
    assert not can_proceed(difference.reopen)  # staff resolved it: a run never re-opens it
    with pytest.raises(AttributeError):
        difference.status = Status.OPEN


def test_a_run_closes_and_reopens_a_difference_in_its_history(course, today, gateway_answers):
    ok, late = paid(course), paid(course)
    upload("wechatpay", today, wechat_bill([pay_line(ok)]))
    difference = Difference.objects.get(kind=Kind.MISSING_AT_GATEWAY)
    assert history(difference) == []

    second = upload("wechatpay", today, wechat_bill([pay_line(ok), pay_line(late)]))
    upload("wechatpay", today, wechat_bill([pay_line(ok)]))

    difference.refresh_from_db()
    assert history(difference) == [("open", "resolved", "close", None), ("resolved", "open", "reopen", None)]
    assert f"run {second.pk}" in difference.status_changes.first().reason


def test_a_run_that_explains_an_open_difference_closes_it_in_its_history(course, today, gateway_answers):
    late = paid(course)
    upload("wechatpay", today, wechat_bill([]))  # the gateway does not answer: open
    difference = Difference.objects.get(kind=Kind.MISSING_AT_GATEWAY)
    assert difference.status == Status.OPEN

    gateway_answers.payments[late.payment_no] = TradeState.SUCCEEDED
    gateway_answers.paid_at = late.succeeded_at - timedelta(days=1)
    upload("wechatpay", today, wechat_bill([]))

    difference.refresh_from_db()
    assert difference.status == Status.RESOLVED
    assert history(difference) == [("open", "resolved", "close", None)]
    assert difference.status_changes.get().reason == difference.resolution_note


def test_the_admin_shows_the_histories_to_who_may_see_them(client, course, today, gateway_answers, finance):
    ok, _missing = paid(course), paid(course)
    run = upload("wechatpay", today, wechat_bill([pay_line(ok)]), actor=finance)
    difference = Difference.objects.get(kind=Kind.MISSING_AT_GATEWAY)
    services.difference_resolve(actor=finance, difference_id=difference.pk, note="Paid by bank transfer")
    client.force_login(finance)

    run_page = client.get(f"/admin/reconciliation/reconciliationrun/{run.pk}/change/")
    difference_page = client.get(f"/admin/reconciliation/difference/{difference.pk}/change/")

    assert run_page.status_code == difference_page.status_code == 200
    changes = run_page.context["inline_admin_formsets"][0].formset.queryset
    assert [(c.from_status, c.to_status) for c in changes] == [("", "running"), ("running", "succeeded")]
    assert "Running → Succeeded" in run_page.content.decode()  # in words
    changes = difference_page.context["inline_admin_formsets"][0].formset.queryset
    assert [(c.transition, c.actor, c.reason) for c in changes] == [
        ("resolve", finance, "Paid by bank transfer")
    ]
