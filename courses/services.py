from collections.abc import Iterable

from core.db import db_insert_rows

from .models import Enrollment, Lesson, LessonVisit


def enrollment_grant(*, learner_id: int, course_ids: Iterable[int], order_no: str, at) -> None:
    """Give a learner access to courses: one statement, re-activating a revoked enrollment
    (its rows as values: only written, ``core.db.db_insert_rows``)."""
    db_insert_rows(
        Enrollment,
        [
            {
                "learner_id": learner_id,
                "course_id": course_id,
                "order_no": order_no,
                "status": Enrollment.Status.ACTIVE,
                "granted_at": at,
                "revoked_at": None,
            }
            for course_id in course_ids
        ],
        update_conflicts=True,
        unique_fields=["learner", "course"],
        update_fields=["order_no", "status", "granted_at", "revoked_at"],
    )


def enrollment_revoke(*, learner_id: int, course_ids: Iterable[int], order_no: str, at) -> int:
    """Take away the access an order granted (its full refund); returns how many were revoked.

    Only enrollments granted by ``order_no`` are touched: access bought again by a
    later order stays.
    """
    return Enrollment.objects.filter(
        learner_id=learner_id,
        course_id__in=list(course_ids),
        order_no=order_no,
        status=Enrollment.Status.ACTIVE,
    ).update(status=Enrollment.Status.REVOKED, revoked_at=at)


def lesson_visit_record(*, learner_id: int, lesson: Lesson, at) -> None:
    """Remember that a learner opened a lesson (course progress): one statement, the
    first opening kept, the latest updated."""
    LessonVisit.objects.bulk_create(
        [
            LessonVisit(
                learner_id=learner_id,
                lesson_id=lesson.pk,
                course_id=lesson.course_id,
                first_opened_at=at,
                last_opened_at=at,
            )
        ],
        update_conflicts=True,
        unique_fields=["learner", "lesson"],
        update_fields=["last_opened_at"],
    )
