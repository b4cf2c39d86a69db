"""Withholding agreements (代扣协议): turning automatic renewal on (signing at the gateway)
and off (ending the agreement there, then here), and applying what the gateway says of
an agreement (its notifications, or a query) once.

Gateways are called outside transactions. Turning renewal off stops renewals at once
(``auto_renew`` off, the open renewal cancelled, the agreement marked for termination) and
then ends the agreement at the gateway; if the gateway does not answer, the renewal task
asks again until it does (:func:`agreements_terminate_requested`).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from core.http import UNKNOWN_CLIENT, ClientInfo
from core.tasks import enqueue_on_commit
from core.transitions import apply_transition
from orders.numbers import new_public_number
from payments.exceptions import ChannelUnavailable, PaymentError
from payments.gateways import available_withholding_channels, gateway_for_withholding_channel, get_gateway
from payments.gateways.withholding import AgreementNotification, AgreementRequest, AgreementState
from payments.services import merchant_ids_mismatch

from .. import locks, schedule
from ..exceptions import (
    AgreementMismatch,
    MembershipNotActive,
    MembershipNotFound,
    RenewalAmountAboveLimit,
    RenewalNotOffered,
    RenewalTurningOff,
    UnknownAgreement,
)
from ..models import (
    Agreement,
    AgreementEvent,
    AgreementStatusChange,
    Membership,
    RenewalStatusChange,
)
from ..renewal_selectors import agreement_live, agreements_to_terminate, membership_for_learner

logger = logging.getLogger(__name__)

END_AGREEMENT_TASK = "memberships.tasks.end_agreement"
END_UNWANTED_TASK = "memberships.tasks.end_unwanted_agreement"
# A signing the learner has not finished is offered again for this long, then replaced.
SIGNING_REUSED_FOR = timedelta(minutes=30)


def _public_url(path: str) -> str:
    return f"{settings.KPAY_PUBLIC_URL}{path}"


def _record(agreement: Agreement, name: str, *, at, reason: str, actor=None, **kwargs) -> bool:
    """Drive transition ``name`` of a locked agreement and keep its history row."""
    change = apply_transition(
        agreement, name, history_model=AgreementStatusChange, actor=actor, reason=reason, at=at, **kwargs
    )
    if change is None:
        return False
    agreement.save()
    change.save()
    return True


def _set_auto_renew(membership: Membership, on: bool, *, clear_grace: bool = False) -> None:
    fields = {"auto_renew": on}
    if clear_grace:
        fields["grace_until"] = None
    Membership.objects.filter(pk=membership.pk).update(**fields)
    for name, value in fields.items():
        setattr(membership, name, value)


def _renewal_cancel(*, membership: Membership, at, reason: str) -> None:
    """Cancel the membership's open renewal, unless a charge is in flight (it finishes,
    and the renewal task then finds the agreement ended). Access goes on to the end of
    the last paid period, no grace."""
    renewal = locks.renewal_lock_open(membership_id=membership.pk)
    if renewal is None:
        return
    change = apply_transition(
        renewal, "cancel", history_model=RenewalStatusChange, reason=reason, at=at, why=reason
    )
    if change is None:
        return
    renewal.save()
    change.save()
    if membership.grace_until is not None:
        _set_auto_renew(membership, membership.auto_renew, clear_grace=True)


# -- turning renewal on ------------------------------------------------------------------
def renewal_turn_on(
    *, learner, membership_id, channel: str | None = None, client: ClientInfo = UNKNOWN_CLIENT
) -> Agreement:
    """Ask the learner to sign a withholding agreement for ``membership_id`` on ``channel``
    (default: the first configured): returns the agreement, pending with the action to
    open (a page or a QR code), or the one already in force. Signing arrives as the
    gateway's agreement notification (or a query), which turns ``auto_renew`` on."""
    membership = membership_for_learner(learner=learner, membership_id=membership_id)
    if membership is None:
        raise MembershipNotFound()
    plan = membership.plan
    if not (plan.renewal_allowed and plan.is_active):
        raise RenewalNotOffered()
    now = timezone.now()
    if membership.ends_at is None or membership.ends_at <= now:
        raise MembershipNotActive()
    channels = available_withholding_channels()
    channel = channel or (channels[0] if channels else "")
    if channel not in channels:
        raise ChannelUnavailable()
    gateway = gateway_for_withholding_channel(channel)
    rules = gateway.withholding_rules
    if schedule.plan_min_days(plan) < rules.min_period_days:
        raise RenewalNotOffered()
    if rules.max_amount is not None and plan.price > rules.max_amount:
        raise RenewalAmountAboveLimit()

    live = agreement_live(membership_id=membership.pk)
    if live is not None:
        if live.termination_requested_at is not None:
            raise RenewalTurningOff()
        if live.status == Agreement.Status.ACTIVE:
            return live
        fresh = live.created_at > now - SIGNING_REUSED_FOR
        if fresh and live.channel == channel and live.amount_cap == plan.price:
            return live
        live = _signing_replace(live)
        if live is not None:
            return live  # it had been signed meanwhile

    unit, period = schedule.plan_period(plan)
    agreement_no = new_public_number("A")
    action = gateway.agreement_sign(
        AgreementRequest(
            agreement_no=agreement_no,
            channel=channel,
            description=f"{plan.title} · {plan.merchant.name}"[:120],
            amount=plan.price,
            currency=plan.currency,
            period_unit=unit,
            period=period,
            first_charge_on=schedule.charge_day(membership.ends_at, rules, unit),
            notify_url=_public_url(reverse("memberships:agreement-webhook", args=[gateway.alias])),
            return_url=_public_url(reverse("memberships:renewal", args=[membership.pk])),
            client_ip=client.ip,
        )
    )
    agreement = Agreement(
        membership=membership,
        gateway=gateway.alias,
        channel=channel,
        agreement_no=agreement_no,
        amount_cap=plan.price,
        currency=plan.currency,
        period_unit=unit,
        period=period,
        first_charge_on=schedule.charge_day(membership.ends_at, rules, unit),
        action=action.as_json(),
    )
    try:
        with transaction.atomic():
            agreement.save(force_insert=True)
            AgreementStatusChange.objects.create(
                agreement=agreement,
                from_status="",
                to_status=agreement.status,
                transition="ask",
                actor=learner,
                reason=f"signing asked for on {channel}",
                created_at=now,
            )
    except IntegrityError:
        # Another request of the learner's won the race: hand back its agreement.
        winner = agreement_live(membership_id=membership.pk)
        if winner is None:
            raise RenewalTurningOff() from None
        return winner
    return agreement


