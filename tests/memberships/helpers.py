"""Fixtures and helpers for the membership tests (collected by this folder's conftest)."""

from datetime import datetime

import factory
import pytest
from django.utils import timezone

from courses import roles
from memberships.models import Plan
from memberships.services.purchase import plan_checkout
from payments.services import payment_start
from promotions.points import points_grant
from tests.factories import CourseFactory, LessonFactory, MerchantFactory
from tests.refunds.conftest import _english, gateway_refunds, support, support2  # noqa: F401

_real_now = timezone.now


class PlanFactory(factory.django.DjangoModelFactory):
    """A monthly plan opening every course of its merchant, 30.00 yuan a period."""

    class Meta:
        model = Plan
        skip_postgeneration_save = True

    merchant = factory.SubFactory(MerchantFactory)
    slug = factory.Sequence(lambda n: f"plan-{n}")
    title = factory.Sequence(lambda n: f"Membership {n}")
    period = Plan.Period.MONTH
    price = 3000
    all_courses = True

    @factory.post_generation
    def courses(self, create, extracted, **kwargs):
        if create and extracted:
            self.courses.set(extracted)


def local(text: str) -> datetime:
    """``"2026-01-15 14:00"`` in the site's time zone (Asia/Shanghai)."""
    return timezone.make_aware(datetime.fromisoformat(text), timezone.get_default_timezone())


class Clock:
    """``timezone.now()`` under the test's control: ``set`` it (local time) or leave it real."""

    def __init__(self):
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at if self.at is not None else _real_now()

    def set(self, when) -> datetime:
        self.at = local(when) if isinstance(when, str) else when
        return self.at


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock)
    return clock


@pytest.fixture
def studio(db):
    """A merchant with two published courses (a preview and a paid lesson each) and a draft."""
    merchant = MerchantFactory(name="Studio", slug="studio")
    for slug in ("studio-one", "studio-two"):
        course = CourseFactory(merchant=merchant, slug=slug, title=slug.replace("-", " ").title())
        LessonFactory(course=course, title=f"{slug} welcome", is_preview=True)
        LessonFactory(course=course, title=f"{slug} members only")
    draft = CourseFactory(merchant=merchant, slug="studio-draft", status="draft")
    LessonFactory(course=draft, title="not ready")
    return merchant


@pytest.fixture
def plan(studio):
    """Monthly, 30.00 yuan, every course of the studio."""
    return PlanFactory(merchant=studio, slug="studio-monthly", title="Studio monthly")


@pytest.fixture
def buy_plan(sandbox):
    """Buy one period of ``plan`` as ``learner`` through the services and the sandbox
    webhook; returns the paid (delivered) order and its payment."""

    def buy(learner, plan, *, coupon=None, points=None):
        order = plan_checkout(learner=learner, plan_slug=plan.slug, coupon=coupon, points=points).order
        payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
        assert sandbox.pay(payment).status_code == 204
        order.refresh_from_db()
        payment.refresh_from_db()
        return order, payment

    return buy


@pytest.fixture
def give_points(staff):
    marketing = staff(roles.MARKETING, "points-giver")

    def give(learner, points):
        return points_grant(actor=marketing, learner_id=learner.pk, points=points, reason="welcome")

    return give
