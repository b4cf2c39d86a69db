"""Order pages: placing an order (checkout), the learner's orders, cancelling one."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from core.errors import KpayError
from core.http import client_info, next_url
from promotions import selectors as promotion_selectors
from promotions.exceptions import PointsInvalid, PromotionError
from promotions.points import points_cap, points_value

from . import selectors, services
from .attribution import referral_from_request
from .models import Order

ORDERS_PAGE_SIZE = 20
STATUS_LABELS = dict(Order.Status.choices)


def _raise_if_not_found(exc: KpayError) -> None:
    """An error meaning "no such thing (for you)" is a 404 page, not a message."""
    if exc.http_status == 404:
        raise Http404(str(exc.message)) from exc


@require_POST
def checkout(request, slug):
    """Place an order for the course (or reuse the open one) and go and pay it."""
    if not request.user.is_authenticated:
        # Back to the course page after logging in: this URL answers POST only.
        return redirect_to_login(reverse("courses:detail", args=[slug]))
    coupon = (request.POST.get("coupon_code") or "").strip()[:32] or (
        request.POST.get("coupon") or ""
    ).strip()
    raw_points = (request.POST.get("points") or "").strip()
    try:
        points = int(raw_points) if raw_points else None
        if points == 0:
            points = None
        result = services.order_checkout(
            learner=request.user,
            course_slug=slug,
            client=client_info(request),
            referral=referral_from_request(request),
            coupon=coupon or None,
            points=points,
        )
    except ValueError:
        messages.error(request, str(PointsInvalid.message))
        return redirect("orders:checkout-coupon", slug=slug)
    except PromotionError as exc:
        messages.error(request, str(exc.message))
        return redirect("orders:checkout-coupon", slug=slug)
    except KpayError as exc:
        _raise_if_not_found(exc)
        messages.error(request, str(exc.message))
        return redirect("courses:detail", slug=slug)
    return redirect("payments:pay", order_no=result.order.order_no)


@require_safe
@login_required
def checkout_with_coupon(request, slug):
    """Choose a coupon before placing the order: the wallet's coupons, a code, or one to
    claim for this course. The form posts to :func:`checkout`, which prices the order."""
    course = selectors.course_for_checkout(learner=request.user, slug=slug)
    if course is None:
        raise Http404
    if course.owned:
        return redirect("courses:detail", slug=slug)
    now = timezone.now()
    balance = promotion_selectors.points_balance(learner_id=request.user.pk, at=now)
    wallet = promotion_selectors.wallet_list_for_learner(learner=request.user, at=now).filter(
        state="available"
    )
    return render(
        request,
        "orders/checkout_coupon.html",
        {
            "course": course,
            "wallet": wallet[:50],
            "claimable": promotion_selectors.coupons_claimable(at=now, course=course)[:20],
            "points_balance": balance,
            "points_balance_value": points_value(max(balance, 0)),
            "points_max": max(0, min(balance, points_cap(subtotal=course.price, discount=0))),
        },
    )


@require_safe
@login_required
def my_orders(request):
    page = Paginator(selectors.order_list_for_learner(learner=request.user), ORDERS_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "orders/my_orders.html",
        {
            "page": page,
            "orders": page.object_list,
            "now": timezone.now(),
        },
    )


@require_safe
@login_required
def order_detail(request, order_no):
    order = selectors.order_get_for_learner(learner=request.user, order_no=order_no)
    if order is None:
        raise Http404
    history = [
        {"at": change.created_at, "label": STATUS_LABELS.get(change.to_status, change.to_status)}
        for change in order.status_changes.all()
    ]
    redemption = promotion_selectors.redemption_for_order(order_id=order.pk) if order.discount else None
    return render(
        request,
        "orders/detail.html",
        {
            "order": order,
            "history": history,
            "now": timezone.now(),
            "coupon_name": redemption.coupon.name if redemption is not None else "",
        },
    )


@require_http_methods(["GET", "HEAD", "POST"])
def cancel(request, order_no):
    """Cancelling takes two steps: GET (or a POST without ``confirm``, as an old form
    sends) shows what cancelling means and asks; POST ``confirm=yes`` cancels."""
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("orders:detail", args=[order_no]))
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            order = services.order_cancel(learner=request.user, order_no=order_no)
        except KpayError as exc:
            _raise_if_not_found(exc)
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Order %(order_no)s was cancelled.") % {"order_no": order.order_no})
        return redirect(next_url(request, "orders:my-orders"))
    order = selectors.order_get_for_learner(learner=request.user, order_no=order_no)
    if order is None:
        raise Http404
    if not order.is_payable:
        messages.info(
            request,
            _("This order cannot be cancelled: it is %(status)s.") % {"status": order.get_status_display()},
        )
        return redirect("orders:detail", order_no=order.order_no)
    return render(
        request,
        "orders/cancel_confirm.html",
        {"order": order, "next": next_url(request, "orders:my-orders")},
    )
