"""``{% kpay_result_list cl %}``: Django's ``{% result_list cl %}`` (same template,
``admin/change_list_results.html``, same context) with the rows of
:func:`core.admin.rows.result_rows`; when those rows are kpay's and the template is
Django's own, the table is written by :func:`core.admin.results_table.results_table`
(the same markup, without the template)."""

from django import template
from django.contrib.admin.templatetags.admin_list import result_headers, result_hidden_fields
from django.contrib.admin.templatetags.base import InclusionAdminNode

from core.admin import results_table as table
from core.admin.rows import result_rows

register = template.Library()
DJANGOS = f"django/contrib/admin/templates/admin/{table.TEMPLATE_NAME}"


def result_list(cl):
    headers = list(result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": list(result_hidden_fields(cl)),
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "results": list(result_rows(cl)),
    }


class ResultListNode(InclusionAdminNode):
    def render(self, context):
        opts = context["opts"]
        names = [
            f"admin/{opts.app_label.lower()}/{opts.model_name}/{table.TEMPLATE_NAME}",
            f"admin/{opts.app_label.lower()}/{table.TEMPLATE_NAME}",
            f"admin/{table.TEMPLATE_NAME}",
        ]
        chosen = context.template.engine.select_template(names)
        if _is_djangos(chosen):
            written = table.results_table(self.args[0].resolve(context))
            if written is not None:
                return written
        return super().render(context)


def _is_djangos(chosen) -> bool:
    """Whether the template chosen is Django's own (no app or model overrides it)."""
    name = getattr(getattr(chosen, "origin", None), "name", None) or ""
    return name.replace("\\", "/").endswith(DJANGOS)


@register.tag(name="kpay_result_list")
def result_list_tag(parser, token):
    return ResultListNode(
        parser, token, func=result_list, template_name=table.TEMPLATE_NAME, takes_context=False
    )
