"""Automatic renewal, run by a beat task (``memberships.tasks.run_renewals``).

For each membership with an active agreement whose end is near, a :class:`Renewal` is
planned for the next period (one per membership and period number: a period is never
charged twice) and the learner is e-mailed ``KPAY_RENEWAL_NOTICE_DAYS`` before the
charge day. Each run then moves every open renewal on, within the gateway's rules
(:mod:`memberships.schedule`): the gateway's pre-charge notice when its rules want one
(or its schedule moved, for a retry past it), then, on the charge day, within the
gateway's window and hours, an attempt: an order placed at the plan's *current* price
through the one checkout (``order_place`` with the renewal's own checkout key), paid by a
withholding charge (``payments.services.withholding``). Delivery of the period is the
normal payment confirmation's; the renewal reads the payment's result back.

A failed attempt is retried ``KPAY_RENEWAL_RETRY_DAYS`` after the first (dunning), while
access continues (``Membership.grace_until``); when the schedule or the grace period runs
out, the membership lapses: no grace, no automatic renewal, and the agreement is ended at
the gateway. A price above the cap the learner signed is never charged: the renewal fails
at once and the learner is told.

Concurrency: a renewal is moved on under its agreement's and its own row locks
(``memberships.locks``), and an attempt is written (with its order and payment) before
the gateway hears of it, so a second worker finds the attempt in flight and waits. Gateway
calls are made with no transaction open; a worker talking to the gateway about a notice
holds the renewal with a short lease (``busy_until``).
"""

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.db import statement_guard
from core.errors import KpayError
from core.money import format_yuan
from core.transitions import apply_transition
from orders.services import order_place
from payments.exceptions import PaymentError
from payments.gateways import channel_label, get_gateway
from payments.gateways.withholding import ChargeNotice
from payments.models import Payment, PaymentStatusChange
from payments.services import ChargeOutcome, withholding_charge_send, withholding_payment_prepare

from .. import locks, schedule
from ..models import Agreement, Membership, Renewal, RenewalAttempt, RenewalStatusChange
from ..renewal_selectors import memberships_due_for_renewal, next_period_sequence, renewals_open
from .agreements import agreement_request_end_on_commit, agreements_terminate_requested
from .purchase import plan_purchase
from .renewal_mail import renewal_mail_on_commit

logger = logging.getLogger(__name__)

BATCH = 200
RESEND_AFTER = timedelta(minutes=5)  # a charge without an answer is sent again (same payment number)
LEASE = timedelta(seconds=60)
MAX_STEPS = 4  # gateway steps one run takes for one renewal (notice, then the charge)

# Why a renewal failed, for the learner's e-mail (staff see ``failure_reason``).
REASON_CHARGE = "charge_failed"
REASON_PRICE = "price_above_cap"
REASON_PLAN = "plan_not_renewable"
REASON_GRACE = "grace_over"


def renewal_checkout_key(membership: Membership, sequence: int) -> str:
    return f"renewal:{membership.pk}:{sequence}"


# -- the run -------------------------------------------------------------------------------
def renewals_run(*, now: datetime | None = None) -> dict:
    """One run of the beat task: plan renewals that are due, move every open one on, and
    ask the gateways again to end agreements kpay asked to end. Idempotent; each
    renewal on its own (one failing is logged and does not stop the others)."""
    now = now or timezone.now()
    summary: Counter = Counter()
    for membership_id in list(memberships_due_for_renewal(now=now).values_list("pk", flat=True)[:BATCH]):
        try:
            summary["planned"] += renewal_plan(membership_id=membership_id, now=now) is not None
        except Exception:
            logger.exception("membership %s: planning its renewal failed", membership_id)
    for renewal_id in list(renewals_open().values_list("pk", flat=True)[:BATCH]):
        try:
            summary[renewal_advance(renewal_id=renewal_id, now=now)] += 1
        except Exception:
            logger.exception("renewal %s: moving it on failed", renewal_id)
    summary["agreements_ended"] = agreements_terminate_requested()
    return dict(summary)


