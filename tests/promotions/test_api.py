import pytest

from promotions.models import WalletCoupon
from tests.factories import CouponFactory

pytestmark = pytest.mark.django_db


def test_claim_then_pay_less_with_the_wallet_coupon(token_client, course, learner):
    coupon = CouponFactory(code=None, amount_off=1500)

    claimed = token_client.post("/api/v1/coupons/claim/", {"coupon": coupon.pk}, format="json")

    assert claimed.status_code == 201, claimed.json()
    wallet_id = claimed.json()["id"]
    assert WalletCoupon.objects.get(pk=wallet_id).learner == learner
    wallet = token_client.get("/api/v1/coupons/").json()["results"]
    assert [(w["id"], w["state"], w["coupon"]["amount_off"]) for w in wallet] == [
        (wallet_id, "available", 1500)
    ]

    order = token_client.post(
        "/api/v1/orders/", {"course": course.slug, "coupon": str(wallet_id)}, format="json"
    )

    assert order.status_code == 201
    assert (order.json()["subtotal"], order.json()["discount"], order.json()["total"]) == (10_000, 1500, 8500)
    assert token_client.get("/api/v1/coupons/").json()["results"][0]["state"] == "in_use"


@pytest.mark.parametrize(
    ("coupon", "kwargs", "status", "code"),
    [
        ("NOPE", None, 404, "coupon_not_found"),
        ("MIN", {"min_spend": 99_999}, 409, "coupon_minimum_not_met"),
        ("SCOPE", {"scope": "courses"}, 409, "coupon_not_applicable"),
    ],
)
def test_refused_coupons_answer_in_the_error_shape(token_client, course, coupon, kwargs, status, code):
    if kwargs is not None:
        CouponFactory(code=coupon, **kwargs)

    response = token_client.post("/api/v1/orders/", {"course": course.slug, "coupon": coupon}, format="json")

    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_claiming_a_missing_or_malformed_coupon(token_client):
    assert token_client.post("/api/v1/coupons/claim/", {"coupon": 999}, format="json").json()["error"][
        "code"
    ] == ("coupon_not_found")
    bad = token_client.post("/api/v1/coupons/claim/", {"coupon": "x"}, format="json")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid")


def test_the_schema_documents_the_coupon_codes(api_client):
    schema = api_client.get("/api/v1/schema/").content.decode()

    for code in ("coupon_expired", "coupon_exhausted", "coupon_not_applicable", "coupon_minimum_not_met"):
        assert code in schema
    assert "/api/v1/coupons/claim/" in schema


def test_pay_with_points_over_the_api_and_see_them(token_client, course, learner, staff):
    from promotions.points import points_grant

    points_grant(actor=staff("support", "api-granter"), learner_id=learner.pk, points=700, reason="welcome")

    created = token_client.post("/api/v1/orders/", {"course": course.slug, "points": 500}, format="json")

    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["points_used"], body["points_discount"], body["total"]) == (500, 500, course.price - 500)
    mine = token_client.get("/api/v1/points/").json()
    assert mine["balance"] == 200
    assert mine["value_per_point"] == 1
    assert [lot["remaining"] for lot in mine["expiring"]] == [200]
    assert [(e["kind"], e["points"], e["order_no"]) for e in mine["history"]] == [
        ("spent", -500, body["order_no"]),
        ("granted", 700, None),
    ]


@pytest.mark.parametrize(
    ("points", "status", "code"),
    [(701, 409, "points_above_cap"), (600, 409, "points_insufficient"), ("x", 400, None), (0, 400, None)],
)
def test_refused_points_answer_in_the_error_shape(token_client, learner, staff, points, status, code):
    from promotions.points import points_grant
    from tests.factories import CourseFactory

    cheap = CourseFactory(price=1400)
    points_grant(actor=staff("support", "api-granter"), learner_id=learner.pk, points=500, reason="welcome")

    response = token_client.post("/api/v1/orders/", {"course": cheap.slug, "points": points}, format="json")

    assert response.status_code == status
    assert "error" in response.json()
    if code:
        assert response.json()["error"]["code"] == code


def test_the_schema_documents_points(api_client):
    schema = api_client.get("/api/v1/schema/").content.decode()

    for code in ("points_insufficient", "points_above_cap", "points_used", "points_discount"):
        assert code in schema
    assert "/api/v1/points/" in schema


def test_points_need_a_login(api_client):
    assert api_client.get("/api/v1/points/").status_code in (401, 403)
