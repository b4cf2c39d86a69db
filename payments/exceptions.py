"""Payment errors. Gateways raise only these; messages may be shown to learners."""

from django.utils.translation import gettext_lazy as _

from core.errors import KpayError


class PaymentError(KpayError):
    code = "payment_error"
    message = _("The payment could not be processed.")


class GatewayNotConfigured(PaymentError):
    code = "gateway_not_configured"
    message = _("This payment method is not available.")
    http_status = 503


class ChannelUnavailable(PaymentError):
    code = "channel_unavailable"
    message = _("This payment method is not available.")


class OrderNotPayable(PaymentError):
    code = "order_not_payable"
    message = _("This order cannot be paid any more.")
    http_status = 409


class GatewayError(PaymentError):
    """The gateway failed us."""

    code = "gateway_error"


class GatewayUnavailable(GatewayError):
    """Timeout, connection error or 5xx: the outcome at the gateway is unknown."""

    code = "gateway_unavailable"
    message = _("The payment service is not answering. Please try again in a moment.")
    http_status = 503


class GatewayRejected(GatewayError):
    """A definite business refusal (4xx) from the gateway."""

    code = "gateway_rejected"
    message = _("The payment service refused the request.")
    http_status = 502

    def __init__(self, message=None, *, code=None, gateway_code: str = ""):
        super().__init__(message, code=code)
        self.gateway_code = gateway_code


class TradeNotFound(GatewayRejected):
    code = "trade_not_found"


class TradeAlreadyPaid(GatewayRejected):
    code = "trade_already_paid"


class InvalidResponse(GatewayError):
    """The gateway's answer failed verification: treat the outcome as unknown."""

    code = "gateway_invalid_response"
    message = _("The payment service gave an answer we could not verify.")
    http_status = 502


class InvalidNotification(PaymentError):
    """A notification failed verification (signature, timestamp, format)."""

    code = "invalid_notification"
    message = "invalid notification"


class UnknownTrade(PaymentError):
    code = "unknown_trade"
    message = "unknown trade number"
    http_status = 404


# -- refunds ----------------------------------------------------------------------
class RefundError(PaymentError):
    code = "refund_error"
    message = _("The refund could not be made.")
    http_status = 409


class RefundNotFound(RefundError):
    code = "refund_not_found"
    message = _("No such refund.")
    http_status = 404


class OrderNotRefundable(RefundError):
    code = "order_not_refundable"
    message = _("This order has not been paid, or has been refunded already: it cannot be refunded.")


class RefundWindowClosed(RefundError):
    code = "refund_window_closed"
    message = _("The time for asking for a refund of this order has passed. Please contact support.")


class InvalidRefundAmount(RefundError):
    code = "invalid_refund_amount"
    message = _("The refund amount must be more than zero and no more than what is left to refund.")
    http_status = 400


class RefundExceedsPaid(RefundError):
    code = "refund_exceeds_paid"
    message = _(
        "That is more than can be refunded: the order's payment, minus what is refunded "
        "or being refunded already."
    )


class RefundReasonRequired(RefundError):
    code = "refund_reason_required"
    message = _("Please say why the refund is made.")
    http_status = 400


class RefundNotAllowed(RefundError):
    code = "refund_not_allowed"
    message = _("You are not allowed to do this with refunds.")
    http_status = 403


class RefundStateConflict(RefundError):
    code = "refund_state_conflict"
    message = _("The refund has changed in the meantime; it cannot take this step now.")


class SecondApproverRequired(RefundError):
    code = "refund_second_approver_required"
    message = _("This refund is above the approval threshold: a different staff member must approve it too.")
    http_status = 403


class PaymentNotFound(RefundError):
    code = "payment_not_found"
    message = _("No such payment.")
    http_status = 404


class PaymentNotUnapplied(RefundError):
    code = "payment_not_unapplied"
    message = _(
        "Only a payment its order could not take (received for nothing) can be returned "
        "to its payer this way; refund an order's own payment from the order."
    )


class UnappliedAlreadyReturned(RefundError):
    code = "unapplied_already_returned"
    message = _("This payment has been returned to its payer already, or its return is under way.")


class WeChatAuthFailed(PaymentError):
    """WeChat's web authorisation (the learner's openid, for WeChat Pay inside WeChat)
    did not give an openid; the pay page offers the other ways."""

    code = "wechat_auth_failed"
    message = _(
        "WeChat could not confirm your WeChat account, so WeChat Pay cannot be offered here. "
        "You can try again, or pay another way."
    )


class WeChatAuthNotConfigured(WeChatAuthFailed):
    code = "wechat_auth_not_configured"
    message = _(
        "WeChat Pay inside WeChat is not available on this site yet. To pay with WeChat Pay, "
        "open this page in your browser (··· at the top right), or pay another way."
    )


class WeChatAuthRefused(WeChatAuthFailed):
    code = "wechat_auth_refused"
    message = _(
        "WeChat did not share your WeChat account with this site, so WeChat Pay cannot be offered "
        "here. You can try again, or pay another way."
    )


class WeChatAuthExpired(WeChatAuthFailed):
    """The state did not match this session, or WeChat's one-time code was used or unknown."""

    code = "wechat_auth_expired"
    message = _(
        "That WeChat sign-in link has expired or was already used. You can try again, or pay another way."
    )


class WeChatAuthUnavailable(WeChatAuthFailed):
    code = "wechat_auth_unavailable"
    message = _("WeChat is not answering. Please try again in a moment, or pay another way.")


class WeChatAuthSnapshotPage(WeChatAuthFailed):
    code = "wechat_auth_snapshot_page"
    message = _(
        "This page is open as a preview: tap the bottom of the screen to open it fully, then pay "
        "with WeChat Pay."
    )
