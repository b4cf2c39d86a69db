"""The double-entry journal (交易流水): account names and postings.

Each :class:`~payments.models.JournalEntry` row moves an amount from one account to
another, so every row balances by construction. A business event posts one or more
rows under one ``posting_id`` with a single INSERT.

Commission rounding: ``commission = round_half_up(total × rate)`` in whole fen, and the
merchant gets ``total − commission``; the two always add up to the total, so no fen
is ever created or lost.

Accounts (balances are debits minus credits; what the platform owes is negative):

* ``gateway_clearing:<channel>``: money a gateway holds for us: payments in, refunds
  and its fees out.
* ``merchant:<id>:pending``: a merchant's share of orders inside the refund window.
* ``merchant:<id>:available``: settled and withdrawable; negative is the merchant's
  debt to the platform (a refund charged back after settlement).
* ``merchant:<id>:payouts``: withdrawals requested and not yet paid or rejected.
* ``merchant:<id>:paid_out``: what has been transferred to the merchant, in total.
  The platform's bank account is not modelled: clearing less what was paid out is
  what the platform still holds.
* ``platform:commission``: commission revenue, net of refunds.
* ``platform:gateway_fees``: gateway fees the platform bears (on money no merchant
  received; merchants bear the fees of their own orders).
* ``platform:unapplied_receipts``: received for nothing, owed back to the payer.

Refunds are not an account of their own: a refund posting (kind ``refund``) takes the
refunded amount back from the accounts the payment credited, in proportion, and out
of clearing, so "refunds" is the journal filtered by kind. Returning an unapplied
payment (kind ``refund`` too) takes it from ``platform:unapplied_receipts`` instead.

Refund rounding: a refund takes back the commission in proportion to what has been
refunded of the payment *in total*, with the commission the payment actually posted
(not today's rate): after refunds adding up to ``R`` of a payment ``A`` that posted a
commission ``C``, ``round_half_up(C × R / A)`` of the commission has been reversed.
Each refund reverses the difference between that figure after and before it, and the
merchant's share the rest of the refund. So every leg is ≥ 0, the reversals never add
up to more than the original legs, a full refund (in one go or in parts) reverses
them exactly, and each posting moves exactly the refunded amount out of clearing.
"""

import uuid
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q, Sum

from .models import JournalEntry


# -- account names ------------------------------------------------------------
def gateway_clearing(channel: str) -> str:
    """Money the gateway holds for us (received from payers, not yet in our bank)."""
    return f"gateway_clearing:{channel}"


def merchant_pending(merchant_id: int) -> str:
    """A merchant's share of orders still inside the refund window."""
    return f"merchant:{merchant_id}:pending"


def merchant_available(merchant_id: int) -> str:
    """Settled money the merchant may withdraw; negative is a debt to the platform."""
    return f"merchant:{merchant_id}:available"


def merchant_payouts(merchant_id: int) -> str:
    """Withdrawals requested and not yet paid (or rejected)."""
    return f"merchant:{merchant_id}:payouts"


def merchant_paid_out(merchant_id: int) -> str:
    """Everything transferred to the merchant."""
    return f"merchant:{merchant_id}:paid_out"


MERCHANT_ACCOUNT_KINDS = ("pending", "available", "payouts", "paid_out")
PLATFORM_COMMISSION = "platform:commission"
PLATFORM_GATEWAY_FEES = "platform:gateway_fees"
UNAPPLIED_RECEIPTS = "platform:unapplied_receipts"  # received for nothing: owed back
# Every account name the journal may hold (``ledger_check`` refuses any other).
ACCOUNT_PATTERN = (
    r"^(gateway_clearing:[a-z0-9_]+"
    r"|merchant:[0-9]+:(pending|available|payouts|paid_out)"
    r"|platform:(commission|gateway_fees|unapplied_receipts))$"
)


def merchant_account_for(order) -> str:
    """Where the merchant's money for ``order`` is: pending until the order is settled
    (completed), available afterwards. Refunds and fees are charged there."""
    if order.completed_at is not None:
        return merchant_available(order.merchant_id)
    return merchant_pending(order.merchant_id)


