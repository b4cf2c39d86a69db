"""Memberships over the API: plans, buying a period (coupon, points, Idempotency-Key), the
learner's memberships; refusals in the error shape with their machine codes, never a 500."""

import pytest
from rest_framework.test import APIClient

from memberships.models import MembershipPeriod
from orders.models import Order
from payments.models import Payment
from tests.factories import CouponFactory, UserFactory
from tests.memberships.helpers import PlanFactory, local

pytestmark = pytest.mark.django_db


@pytest.fixture
def token_client(api_client, learner):
    response = api_client.post(
        "/api/v1/auth/token/", {"username": learner.username, "password": "pw-learner-123"}
    )
    assert response.status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return api_client


def test_plans_are_listed_for_anyone_with_what_they_open(api_client, plan, studio):
    chosen = PlanFactory(
        merchant=studio,
        slug="studio-one-only",
        all_courses=False,
        courses=[studio.courses.get(slug="studio-one")],
    )
    PlanFactory(slug="off-sale", is_active=False)

    listing = api_client.get("/api/v1/memberships/plans/")

    assert listing.status_code == 200
    by_slug = {p["slug"]: p for p in listing.json()["results"]}
    assert set(by_slug) == {plan.slug, chosen.slug}
    assert by_slug[plan.slug] | {"description": ""} == {
        "slug": "studio-monthly",
        "title": "Studio monthly",
        "description": "",
        "merchant": "Studio",
        "merchant_slug": "studio",
        "period": "month",
        "period_days": None,
        "price": 3000,
        "currency": "CNY",
        "all_courses": True,
        "courses": [],
        "renewal_allowed": True,
    }
    assert by_slug[chosen.slug]["courses"] == ["studio-one"]
    assert api_client.get("/api/v1/memberships/plans/", {"merchant": "nobody"}).json()["count"] == 0
    assert api_client.get(f"/api/v1/memberships/plans/{plan.slug}/").json()["price"] == 3000
    missing = api_client.get("/api/v1/memberships/plans/off-sale/")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "plan_not_available"


def test_buying_a_plan_with_a_coupon_and_points_then_paying_it(
    token_client, plan, learner, sandbox, give_points, clock
):
    clock.set("2026-01-15 14:00")
    CouponFactory(
        code="STUDIO5", scope="merchant", merchant=plan.merchant, funded_by="merchant", amount_off=500
    )
    give_points(learner, 500)

    created = token_client.post(
        f"/api/v1/memberships/plans/{plan.slug}/orders/", {"coupon": "studio5", "points": 500}, format="json"
    )

    assert created.status_code == 201, created.json()
    order = created.json()
    assert (order["subtotal"], order["discount"], order["points_discount"], order["total"]) == (
        3000,
        500,
        500,
        2000,
    )
    assert order["lines"] == [
        {
            "kind": "membership",
            "course": "",
            "plan": "studio-monthly",
            "title": "Studio monthly",
            "unit_price": 3000,
            "quantity": 1,
            "amount": 3000,
        }
    ]
    paid = token_client.post(
        f"/api/v1/orders/{order['order_no']}/pay/", {"channel": "sandbox"}, format="json"
    )
    assert paid.status_code == 201
    assert sandbox.pay(Payment.objects.get(payment_no=paid.json()["payment_no"])).status_code == 204

    mine = token_client.get("/api/v1/memberships/mine/").json()
    assert mine["count"] == 1
    membership = mine["results"][0]
    assert (membership["plan"], membership["state"], membership["auto_renew"]) == (
        "studio-monthly",
        "active",
        False,
    )
    assert membership["last_day"] == "2026-02-15" and membership["grace_until"] is None
    assert membership["ends_at"] == local("2026-02-16 00:00").isoformat()
    [period] = membership["periods"]
    assert (period["sequence"], period["order_no"], period["price"], period["status"]) == (
        1,
        order["order_no"],
        2000,
        "active",
    )
    assert period["last_day"] == "2026-02-15" and period["ended_at"] is None


