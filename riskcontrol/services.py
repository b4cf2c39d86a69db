"""Writes to rules, each audited (who, when, before, after)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from .models import ReviewDecision, Rule, RuleChange


def rule_save(*, rule: Rule, actor) -> Rule:
    """Validate and save a new or changed rule, and record the change."""
    rule.full_clean()
    with transaction.atomic():
        before = Rule.objects.filter(pk=rule.pk).first() if rule.pk else None
        rule.save()
        RuleChange.objects.create(
            rule=rule,
            rule_name=rule.name,
            change=RuleChange.Change.UPDATED if before else RuleChange.Change.CREATED,
            actor=actor,
            before=before.snapshot() if before else None,
            after=rule.snapshot(),
        )
    return rule


def rule_delete(*, rule: Rule, actor) -> None:
    with transaction.atomic():
        RuleChange.objects.create(
            rule=None,
            rule_name=rule.name,
            change=RuleChange.Change.DELETED,
            actor=actor,
            before=rule.snapshot(),
            after=None,
        )
        rule.delete()


def review_decide(*, order_id: int, actor, verdict: str, note: str) -> ReviewDecision:
    """Approve (deliver) or reject (refund in full through the refund flow, with its
    permissions and four eyes) an order held by risk control. Decided once."""
    from orders.models import Order
    from orders.services import order_deliver
    from payments.refunds import refund_issue

    note = (note or "").strip()
    if not note:
        raise ValidationError(_("Say why: the note is kept with the decision."))
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None or order.status != Order.Status.PAID or hasattr(order, "risk_review"):
            raise ValidationError(_("This order is not waiting for a review."))
        decision = ReviewDecision.objects.create(order=order, verdict=verdict, actor=actor, note=note[:255])
        if verdict == ReviewDecision.Verdict.APPROVE:
            order_deliver(order_id=order.pk, actor=actor, reason=f"risk review approved: {note}")
        else:
            refund_issue(actor=actor, order_id=order.pk, reason=f"risk review rejected: {note}")
    return decision
