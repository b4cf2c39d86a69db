from dataclasses import dataclass

from django.db.models import DateTimeField, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from . import access
from .models import Category, Course, Enrollment, Lesson, LessonVisit

SEARCH_MAX_TERMS = 8
SEARCH_MAX_LENGTH = 100


def course_list_published() -> QuerySet[Course]:
    return (
        Course.objects.filter(status=Course.Status.PUBLISHED, merchant__is_active=True)
        .select_related("merchant")
        .order_by("-created_at", "pk")
    )


def course_get_published(*, slug: str) -> Course | None:
    return course_list_published().select_related("category").filter(slug=slug).first()


def search_terms(query: str) -> list[str]:
    """The words of a catalogue search (``/?q=``), at most a few, each already stripped."""
    return (query or "")[:SEARCH_MAX_LENGTH].split()[:SEARCH_MAX_TERMS]


def course_search(*, query: str = "", category: Category | None = None) -> QuerySet[Course]:
    """Published courses whose title or summary contains every word of ``query``, ignoring
    case (Chinese has no case; a word is what spaces separate), in ``category`` if given."""
    courses = course_list_published().select_related("category")
    for term in search_terms(query):
        courses = courses.filter(Q(title__icontains=term) | Q(summary__icontains=term))
    if category is not None:
        courses = courses.filter(category=category)
    return courses


def categories_in_catalogue() -> QuerySet[Category]:
    """The categories with at least one course on sale: the catalogue's filter."""
    on_sale = course_list_published().filter(category=OuterRef("pk"))
    return Category.objects.filter(Exists(on_sale)).order_by("position", "name")


def category_get(*, slug: str) -> Category | None:
    return Category.objects.filter(slug=slug).first() if slug else None


def learner_owns_course(*, learner, course: Course) -> bool:
    """Whether the learner may read every lesson of the course: enrolled, or given access
    another way (a membership: :mod:`courses.access`)."""
    return learner_course_access(learner=learner, course=course) is not None


def learner_course_access(*, learner, course: Course) -> str | None:
    """How the learner may read the course: ``""`` enrolled, a source's label (e.g.
    "Unlocked by your membership") for other access, None for no access. One query."""
    if not learner.is_authenticated:
        return None
    now = timezone.now()
    row = (
        Course.objects.filter(pk=course.pk)
        .filter(access.course_access_q(learner_id=learner.pk, course_ref=OuterRef("pk"), at=now))
        .annotate(unlocked_by=access.unlocked_by(learner_id=learner.pk, course_ref=OuterRef("pk"), at=now))
        .values_list("unlocked_by", flat=True)
        .first()
    )
    return row


def active_enrollment_exists(*, learner_id, course_ref):
    """An ``Exists`` for annotating course querysets: an active enrollment (only; what
    else gives access: :func:`courses.access.course_access_exists`)."""
    return access.enrollment_exists(learner_id=learner_id, course_ref=course_ref)


def learner_courses(*, learner) -> QuerySet[Course]:
    """The learner's courses (enrolled, or unlocked another way: ``unlocked_by`` says
    how) with their lessons, two queries whatever the count. Enrolled ones first, the
    latest bought first; then the others by title."""
    now = timezone.now()
    granted = Enrollment.objects.filter(
        learner_id=learner.pk, course=OuterRef("pk"), status=Enrollment.Status.ACTIVE
    ).values("granted_at")[:1]
    return (
        Course.objects.filter(
            access.course_access_q(learner_id=learner.pk, course_ref=OuterRef("pk"), at=now)
        )
        .annotate(
            granted_at=Subquery(granted, output_field=DateTimeField()),
            unlocked_by=access.unlocked_by(learner_id=learner.pk, course_ref=OuterRef("pk"), at=now),
        )
        .select_related("merchant")
        .prefetch_related(Prefetch("lessons", queryset=Lesson.objects.order_by("position", "pk")))
        .order_by(F("granted_at").desc(nulls_last=True), "title", "pk")
    )


