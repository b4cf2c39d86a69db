"""Every write to payments, by sub-domain: :mod:`.payments` (starting, capturing, syncing and
closing payments), :mod:`.notifications` (applying what gateways notify), :mod:`.refunds`
(asking for, issuing and deciding refunds), :mod:`.refund_gateway` (sending refunds and
settling them on the gateway's word), :mod:`.unapplied` (returning money no order took),
:mod:`.flags` (telling staff a payment needs a look), :mod:`.refund_mail` and
:mod:`.withholding` (charging an order under a withholding agreement: automatic renewal).

The names below are the package's API: callers import them from ``payments.services``.
Services never import ``payments.tasks``: they enqueue a task by its name after commit
(``core.tasks.enqueue_on_commit``).
"""

from .flags import merchant_ids_mismatch, payment_flag
from .notifications import payment_notification_handle
from .payments import (
    is_withholding_payment,
    order_payments_close,
    payment_close,
    payment_close_at_gateway,
    payment_start,
    payment_status_apply,
    payment_sync,
    payment_sync_if_due,
    payments_close_stale,
    payments_sync_pending,
)
from .refund_gateway import refund_notification_apply, refund_process, refund_sync, refunds_sync_pending
from .refunds import (
    refund_approval_threshold,
    refund_approve,
    refund_deny,
    refund_issue,
    refund_issue_for_risk,
    refund_issue_for_risk_review,
    refund_needs_two_approvals,
    refund_request,
    refund_retry,
)
from .unapplied import refund_unapplied, unapplied_returnable
from .withholding import (
    ChargeOutcome,
    withholding_charge_send,
    withholding_charge_start,
    withholding_gateway,
    withholding_payment_prepare,
)

__all__ = [
    "ChargeOutcome",
    "is_withholding_payment",
    "merchant_ids_mismatch",
    "order_payments_close",
    "payment_close",
    "payment_close_at_gateway",
    "payment_flag",
    "payment_notification_handle",
    "payment_start",
    "payment_status_apply",
    "payment_sync",
    "payment_sync_if_due",
    "payments_close_stale",
    "payments_sync_pending",
    "refund_approval_threshold",
    "refund_approve",
    "refund_deny",
    "refund_issue",
    "refund_issue_for_risk",
    "refund_issue_for_risk_review",
    "refund_needs_two_approvals",
    "refund_notification_apply",
    "refund_process",
    "refund_request",
    "refund_retry",
    "refund_sync",
    "refund_unapplied",
    "refunds_sync_pending",
    "unapplied_returnable",
    "withholding_charge_send",
    "withholding_charge_start",
    "withholding_gateway",
    "withholding_payment_prepare",
]
