"""Signals orders sends for the layers above it (payments), which orders must not import."""

from django.dispatch import Signal

# Sent on commit after an unpaid order is cancelled or expires; ``order`` is the Order.
# Payments listens and closes the order's open gateway trades.
order_closed = Signal()
