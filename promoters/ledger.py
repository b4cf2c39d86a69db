"""A promoter's commission in the journal (kind ``promoter``), and its invariants.

Deduction order (README, "Promoters"): the payment is split as usual (platform
commission first, on the merchant's price); the promoter's commission then comes out of
the merchant's share; gateway fees are charged to what the merchant keeps, later, as
they arrive from the bills.

* paid: ``C = min(round_half_up(total × rate), merchant share)``, where ``total`` is what
  the learner paid (after coupons and points): ``merchant:<m>:pending → promoter:<p>:pending``;
* refunded: after refunds adding up to ``R`` of the order's ``total``,
  ``round_half_up(C × R / total)`` of it has been given back to the merchant (each refund
  the difference; cumulative, so a full refund gives back exactly ``C``), from pending
  before the order settles and from available after (a debt when already paid out);
* settled: what is pending for the order moves to ``promoter:<p>:available``.

Every entry carries the order and the merchant, so the merchant's pending balance of an
order (:func:`payments.ledger.order_pending_balance`) is its share less the commission.
The promoter's accounts are named by the order's own column (``Order.promoter_id``,
written at checkout), never by the checkout's risk record; ``ledger_check`` checks that
each referral row names the same promoter as its order.
"""

from collections.abc import Iterator

