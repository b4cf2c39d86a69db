"""Membership pages: plans on sale (all, and one merchant's), a plan with its buy form
(coupon, points), buying (then the same pay page as a course), and "My memberships"."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from core.errors import KpayError
from core.http import client_info
from orders.attribution import referral_from_request
from promotions import selectors as promotion_selectors
from promotions.exceptions import PointsInvalid
from promotions.points import points_cap, points_value

from . import calendar, selectors
from .services.purchase import plan_checkout


def _with_my_memberships(request, plans) -> list:
    """The plans, each with ``running_until``: the last day of the learner's membership
    of it while it runs (None otherwise)."""
    plans = list(plans)
    mine = selectors.memberships_by_plan(learner=request.user, plans=plans)
    now = timezone.now()
    for plan in plans:
        membership = mine.get(plan.pk)
        running = membership is not None and membership.ends_at is not None and membership.ends_at > now
        plan.running_until = membership.last_day if running else None
    return plans


@require_safe
def plan_index(request):
    """Every merchant's plans on sale."""
    return render(
        request, "memberships/index.html", {"plans": _with_my_memberships(request, selectors.plans_on_sale())}
    )


@require_safe
def merchant_plans(request, merchant_slug):
    """A merchant's membership page: its plans, each with a buy button."""
    merchant = selectors.merchant_with_plans(slug=merchant_slug)
    if merchant is None:
        raise Http404
    plans = _with_my_memberships(request, selectors.plans_on_sale(merchant=merchant))
    return render(request, "memberships/merchant.html", {"merchant": merchant, "plans": plans})


@require_safe
def plan_detail(request, slug):
    """One plan: what it opens, until when the learner's membership would run, and the
    buy form (a coupon from the wallet or by code, points)."""
    plan = selectors.plan_get_on_sale(slug=slug)
    if plan is None:
        raise Http404
    now = timezone.now()
    membership = selectors.membership_of(learner=request.user, plan=plan)
    running = membership is not None and membership.ends_at is not None and membership.ends_at > now
    start = membership.ends_at if running else now
    context = {
        "plan": plan,
        "membership": membership if running else None,
        "would_end": calendar.last_day(
            calendar.period_end(start=start, period=plan.period, period_days=plan.period_days)
        ),
        "time_zone": timezone.get_default_timezone_name(),
    }
    if request.user.is_authenticated:
        balance = promotion_selectors.points_balance(learner_id=request.user.pk, at=now)
        wallet = promotion_selectors.wallet_list_for_learner(learner=request.user, at=now)
        context |= {
            "wallet": wallet.filter(state="available")[:50],
            "points_balance": balance,
            "points_balance_value": points_value(max(balance, 0)),
            "points_max": max(0, min(balance, points_cap(subtotal=plan.price, discount=0))),
        }
    return render(request, "memberships/plan.html", context)


@require_POST
def plan_buy(request, slug):
    """Place an order for one period of the plan (or reuse the open one) and go and pay
    it on the pay page every order uses."""
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("memberships:plan", args=[slug]))
    coupon = (request.POST.get("coupon_code") or "").strip()[:32] or (
        request.POST.get("coupon") or ""
    ).strip()
    raw_points = (request.POST.get("points") or "").strip()
    try:
        points = int(raw_points) if raw_points else None
        result = plan_checkout(
            learner=request.user,
            plan_slug=slug,
            client=client_info(request),
            coupon=coupon or None,
            points=points or None,
            referral=referral_from_request(request),
        )
    except ValueError:
        messages.error(request, str(PointsInvalid.message))
        return redirect("memberships:plan", slug=slug)
    except KpayError as exc:
        if exc.http_status == 404 and exc.code == "plan_not_available":
            raise Http404(str(exc.message)) from exc
        messages.error(request, str(exc.message))
        return redirect("memberships:plan", slug=slug)
    return redirect("payments:pay", order_no=result.order.order_no)


@require_safe
@login_required
def my_memberships(request):
    now = timezone.now()
    memberships = list(selectors.memberships_for_learner(learner=request.user, at=now))
    return render(
        request,
        "memberships/mine.html",
        {
            "memberships": memberships,
            "now": now,
            "time_zone": timezone.get_default_timezone_name(),
        },
    )
