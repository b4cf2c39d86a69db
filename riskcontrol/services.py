"""Writes of risk control: rules, each change audited (who, when, before, after), and
decisions on the orders the rules held for review."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.jobs import job_create, job_run
from core.models import Job
from courses import permissions
from orders.locks import order_lock
from orders.models import Order
from orders.services import order_deliver
from payments.locks import payment_lock_for_refund
from payments.services import refund_issue_for_risk_review

from . import selectors
from .backtest import backtest
from .exceptions import ReviewNotAllowed
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
    """Approve (deliver) or reject (refund in full) an order held by risk control, as
    risk staff (:func:`~courses.permissions.may_review_risk`, asked here). Decided once.

    A rejection refunds that order only, through
    :func:`~payments.services.refund_issue_for_risk_review` (origin ``risk``, ``actor``
    recorded as requester and approver, no second approver: the money goes back to the
    payer of an order never delivered). Risk staff hold no ``issue_refund``: this is the
    only refund they can make.

    Locks in the project's order: the order's successful payment with the order first
    (``payments.locks``), as ``refund_issue_for_risk_review`` does after it, so a decision and a refund of
    the same order queue instead of deadlocking; the order alone when it has no payment.
    """
    if not permissions.may_review_risk(actor):
        raise ReviewNotAllowed()
    if verdict not in ReviewDecision.Verdict.values:
        raise ValidationError(_("Choose approve or reject."))
    note = (note or "").strip()
    if not note:
        raise ValidationError(_("Say why: the note is kept with the decision."))
    with transaction.atomic():
        order = _held_order_lock(order_id=order_id)
        if order is None or not selectors.order_awaits_review(order):
            raise ValidationError(_("This order is not waiting for a review."))
        decision = ReviewDecision.objects.create(order=order, verdict=verdict, actor=actor, note=note[:255])
        if verdict == ReviewDecision.Verdict.APPROVE:
            order_deliver(order_id=order.pk, actor=actor, reason=f"risk review approved: {note}")
        else:
            refund_issue_for_risk_review(
                actor=actor, order_id=order.pk, reason=f"risk review rejected: {note}"[:255]
            )
    return decision


def _held_order_lock(*, order_id: int) -> Order | None:
    payment = payment_lock_for_refund(order_id=order_id)
    if payment is not None:
        return payment.order
    try:
        return order_lock(order_id=order_id)
    except Order.DoesNotExist:
        return None


# -- back-tests in the background ---------------------------------------------------------------
BACKTEST_JOB_KIND = "riskcontrol.backtest"
BACKTEST_JOB_TASK = "riskcontrol.tasks.backtest_job"
BACKTEST_DAYS = 30
BACKTEST_HITS_KEPT = 200  # order numbers kept per rule for the result page


def backtest_job_start(*, actor, rule_ids: list[int], days: int = BACKTEST_DAYS) -> Job:
    """Back-test the rules ``rule_ids`` on the orders of the last ``days`` days, as a
    background job (every order is replayed: too long for a request on a real platform)."""
    if not permissions.may_see_risk(actor):
        raise ReviewNotAllowed()
    rules = list(Rule.objects.filter(pk__in=rule_ids).order_by("priority", "pk"))
    if not rules:
        raise ValidationError(_("Choose the rules to back-test."))
    names = ", ".join(rule.name for rule in rules)
    title = _("Back-test of %(rules)s on the last %(days)s days") % {"rules": names, "days": days}
    return job_create(
        kind=BACKTEST_JOB_KIND,
        title=title,
        actor=actor,
        params={"rule_ids": [rule.pk for rule in rules], "days": days},
        task=BACKTEST_JOB_TASK,
    )


def backtest_job_run(*, job_id: int) -> Job | None:
    """The worker's side of :func:`backtest_job_start`: each rule as it is now, replayed."""

    def work(job: Job, progress) -> dict:
        days = job.params["days"]
        rules = list(Rule.objects.filter(pk__in=job.params["rule_ids"]).order_by("priority", "pk"))
        results = []
        for number, rule in enumerate(rules):
            progress(
                0,
                None,
                _("Rule %(number)s of %(count)s: %(rule)s")
                % {"number": number + 1, "count": len(rules), "rule": rule.name},
            )
            result = backtest(kind=rule.kind, params=rule.params, days=days, progress=progress)
            results.append(
                {
                    "rule_id": rule.pk,
                    "rule": rule.name,
                    "kind": rule.kind,
                    "action": rule.action,
                    "checked": result.checked,
                    "hits": result.hits,
                    "hit_order_nos": result.hit_order_nos[:BACKTEST_HITS_KEPT],
                }
            )
        return {"days": days, "rules": results}

    return job_run(job_id, work)
