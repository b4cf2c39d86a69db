"""The one skeleton of an admin page that calls one service.

Issue a refund, decide a payout, resolve a difference, upload a bill …: each page shows a
form; a valid POST calls the service; a :class:`~core.errors.KpayError` it raises becomes a
form error (its message is safe to show), and success answers with whatever the page
returns (usually a message and a redirect to the changed object).
"""

from collections.abc import Callable, Mapping

from django import forms
from django.http import HttpResponse
from django.template.response import TemplateResponse

from core.errors import KpayError


def service_form_view(
    model_admin,
    request,
    *,
    form: forms.Form,
    perform: Callable[[dict], HttpResponse],
    template: str,
    title: str,
    context: Mapping | None = None,
    error_fields: Mapping[type[KpayError], str] | None = None,
) -> HttpResponse:
    """Render ``template`` with ``form``, or on a valid POST return ``perform(cleaned_data)``.

    ``error_fields`` maps an error class to the form field it belongs to (otherwise the
    error is shown above the form).
    """
    if request.method == "POST" and form.is_valid():
        try:
            return perform(form.cleaned_data)
        except KpayError as exc:
            field = next((name for kind, name in (error_fields or {}).items() if isinstance(exc, kind)), None)
            form.add_error(field, str(exc.message))
    page = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": title,
        "form": form,
        **(context or {}),
    }
    return TemplateResponse(request, template, page)
