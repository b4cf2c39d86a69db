"""The risk port: how orders and payments consult risk control without depending on it.

Risk control sits above orders and payments (its rules count their rows, and its review
decisions deliver or refund orders), yet both must ask it before taking money. So they
build a plain :class:`CheckoutContext` and call :func:`assess_checkout` /
:func:`assess_payment` here; the assessor behind them is a dotted path in settings
(``KPAY_RISK_ASSESSOR``, default ``riskcontrol.interface.assess``), resolved once and cached,
as Django resolves its backends.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime

from django.conf import settings
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.money import format_yuan

CHECKOUT = "checkout"
PAYMENT = "payment"
STAGE_LABELS = {CHECKOUT: _("At checkout"), PAYMENT: _("When paid")}


class Decision(models.TextChoices):
    """What an assessment decides (and what a rule does when it hits)."""

    ALLOW = "allow", _("Allow")
    REVIEW = "review", _("Review")
    BLOCK = "block", _("Block")


@dataclass(frozen=True)
class CheckoutContext:
    learner_id: int
    merchant_id: int
    course_ids: tuple[int, ...]
    amount: int
    currency: str
    ip: str | None = None
    device_id: str | None = None
    payer_id: str | None = None  # known once a gateway reports the payer
    # The coupon as the learner gave it at checkout (a code, or a wallet coupon's id);
    # "" for none. None where it is not known (the payment stage, back-tests): rules then
    # read the learner's redemptions instead.
    coupon: str | None = None
    # The promoter the checkout is attributed to (``orders.attribution``), if any.
    promoter_id: int | None = None
    at: datetime = field(default_factory=timezone.now)


@dataclass(frozen=True)
class RiskDecision:
    decision: str  # "allow" | "review" | "block"
    verdicts: list[dict] = field(default_factory=list)
    duration_us: int = 0

    @property
    def blocked(self) -> bool:
        return self.decision == "block"

    @property
    def held(self) -> bool:
        return self.decision == "review"

    def as_record(self, *, stage: str, context) -> dict:
        """The assessment as stored with what it assessed: inputs, verdicts, decision, time."""
        # The context's fields as they are (ints, strings, a tuple of ids): ``asdict``'s
        # deep copy of each was a tenth of checkout's Python.
        inputs = {f.name: getattr(context, f.name) for f in fields(context)}
        inputs["at"] = context.at.isoformat()
        return {
            "stage": stage,
            "decision": self.decision,
            "inputs": inputs,
            "verdicts": self.verdicts,
            "duration_us": self.duration_us,
            "assessed_at": timezone.now().isoformat(),
        }


def explain_reason(reason: dict) -> str:
    """A verdict's stored ``reason`` (``{"message", "values", "money"}``: a message id and its
    values, those named in ``money`` being fen) in the active language, amounts in yuan."""
    money = set(reason.get("money") or ())
    values = {
        name: format_yuan(value, grouping=True, symbol=True)
        if name in money and isinstance(value, int) and not isinstance(value, bool)
        else value
        for name, value in (reason.get("values") or {}).items()
    }
    try:
        return gettext(reason["message"]) % values
    except (KeyError, TypeError, ValueError):
        return str(reason.get("message", ""))


Assessor = Callable[[str, CheckoutContext], RiskDecision]


def assess_checkout(context: CheckoutContext) -> RiskDecision:
    """Decide on a purchase before any payment starts."""
    return assessor()(CHECKOUT, context)


def assess_payment(context: CheckoutContext) -> RiskDecision:
    """Decide again when the gateway reports the payment, knowing the payer
    (``context.payer_id``): review holds delivery, block also returns the money."""
    return assessor()(PAYMENT, context)


@functools.cache
def assessor() -> Assessor:
    """The configured assessor, ``(stage, context) -> RiskDecision``."""
    return import_string(settings.KPAY_RISK_ASSESSOR)


@receiver(setting_changed)
def _forget_assessor(*, setting, **kwargs):
    if setting == "KPAY_RISK_ASSESSOR":
        assessor.cache_clear()
