"""Promoter demo data for ``manage.py seed_demo`` (分销): Demo Studio's programme, an
approved demo promoter with a link per course, and (played in the finance fortnight,
:mod:`devtools.settlement_demo`) clicks and referred orders paid, settled or still in
their refund window, so the promoter page and the back office show figures.

Everything goes through the real services (applying, approving, links, clicks, checkout
with the referral, paying, settling): the commission is in the journal as for any
referred order. Safe to run again: the programme and the promoter are matched, the
clicks and orders are played once.
"""

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model

from core.errors import KpayError
from core.http import ClientInfo
from courses.models import Course, Merchant
from memberships.models import Plan
from promoters.models import OrderReferral, Programme, Promoter, ReferralLink
from promoters.selectors import promoter_stats
from promoters.services import Referral, click_record, link_for, promoter_apply, promoter_approve

PROMOTER_USERNAME = "promoter"
RATE_BP = 2000  # 20% of what the learner paid
# Visitors who follow the promoter's links without buying: (days ago, hour, course slug).
BROWSING_CLICKS = [
    (13, 8, "python-basics"),
    (12, 20, "data-analysis"),
    (11, 21, "writing-that-works"),
    (9, 19, "python-basics"),
    (6, 12, "data-analysis"),
    (3, 22, "python-basics"),
    (1, 9, "writing-that-works"),
]


def demo_programme(*, merchant: Merchant) -> Programme:
    """The merchant's programme: its published courses and its plans, at :data:`RATE_BP`."""
    programme, _ = Programme.objects.update_or_create(
        merchant=merchant, defaults={"rate_bp": RATE_BP, "attribution_days": 30, "active": True}
    )
    programme.courses.set(Course.objects.filter(merchant=merchant, status=Course.Status.PUBLISHED))
    programme.plans.set(Plan.objects.filter(merchant=merchant, is_active=True))
    return programme


def demo_promoter(*, merchant: Merchant) -> Promoter | None:
    """The demo promoter, applied and approved by the merchant's staff (as in the admin),
    with a link to every course of the programme. None without a staff user to approve."""
    users = get_user_model().objects
    user = users.filter(username=PROMOTER_USERNAME).first()
    staff = users.filter(merchant_membership__merchant=merchant, is_active=True, is_staff=True).first()
    if user is None or staff is None:
        return None
    programme = demo_programme(merchant=merchant)
    promoter = Promoter.objects.filter(programme=programme, user=user).first()
    if promoter is None:
        promoter = promoter_apply(
            user=user, merchant_id=merchant.pk, pitch="演示推广员：在公众号和社群分享课程。Demo promoter."
        )
    if promoter.status == Promoter.Status.APPLIED:
        promoter = promoter_approve(promoter_id=promoter.pk, by=staff, note="demo")
    if promoter.status == Promoter.Status.APPROVED:  # refused by someone trying the admin: left so
        for course_id in programme.courses.values_list("pk", flat=True):
            link_for(promoter=promoter, course_id=course_id)
    return promoter


def _link(promoter: Promoter, slug: str) -> ReferralLink | None:
    return promoter.links.filter(course__slug=slug).first()


def demo_click(
    *, promoter: Promoter, slug: str, at: datetime, user=None, visitor: int = 0
) -> Referral | None:
    """A visit through the promoter's link to course ``slug`` at ``at`` (by ``user`` when
    given, who then carries the referral to checkout)."""
    link = _link(promoter, slug)
    if link is None:
        return None
    client = ClientInfo(ip=f"198.51.100.{10 + visitor % 200}", device_id=f"demo-visitor-{visitor}")
    made = click_record(code=link.code, user=user, client=client, now=at)
    return None if made is None else made[1]


def browsing_clicks(*, promoter: Promoter, at) -> int:
    """:data:`BROWSING_CLICKS`, each at ``at(days_ago, hour)``."""
    made = 0
    for visitor, (days_ago, hour, slug) in enumerate(BROWSING_CLICKS, start=100):
        made += demo_click(promoter=promoter, slug=slug, at=at(days_ago, hour), visitor=visitor) is not None
    return made


def summary(promoter: Promoter | None) -> str:
    if promoter is None:
        return "Promoter demo: skipped (no promoter login or no merchant staff to approve it)."
    figures = promoter_stats(promoters=[promoter])[promoter.pk]
    return (
        f"Promoter demo: {figures['clicks']} clicks, {figures['orders']} referred orders, commission "
        f"{figures['pending']} pending, {figures['available']} available (fen)."
    )


def referred_order_now(*, promoter: Promoter, pay, buyer, now: datetime) -> bool:
    """For a database seeded before the promoter demo existed (the fortnight is played
    once): one click and one referred order paid now, its commission pending. False when
    the promoter already has referred orders or nothing is left to buy."""
    if OrderReferral.objects.filter(promoter=promoter).exists():
        return False
    for link in promoter.links.select_related("course"):
        slug = link.course.slug
        referral = demo_click(promoter=promoter, slug=slug, at=now - timedelta(minutes=5), user=buyer)
        try:
            pay(buyer, slug, "sandbox", referral=referral)
        except KpayError:
            continue  # already owned, or held: try the next course
        return True
    return False
