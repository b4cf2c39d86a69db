"""Lessons: previous/next, and progress (the lessons a learner has opened)."""

from django.urls import reverse
from django.utils import timezone

from courses.models import LessonVisit
from courses.services import enrollment_grant
from tests.factories import CourseFactory, LessonFactory


def lesson_url(lesson):
    return reverse("courses:lesson", args=[lesson.course.slug, lesson.pk])


def three_lessons():
    course = CourseFactory(title="Three lessons")
    lessons = [
        LessonFactory(course=course, position=position, title=f"Part {position}", is_preview=position == 1)
        for position in (1, 2, 3)
    ]
    return course, lessons


def test_previous_and_next_follow_the_course_order(site, learner):
    course, (first, second, third) = three_lessons()
    enrollment_grant(learner_id=learner.pk, course_ids=[course.pk], order_no="", at=timezone.now())

    page = site.get(lesson_url(second))
    content = page.content.decode()
    assert "Lesson 2 of 3" in content
    assert f'rel="prev" href="{lesson_url(first)}"' in content
    assert f'rel="next" href="{lesson_url(third)}"' in content

    first_page = site.get(lesson_url(first)).content.decode()
    assert 'rel="prev"' not in first_page and f'rel="next" href="{lesson_url(second)}"' in first_page
    last_page = site.get(lesson_url(third)).content.decode()
    assert 'rel="next"' not in last_page and "Back to the course" in last_page


def test_a_preview_points_to_the_locked_next_lesson_through_the_course_page(client, db):
    course, (first, second, _third) = three_lessons()
    content = client.get(lesson_url(first)).content.decode()
    assert lesson_url(second) not in content  # locked: not linked
    assert "Buy the course to go on" in content and f'href="{course.get_absolute_url()}"' in content


def test_progress_counts_the_lessons_opened(site, learner):
    course, (first, second, third) = three_lessons()
    other_course, (elsewhere, *_rest) = three_lessons()
    enrollment_grant(
        learner_id=learner.pk, course_ids=[course.pk, other_course.pk], order_no="", at=timezone.now()
    )

    detail = site.get(course.get_absolute_url())
    assert detail.context["progress"].opened == 0
    assert "Start learning" in detail.content.decode() and "0 of 3 lessons opened" in detail.content.decode()

    site.get(lesson_url(first))
    site.get(lesson_url(first))  # again: still one lesson opened
    site.get(lesson_url(third))
    site.get(lesson_url(elsewhere))  # another course's lesson does not count here
    visit = LessonVisit.objects.get(learner=learner, lesson=first)
    assert visit.first_opened_at <= visit.last_opened_at

    detail = site.get(course.get_absolute_url())
    progress = detail.context["progress"]
    assert (progress.opened, progress.total, progress.percent) == (2, 3, 67)
    content = detail.content.decode()
    assert "2 of 3 lessons opened" in content
    assert f'href="{lesson_url(second)}">Continue: Part 2' in content  # the first not opened yet
    assert 'aria-valuenow="2"' in content

    lesson = site.get(lesson_url(second)).content.decode()
    assert "3 of 3 lessons opened" in lesson  # this visit counts at once

    mine = site.get(reverse("courses:my-courses"))
    entries = dict((course.pk, progress) for course, progress in mine.context["entries"])
    assert entries[course.pk].opened == 3 and entries[other_course.pk].opened == 1
    assert "Read it again" in mine.content.decode()


def test_an_anonymous_reader_of_a_preview_leaves_no_progress(client, db):
    _course, (first, *_rest) = three_lessons()
    assert client.get(lesson_url(first)).status_code == 200
    assert not LessonVisit.objects.exists()