def renewal_plan(*, membership_id: int, now: datetime) -> Renewal | None:
    """Plan the renewal of the membership's next period when its notice is due, and
    e-mail the learner; None when nothing is due (or another worker planned it)."""
    with transaction.atomic():
        agreement = locks.agreement_lock_live(membership_id=membership_id)
        if (
            agreement is None
            or agreement.status != Agreement.Status.ACTIVE
            or agreement.termination_requested_at is not None
        ):
            return None
        membership = agreement.membership
        if not membership.auto_renew or membership.ends_at is None:
            return None
        if Renewal.objects.filter(membership=membership, status__in=Renewal.OPEN_STATUSES).exists():
            return None
        sequence = next_period_sequence(membership_id=membership.pk)
        done = Renewal.objects.filter(
            membership=membership, sequence=sequence, status=Renewal.Status.SUCCEEDED
        )
        if done.exists():
            return None  # this period's renewal is paid (its period is on its way)
        rules = get_gateway(agreement.gateway).withholding_rules
        day = schedule.charge_day(membership.ends_at, rules, agreement.period_unit)
        today = schedule.local_day(now, rules)
        if today < day - timedelta(days=schedule.notice_lead_days(rules)):
            return None
        grace_until = membership.ends_at + settings.KPAY_RENEWAL_GRACE
        if now >= grace_until:
            return None
        plan = membership.plan
        renewal = Renewal(
            membership=membership,
            agreement=agreement,
            sequence=sequence,
            period_starts_at=membership.ends_at,
            amount=plan.price,
            currency=plan.currency,
            charge_on=max(day, today),
            grace_until=grace_until,
        )
        try:
            with statement_guard():
                renewal.save(force_insert=True)
        except IntegrityError:
            return None
        RenewalStatusChange.objects.create(
            renewal=renewal,
            from_status="",
            to_status=renewal.status,
            transition="plan",
            reason=f"period {sequence}, charge planned on {renewal.charge_on}",
            created_at=now,
        )
        if plan.price <= schedule.charge_limit(rules, agreement.amount_cap):
            renewal.notice_emailed_at = now
            renewal.save(update_fields=["notice_emailed_at"])
            renewal_mail_on_commit(
                "notice",
                membership=membership,
                amount=plan.price,
                charge_on=renewal.charge_on,
                channel=channel_label(agreement.channel),
            )
    return renewal


# -- moving one renewal on ------------------------------------------------------------------
@dataclass
class _Step:
    """What a locked decision leaves to do with no transaction open."""

    kind: str  # "notice" | "reschedule" | "charge" | or a result with nothing to do
    day: date | None = None
    payment: Payment | None = None
    attempt_id: int | None = None


def renewal_advance(*, renewal_id: int, now: datetime) -> str:
    """Move one renewal on as far as the time allows; returns what it did last."""
    result = "waiting"
    for _step in range(MAX_STEPS):
        step = _decide(renewal_id, now)
        result = step.kind
        if step.kind == "notice":
            _send_notice(renewal_id, step.day, now)
        elif step.kind == "reschedule":
            _reschedule(renewal_id, step.day, now)
        elif step.kind == "charge":
            return _send_charge(renewal_id, step, now)
        else:
            return result
    return result


def _decide(renewal_id: int, now: datetime) -> _Step:
    agreement_id = Renewal.objects.filter(pk=renewal_id).values_list("agreement_id", flat=True).first()
    if agreement_id is None:
        return _Step("gone")
    with transaction.atomic():
        agreement = locks.agreement_lock(pk=agreement_id)
        renewal = locks.renewal_lock(pk=renewal_id)
        if not renewal.is_open:
            return _Step(renewal.status)
        rules = get_gateway(agreement.gateway).withholding_rules
        if renewal.status == Renewal.Status.CHARGING:
            return _decide_in_flight(renewal, agreement, rules, now)
        return _decide_next(renewal, agreement, rules, now)


