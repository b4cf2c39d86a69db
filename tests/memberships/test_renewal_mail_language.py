"""The renewal e-mails are written in the learner's language (their profile's, else the
site's): planned by the beat task in a worker, whose language is the site's."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone, translation

from accounts.languages import remember
from memberships.models import Agreement, Membership, Renewal
from memberships.services.renewal import renewal_plan
from tests.memberships.renewal_support import make_membership, make_plan

pytestmark = pytest.mark.django_db

NOTICE = {
    "en": 'Your membership "Yearly" renews soon',
    "zh-hans": "您的会员“Yearly”即将自动续费",
}


def notice_planned(membership, *, active: str) -> Renewal:
    """The renewal planned (and its notice e-mailed) the day before the membership ends, in
    a process whose active language is ``active``."""
    Agreement.objects.create(
        membership=membership,
        gateway="sandbox",
        channel="sandbox_withholding",
        agreement_no=f"A{membership.pk}",
        gateway_agreement_id=f"SBXA{membership.pk}",
        amount_cap=membership.plan.price,
        period_unit="month",
        period=1,
        first_charge_on=timezone.now().date(),
        status=Agreement.Status.ACTIVE,
        signed_at=timezone.now(),
    )
    Membership.objects.filter(pk=membership.pk).update(auto_renew=True)  # as signing turns it on
    with translation.override(active):
        renewal = renewal_plan(membership_id=membership.pk, now=membership.ends_at - timedelta(days=1))
    assert renewal is not None
    return renewal


@pytest.mark.parametrize(
    ("chosen", "active", "written_in"),
    [
        ("en", "zh-hans", "en"),
        ("zh-hans", "en", "zh-hans"),
        ("", "en", "zh-hans"),  # none chosen: the site's
    ],
)
def test_the_renewal_notice_is_in_the_learners_language(
    django_capture_on_commit_callbacks, chosen, active, written_in
):
    membership = make_membership(plan=make_plan(title="Yearly"))
    remember(membership.learner, chosen)
    with django_capture_on_commit_callbacks(execute=True):
        notice_planned(membership, active=active)
    [message] = mail.outbox
    assert message.to == [membership.learner.email]
    assert message.subject == NOTICE[written_in]
    assert ("renews automatically" in message.body) == (written_in == "en")
    assert "¥99.00" in message.body


def test_the_site_language_is_the_default(settings, django_capture_on_commit_callbacks):
    settings.LANGUAGE_CODE = "en"
    membership = make_membership(plan=make_plan(title="Yearly"))
    with django_capture_on_commit_callbacks(execute=True):
        notice_planned(membership, active="zh-hans")
    assert [message.subject for message in mail.outbox] == [NOTICE["en"]]
