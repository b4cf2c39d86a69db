"""``{% kpay_list_filters cl %}``: a changelist's filters, as Django's
``{% admin_list_filter cl spec %}`` for each (``core.admin.list_filters``)."""

from django import template

from core.admin.list_filters import list_filters_html

register = template.Library()


@register.simple_tag
def kpay_list_filters(cl):
    return list_filters_html(cl)
