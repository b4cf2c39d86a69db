"""The admin's navigation, for less than Django's own tags.

``{% admin_app_list app_list show_changelinks %}``: the admin's list of apps and models
(``templates/admin/app_list.html``: the navigation sidebar of every admin page, the home
page), the markup of Django's own ``admin/app_list.html`` written in Python.

Django's template renders ~40 models with a dozen tags each, three of them encoding the
request's path again: 3-4 ms of every admin page's CPU here, against a few tenths of a
millisecond for this. The markup is Django's (``tests/admin/test_admin_floor.py`` renders
both and compares them); every value is escaped (``html.escape``, as Django's ``escape``).
"""

from html import escape
from urllib.parse import quote

from django import template
from django.template.defaulttags import URLNode, url
from django.urls import NoReverseMatch, reverse
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext

from core.admin_urls import url_configuration

register = template.Library()


@register.simple_tag(takes_context=True)
def admin_app_list(context, app_list, show_changelinks=False):
    if not app_list:
        return mark_safe(f"<p>{escape(gettext('You don’t have permission to view or edit anything.'))}</p>")  # noqa: S308
    request = context.get("request")
    path = quote(request.path, safe="/") if request is not None else ""
    add, view, change = (escape(gettext(word)) for word in ("Add", "View", "Change"))
    head = (
        '<thead class="visually-hidden"><tr>'
        f'<th scope="col">{escape(gettext("Model name"))}</th>'
        f'<th scope="col">{escape(gettext("Add link"))}</th>'
        f'<th scope="col">{escape(gettext("Change or view list link"))}</th>'
        "</tr></thead>"
    )
    parts = []
    for app in app_list:
        label, name, app_url = escape(str(app["app_label"])), escape(str(app["name"])), app["app_url"]
        # blocktranslate escapes the name it puts into the (unescaped) translation.
        title = gettext("Models in the %(name)s application") % {"name": name}
        current_app = " current-app" if app_url and app_url in path else ""
        parts.append(
            f'<div class="app-{label} module{current_app}"><table><caption>'
            f'<a href="{escape(str(app_url))}" class="section" title="{title}">{name}</a></caption>{head}'
        )
        for model in app["models"]:
            admin_url, add_url = model["admin_url"], model["add_url"]
            current = bool(admin_url) and admin_url in path
            model_name = escape(str(model["object_name"]).lower())
            row_id = f"{label}-{model_name}"
            shown = escape(str(model["name"]))
            if admin_url:
                aria = ' aria-current="page"' if current else ""
                shown = f'<a href="{escape(admin_url)}"{aria}>{shown}</a>'
            parts.append(
                f'<tr class="model-{model_name}{" current-model" if current else ""}">'
                f'<th scope="row" id="{row_id}">{shown}</th>'
            )
            if add_url:
                link = f'<a href="{escape(add_url)}" class="addlink" aria-describedby="{row_id}">{add}</a>'
                parts.append(f"<td>{link}</td>")
            else:
                parts.append("<td></td>")
            if admin_url and show_changelinks:
                kind, word = ("viewlink", view) if model.get("view_only") else ("changelink", change)
                link = f'<a href="{escape(admin_url)}" class="{kind}" aria-describedby="{row_id}">{word}</a>'
                parts.append(f"<td>{link}</td>")
            elif show_changelinks:
                parts.append("<td></td>")
            parts.append("</tr>")
        parts.append("</table></div>")
    return mark_safe("".join(parts))  # noqa: S308 (every value above is escaped)


@register.tag
def admin_page_url(parser, token):
    """``{% admin_page_url "admin:logout" %}`` (or ``... as name``): ``{% url %}`` for a
    page with no arguments, the header's links on every admin page (password change, log
    out, the home page, the documentation when installed), reversed once per URL
    configuration, script prefix, language and current app instead of once per page.
    Everything else is ``{% url %}``'s: the current app from the request, escaping, and
    ``NoReverseMatch`` raised unless ``as`` is used (then an empty string)."""
    node = url(parser, token)
    if node.args or node.kwargs:
        raise template.TemplateSyntaxError(
            "admin_page_url takes a URL name only: use {% url %} for arguments."
        )
    return _PageURLNode(node.view_name, node.args, node.kwargs, node.asvar)


_page_urls: dict = {}


class _PageURLNode(URLNode):
    def render(self, context):
        view_name = self.view_name.resolve(context)
        try:
            current_app = context.request.current_app
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace
            except AttributeError:
                current_app = None
        key = (view_name, current_app, get_language(), *url_configuration())
        found = _page_urls.get(key)
        if found is None:
            try:
                found = reverse(view_name, current_app=current_app)
            except NoReverseMatch:
                if self.asvar is None:
                    raise
                found = ""  # kept: a name that does not reverse (admindocs, not installed)
            _page_urls[key] = found
        elif not found and self.asvar is None:
            reverse(view_name, current_app=current_app)  # raises NoReverseMatch, as {% url %}
        if self.asvar:
            context[self.asvar] = found
            return ""
        return conditional_escape(found) if context.autoescape else found
