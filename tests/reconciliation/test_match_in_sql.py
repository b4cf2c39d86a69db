"""Matching in SQL (``Reconciler._match_in_sql``) decides what matching in Python decides.

The same bill, with a line of every situation the SQL test distinguishes, reconciled once
with each path (the fixture's ``path``): the runs' figures, the differences and the fee
entries must be the same, field by field."""

from datetime import timedelta

import pytest
from django.db.models import F

from payments.models import JournalEntry, Payment
from reconciliation import matching
from reconciliation.models import Difference
from reconciliation.services import RUN_TALLY

from .bills import wechat_bill, wechat_payment
from .conftest import paid, unpaid
from .test_matching import pay_line, upload

pytestmark = pytest.mark.django_db
RUN_FIGURES = ("status", *RUN_TALLY, "differences_found")
DIFFERENCE_FIELDS = (
    "kind",
    "key",
    "trade_no",
    "txn_id",
    "payment_id",
    "kpay_amount",
    "gateway_amount",
    "status",
)
FEE_FIELDS = ("debit_account", "credit_account", "amount", "merchant_id", "payment_id", "reference", "memo")


def reconcile_every_situation(course, today, gateway_answers):
    ok, twice, no_fee, no_txn, other_txn, amount_off, kpay_no_txn, other_gateway = (
        paid(course) for _ in range(8)
    )
    Payment.objects.filter(pk=kpay_no_txn.pk).update(gateway_txn_id=None)
    Payment.objects.filter(pk=other_gateway.pk).update(gateway="alipay")
    pending = unpaid(course)
    rows = [
        pay_line(ok),
        pay_line(twice),
        pay_line(twice),  # the same line twice: one fee, and a difference
        pay_line(no_fee, fee=0),  # agrees; no fee to post
        wechat_payment(no_txn.payment_no, "", no_txn.amount),  # no gateway id on the line: agrees
        pay_line(other_txn) | {"微信订单号": "4200999999999999"},  # another gateway id: a difference
        wechat_payment(amount_off.payment_no, amount_off.gateway_txn_id, amount_off.amount + 1),
        wechat_payment(kpay_no_txn.payment_no, "4200555555555555", kpay_no_txn.amount),  # agrees
        pay_line(other_gateway),  # another gateway's payment: unknown here
        pay_line(pending),  # paid at the gateway, pending in kpay: asked, not paid
        pay_line(ok, state="REVOKED"),  # a failed line for a paid payment
    ]
    run = upload("wechatpay", today, wechat_bill(rows))
    differences = sorted(
        tuple(getattr(d, name) for name in DIFFERENCE_FIELDS)
        for d in Difference.objects.filter(gateway="wechatpay", bill_date=today)
    )
    fees = sorted(
        tuple(getattr(e, name) for name in FEE_FIELDS)
        for e in JournalEntry.objects.filter(kind=JournalEntry.Kind.FEE)
    )
    return {name: getattr(run, name) for name in RUN_FIGURES}, differences, fees


@pytest.mark.parametrize(
    "writer",
    [
        pytest.param("inline", id="inline"),
        # Outside a test's transaction the writer has its own thread and connection: the
        # batches (of 2 lines here) are matched there while the next ones are read. Only
        # on PostgreSQL: elsewhere the writer never threads.
        pytest.param(
            "threaded",
            id="threaded",
            marks=[pytest.mark.postgres, pytest.mark.django_db(transaction=True)],
        ),
    ],
)
def test_matching_in_sql_decides_what_matching_in_python_decides(
    writer, course, today, gateway_answers, monkeypatch
):
    if writer == "threaded":
        monkeypatch.setattr(matching, "BATCH", 2)
    assert matching.Writer.may_thread() == (writer == "threaded")
    in_sql = reconcile_every_situation(course, today, gateway_answers)
    JournalEntry.objects.filter(kind=JournalEntry.Kind.FEE)._raw_delete(JournalEntry.objects.db)
    Difference.objects.all().delete()
    # The first bill's payments paid on another day: not on the second bill's day.
    Payment.objects.update(succeeded_at=F("succeeded_at") - timedelta(days=3))
    monkeypatch.setattr(matching, "MATCH_IN_SQL", False)

    in_python = reconcile_every_situation(course, today, gateway_answers)

    run, differences, fees = in_sql
    assert run["status"] == "succeeded" and run["matched"] >= 5
    kinds = {d[0] for d in differences}
    assert {
        Difference.Kind.INVALID_LINE,
        Difference.Kind.STATUS_MISMATCH,
        Difference.Kind.AMOUNT_MISMATCH,
    } <= kinds
    assert {Difference.Kind.UNKNOWN_TRADE, Difference.Kind.PAID_NOT_RECORDED} <= kinds
    assert len(fees) == run["fees_posted"] >= 5
    # The second bill's payments are new ones: compare all but their ids and numbers.
    assert _shape(in_sql) == _shape(in_python)


def _shape(outcome):
    run, differences, fees = outcome
    return (
        {name: value for name, value in run.items()},
        sorted((kind, status, kpay, gateway) for kind, _k, _t, _x, _p, kpay, gateway, status in differences),
        sorted((debit, credit, amount, memo) for debit, credit, amount, _m, _p, _r, memo in fees),
    )
