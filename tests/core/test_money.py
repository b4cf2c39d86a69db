"""core.money: the one contract between fen and yuan."""

from decimal import Decimal

import pytest
from django import forms
from hypothesis import given
from hypothesis import strategies as st

from core.money import AmountError, YuanField, fen_to_yuan, format_yuan, prorate, yuan_to_fen

FEN = st.integers(min_value=-(10**15), max_value=10**15)


@given(FEN)
def test_fen_survive_a_round_trip_through_yuan(fen):
    assert yuan_to_fen(fen_to_yuan(fen)) == fen


@given(FEN)
def test_every_display_form_reads_back_to_the_same_fen(fen):
    for text in (format_yuan(fen), format_yuan(fen, grouping=True).replace(",", "")):
        assert yuan_to_fen(text) == fen


@pytest.mark.parametrize(
    ("text", "fen"),
    [("99", 9900), ("99.5", 9950), ("99.00", 9900), (" 0.01 ", 1), ("-0.59", -59), ("１２.５０", 1250)],
)
def test_yuan_read_exactly(text, fen):
    assert yuan_to_fen(text) == fen
    assert yuan_to_fen(Decimal(text.strip())) == fen


@pytest.mark.parametrize("text", ["", "abc", "1.005", "0.001", "NaN", "Infinity", "1e-3", "¥1"])
def test_anything_but_whole_fen_is_an_error_never_a_rounded_or_zero_amount(text):
    with pytest.raises(AmountError):
        yuan_to_fen(text)


@pytest.mark.parametrize("value", [1.5, True])
def test_floats_and_bools_are_refused(value):
    with pytest.raises(TypeError):
        yuan_to_fen(value)
    with pytest.raises(TypeError):
        fen_to_yuan(value)


def test_formats():
    assert fen_to_yuan(9900) == "99.00"
    assert fen_to_yuan(-50) == "-0.50"
    assert format_yuan(123456) == "1234.56"
    assert format_yuan(123456, grouping=True) == "1,234.56"
    assert format_yuan(-150, symbol=True) == "-¥1.50"
    assert format_yuan(-12345678, grouping=True, symbol=True) == "-¥123,456.78"


class AmountForm(forms.Form):
    amount = YuanField(min_fen=100, max_fen=10_000, required=False)


@pytest.mark.parametrize(
    ("typed", "fen"), [("1", 100), ("12.5", 1250), ("100.00", 10_000), ("", None), ("１２.５０", 1250)]
)
def test_the_yuan_field_cleans_to_fen(typed, fen):
    form = AmountForm({"amount": typed})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount"] == fen


@pytest.mark.parametrize("typed", ["0.99", "100.01", "1.234", "abc", "NaN"])
def test_the_yuan_field_refuses_what_it_cannot_take(typed):
    form = AmountForm({"amount": typed})
    assert not form.is_valid()
    assert "amount" in form.errors


@given(st.integers(0, 10**9), st.integers(1, 10**9), st.lists(st.integers(1, 100), max_size=6))
def test_cumulative_prorated_shares_add_up_exactly(amount, whole, steps):
    """Refund shares taken cumulatively (after minus before) never create or lose a fen."""
    done, taken = 0, 0
    for step in steps:
        part = min(whole, done + max(1, whole * step // 100))
        share = prorate(amount, part, whole) - prorate(amount, done, whole)
        assert share >= 0  # a refund never gives a share back negative
        taken += share
        done = part
    taken += prorate(amount, whole, whole) - prorate(amount, done, whole)
    assert taken == amount
    assert prorate(amount, 0, whole) == 0
