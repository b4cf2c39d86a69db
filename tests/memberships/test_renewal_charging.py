"""The renewal beat task against the gateway's simulator over HTTP: the notice before the
charge, the charge in the gateway's window and hours through a withholding payment whose
result arrives as a notification (or the answer, or the query sweep), failures retried on
the dunning schedule while access continues, then the lapse.

A paid renewal is delivered like any membership order: a new period, stacked from the end
of the last one.
"""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone, translation

from memberships.models import Agreement, Membership, MembershipPeriod, Plan, Renewal, RenewalAttempt
from memberships.services import renewal_turn_on, renewals_run
from orders.models import Order
from payments.models import GatewayEvent, Payment, PaymentStatusChange
from payments.services import payment_start, payments_sync_pending
from tests.cashier import cashier_url, press
from tests.memberships.renewal_support import beijing, charge_day, only_on, renewal_orders, renewal_payments

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _english(settings):
    """The e-mails are rendered in the learner's language: the site's (zh-hans) when they
    chose none, as these learners didn't; these tests read them in English, so the site's
    is English here (and so is the active one, for what else they read)."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def signed(withholding, membership) -> Agreement:
    agreement = renewal_turn_on(
        learner=membership.learner, membership_id=membership.pk, channel=withholding.channel
    )
    withholding.sign(agreement)
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ACTIVE
    return agreement


def run_at(withholding, when) -> dict:
    withholding.set_clock(when)
    return renewals_run(now=when)


def day(membership, offset: int):
    return charge_day(membership) + timedelta(days=offset)


def subjects() -> list[str]:
    return [message.subject for message in mail.outbox]


# Sandbox only: asserts the sandbox's own timings (notice one day ahead, hours from 08:00,
# a three-day window); WeChat waits two days after its notice, Alipay takes no notice.
@only_on("sandbox")
def test_notice_then_charge_on_the_day_pays_the_renewal_order(withholding, membership):
    agreement = signed(withholding, membership)

    run_at(withholding, beijing(day(membership, -4)))
    assert not Renewal.objects.exists()  # too early: the notice goes 3 days before

    run_at(withholding, beijing(day(membership, -3)))
    renewal = Renewal.objects.get()
    assert (renewal.status, renewal.sequence, renewal.charge_on) == ("scheduled", 2, day(membership, 0))
    assert renewal.period_starts_at == membership.ends_at
    assert subjects() == [f'Your membership "{membership.plan.title}" renews soon']
    assert "¥99.00" in mail.outbox[0].body and day(membership, 0).isoformat() in mail.outbox[0].body
    assert withholding.notices(agreement) == 0 and not renewal_payments().exists()

    run_at(withholding, beijing(day(membership, -1)))
    assert withholding.notices(agreement) == 1  # the gateway's pre-charge notice, the day before
    assert not renewal_payments().exists()

    run_at(withholding, beijing(day(membership, 0), 7, 30))  # before the gateway's hours
    assert not renewal_payments().exists()

    run_at(withholding, beijing(day(membership, 0), 10))

    renewal.refresh_from_db()
    assert renewal.status == Renewal.Status.SUCCEEDED and renewal.attempts_made == 1
    attempt = RenewalAttempt.objects.get()
    assert attempt.outcome == RenewalAttempt.Outcome.SUCCEEDED and attempt.order_no == renewal.order_no
    order = Order.objects.get(order_no=renewal.order_no)
    assert order.status == Order.Status.FULFILLED and order.total == 9900
    assert order.checkout_key == f"renewal:{membership.pk}:2"
    assert order.lines[0]["kind"] == "membership" and order.lines[0]["plan_id"] == membership.plan_id
    payment = renewal_payments().get(payment_no=attempt.payment_no)
    assert (payment.channel, payment.status, payment.order_id) == (withholding.channel, "succeeded", order.pk)
    # The charge's notification came to payments' withholding webhook and was applied there.
    assert GatewayEvent.objects.get(payment=payment).outcome == GatewayEvent.Outcome.PROCESSED
    assert withholding.charges(agreement) == ["SUCCESS"]
    assert subjects()[-1] == f'Your membership "{membership.plan.title}" was renewed'
    renewed = Membership.objects.get(pk=membership.pk)
    assert renewed.grace_until is None
    period = MembershipPeriod.objects.get(order_no=order.order_no)
    assert (period.sequence, period.starts_at) == (2, membership.ends_at)  # from the end, not now
    assert renewed.ends_at == period.ends_at > membership.ends_at

    # Later runs the same day charge nothing more.
    run_at(withholding, beijing(day(membership, 0), 15))
    run_at(withholding, beijing(day(membership, 1), 10))
    assert withholding.charges(agreement) == ["SUCCESS"]
    assert RenewalAttempt.objects.count() == 1 and renewal_payments().count() == 1


# Sandbox only: its switch makes a charge's answer pending; Alipay answers every charge at
# once, WeChat never does (its answer is "accepted") and charges two days after the notice.
@only_on("sandbox")
def test_a_charge_answered_later_is_paid_by_its_notification(withholding, membership):
    agreement = signed(withholding, membership)
    withholding.answer_later(agreement)
    run_at(withholding, beijing(day(membership, -1)))

    run_at(withholding, beijing(day(membership, 0)))

    attempt = RenewalAttempt.objects.get()
    assert attempt.gateway_state == "pending"  # the gateway accepted; the result came separately
    assert attempt.outcome == RenewalAttempt.Outcome.SUCCEEDED
    payment = renewal_payments().get(payment_no=attempt.payment_no)
    assert GatewayEvent.objects.get(payment=payment).outcome == GatewayEvent.Outcome.PROCESSED
    assert Renewal.objects.get().status == Renewal.Status.SUCCEEDED


# Not WeChat: its charge answer only says "accepted"; the result comes by notification or query.
@only_on("sandbox", "alipay")
def test_the_answer_alone_pays_when_the_notification_is_lost(withholding, membership, settings):
    agreement = signed(withholding, membership)
    run_at(withholding, beijing(day(membership, -1)))
    settings.KPAY_PUBLIC_URL = "http://127.0.0.1:9"  # the charge's notify_url leads nowhere

    run_at(withholding, beijing(day(membership, 0)))

    payment = renewal_payments().get()
    assert payment.status == Payment.Status.SUCCEEDED
    assert not GatewayEvent.objects.filter(payment=payment).exists()
    reasons = list(PaymentStatusChange.objects.filter(payment=payment).values_list("reason", flat=True))
    assert reasons == ["charge answer: paid"]
    assert Renewal.objects.get().status == Renewal.Status.SUCCEEDED
    assert withholding.successful_charges(agreement) == 1


# Sandbox only: needs a charge answered "pending" on the day-before notice (see above).
@only_on("sandbox")
def test_the_query_sweep_settles_a_charge_whose_result_never_came(withholding, membership, settings):
    agreement = signed(withholding, membership)
    withholding.answer_later(agreement)
    run_at(withholding, beijing(day(membership, -1)))
    settings.KPAY_PUBLIC_URL = "http://127.0.0.1:9"

    run_at(withholding, beijing(day(membership, 0)))
    assert renewal_payments().get().status == Payment.Status.PENDING
    assert Renewal.objects.get().status == Renewal.Status.CHARGING

    assert payments_sync_pending(now=timezone.now() + timedelta(minutes=3)) == 1  # asks with query_charge

    assert renewal_payments().get().status == Payment.Status.SUCCEEDED
    run_at(withholding, beijing(day(membership, 0), 10, 10))
    assert Renewal.objects.get().status == Renewal.Status.SUCCEEDED
    assert withholding.successful_charges(agreement) == 1


# Sandbox only: asserts the sandbox's own timings (notice one day ahead, hours from 08:00,
# a three-day window); WeChat waits two days after its notice, Alipay takes no notice.
@only_on("sandbox")
def test_failed_charges_are_retried_on_the_dunning_schedule_then_the_membership_lapses(
    withholding, membership
):
    agreement = signed(withholding, membership)
    withholding.fail_charges(agreement)
    grace_until = membership.ends_at + timedelta(days=7)
    run_at(withholding, beijing(day(membership, -3)))
    run_at(withholding, beijing(day(membership, -1)))

    run_at(withholding, beijing(day(membership, 0)))  # attempt 1 fails
    renewal = Renewal.objects.get()
    assert renewal.status == Renewal.Status.RETRYING
    assert renewal.next_attempt_at == beijing(day(membership, 1), 8)
    assert Membership.objects.get(pk=membership.pk).grace_until == grace_until  # access continues
    assert subjects()[-1] == f'We could not renew your membership "{membership.plan.title}"'
    assert day(membership, 1).isoformat() in mail.outbox[-1].body

    run_at(withholding, beijing(day(membership, 0), 20))  # nothing before the next attempt
    assert RenewalAttempt.objects.count() == 1

    run_at(withholding, beijing(day(membership, 1)))  # attempt 2 fails: next on day +3
    run_at(withholding, beijing(day(membership, 2)))  # outside the notice's window: a new notice
    assert withholding.notices(agreement) == 2 and RenewalAttempt.objects.count() == 2
    run_at(withholding, beijing(day(membership, 3)))  # attempt 3 fails: next on day +5
    run_at(withholding, beijing(day(membership, 4)))
    assert RenewalAttempt.objects.count() == 3
    assert Membership.objects.get(pk=membership.pk).grace_until == grace_until

    run_at(withholding, beijing(day(membership, 5)))  # attempt 4, the last, fails

    renewal.refresh_from_db()
    assert renewal.status == Renewal.Status.FAILED and renewal.attempts_made == 4
    attempts = list(RenewalAttempt.objects.order_by("number"))
    assert [a.outcome for a in attempts] == ["failed"] * 4
    assert [a.attempted_at.astimezone(beijing(day(membership, 0)).tzinfo).date() for a in attempts] == [
        day(membership, n) for n in (0, 1, 3, 5)
    ]
    assert all(a.order_no and a.payment_no and a.error_message for a in attempts)
    assert withholding.charges(agreement) == ["PAYERROR"] * 4
    assert not renewal_payments().filter(status=Payment.Status.SUCCEEDED).exists()
    lapsed = Membership.objects.get(pk=membership.pk)
    assert (lapsed.auto_renew, lapsed.grace_until) == (False, None)
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.TERMINATED
    assert agreement.terminated_by == Agreement.TerminatedBy.KPAY
    assert withholding.agreement_state(agreement) == "TERMINATED"
    assert subjects() == [
        f'Your membership "{membership.plan.title}" renews soon',
        *[f'We could not renew your membership "{membership.plan.title}"'] * 3,
        f'Your membership "{membership.plan.title}" was not renewed',
    ]

    run_at(withholding, beijing(day(membership, 6)))  # a lapsed membership is left alone
    assert RenewalAttempt.objects.count() == 4 and not Renewal.objects.filter(
        status__in=Renewal.OPEN_STATUSES
    )


# Not WeChat: notice the day before the charge day (WeChat needs two days).
@only_on("sandbox", "alipay")
def test_a_retry_that_succeeds_ends_the_grace_period(withholding, membership):
    agreement = signed(withholding, membership)
    withholding.fail_charges(agreement)
    run_at(withholding, beijing(day(membership, -1)))
    run_at(withholding, beijing(day(membership, 0)))
    assert Membership.objects.get(pk=membership.pk).grace_until is not None

    withholding.fail_charges(agreement, fail=False)
    run_at(withholding, beijing(day(membership, 1)))

    renewal = Renewal.objects.get()
    assert renewal.status == Renewal.Status.SUCCEEDED and renewal.attempts_made == 2
    assert [a.outcome for a in RenewalAttempt.objects.order_by("number")] == ["failed", "succeeded"]
    assert Membership.objects.get(pk=membership.pk).grace_until is None
    assert withholding.charges(agreement) == ["PAYERROR", "SUCCESS"]


# Sandbox only: asserts the sandbox's own timings (notice one day ahead, hours from 08:00,
# a three-day window); WeChat waits two days after its notice, Alipay takes no notice.
@only_on("sandbox")
def test_no_charge_without_the_gateways_notice_or_outside_its_hours(withholding, membership):
    """The first run is on the charge day itself: the notice goes first, so the charge
    waits for the day after, and then for the gateway's hours."""
    agreement = signed(withholding, membership)

    run_at(withholding, beijing(day(membership, 0), 9))
    assert withholding.notices(agreement) == 1 and not renewal_payments().exists()
    assert Renewal.objects.get().charge_on == day(membership, 1)
    for when in (
        beijing(day(membership, 0), 21, 59),
        beijing(day(membership, 1), 7, 59),
        beijing(day(membership, 1), 22, 30),
    ):
        run_at(withholding, when)
        assert not renewal_payments().exists(), when

    run_at(withholding, beijing(day(membership, 1), 8, 0))

    assert withholding.charges(agreement) == ["SUCCESS"]
    assert Renewal.objects.get().status == Renewal.Status.SUCCEEDED
    assert not RenewalAttempt.objects.exclude(error_code="").exists()  # the gateway never refused


