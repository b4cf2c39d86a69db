"""The promoter's site pages: the link visitors follow, applying, and the promoter page
with its links, figures, withdrawals (提现) and the CSV of referred orders."""

import csv

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from core.errors import KpayError
from core.http import client_info
from core.money import format_yuan
from courses.models import Course, Merchant
from settlement.exceptions import (
    InsufficientBalance,
    InvalidPayoutAmount,
    PayoutAboveMaximum,
    PayoutBelowMinimum,
)

from . import selectors, services
from .exceptions import CourseNotPromoted
from .forms import WithdrawalForm
from .models import Promoter

COOKIE_MAX_AGE = 365 * 24 * 3600  # the programme's window decides, at checkout
PAYOUTS_SHOWN = 20  # a promoter's latest withdrawals on the page


def _yuan(fen: int) -> str:
    """An amount as the site shows it: ``¥1234.56``."""
    return format_yuan(fen, symbol=True)


@require_safe
def follow(request, code):
    """A visitor follows a promoter's link: count the click, keep the referral (cookie,
    and on the user when logged in), and show the course."""
    made = services.click_record(code=code, user=request.user, client=client_info(request))
    if made is None:
        raise Http404()
    link, referral = made
    response = redirect("courses:detail", slug=link.course.slug)
    response.set_cookie(
        services.COOKIE,
        referral.sign(),
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=not settings.DEBUG and request.is_secure(),
    )
    return response


@require_POST
@login_required
def apply(request, merchant_slug):
    merchant = get_object_or_404(Merchant, slug=merchant_slug)
    try:
        services.promoter_apply(
            user=request.user, merchant_id=merchant.pk, pitch=request.POST.get("pitch", "")
        )
    except KpayError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(
            request,
            _("Your application was sent to %(merchant)s: its staff will decide on it.")
            % {"merchant": merchant.name},
        )
    return redirect("promoters:page")


def _may_withdraw(promoter: Promoter, available: int) -> bool:
    """Whether the page offers the form: an approved promoter, or a refused one with
    commission earned before (the payout flow decides the rest)."""
    return promoter.status == Promoter.Status.APPROVED or (
        promoter.status == Promoter.Status.REFUSED and available > 0
    )


def _render_page(request, *, bound: WithdrawalForm | None = None):
    promoters = selectors.promoters_of(user=request.user)
    stats = selectors.promoter_stats(promoters=promoters)
    payouts = selectors.payouts_by_promoter(promoters, shown=PAYOUTS_SHOWN)
    courses = selectors.courses_by_programme(promoters)
    rows = []
    for promoter in promoters:
        linked = {link.course_id for link in promoter.links.all()}
        mine = payouts.get(promoter.pk, [])
        available = stats[promoter.pk]["available"]
        if bound is not None and bound.promoter.pk == promoter.pk:
            form = bound  # sent, and refused: shown with why, and what was typed
        elif _may_withdraw(promoter, available):
            form = WithdrawalForm(promoter=promoter, last_payout=mine[0] if mine else None)
        else:
            form = None
        rows.append(
            {
                "promoter": promoter,
                "stats": stats[promoter.pk],
                "links": [
                    {
                        "link": link,
                        "url": request.build_absolute_uri(reverse("promoters:follow", args=[link.code])),
                    }
                    for link in promoter.links.all()
                ],
                # The programme's courses with no link yet: "Get my link".
                "unlinked": [c for c in courses.get(promoter.programme_id, []) if c.pk not in linked]
                if promoter.status == Promoter.Status.APPROVED
                else [],
                "payouts": mine,
                "form": form,
                "debt": -available if available < 0 else 0,
            }
        )
    return render(
        request,
        "promoters/page.html",
        {"rows": rows, "open_programmes": selectors.open_programmes(promoters)},
    )


@require_safe
@login_required
def page(request):
    return _render_page(request)


