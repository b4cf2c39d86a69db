"""Every write to payouts (提现): merchants ask, finance approves, rejects or pays.

Over-withdrawal is impossible by construction: a request locks its merchant's row,
reads the available balance from the journal and posts the amount out of it
(available → payouts) in the same transaction, so concurrent requests of one merchant
queue on that lock and each sees what the one before it took. A rejected or failed
payout is posted back (payouts → available); a paid one moves to paid out.

Merchant staff request payouts for their own merchant only. Platform finance staff
(``settlement.change_payout``) decide; merchant staff never do, so nobody approves
their own request.

Two finance users for every payout: the one who approves it (``approved_by``) may not
mark it paid (``paid_by``); a different finance user, who made or checked the bank
transfer, does. Every payout, not only those above an amount: payouts go to a bank
account the merchant typed, and a per-payout threshold would be split by asking for
several smaller payouts (as refunds were). The database refuses the same user for both
(``payout_paid_by_second_user``). Rejecting or recording a failed transfer moves no
money out and needs no second user.

The account number is stored encrypted (:mod:`settlement.crypto`), with its last four
digits in clear for the mask everyone but finance sees.
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

from .. import payees
from ..crypto import last4
from ..exceptions import (
    DecisionNoteRequired,
    InsufficientBalance,
    InvalidPayoutAmount,
    PayoutAboveMaximum,
    PayoutBelowMinimum,
    PayoutNotAllowed,
    PayoutNotFound,
    PayoutSecondUserRequired,
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
    payee: str = "",
) -> Payout:
    """A merchant's staff ask to withdraw ``amount`` fen of its available balance.

    Between ``KPAY_PAYOUT_MIN`` and ``KPAY_PAYOUT_MAX``, and never more than is
    available: the merchant's row is locked, the balance read and the amount set aside
    in one transaction.

    With a ``payee`` (``promoter:<id>``: :mod:`settlement.payees`) it is that payee's
    balance, held in the journal under the merchant, that is withdrawn, by whom the
    payee's kind allows, within the same limits and under the same merchant lock.
    """
    allowed = (
        payees.may_request(by, payee=payee, merchant_id=merchant.pk)
        if payee
        else permissions.may_request_payout(by, merchant_id=merchant.pk)
    )
    if not allowed:
        raise PayoutNotAllowed()
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidPayoutAmount()
    if amount < settings.KPAY_PAYOUT_MIN:
        raise PayoutBelowMinimum()
    if amount > settings.KPAY_PAYOUT_MAX:
        raise PayoutAboveMaximum()
    account_number = (account_number or "").strip()[:64]
    now = now or timezone.now()
    with transaction.atomic():
        merchant_lock(merchant_id=merchant.pk)
        available = ledger.merchant_available_balance(
            merchant.pk, owner=payees.owner_of(payee=payee, merchant_id=merchant.pk)
        )
        if amount > available:
            raise InsufficientBalance()
        payout = Payout.objects.create(
            payout_no=new_public_number("W"),
            merchant_id=merchant.pk,
            payee=payee,
            amount=amount,
            currency="CNY",
            account_name=account_name.strip()[:120],
            bank_name=bank_name.strip()[:120],
            account_number=account_number,
            account_last4=last4(account_number),
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
        if name == "mark_paid" and payout.status == Payout.Status.APPROVED and payout.approved_by_id == by.pk:
            raise PayoutSecondUserRequired()
        change = apply_transition(
            payout, name, history_model=PayoutStatusChange, actor=by, reason=note, at=now, **arguments
        )
        if change is None:
            raise PayoutStateConflict()
        if name == "mark_paid":
            fields = ["status", "paid_by", "paid_at", "transfer_reference"]
        else:
            fields = ["status", "decided_by", "decided_at", "decision_note"]
            if name == "approve":
                fields.append("approved_by")
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
    """The money was transferred: record the bank's reference (required, and used once).
    ``by`` must be a different finance user than the one who approved it."""
    reference = _clean(reference, TransferReferenceRequired)[:80]
    note = (note or "").strip()[:255] or f"reference {reference}"
    return _decide(
        payout_id,
        by,
        "mark_paid",
        note=note,
        now=now,
        stage="paid",
        arguments={"by": by, "reference": reference},
    )


# -- key rotation -----------------------------------------------------------------------
def payout_accounts_reencrypt(*, batch: int = 500) -> int:
    """Encrypt every stored account number again with the newest
    ``KPAY_FIELD_ENCRYPTION_KEY`` (the first): after this, older keys can be dropped.
    Only the number's column is written. Returns how many were re-encrypted."""
    done, last = 0, 0
    rows = Payout.objects.exclude(account_number="").order_by("pk").only("pk", "account_number")
    while chunk := list(rows.filter(pk__gt=last)[:batch]):
        with transaction.atomic():
            for payout in chunk:
                Payout.objects.filter(pk=payout.pk).update(account_number=payout.account_number)
        done += len(chunk)
        last = chunk[-1].pk
    return done
