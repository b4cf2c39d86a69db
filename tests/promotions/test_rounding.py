"""A partial refund takes back the discount in proportion, rounded so that no fen is
created or lost, whatever the refunds (property test)."""

from hypothesis import given
from hypothesis import strategies as st

from promotions.services import discount_reversed


@given(
    paid=st.integers(1, 10_000_000),
    discount=st.integers(0, 10_000_000),
    cuts=st.lists(st.integers(1, 1000), min_size=1, max_size=8),
)
def test_proportional_take_backs_add_up_to_the_discount_exactly(paid, discount, cuts):
    refunded = 0
    taken = 0
    for cut in cuts:
        refund = max(1, (paid - refunded) * cut // 1000)
        if refunded + refund > paid:
            break
        step = discount_reversed(
            discount=discount, refunded=refunded + refund, paid=paid
        ) - discount_reversed(discount=discount, refunded=refunded, paid=paid)
        assert step >= 0
        refunded += refund
        taken += step
        assert taken == discount_reversed(discount=discount, refunded=refunded, paid=paid)
        assert abs(taken * paid - discount * refunded) * 2 <= paid  # within half a fen of exact
    last = discount_reversed(discount=discount, refunded=paid, paid=paid) - taken
    assert taken + last == discount