def lesson_get_reachable(*, learner, course_slug: str, lesson_id: int) -> Lesson | None:
    """The lesson if it belongs to course ``course_slug`` and that course is on sale or the
    learner may read it: a preview of an unpublished course stays hidden, while an
    enrolled learner keeps reading a course that was archived after they bought it."""
    reachable = Q(course__status=Course.Status.PUBLISHED, course__merchant__is_active=True)
    if learner.is_authenticated:
        reachable |= access.course_access_q(learner_id=learner.pk, course_ref=OuterRef("course_id"))
    return (
        Lesson.objects.select_related("course", "course__merchant")
        .filter(reachable, pk=lesson_id, course__slug=course_slug)
        .first()
    )


def lesson_visible_to(*, learner, lesson: Lesson, owned: bool | None = None) -> bool:
    """Whether the learner may read the lesson's content: a preview of a course on sale,
    or any lesson of a course they may read (enrolled, or a membership; ``owned``, when
    the caller knows it)."""
    if lesson.is_preview and lesson.course.is_purchasable:
        return True
    if owned is None:
        owned = learner_owns_course(learner=learner, course=lesson.course)
    return owned


@dataclass(frozen=True)
class CourseProgress:
    """Which of a course's lessons a learner has opened: progress, by kpay's definition."""

    lessons: tuple[Lesson, ...]
    opened_ids: frozenset[int]

    @property
    def total(self) -> int:
        return len(self.lessons)

    @property
    def opened(self) -> int:
        return sum(lesson.pk in self.opened_ids for lesson in self.lessons)

    @property
    def percent(self) -> int:
        return round(100 * self.opened / self.total) if self.total else 0

    @property
    def resume_lesson(self) -> Lesson | None:
        """Where to go on: the first lesson not opened yet, else the first lesson."""
        for lesson in self.lessons:
            if lesson.pk not in self.opened_ids:
                return lesson
        return self.lessons[0] if self.lessons else None


def opened_lesson_ids(*, learner, course_ids) -> frozenset[int]:
    """The lessons of ``course_ids`` the learner has opened (one query)."""
    if not getattr(learner, "is_authenticated", False):
        return frozenset()
    return frozenset(
        LessonVisit.objects.filter(learner=learner, course_id__in=list(course_ids)).values_list(
            "lesson_id", flat=True
        )
    )


def course_progress(*, learner, course: Course, lessons=None) -> CourseProgress:
    lessons = tuple(lessons if lessons is not None else course.lessons.order_by("position", "pk"))
    return CourseProgress(
        lessons=lessons, opened_ids=opened_lesson_ids(learner=learner, course_ids=[course.pk])
    )


@dataclass(frozen=True)
class LessonPlace:
    """Where a lesson stands in its course: its number, the lessons before and after it."""

    number: int
    count: int
    previous: Lesson | None
    next: Lesson | None


def lesson_place(*, lesson: Lesson, lessons) -> LessonPlace:
    lessons = list(lessons)
    index = next(i for i, candidate in enumerate(lessons) if candidate.pk == lesson.pk)
    return LessonPlace(
        number=index + 1,
        count=len(lessons),
        previous=lessons[index - 1] if index > 0 else None,
        next=lessons[index + 1] if index + 1 < len(lessons) else None,
    )


@dataclass(frozen=True)
class CourseEntry:
    """Where a learner who just got a course goes in: its first lesson (or its page)."""

    course: Course
    first_lesson: Lesson | None


def course_entry_points(*, slugs) -> list[CourseEntry]:
    """The courses named by ``slugs`` (an order's lines), in that order, each with its
    first lesson: two queries whatever the count."""
    courses = {
        course.slug: course
        for course in Course.objects.filter(slug__in=list(slugs))
        .select_related("merchant")
        .prefetch_related(Prefetch("lessons", queryset=Lesson.objects.order_by("position", "pk")))
    }
    entries = []
    for slug in slugs:
        if (course := courses.get(slug)) is not None:
            lessons = list(course.lessons.all())
            entries.append(CourseEntry(course=course, first_lesson=lessons[0] if lessons else None))
    return entries