def _decide_in_flight(renewal: Renewal, agreement: Agreement, rules, now: datetime) -> _Step:
    attempt = renewal.attempts.get(outcome=RenewalAttempt.Outcome.PENDING)
    payment = Payment.objects.select_related("order").get(payment_no=attempt.payment_no)
    settled = _settle(renewal, agreement, attempt, payment, rules, now)
    if settled is not None:
        return _Step(settled)
    order = payment.order
    resend = attempt.last_sent_at is None or attempt.last_sent_at <= now - RESEND_AFTER
    if resend and order.is_payable and order.expires_at > timezone.now():
        attempt.sends += 1
        attempt.last_sent_at = now
        attempt.save(update_fields=["sends", "last_sent_at"])
        return _Step("charge", payment=payment, attempt_id=attempt.pk)
    return _Step("charging")


def _decide_next(renewal: Renewal, agreement: Agreement, rules, now: datetime) -> _Step:
    membership = renewal.membership
    plan = membership.plan
    if (
        agreement.status != Agreement.Status.ACTIVE
        or agreement.termination_requested_at is not None
        or not membership.auto_renew
    ):
        _cancel(renewal, why="automatic renewal is off, or its agreement ended", now=now)
        return _Step("cancelled")
    if next_period_sequence(membership_id=membership.pk) != renewal.sequence:
        _cancel(renewal, why=f"period {renewal.sequence} was paid otherwise", now=now)
        return _Step("cancelled")
    if not (plan.renewal_allowed and plan.is_active):
        _give_up(renewal, agreement, code=REASON_PLAN, why="the plan is no longer renewed", now=now)
        return _Step("lapsed")
    limit = schedule.charge_limit(rules, agreement.amount_cap)
    if plan.price > limit:
        why = f"price {format_yuan(plan.price)} is above the {format_yuan(limit)} the learner signed for"
        _give_up(renewal, agreement, code=REASON_PRICE, why=why, now=now)
        return _Step("lapsed")
    if now >= renewal.grace_until:
        _give_up(renewal, agreement, code=REASON_GRACE, why="the grace period is over", now=now)
        return _Step("lapsed")
    if renewal.busy_until is not None and renewal.busy_until > now:
        return _Step("busy")

    today = schedule.local_day(now, rules)
    attempt_day = max(today, renewal.charge_on)
    window = (renewal.window_starts_on, renewal.window_ends_on)
    in_window = window[0] is not None and window[0] <= attempt_day <= window[1]
    if schedule.needs_gateway_notice(rules):
        if not in_window or plan.price > renewal.amount:
            # A notice (of at least this amount) opens the attempt day's window.
            if today < attempt_day - timedelta(days=rules.notice_days):
                return _Step("waiting")
            if not schedule.within_hours(now, rules):
                return _Step("waiting")
            return _claim(renewal, "notice", today, now)
    elif window[0] is None:
        return _claim(renewal, "notice", today, now)  # the gateway's own schedule: charge_notice is a no-op
    elif attempt_day > window[1]:
        return _claim(renewal, "reschedule", attempt_day, now)

    if renewal.next_attempt_at is not None and now < renewal.next_attempt_at:
        return _Step("waiting")
    if not (renewal.charge_on <= today and renewal.window_starts_on <= today <= renewal.window_ends_on):
        return _Step("waiting")
    if not schedule.within_hours(now, rules):
        return _Step("waiting")
    return _attempt_begin(renewal, agreement, rules, today, now)


def _claim(renewal: Renewal, kind: str, day: date, now: datetime) -> _Step:
    renewal.busy_until = now + LEASE
    renewal.save(update_fields=["busy_until"])
    return _Step(kind, day=day)


