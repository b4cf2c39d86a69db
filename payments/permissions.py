"""Who may issue, decide and return refunds: the payments part of "may this user do that",
used by the refund services and the admin alike (to be absorbed by the project's one
permissions module)."""

from courses.roles import is_platform_staff, user_merchant
from orders.models import Order


def staff_may(user, permission: str, order: Order | None = None) -> bool:
    """Whether ``user`` holds ``payments.<permission>`` and, being merchant staff, the
    order is their merchant's. Platform staff (support, finance, superusers) may act
    on every merchant's orders if they hold the permission."""
    if not (getattr(user, "is_authenticated", False) and user.is_active and user.is_staff):
        return False
    if not user.has_perm(f"payments.{permission}"):
        return False
    if is_platform_staff(user):
        return True
    merchant = user_merchant(user)
    return merchant is not None and (order is None or merchant.pk == order.merchant_id)


def staff_may_return_unapplied(user) -> bool:
    """Whether ``user`` may return unapplied payments: platform staff who issue refunds.
    The money is the platform's to give back (no merchant ever received it), so merchant
    staff may not, whatever permissions they hold."""
    return staff_may(user, "issue_refund") and is_platform_staff(user)
