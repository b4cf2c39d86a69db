"""courses.permissions: every "may this user do that" answer, role by role.

The matrix is the rule book: a row per role, a column per question. Merchant rows are
asked for the user's own merchant and for another one.
"""

import pytest
from django.contrib.auth.models import AnonymousUser

from courses import permissions, roles
from tests.factories import UserFactory

OWN, OTHER = "own", "other"

# question -> roles that may (merchant questions: own merchant only for merchant staff)
EXPECTED = {
    # Risk staff refund only by rejecting a held order (riskcontrol.services.review_decide).
    "may_issue_refund": {roles.SUPPORT, "superuser"},
    "may_approve_refund": {roles.SUPPORT, "superuser"},
    "may_return_unapplied": {roles.SUPPORT, "superuser"},
    "may_request_payout": {roles.MERCHANT},
    "may_decide_payouts": {roles.FINANCE, "superuser"},
    "may_see_bank_accounts": {roles.FINANCE, "superuser"},
    "may_view_finance": {roles.SUPPORT, roles.FINANCE, roles.RISK, roles.MERCHANT, "superuser"},
    "may_reconcile": {roles.FINANCE, "superuser"},
    "may_resolve_differences": {roles.FINANCE, "superuser"},
    "may_see_risk": {roles.SUPPORT, roles.FINANCE, roles.RISK, "superuser"},
    "may_review_risk": {roles.RISK, "superuser"},
}
MERCHANT_QUESTIONS = {"may_issue_refund", "may_approve_refund", "may_request_payout"}


@pytest.fixture
def users(merchant_user, staff_in, superuser):
    return {
        roles.MERCHANT: merchant_user,
        roles.SUPPORT: staff_in(roles.SUPPORT),
        roles.FINANCE: staff_in(roles.FINANCE),
        roles.RISK: staff_in(roles.RISK),
        "superuser": superuser,
        "learner": UserFactory(username="just-a-learner"),
    }


@pytest.mark.parametrize("question", sorted(EXPECTED))
def test_each_role_gets_exactly_its_rights(question, users, own_merchant, other_merchant):
    ask = getattr(permissions, question)
    kwargs = {"merchant_id": own_merchant.pk} if question in MERCHANT_QUESTIONS else {}
    for role, user in users.items():
        assert ask(user, **kwargs) is (role in EXPECTED[question]), (question, role)


@pytest.mark.parametrize("question", sorted(MERCHANT_QUESTIONS))
def test_merchant_staff_never_act_on_another_merchant(question, users, other_merchant):
    ask = getattr(permissions, question)
    assert ask(users[roles.MERCHANT], merchant_id=other_merchant.pk) is False
    # Platform staff are not bound to one merchant.
    for role in EXPECTED[question] - {roles.MERCHANT}:
        assert ask(users[role], merchant_id=other_merchant.pk) is True, role


def test_merchant_staff_granted_refunds_may_refund_their_own_orders(users, own_merchant, other_merchant):
    from django.contrib.auth.models import Permission

    user = users[roles.MERCHANT]
    user.user_permissions.add(Permission.objects.get(codename="issue_refund"))
    user = type(user).objects.get(pk=user.pk)  # a fresh permission cache
    assert permissions.may_issue_refund(user, merchant_id=own_merchant.pk)
    assert not permissions.may_issue_refund(user, merchant_id=other_merchant.pk)
    # Money no order took is the platform's to return, whatever the merchant holds.
    assert not permissions.may_return_unapplied(user)


@pytest.mark.parametrize("question", sorted(EXPECTED))
def test_anonymous_and_deactivated_users_may_do_nothing(question, users, own_merchant):
    ask = getattr(permissions, question)
    kwargs = {"merchant_id": own_merchant.pk} if question in MERCHANT_QUESTIONS else {}
    assert ask(AnonymousUser(), **kwargs) is False
    for user in users.values():
        user.is_active = False
        assert ask(user, **kwargs) is False, user.username
