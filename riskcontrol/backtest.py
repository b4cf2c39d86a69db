"""Trying a rule on past orders before enforcing it."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from orders.models import Order

from .interface import CheckoutContext
from .rules import KINDS, Facts


@dataclass
class BacktestResult:
    days: int
    checked: int = 0
    hit_order_nos: list[str] = field(default_factory=list)

    @property
    def hits(self) -> int:
        return len(self.hit_order_nos)


def backtest(*, kind: str, params: dict, days: int, now=None, progress=None) -> BacktestResult:
    """Replay the orders of the last ``days`` days against a (draft) rule, each as of the
    moment it was placed, with the client facts recorded at its checkout. ``progress(done,
    total)``, if given, is told how many orders have been replayed."""
    rule_kind = KINDS[kind]
    params = rule_kind.clean_params(params)
    now = now or timezone.now()
    result = BacktestResult(days=days)
    orders = (
        Order.objects.filter(created_at__gte=now - timedelta(days=days), created_at__lt=now)
        .only(
            "order_no",
            "learner_id",
            "merchant_id",
            "total",
            "currency",
            "lines",
            "risk_assessment",
            "created_at",
        )
        .order_by("created_at", "pk")
    )
    total = orders.count() if progress is not None else None
    for order in orders.iterator(chunk_size=2000):
        inputs = (order.risk_assessment or {}).get("inputs", {})
        context = CheckoutContext(
            learner_id=order.learner_id,
            merchant_id=order.merchant_id,
            course_ids=tuple(order.course_ids),
            amount=order.total,
            currency=order.currency,
            ip=inputs.get("ip"),
            device_id=inputs.get("device_id"),
            at=order.created_at,
        )
        result.checked += 1
        facts = Facts(context, rule_kind.aggregates(params, context))
        if rule_kind.hit(params, context, facts) is not None:
            result.hit_order_nos.append(order.order_no)
        if progress is not None:
            progress(result.checked, total)
    return result