from django.db.models import (
    BigIntegerField,
    Case,
    ExpressionWrapper,
    F,
    Func,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from core.money import prorate
from orders.models import Order
from payments.ledger import commission_for, merchant_available, merchant_pending, summaries
from payments.ledger.checks import register
from payments.models import JournalEntry

from .models import OrderReferral, Promoter

PROMOTER_ACCOUNT_KINDS = ("pending", "available", "payouts", "paid_out")


def promoter_account(promoter_id: int, kind: str) -> str:
    return f"promoter:{promoter_id}:{kind}"


def commission_of(*, order, rate_bp: int) -> int:
    """The promoter's commission on ``order``: its rate of what the learner paid, never
    more than the merchant's share of the payment."""
    price = order.total + order.platform_discount + order.points_discount
    share = price - commission_for(price, order.merchant.effective_commission_rate)
    return min(prorate(order.total, rate_bp, 10_000), share)


def reversed_part(*, commission: int, refunded: int, total: int) -> int:
    """What of ``commission`` goes back once ``refunded`` of ``total`` was refunded."""
    return prorate(commission, refunded, total)


def _entry(*, referral: OrderReferral, order, debit: str, credit: str, amount: int, at, memo, reference=""):
    return JournalEntry.objects.create(
        kind=JournalEntry.Kind.PROMOTER,
        debit_account=debit,
        credit_account=credit,
        amount=amount,
        currency=order.currency,
        merchant_id=order.merchant_id,
        order=order,
        reference=reference,
        memo=memo,
        created_at=at,
    )


def post_commission_accrued(*, referral: OrderReferral, order, amount: int, at) -> None:
    if amount > 0:
        _entry(
            referral=referral,
            order=order,
            debit=merchant_pending(order.merchant_id),
            credit=promoter_account(order.promoter_id, "pending"),
            amount=amount,
            at=at,
            memo=f"order {order.order_no}: promoter commission",
            reference=f"{order.order_no}:accrued",
        )


def post_commission_reversed(*, referral: OrderReferral, order, refunded_before: int, at) -> None:
    before = reversed_part(commission=referral.commission, refunded=refunded_before, total=order.total)
    after = reversed_part(commission=referral.commission, refunded=order.refunded_amount, total=order.total)
    settled = order.completed_at is not None
    kind = "available" if settled else "pending"
    merchant = merchant_available(order.merchant_id) if settled else merchant_pending(order.merchant_id)
    if after > before:
        _entry(
            referral=referral,
            order=order,
            debit=promoter_account(order.promoter_id, kind),
            credit=merchant,
            amount=after - before,
            at=at,
            memo=f"order {order.order_no}: promoter commission reversed by a refund",
        )


def post_commission_settled(*, referral: OrderReferral, order, at) -> None:
    pending = referral.commission - reversed_part(
        commission=referral.commission, refunded=order.refunded_amount, total=order.total
    )
    if pending > 0:
        _entry(
            referral=referral,
            order=order,
            debit=promoter_account(order.promoter_id, "pending"),
            credit=promoter_account(order.promoter_id, "available"),
            amount=pending,
            at=at,
            memo=f"order {order.order_no} settled: promoter commission available",
            reference=f"{order.order_no}:settled",
        )


def promoter_balances(promoter_ids) -> dict[int, dict[str, int]]:
    """``{promoter_id: {"pending", "available", "payouts", "paid_out"}}`` as the promoter
    sees them (owed to them: positive): the journal's account balances summary and the
    entries after its checkpoint (:func:`payments.ledger.summaries.balances_of`), as a
    merchant's balances are read, never a sum over the whole journal."""
    promoter_ids = list(promoter_ids)
    result = {pk: dict.fromkeys(PROMOTER_ACCOUNT_KINDS, 0) for pk in promoter_ids}
    accounts = [promoter_account(pk, kind) for pk in promoter_ids for kind in PROMOTER_ACCOUNT_KINDS]
    for account, balance in summaries.balances_of(accounts).items():
        _, pk, kind = account.split(":")
        result[int(pk)][kind] = -balance
    return result


def _sum(entries):
    """A correlated ``SUM(amount)`` of the outer referral's order's ``entries``, 0 for none."""
    summed = (
        entries.filter(order=OuterRef("order"), kind=JournalEntry.Kind.PROMOTER)
        .order_by()
        .annotate(total=Func(F("amount"), function="SUM"))
        .values("total")
    )
    return Coalesce(
        Subquery(summed, output_field=BigIntegerField()), Value(0), output_field=BigIntegerField()
    )


def _net(kind: str):
    """What the order's entries left in its promoter's ``kind`` account (credits less debits)."""
    credited = JournalEntry.objects.filter(
        credit_account__startswith="promoter:", credit_account__endswith=f":{kind}"
    )
    debited = JournalEntry.objects.filter(
        debit_account__startswith="promoter:", debit_account__endswith=f":{kind}"
    )
    return ExpressionWrapper(_sum(credited) - _sum(debited), output_field=BigIntegerField())


@register
def promoter_commissions_match_referrals() -> Iterator[str]:
    """Each referred order's promoter entries are what its commission and refunds say:
    posted ``C`` when paid, ``round_half_up(C × refunded / total)`` of it given back
    (:func:`core.money.prorate`, in SQL), the rest pending until the order completes,
    available after; and no promoter entries for an order nobody referred. Two queries
    that return only the orders in breach."""
    commission, refunded, total = F("commission"), F("order__refunded_amount"), F("order__total")
    kept = ExpressionWrapper(
        commission - (2 * commission * refunded + total) / (2 * total), output_field=BigIntegerField()
    )
    settled = Q(order__completed_at__isnull=False)
    bad = (
        OrderReferral.objects.annotate(
            accrued=_sum(JournalEntry.objects.filter(reference__endswith=":accrued")),
            pending=_net("pending"),
            available=_net("available"),
            kept=kept,
        )
        .annotate(
            want_pending=Case(
                When(settled, then=Value(0)), default=F("kept"), output_field=BigIntegerField()
            ),
            want_available=Case(
                When(settled, then=F("kept")), default=Value(0), output_field=BigIntegerField()
            ),
        )
        .exclude(accrued=F("commission"), pending=F("want_pending"), available=F("want_available"))
        .values("order__order_no", "promoter_id", "commission", "accrued", "pending", "available", "kept")
    )
    for row in bad[:100]:
        yield (
            f"order {row['order__order_no']} (promoter {row['promoter_id']}): "
            f"accrued {row['accrued']} of {row['commission']}, pending {row['pending']}, "
            f"available {row['available']}; keeps {row['kept']}"
        )
    orphans = JournalEntry.objects.filter(kind=JournalEntry.Kind.PROMOTER, order__referral__isnull=True)
    for order_id in orphans.values_list("order_id", flat=True).distinct()[:100]:
        yield f"promoter entries of order {order_id}, which no promoter referred"


@register
def referrals_match_their_orders() -> Iterator[str]:
    """An order names a promoter (``Order.promoter_id``) exactly when a referral row does,
    and the same one. Two queries that return only the orders in breach."""
    mismatched = (
        OrderReferral.objects.exclude(order__promoter_id=F("promoter_id"))
        .values_list("order__order_no", "promoter_id", "order__promoter_id")
        .order_by("order_id")
    )
    for order_no, promoter_id, on_order in mismatched[:100]:
        yield f"order {order_no}: referred by promoter {promoter_id}, the order says {on_order}"
    unrecorded = Order.objects.filter(promoter_id__isnull=False, referral__isnull=True)
    for order_no, promoter_id in unrecorded.values_list("order_no", "promoter_id").order_by("pk")[:100]:
        yield f"order {order_no} names promoter {promoter_id} but has no referral"


@register
def promoter_entries_carry_their_merchant() -> Iterator[str]:
    """A promoter account is only ever moved on entries of the promoter's own merchant."""
    merchant_of = dict(Promoter.objects.values_list("pk", "merchant_id"))
    for side in ("debit_account", "credit_account"):
        pairs = (
            JournalEntry.objects.filter(**{f"{side}__startswith": "promoter:"})
            .values_list(side, "merchant_id")
            .distinct()
        )
        for account, merchant_id in pairs:
            promoter_id = int(account.split(":")[1])
            if merchant_of.get(promoter_id) != merchant_id:
                yield f"{account} on an entry of merchant {merchant_id}"