def _attempt_begin(renewal: Renewal, agreement: Agreement, rules, today: date, now: datetime) -> _Step:
    """Write the attempt, its order and its payment (committed before the gateway hears of
    it: a second worker then finds it in flight)."""
    membership = renewal.membership
    plan = membership.plan
    change = apply_transition(
        renewal,
        "charge",
        history_model=RenewalStatusChange,
        reason=f"attempt {renewal.attempts_made + 1}",
        at=now,
    )
    if renewal.first_attempt_on is None:
        renewal.first_attempt_on = today
    renewal.save()
    change.save()
    if membership.grace_until != renewal.grace_until:
        # Access continues while the renewal is being charged and retried.
        Membership.objects.filter(pk=membership.pk).update(grace_until=renewal.grace_until)
        membership.grace_until = renewal.grace_until
    attempt = RenewalAttempt(
        renewal=renewal,
        number=renewal.attempts_made,
        attempted_at=now,
        amount=plan.price,
        currency=plan.currency,
    )
    try:
        with transaction.atomic():
            order = order_place(
                learner=membership.learner,
                purchase=plan_purchase(
                    plan=plan, checkout_key=renewal_checkout_key(membership, renewal.sequence)
                ),
            ).order
            limit = schedule.charge_limit(rules, agreement.amount_cap)
            if order.total > limit:
                raise KpayError(f"order total {order.total} above the signed cap {limit}", code=REASON_PRICE)
            payment = withholding_payment_prepare(
                order=order,
                gateway_alias=agreement.gateway,
                channel=agreement.channel,
                gateway_agreement_id=agreement.gateway_agreement_id,
            )
    except KpayError as exc:
        attempt.outcome = RenewalAttempt.Outcome.REFUSED
        attempt.error_code = exc.code[:64]
        attempt.error_message = str(exc.message)[:255]
        attempt.finished_at = now
        attempt.save(force_insert=True)
        return _Step(_after_failure(renewal, agreement, rules, why=f"not sent: {exc.message}", now=now))
    attempt.amount = order.total
    attempt.order_no = order.order_no
    attempt.payment_no = payment.payment_no
    attempt.sends = 1
    attempt.last_sent_at = now
    attempt.save(force_insert=True)
    if renewal.amount != order.total:
        renewal.amount = order.total
        renewal.save(update_fields=["amount"])
    return _Step("charge", payment=payment, attempt_id=attempt.pk)


def _send_charge(renewal_id: int, step: _Step, now: datetime) -> str:
    outcome: ChargeOutcome | None = None
    error: PaymentError | None = None
    try:
        outcome = withholding_charge_send(payment=step.payment)
    except PaymentError as exc:  # the outcome is unknown: the payment stays pending
        error = exc
        logger.info("renewal %s: charge %s unanswered: %s", renewal_id, step.payment.payment_no, exc.code)
    with transaction.atomic():
        agreement_id = Renewal.objects.filter(pk=renewal_id).values_list("agreement_id", flat=True).get()
        agreement = locks.agreement_lock(pk=agreement_id)
        renewal = locks.renewal_lock(pk=renewal_id)
        attempt = RenewalAttempt.objects.get(pk=step.attempt_id)
        if error is not None:
            attempt.error_code, attempt.error_message = error.code[:64], f"no answer: {error.message}"[:255]
            attempt.save(update_fields=["error_code", "error_message"])
        if attempt.outcome != RenewalAttempt.Outcome.PENDING or renewal.status != Renewal.Status.CHARGING:
            return renewal.status
        payment = Payment.objects.select_related("order").get(pk=step.payment.pk)
        rules = get_gateway(agreement.gateway).withholding_rules
        return _settle(renewal, agreement, attempt, payment, rules, now, outcome=outcome) or "charging"


