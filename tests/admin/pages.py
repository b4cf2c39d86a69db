"""Admin page addresses, and what the tests comparing pages with Django's share."""

import re

from django.urls import reverse

HOSTILE = "<script>alert('x')</script> & \"Co\""
"""A name that must come out escaped wherever a page shows it."""


def without_token(html: str) -> str:
    """A page without its CSRF token, which differs from one rendering to the next."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def admin_url(model, view="changelist", *args) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)
