"""Old path of :mod:`payments.services.flags`, kept until reconciliation imports the new one.
Note the new ``payment_flag`` takes keyword arguments: ``payment_flag(payment=…, why=…)``."""

from .services.flags import merchant_ids_mismatch
from .services.flags import payment_flag as _payment_flag


def payment_flag(payment, why: str) -> None:
    _payment_flag(payment=payment, why=why)


__all__ = ["merchant_ids_mismatch", "payment_flag"]