def _signing_replace(agreement: Agreement) -> Agreement | None:
    """A pending signing the learner is replacing (old, or on another channel): if the
    gateway says it was signed after all, it is activated and returned; otherwise it is
    ended here (and at the gateway, should it be signed later)."""
    gateway = get_gateway(agreement.gateway)
    try:
        status = gateway.agreement_query(agreement.agreement_no)
    except PaymentError:
        status = None
    if status is not None and status.state == AgreementState.ACTIVE:
        agreement_status_apply(agreement_id=agreement.pk, status=status)
        agreement.refresh_from_db()
        return agreement if agreement.status == Agreement.Status.ACTIVE else None
    with transaction.atomic():
        locked = locks.agreement_lock(pk=agreement.pk)
        _record(
            locked,
            "terminate",
            at=timezone.now(),
            reason="signing abandoned: replaced by a new one",
            by=Agreement.TerminatedBy.KPAY,
            why="signing abandoned",
        )
    return None


# -- turning renewal off -----------------------------------------------------------------
def renewal_turn_off(*, learner, membership_id) -> Agreement | None:
    """Stop renewing ``membership_id`` now, and end its agreement at the gateway.

    Renewals stop at once (nothing more is charged, unless a charge is already at the
    gateway); the agreement is ended at the gateway next, then here. Returns the
    agreement (terminated, or still live and marked for termination when the gateway did
    not answer: the renewal task asks again), or None if there was none."""
    membership = membership_for_learner(learner=learner, membership_id=membership_id)
    if membership is None:
        raise MembershipNotFound()
    now = timezone.now()
    with transaction.atomic():
        agreement = locks.agreement_lock_live(membership_id=membership.pk)
        if agreement is not None and agreement.termination_requested_at is None:
            agreement.termination_requested_at = now
            agreement.termination_reason = "turned off by the learner"
            agreement.save(update_fields=["termination_requested_at", "termination_reason"])
            AgreementStatusChange.objects.create(
                agreement=agreement,
                from_status=agreement.status,
                to_status=agreement.status,
                transition="request_termination",
                actor=learner,
                reason="turned off by the learner",
                created_at=now,
            )
        _set_auto_renew(membership, False)
        _renewal_cancel(membership=membership, at=now, reason="automatic renewal turned off by the learner")
    if agreement is None:
        return None
    try:
        agreement_end(agreement_id=agreement.pk)
    except PaymentError as exc:
        logger.info("agreement %s: the gateway did not end it yet (%s); will ask again", agreement, exc.code)
    agreement.refresh_from_db()
    return agreement


