"""Telling the learner what became of their refund, by e-mail, once the change commits."""

import logging

from django.core.mail import send_mail
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from core.languages import language_of
from core.money import fen_to_yuan
from orders.models import Order

from ..models import Refund

logger = logging.getLogger(__name__)


def refund_learner_notify_on_commit(*, refund: Refund, order: Order) -> None:
    """E-mail the learner that ``refund`` was paid or declined (nothing for other states, or
    a learner without an address). A mail server problem is logged, never raised: the
    refund itself has happened."""
    if refund.status not in (Refund.Status.SUCCEEDED, Refund.Status.DENIED):
        return
    learner = order.learner
    if not learner.email:
        return
    with translation.override(language_of(learner)):  # not the admin's, nor the worker's
        subject, message = _compose(refund=refund, order=order)
    recipient = learner.email

    def send():
        try:
            send_mail(subject, message, None, [recipient])
        except Exception:
            logger.exception("refund %s: could not e-mail the learner", refund.refund_no)

    transaction.on_commit(send)


def _compose(*, refund: Refund, order: Order) -> tuple[str, str]:
    """The subject and body of a paid or declined refund's e-mail, in the active language."""
    if refund.status == Refund.Status.SUCCEEDED:
        subject = _("Your refund for order %(order_no)s was paid") % {"order_no": order.order_no}
        body = _(
            "We have refunded %(amount)s %(currency)s for order %(order_no)s (refund %(refund_no)s). "
            "It reaches your account on the gateway's usual schedule."
        )
    else:
        subject = _("Your refund request for order %(order_no)s was declined") % {"order_no": order.order_no}
        body = _(
            "Your request for a refund of %(amount)s %(currency)s for order %(order_no)s "
            "(refund %(refund_no)s) was declined: %(note)s"
        )
    return subject, body % {
        "amount": fen_to_yuan(refund.amount),
        "currency": refund.currency,
        "order_no": order.order_no,
        "refund_no": refund.refund_no,
        "note": refund.decision_note,
    }
