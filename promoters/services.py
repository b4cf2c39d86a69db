"""Every write of promoters: applications and decisions, links and clicks, the referral
a learner carries, attribution at checkout and the commission's life in the journal
(:mod:`promoters.ledger`), and withdrawals through the payout flow."""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.http import UNKNOWN_CLIENT, ClientInfo
from core.models import IdempotencyRecord
from core.transitions import apply_transition
from settlement.models import Payout
from settlement.services import payout_request

from . import ledger
from .exceptions import (
    AlreadyApplied,
    CourseNotPromoted,
    ProgrammeNotOpen,
    PromoterNotAllowed,
    PromoterNotApproved,
    PromoterNotFound,
    PromoterStateConflict,
    WithdrawalInProgress,
)
from .models import (
    Click,
    LearnerReferral,
    OrderReferral,
    Programme,
    Promoter,
    PromoterStatusChange,
    ReferralLink,
)
from .permissions import may_decide_promoters
from .selectors import promoter_of

COOKIE = "kpay_ref"
SALT = "promoters.referral"


@dataclass
class Referral:
    """A referral click a learner carries: which link, and when it was clicked.
    ``rate_bp`` is filled in when checkout resolves it."""

    link_id: int
    clicked_at: datetime
    rate_bp: int = 0

    def sign(self) -> str:
        return signing.dumps([self.link_id, self.clicked_at.timestamp()], salt=SALT, compress=True)

    @classmethod
    def unsign(cls, value: str) -> "Referral | None":
        try:
            link_id, ts = signing.loads(value, salt=SALT)
            return cls(link_id=int(link_id), clicked_at=datetime.fromtimestamp(float(ts), tz=UTC))
        except (signing.BadSignature, ValueError, TypeError):
            return None


# -- applications ---------------------------------------------------------------------
def promoter_apply(*, user, merchant_id: int, pitch: str = "", now=None) -> Promoter:
    """A learner applies to a merchant's open programme."""
    now = now or timezone.now()
    programme = Programme.objects.filter(merchant_id=merchant_id, active=True).first()
    if programme is None:
        raise ProgrammeNotOpen()
    try:
        with transaction.atomic():
            promoter = Promoter.objects.create(
                programme=programme,
                merchant_id=merchant_id,
                user=user,
                pitch=(pitch or "").strip()[:255],
                applied_at=now,
            )
            PromoterStatusChange.objects.create(
                promoter=promoter,
                from_status="",
                to_status=promoter.status,
                transition="apply",
                actor=user,
                created_at=now,
            )
    except IntegrityError:
        raise AlreadyApplied() from None
    return promoter


def _decide(*, promoter_id: int, by, name: str, note: str, now=None) -> Promoter:
    now = now or timezone.now()
    with transaction.atomic():
        promoter = Promoter.objects.select_for_update().filter(pk=promoter_id).first()
        if promoter is None:
            raise PromoterNotFound()
        if not may_decide_promoters(by, merchant_id=promoter.merchant_id):
            raise PromoterNotAllowed()
        note = (note or "").strip()[:255]
        change = apply_transition(
            promoter,
            name,
            history_model=PromoterStatusChange,
            actor=by,
            reason=note,
            at=now,
            by=by,
            note=note,
        )
        if change is None:
            raise PromoterStateConflict()
        promoter.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        change.save()
    return promoter


def promoter_approve(*, promoter_id: int, by, note: str = "", now=None) -> Promoter:
    return _decide(promoter_id=promoter_id, by=by, name="approve", note=note, now=now)


def promoter_refuse(*, promoter_id: int, by, note: str = "", now=None) -> Promoter:
    """Refuse an application, or stop an approved promoter: their links stop attributing
    (what they already earned stays theirs)."""
    return _decide(promoter_id=promoter_id, by=by, name="refuse", note=note, now=now)


# -- links and clicks -----------------------------------------------------------------
def link_for(*, promoter: Promoter, course_id: int) -> ReferralLink:
    """The promoter's link to a course of the programme (made the first time)."""
    if promoter.status != Promoter.Status.APPROVED:
        raise PromoterNotAllowed()
    if not promoter.programme.courses.filter(pk=course_id).exists():
        raise CourseNotPromoted()
    link, _ = ReferralLink.objects.get_or_create(promoter=promoter, course_id=course_id)
    return link


def click_record(*, code: str, user=None, client: ClientInfo = UNKNOWN_CLIENT, now=None):
    """A visit through a link: counted, and the referral it sets (last click wins),
    stored on the user if logged in. Returns ``(link, referral)``, or None for an
    unknown code."""
    now = now or timezone.now()
    link = ReferralLink.objects.select_related("course").filter(code=(code or "")[:16]).first()
    if link is None:
        return None
    user = user if getattr(user, "is_authenticated", False) else None
    Click.objects.create(
        link=link, user=user, ip=client.ip, device_id=(client.device_id or "")[:64], created_at=now
    )
    referral = Referral(link_id=link.pk, clicked_at=now)
    if user is not None:
        referral_store(user=user, referral=referral)
    return link, referral


def referral_store(*, user, referral: Referral) -> None:
    """Keep the referral on the user unless a later click is already kept there."""
    LearnerReferral.objects.filter(user=user, clicked_at__lt=referral.clicked_at).update(
        link_id=referral.link_id, clicked_at=referral.clicked_at
    )
    LearnerReferral.objects.get_or_create(
        user=user, defaults={"link_id": referral.link_id, "clicked_at": referral.clicked_at}
    )


