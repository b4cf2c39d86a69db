"""Catalog pages: what is on sale, a course's page, its lessons, the learner's courses."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from . import selectors

CATALOG_PAGE_SIZE = 24


@require_safe
def catalog(request):
    page = Paginator(selectors.course_list_published(), CATALOG_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "courses/catalog.html", {"page": page, "courses": page.object_list})


@require_safe
def course_detail(request, slug):
    course = selectors.course_get_published(slug=slug)
    if course is None:
        raise Http404
    return render(
        request,
        "courses/detail.html",
        {
            "course": course,
            "lessons": list(course.lessons.all()),
            "owned": selectors.learner_owns_course(learner=request.user, course=course),
        },
    )


@require_safe
def lesson_detail(request, slug, lesson_id):
    lesson = selectors.lesson_get_reachable(learner=request.user, course_slug=slug, lesson_id=lesson_id)
    if lesson is None:
        raise Http404
    if not selectors.lesson_visible_to(learner=request.user, lesson=lesson):
        messages.info(request, _("This lesson unlocks when you buy the course."))
        return redirect(lesson.course)
    return render(request, "courses/lesson.html", {"lesson": lesson, "course": lesson.course})


@require_safe
@login_required
def my_courses(request):
    return render(
        request,
        "courses/my_courses.html",
        {
            "courses": selectors.learner_courses(learner=request.user),
        },
    )
