from django.db.models import Exists, Prefetch, QuerySet

from .models import Course, Enrollment, Lesson


def course_list_published() -> QuerySet[Course]:
    return (
        Course.objects.filter(status=Course.Status.PUBLISHED, merchant__is_active=True)
        .select_related("merchant")
        .order_by("-created_at", "pk")
    )


def course_get_published(*, slug: str) -> Course | None:
    return course_list_published().filter(slug=slug).first()


def learner_owns_course(*, learner, course: Course) -> bool:
    if not learner.is_authenticated:
        return False
    return Enrollment.objects.filter(learner=learner, course=course, status=Enrollment.Status.ACTIVE).exists()


def active_enrollment_exists(*, learner_id, course_ref) -> Exists:
    """An ``Exists`` expression for annotating course querysets."""
    return Exists(
        Enrollment.objects.filter(learner_id=learner_id, course=course_ref, status=Enrollment.Status.ACTIVE)
    )


def learner_courses(*, learner) -> QuerySet[Course]:
    """The learner's courses with their lessons, two queries whatever the count."""
    return (
        Course.objects.filter(enrollments__learner=learner, enrollments__status=Enrollment.Status.ACTIVE)
        .select_related("merchant")
        .prefetch_related(Prefetch("lessons", queryset=Lesson.objects.order_by("position", "pk")))
        .order_by("-enrollments__granted_at")
    )


def lesson_visible_to(*, learner, lesson: Lesson) -> bool:
    return lesson.is_preview or learner_owns_course(learner=learner, course=lesson.course)
