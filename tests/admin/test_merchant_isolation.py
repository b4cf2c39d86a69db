"""A merchant's staff see and edit their own merchant's data in the admin, nothing else."""

import pytest
from django.db.models import F

from courses.models import Course, Lesson, Merchant
from orders.models import Order
from payments.models import GatewayEvent, JournalEntry, Payment, Refund
from payments.services import refund_request
from tests.factories import LessonFactory, UserFactory

from .pages import admin_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant_client(client, merchant_user):
    client.force_login(merchant_user)
    return client


@pytest.fixture
def two_paid_orders(own_course, other_course, pay):
    ours = pay(UserFactory(username="our-buyer"), own_course)
    theirs = pay(UserFactory(username="their-buyer"), other_course)
    return ours, theirs


def assert_hidden(client, url, *secrets):
    """The page is refused or sends the user away, and shows none of ``secrets``."""
    response = client.get(url, follow=True)
    assert response.status_code in (200, 403, 404)
    if response.status_code == 200:
        assert response.redirect_chain, f"{url} was shown"
        assert "doesn’t exist" in response.text or "不存在" in response.text
    for secret in secrets:
        assert secret not in response.text


def test_the_merchant_group_exists_with_its_permissions(role_group):
    codenames = set(role_group("merchant").permissions.values_list("codename", flat=True))
    assert {
        "add_course",
        "change_course",
        "view_course",
        "add_lesson",
        "view_order",
        "view_payment",
        "view_enrollment",
    } <= codenames
    assert "delete_course" not in codenames and "change_order" not in codenames


def test_course_changelist_shows_only_own_courses(merchant_client, own_course, other_course):
    response = merchant_client.get(admin_url(Course))
    assert response.status_code == 200
    assert own_course.title in response.text
    assert other_course.title not in response.text
    assert other_course.merchant.name not in response.text  # not even in the merchant filter


def test_other_merchants_course_pages_do_not_show_it(merchant_client, own_course, other_course):
    LessonFactory(course=other_course, title="Their lesson", body="their secret body")
    lesson = other_course.lessons.get()
    for url in (
        admin_url(Course, "change", other_course.pk),
        admin_url(Course, "delete", other_course.pk),
        admin_url(Course, "history", other_course.pk),
        admin_url(Lesson, "change", lesson.pk),
        admin_url(Merchant, "change", other_course.merchant_id),
    ):
        assert_hidden(merchant_client, url, other_course.title, "their secret body", "Rival Academy")
    # Their own course page does open, editable.
    response = merchant_client.get(admin_url(Course, "change", own_course.pk))
    assert response.status_code == 200 and own_course.title in response.text
    assert 'name="_save"' in response.text


