"""Payment pages: choose a channel and scan, watch the order's status, see the result.

Nothing here marks anything paid: only a verified gateway notification (webhooks) or
a gateway query (services) does. The result page the gateway sends the learner back
to only reads.
"""

from urllib.parse import urlencode

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from core.errors import KpayError
from core.http import client_info
from core.money import AmountError, yuan_to_fen
from orders.exceptions import OrderNotFound
from orders.models import Order
from orders.selectors import order_get_for_learner

from . import selectors, services
from .gateways import available_channels, channel_label
from .models import Payment

DELIVERED = (Order.Status.FULFILLED, Order.Status.COMPLETED)


def _own_order(request, order_no: str) -> Order:
    order = order_get_for_learner(learner=request.user, order_no=order_no)
    if order is None:
        raise Http404
    return order


def _qr_svg(url: str) -> str:
    """The URL as an inline SVG QR code, drawn here: no third-party QR service sees it."""
    svg = segno.make(url, micro=False, error="m").svg_inline(
        scale=4,
        dark="#000",
        light="#fff",
        omitsize=True,  # a viewBox: CSS sizes it
    )
    return mark_safe(svg)  # noqa: S308 - segno's own markup; the URL is encoded in path data


def _is_web_url(url: str) -> bool:
    return url.startswith(("https://", "http://"))


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def pay(request, order_no):
    """GET: the order and, once a payment is under way, its QR code. POST ``channel``:
    start (or reuse) a payment on that channel, then show it (post/redirect/get)."""
    if request.method == "POST":
        return _start_payment(request, order_no)
    order = _own_order(request, order_no)
    if order.is_paid:
        return redirect("payments:result", order_no=order.order_no)
    now = timezone.now()
    payable = order.is_payable and order.expires_at > now
    payment = None
    if payable:
        payment = selectors.payment_pending_for_order(
            order=order, now=now, payment_no=request.GET.get("payment", "")
        )
    action = payment.action if payment else {}
    code_url = action.get("code_url", "")
    return render(
        request,
        "payments/pay.html",
        {
            "order": order,
            "payable": payable,
            "closed": order.status in Order.CLOSED_STATUSES,
            "payment": payment,
            "channel_label": channel_label(payment.channel) if payment else "",
            "qr_svg": _qr_svg(code_url) if code_url else "",
            "cashier_url": next(
                (url for url in (code_url, action.get("redirect_url", "")) if _is_web_url(url)), ""
            ),
            "channels": [
                (channel, channel_label(channel)) for channel in available_channels(payer_id_known=False)
            ],
            "my_orders_url": reverse("orders:my-orders"),
        },
    )


def _start_payment(request, order_no):
    try:
        payment = services.payment_start(
            learner=request.user,
            order_no=order_no,
            channel=request.POST.get("channel", ""),
            client=client_info(request),
        )
    except KpayError as exc:
        if isinstance(exc, OrderNotFound):
            raise Http404 from exc
        messages.error(request, str(exc.message))
        return redirect("payments:pay", order_no=order_no)
    query = urlencode({"payment": payment.payment_no})
    return redirect(f"{reverse('payments:pay', args=[order_no])}?{query}")


@login_required
@require_safe
@never_cache
def pay_status(request, order_no):
    """Where the order stands, for the page polling it while the learner pays. While it
    waits, the gateway is asked now and then too (a notification may be lost)."""
    order = _own_order(request, order_no)
    if order.is_payable:
        payment = selectors.payment_pending_for_order(order=order, now=timezone.now())
        if payment is not None and services.payment_sync_if_due(payment=payment).status != payment.status:
            order.refresh_from_db()
    return JsonResponse(
        {
            "status": order.status,
            "paid": order.is_paid,
            "closed": order.status in Order.CLOSED_STATUSES,
            "result_url": reverse("payments:result", args=[order.order_no]),
        }
    )


@login_required
@require_safe
@never_cache
def result(request, order_no):
    """Where the gateway sends the learner back to. It only reads: whatever the query
    string says, the order is paid only when the gateway's notification says so."""
    order = _own_order(request, order_no)
    if order.status in DELIVERED:
        state = "delivered"
    elif order.is_paid:
        state = "paid"
    elif order.status in Order.CLOSED_STATUSES:
        state = "closed"
    else:
        latest = selectors.latest_payment_for_order(order=order)
        state = "failed" if latest is not None and latest.status == Payment.Status.FAILED else "pending"
    return render(request, "payments/result.html", {"order": order, "state": state})


def _typed_amount(text: str) -> int | None:
    """A yuan amount typed by the learner ("12.50") in fen; None when left empty, 0 (which
    the service refuses as an invalid amount) when it is not an amount in whole fen."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return yuan_to_fen(text)
    except AmountError:
        return 0


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def refund_request(request, order_no):
    """Ask for a refund of a paid order, inside the refund window: all of it (no amount)
    or part. Support decides; the order's page shows where the request stands."""
    order = _own_order(request, order_no)
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        try:
            refund = services.refund_request(
                learner=request.user,
                order_no=order.order_no,
                amount=_typed_amount(request.POST.get("amount", "")),
                reason=reason,
            )
        except KpayError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(
                request,
                _("Your refund request %(refund_no)s was sent. We will e-mail you the result.")
                % {"refund_no": refund.refund_no},
            )
            return redirect("orders:detail", order_no=order.order_no)
    return render(
        request,
        "payments/refund_request.html",
        {
            "order": order,
            "allowed": order.learner_may_request_refund(),
            "refunds": order.refunds.all(),
        },
    )
