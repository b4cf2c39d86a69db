"""Reads of coupons, wallets and redemptions used by more than one caller."""

from django.contrib.auth import get_user_model
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import Coupon, PointsEntry, PointsLot, Redemption, WalletCoupon


def _active_redemption(wallet_ref):
    return Exists(
        Redemption.objects.filter(wallet_coupon_id=wallet_ref, status__in=Redemption.ACTIVE_STATUSES)
    )


def wallet_coupon_for_checkout(
    *, learner, wallet_coupon_id: int, course_id: int | None
) -> WalletCoupon | None:
    """The learner's wallet coupon with its coupon and ``covers_course``, in one query
    (whether it is in use is decided by the database when the redemption is written)."""
    covers = Exists(
        Coupon.courses.through.objects.filter(coupon_id=OuterRef("coupon_id"), course_id=course_id)
    )
    return (
        WalletCoupon.objects.select_related("coupon")
        .annotate(covers_course=covers)
        .filter(pk=wallet_coupon_id, learner=learner)
        .first()
    )


def wallet_list_for_learner(*, learner, at) -> QuerySet[WalletCoupon]:
    """The learner's wallet, newest first, each with ``state``: available, in_use
    (reserved or consumed on an order) or expired."""
    return (
        WalletCoupon.objects.filter(learner=learner)
        .select_related("coupon")
        .annotate(
            state=Case(
                When(_active_redemption(OuterRef("pk")), then=Value("in_use")),
                When(
                    Q(coupon__is_active=False) | Q(coupon__ends_at__lte=at) | Q(coupon__starts_at__gt=at),
                    then=Value("expired"),
                ),
                default=Value("available"),
                output_field=CharField(),
            )
        )
        .order_by("-created_at", "-pk")
    )


def coupons_claimable(*, at, course=None) -> QuerySet[Coupon]:
    """Issued coupons a learner may claim now (optionally: those covering ``course``)."""
    coupons = Coupon.objects.filter(
        code__isnull=True, is_active=True, starts_at__lte=at, ends_at__gt=at
    ).filter(issued__lt=F("quantity"))
    if course is not None:
        coupons = coupons.filter(
            Q(scope=Coupon.Scope.ALL)
            | Q(scope=Coupon.Scope.MERCHANT, merchant_id=course.merchant_id)
            | Q(scope=Coupon.Scope.COURSES, courses=course)
        ).distinct()
    return coupons.order_by("ends_at", "pk")


def redemption_for_order(*, order_id: int) -> Redemption | None:
    """The order's reserved or consumed redemption, if it has one."""
    return (
        Redemption.objects.filter(order_id=order_id, status__in=Redemption.ACTIVE_STATUSES)
        .select_related("coupon")
        .first()
    )


def redemption_list(*, merchant_id: int | None = None) -> QuerySet[Redemption]:
    redemptions = Redemption.objects.select_related("coupon", "learner", "order", "merchant")
    if merchant_id is not None:
        redemptions = redemptions.filter(merchant_id=merchant_id)
    return redemptions


def coupons_with_usage(coupons: QuerySet[Coupon]) -> QuerySet[Coupon]:
    """``coupons`` with ``used`` (consumed or returned redemptions) and ``cost`` (their
    discounts less what refunds took back, in fen), for the back office."""
    in_books = Q(redemptions__status__in=[Redemption.Status.CONSUMED, Redemption.Status.RETURNED])
    return coupons.annotate(
        used=Count("redemptions", filter=in_books),
        cost=Coalesce(
            Sum(
                F("redemptions__amount") - F("redemptions__reversed_amount"),
                filter=in_books,
                output_field=BigIntegerField(),
            ),
            Value(0),
            output_field=BigIntegerField(),
        ),
    )


def learners_by_username(usernames) -> tuple[list, list[str]]:
    """(the active users named, the names that match none), for staff granting coupons."""
    names = sorted({name.strip() for name in usernames if name.strip()})
    users = list(get_user_model()._default_manager.filter(username__in=names, is_active=True))
    found = {user.get_username() for user in users}
    return users, [name for name in names if name not in found]


# -- points ----------------------------------------------------------------------------


def points_balance(*, learner_id: int, at=None) -> int:
    """What the learner may spend: points left in unexpired lots, less any debt
    (negative when a refund clawed back more than the learner had). One query."""
    at = at or timezone.now()
    return (
        PointsLot.objects.filter(learner_id=learner_id)
        .filter(Q(remaining__lt=0) | Q(remaining__gt=0, expires_at__gt=at))
        .aggregate(total=Sum("remaining"))["total"]
        or 0
    )


def points_lots_expiring(*, learner_id: int, at=None, limit: int = 20):
    """The learner's lots with points left, soonest to expire first."""
    at = at or timezone.now()
    return list(
        PointsLot.objects.filter(learner_id=learner_id, remaining__gt=0, expires_at__gt=at).order_by(
            "expires_at", "pk"
        )[:limit]
    )


def points_history(*, learner_id: int):
    """The learner's points history, newest first (a queryset: paginate it)."""
    return (
        PointsEntry.objects.filter(learner_id=learner_id)
        .select_related("order")
        .order_by("-created_at", "-pk")
    )
