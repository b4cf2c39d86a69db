"""``core.prepared_values``: a ``values()`` queryset compiled once gives, with each call's
own values, what the queryset itself gives; it falls back to the queryset when it cannot
find a parameter's place in the SQL."""

import pytest
from django.db import connection
from django.db.models import Count, Q
from django.test.utils import CaptureQueriesContext

from core.prepared_values import PreparedValues
from courses.models import Merchant
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def _active_by_name(*, name: str, minimum: int):
    return (
        Merchant.objects.filter(pk__gte=minimum)
        .order_by()
        .values("is_active")
        .annotate(merchants=Count("pk"), named=Count("pk", filter=Q(name=name)))
        .order_by("is_active")
    )


def test_each_call_sends_the_compiled_sql_with_its_own_values():
    for name in ("Alpha One", "Alpha Two", "Beta One"):
        MerchantFactory(name=name)
    prepared = PreparedValues(_active_by_name, name="\0stand-in", minimum=-7)
    for name, minimum in (("Alpha One", 0), ("Beta One", 0), ("Gamma", 0), ("Alpha Two", 10**9)):
        expected = list(_active_by_name(name=name, minimum=minimum))
        with CaptureQueriesContext(connection) as sent:
            assert prepared.rows(name=name, minimum=minimum) == expected
        assert len(sent) == 1
    assert prepared._compiled[connection.vendor] is not None  # the compiled SQL was used
    (row,) = prepared.rows(name="Alpha One", minimum=0)
    assert (row["merchants"], row["named"]) == (Merchant.objects.count(), 1)


def test_a_parameter_the_sql_does_not_carry_falls_back_to_the_queryset():
    MerchantFactory(name="Alpha One")

    def build(*, name: str, unused: int):
        return _active_by_name(name=name, minimum=0)

    prepared = PreparedValues(build, name="\0stand-in", unused=-7)
    assert prepared.rows(name="Alpha One", unused=3) == list(build(name="Alpha One", unused=3))
    assert prepared._compiled[connection.vendor] is None
    with pytest.raises(TypeError):
        prepared.rows(name="Alpha One")
