"""Admin URLs reversed once: ``reverse()`` costs ~20 µs, and an admin page asked for ~90
of them before its rows (the app list) and one or two per row (the row's own link, links
to related objects). What a name reverses to depends only on the URL configuration and the
script prefix, both part of the cache's key (:func:`url_configuration`)."""

from django.contrib.admin.utils import quote
from django.urls import NoReverseMatch, get_resolver, get_script_prefix, get_urlconf, reverse

PK_PLACEHOLDER = "kpaypk"  # stands for the object's (quoted) key in a cached change URL
_cache: dict = {}


def url_configuration() -> tuple:
    """What a URL name reverses to depends on: the URL configuration in force (the
    setting's, or the request's own ``request.urlconf``) as Django holds it, its resolver
    (a new one whenever Django clears its URL caches: a setting changed, a test's URLs),
    and the script prefix."""
    return (get_resolver(get_urlconf()), get_script_prefix())


def _key(*parts):
    return (*parts, *url_configuration())


def cached_reverse(name: str, *, current_app: str = "admin", **kwargs) -> str | None:
    """``reverse(name, kwargs=kwargs)``, cached; None when it does not reverse."""
    key = _key(name, current_app, tuple(sorted(kwargs.items())))
    if key not in _cache:
        try:
            _cache[key] = reverse(name, kwargs=kwargs or None, current_app=current_app)
        except NoReverseMatch:
            _cache[key] = None
    return _cache[key]


def admin_change_url_template(opts, *, current_app: str = "admin") -> str:
    """The admin change page of model ``opts`` with :data:`PK_PLACEHOLDER` for the key."""
    name = f"admin:{opts.app_label}_{opts.model_name}_change"
    key = _key(name, current_app)
    template = _cache.get(key)
    if template is None:
        template = _cache[key] = reverse(name, args=(PK_PLACEHOLDER,), current_app=current_app)
    return template


def admin_change_url(opts, pk, *, current_app: str = "admin") -> str:
    """The admin change page of the object of model ``opts`` with key ``pk``: what
    ``reverse("admin:<app>_<model>_change", args=(quote(pk),))`` gives (as the admin's
    ``ChangeList.url_for_result``), the name reversed once. Raises ``NoReverseMatch`` as
    ``reverse`` does."""
    template = admin_change_url_template(opts, current_app=current_app)
    return template.replace(PK_PLACEHOLDER, str(quote(pk)))
