"""Reconciliation errors; messages may be shown to back-office staff."""

from django.utils.translation import gettext_lazy as _

from core.errors import KpayError


class ReconciliationError(KpayError):
    code = "reconciliation_error"
    message = _("The bill could not be reconciled.")


class NoBills(ReconciliationError):
    code = "no_bills"
    message = _("This gateway has no bills to reconcile.")


class AlreadyRunning(ReconciliationError):
    code = "reconciliation_running"
    message = _("This bill is being reconciled right now; wait for that run to finish.")
    http_status = 409


class NoteRequired(ReconciliationError):
    code = "note_required"
    message = _("Say how the difference was resolved.")


class DifferenceNotOpen(ReconciliationError):
    code = "difference_not_open"
    message = _("This difference is not open any more.")
    http_status = 409
