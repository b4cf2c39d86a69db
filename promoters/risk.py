"""A risk rule kind for promoter fraud (refer yourself, or refer buyers who refund):
registered with risk control's kinds from this app, which sits above it."""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from orders.models import Order
from payments.models import Payment
from riskcontrol.params import Count, Ratio, Reason
from riskcontrol.rules import RuleKind, register

from .models import OrderReferral, Promoter


@register
class PromoterFraud(RuleKind):
    name = "promoter_fraud"
    label = _(
        "A referred purchase from the promoter's own device or payer account, or by a promoter "
        "whose referred orders are refunded too often"
    )
    stages = ("checkout", "payment")
    params = {
        "min_orders": Count(_("referred paid orders before the refund ratio counts")),
        "max_ratio": Ratio(_("share of referred orders refunded"), help_text=_("0.00 to 1.00, e.g. 0.30.")),
    }

    def hit(self, params, context, facts):
        promoter_id = getattr(context, "promoter_id", None)
        if promoter_id is None:
            return None
        promoter_user = Promoter.objects.filter(pk=promoter_id).values_list("user_id", flat=True).first()
        own = Order.objects.filter(learner_id=promoter_user)
        if context.device_id and own.filter(device_id=context.device_id).exists():
            return Reason(gettext_noop("The buyer's device is the promoter's own."))
        if (
            context.payer_id
            and Payment.objects.filter(order__learner_id=promoter_user, payer_id=context.payer_id).exists()
        ):
            return Reason(gettext_noop("The buyer paid from the promoter's own payer account."))
        referred = OrderReferral.objects.filter(promoter_id=promoter_id, order__paid_at__isnull=False)
        paid = referred.count()
        refunded = referred.filter(order__refunded_amount__gt=0).count()
        if paid >= params["min_orders"] and refunded > paid * Decimal(params["max_ratio"]):
            return Reason(
                gettext_noop(
                    "%(refunded)s of the promoter's %(paid)s referred orders had a refund: above %(ratio)s."
                ),
                {"refunded": refunded, "paid": paid, "ratio": f"{Decimal(params['max_ratio']) * 100:.0f}%"},
            )
        return None