def commission_for(total: int, rate: Decimal) -> int:
    if total < 0 or not Decimal(0) <= rate <= Decimal(1):
        raise ValueError("total must be >= 0 and rate within [0, 1]")
    return int((Decimal(total) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def post_payment_received(*, payment, order, merchant, at) -> list[JournalEntry]:
    """A payment applied to its order: the merchant's share is pending, the rest is ours."""
    commission = commission_for(payment.amount, merchant.effective_commission_rate)
    clearing = gateway_clearing(payment.channel)
    legs = [
        (clearing, merchant_pending(merchant.pk), payment.amount - commission, "merchant share"),
        (clearing, PLATFORM_COMMISSION, commission, "platform commission"),
    ]
    return _post(
        kind=JournalEntry.Kind.PAYMENT,
        legs=legs,
        payment=payment,
        order=order,
        merchant_id=merchant.pk,
        at=at,
    )


def post_payment_unapplied(*, payment, order, at) -> list[JournalEntry]:
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
    return (2 * commission * refunded + amount) // (2 * amount)


def refund_split(*, commission: int, amount: int, refunded_before: int, refund: int) -> tuple[int, int]:
    """(merchant share, commission share) of a refund of ``refund`` fen, when
    ``refunded_before`` had already been refunded of the payment. They add up to the
    refund, and neither is negative."""
    commission_part = commission_reversed(
        commission=commission, amount=amount, refunded=refunded_before + refund
    ) - commission_reversed(commission=commission, amount=amount, refunded=refunded_before)
    return refund - commission_part, commission_part


def payment_commission(payment) -> int:
    """The commission the payment's own posting took (rates may have changed since)."""
    return (
        JournalEntry.objects.filter(
            payment=payment, kind=JournalEntry.Kind.PAYMENT, credit_account=PLATFORM_COMMISSION
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )


def post_refund(*, refund, payment, order, refunded_before: int, at) -> list[JournalEntry]:
    """A refund left the gateway: take the refunded share back from the merchant and
    from the platform's commission, in proportion (see the module's rounding rule).

    The merchant's part is taken from its pending account while the order is inside
    its refund window, and charged back to its available balance once the order is
    settled (which may leave that balance negative: a debt, shown as such).
    """
    merchant_part, commission_part = refund_split(
        commission=payment_commission(payment),
        amount=payment.amount,
        refunded_before=refunded_before,
        refund=refund.amount,
    )
    clearing = gateway_clearing(payment.channel)
    legs = [
        (merchant_account_for(order), clearing, merchant_part, f"refund {refund.refund_no}: merchant share"),
        (PLATFORM_COMMISSION, clearing, commission_part, f"refund {refund.refund_no}: platform commission"),
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


def post_unapplied_refund(*, refund, payment, at) -> list[JournalEntry]:
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


def order_pending_balance(order) -> int:
    """What the merchant has pending for ``order``: its share, less refunds and fees
    charged while the order was in its refund window."""
    account = merchant_pending(order.merchant_id)
    totals = JournalEntry.objects.filter(order=order).aggregate(
        credited=Sum("amount", filter=Q(credit_account=account)),
        debited=Sum("amount", filter=Q(debit_account=account)),
    )
    return (totals["credited"] or 0) - (totals["debited"] or 0)


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

    ``payments.ledger_bulk.post_gateway_fees`` posts the same entries in SQL, a
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
    """
    merchant_id = payout.merchant_id
    moves = {
        "requested": (JournalEntry.Kind.PAYOUT, merchant_available, merchant_payouts),
        "returned": (JournalEntry.Kind.PAYOUT_RETURNED, merchant_payouts, merchant_available),
        "paid": (JournalEntry.Kind.PAYOUT_PAID, merchant_payouts, merchant_paid_out),
    }
    kind, source, target = moves[stage]
    return JournalEntry.objects.create(
        kind=kind,
        debit_account=source(merchant_id),
        credit_account=target(merchant_id),
        amount=payout.amount,
        currency=payout.currency,
        merchant_id=merchant_id,
        reference=f"{payout.payout_no}:{stage}",
        memo=f"payout {payout.payout_no} {stage}",
        created_at=at,
    )


def merchant_balances(merchant_ids=None) -> dict[int, dict[str, int]]:
    """Each merchant's accounts as the merchant sees them (what it is owed, positive):
    ``{merchant_id: {"pending": …, "available": …, "payouts": …, "paid_out": …}}``.
    Two aggregate queries, however many merchants."""
    entries = JournalEntry.objects.filter(merchant__isnull=False)
    if merchant_ids is not None:
        entries = entries.filter(merchant_id__in=list(merchant_ids))
    result: dict[int, dict[str, int]] = {}
    for account, balance in account_balances(entries).items():
        parts = account.split(":")
        if parts[0] == "merchant":
            merchant_balance = result.setdefault(int(parts[1]), dict.fromkeys(MERCHANT_ACCOUNT_KINDS, 0))
            merchant_balance[parts[2]] = -balance
    if merchant_ids is not None:
        for merchant_id in merchant_ids:
            result.setdefault(merchant_id, dict.fromkeys(MERCHANT_ACCOUNT_KINDS, 0))
    return result


def merchant_available_balance(merchant_id: int) -> int:
    """What the merchant may withdraw now (negative: what it owes). One query; the
    caller locks the merchant first when it is about to spend it."""
    account = merchant_available(merchant_id)
    totals = JournalEntry.objects.filter(merchant_id=merchant_id).aggregate(
        credited=Sum("amount", filter=Q(credit_account=account)),
        debited=Sum("amount", filter=Q(debit_account=account)),
    )
    return (totals["credited"] or 0) - (totals["debited"] or 0)


def _post(*, kind, legs, payment, order, merchant_id, at, refund=None) -> list[JournalEntry]:
    """One business event: its ``(debit, credit, amount, memo)`` legs under one posting
    id, in one INSERT. Zero legs are left out (every row moves a positive amount)."""
    posting_id = uuid.uuid4()
    rows = [
        JournalEntry(
            posting_id=posting_id,
            kind=kind,
            debit_account=debit,
            credit_account=credit,
            amount=amount,
            currency=payment.currency,
            merchant_id=merchant_id,
            order=order,
            payment=payment,
            refund=refund,
            memo=memo,
            created_at=at,
        )
        for debit, credit, amount, memo in legs
        if amount > 0
    ]
    return JournalEntry.objects.bulk_create(rows)


def account_balances(queryset=None) -> dict[str, int]:
    """Balance of every account (debits minus credits) over ``queryset`` of entries.

    The balances of all accounts always sum to zero: every entry adds an amount to one
    account and takes it from another.
    """
    queryset = JournalEntry.objects.all() if queryset is None else queryset
    balances: dict[str, int] = defaultdict(int)
    for row in queryset.values("debit_account").annotate(total=Sum("amount")):
        balances[row["debit_account"]] += row["total"]
    for row in queryset.values("credit_account").annotate(total=Sum("amount")):
        balances[row["credit_account"]] -= row["total"]
    return dict(balances)
