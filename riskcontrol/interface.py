"""The one door into risk control.

Other apps build a :class:`CheckoutContext` and call :func:`assess_checkout`; they
never import rules or models from here. The rules (``riskcontrol.rules``), managed in
the admin, are evaluated behind this function.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.utils import timezone


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
        inputs = asdict(context)
        inputs["at"] = context.at.isoformat()
        return {
            "stage": stage,
            "decision": self.decision,
            "inputs": inputs,
            "verdicts": self.verdicts,
            "duration_us": self.duration_us,
            "assessed_at": timezone.now().isoformat(),
        }


def assess_payment(context: CheckoutContext) -> RiskDecision:
    """Decide again when the gateway reports the payment, knowing the payer
    (``context.payer_id``): review holds delivery, block also returns the money."""
    from .engine import enabled_rules, evaluate

    decision, verdicts, duration_us = evaluate("payment", context, enabled_rules())
    return RiskDecision(decision=decision, verdicts=verdicts, duration_us=duration_us)


def assess_checkout(context: CheckoutContext) -> RiskDecision:
    """Decide on a purchase before any payment starts."""
    from .engine import enabled_rules, evaluate

    decision, verdicts, duration_us = evaluate("checkout", context, enabled_rules())
    return RiskDecision(decision=decision, verdicts=verdicts, duration_us=duration_us)
