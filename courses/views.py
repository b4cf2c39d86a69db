"""Catalog pages: what is on sale (searched, by category), a course's page, its lessons
(with previous/next and the learner's progress), the learner's courses."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from . import selectors, services

CATALOG_PAGE_SIZE = 24


@require_safe
def catalog(request):
    query = " ".join(selectors.search_terms(request.GET.get("q", "")))
    category_slug = request.GET.get("category", "").strip()
    category = selectors.category_get(slug=category_slug)
    if category_slug and category is None:
        raise Http404
    courses = selectors.course_search(query=query, category=category)
    page = Paginator(courses, CATALOG_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "courses/catalog.html",
        {
            "page": page,
            "courses": page.object_list,
            "query": query,
            "category": category,
            "categories": selectors.categories_in_catalogue(),
            "filtered": bool(query or category),
        },
    )


@require_safe
def course_detail(request, slug):
    course = selectors.course_get_published(slug=slug)
    if course is None:
        raise Http404
    lessons = list(course.lessons.all())
    # "" enrolled, a label ("Unlocked by your membership") for other access, None: no access.
    access = selectors.learner_course_access(learner=request.user, course=course)
    owned = access is not None
    return render(
        request,
        "courses/detail.html",
        {
            "course": course,
            "lessons": lessons,
            "owned": owned,
            "unlocked_by": access or "",
            "progress": selectors.course_progress(learner=request.user, course=course, lessons=lessons)
            if owned
            else None,
        },
    )


@require_safe
def lesson_detail(request, slug, lesson_id):
    lesson = selectors.lesson_get_reachable(learner=request.user, course_slug=slug, lesson_id=lesson_id)
    if lesson is None:
        raise Http404
    course = lesson.course
    owned = selectors.learner_owns_course(learner=request.user, course=course)
    if not selectors.lesson_visible_to(learner=request.user, lesson=lesson, owned=owned):
        messages.info(request, _("This lesson unlocks when you buy the course."))
        return redirect(course)
    if request.user.is_authenticated:
        services.lesson_visit_record(learner_id=request.user.pk, lesson=lesson, at=timezone.now())
    lessons = list(course.lessons.order_by("position", "pk"))
    return render(
        request,
        "courses/lesson.html",
        {
            "lesson": lesson,
            "course": course,
            "owned": owned,
            "place": selectors.lesson_place(lesson=lesson, lessons=lessons),
            "progress": selectors.course_progress(learner=request.user, course=course, lessons=lessons)
            if owned
            else None,
        },
    )


@require_safe
@login_required
def my_courses(request):
    courses = list(selectors.learner_courses(learner=request.user))
    opened = selectors.opened_lesson_ids(learner=request.user, course_ids=[course.pk for course in courses])
    return render(
        request,
        "courses/my_courses.html",
        {
            "entries": [
                (course, selectors.CourseProgress(lessons=tuple(course.lessons.all()), opened_ids=opened))
                for course in courses
            ],
        },
    )
