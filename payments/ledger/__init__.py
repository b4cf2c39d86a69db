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
* ``platform:promotions``: what platform-funded coupons cost, net of refunds (an
  expense: debited when a payment is applied, credited back by refunds).

Coupons (``promotions``): a **merchant's** coupon lowers the price and nothing else: the
payment is split as usual, so the merchant bears the whole discount and is commissioned
on what the learner paid. A **platform** coupon is a platform expense: the merchant is
paid, and commissioned, on the undiscounted price ``S = paid + D``; the posting takes
``D`` from ``platform:promotions`` and the rest from clearing (the discount fills the
merchant's share first, then the commission, so every leg is ≥ 0). A refund of a
platform-coupon order reverses the clearing legs by the commission rule below and,
separately, ``round_half_up(D × refunded / paid)`` of the discount (cumulative, like the
commission: ``promotions.services.discount_reversed``) from the promotion legs, in their
own proportion, back to ``platform:promotions``.

Points (积分, ``promotions.points``): a point is worth ``100 // KPAY_POINTS_PER_YUAN_VALUE``
fen. ``platform:points_liability`` is what the platform owes learners in points (its
balance is minus the value of every lot's ``remaining``, debts included, plus the points
unpaid orders reserve); ``platform:points_expense`` what points cost. Earned or granted:
expense → liability; deducted, expired, clawed back: liability → expense (kind
``points``, one row). Spent: the order's ``points_discount`` pays part of the price like a
platform coupon (the merchant is paid, and commissioned, on the price before points;
coupon legs fill the merchant's share first, then points'), from the liability. A
refund gives back ``round_half_up(points_used × refunded / paid)`` points (cumulative)
and takes their value from the merchant and commission, in the proportion the points
legs gave them, back into the liability.

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

from .accounts import (
    ACCOUNT_PATTERN,
    MERCHANT_ACCOUNT_KINDS,
    PLATFORM_COMMISSION,
    PLATFORM_GATEWAY_FEES,
    PLATFORM_PROMOTIONS,
    POINTS_EXPENSE,
    POINTS_LIABILITY,
    UNAPPLIED_RECEIPTS,
    gateway_clearing,
    merchant_account_for,
    merchant_available,
    merchant_paid_out,
    merchant_payouts,
    merchant_pending,
)
from .balances import (
    account_balances,
    merchant_available_balance,
    order_pending_balance,
    payment_commission,
)
from .postings import (
    commission_for,
    commission_reversed,
    fee_memo,
    gateway_fee_entry,
    post_gateway_fee,
    post_order_settled,
    post_payment_received,
    post_payment_unapplied,
    post_payout,
    post_points,
    post_refund,
    post_unapplied_refund,
    refund_split,
)
from .summaries import balances_now, merchant_balances

__all__ = [
    "ACCOUNT_PATTERN",
    "MERCHANT_ACCOUNT_KINDS",
    "PLATFORM_COMMISSION",
    "PLATFORM_GATEWAY_FEES",
    "PLATFORM_PROMOTIONS",
    "POINTS_EXPENSE",
    "POINTS_LIABILITY",
    "UNAPPLIED_RECEIPTS",
    "account_balances",
    "balances_now",
    "commission_for",
    "commission_reversed",
    "fee_memo",
    "gateway_clearing",
    "gateway_fee_entry",
    "merchant_account_for",
    "merchant_available",
    "merchant_available_balance",
    "merchant_balances",
    "merchant_paid_out",
    "merchant_payouts",
    "merchant_pending",
    "order_pending_balance",
    "payment_commission",
    "post_gateway_fee",
    "post_order_settled",
    "post_payment_received",
    "post_payment_unapplied",
    "post_payout",
    "post_points",
    "post_refund",
    "post_unapplied_refund",
    "refund_split",
]
