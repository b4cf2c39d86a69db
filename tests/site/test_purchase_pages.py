"""The whole purchase through the site pages, with the sandbox gateway's notification."""

from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from courses.models import Course, Enrollment
from courses.services import enrollment_grant
from orders.models import Order
from payments.models import Payment
from tests.factories import CourseFactory, LessonFactory
from tests.site.conftest import messages_of


def test_buying_a_course_through_the_pages(site, learner, course, sandbox):
    paid_lesson = course.lessons.get(is_preview=False)
    paid_lesson_url = reverse("courses:lesson", args=[course.slug, paid_lesson.pk])

    page = site.get(course.get_absolute_url())
    assert page.status_code == 200
    content = page.content.decode()
    assert "¥99.00" in content
    assert f'action="{reverse("orders:checkout", args=[course.slug])}"' in content
    assert paid_lesson_url not in content  # locked until bought

    locked = site.get(paid_lesson_url, follow=True)
    assert locked.redirect_chain == [(course.get_absolute_url(), 302)]
    assert paid_lesson.body not in locked.content.decode()
    assert messages_of(locked)

    checkout = site.post(reverse("orders:checkout", args=[course.slug]))
    order = Order.objects.get(learner=learner)
    pay_url = reverse("payments:pay", args=[order.order_no])
    assert checkout.status_code == 302 and checkout.url == pay_url

    pay_page = site.get(pay_url)
    assert pay_page.status_code == 200
    assert 'name="channel" value="sandbox"' in pay_page.content.decode()
    assert "Sandbox Pay (simulated gateway)" in pay_page.content.decode()
    assert "<svg" not in pay_page.content.decode()

    started = site.post(pay_url, {"channel": "sandbox"}, follow=True)
    payment = Payment.objects.get(order=order)
    content = started.content.decode()
    assert started.status_code == 200
    assert "<svg" in content
    assert payment.action["code_url"].startswith("http")
    assert f'href="{escape(payment.action["code_url"])}"' in content
    status_of_this_payment = (
        f"{reverse('payments:status', args=[order.order_no])}?payment={payment.payment_no}"
    )
    assert f'data-status-url="{status_of_this_payment}"' in content
    # Coming back to the pay page shows the same payment's QR code again.
    again = site.get(pay_url).content.decode()
    assert "<svg" in again and escape(payment.action["code_url"]) in again
    assert Payment.objects.filter(order=order).count() == 1

    status_url = reverse("payments:status", args=[order.order_no])
    result_url = reverse("payments:result", args=[order.order_no])
    assert site.get(status_url).json() == {
        "status": "pending_payment",
        "paid": False,
        "closed": False,
        "failed": False,
        "result_url": result_url,
    }
    waiting = site.get(result_url).content.decode()
    assert "waiting for the gateway" in waiting and "data-status-url" in waiting

    assert sandbox.pay(payment).status_code == 204

    status = site.get(status_url).json()
    assert status["paid"] is True and status["status"] == Order.Status.FULFILLED
    assert status["result_url"] == result_url
    result = site.get(result_url)
    first_lesson = course.lessons.order_by("position", "pk").first()
    # Into the course: its first lesson, not "My courses".
    assert (
        f'href="{reverse("courses:lesson", args=[course.slug, first_lesson.pk])}">Start learning'
        in result.text
    )
    assert "data-status-url" not in result.content.decode()
    assert site.get(pay_url).url == result_url  # paid: the pay page sends on to the result

    my_courses = site.get(reverse("courses:my-courses")).content.decode()
    assert paid_lesson_url in my_courses
    lesson = site.get(paid_lesson_url)
    assert lesson.status_code == 200
    assert paid_lesson.body in lesson.content.decode()
    assert Enrollment.objects.filter(learner=learner, course=course, status="active").exists()


def test_returning_from_the_gateway_changes_nothing(site, learner, course, place_order):
    order = place_order(course)
    site.post(reverse("payments:pay", args=[order.order_no]), {"channel": "sandbox"})

    response = site.get(
        reverse("payments:result", args=[order.order_no]),
        {"out_trade_no": "whatever", "trade_state": "SUCCESS", "paid": "1"},
    )

    assert response.status_code == 200
    assert response.context["state"] == "pending"
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT and order.paid_at is None
    assert Payment.objects.get(order=order).status == Payment.Status.PENDING
    assert not Enrollment.objects.filter(learner=learner).exists()


def test_preview_lessons_are_readable_by_anyone(client, course):
    preview = course.lessons.get(is_preview=True)
    response = client.get(reverse("courses:lesson", args=[course.slug, preview.pk]))
    assert response.status_code == 200
    assert preview.body in response.content.decode()


def test_a_lesson_must_belong_to_the_course_in_the_url(client, course):
    other = LessonFactory(course=CourseFactory(), is_preview=True)
    response = client.get(reverse("courses:lesson", args=[course.slug, other.pk]))
    assert response.status_code == 404


def test_preview_of_an_unpublished_course_stays_hidden(client, db):
    draft = CourseFactory(status=Course.Status.DRAFT)
    preview = LessonFactory(course=draft, is_preview=True)
    assert client.get(reverse("courses:lesson", args=[draft.slug, preview.pk])).status_code == 404
    assert client.get(draft.get_absolute_url()).status_code == 404


def test_an_enrolled_learner_keeps_reading_an_archived_course(site, learner, course):
    enrollment_grant(learner_id=learner.pk, course_ids=[course.pk], order_no="", at=timezone.now())
    Course.objects.filter(pk=course.pk).update(status=Course.Status.ARCHIVED)
    paid_lesson = course.lessons.get(is_preview=False)
    lesson_url = reverse("courses:lesson", args=[course.slug, paid_lesson.pk])

    assert lesson_url in site.get(reverse("courses:my-courses")).content.decode()
    assert paid_lesson.body in site.get(lesson_url).content.decode()
    site.logout()
    preview = course.lessons.get(is_preview=True)
    assert site.get(reverse("courses:lesson", args=[course.slug, preview.pk])).status_code == 404


def test_the_pay_page_offers_no_channel_that_needs_a_wechat_openid(site, place_order, course):
    order = place_order(course)
    content = site.get(f"/payments/pay/{order.order_no}/").content.decode()
    assert 'value="wechat_native"' in content and 'value="alipay_qr"' in content
    assert 'value="wechat_jsapi"' not in content
