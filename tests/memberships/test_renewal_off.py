"""Turning automatic renewal off, from the site and the API, and the payer ending the
agreement in their wallet: the gateway is told (or tells us), nothing more is charged."""

from datetime import timedelta

import pytest
from django.test import Client

from memberships.models import Agreement, Membership, Renewal
from memberships.services import renewal_turn_off, renewal_turn_on, renewals_run
from tests.memberships.renewal_support import beijing, charge_day, renewal_payments
from tests.memberships.test_renewal_charging import run_at, signed

pytestmark = pytest.mark.django_db(transaction=True)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_off_from_the_site_ends_the_agreement_at_the_gateway_and_cancels_the_renewal(withholding, membership):
    agreement = signed(withholding, membership)
    run_at(withholding, beijing(charge_day(membership) - timedelta(days=3)))  # the renewal is planned
    client = logged_in(membership.learner)
    page = client.get(f"/my/memberships/{membership.pk}/renewal/")
    assert page.status_code == 200 and 'data-renewal-state="on"' in page.content.decode()

    response = client.post(f"/my/memberships/{membership.pk}/renewal/", {"on": "0"}, follow=True)

    assert response.status_code == 200 and 'data-renewal-state="off"' in response.content.decode()
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.TERMINATED
    assert agreement.terminated_by == Agreement.TerminatedBy.KPAY
    assert withholding.agreement_state(agreement) == "TERMINATED"
    assert not Membership.objects.get(pk=membership.pk).auto_renew
    assert Renewal.objects.get().status == Renewal.Status.CANCELLED

    run_at(withholding, beijing(charge_day(membership)))
    assert not renewal_payments().exists() and withholding.charges(agreement) == []


def test_on_then_off_from_the_api(withholding, membership, api_client):
    api_client.force_authenticate(membership.learner)
    url = f"/api/v1/memberships/{membership.pk}/renewal/"

    on = api_client.post(url, {"on": True, "channel": withholding.channel}, format="json")

    assert on.status_code == 200, on.content
    action = on.json()["action"]
    assert on.json()["state"] == "signing"
    assert (action["code_url"] if action["kind"] == "qr" else action["redirect_url"]).startswith("http")
    agreement = Agreement.objects.get(agreement_no=on.json()["agreement_no"])
    withholding.sign(agreement)
    again = api_client.post(url, {"on": True}, format="json").json()
    assert again["state"] == "on" and again["auto_renew"] is True and again["action"] is None
    assert again["next_charge_on"] == charge_day(membership).isoformat()
    assert (again["next_charge_amount"], again["amount_cap"]) == (9900, 9900)

    off = api_client.post(url, {"on": False}, format="json")

    assert off.status_code == 200 and off.json()["state"] == "off" and off.json()["auto_renew"] is False
    assert Agreement.objects.get(pk=agreement.pk).status == Agreement.Status.TERMINATED
    assert withholding.agreement_state(agreement) == "TERMINATED"


def test_off_while_the_gateway_is_down_stops_charging_and_ends_the_agreement_later(
    withholding, membership, settings
):
    agreement = signed(withholding, membership)
    gateways = settings.KPAY_GATEWAYS
    settings.KPAY_GATEWAYS = withholding.unreachable()

    result = renewal_turn_off(learner=membership.learner, membership_id=membership.pk)

    assert result.status == Agreement.Status.ACTIVE and result.termination_requested_at is not None
    assert not Membership.objects.get(pk=membership.pk).auto_renew
    settings.KPAY_GATEWAYS = gateways
    run_at(withholding, beijing(charge_day(membership)))  # the run asks the gateway again; charges nothing
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.TERMINATED and agreement.terminated_by == "kpay"
    assert not Renewal.objects.exists() and withholding.charges(agreement) == []


def test_the_payer_ending_it_in_their_wallet_turns_renewal_off(withholding, membership):
    agreement = signed(withholding, membership)
    run_at(withholding, beijing(charge_day(membership) - timedelta(days=3)))

    withholding.payer_terminate(agreement)

    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.TERMINATED
    assert agreement.terminated_by == Agreement.TerminatedBy.PAYER
    assert not Membership.objects.get(pk=membership.pk).auto_renew
    assert Renewal.objects.get().status == Renewal.Status.CANCELLED
    run_at(withholding, beijing(charge_day(membership)))
    assert not renewal_payments().exists()
    # Turning it on again signs a new agreement.
    new = renewal_turn_on(
        learner=membership.learner, membership_id=membership.pk, channel=withholding.channel
    )
    assert new.pk != agreement.pk and new.status == Agreement.Status.PENDING


def test_a_signature_on_an_abandoned_signing_is_ended_at_the_gateway(withholding, membership):
    old = renewal_turn_on(
        learner=membership.learner, membership_id=membership.pk, channel=withholding.channel
    )
    renewal_turn_off(learner=membership.learner, membership_id=membership.pk)
    assert Agreement.objects.get(pk=old.pk).status == Agreement.Status.TERMINATED

    withholding.sign(old, expect_signed=False)  # the payer signs the old page anyway

    assert withholding.agreement_state(old) == "TERMINATED"
    assert not Membership.objects.get(pk=membership.pk).auto_renew


def test_off_with_nothing_on_is_fine(db, membership):
    assert renewal_turn_off(learner=membership.learner, membership_id=membership.pk) is None
    assert renewals_run() == {"agreements_ended": 0}


def test_off_then_on_again_before_the_end_renews_the_same_period(withholding, membership):
    first = signed(withholding, membership)
    run_at(withholding, beijing(charge_day(membership) - timedelta(days=3)))
    renewal_turn_off(learner=membership.learner, membership_id=membership.pk)
    assert Renewal.objects.get().status == Renewal.Status.CANCELLED

    second = signed(withholding, membership)
    run_at(withholding, beijing(charge_day(membership) - timedelta(days=withholding.notice_lead_days())))
    run_at(withholding, beijing(charge_day(membership)))

    renewals = list(Renewal.objects.order_by("pk").values_list("sequence", "status", "agreement_id"))
    assert renewals == [(2, "cancelled", first.pk), (2, "succeeded", second.pk)]
    assert withholding.charges(first) == [] and withholding.charges(second) == ["SUCCESS"]
