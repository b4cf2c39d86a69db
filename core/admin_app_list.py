"""The admin's list of apps and models (the navigation sidebar on every admin page, the
home page), built for the cost of its permission checks only.

Django builds it on every admin page (``AdminSite.each_context``: ``available_apps``) and
spends most of that on what never changes between requests: two ``reverse()`` per model
and one per app (~90 here), and sorting by lazily translated names, each comparison
translating and capitalising them again. :class:`CachedAppListMixin` builds the same list
(``tests/admin/test_admin_floor.py`` compares it with Django's, for every role) with each
model admin's permission methods called exactly as Django calls them, every request, and
the URLs looked up once per URL configuration and script prefix (``core.admin_urls``), the
apps' and models' names translated once per language (:func:`_translated`).
"""

from django.apps import apps
from django.utils.text import capfirst
from django.utils.translation import get_language

from core.admin_urls import cached_reverse

_names: dict = {}


def _translated(language: str | None, model=None, app_label: str = "") -> str:
    """A model's capitalised plural name, or an app's name, in ``language``: what
    ``str(capfirst(opts.verbose_name_plural))`` and ``str(app_config.verbose_name)`` give
    (the lazy names translate the same way for a language for the process's life), kept
    instead of translated again for each of 44 models on every page."""
    key = (language, model, app_label)
    if key not in _names:
        if model is not None:
            _names[key] = str(capfirst(model._meta.verbose_name_plural))
        else:
            _names[key] = str(apps.get_app_config(app_label).verbose_name)
    return _names[key]


class CachedAppListMixin:
    """For an ``AdminSite`` subclass: ``_build_app_dict`` as Django's, minus the
    repeated ``reverse()`` and lazy-name work (module docstring)."""

    def _admin_url(self, name: str, **kwargs) -> str | None:
        return cached_reverse(f"admin:{name}", current_app=self.name, **kwargs)

    def _build_app_dict(self, request, label=None):
        app_dict = {}
        language = get_language()
        for model, model_admin in self._registry.items():
            app_label = model._meta.app_label
            if label and app_label != label:
                continue
            has_module_perms = model_admin.has_module_permission(request)
            if not has_module_perms:
                continue
            perms = model_admin.get_model_perms(request)
            if True not in perms.values():
                continue
            info = f"{app_label}_{model._meta.model_name}"
            model_dict = {
                "model": model,
                "name": _translated(language, model),
                "object_name": model._meta.object_name,
                "perms": perms,
                "admin_url": None,
                "add_url": None,
            }
            if perms.get("change") or perms.get("view"):
                model_dict["view_only"] = not perms.get("change")
                model_dict["admin_url"] = self._admin_url(f"{info}_changelist")
            if perms.get("add"):
                model_dict["add_url"] = self._admin_url(f"{info}_add")
            if app_label in app_dict:
                app_dict[app_label]["models"].append(model_dict)
            else:
                app_dict[app_label] = {
                    "name": _translated(language, app_label=app_label),
                    "app_label": app_label,
                    "app_url": self._admin_url("app_list", app_label=app_label),
                    "has_module_perms": has_module_perms,
                    "models": [model_dict],
                }
        return app_dict
