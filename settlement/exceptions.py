"""Settlement and payout errors. Their messages may be shown to the staff who caused them."""

from django.utils.translation import gettext_lazy as _

from core.errors import KpayError


class SettlementError(KpayError):
    code = "settlement_error"


class StatementPeriodInvalid(SettlementError):
    code = "statement_period_invalid"
    message = _("A statement period must start on or before the day it ends.")


class StatementPeriodOpen(SettlementError):
    code = "statement_period_open"
    message = _("A statement can only be made for a period that is over.")


class StatementPeriodOverlaps(SettlementError):
    code = "statement_period_overlaps"
    message = _("This period overlaps a statement that already exists for another period.")
    http_status = 409


class PayoutError(SettlementError):
    code = "payout_error"


class PayoutNotAllowed(PayoutError):
    code = "payout_not_allowed"
    message = _("You are not allowed to do this with payouts.")
    http_status = 403


class PayoutNotFound(PayoutError):
    code = "payout_not_found"
    message = _("No such payout.")
    http_status = 404


class InvalidPayoutAmount(PayoutError):
    code = "invalid_payout_amount"
    message = _("A payout is a whole number of fen above zero.")


class PayoutBelowMinimum(PayoutError):
    code = "payout_below_minimum"
    message = _("This amount is below the minimum payout.")


class PayoutAboveMaximum(PayoutError):
    code = "payout_above_maximum"
    message = _("This amount is above the maximum payout.")


class InsufficientBalance(PayoutError):
    code = "insufficient_balance"
    message = _("The available balance is not enough for this payout.")
    http_status = 409


class PayoutStateConflict(PayoutError):
    code = "payout_state_conflict"
    message = _("The payout has changed in the meantime; please reload it.")
    http_status = 409


class DecisionNoteRequired(PayoutError):
    code = "decision_note_required"
    message = _("Please say why.")


class TransferReferenceRequired(PayoutError):
    code = "transfer_reference_required"
    message = _("Enter the bank transfer reference to mark the payout paid.")


class TransferReferenceUsed(PayoutError):
    code = "transfer_reference_used"
    message = _("This transfer reference is already recorded for another payout.")
    http_status = 409


class PayoutSecondUserRequired(PayoutError):
    code = "payout_second_user_required"
    message = _("You approved this payout: a different finance user must mark it paid.")
    http_status = 403
