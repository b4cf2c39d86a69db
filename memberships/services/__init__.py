"""Every write to memberships, by sub-domain: ``purchase`` (plans bought through the
checkout), ``periods`` (periods granted on delivery and ended by refunds), ``refunds``
(staff refunding a period: in full in the window, pro rata after it); automatic renewal:
``agreements`` (turning it on and off, what gateways say of agreements), ``renewal`` (the
beat task: notices, charges, dunning, lapse) and ``renewal_mail``."""

from .agreements import (
    agreement_end,
    agreement_end_unwanted,
    agreement_notification_handle,
    agreement_sync_if_due,
    renewal_turn_off,
    renewal_turn_on,
)
from .renewal import renewal_advance, renewal_plan, renewals_run

__all__ = [
    "agreement_end",
    "agreement_end_unwanted",
    "agreement_notification_handle",
    "agreement_sync_if_due",
    "renewal_advance",
    "renewal_plan",
    "renewal_turn_off",
    "renewal_turn_on",
    "renewals_run",
]
