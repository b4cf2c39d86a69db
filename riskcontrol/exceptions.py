"""Errors of risk control's services."""

from django.utils.translation import gettext_lazy as _

from core.errors import KpayError


class ReviewNotAllowed(KpayError):
    code = "risk_review_not_allowed"
    message = _("Only risk staff decide orders held for review.")
    http_status = 403
