"""The one door into risk control.

Other apps build a :class:`CheckoutContext` and call :func:`assess_checkout`; they
never import rules or models from here. Rules (issue: rule engine) plug in behind
this function without changing its callers.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

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
        return {
            "stage": stage,
            "decision": self.decision,
            "inputs": asdict(context),
            "verdicts": self.verdicts,
            "duration_us": self.duration_us,
            "assessed_at": timezone.now().isoformat(),
        }


def assess_checkout(context: CheckoutContext) -> RiskDecision:
    """Decide on a purchase before any payment starts. No rules are configured yet: allow."""
    started = time.perf_counter_ns()
    verdicts: list[dict] = []
    return RiskDecision(
        decision="allow", verdicts=verdicts, duration_us=(time.perf_counter_ns() - started) // 1000
    )