def agreement_request_end_on_commit(agreement: Agreement, *, reason: str, at) -> None:
    """Mark a locked agreement for termination by kpay (e.g. a lapsed membership) and end
    it at the gateway after commit (the renewal task retries if that fails)."""
    if agreement.status not in Agreement.LIVE_STATUSES or agreement.termination_requested_at:
        return
    agreement.termination_requested_at = at
    agreement.termination_reason = reason[:255]
    agreement.save(update_fields=["termination_requested_at", "termination_reason"])
    enqueue_on_commit(END_AGREEMENT_TASK, agreement_id=agreement.pk)


def agreement_end(*, agreement_id: int) -> Agreement:
    """End at the gateway an agreement kpay asked to end, then here. Raises
    :class:`~payments.exceptions.PaymentError` when the gateway does not oblige."""
    agreement = Agreement.objects.get(pk=agreement_id)
    if agreement.status not in Agreement.LIVE_STATUSES:
        return agreement
    get_gateway(agreement.gateway).agreement_terminate(
        agreement_no=agreement.agreement_no,
        gateway_agreement_id=agreement.gateway_agreement_id,
        reason=agreement.termination_reason or "ended by the merchant",
    )
    with transaction.atomic():
        locked = locks.agreement_lock(pk=agreement_id)
        now = timezone.now()
        if _record(
            locked,
            "terminate",
            at=now,
            reason=f"ended at the gateway: {locked.termination_reason or 'by kpay'}",
            by=Agreement.TerminatedBy.KPAY,
        ):
            membership = locked.membership
            _set_auto_renew(membership, False)
            _renewal_cancel(membership=membership, at=now, reason="agreement ended")
    return locked


def agreements_terminate_requested(*, limit: int = 100) -> int:
    """Ask the gateways again to end agreements kpay asked to end; returns how many ended."""
    ended = 0
    for agreement in list(agreements_to_terminate()[:limit]):
        try:
            ended += agreement_end(agreement_id=agreement.pk).status == Agreement.Status.TERMINATED
        except PaymentError as exc:
            logger.info("agreement %s: the gateway did not end it yet (%s)", agreement, exc.code)
    return ended


def agreement_end_unwanted(*, gateway_alias: str, agreement_no: str, gateway_agreement_id: str) -> None:
    """End at the gateway an agreement the payer signed after kpay had given up on it."""
    get_gateway(gateway_alias).agreement_terminate(
        agreement_no=agreement_no,
        gateway_agreement_id=gateway_agreement_id,
        reason="signed after the signing was abandoned",
    )


# -- what the gateway says -----------------------------------------------------------------
def agreement_notification_handle(*, gateway, notification: AgreementNotification) -> str:
    """Apply a verified agreement notification once (stored per gateway event id);
    returns the outcome. A notification about an agreement that is not ours, or not our
    account's, raises and writes nothing."""
    now = timezone.now()
    with transaction.atomic():
        agreement = locks.agreement_lock_by_number(
            agreement_no=notification.agreement_no, gateway=gateway.alias
        )
        if agreement is None:
            raise UnknownAgreement()
        mismatch = merchant_ids_mismatch(notification.merchant_ids, gateway)
        known_id = agreement.gateway_agreement_id
        if not mismatch and known_id and notification.gateway_agreement_id not in ("", known_id):
            mismatch = f"gateway agreement id {notification.gateway_agreement_id!r} is not {known_id!r}"
        if mismatch:
            logger.warning(
                "agreement %s: notification %s refused: %s", agreement, notification.event_id, mismatch
            )
            raise AgreementMismatch(mismatch)
        if AgreementEvent.objects.filter(
            gateway=gateway.alias, event_id=notification.event_id[:128]
        ).exists():
            return AgreementEvent.Outcome.DUPLICATE
        outcome, detail = _apply(
            agreement,
            state=notification.state,
            gateway_agreement_id=notification.gateway_agreement_id,
            payer_id=notification.payer_id,
            by_payer=notification.by_payer,
            at=notification.occurred_at or now,
            source=f"notification {notification.event_id}",
        )
        AgreementEvent.objects.bulk_create(
            [
                AgreementEvent(
                    gateway=gateway.alias,
                    event_id=notification.event_id[:128],
                    agreement=agreement,
                    state=str(notification.state),
                    by_payer=notification.by_payer,
                    outcome=outcome,
                    detail=detail[:255],
                    payload=dict(notification.payload),
                    received_at=now,
                )
            ],
            ignore_conflicts=True,
        )
    return outcome


