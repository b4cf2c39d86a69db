"""Access to lessons: an active enrollment OR a membership period covering the course
(every course of the merchant, future ones included, or the plan's chosen set), until the
end of the period's last local day, and during a renewal's grace period."""

from datetime import timedelta

import pytest
from django.urls import reverse

from courses import selectors
from courses.models import Course, Lesson
from courses.services import enrollment_grant
from memberships.models import Membership
from orders.exceptions import CourseAlreadyOwned
from orders.services import order_checkout
from tests.factories import CourseFactory, LessonFactory, UserFactory
from tests.memberships.helpers import PlanFactory, local

pytestmark = pytest.mark.django_db


def members_lesson(course) -> Lesson:
    return course.lessons.get(is_preview=False)


def can_read(learner, course) -> bool:
    return selectors.lesson_visible_to(learner=learner, lesson=members_lesson(course))


def test_an_all_courses_plan_opens_every_course_of_its_merchant_and_new_ones(learner, plan, studio, buy_plan):
    one, two = studio.courses.get(slug="studio-one"), studio.courses.get(slug="studio-two")
    elsewhere = CourseFactory()
    LessonFactory(course=elsewhere)
    assert not can_read(learner, one)

    buy_plan(learner, plan)

    assert can_read(learner, one) and can_read(learner, two)
    assert not selectors.lesson_visible_to(learner=learner, lesson=elsewhere.lessons.get())
    later = CourseFactory(merchant=studio, slug="studio-later")
    LessonFactory(course=later)
    assert selectors.lesson_visible_to(learner=learner, lesson=later.lessons.get())
    # Drafts stay closed; someone else's membership opens nothing for this learner.
    assert not selectors.learner_owns_course(learner=learner, course=studio.courses.get(slug="studio-draft"))
    assert not can_read(UserFactory(), one)


def test_a_plan_of_chosen_courses_opens_those_only(learner, studio, buy_plan):
    one, two = studio.courses.get(slug="studio-one"), studio.courses.get(slug="studio-two")
    plan = PlanFactory(merchant=studio, all_courses=False, courses=[one])

    buy_plan(learner, plan)

    assert can_read(learner, one)
    assert not can_read(learner, two)


def test_access_ends_at_the_end_of_the_last_local_day(learner, plan, studio, buy_plan, clock):
    one = studio.courses.get(slug="studio-one")
    clock.set("2026-01-15 14:00")
    buy_plan(learner, plan)

    clock.set("2026-02-15 23:59:59")
    assert can_read(learner, one)
    clock.set("2026-02-16 00:00")
    assert not can_read(learner, one)
    assert Membership.objects.get(learner=learner).last_day.isoformat() == "2026-02-15"


def test_access_continues_during_grace_and_stops_after_it(learner, plan, studio, buy_plan, clock):
    one = studio.courses.get(slug="studio-one")
    clock.set("2026-01-15 14:00")
    buy_plan(learner, plan)
    Membership.objects.filter(learner=learner).update(grace_until=local("2026-02-19 00:00"))

    clock.set("2026-02-18 12:00")
    assert can_read(learner, one)
    clock.set("2026-02-19 00:00")
    assert not can_read(learner, one)


def test_a_stacked_period_keeps_access_without_a_gap(learner, plan, studio, buy_plan, clock):
    one = studio.courses.get(slug="studio-one")
    clock.set("2026-01-15 14:00")
    buy_plan(learner, plan)
    buy_plan(learner, plan)
    clock.set("2026-02-16 00:00")
    assert can_read(learner, one)
    clock.set("2026-03-15 23:59")
    assert can_read(learner, one)
    clock.set("2026-03-16 00:00")
    assert not can_read(learner, one)


def test_a_member_keeps_reading_a_course_archived_later(learner, plan, studio, buy_plan, client):
    one = studio.courses.get(slug="studio-one")
    buy_plan(learner, plan)
    Course.objects.filter(pk=one.pk).update(status=Course.Status.ARCHIVED)
    client.force_login(learner)

    page = client.get(reverse("courses:lesson", args=[one.slug, members_lesson(one).pk]))

    assert page.status_code == 200 and "studio-one members only" in page.content.decode()


def test_a_course_a_membership_opens_is_not_sold_again(learner, plan, studio, buy_plan):
    buy_plan(learner, plan)
    with pytest.raises(CourseAlreadyOwned):
        order_checkout(learner=learner, course_slug="studio-one")


def test_the_course_page_and_my_courses_say_a_membership_unlocked_it(
    learner, plan, studio, buy_plan, client, course
):
    # The learner also bought a course of another merchant.
    enrollment_grant(learner_id=learner.pk, course_ids=[course.pk], order_no="K-bought", at=plan.created_at)
    buy_plan(learner, plan)
    client.force_login(learner)

    detail = client.get(reverse("courses:detail", args=["studio-one"])).content.decode()
    assert "Unlocked by your membership" in detail and "Buy for" not in detail
    lesson = members_lesson(studio.courses.get(slug="studio-one"))
    assert reverse("courses:lesson", args=["studio-one", lesson.pk]) in detail
    bought = client.get(reverse("courses:detail", args=[course.slug])).content.decode()
    assert "You own this course" in bought and "Unlocked by your membership" not in bought

    mine = client.get(reverse("courses:my-courses"))
    listed = [course.slug for course, _progress in mine.context["entries"]]
    assert listed[0] == course.slug and set(listed[1:]) == {"studio-one", "studio-two"}
    body = mine.content.decode()
    assert body.count("Unlocked by your membership") == 2


def test_my_courses_in_chinese_marks_membership_courses(learner, plan, buy_plan, client):
    buy_plan(learner, plan)
    client.force_login(learner)
    body = client.get(reverse("courses:my-courses"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "会员权益解锁" in body


def test_after_the_end_the_course_is_for_sale_again(learner, plan, studio, buy_plan, clock, client):
    clock.set("2026-01-15 14:00")
    buy_plan(learner, plan)
    clock.at = clock() + timedelta(days=40)
    client.force_login(learner)
    detail = client.get(reverse("courses:detail", args=["studio-one"])).content.decode()
    assert "Buy for" in detail and "Unlocked by your membership" not in detail
