"""The login lockout's authentication backend, and the admin's staff user read in one statement."""

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import CharField, F, Value
from django.db.models.functions import Cast

from core.prepared import PreparedQuery
from core.prepared_values import PreparedValues
from courses import roles
from courses.models import MerchantMember


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check for every login that comes with a request: the site and
    admin login forms, the API token endpoint and the authenticator set-up page all pass
    theirs. ``authenticate()`` called without a request (code, management commands, the
    test client's ``login()``) is not a login door, so it is not counted, where axes alone
    would refuse it with an exception."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def preload_staff(user) -> None:
    """Answer in one statement what an admin page would otherwise ask in three or four,
    filling the same per-user caches the ordinary path fills (the user object lives for one
    request, so nothing outlives it and a role change shows on the next request):

    * ``ModelBackend``'s permission caches (``_user_perm_cache``, ``_group_perm_cache``,
      ``_perm_cache``): its own two querysets, sent as one ``UNION ALL``;
    * ``courses.roles.is_platform_staff``'s group check (``_kpay_platform_staff``);
    * whether the user has a ``MerchantMember`` row; if so the row and its merchant are read
      together (``courses.roles.user_merchant``), otherwise "none" is cached on the user as
      ``select_related`` would.

    Superusers need none of it (every check answers yes without a query), and a user whose
    caches are already filled is left alone. ``tests/admin/test_staff_preload.py`` compares
    every cache with the ordinary path's, for every role."""
    if not user.is_active or user.is_superuser or not user.is_authenticated:
        return
    if hasattr(user, "_perm_cache") or "django.contrib.auth.backends.ModelBackend" not in (
        settings.AUTHENTICATION_BACKENDS
    ):
        return
    rows = _STAFF_READS.rows(user_id=user.pk)
    found: dict[str, set[str]] = {"user": set(), "group": set(), "role": set(), "member": set()}
    for row in rows:
        tag, first, second = row["tag"], row["first"], row["second"]
        found[tag].add(f"{first}.{second}" if tag in ("user", "group") else first)
    user._user_perm_cache = found["user"]
    user._group_perm_cache = found["group"]
    user._perm_cache = found["user"] | found["group"]
    member = None
    if found["member"]:
        (member_id,) = found["member"]
        member = _MEMBER_WITH_MERCHANT.first(member_id=int(member_id))
    if member is None:
        user._kpay_platform_staff = bool(found["role"])
    else:
        MerchantMember.user.field.set_cached_value(member, user)
    MerchantMember.user.field.remote_field.set_cached_value(user, member)


def _staff_reads(user_id: int):
    """:func:`preload_staff`'s statement: ``ModelBackend``'s two permission querysets, the
    platform role groups and the membership, tagged, as one ``UNION ALL`` of ``values()``."""
    backend, user = ModelBackend(), get_user_model()(pk=user_id)
    text = CharField()

    def tagged(queryset, tag, first, second):
        return queryset.order_by().values(tag=Value(tag, output_field=text), first=first, second=second)

    permission = (F("content_type__app_label"), F("codename"))
    return tagged(backend._get_user_permissions(user), "user", *permission).union(
        tagged(backend._get_group_permissions(user), "group", *permission),
        tagged(
            user.groups.filter(name__in=roles.PLATFORM_ROLES), "role", F("name"), Value("", output_field=text)
        ),
        tagged(
            MerchantMember.objects.filter(user_id=user_id),
            "member",
            Cast("pk", output_field=text),
            Value("", output_field=text),
        ),
        all=True,
    )


def _member_with_merchant(member_id: int):
    """Merchant staff's membership row with its merchant (``courses.roles.user_merchant``)."""
    return MerchantMember.objects.select_related("merchant").filter(pk=member_id)


# Compiled once (core.prepared_values): the page's CPU would otherwise go on building the
# four querysets it replaces. A user id of -1 stands in for the user's while compiling.
_STAFF_READS = PreparedValues(_staff_reads, user_id=-1)
# Merchant staff's second statement, compiled once too (core.prepared: the same SQL and
# model instances as the queryset's ``first()``).
_MEMBER_WITH_MERCHANT = PreparedQuery(_member_with_merchant, member_id=-7_301_003)
