"""Turning automatic renewal on: the learner signs a withholding agreement at the gateway
(its simulator, over HTTP); the gateway's agreement notification activates it once, and
bad or tampered notifications are refused with nothing written."""

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from memberships.exceptions import MembershipNotActive, RenewalAmountAboveLimit, RenewalNotOffered
from memberships.models import Agreement, AgreementEvent, AgreementStatusChange, Membership, Plan
from memberships.services import renewal_turn_on
from payments.exceptions import ChannelUnavailable
from tests.memberships.renewal_support import make_membership


def test_signing_activates_the_agreement_and_turns_renewal_on(withholding, membership):
    agreement = renewal_turn_on(
        learner=membership.learner, membership_id=membership.pk, channel=withholding.channel
    )
    assert agreement.status == Agreement.Status.PENDING
    assert agreement.amount_cap == membership.plan.price
    assert (agreement.period_unit, agreement.period) == ("month", 1)
    assert withholding.signing_url(agreement).startswith("http")
    assert not Membership.objects.get(pk=membership.pk).auto_renew

    withholding.sign(agreement)

    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ACTIVE
    assert agreement.gateway_agreement_id and agreement.signed_at is not None
    assert Membership.objects.get(pk=membership.pk).auto_renew
    event = AgreementEvent.objects.get(agreement=agreement)
    assert event.outcome == AgreementEvent.Outcome.PROCESSED and event.state == "active"
    assert list(
        AgreementStatusChange.objects.filter(agreement=agreement).values_list("to_status", flat=True)
    ) == [
        "pending",
        "active",
    ]


def test_asking_twice_hands_back_the_same_signing(withholding, membership):
    first = renewal_turn_on(
        learner=membership.learner, membership_id=membership.pk, channel=withholding.channel
    )
    again = renewal_turn_on(
        learner=membership.learner, membership_id=membership.pk, channel=withholding.channel
    )
    assert again.pk == first.pk and again.action == first.action
    withholding.sign(first)
    # On already: the agreement in force, no new signing.
    assert renewal_turn_on(learner=membership.learner, membership_id=membership.pk).pk == first.pk
    assert Agreement.objects.filter(membership=membership).count() == 1


def test_a_stale_signing_is_replaced_and_ended(withholding, membership):
    old = renewal_turn_on(
        learner=membership.learner, membership_id=membership.pk, channel=withholding.channel
    )
    Agreement.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=2))

    new = renewal_turn_on(
        learner=membership.learner, membership_id=membership.pk, channel=withholding.channel
    )

    assert new.pk != old.pk and new.status == Agreement.Status.PENDING
    old.refresh_from_db()
    assert old.status == Agreement.Status.TERMINATED and old.terminated_by == Agreement.TerminatedBy.KPAY


def test_declining_leaves_renewal_off(withholding, membership):
    agreement = renewal_turn_on(
        learner=membership.learner, membership_id=membership.pk, channel=withholding.channel
    )
    withholding.decline(agreement)
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.PENDING
    assert not Membership.objects.get(pk=membership.pk).auto_renew


def test_the_same_notification_twice_applies_once(withholding, membership):
    agreement = renewal_turn_on(
        learner=membership.learner, membership_id=membership.pk, channel=withholding.channel
    )
    body, headers = withholding.agreement_notification(agreement)
    url = f"{withholding.live_server.url}/memberships/webhooks/{withholding.alias}/agreements/"

    answers = [httpx.post(url, content=body, headers=headers) for _ in range(2)]

    assert all(answer.is_success for answer in answers)
    assert list(AgreementEvent.objects.values_list("outcome", flat=True)) == ["processed"]
    assert AgreementStatusChange.objects.filter(agreement=agreement, to_status="active").count() == 1


def test_tampered_or_bad_notifications_are_refused_and_change_nothing(withholding, membership):
    agreement = renewal_turn_on(
        learner=membership.learner, membership_id=membership.pk, channel=withholding.channel
    )
    url = f"{withholding.live_server.url}/memberships/webhooks/{withholding.alias}/agreements/"

    for why, body, headers in withholding.tampered_notifications(agreement):
        answer = httpx.post(url, content=body, headers=headers)
        assert 400 <= answer.status_code < 500, why

    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.PENDING
    assert not AgreementEvent.objects.exists()
    assert not Membership.objects.get(pk=membership.pk).auto_renew


def test_a_notification_about_someone_elses_agreement_or_account_is_refused(withholding, membership):
    agreement = renewal_turn_on(
        learner=membership.learner, membership_id=membership.pk, channel=withholding.channel
    )
    url = f"{withholding.live_server.url}/memberships/webhooks/{withholding.alias}/agreements/"
    unknown = Agreement(agreement_no="A000000UNKNOWN")
    for body, headers in (
        withholding.agreement_notification(unknown),
        withholding.agreement_notification(agreement, merchant_id="someone-else"),
    ):
        assert httpx.post(url, content=body, headers=headers).status_code >= 400
    assert not AgreementEvent.objects.exists()
    assert Agreement.objects.get(pk=agreement.pk).status == Agreement.Status.PENDING


def test_the_webhook_of_an_unknown_gateway_is_a_404(db, client):
    assert (
        client.post(
            "/memberships/webhooks/nope/agreements/", data=b"{}", content_type="application/json"
        ).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("plan_fields", "ends_in", "error"),
    [
        ({"renewal_allowed": False}, timedelta(days=5), RenewalNotOffered),
        ({"is_active": False}, timedelta(days=5), RenewalNotOffered),
        ({}, -timedelta(hours=1), MembershipNotActive),
        ({"price": 500_001}, timedelta(days=5), RenewalAmountAboveLimit),  # above the sandbox's ¥5,000
    ],
)
def test_renewal_is_refused_where_it_cannot_work(db, plan_fields, ends_in, error):
    membership = make_membership()  # bought while the plan was on sale, then the plan changes
    Plan.objects.filter(pk=membership.plan_id).update(**plan_fields)
    ends_at = timezone.now() + ends_in  # the membership and its period end then
    Membership.objects.filter(pk=membership.pk).update(ends_at=ends_at)
    membership.periods.update(starts_at=ends_at - timedelta(days=30), ends_at=ends_at)
    with pytest.raises(error):
        renewal_turn_on(learner=membership.learner, membership_id=membership.pk)
    assert not Agreement.objects.exists()


def test_an_unknown_channel_is_refused(db, membership):
    with pytest.raises(ChannelUnavailable):
        renewal_turn_on(learner=membership.learner, membership_id=membership.pk, channel="sandbox")
