"""The admin's list of apps and models (the navigation sidebar on every admin page, the
home page), built for the cost of its permission checks only.

Django builds it on every admin page (``AdminSite.each_context``: ``available_apps``) and
spends most of that on what never changes between requests: two ``reverse()`` per model
and one per app (~90 here), and sorting by lazily translated names, each comparison
translating and capitalising them again. :class:`CachedAppListMixin` builds the same list
(``tests/admin/test_admin_floor.py`` compares it with Django's, for every role) with each
model admin's permission methods called as Django calls them, every request (Django's own
``has_module_permission``, ``user.has_module_perms(app_label)``, asked once per app rather
than once per model: the same question), the URLs reversed once per URL configuration and
script prefix (the configuration read once per page, ``core.admin_urls.url_configuration``),
the apps' and models' names translated once per language (:func:`_translated`).
"""

from django.apps import apps
from django.contrib.admin import ModelAdmin
from django.urls import NoReverseMatch, reverse
from django.utils.text import capfirst
from django.utils.translation import get_language

from core.admin_urls import url_configuration

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

    def _app_list_urls(self) -> dict:
        """This site's app list URLs for the URL configuration and script prefix in force
        (``core.admin_urls.url_configuration``): looked up once per page, not once per
        model; a URL missing from it (a model registered since) is reversed and kept."""
        cache = self.__dict__.setdefault("_kpay_app_list_urls", {})
        key = url_configuration()
        urls = cache.get(key)
        if urls is None:
            urls = cache[key] = {}
        return urls

    def _model_urls(self, urls: dict, model) -> tuple[str | None, str | None]:
        """The model's changelist and add page URLs (None when one does not reverse)."""
        found = urls.get(model)
        if found is None:
            info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
            found = urls[model] = (
                self._reverse_or_none(f"{info}_changelist"),
                self._reverse_or_none(f"{info}_add"),
            )
        return found

    def _app_url(self, urls: dict, app_label: str) -> str:
        key = ("app_list", app_label)
        found = urls.get(key)
        if found is None:
            found = urls[key] = reverse(
                "admin:app_list", kwargs={"app_label": app_label}, current_app=self.name
            )
        return found

    def _reverse_or_none(self, name: str) -> str | None:
        try:
            return reverse(name, current_app=self.name)
        except NoReverseMatch:
            return None

    def _build_app_dict(self, request, label=None):
        app_dict = {}
        language = get_language()
        urls = self._app_list_urls()
        module_perms: dict[str, bool] = {}  # per app, for model admins that keep Django's check
        for model, model_admin in self._registry.items():
            app_label = model._meta.app_label
            if label and app_label != label:
                continue
            if type(model_admin).has_module_permission is _DJANGOS_MODULE_PERMISSION:
                # Django's check is ``user.has_module_perms(app_label)``: the same answer for
                # every model of the app in one request.
                has_module_perms = module_perms.get(app_label)
                if has_module_perms is None:
                    has_module_perms = module_perms[app_label] = model_admin.has_module_permission(request)
            else:
                has_module_perms = model_admin.has_module_permission(request)
            if not has_module_perms:
                continue
            perms = model_admin.get_model_perms(request)
            if True not in perms.values():
                continue
            model_dict = {
                "model": model,
                "name": _translated(language, model),
                "object_name": model._meta.object_name,
                "perms": perms,
                "admin_url": None,
                "add_url": None,
            }
            changelist_url, add_url = self._model_urls(urls, model)
            if perms.get("change") or perms.get("view"):
                model_dict["view_only"] = not perms.get("change")
                model_dict["admin_url"] = changelist_url
            if perms.get("add"):
                model_dict["add_url"] = add_url
            if app_label in app_dict:
                app_dict[app_label]["models"].append(model_dict)
            else:
                app_dict[app_label] = {
                    "name": _translated(language, app_label=app_label),
                    "app_label": app_label,
                    "app_url": self._app_url(urls, app_label),
                    "has_module_perms": has_module_perms,
                    "models": [model_dict],
                }
        return app_dict


_DJANGOS_MODULE_PERMISSION = ModelAdmin.has_module_permission
