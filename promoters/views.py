"""The promoter's site pages: the link visitors follow, applying, and the promoter page
with its CSV of referred orders."""

import csv

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from core.errors import KpayError
from core.http import client_info
from core.money import format_yuan
from courses.models import Merchant

from . import selectors, services

COOKIE_MAX_AGE = 365 * 24 * 3600  # the programme's window decides, at checkout


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
    return redirect("promoters:page")


@require_safe
@login_required
def page(request):
    promoters = selectors.promoters_of(user=request.user)
    stats = selectors.promoter_stats(promoters=promoters)
    rows = [
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
        }
        for promoter in promoters
    ]
    return render(request, "promoters/page.html", {"rows": rows})


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