# Sandbox only: asserts the sandbox's own timings (notice one day ahead, hours from 08:00,
# a three-day window); WeChat waits two days after its notice, Alipay takes no notice.
@only_on("sandbox")
def test_a_missed_window_gets_a_new_notice_before_any_charge(withholding, membership):
    agreement = signed(withholding, membership)
    run_at(withholding, beijing(day(membership, -1)))  # notice: charges allowed on days 0..2
    assert withholding.notices(agreement) == 1

    run_at(withholding, beijing(day(membership, 3)))  # the beat was down through the window

    assert withholding.notices(agreement) == 2 and not renewal_payments().exists()
    run_at(withholding, beijing(day(membership, 4)))
    assert withholding.charges(agreement) == ["SUCCESS"]


def test_a_price_above_the_signed_cap_is_never_charged(withholding, membership):
    agreement = signed(withholding, membership)
    Plan.objects.filter(pk=membership.plan_id).update(price=12900)

    run_at(withholding, beijing(day(membership, -3)))
    run_at(withholding, beijing(day(membership, 0)))

    renewal = Renewal.objects.get()
    assert renewal.status == Renewal.Status.FAILED and "above" in renewal.failure_reason
    assert not renewal_orders().exists() and not renewal_payments().exists()
    assert withholding.charges(agreement) == []
    assert subjects() == [f'Your membership "{membership.plan.title}" was not renewed']
    assert "¥129.00" in mail.outbox[0].body and "¥99.00" in mail.outbox[0].body
    lapsed = Membership.objects.get(pk=membership.pk)
    assert not lapsed.auto_renew and lapsed.grace_until is None
    assert Agreement.objects.get(pk=agreement.pk).status == Agreement.Status.TERMINATED


