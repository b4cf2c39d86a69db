"""Background jobs in the back office: the list of one's own jobs, a job's progress page
(a progress bar that polls a small JSON status view, then goes to the result page), and
the registry of result pages by kind (each app registers its kinds' pages)."""

from collections.abc import Callable

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.models import Job

from .readonly import ReadOnlyAdminMixin

_RESULT_PAGES: dict[str, Callable[[Job], str | None]] = {}


def register_job_result(kind: str, url_for: Callable[[Job], str | None]) -> None:
    """Where a finished job of ``kind`` is shown: ``url_for(job)`` (None: no page)."""
    _RESULT_PAGES[kind] = url_for


def job_result_url(job: Job) -> str | None:
    url_for = _RESULT_PAGES.get(job.kind)
    return url_for(job) if url_for is not None and job.finished else None


def job_progress_url(job: Job) -> str:
    return reverse("admin:core_job_progress", args=[job.pk])


def job_status(job: Job) -> dict:
    """What the progress page polls."""
    return {
        "id": job.pk,
        "state": job.state,
        "state_label": str(job.get_state_display()),
        "finished": job.finished,
        "percent": job.percent,
        "done": job.done,
        "total": job.total,
        "step": job.step,
        "error": job.error,
        "result_url": job_result_url(job),
    }


@admin.register(Job)
class JobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Staff see the jobs they started (superusers every job); a job's page is its progress."""

    list_display = ("title", "state", "progress", "created_at", "finished_at", "created_by")
    list_filter = ("state",)
    list_select_related = ("created_by",)
    search_fields = ("title",)
    list_display_links = None

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        if not self.has_module_permission(request):
            return False
        return obj is None or request.user.is_superuser or obj.created_by_id == request.user.pk

    def get_queryset(self, request):
        jobs = super().get_queryset(request)
        return jobs if request.user.is_superuser else jobs.filter(created_by=request.user)

    @admin.display(description=_("progress"))
    def progress(self, job):
        url = job_result_url(job) if job.finished else None
        if url:
            return format_html('<a href="{}">{}</a>', url, _("See the result"))
        percent = job.percent
        return format_html(
            '<a href="{}">{}</a>', job_progress_url(job), "…" if percent is None else f"{percent}%"
        )

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:job_id>/progress/", wrap(self.progress_view), name="core_job_progress"),
            path("<int:job_id>/status/", wrap(self.status_view), name="core_job_status"),
            path("<int:job_id>/change/", wrap(self.progress_view)),
            *super().get_urls(),
        ]

    def _job(self, request, job_id) -> Job:
        job = Job.objects.filter(pk=job_id).select_related("created_by").first()
        if job is None:
            raise Http404
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        return job

    def status_view(self, request, job_id):
        return JsonResponse(job_status(self._job(request, job_id)))  # never cached: admin_view

    def progress_view(self, request, job_id):
        job = self._job(request, job_id)
        status = job_status(job)
        if job.state == Job.State.SUCCEEDED and status["result_url"]:
            return redirect(status["result_url"])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": job.title,
            "job": job,
            "status": status,
            "status_url": reverse("admin:core_job_status", args=[job.pk]),
        }
        return TemplateResponse(request, "admin/kpay/job_progress.html", context)
