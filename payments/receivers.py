from django.db.models.signals import post_save
from django.dispatch import receiver
from django_fsm.signals import post_transition

from core.metrics import PAYMENTS, REFUNDS, count_on_commit
from orders.signals import order_closed
from promotions.signals import points_booked

from . import ledger
from .models import Payment, Refund
from .tasks import close_order_payments


@receiver(order_closed, dispatch_uid="payments.close_order_payments")
def _close_payments_of_closed_order(*, order, **kwargs):
    close_order_payments.delay(order.pk)


@receiver(points_booked, dispatch_uid="payments.post_points")
def _post_points(*, kind, value, learner_id, order_id, at, **kwargs):
    """Points moved: the journal follows in the same transaction."""
    ledger.post_points(kind=str(kind), value=value, learner_id=learner_id, order_id=order_id, at=at)


# Metrics (README "Operating kpay"), counted when the transaction commits.
@receiver(post_save, sender=Payment, dispatch_uid="payments.metrics.payment_started")
def _count_payment_started(*, instance, created, **kwargs):
    if created:
        count_on_commit(PAYMENTS, channel=instance.channel, outcome="started")


@receiver(post_transition, sender=Payment, dispatch_uid="payments.metrics.payment_outcome")
def _count_payment_outcome(*, instance, source, target, **kwargs):
    if target != source:
        count_on_commit(PAYMENTS, channel=instance.channel, outcome=str(target))


@receiver(post_save, sender=Refund, dispatch_uid="payments.metrics.refund_requested")
def _count_refund_requested(*, instance, created, **kwargs):
    if created:
        count_on_commit(REFUNDS, state=str(instance.status))


@receiver(post_transition, sender=Refund, dispatch_uid="payments.metrics.refund_state")
def _count_refund_state(*, source, target, **kwargs):
    if target != source:
        count_on_commit(REFUNDS, state=str(target))
