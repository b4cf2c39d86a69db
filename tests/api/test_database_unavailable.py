"""The database restarting mid-request (bench/fault.py saw it) is a 503 the client may retry,
in the API's error shape, not a 500 page."""

import pytest
from django.db import OperationalError

from orders import selectors


@pytest.mark.django_db
def test_a_database_outage_is_a_503_with_retry_after(api_client, learner, monkeypatch):
    api_client.force_authenticate(learner)

    def down(**kwargs):
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr(selectors, "order_list_for_learner", down)
    response = api_client.get("/api/v1/orders/")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert response["Retry-After"] == "5"
