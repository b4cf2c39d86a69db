"""Who referred an order (分销): an extension point, filled in from above by ``promoters``.

``orders`` knows nothing of promoters. An app that attributes orders registers one
:class:`Attribution` from its ``AppConfig.ready`` and is then called:

* ``from_request(request)``: by the checkout views, for the referral the request carries
  (a cookie, the session, or what was stored on the user at login), or None;
* ``resolve(learner=, purchase=, referral=, at=)``: at checkout, before risk control, for the
  promoter id the referral earns the order (None: no attribution). It is written in the
  order's own INSERT, as ``Order.promoter_id`` (a column, no statement more): that is how
  :func:`referred_promoter_id` knows an order was referred without reading another table
  (the paid-order path's budget). It is also an input of the checkout's risk context
  (``core.risk.CheckoutContext.promoter_id``, for the ``promoter_fraud`` rule kind), but
  nothing reads it back from the risk record;
* ``record(order=, promoter_id=, referral=, at=)``: in the checkout's transaction, after
  the order's INSERT;
* ``paid(order=, at=)``, ``refunded(order=, refunded_before=, at=)``,
  ``completed(order=, at=)``: for referred orders only, under the order's row lock,
  in the transaction that pays, refunds or settles it.
"""

from typing import Any, Protocol


class Attribution(Protocol):
    def from_request(self, request) -> Any: ...
    def resolve(self, *, learner, purchase, referral, at) -> int | None: ...
    def record(self, *, order, promoter_id: int, referral, at) -> None: ...
    def paid(self, *, order, at) -> None: ...
    def refunded(self, *, order, refunded_before: int, at) -> None: ...
    def completed(self, *, order, at) -> None: ...


_registered: list[Attribution] = []


def register_attribution(attribution: Attribution) -> None:
    """Plug in the one attribution (again: replaced)."""
    _registered[:] = [attribution]


def attribution() -> Attribution | None:
    return _registered[0] if _registered else None


def referral_from_request(request):
    current = attribution()
    return None if current is None else current.from_request(request)


def referred_promoter_id(order) -> int | None:
    """The promoter the order was attributed to at checkout (``Order.promoter_id``)."""
    return order.promoter_id


def _notify(event: str, order, **kwargs) -> None:
    current = attribution()
    if current is not None and referred_promoter_id(order) is not None:
        getattr(current, event)(order=order, **kwargs)


def order_paid(*, order, at) -> None:
    _notify("paid", order, at=at)


def order_refunded(*, order, refunded_before: int, at) -> None:
    _notify("refunded", order, refunded_before=refunded_before, at=at)


def order_completed(*, order, at) -> None:
    _notify("completed", order, at=at)
