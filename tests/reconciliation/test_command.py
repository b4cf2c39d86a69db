"""``manage.py reconcile``: a bill file read from disk, or the gateways' bills fetched."""

import pytest
from django.core.management import CommandError, call_command

from reconciliation.models import Difference, ReconciliationRun

from .bills import wechat_bill, wechat_payment
from .conftest import paid, txn_id_for

pytestmark = pytest.mark.django_db


def test_a_bill_file_is_reconciled(tmp_path, course, today, capsys):
    payment = paid(course)
    path = tmp_path / "wechatpay.csv.gz"
    path.write_bytes(
        wechat_bill(
            [
                wechat_payment(payment.payment_no, txn_id_for(payment), payment.amount),
                wechat_payment("PX", "4201", 1),
            ],
            compress=True,
        )
    )

    call_command("reconcile", "--gateway", "wechatpay", "--date", today.isoformat(), "--file", str(path))

    run = ReconciliationRun.objects.get()
    assert (run.source, run.file_name, run.lines, run.matched) == ("uploaded", "wechatpay.csv.gz", 2, 1)
    assert Difference.objects.get().kind == Difference.Kind.UNKNOWN_TRADE
    out = capsys.readouterr().out
    assert f"{run}: succeeded: 2 lines, 1 matched, 1 differences" in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--file", "x.csv"], "--file needs --gateway"),
        (["--gateway", "wechatpay", "--file", "/no/such/bill.csv"], "no such file"),
        (["--gateway", "nosuch"], "not available"),
        (["--gateway", "sandbox"], "no bills"),
        (["--date", "23/11/2026"], "YYYY-MM-DD"),
    ],
)
def test_mistakes_are_told_plainly(arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("reconcile", *arguments)
    assert not ReconciliationRun.objects.exists()


def test_a_file_that_is_not_a_bill_is_refused(tmp_path, today):
    path = tmp_path / "notes.txt"
    path.write_text("hello, world\n")
    with pytest.raises(CommandError, match="Not a WeChat Pay trade bill"):
        call_command("reconcile", "--gateway", "wechatpay", "--date", today.isoformat(), "--file", str(path))


def test_fetching_every_gateway_reports_the_runs_that_failed(today, capsys):
    """The simulators are not running here: both fetches fail, each on its own run."""
    with pytest.raises(CommandError, match="a reconciliation failed"):
        call_command("reconcile", "--date", today.isoformat())
    runs = ReconciliationRun.objects.order_by("gateway")
    assert [(run.gateway, run.status) for run in runs] == [("alipay", "failed"), ("wechatpay", "failed")]
    assert capsys.readouterr().out.count(": failed:") == 2
