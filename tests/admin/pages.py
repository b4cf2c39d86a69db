"""Admin page addresses for the tests."""

from django.urls import reverse


def admin_url(model, view="changelist", *args) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)
