import pytest
from django.contrib.auth.models import Group

from core.http import ClientInfo
from core.risk import CheckoutContext
from courses.models import Enrollment
from orders.models import Order
from orders.services import order_checkout
from payments.models import Payment, Refund
from payments.services import payment_start
from riskcontrol.engine import evaluate
from riskcontrol.models import ReviewDecision, Rule
from riskcontrol.rules import KINDS
from riskcontrol.services import rule_save
from tests.factories import CourseFactory, UserFactory


def rule(admin_user, name, kind, params, action):
    return rule_save(rule=Rule(name=name, kind=kind, params=params, action=action), actor=admin_user)


def verdict(kind, params, ctx, stage="checkout"):
    rules = [
        {
            "pk": 0,
            "name": kind,
            "kind": kind,
            "params": KINDS[kind].clean_params(params),
            "action": "review",
            "monitor_only": False,
        }
    ]
    return evaluate(stage, ctx, rules)[1][0]["hit"]


def ctx(learner, **overrides):
    return CheckoutContext(
        **{
            "learner_id": learner.pk,
            "merchant_id": 1,
            "course_ids": (1,),
            "amount": 9900,
            "currency": "CNY",
            **overrides,
        }
    )


@pytest.mark.parametrize("by", ["ip", "device"])
def test_orders_and_accounts_per_client(db, by):
    client = ClientInfo(ip="192.0.2.7") if by == "ip" else ClientInfo(device_id="dev-1")
    first, second = UserFactory(), UserFactory()
    order_checkout(learner=first, course_slug=CourseFactory().slug, client=client)
    order_checkout(learner=first, course_slug=CourseFactory().slug, client=client)
    same = {"ip": "192.0.2.7"} if by == "ip" else {"device_id": "dev-1"}
    other = {"ip": "192.0.2.8"} if by == "ip" else {"device_id": "dev-2"}
    window = {"by": by, "window_minutes": 60}

    assert verdict("orders_per_client", {**window, "max_count": 2}, ctx(second, **same))
    assert not verdict("orders_per_client", {**window, "max_count": 3}, ctx(second, **same))
    assert not verdict("orders_per_client", {**window, "max_count": 1}, ctx(second, **other))
    assert verdict("accounts_per_client", {**window, "max_count": 1}, ctx(second, **same))
    assert not verdict("accounts_per_client", {**window, "max_count": 1}, ctx(first, **same))  # only itself


def test_refund_ratio(db, sandbox):
    from payments.services import refund_request

    learner = UserFactory()
    for i in range(4):
        order, _payment = paid(learner, CourseFactory(), sandbox)
        if i < 2:
            refund_request(learner=learner, order_no=order.order_no, reason="changed my mind")
    params = {"min_orders": 4, "max_ratio": "0.40"}
    assert verdict("refund_ratio", params, ctx(learner))  # 2 of 4 refunded > 40 %
    assert not verdict("refund_ratio", {**params, "max_ratio": "0.50"}, ctx(learner))
    assert not verdict("refund_ratio", {**params, "min_orders": 5}, ctx(learner))


def paid(learner, course, sandbox, *, payer="sbx_payer_test"):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    assert sandbox.pay(payment).status_code == 204
    order.refresh_from_db()
    payment.refresh_from_db()
    return order, payment


def test_a_review_at_checkout_takes_the_payment_and_holds_delivery(learner, course, sandbox, admin_user):
    rule(admin_user, "big", "amount_above", {"amount": 100}, "review")
    order, payment = paid(learner, course, sandbox)

    assert order.status == Order.Status.PAID and payment.status == Payment.Status.SUCCEEDED
    assert not Enrollment.objects.filter(learner=learner).exists()
    assert order.status_changes.get().reason.endswith("(delivery held by risk control)")
    assert payment.risk_assessment["stage"] == "payment"


def test_a_payment_stage_block_on_the_payer_returns_the_money(learner, course, sandbox, admin_user):
    rule(admin_user, "bad payer", "list", {"field": "payer", "values": ["sbx_payer_test"]}, "block")
    order, payment = paid(learner, course, sandbox)

    assert order.status == Order.Status.PAID
    assert not Enrollment.objects.filter(learner=learner).exists()
    refund = Refund.objects.get(order=order)
    assert refund.origin == Refund.Origin.RISK and refund.amount == payment.amount
    assert refund.status in (
        Refund.Status.APPROVED,
        Refund.Status.PROCESSING,
    )  # the gateway is unreachable here
    assert payment.risk_assessment["decision"] == "block"


@pytest.fixture
def risk_staff(db):
    user = UserFactory(username="riskdesk", is_staff=True)
    user.groups.add(Group.objects.get(name="risk"))
    return user


