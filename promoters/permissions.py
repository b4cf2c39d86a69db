"""Who may decide promoter applications: staff of the programme's merchant (or the
platform) holding ``promoters.change_promoter``."""

from courses.permissions import is_active_staff
from courses.roles import is_platform_staff, user_merchant

from .models import Promoter


def may_decide_promoters(user, *, merchant_id: int) -> bool:
    if not is_active_staff(user) or not user.has_perm("promoters.change_promoter"):
        return False
    if is_platform_staff(user):
        return True
    merchant = user_merchant(user)
    return merchant is not None and merchant.pk == merchant_id


def may_withdraw(user, *, payee: str, merchant_id: int) -> bool:
    """The payout flow's check for ``promoter:<id>`` payees: the promoter themself."""
    _, _, promoter_id = payee.partition(":")
    return (
        getattr(user, "is_authenticated", False)
        and promoter_id.isdigit()
        and Promoter.objects.filter(pk=int(promoter_id), user_id=user.pk, merchant_id=merchant_id).exists()
    )