def test_an_open_order_is_reused_and_an_idempotency_key_replays(token_client, plan):
    url = f"/api/v1/memberships/plans/{plan.slug}/orders/"
    headers = {"HTTP_IDEMPOTENCY_KEY": "plan-key-1"}
    first = token_client.post(url, {}, format="json", **headers)
    replay = token_client.post(url, {}, format="json", **headers)
    other_body = token_client.post(url, {"points": 5}, format="json", **headers)
    again = token_client.post(url, {}, format="json")

    assert (first.status_code, replay.status_code, again.status_code) == (201, 201, 200)
    assert first.json() == replay.json() and again.json()["order_no"] == first.json()["order_no"]
    assert other_body.status_code == 422 and other_body.json()["error"]["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_stacked_periods_over_the_api(token_client, plan, learner, buy_plan, clock):
    clock.set("2026-01-15 14:00")
    buy_plan(learner, plan)
    buy_plan(learner, plan)
    membership = token_client.get("/api/v1/memberships/mine/").json()["results"][0]
    assert [p["last_day"] for p in membership["periods"]] == ["2026-02-15", "2026-03-15"]
    assert membership["last_day"] == "2026-03-15"


def test_someone_else_s_memberships_are_not_listed(token_client, plan, buy_plan):
    buy_plan(UserFactory(), plan)
    assert token_client.get("/api/v1/memberships/mine/").json()["count"] == 0


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"coupon": "NOPE"}, 404, "coupon_not_found"),
        ({"coupon": "X" * 33}, 400, "invalid"),
        ({"points": "many"}, 400, "invalid"),
        ({"points": 0}, 400, "invalid"),
        ({"points": -5}, 400, "invalid"),
        ({"points": 10**13}, 400, "invalid"),
        ({"points": 100}, 409, "points_insufficient"),
        ({"coupon": ["a"]}, 400, "invalid"),
        ([1, 2], 400, "invalid"),
    ],
)
def test_bad_input_is_a_clear_4xx(token_client, plan, body, status, code):
    response = token_client.post(f"/api/v1/memberships/plans/{plan.slug}/orders/", body, format="json")
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert not Order.objects.exists()


def test_bad_paths_bodies_and_credentials_are_4xx(token_client, plan):
    for path in ("/api/v1/memberships/plans/nope/orders/", "/api/v1/memberships/plans/%20/orders/"):
        response = token_client.post(path, {}, format="json")
        assert response.status_code == 404 and "error" in response.json()
    unknown = token_client.post("/api/v1/memberships/plans/nope/orders/", {}, format="json")
    assert unknown.json()["error"]["code"] == "plan_not_available"
    malformed = token_client.post(
        f"/api/v1/memberships/plans/{plan.slug}/orders/", data=b"{not json", content_type="application/json"
    )
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "parse_error"
    deep = token_client.post(
        f"/api/v1/memberships/plans/{plan.slug}/orders/",
        data=b"[" * 100_000 + b"]" * 100_000,
        content_type="application/json",
    )
    assert deep.status_code == 400
    anonymous = APIClient()
    assert (
        anonymous.post(f"/api/v1/memberships/plans/{plan.slug}/orders/", {}, format="json").status_code == 401
    )
    assert anonymous.get("/api/v1/memberships/mine/").status_code == 401
    assert token_client.get("/api/v1/memberships/mine/", {"page": "x"}).status_code == 404
    assert not Order.objects.exists() and not MembershipPeriod.objects.exists()


def test_the_schema_documents_the_membership_endpoints_and_their_errors():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    buy = paths["/api/v1/memberships/plans/{slug}/orders/"]["post"]
    assert {"200", "201", "400", "401", "403", "404", "409", "422"} <= set(buy["responses"])
    assert "plan_not_available" in buy["responses"]["404"]["description"]
    assert any(p["name"] == "Idempotency-Key" for p in buy["parameters"])
    for path in ("/api/v1/memberships/plans/", "/api/v1/memberships/mine/"):
        listing = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in listing  # a paginated component
    line = schema["components"]["schemas"]["OrderLineOutput"]["properties"]
    assert {"kind", "course", "plan"} <= set(line)
