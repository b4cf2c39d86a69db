"""Plans bought through the same checkout as courses."""

from core.http import UNKNOWN_CLIENT, ClientInfo
from orders.models import OrderLine
from orders.services import CheckoutResult, Purchase, order_place

from .. import selectors
from ..exceptions import PlanNotAvailable
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
        plan_slug=plan.slug,
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


def plan_checkout(
    *,
    learner,
    plan_slug: str,
    client: ClientInfo = UNKNOWN_CLIENT,
    coupon: str | None = None,
    points: int | None = None,
    referral=None,
) -> CheckoutResult:
    """A learner buys one period of a plan on sale (or gets back their open order for
    it): the checkout of courses (risk, coupon, points, one INSERT), another line kind.
    Bought again before the end, the period is stacked after the last one on delivery."""
    plan = selectors.plan_get_on_sale(slug=plan_slug)
    if plan is None:
        raise PlanNotAvailable()
    return order_place(
        learner=learner,
        purchase=plan_purchase(plan=plan),
        client=client,
        coupon=coupon,
        points=points,
        referral=referral,
    )
