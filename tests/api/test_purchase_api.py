import pytest

from courses.models import Course, Enrollment
from orders.models import Order
from payments.models import Payment
from tests.factories import CourseFactory, UserFactory


@pytest.fixture
def token_client(api_client, learner):
    response = api_client.post(
        "/api/v1/auth/token/", {"username": learner.username, "password": "pw-learner-123"}
    )
    assert response.status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return api_client


def test_whole_purchase_through_the_api(token_client, course, sandbox, learner):
    listing = token_client.get("/api/v1/courses/").json()
    assert [c["slug"] for c in listing["results"]] == [course.slug]
    assert listing["results"][0]["price"] == 9900

    created = token_client.post("/api/v1/orders/", {"course": course.slug, "total": 1}, format="json")
    assert created.status_code == 201
    order = created.json()
    assert order["total"] == 9900 and order["currency"] == "CNY"  # the client's "total" is ignored
    assert order["lines"] == [
        {
            "kind": "course",
            "course": course.slug,
            "plan": "",
            "title": course.title,
            "unit_price": 9900,
            "quantity": 1,
            "amount": 9900,
        }
    ]

    paid = token_client.post(
        f"/api/v1/orders/{order['order_no']}/pay/", {"channel": "sandbox"}, format="json"
    )
    assert paid.status_code == 201
    payment_data = paid.json()
    assert payment_data["code_url"].startswith("http://127.0.0.1:9/simulators/sandbox/cashier/?")
    assert sandbox.pay(Payment.objects.get(payment_no=payment_data["payment_no"])).status_code == 204

    detail = token_client.get(f"/api/v1/orders/{order['order_no']}/").json()
    assert detail["status"] == "fulfilled"
    assert Enrollment.objects.filter(learner=learner, course=course, status="active").exists()
    again = token_client.post("/api/v1/orders/", {"course": course.slug}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "course_already_owned"


def test_checkout_reuses_the_open_order(token_client, course):
    first = token_client.post("/api/v1/orders/", {"course": course.slug}, format="json")
    second = token_client.post("/api/v1/orders/", {"course": course.slug}, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["order_no"] == second.json()["order_no"]


def test_idempotency_key_replays_and_refuses_another_body(token_client, course):
    other = CourseFactory()
    headers = {"HTTP_IDEMPOTENCY_KEY": "key-1"}
    first = token_client.post("/api/v1/orders/", {"course": course.slug}, format="json", **headers)
    replay = token_client.post("/api/v1/orders/", {"course": course.slug}, format="json", **headers)
    conflict = token_client.post("/api/v1/orders/", {"course": other.slug}, format="json", **headers)

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert conflict.status_code == 422
    assert conflict.json()["error"]["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_another_learners_order_is_invisible(token_client, course, api_client):
    order_no = token_client.post("/api/v1/orders/", {"course": course.slug}, format="json").json()["order_no"]
    stranger = UserFactory()
    api_client.credentials()
    api_client.force_authenticate(stranger)

    for response in (
        api_client.get(f"/api/v1/orders/{order_no}/"),
        api_client.post(f"/api/v1/orders/{order_no}/pay/", {"channel": "sandbox"}, format="json"),
        api_client.post(f"/api/v1/orders/{order_no}/cancel/"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "order_not_found"
    assert api_client.get("/api/v1/orders/").json()["results"] == []
    assert Order.objects.get(order_no=order_no).status == Order.Status.PENDING_PAYMENT


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "invalid"),
        ({"course": "no-such-course"}, 404, "course_not_available"),
        ({"course": "x" * 500}, 400, "invalid"),
    ],
)
def test_bad_checkout_input_gets_a_clear_error(token_client, course, body, status, code):
    response = token_client.post("/api/v1/orders/", body, format="json")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert not Order.objects.exists()


def test_draft_course_cannot_be_bought(token_client):
    draft = CourseFactory(status=Course.Status.DRAFT)
    response = token_client.post("/api/v1/orders/", {"course": draft.slug}, format="json")
    assert response.status_code == 404
    assert token_client.get(f"/api/v1/courses/{draft.slug}/").status_code == 404


def test_pay_errors(token_client, course):
    order_no = token_client.post("/api/v1/orders/", {"course": course.slug}, format="json").json()["order_no"]
    unknown = token_client.post(f"/api/v1/orders/{order_no}/pay/", {"channel": "bitcoin"}, format="json")
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "invalid"

    assert token_client.post(f"/api/v1/orders/{order_no}/cancel/").json()["status"] == "cancelled"
    closed = token_client.post(f"/api/v1/orders/{order_no}/pay/", {"channel": "sandbox"}, format="json")
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "order_not_payable"
    twice = token_client.post(f"/api/v1/orders/{order_no}/cancel/")
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "order_not_cancellable"
    assert not Payment.objects.exists()


def test_authentication_is_required_and_errors_keep_the_shape(api_client, course):
    response = api_client.post("/api/v1/orders/", {"course": course.slug}, format="json")
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message"}
    bad_login = api_client.post("/api/v1/auth/token/", {"username": "nobody", "password": "nope"})
    assert bad_login.status_code == 400 and bad_login.json()["error"]["code"] == "invalid"


def test_order_list_is_constant_in_queries(token_client, learner, django_assert_max_num_queries):
    def fetch():
        return token_client.get("/api/v1/orders/")

    for course in CourseFactory.create_batch(2):
        token_client.post("/api/v1/orders/", {"course": course.slug}, format="json")
    with django_assert_max_num_queries(4) as few:
        fetch()
    baseline = len(few)
    for course in CourseFactory.create_batch(10):
        token_client.post("/api/v1/orders/", {"course": course.slug}, format="json")
    with django_assert_max_num_queries(baseline):
        assert fetch().json()["count"] == 12


def test_openapi_schema_is_served(api_client):
    response = api_client.get("/api/v1/schema/")
    assert response.status_code == 200
    assert b"/api/v1/orders/{order_no}/pay/" in response.content


def test_token_endpoint_is_throttled(api_client, learner):
    # A different username each time: this is the per-IP throttle, not the per-username
    # lockout (tests/accounts/test_lockout.py).
    statuses = [
        api_client.post(
            "/api/v1/auth/token/", {"username": f"{learner.username}-{i}", "password": "wrong"}
        ).status_code
        for i in range(11)
    ]
    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429
