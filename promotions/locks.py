"""Row locks on coupons. A coupon is locked alone (a claim) or before the order it
prices is written (checkout), never while an order or payment lock is held: releasing,
consuming and returning a redemption touch only the redemption, under its order's lock.
So the project's lock order (README, "Lock order") starts: coupon → merchant → payment
with its order → order alone → …
"""

from django.db.models import Exists, OuterRef

from .models import Coupon


def _covers(course_id: int):
    return Exists(Coupon.courses.through.objects.filter(coupon_id=OuterRef("pk"), course_id=course_id))


def coupon_lock(*, coupon_id: int) -> Coupon | None:
    return Coupon.objects.select_for_update(of=("self",)).filter(pk=coupon_id).first()


def coupon_lock_by_code(*, code: str, course_id: int) -> Coupon | None:
    """The code coupon, locked, with ``covers_course`` (the course is one of its chosen courses)."""
    return (
        Coupon.objects.select_for_update(of=("self",))
        .annotate(covers_course=_covers(course_id))
        .filter(code=code)
        .first()
    )
