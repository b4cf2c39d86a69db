"""Renewals in the back office: merchants see their own members' renewals and failed
attempts, finance and support see all, nobody changes anything there."""

import datetime

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from courses import roles
from memberships.models import Agreement, Renewal, RenewalAttempt
from tests.factories import MerchantFactory, MerchantStaffFactory, UserFactory
from tests.memberships.renewal_support import make_membership, make_plan

pytestmark = pytest.mark.django_db


def renewal_of(merchant, *, username, failed: bool):
    membership = make_membership(plan=make_plan(merchant=merchant), learner=UserFactory(username=username))
    now = timezone.now()
    agreement = Agreement.objects.create(
        membership=membership,
        gateway="sandbox",
        channel="sandbox_withholding",
        agreement_no=f"A{username.upper()}",
        gateway_agreement_id=f"SBXA{username.upper()}",
        amount_cap=9900,
        period_unit="month",
        period=1,
        first_charge_on=now.date(),
        status=Agreement.Status.ACTIVE,
        signed_at=now,
    )
    renewal = Renewal.objects.create(
        membership=membership,
        agreement=agreement,
        sequence=2,
        period_starts_at=membership.ends_at,
        amount=9900,
        charge_on=now.date(),
        grace_until=membership.ends_at + datetime.timedelta(days=7),
        status=Renewal.Status.RETRYING if failed else Renewal.Status.SCHEDULED,
        attempts_made=1 if failed else 0,
        failure_reason="NOT_ENOUGH: balance" if failed else "",
    )
    if failed:
        RenewalAttempt.objects.create(
            renewal=renewal,
            number=1,
            attempted_at=now,
            amount=9900,
            order_no=f"K{username.upper()}",
            payment_no=f"P{username.upper()}",
            outcome=RenewalAttempt.Outcome.FAILED,
            error_code="NOT_ENOUGH",
            error_message=f"balance of {username}",
        )
    return renewal


@pytest.fixture
def two_merchants():
    ours, theirs = MerchantFactory(name="Our Studio"), MerchantFactory(name="Rival Academy")
    renewal_of(ours, username="ourmember", failed=True)
    renewal_of(theirs, username="theirmember", failed=True)
    return ours, theirs


def staff_client(client, user):
    client.force_login(user)
    return client


def test_merchants_see_their_own_members_renewals_and_failures_only(client, two_merchants):
    ours, _theirs = two_merchants
    user = MerchantStaffFactory(merchant=ours)
    user.groups.add(Group.objects.get(name=roles.MERCHANT))
    client = staff_client(client, user)

    for path in ("renewal", "renewalattempt", "agreement"):
        page = client.get(f"/admin/memberships/{path}/")
        assert page.status_code == 200, path
        assert "ourmember" in page.text and "theirmember" not in page.text, path
    failed = client.get("/admin/memberships/renewalattempt/?outcome__exact=failed")
    assert "balance of ourmember" in failed.text and "balance of theirmember" not in failed.text

    theirs = Renewal.objects.get(membership__learner__username="theirmember")
    response = client.get(f"/admin/memberships/renewal/{theirs.pk}/change/", follow=True)
    assert "theirmember" not in response.text
    assert client.get("/admin/memberships/agreementevent/").status_code == 403


@pytest.mark.parametrize("role", [roles.FINANCE, roles.SUPPORT])
def test_finance_and_support_see_every_renewal(client, two_merchants, role):
    user = UserFactory(username=f"{role}-staff", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = staff_client(client, user)
    page = client.get("/admin/memberships/renewal/?failed=yes")
    assert page.status_code == 200
    assert "ourmember" in page.text and "theirmember" in page.text
    renewal = Renewal.objects.get(membership__learner__username="ourmember")
    detail = client.get(f"/admin/memberships/renewal/{renewal.pk}/change/")
    assert detail.status_code == 200 and "balance of ourmember" in detail.text
    assert 'name="_save"' not in detail.text  # read-only


def test_nobody_adds_or_changes_renewals_in_the_admin(client, two_merchants):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = staff_client(client, root)
    assert client.get("/admin/memberships/renewal/add/").status_code == 403
    assert client.get("/admin/memberships/agreement/add/").status_code == 403
    renewal = Renewal.objects.first()
    assert (
        client.post(f"/admin/memberships/renewal/{renewal.pk}/change/", {"status": "succeeded"}).status_code
        == 403
    )
    assert Renewal.objects.get(pk=renewal.pk).status == Renewal.Status.RETRYING
