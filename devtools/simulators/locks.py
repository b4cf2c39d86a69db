"""Row locks of the simulated gateways' books (inside the caller's transaction)."""

from django.utils import timezone


def payable_trade_lock(model, pk: int, *, expires: str):
    """Lock the simulated trade ``pk`` of ``model`` if its payer may still pay or decline
    it (unpaid or failed, and ``expires``, its expiry field, still ahead); else None."""
    trade = model.objects.select_for_update().get(pk=pk)
    payable = trade.state in (model.State.NOTPAY, model.State.PAYERROR)
    return trade if payable and getattr(trade, expires) > timezone.now() else None
