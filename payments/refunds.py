"""Old path of the refund services, kept until riskcontrol, reconciliation and their tests
import ``payments.services`` (or its modules) instead. Nothing else lives here."""

from .services.refund_gateway import (
    refund_notification_apply,
    refund_process,
    refund_sync,
    refunds_sync_pending,
)
from .services.refunds import (
    refund_approve,
    refund_deny,
    refund_issue,
    refund_issue_for_risk,
    refund_request,
    refund_retry,
)
from .services.unapplied import refund_unapplied, unapplied_returnable

__all__ = [
    "refund_approve",
    "refund_deny",
    "refund_issue",
    "refund_issue_for_risk",
    "refund_notification_apply",
    "refund_process",
    "refund_request",
    "refund_retry",
    "refund_sync",
    "refund_unapplied",
    "refunds_sync_pending",
    "unapplied_returnable",
]
