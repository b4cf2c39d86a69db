"""Who else than a merchant may be paid out through the payout flow (提现): a registry.

A payout's ``payee`` is empty for the merchant itself, or the journal owner of the
balance it withdraws, such as ``promoter:<id>`` (the ``promoters`` app). An app above
settlement registers its payee kind from its ``AppConfig.ready`` with who may ask for
such a payout, so settlement never imports it::

    register_payee_kind("promoter", may_request=promoter_may_request)

``may_request(user, payee=, merchant_id=)`` says whether ``user`` may withdraw the
payee's available balance. The amount limits, the balance check and finance's
decisions are the merchant payouts' own.
"""

from collections.abc import Callable

_KINDS: dict[str, Callable[..., bool]] = {}


def register_payee_kind(kind: str, *, may_request: Callable[..., bool]) -> None:
    _KINDS[kind] = may_request


def may_request(user, *, payee: str, merchant_id: int) -> bool:
    check = _KINDS.get(payee.partition(":")[0])
    return check is not None and bool(check(user, payee=payee, merchant_id=merchant_id))


def owner_of(*, payee: str, merchant_id: int) -> str:
    """The journal owner whose ``available``, ``payouts`` and ``paid_out`` accounts the payout moves."""
    return payee or f"merchant:{merchant_id}"
