"""``{% refund_requestable order as amount %}``: what the learner may still ask back (fen),
for the order pages (orders' own pages know nothing of payments)."""

from django import template

from payments.selectors import refund_requestable_amount

register = template.Library()


@register.simple_tag
def refund_requestable(order) -> int:
    return refund_requestable_amount(order=order)
