"""The learner's coupon pages: "My coupons" (the wallet, and coupons to claim), claiming."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from core.http import next_url

from . import selectors, services
from .exceptions import PromotionError
from .points import fen_per_point


@require_safe
@login_required
def my_coupons(request):
    now = timezone.now()
    return render(
        request,
        "promotions/my_coupons.html",
        {
            "wallet": selectors.wallet_list_for_learner(learner=request.user, at=now)[:100],
            "claimable": selectors.coupons_claimable(at=now)[:50],
        },
    )


@require_safe
@login_required
def my_points(request):
    """ "My points": the balance (negative: a debt a refund left), lots soonest to expire, the history."""
    page = Paginator(selectors.points_history(learner_id=request.user.pk), 30).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "promotions/my_points.html",
        {
            "page_name": "my-points",
            "balance": selectors.points_balance(learner_id=request.user.pk),
            "fen_per_point": fen_per_point(),
            "expiring": selectors.points_lots_expiring(learner_id=request.user.pk),
            "page": page,
        },
    )


@require_POST
def claim(request, coupon_id: int):
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("promotions:my-coupons"))
    try:
        wallet = services.coupon_claim(learner=request.user, coupon_id=coupon_id)
    except PromotionError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("%(name)s is in your wallet.") % {"name": wallet.coupon.name})
    return redirect(next_url(request, "promotions:my-coupons"))
