"""The data steps of the promoters' follow-up migrations, on books with a referred order:
``orders.0011`` fills ``Order.promoter_id`` from the checkout's risk record;
``settlement.0009`` fills the statements' promoter commission (and the net and
charge-backs that deduct it) and the dashboard's merchant days from the journal, and
goes back to the old formula when reversed."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from orders.models import Order
from payments.ledger import checks as ledger_check
from payments.ledger import summaries
from settlement import selectors
from settlement.models import MerchantDay, SettlementStatement
from settlement.services import statements_generate

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("orders", "0010_admin_list_indexes"), ("settlement", "0008_payout_payee")]
NEW_KEYS = {"promoter_commission", "promoter_returned", "promoter_returned_available"}


def migrate(target=None):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    target = target or executor.loader.graph.leaf_nodes()
    executor.migrate(target)


def statement_row(pk):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT gross_sales, refunds, commission, gateway_fees, net, charge_backs "
            "FROM settlement_settlementstatement WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()


def test_the_migrations_fill_the_new_figures_from_what_was_stored(
    learner, course, promoter, referral, buy_referred, no_refund_window, settle, refund
):
    order, _payment = buy_referred(learner, course, referral)
    refund(order, 3300)  # in the refund window: 330 of the 990 commission back to pending
    order = settle(order)
    refund(order, 3300)  # after settlement: 330 more, back to the merchant's available
    today = timezone.localdate()
    statements_generate(
        period_start=today - timedelta(days=1),
        period_end=today + timedelta(days=1),
        now=selectors.day_start(today + timedelta(days=2)),
    )
    summaries.fold_all()
    statement = SettlementStatement.objects.get(merchant=order.merchant)
    expected = statement.figures()
    assert (expected["promoter_commission"], expected["charge_backs"]) == (990 - 660, 3300 - 330 - 330)
    days = {(d.day, d.membership): d.components for d in MerchantDay.objects.filter(merchant=order.merchant)}
    ((_day, membership), components), *others = days.items()
    assert not others and not membership
    assert {name: components[name] for name in NEW_KEYS} == {
        "promoter_commission": 990,
        "promoter_returned": 660,
        "promoter_returned_available": 330,
    }

    try:
        migrate(BEFORE)
        gross, refunds, commission, fees, net, charge_backs = statement_row(statement.pk)
        assert net == gross - refunds - commission - fees  # the old formula, back
        assert charge_backs == expected["charge_backs"] + 330
        assert not any(NEW_KEYS & set(d.components) for d in MerchantDay.objects.only("components"))

        migrate()
        assert Order.objects.get(pk=order.pk).promoter_id == promoter.pk  # from the risk record
        statement.refresh_from_db()
        assert statement.figures() == expected
        assert {(d.day, d.membership): d.components for d in MerchantDay.objects.all()} == days
        assert ledger_check.run() == []
    finally:
        migrate()
