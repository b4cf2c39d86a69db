"""Promoter errors. Their messages may be shown to the learner or staff who caused them."""

from django.utils.translation import gettext_lazy as _

from core.errors import KpayError


class PromoterError(KpayError):
    code = "promoter_error"


class ProgrammeNotOpen(PromoterError):
    code = "programme_not_open"
    message = _("This merchant has no promoter programme open to applications.")
    http_status = 404


class AlreadyApplied(PromoterError):
    code = "promoter_already_applied"
    message = _("You have already applied to this programme.")
    http_status = 409


class PromoterNotFound(PromoterError):
    code = "promoter_not_found"
    message = _("No such promoter.")
    http_status = 404


class PromoterNotAllowed(PromoterError):
    code = "promoter_not_allowed"
    message = _("You are not allowed to do this with promoters.")
    http_status = 403


class PromoterStateConflict(PromoterError):
    code = "promoter_state_conflict"
    message = _("This application has already been decided.")
    http_status = 409


class CourseNotPromoted(PromoterError):
    code = "course_not_promoted"
    message = _("This course is not part of the merchant's promoter programme.")
    http_status = 400


class PromoterNotApproved(PromoterError):
    code = "promoter_not_approved"
    message = _("Your application has not been approved yet: there is no commission to withdraw.")
    http_status = 403


class WithdrawalInProgress(PromoterError):
    code = "promoter_withdrawal_in_progress"
    message = _("This withdrawal is already being requested; please reload the page in a moment.")
    http_status = 409
