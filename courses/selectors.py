from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

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


def lesson_get_reachable(*, learner, course_slug: str, lesson_id: int) -> Lesson | None:
    """The lesson if it belongs to course ``course_slug`` and that course is on sale or the
    learner is enrolled in it: a preview of an unpublished course stays hidden, while an
    enrolled learner keeps reading a course that was archived after they bought it."""
    reachable = Q(course__status=Course.Status.PUBLISHED, course__merchant__is_active=True)
    if learner.is_authenticated:
        reachable |= active_enrollment_exists(learner_id=learner.pk, course_ref=OuterRef("course_id"))
    return (
        Lesson.objects.select_related("course", "course__merchant")
        .filter(reachable, pk=lesson_id, course__slug=course_slug)
        .first()
    )


def lesson_visible_to(*, learner, lesson: Lesson) -> bool:
    """Whether the learner may read the lesson's content: a preview of a course on sale,
    or any lesson of a course they are enrolled in."""
    if lesson.is_preview and lesson.course.is_purchasable:
        return True
    return learner_owns_course(learner=learner, course=lesson.course)
