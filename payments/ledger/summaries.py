"""Summaries kept beside the journal: figures as of a checkpoint, plus what came after.

Balances summed over the whole journal cost a scan of millions of rows per page (~0.8 s
at 3.2 million entries, ``bench/scale.py``). A balance row updated by every posting
would make ``platform:commission`` and each clearing account a hot row that every
payment waits on (the flash sale's enemy). So the journal stays insert-only, and a
periodic task (``payments.tasks.fold_journal_summaries``, every minute) folds the
entries after each summary's checkpoint into it. A reader adds the summary (every entry
with ``id <= through_entry``) and the entries after it: a range of the primary key, a
minute's worth. ``ledger_check.summaries_match_journal`` recomputes each summary from the
journal and reports any difference.

The checkpoint must not pass an entry still uncommitted: ids are taken at INSERT and
committed later, so ``max(id)`` alone could skip a row that commits afterwards.
:func:`committed_watermark` takes ``LOCK … IN SHARE MODE`` on the journal, which waits for
every transaction writing to it to end, reads ``max(id)`` and lets go at once: every id
up to it is then committed (or rolled back) for good. Writers queue behind that lock for
at most ``lock_timeout``; past it the fold waits for the next minute.

Apps that keep their own summaries (settlement's figures per merchant and day) register
them with :func:`register` in ``AppConfig.ready``.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import OperationalError, connection, transaction
from django.db.models import Q, QuerySet

from ..models import AccountBalance, JournalEntry, JournalSummary
from .accounts import MERCHANT_ACCOUNT_KINDS
from .balances import account_balances, journal_account_balances

LOCK_TIMEOUT = "200ms"


@dataclass(frozen=True)
class Summary:
    name: str
    fold: Callable[[QuerySet], None]  # add these entries into the summary
    verify: Callable[[int], Iterable[str]]  # breaches: the summary against entries <= id


_SUMMARIES: dict[str, Summary] = {}


def register(summary: Summary) -> Summary:
    _SUMMARIES[summary.name] = summary
    return summary


def summaries() -> list[Summary]:
    return list(_SUMMARIES.values())


def committed_watermark() -> int | None:
    """The highest journal id below which every entry is committed; None when writers
    held the journal longer than :data:`LOCK_TIMEOUT` (try again later). Outside any
    transaction: the lock is released at once."""
    table = connection.ops.quote_name(JournalEntry._meta.db_table)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                cursor.execute(f"LOCK TABLE {table} IN SHARE MODE")
            # SQLite has one writer at a time: max(id) is committed.
            cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")  # noqa: S608
            return cursor.fetchone()[0]
    except OperationalError:
        return None


def fold_all() -> dict[str, int]:
    """Fold the entries committed since each summary's checkpoint; how many per summary."""
    upto = committed_watermark()
    if upto is None:
        return {}
    return {summary.name: fold(summary, upto=upto) for summary in summaries()}


def fold(summary: Summary, *, upto: int) -> int:
    """Fold entries ``(through_entry, upto]`` into ``summary`` and move its checkpoint, in
    one transaction (the checkpoint row, locked, serialises folds)."""
    with transaction.atomic():
        JournalSummary.objects.get_or_create(name=summary.name)
        checkpoint = JournalSummary.objects.select_for_update().get(name=summary.name)
        if upto <= checkpoint.through_entry:
            return 0
        entries = JournalEntry.objects.filter(pk__gt=checkpoint.through_entry, pk__lte=upto).order_by()
        count = entries.count()
        summary.fold(entries)
        checkpoint.through_entry = upto
        checkpoint.save(update_fields=["through_entry", "updated_at"])
    return count


def summarised_rows(rows: QuerySet, fields: list[str], *, name: str) -> tuple[list[tuple], int]:
    """``rows`` of a summary (``fields`` of each) and the checkpoint they hold the journal
    to, consistently: the checkpoint comes in the same statement as the rows (one
    snapshot). With no rows, it is read on its own and the rows asked again: rows are
    only ever added, so if there are still none, none existed for entries up to it."""
    listed = list(rows.values_list(*fields, "summary__through_entry"))
    if not listed:
        checkpoint = JournalSummary.objects.filter(name=name).values_list("through_entry", flat=True)
        through = checkpoint.first() or 0
        listed = list(rows.values_list(*fields, "summary__through_entry"))
        if not listed:
            return [], through
    return [row[:-1] for row in listed], listed[0][-1]