def review(client, order, verdict, note="checked"):
    return client.post(f"/admin/riskcontrol/heldorder/{order.pk}/change/", {"verdict": verdict, "note": note})


def test_approving_a_held_order_delivers_it(learner, course, sandbox, admin_user, risk_staff, client):
    rule(admin_user, "big", "amount_above", {"amount": 100}, "review")
    order, _payment = paid(learner, course, sandbox)
    client.force_login(risk_staff)
    page = client.get(f"/admin/riskcontrol/heldorder/{order.pk}/change/")
    assert page.status_code == 200 and order.order_no in page.content.decode()

    assert review(client, order, "approve").status_code == 302

    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert Enrollment.objects.get(learner=learner, course=course).status == Enrollment.Status.ACTIVE
    decision = ReviewDecision.objects.get(order=order)
    assert (decision.verdict, decision.actor, decision.note) == ("approve", risk_staff, "checked")
    assert list(client.get("/admin/riskcontrol/heldorder/").context["cl"].result_list) == []


def test_rejecting_a_held_order_refunds_it(learner, course, sandbox, admin_user, risk_staff, client):
    rule(admin_user, "big", "amount_above", {"amount": 100}, "review")
    order, payment = paid(learner, course, sandbox)
    client.force_login(risk_staff)

    assert review(client, order, "reject", note="stolen card pattern").status_code == 302

    refund = Refund.objects.get(order=order)
    assert refund.amount == payment.amount and "stolen card pattern" in refund.reason
    assert ReviewDecision.objects.get(order=order).verdict == "reject"
    assert not Enrollment.objects.filter(learner=learner).exists()


def test_a_decision_needs_a_note_and_is_taken_once(learner, course, sandbox, admin_user, risk_staff, client):
    rule(admin_user, "big", "amount_above", {"amount": 100}, "review")
    order, _payment = paid(learner, course, sandbox)
    client.force_login(risk_staff)

    assert review(client, order, "approve", note="").status_code == 200  # form error, nothing decided
    assert not ReviewDecision.objects.exists()
    assert review(client, order, "approve").status_code == 302
    assert review(client, order, "reject").status_code in (200, 302, 404)
    assert ReviewDecision.objects.get(order=order).verdict == "approve"
    assert not Refund.objects.exists()


def test_only_staff_with_the_review_permission_see_the_queue(learner, course, sandbox, admin_user, client):
    rule(admin_user, "big", "amount_above", {"amount": 100}, "review")
    paid(learner, course, sandbox)
    support = UserFactory(username="helpdesk", is_staff=True)
    support.groups.add(Group.objects.get(name="support"))
    client.force_login(support)
    assert client.get("/admin/riskcontrol/heldorder/").status_code == 403


def test_staff_see_both_assessments_on_the_admin_pages(learner, course, sandbox, admin_user, admin_client):
    rule(admin_user, "big", "amount_above", {"amount": 100}, "review")
    order, payment = paid(learner, course, sandbox)
    english = {"accept-language": "en"}
    order_page = admin_client.get(f"/admin/orders/order/{order.pk}/change/", headers=english).content.decode()
    payment_page = admin_client.get(f"/admin/payments/payment/{payment.pk}/change/", headers=english)
    payment_page = payment_page.content.decode()
    # the checkout verdict, in words and yuan
    assert "At checkout: Review" in order_page
    assert "The order&#x27;s amount ¥99.00 is above ¥1.00." in order_page
    assert "When paid: Allow" in payment_page  # amount_above is a checkout-only kind
    assert "sbx_payer_test" in payment_page
    chinese = admin_client.get(
        f"/admin/orders/order/{order.pk}/change/", headers={"accept-language": "zh-hans"}
    )
    assert "订单金额 ¥99.00 超过 ¥1.00。" in chinese.content.decode()


def test_the_review_queue_is_constant_in_queries(
    learner, course, sandbox, admin_user, risk_staff, client, django_assert_max_num_queries
):
    rule(admin_user, "big", "amount_above", {"amount": 100}, "review")
    paid(learner, course, sandbox)
    client.force_login(risk_staff)
    with django_assert_max_num_queries(50) as one:
        client.get("/admin/riskcontrol/heldorder/")
    baseline = len(one)
    for _ in range(5):
        paid(UserFactory(), CourseFactory(), sandbox)
    with django_assert_max_num_queries(baseline):
        assert len(client.get("/admin/riskcontrol/heldorder/").context["cl"].result_list) == 6


def _locking_statements(captured) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if "FOR UPDATE" in query["sql"]]


