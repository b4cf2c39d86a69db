"""Points in the back office: the history is read-only; marketing grants or deducts
points with a reason on a service page; support and finance only look."""

import pytest

from courses import roles
from promotions import selectors
from promotions.models import PointsEntry
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ADJUST = "/admin/promotions/pointsentry/adjust/"


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def test_marketing_grants_and_deducts_points_with_a_reason(client, staff_in):
    ann = UserFactory(username="ann")
    marketer = staff_in(roles.MARKETING)
    client.force_login(marketer)

    assert "Grant or deduct points" in client.get("/admin/promotions/pointsentry/").content.decode()
    no_reason = client.post(ADJUST, {"learner": "ann", "action": "grant", "points": "500", "reason": ""})
    assert no_reason.status_code == 200 and not PointsEntry.objects.exists()
    too_many = client.post(ADJUST, {"learner": "ann", "action": "deduct", "points": "1", "reason": "abuse"})
    assert "You do not have that many points." in too_many.content.decode()

    granted = client.post(ADJUST, {"learner": "ann", "action": "grant", "points": "500", "reason": "apology"})
    deducted = client.post(ADJUST, {"learner": "ann", "action": "deduct", "points": "200", "reason": "abuse"})

    assert (granted.status_code, deducted.status_code) == (302, 302)
    assert selectors.points_balance(learner_id=ann.pk) == 300
    assert set(PointsEntry.objects.values_list("kind", "points", "actor", "reason")) == {
        ("granted", 500, marketer.pk, "apology"),
        ("deducted", -200, marketer.pk, "abuse"),
    }
    entry = PointsEntry.objects.first()
    assert client.get(f"/admin/promotions/pointsentry/{entry.pk}/change/").status_code == 200
    assert client.post(f"/admin/promotions/pointsentry/{entry.pk}/delete/").status_code == 403


def test_support_sees_the_history_but_cannot_adjust_and_merchants_see_nothing(
    client, staff_in, merchant_user
):
    client.force_login(staff_in(roles.SUPPORT))
    listing = client.get("/admin/promotions/pointsentry/")
    assert listing.status_code == 200
    assert "Grant or deduct points" not in listing.content.decode()
    assert (
        client.post(ADJUST, {"learner": "x", "action": "grant", "points": "1", "reason": "r"}).status_code
        == 403
    )
    client.force_login(merchant_user)
    assert client.get("/admin/promotions/pointsentry/").status_code == 403