# Not WeChat: notice the day before the charge day (WeChat needs two days).
@only_on("sandbox", "alipay")
def test_a_lower_price_is_charged_as_it_is_now(withholding, membership):
    agreement = signed(withholding, membership)
    Plan.objects.filter(pk=membership.plan_id).update(price=7900)
    run_at(withholding, beijing(day(membership, -1)))
    run_at(withholding, beijing(day(membership, 0)))
    assert renewal_payments().get().amount == 7900
    assert renewal_orders().get().total == 7900
    assert withholding.successful_charges(agreement) == 1


def test_a_plan_no_longer_renewed_lapses_without_a_charge(withholding, membership):
    agreement = signed(withholding, membership)
    Plan.objects.filter(pk=membership.plan_id).update(renewal_allowed=False)
    run_at(withholding, beijing(day(membership, 0)))
    assert Renewal.objects.get().status == Renewal.Status.FAILED
    assert withholding.charges(agreement) == []
    assert "no longer renews" in mail.outbox[-1].body


# Not WeChat: notice the day before the charge day (WeChat needs two days).
@only_on("sandbox", "alipay")
def test_a_renewal_order_the_learner_paid_at_the_cashier_is_not_charged_again(
    withholding, membership, settings
):
    agreement = signed(withholding, membership)
    run_at(withholding, beijing(day(membership, -1)))
    gateways = settings.KPAY_GATEWAYS
    options = {**gateways[withholding.alias]["OPTIONS"]}
    for name, value in options.items():
        if isinstance(value, str) and value.startswith(withholding.live_server.url):
            options[name] = "http://127.0.0.1:9" + value[len(withholding.live_server.url) :]
    settings.KPAY_GATEWAYS = {
        **gateways,
        withholding.alias: {**gateways[withholding.alias], "OPTIONS": options},
    }
    run_at(withholding, beijing(day(membership, 0)))  # the charge's outcome is unknown
    attempt = RenewalAttempt.objects.get()
    assert attempt.outcome == "pending" and attempt.error_code == "gateway_unavailable"
    settings.KPAY_GATEWAYS = gateways

    order = Order.objects.get(order_no=attempt.order_no)
    cashier = payment_start(learner=membership.learner, order_no=order.order_no, channel="sandbox")
    press(cashier_url(cashier), "pay")
    assert Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED
    assert renewal_payments().get(payment_no=attempt.payment_no).status == Payment.Status.CLOSED

    run_at(withholding, beijing(day(membership, 0), 10, 10))

    renewal = Renewal.objects.get()
    assert renewal.status == Renewal.Status.SUCCEEDED and renewal.order_no == order.order_no
    assert withholding.charges(agreement) == []
    run_at(withholding, beijing(day(membership, 1)))
    assert RenewalAttempt.objects.count() == 1 and withholding.charges(agreement) == []
