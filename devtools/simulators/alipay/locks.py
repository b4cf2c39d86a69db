"""Row locks of the simulated Alipay's books (inside the caller's transaction)."""

from .models import AlipayAgreement


def agreement_lock(pk: int) -> AlipayAgreement:
    """Lock the simulated agreement ``pk``: signing, unsigning and charging it."""
    return AlipayAgreement.objects.select_for_update().get(pk=pk)
