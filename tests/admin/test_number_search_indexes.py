"""The admin's search by number (``core.admin.NumberSearchMixin``) is an exact lookup on
each of its ``number_search_fields``: every one must be served by an index, or the
search scans the whole table at a million rows (a refund's gateway id once did)."""

import pytest
from django.contrib import admin
from django.db import models

from core.admin.large_tables import NumberSearchMixin


def _indexed(model: type[models.Model], name: str) -> bool:
    field = model._meta.get_field(name)
    if field.primary_key or field.unique or field.db_index:  # a foreign key has db_index
        return True
    return any(index.fields and index.fields[0].lstrip("-") == name for index in model._meta.indexes)


def _searches():
    for model, model_admin in admin.site._registry.items():
        if isinstance(model_admin, NumberSearchMixin):
            for lookup in model_admin.number_search_fields:
                yield pytest.param(model, lookup, id=f"{model._meta.label}.{lookup}")


@pytest.mark.parametrize(("model", "lookup"), list(_searches()))
def test_every_number_search_field_is_indexed(model, lookup):
    # A related number ("order__order_no") is resolved to ids first, then filtered on the
    # foreign key: both steps need their index.
    *path, name = lookup.split("__")
    for step in path:
        assert _indexed(model, step), f"{model._meta.label}.{step} has no index"
        model = model._meta.get_field(step).related_model
    assert _indexed(model, name), f"{model._meta.label}.{name} has no index"


def test_the_searches_are_found():
    assert {param.id for param in _searches()} >= {
        "payments.Refund.gateway_refund_id",
        "payments.Payment.gateway_txn_id",
        "orders.Order.order_no",
    }
