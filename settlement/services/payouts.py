"""Every write to payouts (提现): merchants ask, finance approves, rejects or pays.

Over-withdrawal is impossible by construction: a request locks its merchant's row,
reads the available balance from the journal and posts the amount out of it
(available → payouts) in the same transaction, so concurrent requests of one merchant
queue on that lock and each sees what the one before it took. A rejected or failed
payout is posted back (payouts → available); a paid one moves to paid out.

Merchant staff request payouts for their own merchant only. Platform finance staff
(``settlement.change_payout``) decide; merchant staff never do, so nobody approves
their own request.
"""

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.db import statement_guard
from core.transitions import apply_transition
from courses import permissions
from courses.locks import merchant_lock
from courses.models import Merchant
from orders.numbers import new_public_number
from payments import ledger

from ..exceptions import (
    DecisionNoteRequired,
    InsufficientBalance,
    InvalidPayoutAmount,
    PayoutAboveMaximum,
    PayoutBelowMinimum,
    PayoutNotAllowed,
    PayoutNotFound,
    PayoutStateConflict,
    TransferReferenceRequired,
    TransferReferenceUsed,
)
from ..locks import payout_lock
from ..models import Payout, PayoutStatusChange

logger = logging.getLogger(__name__)


def _clean(text: str, error) -> str:
    text = (text or "").strip()
    if not text:
        raise error()
    return text


# -- requesting -----------------------------------------------------------------------
def payout_request(
    *,
    merchant: Merchant,
    amount: int,
    by,
    account_name: str = "",
    bank_name: str = "",
    account_number: str = "",
    now=None,
) -> Payout:
    """A merchant's staff ask to withdraw ``amount`` fen of its available balance.

    Between ``KPAY_PAYOUT_MIN`` and ``KPAY_PAYOUT_MAX``, and never more than is
    available: the merchant's row is locked, the balance read and the amount set aside
    in one transaction.
    """
    if not permissions.may_request_payout(by, merchant_id=merchant.pk):
        raise PayoutNotAllowed()
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidPayoutAmount()
    if amount < settings.KPAY_PAYOUT_MIN:
        raise PayoutBelowMinimum()
    if amount > settings.KPAY_PAYOUT_MAX:
        raise PayoutAboveMaximum()
    now = now or timezone.now()
    with transaction.atomic():
        merchant_lock(merchant_id=merchant.pk)
        available = ledger.merchant_available_balance(merchant.pk)
        if amount > available:
            raise InsufficientBalance()
        payout = Payout.objects.create(
            payout_no=new_public_number("W"),
            merchant_id=merchant.pk,
            amount=amount,
            currency="CNY",
            account_name=account_name.strip()[:120],
            bank_name=bank_name.strip()[:120],
            account_number=account_number.strip()[:64],
            requested_by=by,
            requested_at=now,
        )
        PayoutStatusChange.objects.create(
            payout=payout,
            from_status="",
            to_status=payout.status,
            transition="request",
            actor=by,
            reason=f"{available} available",
            created_at=now,
        )
        ledger.post_payout(payout=payout, stage="requested", at=now)
    return payout


# -- deciding -------------------------------------------------------------------------
def _decide(payout_id: int, by, name: str, *, note: str, now, stage: str | None, arguments: dict) -> Payout:
    """Lock the payout, apply transition ``name`` (with ``arguments``), record who did
    it and why, and post the journal's ``stage`` of it."""
    if not permissions.may_decide_payouts(by):
        raise PayoutNotAllowed()
    now = now or timezone.now()
    with transaction.atomic():
        try:
            payout = payout_lock(payout_id=payout_id)
        except Payout.DoesNotExist:
            raise PayoutNotFound() from None
        before = payout.status
        change = apply_transition(
            payout, name, history_model=PayoutStatusChange, actor=by, reason=note, at=now, **arguments
        )
        if change is None:
            raise PayoutStateConflict()
        if name == "mark_paid":
            fields = ["status", "paid_at", "transfer_reference"]
        else:
            fields = ["status", "decided_by", "decided_at", "decision_note"]
        try:
            with statement_guard():
                payout.save(update_fields=fields)
        except IntegrityError as exc:  # the transfer reference is another payout's
            raise TransferReferenceUsed() from exc
        change.save()
        if stage is not None:
            ledger.post_payout(payout=payout, stage=stage, at=now)
    logger.info("payout %s: %s -> %s by %s", payout.payout_no, before, payout.status, by)
    return payout


def payout_approve(*, payout_id: int, by, note: str = "", now=None) -> Payout:
    """Finance agrees to pay a requested payout (the money stays set aside)."""
    note = (note or "").strip()[:255]
    return _decide(
        payout_id, by, "approve", note=note, now=now, stage=None, arguments={"by": by, "note": note}
    )


def payout_reject(*, payout_id: int, by, note: str, now=None) -> Payout:
    """Refuse a requested or approved payout, saying why: the amount is available again."""
    note = _clean(note, DecisionNoteRequired)[:255]
    return _decide(
        payout_id, by, "reject", note=note, now=now, stage="returned", arguments={"by": by, "note": note}
    )


def payout_fail(*, payout_id: int, by, note: str, now=None) -> Payout:
    """The bank transfer of an approved payout did not go through: the amount is
    available again, and the merchant may ask anew."""
    note = _clean(note, DecisionNoteRequired)[:255]
    return _decide(
        payout_id, by, "fail", note=note, now=now, stage="returned", arguments={"by": by, "note": note}
    )


def payout_mark_paid(*, payout_id: int, by, reference: str, note: str = "", now=None) -> Payout:
    """The money was transferred: record the bank's reference (required, and used once)."""
    reference = _clean(reference, TransferReferenceRequired)[:80]
    note = (note or "").strip()[:255] or f"reference {reference}"
    return _decide(
        payout_id, by, "mark_paid", note=note, now=now, stage="paid", arguments={"reference": reference}
    )
