"""Summaries of the journal (``payments.ledger.summaries``): balances as of a checkpoint
plus the entries after it are the journal's own, and ``ledger_check`` notices a drift."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from payments import ledger
from payments.ledger import checks as ledger_check
from payments.ledger import summaries
from payments.models import AccountBalance, JournalEntry, JournalSummary
from tests.factories import UserFactory


def journal_merchant_balances(merchant_id: int) -> dict[str, int]:
    """What the journal itself says, the way it was read before the summary existed."""
    balances = ledger.account_balances(JournalEntry.objects.filter(merchant_id=merchant_id))
    return {
        kind: -balances.get(f"merchant:{merchant_id}:{kind}", 0) for kind in ledger.MERCHANT_ACCOUNT_KINDS
    }


@pytest.mark.django_db
def test_balances_are_the_journals_before_and_after_a_fold(paid, buy, course):
    order, _payment = paid
    assert ledger.balances_now() == ledger.account_balances()  # nothing folded yet

    folded = summaries.fold_all()
    assert folded[summaries.ACCOUNT_BALANCES] == JournalEntry.objects.count() > 0
    checkpoint = JournalSummary.objects.get(name=summaries.ACCOUNT_BALANCES)
    assert checkpoint.through_entry == JournalEntry.objects.latest("pk").pk
    commission = AccountBalance.objects.get(account=ledger.PLATFORM_COMMISSION)
    assert commission.balance == ledger.account_balances()[ledger.PLATFORM_COMMISSION] < 0

    buy(UserFactory(), course)  # posted after the checkpoint: read from the journal
    assert ledger.balances_now() == ledger.account_balances()
    merchant_id = order.merchant_id
    assert ledger.merchant_balances([merchant_id])[merchant_id] == journal_merchant_balances(merchant_id)
    assert journal_merchant_balances(merchant_id)["pending"] > 0
    assert ledger_check.run() == []


@pytest.mark.django_db
def test_folding_again_changes_nothing(paid):
    summaries.fold_all()
    before = dict(AccountBalance.objects.values_list("account", "balance"))
    assert summaries.fold_all() == {summary.name: 0 for summary in summaries.summaries()}
    assert dict(AccountBalance.objects.values_list("account", "balance")) == before


@pytest.mark.django_db
def test_ledger_check_reports_a_summary_that_drifted(paid):
    summaries.fold_all()
    AccountBalance.objects.filter(account=ledger.PLATFORM_COMMISSION).update(balance=1)
    breaches = ledger_check.run()
    drifted = "summaries_match_journal: account_balances: platform:commission"
    assert any(breach.startswith(drifted) for breach in breaches)
    summaries.fold_all()  # nothing new: the drift stays until repaired
    assert any("summaries_match_journal" in breach for breach in ledger_check.run())
    AccountBalance.objects.filter(account=ledger.PLATFORM_COMMISSION).update(
        balance=ledger.account_balances()[ledger.PLATFORM_COMMISSION]
    )
    assert ledger_check.run() == []


@pytest.mark.django_db
@pytest.mark.parametrize("component", ["payments", "order_count"])
def test_ledger_check_reports_a_merchant_day_that_drifted(paid, component):
    """A merchant's day in settlement's summary that no longer says what the journal
    says (an amount, or a count of orders) is reported, and a day the journal never had."""
    from settlement.models import MerchantDay

    order, _payment = paid
    summaries.fold_all()
    row = MerchantDay.objects.get(merchant_id=order.merchant_id, membership=False)
    good = dict(row.components)
    MerchantDay.objects.filter(pk=row.pk).update(components={**good, component: good[component] + 1})
    drifted = f"summaries_match_journal: merchant_days: merchant {order.merchant_id} on {row.day}"
    assert any(breach.startswith(drifted) for breach in ledger_check.run())
    MerchantDay.objects.filter(pk=row.pk).update(components=good)
    assert ledger_check.run() == []
    stray = MerchantDay.objects.create(
        merchant_id=order.merchant_id,
        day=row.day - timedelta(days=400),
        summary_id=MerchantDay.SUMMARY,
        components={"payments": 1},
    )
    assert any(f"on {stray.day}" in breach for breach in ledger_check.run())
    stray.delete()
    assert ledger_check.run() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_checkpoint_never_passes_an_uncommitted_entry():
    """A transaction that has inserted an entry and not committed holds the checkpoint
    back: the fold gives up after its lock timeout instead of skipping that entry."""
    inserted, release = threading.Event(), threading.Event()

    def writer():
        try:
            with transaction.atomic():
                JournalEntry.objects.create(
                    kind=JournalEntry.Kind.POINTS,
                    debit_account=ledger.POINTS_EXPENSE,
                    credit_account=ledger.POINTS_LIABILITY,
                    amount=1,
                    created_at=timezone.now(),
                )
                inserted.set()
                release.wait(10)
                raise RuntimeError("rolled back: the test leaves no entry behind")
        except RuntimeError:
            pass
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert inserted.wait(10)
        assert summaries.committed_watermark() is None
        assert summaries.fold_all() == {}
    finally:
        release.set()
        thread.join(10)
    assert summaries.committed_watermark() == 0  # the writer rolled back: nothing committed


@pytest.mark.django_db
def test_the_dashboard_reads_the_same_figures_folded_or_not(paid, buy, course):
    from settlement import selectors
    from settlement.models import MerchantDay

    today = timezone.localdate()
    window = {"first_day": today - timedelta(days=29), "last_day": today}
    from_journal = selectors.dashboard_figures(**window)
    assert from_journal["totals"]["gross_sales"] > 0
    summaries.fold_all()
    assert MerchantDay.objects.filter(day=today).exists()
    assert selectors.dashboard_figures(**window) == from_journal

    buy(UserFactory(), course)  # after the checkpoint
    both = selectors.dashboard_figures(**window)
    assert both["totals"]["gross_sales"] == 2 * from_journal["totals"]["gross_sales"]
    assert both["totals"]["order_count"] == 2
    summaries.fold_all()
    assert selectors.dashboard_figures(**window) == both
    assert ledger_check.run() == []
