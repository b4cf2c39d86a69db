"""``accounts.backends.preload_staff``: an admin page's permission, role and merchant reads
in one statement, filling the same caches as the ordinary path (``ModelBackend``,
``courses.roles``), and nothing kept beyond the request."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.backends import preload_staff
from courses import roles
from courses.models import MerchantMember
from payments.models import Payment
from tests.factories import UserFactory

from .pages import admin_url

pytestmark = pytest.mark.django_db

User = get_user_model()


def ordinary(user_id):
    """The caches as the ordinary path fills them, on a fresh user object."""
    user = User.objects.get(pk=user_id)
    backend = ModelBackend()
    merchant = roles.user_merchant(user)
    return {
        "user": backend.get_user_permissions(user),
        "group": backend.get_group_permissions(user),
        "all": backend.get_all_permissions(user),
        "merchant": merchant,
        "platform": roles.is_platform_staff(user),
    }


def preloaded(user_id):
    user = User.objects.get(pk=user_id)
    with CaptureQueriesContext(connection) as reads:
        preload_staff(user)
    with CaptureQueriesContext(connection) as after:
        backend = ModelBackend()
        found = {
            "user": backend.get_user_permissions(user),
            "group": backend.get_group_permissions(user),
            "all": backend.get_all_permissions(user),
            "merchant": roles.user_merchant(user),
            "platform": roles.is_platform_staff(user),
        }
        if found["merchant"] is not None:
            assert found["merchant"].name  # the merchant row came with the membership
    assert len(after) == 0, [q["sql"] for q in after.captured_queries]
    return found, len(reads)


@pytest.fixture
def people(merchant_user, staff_in, role_group):
    support = staff_in(roles.SUPPORT)
    finance = staff_in(roles.FINANCE)
    finance.user_permissions.add(Permission.objects.get(codename="add_merchant"))
    no_role = UserFactory(username="no-role", is_staff=True)
    no_role.user_permissions.add(Permission.objects.get(codename="view_payment"))
    # merchant staff who is also in a platform group: still scoped to the merchant
    both = UserFactory(username="both", is_staff=True)
    both.groups.add(role_group(roles.MERCHANT), role_group(roles.SUPPORT))
    MerchantMember.objects.create(user=both, merchant=merchant_user.merchant_membership.merchant)
    return {
        "merchant": merchant_user,
        "support": support,
        "finance": finance,
        "no role": no_role,
        "both": both,
    }


def test_the_preloaded_caches_are_the_ordinary_ones(people):
    for name, person in people.items():
        expected = ordinary(person.pk)
        found, statements = preloaded(person.pk)
        assert found == expected, name
        assert statements == (2 if expected["merchant"] is not None else 1), name
    assert ordinary(people["finance"].pk)["user"] == {"courses.add_merchant"}
    assert ordinary(people["merchant"].pk)["merchant"] is not None
    assert ordinary(people["support"].pk)["platform"] and not ordinary(people["both"].pk)["platform"]


def test_superusers_and_inactive_users_are_left_alone(superuser, people):
    inactive = people["finance"]
    inactive.is_active = False
    inactive.save()
    for user_id in (superuser.pk, inactive.pk):
        user = User.objects.get(pk=user_id)
        with CaptureQueriesContext(connection) as reads:
            preload_staff(user)
        assert len(reads) == 0 and not hasattr(user, "_perm_cache")


def test_a_revoked_permission_is_refused_on_the_next_request(client, people, role_group):
    """Nothing is kept between requests: a role taken away shows at once."""
    finance = people["finance"]
    client.force_login(finance)
    url = admin_url(Payment)
    assert client.get(url).status_code == 200
    finance.groups.remove(role_group(roles.FINANCE))
    assert client.get(url).status_code == 403
    finance.groups.add(role_group(roles.FINANCE))
    assert client.get(url).status_code == 200
    finance.user_permissions.clear()
    role_group(roles.FINANCE).permissions.remove(Permission.objects.get(codename="view_payment"))
    assert client.get(url).status_code == 403


def test_an_empty_list_reads_the_user_once(client, people, django_assert_max_num_queries):
    """Session, user, then one statement for permissions, role and merchant (two for
    merchant staff: their membership and merchant), then the list's own three (the
    merchant filter for platform staff, the estimate, the count, the rows)."""
    url = admin_url(Payment) + "?status__exact=failed"
    for name, limit in (("finance", 7), ("merchant", 7)):
        client.force_login(people[name])
        assert client.get(url).status_code == 200
        with django_assert_max_num_queries(limit):
            assert client.get(url).status_code == 200


def test_merchant_staffs_member_read_is_the_querysets(people, other_merchant):
    """The membership with its merchant is read by SQL compiled once (``core.prepared``):
    the ORM's own statement, the same instances, and each user's own row every time."""
    merchant = people["merchant"]
    member = MerchantMember.objects.select_related("merchant").get(user=merchant)
    expected_sql = str(
        MerchantMember.objects.select_related("merchant").filter(pk=member.pk).order_by("pk")[:1].query
    )
    for _ in range(2):
        user = User.objects.get(pk=merchant.pk)
        with CaptureQueriesContext(connection) as reads:
            preload_staff(user)
        assert reads.captured_queries[-1]["sql"] == expected_sql
        found = roles.user_merchant(user)
        assert found == member.merchant and found.__dict__.keys() == member.merchant.__dict__.keys()
        assert {k: v for k, v in found.__dict__.items() if k != "_state"} == {
            k: v for k, v in member.merchant.__dict__.items() if k != "_state"
        }
        assert user.merchant_membership.user is user
    # Another merchant's staff, then this one moved to the other merchant: each read is fresh.
    both = User.objects.get(pk=people["both"].pk)
    preload_staff(both)
    assert roles.user_merchant(both) == member.merchant
    MerchantMember.objects.filter(pk=member.pk).update(merchant=other_merchant)
    user = User.objects.get(pk=merchant.pk)
    preload_staff(user)
    assert roles.user_merchant(user) == other_merchant