# -- account balances -----------------------------------------------------------------
ACCOUNT_BALANCES = "account_balances"


def _fold_balances(entries: QuerySet) -> None:
    changes = account_balances(entries)
    if not changes:
        return
    rows = {row.account: row for row in AccountBalance.objects.filter(account__in=list(changes))}
    for account, change in changes.items():
        row = rows.get(account) or AccountBalance(
            account=account, summary_id=ACCOUNT_BALANCES, merchant_id=_merchant_of(account)
        )
        row.balance += change
        rows[account] = row
    AccountBalance.objects.bulk_create(
        rows.values(), update_conflicts=True, unique_fields=["account"], update_fields=["balance"]
    )


def _merchant_of(account: str) -> int | None:
    kind, _sep, rest = account.partition(":")
    merchant_id = rest.partition(":")[0]
    return int(merchant_id) if kind == "merchant" and merchant_id.isdigit() else None


def _verify_balances(through: int) -> Iterable[str]:
    # The whole journal's balances (read once per ledger_check run) less the entries
    # after the checkpoint: one more short range, not another pass over the journal.
    expected: dict[str, int] = {}
    if through:  # (0: nothing folded yet, so the summary must be empty: no scan)
        expected = dict(journal_account_balances())
        for account, change in account_balances(JournalEntry.objects.filter(pk__gt=through)).items():
            expected[account] = expected.get(account, 0) - change
    kept = dict(AccountBalance.objects.values_list("account", "balance"))
    for account in sorted(set(expected) | set(kept)):
        if expected.get(account, 0) != kept.get(account, 0):
            yield (
                f"{account}: the summary holds {kept.get(account, 0)} through entry {through}, "
                f"the journal says {expected.get(account, 0)}"
            )


register(Summary(ACCOUNT_BALANCES, _fold_balances, _verify_balances))


def balances_now(merchant_ids=None) -> dict[str, int]:
    """Every account's balance now (or only the accounts of ``merchant_ids``): the summary
    and the entries after its checkpoint (:func:`summarised_rows`: a fold committing
    meanwhile is never counted twice nor missed)."""
    rows = AccountBalance.objects.all()
    entries = JournalEntry.objects.all()
    if merchant_ids is not None:
        rows = rows.filter(merchant_id__in=list(merchant_ids))
        entries = entries.filter(merchant_id__in=list(merchant_ids))
    listed, through = summarised_rows(rows, ["account", "balance"], name=ACCOUNT_BALANCES)
    balances: dict[str, int] = dict(listed)
    for account, change in account_balances(entries.filter(pk__gt=through)).items():
        if merchant_ids is None or _merchant_of(account) is not None:
            balances[account] = balances.get(account, 0) + change
    return balances


def balances_of(accounts) -> dict[str, int]:
    """The balances of ``accounts`` now (debits minus credits; 0 for an account never
    moved): their summary rows and the entries after the checkpoint that move them
    (:func:`summarised_rows`), two aggregates over a range of the primary key. For
    owners other than merchants (a promoter's ``promoter:<id>:…`` accounts)."""
    accounts = list(accounts)
    balances = dict.fromkeys(accounts, 0)
    if not accounts:
        return balances
    rows = AccountBalance.objects.filter(account__in=accounts)
    listed, through = summarised_rows(rows, ["account", "balance"], name=ACCOUNT_BALANCES)
    balances.update(listed)
    after = JournalEntry.objects.filter(
        Q(debit_account__in=accounts) | Q(credit_account__in=accounts), pk__gt=through
    )
    for account, change in account_balances(after).items():
        if account in balances:
            balances[account] += change
    return balances


def merchant_balances(merchant_ids=None) -> dict[int, dict[str, int]]:
    """Each merchant's accounts as the merchant sees them (what it is owed, positive):
    ``{merchant_id: {"pending": …, "available": …, "payouts": …, "paid_out": …}}``.
    The summary's rows and two aggregates over the entries after its checkpoint,
    however many merchants and entries."""
    result: dict[int, dict[str, int]] = {}
    for account, balance in balances_now(merchant_ids).items():
        merchant_id = _merchant_of(account)
        if merchant_id is not None:
            merchant_balance = result.setdefault(merchant_id, dict.fromkeys(MERCHANT_ACCOUNT_KINDS, 0))
            merchant_balance[account.split(":")[2]] = -balance
    for merchant_id in merchant_ids or ():
        result.setdefault(merchant_id, dict.fromkeys(MERCHANT_ACCOUNT_KINDS, 0))
    return result