def agreement_status_apply(*, agreement_id: int, status) -> Agreement:
    """Apply a query's answer about an agreement (a notification may be lost)."""
    with transaction.atomic():
        agreement = locks.agreement_lock(pk=agreement_id)
        if status.state in (AgreementState.ACTIVE, AgreementState.TERMINATED):
            _apply(
                agreement,
                state=status.state,
                gateway_agreement_id=status.gateway_agreement_id,
                payer_id=status.payer_id,
                by_payer=False,
                at=(status.signed_at if status.state == AgreementState.ACTIVE else status.terminated_at)
                or timezone.now(),
                source="gateway query",
            )
    return agreement


def agreement_sync_if_due(*, agreement: Agreement, every_seconds: int = 15) -> Agreement:
    """For the renewal page while the learner signs: ask the gateway at most every
    ``every_seconds``, and never let a gateway problem reach the page."""
    if agreement.status != Agreement.Status.PENDING or not cache.add(
        f"memberships:agreement-sync:{agreement.pk}", 1, timeout=every_seconds
    ):
        return agreement
    try:
        status = get_gateway(agreement.gateway).agreement_query(agreement.agreement_no)
    except PaymentError:
        return agreement
    return agreement_status_apply(agreement_id=agreement.pk, status=status)


def _apply(
    agreement: Agreement, *, state, gateway_agreement_id, payer_id, by_payer, at, source
) -> tuple[str, str]:
    """What the gateway says of a locked agreement: signed, or ended (by whom)."""
    membership = agreement.membership
    if state == AgreementState.ACTIVE:
        if agreement.status == Agreement.Status.PENDING:
            _record(
                agreement,
                "activate",
                # Gateways give the signing time to the second (Alipay, WeChat v2): never
                # before the signing was asked for, so the history reads in order.
                at=max(at, agreement.created_at),
                reason=f"{source}: signed",
                gateway_agreement_id=gateway_agreement_id,
                payer_id=payer_id,
            )
            _set_auto_renew(membership, True)
            return AgreementEvent.Outcome.PROCESSED, ""
        if agreement.status == Agreement.Status.TERMINATED:
            # Signed on a page kpay had given up on: end it at the gateway too.
            enqueue_on_commit(
                END_UNWANTED_TASK,
                gateway_alias=agreement.gateway,
                agreement_no=agreement.agreement_no,
                gateway_agreement_id=gateway_agreement_id,
            )
            return AgreementEvent.Outcome.IGNORED, "signed after it was abandoned: ending it at the gateway"
        return AgreementEvent.Outcome.IGNORED, "already signed"
    if state == AgreementState.TERMINATED:
        if agreement.status == Agreement.Status.TERMINATED:
            return AgreementEvent.Outcome.IGNORED, "already ended"
        if agreement.termination_requested_at is not None:
            # kpay asked for the end; the gateway's notice of it may name the payer (Alipay's
            # dut_user_unsign does not say who ended it) and may arrive before the answer.
            by = Agreement.TerminatedBy.KPAY
        elif by_payer:
            by = Agreement.TerminatedBy.PAYER
        else:
            by = Agreement.TerminatedBy.GATEWAY
        _record(agreement, "terminate", at=at, reason=f"{source}: ended by {by}", by=by, why=f"ended by {by}")
        _set_auto_renew(membership, False)
        _renewal_cancel(membership=membership, at=timezone.now(), reason=f"agreement ended by {by}")
        return AgreementEvent.Outcome.PROCESSED, ""
    return AgreementEvent.Outcome.IGNORED, f"state {state}"
