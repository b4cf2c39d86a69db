"""Plans bought through the same checkout as courses."""

from orders.models import OrderLine
from orders.services import Purchase

from ..models import Plan


def plan_purchase(*, plan: Plan, checkout_key: str = "") -> Purchase:
    """One period of ``plan`` at today's price, as an order line of the membership kind.

    ``checkout_key`` keeps one open order per learner and key: by default the plan (a
    learner buying by hand); a renewal passes its own key, so that a renewal charge and
    an order the learner left open never meet.
    """
    line = OrderLine(
        kind=OrderLine.MEMBERSHIP,
        plan_id=plan.pk,
        title=plan.title,
        unit_price=plan.price,
        quantity=1,
        amount=plan.price,
    )
    return Purchase(
        line=line,
        merchant_id=plan.merchant_id,
        currency=plan.currency,
        checkout_key=checkout_key or f"plan:{plan.pk}",
    )