def _settle(
    renewal: Renewal,
    agreement: Agreement,
    attempt: RenewalAttempt,
    payment: Payment,
    rules,
    now: datetime,
    outcome: ChargeOutcome | None = None,
) -> str | None:
    """Read a locked renewal's attempt's payment back: paid, failed, or (None) unknown."""
    if outcome is not None:
        attempt.gateway_state = str(outcome.state)[:16]
    paid_otherwise = payment.status != Payment.Status.PENDING and payment.order.paid_at is not None
    if payment.status == Payment.Status.SUCCEEDED or paid_otherwise:
        # Paid by this charge, or the renewal's order was paid another way (the learner
        # paid it at a cashier): the period is paid either way, never charged again.
        attempt.outcome = (
            RenewalAttempt.Outcome.SUCCEEDED
            if payment.status == Payment.Status.SUCCEEDED
            else RenewalAttempt.Outcome.FAILED
        )
        if attempt.outcome == RenewalAttempt.Outcome.FAILED:
            attempt.error_message = f"payment {payment.status}: the order was paid another way"
        attempt.finished_at = now
        attempt.save()
        change = apply_transition(
            renewal,
            "succeed",
            history_model=RenewalStatusChange,
            reason=f"paid by {attempt.order_no}",
            at=now,
            order_no=attempt.order_no,
        )
        renewal.save()
        change.save()
        membership = renewal.membership
        # members' period_grant clears it when it delivers the period; so does success.
        Membership.objects.filter(pk=membership.pk).update(grace_until=None)
        membership.refresh_from_db(fields=["ends_at", "grace_until"])
        renewal_mail_on_commit(
            "succeeded",
            membership=membership,
            amount=attempt.amount,
            order_no=attempt.order_no,
            period_starts_at=renewal.period_starts_at,
        )
        return "succeeded"
    if payment.status in (Payment.Status.FAILED, Payment.Status.CLOSED, Payment.Status.UNAPPLIED):
        code, message = "", ""
        if outcome is not None:
            code, message = outcome.failure_code, outcome.failure_message
        if not message:
            last = PaymentStatusChange.objects.filter(payment=payment).order_by("-created_at", "-pk").first()
            message = last.reason if last else f"payment {payment.status}"
        attempt.outcome = RenewalAttempt.Outcome.FAILED
        attempt.gateway_state = attempt.gateway_state or str(payment.status)[:16]
        attempt.error_code = code[:64]
        attempt.error_message = message[:255]
        attempt.finished_at = now
        attempt.save()
        return _after_failure(renewal, agreement, rules, why=message or code, now=now)
    if outcome is not None:
        attempt.save(update_fields=["gateway_state"])
    return None


def _after_failure(renewal: Renewal, agreement: Agreement, rules, *, why: str, now: datetime) -> str:
    """An attempt failed: retry on the dunning schedule, or lapse when it is over."""
    offsets = settings.KPAY_RENEWAL_RETRY_DAYS
    made = renewal.attempts_made
    if made - 1 < len(offsets):
        day = renewal.first_attempt_on + timedelta(days=offsets[made - 1])
        at = max(now, schedule.hours_start(day, rules))
        if at < renewal.grace_until:
            change = apply_transition(
                renewal,
                "retry",
                history_model=RenewalStatusChange,
                reason=f"attempt {made} failed: {why}",
                at=now,
                why=why,
                next_attempt_at=at,
            )
            renewal.charge_on = day
            renewal.save()
            change.save()
            renewal_mail_on_commit(
                "failed",
                membership=renewal.membership,
                amount=renewal.amount,
                reason=why,
                next_attempt_on=day,
                grace_until=renewal.grace_until,
            )
            return "failed"
    _give_up(renewal, agreement, code=REASON_CHARGE, why=why, now=now)
    return "lapsed"


def _give_up(renewal: Renewal, agreement: Agreement, *, code: str, why: str, now: datetime) -> None:
    """The membership lapses: the renewal has failed for good, grace ends, automatic
    renewal goes off, and the agreement is ended (here and at the gateway)."""
    change = apply_transition(
        renewal, "give_up", history_model=RenewalStatusChange, reason=f"lapsed: {why}", at=now, why=why
    )
    if change is None:
        return
    renewal.save()
    change.save()
    membership = renewal.membership
    Membership.objects.filter(pk=membership.pk).update(auto_renew=False, grace_until=None)
    membership.auto_renew, membership.grace_until = False, None
    agreement_request_end_on_commit(agreement, reason="membership lapsed: automatic renewal failed", at=now)
    renewal_mail_on_commit(
        "lapsed",
        membership=membership,
        reason_code=code,
        reason=why,
        amount=membership.plan.price,
        cap=agreement.amount_cap,
        access_ends=max(membership.ends_at or now, now),
    )


