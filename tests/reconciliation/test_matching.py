"""Reconciling crafted bills with kpay's records: every kind of difference, repairs
through gateway queries, fees recorded once, and reconciling a day again."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.numbers import new_public_number
from payments import ledger
from payments.gateways.base import RefundState, TradeState
from payments.models import JournalEntry, Payment, Refund
from reconciliation import services
from reconciliation.exceptions import (
    AlreadyRunning,
    DifferenceNotOpen,
    NoBills,
    NoteRequired,
    ReconciliationError,
)
from reconciliation.models import Difference, ReconciliationRun
from settlement.services import order_settle

from .bills import alipay_csv, alipay_line, alipay_zip, wechat_bill, wechat_payment, wechat_refund
from .conftest import notify_paid, paid, txn_id_for, unpaid

pytestmark = pytest.mark.django_db
Kind, Status = Difference.Kind, Difference.Status


def upload(alias, day, data, actor=None):
    return services.reconciliation_upload(
        actor=actor, gateway_alias=alias, bill_date=day, file=io.BytesIO(data), file_name="bill.csv"
    )


def differences(run) -> dict[tuple[str, str], Difference]:
    return {
        (d.kind, d.key): d for d in Difference.objects.filter(gateway=run.gateway, bill_date=run.bill_date)
    }


def fee_entries(**filters):
    return JournalEntry.objects.filter(kind=JournalEntry.Kind.FEE, **filters)


def pay_line(payment, **changes):
    return wechat_payment(
        payment.payment_no, payment.gateway_txn_id or txn_id_for(payment), payment.amount, **changes
    )


def test_a_bill_that_agrees_matches_every_line_and_records_each_fee(course, today, refunded):
    first, second = paid(course), paid(course)
    refund = refunded(first, 1000)
    rows = [
        pay_line(first),
        pay_line(second),
        wechat_refund(first.payment_no, first.gateway_txn_id, refund.refund_no, "503001", 1000),
    ]

    run = upload("wechatpay", today, wechat_bill(rows))

    assert run.status == ReconciliationRun.Status.SUCCEEDED, run.error
    assert (run.lines, run.payment_lines, run.refund_lines, run.matched) == (3, 2, 1, 3)
    assert run.differences_found == 0 and not Difference.objects.exists()
    assert (run.payments_total, run.refunds_total, run.fees_total) == (19800, 1000, 59 + 59 - 6)
    assert (run.summary_lines, run.summary_fees_total) == (3, 112)
    assert (run.fees_posted, run.fees_posted_total) == (3, 112)
    fee = fee_entries(payment=first, refund=None).get()
    merchant_pending = ledger.merchant_pending(course.merchant_id)
    assert (fee.debit_account, fee.credit_account, fee.amount) == (
        merchant_pending,
        ledger.gateway_clearing("wechat_native"),
        59,
    )
    assert fee.reference == f"wechatpay:{first.gateway_txn_id}"
    returned = fee_entries(refund=refund).get()
    assert (returned.debit_account, returned.credit_account, returned.amount) == (
        ledger.gateway_clearing("wechat_native"),
        merchant_pending,
        6,
    )
    assert returned.reference == "wechatpay:refund:503001"


def test_every_kind_of_difference_on_a_wechat_bill(course, today, refunded, gateway_answers):
    ok, amount_off, missing, revoked, other_txn = (paid(course) for _ in range(5))
    repairable, unpaid_at_gateway = unpaid(course), unpaid(course)
    gateway_answers.payments[repairable.payment_no] = TradeState.SUCCEEDED  # its notification was lost
    gateway_answers.payments[unpaid_at_gateway.payment_no] = TradeState.PENDING
    refund_ok = refunded(ok, 500)
    refund_amount = refunded(amount_off, 700)
    refund_missing = refunded(revoked, 300)
    refund_processing = refunded(other_txn, 200, state=RefundState.PROCESSING)
    gateway_answers.refunds[refund_processing.refund_no] = RefundState.SUCCEEDED
    refund_status = refunded(missing, 100)
    rows = [
        pay_line(ok),
        pay_line(amount_off) | {"订单金额": "98.00"},
        pay_line(revoked, state="REVOKED"),
        pay_line(other_txn) | {"微信订单号": "4200999999"},
        wechat_payment(repairable.payment_no, txn_id_for(repairable), repairable.amount),
        wechat_payment(unpaid_at_gateway.payment_no, "4200888888", unpaid_at_gateway.amount),
        wechat_payment("PNOSUCHPAYMENT", "4200666666", 100),
        pay_line(ok) | {"订单金额": "not money", "商户订单号": "PBROKEN"},
        wechat_refund(ok.payment_no, ok.gateway_txn_id, refund_ok.refund_no, "5030001", 500),
        wechat_refund(
            amount_off.payment_no, amount_off.gateway_txn_id, refund_amount.refund_no, "5030002", 600
        ),
        wechat_refund(other_txn.payment_no, "4200999999", refund_processing.refund_no, "5030003", 200),
        wechat_refund(missing.payment_no, missing.gateway_txn_id, refund_status.refund_no, "5030004", 100)
        | {"退款状态": "PROCESSING"},
        wechat_refund(ok.payment_no, ok.gateway_txn_id, "RNOSUCHREFUND", "5030005", 50),
    ]
    # The bill's own total says one line more than it has.
    data = wechat_bill(rows).replace(b"`13,", b"`14,")

    run = upload("wechatpay", today, data)

    assert run.status == ReconciliationRun.Status.SUCCEEDED, run.error
    found = differences(run)
    assert {key: d.status for key, d in found.items()} == {
        (Kind.AMOUNT_MISMATCH, amount_off.payment_no): Status.OPEN,
        (Kind.MISSING_AT_GATEWAY, missing.payment_no): Status.OPEN,
        (Kind.STATUS_MISMATCH, revoked.payment_no): Status.OPEN,
        (Kind.STATUS_MISMATCH, other_txn.payment_no): Status.OPEN,
        (Kind.PAID_NOT_RECORDED, repairable.payment_no): Status.REPAIRED,
        (Kind.PAID_NOT_RECORDED, unpaid_at_gateway.payment_no): Status.OPEN,
        (Kind.UNKNOWN_TRADE, "PNOSUCHPAYMENT"): Status.OPEN,
        (Kind.INVALID_LINE, "line:9"): Status.OPEN,
        (Kind.REFUND_AMOUNT_MISMATCH, refund_amount.refund_no): Status.OPEN,
        (Kind.REFUND_NOT_RECORDED, refund_processing.refund_no): Status.REPAIRED,
        (Kind.REFUND_STATUS_MISMATCH, refund_status.refund_no): Status.OPEN,
        (Kind.REFUND_NOT_RECORDED, "RNOSUCHREFUND"): Status.OPEN,
        (Kind.REFUND_MISSING_AT_GATEWAY, refund_missing.refund_no): Status.OPEN,
        (Kind.SUMMARY_MISMATCH, "summary"): Status.OPEN,
    }
    amount = found[(Kind.AMOUNT_MISMATCH, amount_off.payment_no)]
    assert (amount.kpay_amount, amount.gateway_amount, amount.payment_id) == (9900, 9800, amount_off.pk)
    assert found[(Kind.REFUND_AMOUNT_MISMATCH, refund_amount.refund_no)].refund_id == refund_amount.pk
    assert "4200999999" in found[(Kind.STATUS_MISMATCH, other_txn.payment_no)].detail
    assert "REVOKED" in found[(Kind.STATUS_MISMATCH, revoked.payment_no)].detail
    assert "not money" in found[(Kind.INVALID_LINE, "line:9")].detail
    assert "14" in found[(Kind.SUMMARY_MISMATCH, "summary")].detail
    assert "Asking the gateway failed" in found[(Kind.MISSING_AT_GATEWAY, missing.payment_no)].detail
    # The repairs: the lost notification applied, the refund settled; the rest flagged.
    repairable.refresh_from_db()
    assert repairable.status == Payment.Status.SUCCEEDED and repairable.gateway_txn_id == txn_id_for(
        repairable
    )
    assert Refund.objects.get(pk=refund_processing.pk).status == Refund.Status.SUCCEEDED
    unpaid_at_gateway.refresh_from_db()
    assert (
        unpaid_at_gateway.status == Payment.Status.PENDING and "paid at the gateway" in unpaid_at_gateway.flag
    )
    assert run.repaired == 2
    # Fees: the lines of payments and refunds paid on both sides, the repaired ones too.
    assert fee_entries(payment=repairable).count() == 1
    assert fee_entries(refund=refund_processing).count() == 1
    assert not fee_entries(payment=unpaid_at_gateway).exists()


def test_reconciling_twice_records_fees_once_and_keeps_one_row_per_difference(course, today, gateway_answers):
    ok, missing = paid(course), paid(course)
    data = wechat_bill([pay_line(ok), wechat_payment("PNOSUCH", "4200000009", 100)])
    first = upload("wechatpay", today, data)
    fees = list(fee_entries().values_list("pk", flat=True))

    second = upload("wechatpay", today, data)

    assert first.status == second.status == ReconciliationRun.Status.SUCCEEDED
    assert first.fees_posted == 1 and second.fees_posted == 0
    assert list(fee_entries().values_list("pk", flat=True)) == fees
    found = differences(second)
    assert set(found) == {(Kind.MISSING_AT_GATEWAY, missing.payment_no), (Kind.UNKNOWN_TRADE, "PNOSUCH")}
    assert {d.run_id for d in found.values()} == {second.pk}
    assert second.differences_found == 2


def test_a_difference_not_found_again_is_resolved_and_one_found_again_reopens(course, today, gateway_answers):
    ok, late = paid(course), paid(course)
    first = upload("wechatpay", today, wechat_bill([pay_line(ok)]))
    difference = Difference.objects.get(kind=Kind.MISSING_AT_GATEWAY)
    assert difference.payment_id == late.pk and difference.status == Status.OPEN

    second = upload("wechatpay", today, wechat_bill([pay_line(ok), pay_line(late)]))

    difference.refresh_from_db()
    assert difference.status == Status.RESOLVED and difference.resolved_by is None
    assert f"run {second.pk}" in difference.resolution_note
    upload("wechatpay", today, wechat_bill([pay_line(ok)]))
    difference.refresh_from_db()
    assert difference.status == Status.OPEN and difference.resolution_note == "" and first.pk < second.pk


def test_a_payment_the_gateway_paid_on_another_day_is_explained(course, today, gateway_answers):
    late = paid(course)
    gateway_answers.payments[late.payment_no] = TradeState.SUCCEEDED
    gateway_answers.paid_at = late.succeeded_at - timedelta(days=1)  # kpay heard of it the next day

    upload("wechatpay", today, wechat_bill([]))

    difference = Difference.objects.get(kind=Kind.MISSING_AT_GATEWAY)
    day_before = (today - timedelta(days=1)).isoformat()
    assert difference.status == Status.RESOLVED and day_before in difference.resolution_note


def test_a_staff_resolution_survives_reconciling_again(course, today, gateway_answers, finance):
    _ok, missing = paid(course), paid(course)
    upload("wechatpay", today, wechat_bill([pay_line(_ok)]))
    difference = Difference.objects.get(kind=Kind.MISSING_AT_GATEWAY, payment=missing)
    services.difference_resolve(actor=finance, difference_id=difference.pk, note="Paid by bank transfer")

    upload("wechatpay", today, wechat_bill([pay_line(_ok)]))

    difference.refresh_from_db()
    assert difference.status == Status.RESOLVED and difference.resolved_by == finance
    assert difference.resolution_note == "Paid by bank transfer"


def test_a_day_without_trades_is_a_successful_empty_run(course, today):
    run = upload("wechatpay", today, wechat_bill([]))
    assert run.status == ReconciliationRun.Status.SUCCEEDED
    assert (run.lines, run.matched, run.differences_found, run.summary_lines) == (0, 0, 0, 0)


def test_an_alipay_bill(course, today):
    ok = paid(course, gateway="alipay", channel="alipay_qr")
    off = paid(course, gateway="alipay", channel="alipay_qr")
    rows = [
        alipay_line(ok.gateway_txn_id, ok.payment_no, 9900, fee=59),
        alipay_line(off.gateway_txn_id, off.payment_no, 9000),
        alipay_line("2026XX", "PNOTOURS", 100),
    ]
    run = upload("alipay", today, alipay_zip(alipay_csv(rows, totals=(3, 1))))

    assert run.status == ReconciliationRun.Status.SUCCEEDED, run.error
    assert set(differences(run)) == {
        (Kind.AMOUNT_MISMATCH, off.payment_no),
        (Kind.UNKNOWN_TRADE, "PNOTOURS"),
        (Kind.SUMMARY_MISMATCH, "summary"),  # the totals line says 1 refund
    }
    assert fee_entries(payment=ok).get().reference == f"alipay:{ok.gateway_txn_id}"
    assert run.matched == 1


def test_a_payment_of_another_gateway_is_an_unknown_trade_on_this_bill(course, today):
    alipay_payment = paid(course, gateway="alipay", channel="alipay_qr")
    run = upload("wechatpay", today, wechat_bill([pay_line(alipay_payment)]))
    difference = Difference.objects.get(run=run)
    assert difference.kind == Kind.UNKNOWN_TRADE and "alipay" in difference.detail
    assert not fee_entries().exists()


def test_a_bill_without_totals_is_a_summary_difference(course, today):
    ok = paid(course)
    run = upload("wechatpay", today, wechat_bill([pay_line(ok)], summary=None))
    assert Difference.objects.get(run=run).kind == Kind.SUMMARY_MISMATCH
    assert run.matched == 1


def test_the_fee_of_a_settled_order_is_charged_to_available_and_an_unapplied_payments_to_the_platform(
    course, today, settings
):
    settled = paid(course)
    later = timezone.now() + settings.KPAY_REFUND_WINDOW + timedelta(days=1)
    assert order_settle(order_id=settled.order_id, now=later)
    first = paid(course)
    # A second payment of an already paid order: received for nothing, owed back.
    twice = Payment.objects.create(
        payment_no=new_public_number("P"),
        order=first.order,
        merchant_id=first.merchant_id,
        channel="wechat_native",
        gateway="wechatpay",
        amount=first.amount,
        expires_at=first.expires_at,
    )
    assert notify_paid(twice).status == Payment.Status.UNAPPLIED

    upload("wechatpay", today, wechat_bill([pay_line(settled), pay_line(first), pay_line(twice)]))

    assert fee_entries(payment=settled).get().debit_account == ledger.merchant_available(course.merchant_id)
    assert fee_entries(payment=first).get().debit_account == ledger.merchant_pending(course.merchant_id)
    platform_fee = fee_entries(payment=twice).get()
    assert (platform_fee.debit_account, platform_fee.merchant_id) == (ledger.PLATFORM_GATEWAY_FEES, None)


# -- the services' rules --------------------------------------------------------------------
def test_resolving_needs_a_note_and_an_open_difference(course, today, gateway_answers, finance, support):
    paid(course)
    upload("wechatpay", today, wechat_bill([]))
    difference = Difference.objects.get()
    with pytest.raises(NoteRequired):
        services.difference_resolve(actor=finance, difference_id=difference.pk, note="  ")
    with pytest.raises(ReconciliationError):
        services.difference_resolve(actor=support, difference_id=difference.pk, note="looked")

    resolved = services.difference_resolve(
        actor=finance, difference_id=difference.pk, note="Refunded by hand"
    )

    assert (resolved.status, resolved.resolved_by, resolved.resolution_note) == (
        Status.RESOLVED,
        finance,
        "Refunded by hand",
    )
    assert resolved.resolved_at is not None
    with pytest.raises(DifferenceNotOpen):
        services.difference_resolve(actor=finance, difference_id=difference.pk, note="again")


def test_one_run_of_a_bill_at_a_time(course, today):
    ReconciliationRun.objects.create(
        gateway="wechatpay", bill_date=today, source="fetched", started_at=timezone.now()
    )
    with pytest.raises(AlreadyRunning):
        upload("wechatpay", today, wechat_bill([]))
    assert ReconciliationRun.objects.count() == 1


def test_a_run_abandoned_long_ago_does_not_block_a_new_one(course, today):
    stale = ReconciliationRun.objects.create(
        gateway="wechatpay", bill_date=today, source="fetched", started_at=timezone.now() - timedelta(hours=3)
    )
    run = upload("wechatpay", today, wechat_bill([]))
    stale.refresh_from_db()
    assert run.status == ReconciliationRun.Status.SUCCEEDED
    assert stale.status == ReconciliationRun.Status.FAILED and "Abandoned" in stale.error


def test_the_sandbox_has_no_bills_and_future_days_have_none_either(course, today):
    with pytest.raises(NoBills):
        upload("sandbox", today, wechat_bill([]))
    with pytest.raises(ReconciliationError):
        upload("wechatpay", today + timedelta(days=1), wechat_bill([]))
    assert services.bills_gateways() == ["wechatpay", "alipay"]


def test_a_bill_damaged_halfway_fails_its_run_with_the_reason(course, today):
    ok = paid(course)
    rows = [pay_line(ok)] + [wechat_payment(f"PX{i}", f"4201{i:08d}", 100) for i in range(5000)]
    data = wechat_bill(rows, compress=True)
    run = upload("wechatpay", today, data[: len(data) * 2 // 3])
    assert run.status == ReconciliationRun.Status.FAILED and "damaged" in run.error
    assert run.finished_at is not None
