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
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from core.errors import KpayError
from core.http import client_info
from core.money import AmountError, yuan_to_fen
from courses.selectors import course_entry_points
from orders.exceptions import OrderNotFound
from orders.models import Order
from orders.selectors import order_get_for_learner
from promotions.selectors import redemption_for_order

from . import selectors, services
from .devices import SCAN_HINTS, Device, channels_for, device_of, presentation
from .exceptions import InvalidRefundAmount, RefundExceedsPaid, RefundReasonRequired
from .gateways import channel_label
from .models import Payment, Refund
from .wechat_auth import (
    session_openid,
    wechat_auth_finish,
    wechat_auth_needed,
    wechat_auth_return_url,
    wechat_auth_start,
)

REFUND_REASON_MAX = Refund._meta.get_field("reason").max_length
# Which field a refused refund request points at (the message says why).
REFUND_ERROR_FIELDS = {
    InvalidRefundAmount: "amount",
    RefundExceedsPaid: "amount",
    RefundReasonRequired: "reason",
}

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


def _device(request) -> Device:
    return device_of(request.headers.get("User-Agent"))


def _payer_id(request) -> str | None:
    return session_openid(request.session)


def _failed_payment(order: Order, *, payment_no: str = "") -> Payment | None:
    """The attempt the learner was making (``payment_no``, else the latest) if it failed
    (declined, or refused by the gateway) and nothing else is under way: the page says
    so and offers another way."""
    if not order.is_payable:
        return None
    if payment_no:
        chosen = order.payments.filter(payment_no=payment_no).first()
        if chosen is not None:
            return chosen if chosen.status == Payment.Status.FAILED else None
    if selectors.payment_pending_for_order(order=order, now=timezone.now()) is not None:
        return None
    latest = selectors.latest_payment_for_order(order=order)
    return latest if latest is not None and latest.status == Payment.Status.FAILED else None


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def pay(request, order_no):
    """GET: the order with its price breakdown, the channels that suit the learner's
    device, and once a payment is under way, how to complete it (a QR code, a button to
    the gateway's page, or WeChat's payment sheet). POST ``channel``: start (or reuse) a
    payment on that channel, then show it (post/redirect/get)."""
    if request.method == "POST":
        return _start_payment(request, order_no)
    order = _own_order(request, order_no)
    if order.is_paid:
        return redirect("payments:result", order_no=order.order_no)
    now = timezone.now()
    device = _device(request)
    payer_id_known = _payer_id(request) is not None
    payable = order.is_payable and order.expires_at > now
    # Inside WeChat, JSAPI needs the learner's openid: WeChat's silent authorisation, once.
    wechat_auth = (
        wechat_auth_needed(request.session) if device is Device.WECHAT and not payer_id_known else ""
    )
    if wechat_auth == "go" and payable:
        return redirect(_wechat_authorize_url(request.get_full_path()))
    channels = channels_for(device, payer_id_known=payer_id_known)
    offered = {choice.channel for choice in channels}
    requested = request.GET.get("payment", "")
    payment = failed = None
    if payable:
        payment = selectors.payment_pending_for_order(order=order, now=now, payment_no=requested)
        # Under way from another device (a QR code on the desktop): shown there, not here.
        if payment is not None and payment.payment_no != requested and payment.channel not in offered:
            payment = None
        if payment is None:
            failed = _failed_payment(order, payment_no=requested)
    action = payment.action if payment else {}
    code_url = action.get("code_url", "")
    shown_as = presentation(action, device) if payment else ""
    status_url = reverse("payments:status", args=[order.order_no])
    if payment is not None:
        status_url += "?" + urlencode({"payment": payment.payment_no})
    return render(
        request,
        "payments/pay.html",
        {
            "order": order,
            "payable": payable,
            "closed": order.status in Order.CLOSED_STATUSES,
            "payment": payment,
            "failed": failed,
            "failed_label": channel_label(failed.channel) if failed else "",
            "shown_as": shown_as,
            "channel_label": channel_label(payment.channel) if payment else "",
            "scan_hint": SCAN_HINTS.get(payment.channel, "") if payment else "",
            "qr_svg": _qr_svg(code_url) if code_url and shown_as == "qr" else "",
            "cashier_url": next(
                (url for url in (action.get("redirect_url", ""), code_url) if _is_web_url(url)), ""
            ),
            "jsapi_params": dict(action.get("client_params", {})) if shown_as == "jsapi" else None,
            "status_url": status_url,
            "channels": channels,
            # With a payment under way, the form offers the other ways to pay.
            "other_channels": [choice for choice in channels if choice.channel != payment.channel]
            if payment
            else [],
            # After a failure, the same way again if this device offers it.
            "preselected": failed.channel if failed and failed.channel in offered else "",
            "in_wechat": device is Device.WECHAT,
            "wechat_auth": wechat_auth,
            "wechat_authorize_url": _wechat_authorize_url(request.get_full_path())
            if wechat_auth == "retry"
            else "",
            "coupon_name": _coupon_name(order),
        },
    )


def _wechat_authorize_url(next_url: str) -> str:
    return f"{reverse('payments:wechat-authorize')}?{urlencode({'next': next_url})}"


def _safe_next(request, next_url: str) -> str:
    """``next_url`` if it stays on this site, else the learner's orders."""
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return reverse("orders:my-orders")


@login_required
@require_safe
@never_cache
def wechat_authorize(request):
    """Send the learner (inside WeChat) through WeChat's silent web authorisation, to
    learn their openid for WeChat Pay JSAPI, then back to ``?next=`` (this site only)."""
    next_url = _safe_next(request, request.GET.get("next", ""))
    try:
        return redirect(wechat_auth_start(session=request.session, next_url=next_url))
    except KpayError as exc:
        messages.error(request, str(exc.message))
        return redirect(next_url)