def referral_of(*, user, cookie: str | None) -> Referral | None:
    """The latest of the cookie's referral and the one kept on the user."""
    candidates = []
    if cookie:
        candidates.append(Referral.unsign(cookie))
    if getattr(user, "is_authenticated", False):
        kept = LearnerReferral.objects.filter(user=user).values_list("link_id", "clicked_at").first()
        if kept is not None:
            candidates.append(Referral(link_id=kept[0], clicked_at=kept[1]))
    candidates = [c for c in candidates if c is not None]
    return max(candidates, key=lambda c: c.clicked_at) if candidates else None


# -- attribution (orders.attribution) --------------------------------------------------
class PromoterAttribution:
    """What ``orders`` calls: see :mod:`orders.attribution`."""

    def from_request(self, request) -> Referral | None:
        return referral_of(user=request.user, cookie=request.COOKIES.get(COOKIE))

    def resolve(self, *, learner, purchase, referral: Referral, at) -> int | None:
        """The promoter earning this purchase: an approved promoter of the seller's
        active programme, clicked within its window, the purchase in the programme,
        and never the buyer themself."""
        link = (
            ReferralLink.objects.select_related("promoter__programme")
            .filter(pk=referral.link_id, promoter__status=Promoter.Status.APPROVED)
            .first()
        )
        if link is None:
            return None
        promoter, programme = link.promoter, link.promoter.programme
        if (
            not programme.active
            or programme.merchant_id != purchase.merchant_id
            or promoter.user_id == learner.pk
            or not (referral.clicked_at <= at <= referral.clicked_at + programme.window)
        ):
            return None
        plan_id = purchase.line.plan_id
        covered = (
            programme.plans.filter(pk=plan_id).exists()
            if plan_id
            else programme.courses.filter(pk__in=purchase.course_ids).exists()
        )
        if not covered:
            return None
        referral.rate_bp = programme.rate_bp
        return promoter.pk

    # The money hooks below (paid, refunded, completed) are called for orders whose own
    # column names a promoter (``Order.promoter_id``, written in the order's INSERT), and
    # post to that promoter's accounts; the referral row holds the rate and commission.
    def record(self, *, order, promoter_id: int, referral: Referral, at) -> None:
        OrderReferral.objects.create(
            order=order,
            promoter_id=promoter_id,
            merchant_id=order.merchant_id,
            link_id=referral.link_id,
            rate_bp=referral.rate_bp,
            clicked_at=referral.clicked_at,
            created_at=at,
        )

    def paid(self, *, order, at) -> None:
        # Under the order's row lock (orders.attribution): a repeated call changes nothing.
        referral = OrderReferral.objects.filter(order=order).first()
        if referral is None or referral.commission:
            return
        referral.commission = ledger.commission_of(order=order, rate_bp=referral.rate_bp)
        referral.save(update_fields=["commission"])
        ledger.post_commission_accrued(referral=referral, order=order, amount=referral.commission, at=at)

    def refunded(self, *, order, refunded_before: int, at) -> None:
        referral = OrderReferral.objects.filter(order=order).first()
        if referral is not None and referral.commission:
            ledger.post_commission_reversed(
                referral=referral, order=order, refunded_before=refunded_before, at=at
            )

    def completed(self, *, order, at) -> None:
        referral = OrderReferral.objects.filter(order=order).first()
        if referral is not None and referral.commission:
            ledger.post_commission_settled(referral=referral, order=order, at=at)


# -- withdrawals ------------------------------------------------------------------------
def promoter_payout_request(
    *, user, promoter_id: int, amount: int, account_name="", bank_name="", account_number="", now=None
):
    """A promoter withdraws commission through the merchants' payout flow: the same
    limits, balance check and finance decisions (``settlement.payees``)."""
    promoter = promoter_of(user=user, promoter_id=promoter_id)
    if promoter is None:
        raise PromoterNotFound()
    if promoter.status == Promoter.Status.APPLIED:
        # Nothing was ever earned yet. A refused promoter keeps what they earned before,
        # and may withdraw what is available of it.
        raise PromoterNotApproved()
    return payout_request(
        merchant=promoter.merchant,
        amount=amount,
        by=user,
        account_name=account_name,
        bank_name=bank_name,
        account_number=account_number,
        now=now,
        payee=promoter.account_owner,
    )


SITE_WITHDRAWAL_SCOPE = "site: promoter withdrawal"


def promoter_payout_request_once(
    *, user, token: str, promoter_id, amount: int, **details
) -> tuple[Payout, bool]:
    """:func:`promoter_payout_request` once per ``token`` (the withdrawal form's, made when
    the form is shown): a double click, or the form sent again from the browser's history,
    returns the payout the first one made, ``(payout, False)``; else ``(payout, True)``.

    The token is kept as the user's :class:`core.models.IdempotencyRecord` in the payout's
    own transaction: a second request with it waits on the first one's INSERT of the unique
    (user, key) and then finds its payout; if the first was refused, nothing of it was kept
    and the form may be sent again with the same token."""
    key = f"promoter-withdrawal:{(token or '').strip()}"[:255]
    if key.endswith(":"):
        raise WithdrawalInProgress()  # no token: the form was not ours (never a silent second payout)
    fingerprint = hashlib.sha256(f"{promoter_id}:{amount}".encode()).hexdigest()
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=user, key=key, scope=SITE_WITHDRAWAL_SCOPE, fingerprint=fingerprint, status_code=201
                )
        except IntegrityError:
            record = IdempotencyRecord.objects.filter(user=user, key=key).first()
            payout_no = ((record and record.response_body) or {}).get("payout_no")
            payout = Payout.objects.filter(payout_no=payout_no).first() if payout_no else None
            if payout is None:
                raise WithdrawalInProgress() from None
            return payout, False
        payout = promoter_payout_request(user=user, promoter_id=promoter_id, amount=amount, **details)
        record.response_body = {"payout_no": payout.payout_no}
        record.save(update_fields=["response_body"])
    return payout, True
