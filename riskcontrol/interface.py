"""Risk control's side of the risk port (``core.risk``).

Orders and payments build a :class:`core.risk.CheckoutContext` and call
``core.risk.assess_checkout`` / ``assess_payment``; settings point ``KPAY_RISK_ASSESSOR``
at :func:`assess`, which evaluates the rules managed in the admin.
"""

from core.risk import CheckoutContext, RiskDecision

from .engine import enabled_rules, evaluate


def assess(stage: str, context: CheckoutContext) -> RiskDecision:
    """Evaluate the enabled rules of ``stage`` ("checkout" or "payment") for ``context``."""
    decision, verdicts, duration_us = evaluate(stage, context, enabled_rules())
    return RiskDecision(decision=decision, verdicts=verdicts, duration_us=duration_us)