@login_required
@require_GET  # not HEAD: the state is spent once
@never_cache
def wechat_authorized(request):
    """Where WeChat sends the learner back (``?code=&state=``; no code when refused):
    keep the openid, or say why not; then back to where the authorisation started."""
    next_url = _safe_next(request, wechat_auth_return_url(request.session))
    try:
        wechat_auth_finish(
            session=request.session, code=request.GET.get("code", ""), state=request.GET.get("state", "")
        )
    except KpayError as exc:
        messages.error(request, str(exc.message))
    return redirect(next_url)


def _coupon_name(order: Order) -> str:
    if not order.discount:
        return ""
    redemption = redemption_for_order(order_id=order.pk)
    return redemption.coupon.name if redemption is not None else ""


def _start_payment(request, order_no):
    channel = request.POST.get("channel", "")
    try:
        payment = services.payment_start(
            learner=request.user,
            order_no=order_no,
            channel=channel,
            client=client_info(request),
            payer_id=_payer_id(request),  # used by the channels that need it (WeChat JSAPI)
        )
    except KpayError as exc:
        if isinstance(exc, OrderNotFound):
            raise Http404 from exc
        messages.error(request, str(exc.message))
        return redirect("payments:pay", order_no=order_no)
    redirect_url = payment.action.get("redirect_url", "")
    if presentation(payment.action, _device(request)) == "redirect" and _is_web_url(redirect_url):
        # The gateway's own page (Alipay's cashier, WeChat Pay H5) takes it from here and
        # sends the learner back to the result page.
        return redirect(redirect_url)
    query = urlencode({"payment": payment.payment_no})
    return redirect(f"{reverse('payments:pay', args=[order_no])}?{query}")


@login_required
@require_safe
@never_cache
def pay_status(request, order_no):
    """Where the order stands, for the page polling it while the learner pays: paid,
    closed, or the attempt being made failed (``?payment=`` names it). While it waits,
    the gateway is asked now and then too (a notification may be lost, and WeChat Pay
    sends none for a declined payment)."""
    order = _own_order(request, order_no)
    requested = request.GET.get("payment", "")
    if order.is_payable:
        payment = selectors.payment_pending_for_order(order=order, now=timezone.now(), payment_no=requested)
        if payment is not None and services.payment_sync_if_due(payment=payment).status != payment.status:
            order.refresh_from_db()
    return JsonResponse(
        {
            "status": order.status,
            "paid": order.is_paid,
            "closed": order.status in Order.CLOSED_STATUSES,
            "failed": _failed_payment(order, payment_no=requested) is not None,
            "result_url": reverse("payments:result", args=[order.order_no]),
        }
    )


@login_required
@require_safe
@never_cache
def result(request, order_no):
    """Where the gateway sends the learner back to. It only reads: whatever the query
    string says, the order is paid only when the gateway's notification says so. Once
    the course is delivered it leads into the course."""
    order = _own_order(request, order_no)
    if order.status in DELIVERED:
        state = "delivered"
    elif order.is_paid:
        state = "paid"
    elif order.status in Order.CLOSED_STATUSES:
        state = "closed"
    else:
        state = "failed" if _failed_payment(order) is not None else "pending"
    return render(
        request,
        "payments/result.html",
        {
            "order": order,
            "state": state,
            "courses": course_entry_points(
                slugs=[line.course_slug for line in order.line_items if line.course_slug]
            )
            if state == "delivered"
            else [],
        },
    )


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
    """Ask for a refund of a paid order, inside the refund window: all that is left (no
    amount) or part. Support decides; the order's page shows where the request stands.
    A refused request keeps what the learner typed; while refunds under way already
    cover everything that is left, no form is offered."""
    order = _own_order(request, order_no)
    typed = {"amount": "", "reason": ""}
    error_field = ""
    if request.method == "POST":
        typed = {
            "amount": request.POST.get("amount", "")[:32],
            "reason": request.POST.get("reason", "")[:REFUND_REASON_MAX],
        }
        try:
            refund = services.refund_request(
                learner=request.user,
                order_no=order.order_no,
                amount=_typed_amount(typed["amount"]),
                reason=typed["reason"],
            )
        except KpayError as exc:
            messages.error(request, str(exc.message))
            error_field = REFUND_ERROR_FIELDS.get(type(exc), "")
        else:
            messages.success(
                request,
                _("Your refund request %(refund_no)s was sent. We will e-mail you the result.")
                % {"refund_no": refund.refund_no},
            )
            return redirect("orders:detail", order_no=order.order_no)
    refunds = list(order.refunds.order_by("-created_at", "-pk"))
    return render(
        request,
        "payments/refund_request.html",
        {
            "order": order,
            "allowed": order.learner_may_request_refund(),
            "requestable": selectors.refund_requestable_amount(order=order),
            "in_flight": sum(
                refund.amount
                for refund in refunds
                if refund.in_flight and refund.origin != Refund.Origin.UNAPPLIED
            ),
            "refunds": refunds,
            "typed": typed,
            "error_field": error_field,
            "reason_max": REFUND_REASON_MAX,
        },
    )


@login_required
@require_safe
def receipt(request, order_no):
    """A printable receipt (电子收据) of one of the learner's paid orders; anyone else's
    order, or an unpaid one, is a 404."""
    found = selectors.receipt_for_learner(learner=request.user, order_no=order_no)
    if found is None:
        raise Http404
    return render(
        request,
        "payments/receipt.html",
        {
            "receipt": found,
            "order": found.order,
            "coupon_name": found.coupon_name,
            "channel_label": channel_label(found.payment.channel) if found.payment else "",
            "issued_at": timezone.now(),
        },
    )