def test_posting_to_another_merchants_course_changes_nothing(merchant_client, other_course):
    response = merchant_client.post(
        admin_url(Course, "change", other_course.pk),
        {
            "title": "Hijacked",
            "slug": other_course.slug,
            "price": 1,
            "currency": "CNY",
            "status": "published",
            "lessons-TOTAL_FORMS": 0,
            "lessons-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code in (302, 403, 404)
    other_course.refresh_from_db()
    assert other_course.title == "Theirs: Secret Recipe" and other_course.price == 4900


def refund_of(order) -> Refund:
    return refund_request(learner=order.learner, order_no=order.order_no, amount=100, reason="r")


def test_payments_and_refunds_carry_their_orders_merchant(two_paid_orders, own_merchant, other_merchant):
    """What merchant staff's payment and refund lists filter on, written by the services."""
    (our_order, our_payment), (their_order, their_payment) = two_paid_orders
    ours, theirs = refund_of(our_order), refund_of(their_order)
    assert (our_payment.merchant_id, ours.merchant_id) == (own_merchant.pk, own_merchant.pk)
    assert (their_payment.merchant_id, theirs.merchant_id) == (other_merchant.pk, other_merchant.pk)
    assert not Payment.objects.exclude(merchant_id=F("order__merchant_id")).exists()
    assert not Refund.objects.exclude(merchant_id=F("order__merchant_id")).exists()


def test_orders_payments_refunds_and_journal_show_only_own_rows(merchant_client, two_paid_orders):
    (our_order, our_payment), (their_order, their_payment) = two_paid_orders
    our_refund, their_refund = refund_of(our_order), refund_of(their_order)

    for model in (Order, Payment, Refund, JournalEntry):
        response = merchant_client.get(admin_url(model))
        assert response.status_code == 200, model
        assert our_order.order_no in response.text, model
        assert their_order.order_no not in response.text, model
        assert their_payment.payment_no not in response.text, model
        assert their_refund.refund_no not in response.text, model
        assert "Rival Academy" not in response.text, model
    assert our_payment.payment_no in merchant_client.get(admin_url(Payment)).text
    assert our_refund.refund_no in merchant_client.get(admin_url(Refund)).text
    # Asking for the other merchant by the filter's parameter shows nothing of theirs.
    response = merchant_client.get(admin_url(Payment), {"merchant__id__exact": their_order.merchant_id})
    assert their_payment.payment_no not in response.text

    their_entry = JournalEntry.objects.filter(order=their_order).first()
    for url in (
        admin_url(Order, "change", their_order.pk),
        admin_url(Payment, "change", their_payment.pk),
        admin_url(Refund, "change", their_refund.pk),
        admin_url(JournalEntry, "change", their_entry.pk),
    ):
        assert_hidden(merchant_client, url, their_order.order_no, their_payment.payment_no)

    # Their own order, payment, refund and journal lines open (read-only).
    our_entry = JournalEntry.objects.filter(order=our_order).first()
    for url in (
        admin_url(Order, "change", our_order.pk),
        admin_url(Payment, "change", our_payment.pk),
        admin_url(Refund, "change", our_refund.pk),
        admin_url(JournalEntry, "change", our_entry.pk),
    ):
        response = merchant_client.get(url)
        assert response.status_code == 200 and our_order.order_no in response.text
        assert 'name="_save"' not in response.text


def test_merchant_staff_never_see_gateway_traffic(merchant_client, two_paid_orders):
    assert GatewayEvent.objects.exists()
    assert merchant_client.get(admin_url(GatewayEvent)).status_code == 403
    (_, our_payment), _ = two_paid_orders
    response = merchant_client.get(admin_url(Payment, "change", our_payment.pk))
    assert response.status_code == 200
    inlines = [formset.opts.model for formset in response.context["inline_admin_formsets"]]
    assert GatewayEvent not in inlines and inlines  # the status history is there


def test_lesson_form_offers_only_own_courses(merchant_client, own_course, other_course):
    response = merchant_client.get(admin_url(Lesson, "add"))
    assert response.status_code == 200
    assert list(response.context["adminform"].form.fields["course"].queryset) == [own_course]
    assert other_course.title not in response.text

    response = merchant_client.post(
        admin_url(Lesson, "add"),
        {"course": other_course.pk, "title": "Planted", "position": 1, "body": "x"},
    )
    assert response.status_code == 200  # the form comes back with an error
    assert response.context["adminform"].form.errors["course"]
    assert not Lesson.objects.filter(title="Planted").exists()


def test_new_course_belongs_to_the_staff_users_merchant(merchant_client, own_merchant, other_merchant):
    response = merchant_client.get(admin_url(Course, "add"))
    assert "merchant" not in response.context["adminform"].form.fields

    response = merchant_client.post(
        admin_url(Course, "add"),
        {
            "merchant": other_merchant.pk,  # ignored
            "title": "Go 并发 · Go Concurrency",
            "slug": "go-concurrency",
            "summary": "",
            "description": "",
            "price": 12900,
            "currency": "CNY",
            "status": "draft",
            "lessons-TOTAL_FORMS": 1,
            "lessons-INITIAL_FORMS": 0,
            "lessons-MIN_NUM_FORMS": 0,
            "lessons-MAX_NUM_FORMS": 1000,
            "lessons-0-position": 1,
            "lessons-0-title": "Goroutines",
            "lessons-0-body": "go f()",
            "lessons-0-is_preview": "on",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    course = Course.objects.get(slug="go-concurrency")
    assert course.merchant == own_merchant
    assert list(course.lessons.values_list("title", "is_preview")) == [("Goroutines", True)]


def test_staff_without_a_merchant_or_platform_role_see_nothing(client, own_course, django_user_model):
    """Permissions alone do not open the data: a merchant (or a platform role) is needed."""
    from django.contrib.auth.models import Permission

    user = UserFactory(username="stray-staff", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_course", "add_course"]))
    client.force_login(user)
    response = client.get(admin_url(Course))
    assert own_course.title not in response.text
    assert client.get(admin_url(Course, "add")).status_code == 403


@pytest.mark.parametrize("view", ["change", "history"])  # delete: merchants may delete no course (403)
def test_another_merchants_object_by_address_is_not_found(merchant_client, other_course, view):
    """A 404 page, not the admin home with "doesn't exist. Perhaps it was deleted?"."""
    response = merchant_client.get(admin_url(Course, view, other_course.pk))
    assert response.status_code == 404
    assert "admin/kpay/not_found.html" in [t.name for t in response.templates]
    assert other_course.title not in response.text and other_course.merchant.name not in response.text
    assert admin_url(Course) in response.text  # back to the merchant's own courses
    assert not list(response.wsgi_request._messages)  # no "Perhaps it was deleted?" waiting


def test_a_deleted_object_is_not_found_either(merchant_client, own_course):
    url = admin_url(Course, "change", own_course.pk + 1000)
    assert merchant_client.get(url).status_code == 404