def _refusal_on_form(form: WithdrawalForm, exc: KpayError, *, available: int) -> None:
    """Put the payout flow's refusal on the form, with the figures that explain it."""
    if isinstance(exc, PayoutBelowMinimum):
        message = _("The minimum withdrawal is %(min)s.") % {"min": _yuan(settings.KPAY_PAYOUT_MIN)}
    elif isinstance(exc, PayoutAboveMaximum):
        message = _("The maximum withdrawal is %(max)s.") % {"max": _yuan(settings.KPAY_PAYOUT_MAX)}
    elif isinstance(exc, InsufficientBalance) and available < 0:
        message = _(
            "You owe %(debt)s of commission on refunded orders: it comes off your next "
            "commission, and you can withdraw once something is available again."
        ) % {"debt": _yuan(-available)}
    elif isinstance(exc, InsufficientBalance):
        message = _("Only %(available)s is available.") % {"available": _yuan(available)}
    elif isinstance(exc, InvalidPayoutAmount):
        message = str(exc.message)
    else:
        form.add_error(None, str(exc.message))
        return
    form.add_error("amount", message)


@require_POST
@login_required
def make_link(request, promoter_id):
    """The promoter's link to one course of the programme (made once; again: the same)."""
    promoter = selectors.promoter_of(user=request.user, promoter_id=promoter_id)
    if promoter is None:
        raise Http404()
    course = Course.objects.filter(pk=_int_or_none(request.POST.get("course"))).first()
    try:
        if course is None:
            raise CourseNotPromoted()
        services.link_for(promoter=promoter, course_id=course.pk)
    except KpayError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Your link to %(course)s is ready.") % {"course": course.title})
    return redirect(f"{reverse('promoters:page')}#promoter-{promoter.pk}")


def _int_or_none(text) -> int | None:
    try:
        number = int(text)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


@require_POST
@login_required
def withdraw(request, promoter_id):
    """Ask to withdraw available commission (提现) through the payout flow: finance
    decides, and the page lists the withdrawal with its status. The form's token makes
    a double click, or the form sent again, one payout."""
    promoter = selectors.promoter_of(user=request.user, promoter_id=promoter_id)
    if promoter is None:
        raise Http404()
    last = selectors.last_payout(promoter)
    form = WithdrawalForm(request.POST, promoter=promoter, last_payout=last)
    if form.is_valid():
        data = form.cleaned_data
        try:
            payout, made = services.promoter_payout_request_once(
                user=request.user,
                token=data["token"],
                promoter_id=promoter.pk,
                amount=data["amount"],
                account_name=data["account_name"],
                bank_name=data["bank_name"],
                account_number=data["account_number"],
            )
        except KpayError as exc:
            available = selectors.promoter_stats(promoters=[promoter])[promoter.pk]["available"]
            _refusal_on_form(form, exc, available=available)
        else:
            figures = {"no": payout.payout_no, "amount": _yuan(payout.amount)}
            if made:
                messages.success(
                    request,
                    _("Withdrawal %(no)s of %(amount)s requested: finance reviews it; its status is below.")
                    % figures,
                )
            else:
                messages.info(request, _("Withdrawal %(no)s of %(amount)s was already requested.") % figures)
            return redirect(f"{reverse('promoters:page')}#promoter-{promoter.pk}")
    return _render_page(request, bound=form)


@require_safe
@login_required
def orders_csv(request, promoter_id):
    promoter = selectors.promoter_of(user=request.user, promoter_id=promoter_id)
    if promoter is None:
        raise Http404()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="promoter-{promoter.pk}-orders.csv"'
    writer = csv.writer(response)
    writer.writerow(["order", "paid_at", "status", "paid", "refunded", "commission"])
    for referral in selectors.referred_orders(promoter=promoter):
        order = referral.order
        writer.writerow(
            [
                order.order_no,
                order.paid_at.isoformat(),
                order.status,
                format_yuan(order.total),
                format_yuan(order.refunded_amount),
                format_yuan(referral.commission),
            ]
        )
    return response
