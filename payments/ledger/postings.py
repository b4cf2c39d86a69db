"""Postings: each business event as balanced ``(debit, credit, amount, memo)`` legs, written
through one :func:`_post` (or one row, for one-off postings with a unique reference).
The rounding rules are in :mod:`payments.ledger`'s docstring."""

import uuid
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Sum

from core.db import db_insert_rows
from core.money import prorate
from promotions.services import discount_reversed

from ..models import JournalEntry
from .accounts import (
    PLATFORM_COMMISSION,
    PLATFORM_GATEWAY_FEES,
    PLATFORM_PROMOTIONS,
    POINTS_EXPENSE,
    POINTS_LIABILITY,
    UNAPPLIED_RECEIPTS,
    gateway_clearing,
    merchant_account_for,
    merchant_available,
    merchant_pending,
)
from .balances import order_pending_balance, payment_commission


def commission_for(total: int, rate: Decimal) -> int:
    if total < 0 or not Decimal(0) <= rate <= Decimal(1):
        raise ValueError("total must be >= 0 and rate within [0, 1]")
    return int((Decimal(total) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def post_payment_received(*, payment, order, merchant, at) -> None:
    """A payment applied to its order: the merchant's share is pending, the rest is ours.

    With a platform coupon (``order.platform_discount``) or points (``order.points_discount``)
    the split is of the price before them, and they come from ``platform:promotions`` and
    ``platform:points_liability`` (see the coupon and points rules in :mod:`payments.ledger`).
    """
    sources = [(PLATFORM_PROMOTIONS, "platform coupon", order.platform_discount)]
    sources.append((POINTS_LIABILITY, "points", order.points_discount))
    price = payment.amount + sum(amount for _, _, amount in sources)
    commission = commission_for(price, merchant.effective_commission_rate)
    share = price - commission
    clearing = gateway_clearing(payment.channel)
    funded_legs = []
    for account, what, amount in sources:
        # Each platform source fills the merchant's share first, then the commission.
        to_merchant = min(amount, share)
        share -= to_merchant
        commission -= amount - to_merchant
        funded_legs += [
            (account, merchant_pending(merchant.pk), to_merchant, f"{what}: merchant share"),
            (account, PLATFORM_COMMISSION, amount - to_merchant, f"{what}: commission"),
        ]
    legs = [
        (clearing, merchant_pending(merchant.pk), share, "merchant share"),
        (clearing, PLATFORM_COMMISSION, commission, "platform commission"),
        *funded_legs,
    ]
    return _post(
        kind=JournalEntry.Kind.PAYMENT,
        legs=legs,
        payment=payment,
        order=order,
        merchant_id=merchant.pk,
        at=at,
    )


def post_payment_unapplied(*, payment, order, at) -> None:
    """Money received that no order can take: held as owed back until refunded."""
    memo = payment.flag or "unapplied payment"
    legs = [(gateway_clearing(payment.channel), UNAPPLIED_RECEIPTS, payment.amount, memo)]
    return _post(
        kind=JournalEntry.Kind.UNAPPLIED, legs=legs, payment=payment, order=order, merchant_id=None, at=at
    )


def commission_reversed(*, commission: int, amount: int, refunded: int) -> int:
    """How much of a payment's ``commission`` is reversed once ``refunded`` of its
    ``amount`` has been refunded: ``round_half_up(commission × refunded / amount)``,
    in integers (no float, no Decimal)."""
    if not (0 <= refunded <= amount and 0 <= commission <= amount and amount > 0):
        raise ValueError("need 0 <= refunded <= amount, 0 <= commission <= amount, amount > 0")
    return prorate(commission, refunded, amount)


def refund_split(*, commission: int, amount: int, refunded_before: int, refund: int) -> tuple[int, int]:
    """(merchant share, commission share) of a refund of ``refund`` fen, when
    ``refunded_before`` had already been refunded of the payment. They add up to the
    refund, and neither is negative."""
    commission_part = commission_reversed(
        commission=commission, amount=amount, refunded=refunded_before + refund
    ) - commission_reversed(commission=commission, amount=amount, refunded=refunded_before)
    return refund - commission_part, commission_part


def post_refund(*, refund, payment, order, refunded_before: int, at) -> None:
    """A refund left the gateway: take the refunded share back from the merchant and
    from the platform's commission, in proportion (see the rounding rule in :mod:`payments.ledger`).

    The merchant's part is taken from its pending account while the order is inside
    its refund window, and charged back to its available balance once the order is
    settled (which may leave that balance negative: a debt, shown as such).
    """
    if order.platform_discount or order.points_discount:
        legs = _platform_coupon_refund_legs(
            refund=refund, payment=payment, order=order, refunded_before=refunded_before
        )
    else:
        merchant_part, commission_part = refund_split(
            commission=payment_commission(payment),
            amount=payment.amount,
            refunded_before=refunded_before,
            refund=refund.amount,
        )
        clearing, memo = gateway_clearing(payment.channel), f"refund {refund.refund_no}"
        legs = [
            (merchant_account_for(order), clearing, merchant_part, f"{memo}: merchant share"),
            (PLATFORM_COMMISSION, clearing, commission_part, f"{memo}: platform commission"),
        ]
    return _post(
        kind=JournalEntry.Kind.REFUND,
        legs=legs,
        payment=payment,
        order=order,
        merchant_id=order.merchant_id,
        refund=refund,
        at=at,
    )


def _platform_coupon_refund_legs(*, refund, payment, order, refunded_before: int) -> list[tuple]:
    """A refund of an order a platform coupon or points paid part of: the clearing legs
    reversed by the commission rule, and each platform source's share of the refund
    taken back from the merchant and the commission, in the proportion the payment's
    legs of that source gave them, to that source's account: the coupon's by
    :func:`discount_reversed` in fen, the points' in whole points
    (``promotions.points.points_returned``: the points that come back to the learner)
    times what a point was worth on this order. Cumulative, so no fen is created or
    lost. One query (the payment's legs)."""
    sources = {PLATFORM_PROMOTIONS: [0, 0], POINTS_LIABILITY: [0, 0]}  # account: [merchant, commission]
    cash_commission = 0
    rows = (
        JournalEntry.objects.filter(payment=payment, kind=JournalEntry.Kind.PAYMENT)
        .values("debit_account", "credit_account")
        .annotate(total=Sum("amount"))
    )
    for row in rows:
        source = sources.get(row["debit_account"])
        if source is not None:
            source[row["credit_account"] == PLATFORM_COMMISSION] += row["total"]
        elif row["credit_account"] == PLATFORM_COMMISSION:
            cash_commission += row["total"]
    merchant_part, commission_part = refund_split(
        commission=cash_commission,
        amount=payment.amount,
        refunded_before=refunded_before,
        refund=refund.amount,
    )
    clearing = gateway_clearing(payment.channel)
    merchant = merchant_account_for(order)
    no = refund.refund_no
    legs = [
        (merchant, clearing, merchant_part, f"refund {no}: merchant share"),
        (PLATFORM_COMMISSION, clearing, commission_part, f"refund {no}: platform commission"),
    ]
    refunded_after = refunded_before + refund.amount
    for account, (to_merchant, to_commission) in sources.items():
        funded = to_merchant + to_commission
        if not funded:
            continue
        if account == POINTS_LIABILITY:
            per_point = funded // order.points_used
            units = order.points_used
            what = "points"
        else:
            per_point, units, what = 1, funded, "platform coupon"
        before = discount_reversed(discount=units, refunded=refunded_before, paid=payment.amount) * per_point
        after = discount_reversed(discount=units, refunded=refunded_after, paid=payment.amount) * per_point
        back_merchant, back_commission = refund_split(
            commission=to_commission, amount=funded, refunded_before=before, refund=after - before
        )
        legs += [
            (merchant, account, back_merchant, f"refund {no}: {what}, merchant share"),
            (PLATFORM_COMMISSION, account, back_commission, f"refund {no}: {what}, commission"),
        ]
    return legs


def post_points(*, kind: str, value: int, learner_id: int, order_id, at) -> JournalEntry | None:
    """Points moved outside a payment or refund (``promotions.signals.points_booked``):
    earned or granted (``value`` > 0: points expense → liability), deducted, expired or
    clawed back (< 0: back the other way). One row."""
    if value == 0:
        return None
    debit, credit = (POINTS_EXPENSE, POINTS_LIABILITY) if value > 0 else (POINTS_LIABILITY, POINTS_EXPENSE)
    return JournalEntry.objects.create(
        kind=JournalEntry.Kind.POINTS,
        debit_account=debit,
        credit_account=credit,
        amount=abs(value),
        order_id=order_id,
        memo=f"points {kind}: learner {learner_id}",
        created_at=at,
    )


def post_unapplied_refund(*, refund, payment, at) -> None:
    """An unapplied payment went back to its payer: what was held as owed back leaves
    clearing. No merchant or commission is involved: none was ever credited."""
    memo = f"refund {refund.refund_no}: unapplied payment returned to the payer"
    legs = [(UNAPPLIED_RECEIPTS, gateway_clearing(payment.channel), refund.amount, memo)]
    return _post(
        kind=JournalEntry.Kind.REFUND,
        legs=legs,
        payment=payment,
        order=payment.order,
        merchant_id=None,
        refund=refund,
        at=at,
    )


def post_order_settled(*, order, at) -> JournalEntry | None:
    """The order's refund window ended ("receipt confirmed"): what the merchant has
    pending for it becomes available. Posted once per order (the order number is the
    entry's reference), after the order is marked completed."""
    net = order_pending_balance(order)
    if net == 0:
        return None
    pending, available = merchant_pending(order.merchant_id), merchant_available(order.merchant_id)
    debit, credit = (pending, available) if net > 0 else (available, pending)
    return JournalEntry.objects.create(
        kind=JournalEntry.Kind.SETTLEMENT,
        debit_account=debit,
        credit_account=credit,
        amount=abs(net),
        currency=order.currency,
        merchant_id=order.merchant_id,
        order=order,
        reference=order.order_no,
        memo=f"order {order.order_no} settled",
        created_at=at,
    )


def fee_memo(amount: int, note: str = "") -> str:
    what = "gateway fee" if amount > 0 else "gateway fee returned"
    return f"{what}: {note}" if note else what


def gateway_fee_entry(*, payment, amount: int, reference: str, at, refund_id=None, memo="") -> JournalEntry:
    """The (unsaved) entry of a gateway fee read from its bill: ``amount`` fen taken
    out of clearing (a negative amount is a fee given back, as on a refund). The
    merchant of the order bears it, from pending or available like a refund; the
    platform bears the fee of money no order took (an unapplied payment). ``payment``
    comes with its order loaded.

    ``payments.ledger.bulk.post_gateway_fees`` posts the same entries in SQL, a
    million at a time (tests hold the two together).
    """
    order = payment.order
    applied = payment.status != payment.Status.UNAPPLIED
    bearer = merchant_account_for(order) if applied else PLATFORM_GATEWAY_FEES
    clearing = gateway_clearing(payment.channel)
    debit, credit = (bearer, clearing) if amount > 0 else (clearing, bearer)
    return JournalEntry(
        kind=JournalEntry.Kind.FEE,
        debit_account=debit,
        credit_account=credit,
        amount=abs(amount),
        currency=payment.currency,
        merchant_id=order.merchant_id if applied else None,
        order_id=payment.order_id,
        payment_id=payment.pk,
        refund_id=refund_id,
        reference=reference,
        memo=memo or fee_memo(amount),
        created_at=at,
    )


def post_gateway_fee(
    *, payment, amount: int, reference: str, at, refund=None, memo=""
) -> JournalEntry | None:
    """Post one gateway fee (see :func:`gateway_fee_entry`). ``reference`` names the
    bill line (e.g. ``wechatpay:<transaction id>``): a fee is recorded once, however
    often its bill is reconciled (the database refuses a second entry with the same
    reference). Returns None for a zero fee."""
    if amount == 0:
        return None
    entry = gateway_fee_entry(
        payment=payment,
        amount=amount,
        reference=reference,
        at=at,
        refund_id=refund.pk if refund is not None else None,
        memo=memo,
    )
    entry.save()
    return entry


def post_payout(*, payout, stage: str, at) -> JournalEntry:
    """A merchant's withdrawal (提现) through its stages, each posted once:

    * ``requested``: available → payouts (the money is set aside at once, so two
      requests can never both spend it);
    * ``returned``: payouts → available (rejected, or the transfer failed);
    * ``paid``: payouts → paid_out (transferred, with the bank's reference).

    A payout with a ``payee`` (``promoter:<id>``) moves that owner's accounts instead.
    """
    merchant_id = payout.merchant_id
    owner = getattr(payout, "payee", "") or f"merchant:{merchant_id}"
    moves = {
        "requested": (JournalEntry.Kind.PAYOUT, "available", "payouts"),
        "returned": (JournalEntry.Kind.PAYOUT_RETURNED, "payouts", "available"),
        "paid": (JournalEntry.Kind.PAYOUT_PAID, "payouts", "paid_out"),
    }
    kind, source, target = moves[stage]
    return JournalEntry.objects.create(
        kind=kind,
        debit_account=f"{owner}:{source}",
        credit_account=f"{owner}:{target}",
        amount=payout.amount,
        currency=payout.currency,
        merchant_id=merchant_id,
        reference=f"{payout.payout_no}:{stage}",
        memo=f"payout {payout.payout_no} {stage}",
        created_at=at,
    )


def _post(*, kind, legs, payment, order, merchant_id, at, refund=None) -> None:
    """One business event: its ``(debit, credit, amount, memo)`` legs under one posting
    id, in one INSERT. Zero legs are left out (every row moves a positive amount). The
    rows go as values (``core.db.db_insert_rows``), with the caller's other writes if it
    batches them: they are only written, and an instance per leg cost more than its values."""
    posting_id = uuid.uuid4()
    rows = [
        {
            "posting_id": posting_id,
            "kind": kind,
            "debit_account": debit,
            "credit_account": credit,
            "amount": amount,
            "currency": payment.currency,
            "merchant_id": merchant_id,
            "order_id": order.pk if order is not None else None,
            "payment_id": payment.pk,
            "refund_id": refund.pk if refund is not None else None,
            "memo": memo,
            "created_at": at,
        }
        for debit, credit, amount, memo in legs
        if amount > 0
    ]
    db_insert_rows(JournalEntry, rows)
