"""Points movements the journal must follow (``payments`` posts them; promotions sits
below payments and never imports it). Sent inside the transaction that moved the points,
so the posting commits with them or not at all.

``points_booked(kind, points, value, learner_id, order_id, at)``: ``value`` fen moved
into (``points`` > 0: earned, granted) or out of (< 0: deducted, expired, clawed back)
the points liability, from or to the points expense.
"""

from django.dispatch import Signal

points_booked = Signal()