@pytest.mark.postgres
@pytest.mark.parametrize("verdict", ["approve", "reject"])
def test_a_decision_locks_the_payment_with_its_order_first(
    learner, course, sandbox, admin_user, risk_staff, verdict
):
    """The project's lock order is payment with its order, then the order alone: a decision
    that refunds (``refund_issue`` locks the payment) must not hold the order first."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from riskcontrol.services import review_decide

    rule(admin_user, "big", "amount_above", {"amount": 100}, "review")
    order, _payment = paid(learner, course, sandbox)
    with CaptureQueriesContext(connection) as captured:
        review_decide(order_id=order.pk, actor=risk_staff, verdict=verdict, note="checked")

    first = _locking_statements(captured)[0]
    assert first.startswith(f'SELECT "{Payment._meta.db_table}"')
    assert f'FOR UPDATE OF "{Payment._meta.db_table}", "{Order._meta.db_table}"' in first
    assert ReviewDecision.objects.get(order=order).verdict == verdict


def test_a_decision_on_an_unknown_order_is_refused(db, risk_staff):
    from django.core.exceptions import ValidationError

    from riskcontrol.services import review_decide

    with pytest.raises(ValidationError):
        review_decide(order_id=123456, actor=risk_staff, verdict="approve", note="checked")


# -- risk staff refund only by rejecting a held order ------------------------------------
def test_risk_staff_cannot_issue_a_refund_from_the_service_or_the_admin(
    learner, course, sandbox, risk_staff, client
):
    from payments.exceptions import RefundNotAllowed
    from payments.services import refund_issue

    order, _payment = paid(learner, course, sandbox)  # delivered, not held
    with pytest.raises(RefundNotAllowed):
        refund_issue(actor=risk_staff, order_id=order.pk, reason="just because")
    client.force_login(risk_staff)
    assert client.get(f"/admin/payments/refund/issue/{order.pk}/").status_code == 403
    response = client.post(f"/admin/payments/refund/issue/{order.pk}/", {"amount": "99.00", "reason": "x"})
    assert response.status_code == 403
    assert not Refund.objects.exists()


def test_the_risk_review_refund_path_refunds_held_orders_only(learner, course, sandbox, risk_staff):
    from payments.exceptions import OrderNotRefundable
    from payments.services import refund_issue_for_risk_review

    order, _payment = paid(learner, course, sandbox)  # delivered: not risk's to refund
    with pytest.raises(OrderNotRefundable):
        refund_issue_for_risk_review(actor=risk_staff, order_id=order.pk, reason="no")
    assert not Refund.objects.exists()


def test_only_risk_staff_decide_held_orders(learner, course, sandbox, admin_user):
    from riskcontrol.exceptions import ReviewNotAllowed
    from riskcontrol.services import review_decide

    rule(admin_user, "big", "amount_above", {"amount": 100}, "review")
    order, _payment = paid(learner, course, sandbox)
    support = UserFactory(username="helpdesk2", is_staff=True)
    support.groups.add(Group.objects.get(name="support"))
    with pytest.raises(ReviewNotAllowed):
        review_decide(order_id=order.pk, actor=support, verdict="reject", note="looks odd")
    with pytest.raises(ReviewNotAllowed):
        review_decide(order_id=order.pk, actor=learner, verdict="approve", note="fine")
    assert not ReviewDecision.objects.exists() and not Refund.objects.exists()


def test_rejecting_refunds_at_once_whatever_the_amount_recording_who(
    learner, course, sandbox, admin_user, risk_staff, settings
):
    """Above the four-eyes threshold too: the whole payment goes back to its payer, the
    order never delivered; the risk user is the refund's requester and approver."""
    from riskcontrol.services import review_decide

    settings.KPAY_REFUND_APPROVAL_THRESHOLD = 1000  # ¥10, below the ¥99 order
    rule(admin_user, "big", "amount_above", {"amount": 100}, "review")
    order, payment = paid(learner, course, sandbox)
    review_decide(order_id=order.pk, actor=risk_staff, verdict="reject", note="stolen card pattern")

    refund = Refund.objects.get(order=order)
    assert refund.origin == Refund.Origin.RISK and refund.amount == payment.amount
    assert refund.requested_by == risk_staff and refund.approved_by == risk_staff
    assert refund.first_approved_by is None
    assert refund.status in (Refund.Status.APPROVED, Refund.Status.PROCESSING)
    assert [c.actor for c in refund.status_changes.all()] == [risk_staff, risk_staff]


def test_an_unknown_verdict_is_refused(learner, course, sandbox, admin_user, risk_staff):
    from django.core.exceptions import ValidationError

    from riskcontrol.services import review_decide

    rule(admin_user, "big", "amount_above", {"amount": 100}, "review")
    order, _payment = paid(learner, course, sandbox)
    with pytest.raises(ValidationError):
        review_decide(order_id=order.pk, actor=risk_staff, verdict="refund-it", note="x")
    assert not Refund.objects.exists() and not ReviewDecision.objects.exists()