def _cancel(renewal: Renewal, *, why: str, now: datetime) -> None:
    change = apply_transition(
        renewal, "cancel", history_model=RenewalStatusChange, reason=why, at=now, why=why
    )
    if change is None:
        return
    renewal.save()
    change.save()
    Membership.objects.filter(pk=renewal.membership_id).update(grace_until=None)


# -- gateway steps --------------------------------------------------------------------------
def _send_notice(renewal_id: int, today: date, now: datetime) -> None:
    """The gateway's pre-charge notice (or, for a gateway with a schedule of its own, the
    no-op call and the window around the planned day); then the window it opens."""
    renewal = Renewal.objects.select_related("agreement", "membership__plan").get(pk=renewal_id)
    agreement, plan = renewal.agreement, renewal.membership.plan
    gateway = get_gateway(agreement.gateway)
    rules = gateway.withholding_rules
    first_day = max(today, renewal.charge_on)
    if schedule.needs_gateway_notice(rules):
        first_day = max(first_day, schedule.window_after_notice(today, rules)[0])
    try:
        gateway.charge_notice(
            ChargeNotice(
                gateway_agreement_id=agreement.gateway_agreement_id,
                amount=plan.price,
                currency=plan.currency,
                charge_on=first_day,
                description=plan.title,
            )
        )
    except PaymentError as exc:
        logger.info("renewal %s: the pre-charge notice failed (%s); next run", renewal_id, exc.code)
        return
    with transaction.atomic():
        locks.agreement_lock(pk=agreement.pk)
        renewal = locks.renewal_lock(pk=renewal_id)
        if not renewal.is_open:
            return
        if schedule.needs_gateway_notice(rules):
            start, end = schedule.window_after_notice(today, rules)
            renewal.charge_on = max(renewal.charge_on, start)
        else:
            start, end = schedule.window_around(renewal.charge_on, rules)
        renewal.window_starts_on, renewal.window_ends_on = start, end
        renewal.gateway_notice_on = today
        renewal.amount = plan.price
        _save_with_note(
            renewal,
            "notice",
            f"pre-charge notice of {format_yuan(plan.price)}: charges allowed {start} to {end}",
            now,
        )


def _reschedule(renewal_id: int, day: date, now: datetime) -> None:
    """Move the gateway's charge date (a retry past its window: Alipay's execution plan)."""
    renewal = Renewal.objects.select_related("agreement").get(pk=renewal_id)
    agreement = renewal.agreement
    gateway = get_gateway(agreement.gateway)
    try:
        gateway.agreement_reschedule(
            agreement_no=agreement.agreement_no,
            gateway_agreement_id=agreement.gateway_agreement_id,
            next_charge_on=day,
        )
    except PaymentError as exc:
        logger.info("renewal %s: moving the charge date failed (%s); next run", renewal_id, exc.code)
        return
    with transaction.atomic():
        locks.agreement_lock(pk=agreement.pk)
        renewal = locks.renewal_lock(pk=renewal_id)
        if not renewal.is_open:
            return
        start, end = schedule.window_around(day, gateway.withholding_rules)
        renewal.window_starts_on, renewal.window_ends_on = start, end
        renewal.charge_on = max(renewal.charge_on, day)
        _save_with_note(renewal, "reschedule", f"charge moved to {day} at the gateway", now)


def _save_with_note(renewal: Renewal, transition: str, reason: str, now: datetime) -> None:
    """Save a renewal whose plan changed but not its status (its lease released), with a
    line in its history saying why."""
    renewal.busy_until = None
    renewal.save()
    RenewalStatusChange.objects.create(
        renewal=renewal,
        from_status=renewal.status,
        to_status=renewal.status,
        transition=transition,
        reason=reason,
        created_at=now,
    )
