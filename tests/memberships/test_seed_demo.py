"""seed_demo gives each demo merchant one membership plan, on sale, once."""

import pytest
from django.core.management import call_command

from memberships.models import Plan
from memberships.selectors import plans_on_sale

pytestmark = pytest.mark.django_db


def test_each_demo_merchant_gets_one_plan(client):
    call_command("seed_demo")
    call_command("seed_demo")

    plans = {plan.merchant.slug: plan for plan in plans_on_sale()}
    assert set(plans) == {"demo-studio", "second-studio"} and Plan.objects.count() == 2
    assert plans["demo-studio"].all_courses and plans["demo-studio"].period == "month"
    second = plans["second-studio"]
    assert not second.all_courses and [c.slug for c in second.courses.all()] == ["photography-basics"]
    # merchant2 sees its own plan in the admin, not Demo Studio's.
    assert client.login(username="merchant2", password="kpay-demo")
    page = client.get("/admin/memberships/plan/").text
    assert second.title in page and plans["demo-studio"].title not in page
