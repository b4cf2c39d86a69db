"""Settlement's summary of the journal: each merchant's components per local day, kept by
``payments.ledger.summaries`` (folded every minute, checkpointed, verified by
``ledger_check``). The dashboard reads a month of it (a few hundred rows) and sums only
the entries after its checkpoint, instead of a month of the journal (half a million
entries at a million orders: 1.2-1.5 s).

The counts (orders paid, refunds) are additive from one fold to the next: a payment's or
a refund's legs are written by one INSERT, so they fall on the same side of any
checkpoint (``committed_watermark``), and each order is paid, each refund posted, once.
"""

from collections.abc import Iterable
from datetime import date

from django.db.models import QuerySet

from memberships.selectors import membership_orders_q
from orders.models import Order
from payments.ledger import summaries
from payments.models import JournalEntry

from .checks import journal_days
from .models import MerchantDay
from .selectors import ZERO, add_components, components_by_merchant_day

MERCHANT_DAYS = MerchantDay.SUMMARY


def _changes(entries: QuerySet) -> dict[tuple[int, date, bool], dict[str, int]]:
    """``{(merchant_id, day, membership): components}``: all entries, and those of
    membership orders on their own."""
    changes = {}
    for membership, within in ((False, entries), (True, entries.filter(membership_orders_q("order__")))):
        for (merchant_id, day), components in components_by_merchant_day(within).items():
            changes[(merchant_id, day, membership)] = components
    return changes


def _fold(entries: QuerySet) -> None:
    changes = _changes(entries)
    if not changes:
        return
    merchant_ids = {merchant_id for merchant_id, _day, _membership in changes}
    days = {day for _merchant_id, day, _membership in changes}
    rows = {
        (row.merchant_id, row.day, row.membership): row
        for row in MerchantDay.objects.filter(merchant_id__in=merchant_ids, day__in=days)
    }
    for key, change in changes.items():
        row = rows.get(key) or MerchantDay(
            merchant_id=key[0], day=key[1], membership=key[2], summary_id=MERCHANT_DAYS, components=dict(ZERO)
        )
        row.components = add_components({**ZERO, **row.components}, change)
        rows[key] = row
    MerchantDay.objects.bulk_create(
        rows.values(),
        update_conflicts=True,
        unique_fields=["merchant", "day", "membership"],
        update_fields=["components"],
    )


def _verify(through: int) -> Iterable[str]:
    # The journal's figures through the checkpoint, computed by ``checks.journal_days``
    # (not the fold's own code, and faster over the whole journal). Nothing folded yet:
    # the summary must be empty (no scan needed).
    expected = {}
    if through:
        entries = JournalEntry.objects.filter(pk__lte=through)
        parts = [(False, entries)]
        # Membership orders' entries apart, when there are membership orders (one look
        # at the orders instead of three joins of the journal to them).
        if Order.objects.filter(membership_orders_q()).exists():
            parts.append((True, entries.filter(membership_orders_q("order__"))))
        for membership, within in parts:
            for (merchant_id, day), components in journal_days(within).items():
                expected[(merchant_id, day, membership)] = components
    rows = MerchantDay.objects.values_list("merchant_id", "day", "membership", "components")
    kept = {(merchant_id, day, membership): {**ZERO, **c} for merchant_id, day, membership, c in rows}
    for key in sorted(set(expected) | set(kept)):
        if expected.get(key, ZERO) != kept.get(key, ZERO):
            what = "membership orders" if key[2] else "entries"
            yield f"merchant {key[0]} on {key[1]} ({what}): not the journal's figures through entry {through}"


summaries.register(summaries.Summary(MERCHANT_DAYS, _fold, _verify))
