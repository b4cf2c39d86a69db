"""The journal's account names, built by code (see :mod:`payments.ledger` for what each holds)."""


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
PLATFORM_PROMOTIONS = "platform:promotions"  # platform-funded coupons: an expense
POINTS_LIABILITY = "platform:points_liability"  # points learners hold (negative: owed)
POINTS_EXPENSE = "platform:points_expense"  # points given (earned, granted) less taken back
# Every account name the journal may hold (``payments.ledger.checks`` refuses any other).
ACCOUNT_PATTERN = (
    r"^(gateway_clearing:[a-z0-9_]+"
    r"|merchant:[0-9]+:(pending|available|payouts|paid_out)"
    r"|promoter:[0-9]+:(pending|available|payouts|paid_out)"  # the promoters app's
    r"|platform:(commission|gateway_fees|unapplied_receipts|promotions|points_liability|points_expense))$"
)


def merchant_account_for(order) -> str:
    """Where the merchant's money for ``order`` is: pending until the order is settled
    (completed), available afterwards. Refunds and fees are charged there."""
    if order.completed_at is not None:
        return merchant_available(order.merchant_id)
    return merchant_pending(order.merchant_id)
