"""Four eyes cannot be split: the approval threshold caps what one person signs on an
order, all their refunds of it together (in flight included), not each refund alone."""

import pytest

from core.errors import KpayError
from payments.gateways.base import RefundState
from payments.models import Refund
from payments.services import refund_approve, refund_deny, refund_issue, refund_request, refund_retry
from tests.factories import CourseFactory

THRESHOLD = 50_000  # ¥500


@pytest.fixture
def big(buy, learner, settings):
    """A ¥1,200 order, paid; the threshold at ¥500."""
    settings.KPAY_REFUND_APPROVAL_THRESHOLD = THRESHOLD
    return buy(learner, CourseFactory(price=120_000))


def issue(actor, order, amount):
    return refund_issue(actor=actor, order_id=order.pk, amount=amount, reason="partial")


def test_two_refunds_at_the_threshold_by_one_person_wait_for_a_second_approver(
    big, support, support2, gateway_refunds, django_capture_on_commit_callbacks
):
    order, _payment = big
    with django_capture_on_commit_callbacks(execute=True):
        first = issue(support, order, THRESHOLD)
        second = issue(support, order, THRESHOLD)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Refund.Status.PROCESSING and first.approved_by == support
    # Alone, the second ¥500 would make ¥1,000 on one signature: it waits.
    assert second.status == Refund.Status.REQUESTED and second.first_approved_by == support
    assert [r.refund_no for r in gateway_refunds.requests] == [first.refund_no]

    with pytest.raises(KpayError) as refused:
        refund_approve(actor=support, refund_id=second.pk)
    assert refused.value.code == "refund_second_approver_required"

    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(actor=support2, refund_id=second.pk, note="checked")
    second.refresh_from_db()
    assert second.status == Refund.Status.PROCESSING and second.approved_by == support2
    assert len(gateway_refunds.requests) == 2


def test_small_refunds_add_up_per_person(big, support, gateway_refunds):
    order, _payment = big
    made = [issue(support, order, 20_000) for _ in range(3)]  # 200 + 200 + 200 > 500
    for refund in made:
        refund.refresh_from_db()
    assert [r.status for r in made] == ["approved", "approved", "requested"]
    assert made[2].first_approved_by == support


def test_refunds_by_different_people_each_under_the_threshold_go_through(
    big, support, support2, gateway_refunds, django_capture_on_commit_callbacks
):
    order, _payment = big
    with django_capture_on_commit_callbacks(execute=True):
        issue(support, order, THRESHOLD)
        issue(support2, order, THRESHOLD)
    assert Refund.objects.filter(status=Refund.Status.PROCESSING, first_approved_by=None).count() == 2
    assert len(gateway_refunds.requests) == 2


def test_approving_learner_requests_counts_for_the_approver(big, learner, support, support2):
    order, _payment = big
    one = refund_request(learner=learner, order_no=order.order_no, amount=30_000, reason="r")
    two = refund_request(learner=learner, order_no=order.order_no, amount=30_000, reason="r")
    refund_approve(actor=support, refund_id=one.pk)
    refund_approve(actor=support, refund_id=two.pk)  # 300 + 300 on one signature: a first approval
    one.refresh_from_db()
    two.refresh_from_db()
    assert one.status == Refund.Status.APPROVED and one.first_approved_by is None
    assert two.status == Refund.Status.REQUESTED and two.first_approved_by == support
    refund_approve(actor=support2, refund_id=two.pk)
    two.refresh_from_db()
    assert two.status == Refund.Status.APPROVED


def test_a_denied_refund_no_longer_counts(big, learner, support, support2):
    order, _payment = big
    asked = refund_request(learner=learner, order_no=order.order_no, amount=60_000, reason="r")
    refund_approve(actor=support, refund_id=asked.pk)  # above the threshold: first approval
    refund_deny(actor=support2, refund_id=asked.pk, note="no")
    assert Refund.objects.get(pk=asked.pk).status == Refund.Status.DENIED
    assert issue(support, order, THRESHOLD).status == Refund.Status.APPROVED


def test_a_retry_does_not_reopen_the_split(
    big, support, support2, gateway_refunds, django_capture_on_commit_callbacks
):
    order, _payment = big
    gateway_refunds.answer = RefundState.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        failed = issue(support, order, THRESHOLD)
    assert Refund.objects.get(pk=failed.pk).status == Refund.Status.FAILED
    gateway_refunds.answer = RefundState.PROCESSING
    # The failed ¥500 is still support's signature: another refund of theirs waits.
    assert issue(support, order, THRESHOLD).status == Refund.Status.REQUESTED
    refund_retry(actor=support, refund_id=failed.pk)
    assert Refund.objects.filter(first_approved_by=None, approved_by=support).count() == 1


def test_the_issue_page_shows_what_the_user_signed(big, support, client):
    order, _payment = big
    issue(support, order, 30_000)
    client.force_login(support)
    page = client.get(f"/admin/payments/refund/issue/{order.pk}/")
    assert page.status_code == 200
    assert '<dd id="signed">¥300.00</dd>' in page.content.decode()
