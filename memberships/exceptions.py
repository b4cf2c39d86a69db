"""Membership errors; messages may be shown to learners."""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.errors import KpayError


class MembershipError(KpayError):
    code = "membership_error"
    message = pgettext_lazy("renewal", "This membership cannot be changed like that.")


class MembershipNotFound(MembershipError):
    code = "membership_not_found"
    message = pgettext_lazy("renewal", "No such membership.")
    http_status = 404


# -- automatic renewal ----------------------------------------------------------------
class RenewalNotOffered(MembershipError):
    code = "renewal_not_offered"
    message = _("This plan does not renew automatically.")
    http_status = 409


class MembershipNotActive(MembershipError):
    code = "membership_not_active"
    message = _("Automatic renewal can be turned on while the membership is running.")
    http_status = 409


class RenewalAmountAboveLimit(MembershipError):
    code = "renewal_amount_above_limit"
    message = _("This plan's price is above what this payment method may charge automatically.")
    http_status = 409


class RenewalTurningOff(MembershipError):
    code = "renewal_turning_off"
    message = _("Automatic renewal is being turned off; try again in a moment.")
    http_status = 409


class UnknownAgreement(MembershipError):
    """A gateway notification about an agreement kpay does not have."""

    code = "unknown_agreement"
    message = "unknown agreement"


class AgreementMismatch(MembershipError):
    """A verified agreement notification that is not about our account or agreement."""

    code = "agreement_mismatch"
    message = "does not match the agreement"


class PlanNotAvailable(MembershipError):
    code = "plan_not_available"
    message = _("This membership plan is not on sale.")
    http_status = 404


class PeriodNotFound(MembershipError):
    code = "membership_period_not_found"
    message = _("No such membership period.")
    http_status = 404


class PeriodNothingToRefund(MembershipError):
    code = "membership_period_nothing_to_refund"
    message = _("Nothing is left to refund for this period: its days are used up or already refunded.")
    http_status = 409
