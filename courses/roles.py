"""Staff roles: who works in the back office and which merchants they see.

Three groups carry the model permissions (``ROLE_PERMISSIONS``); they are created or
brought up to date after every ``migrate`` by :func:`sync_roles` (permissions only
exist after ``post_migrate``, so this cannot be a data migration).

Which *rows* a staff user sees is decided separately, by their merchant:

* a **merchant staff** user has a :class:`~courses.models.MerchantMember` row and sees
  that merchant's data only (:func:`user_merchant` returns the merchant);
* **platform staff** (superusers, and the support and finance groups) see every
  merchant (:func:`is_platform_staff`);
* any other staff user sees no merchant's data, whatever permissions they were given.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS, router, transaction

from .models import Merchant, MerchantMember

MERCHANT = "merchant"
SUPPORT = "support"
FINANCE = "finance"
RISK = "risk"
MARKETING = "marketing"  # platform coupons (promotions)
PLATFORM_ROLES = (SUPPORT, FINANCE, RISK, MARKETING)

# role -> app label -> model name -> actions ("issue" and "approve" are the custom
# permissions ``payments.issue_refund`` / ``payments.approve_refund``: support refunds;
# merchants only see refunds unless granted them one by one). Order lines live in the order row
# (``Order.lines``), so viewing an order is viewing its lines.
ROLE_PERMISSIONS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    MERCHANT: {
        "courses": {
            "merchant": ("view",),
            "category": ("view",),
            "course": ("add", "change", "view"),
            "lesson": ("add", "change", "view"),
            "enrollment": ("view",),
        },
        "orders": {"order": ("view",), "orderstatuschange": ("view",)},
        "payments": {
            "payment": ("view",),
            "paymentstatuschange": ("view",),
            "refund": ("view",),
            "refundstatuschange": ("view",),
            "journalentry": ("view",),
        },
        # Their own statements, balances and figures; they ask for payouts, never decide.
        "settlement": {
            "settlementstatement": ("view",),
            "payout": ("add", "view"),
            "payoutstatuschange": ("view",),
            "merchantbalance": ("view",),
            "dashboard": ("view",),
        },
        # Their own coupons (merchant-funded, their courses only) and how they were used.
        "promotions": {
            "coupon": ("add", "change", "view"),
            "walletcoupon": ("view",),
            "redemption": ("view",),
            "redemptionstatuschange": ("view",),
        },
        # Their own membership plans, their members with their periods, and their
        # members' automatic renewals: agreements, renewals and every charge attempt.
        "memberships": {
            "plan": ("add", "change", "view"),
            "membership": ("view",),
            "membershipperiod": ("view",),
            "agreement": ("view",),
            "agreementstatuschange": ("view",),
            "renewal": ("view",),
            "renewalstatuschange": ("view",),
            "renewalattempt": ("view",),
        },
        # Their promoter programme (分销), deciding who promotes it, and referred sales.
        "promoters": {
            "programme": ("add", "change", "view"),
            "promoter": ("change", "view"),
            "promoterstatuschange": ("view",),
            "orderreferral": ("view",),
        },
    },
    SUPPORT: {
        "reconciliation": {"reconciliationrun": ("view",), "difference": ("view",)},
        "courses": {
            "merchant": ("view",),
            "category": ("view",),
            "course": ("view",),
            "lesson": ("view",),
            "enrollment": ("view",),
        },
        "orders": {"order": ("view",), "orderstatuschange": ("view",)},
        "payments": {
            "payment": ("view",),
            "paymentstatuschange": ("view",),
            # Refunds: issued, approved, denied and retried through services only.
            "refund": ("view", "issue", "approve"),
            "refundstatuschange": ("view",),
            "gatewayevent": ("view",),
            "gatewayexchange": ("view",),
            "journalentry": ("view",),
        },
        "settlement": {
            "settlementstatement": ("view",),
            "payout": ("view",),
            "payoutstatuschange": ("view",),
            "merchantbalance": ("view",),
        },
        "promotions": {"pointsentry": ("view",)},
        "memberships": {
            "plan": ("view",),
            "membership": ("view",),
            "membershipperiod": ("view",),
            "agreement": ("view",),
            "agreementstatuschange": ("view",),
            "agreementevent": ("view",),
            "renewal": ("view",),
            "renewalstatuschange": ("view",),
            "renewalattempt": ("view",),
        },
    },
    # Risk staff edit the rules and work the review queue. They issue no refunds: rejecting
    # a held order refunds that order through its own path
    # (``payments.services.refund_issue_for_risk_review``, asked ``may_review_risk``), so
    # no "issue" here: they cannot refund any other order, nor return unapplied payments.
    RISK: {
        "riskcontrol": {
            "rule": ("add", "change", "delete", "view"),
            "rulechange": ("view",),
            "reviewdecision": ("add", "view"),
            "heldorder": ("view", "change"),
        },
        "orders": {"order": ("view",), "orderstatuschange": ("view",)},
        "payments": {"payment": ("view",), "refund": ("view",)},
    },
    # Marketing staff make platform coupons (a platform expense) and grant them to learners,
    # and keep the catalogue's categories.
    MARKETING: {
        "courses": {"merchant": ("view",), "course": ("view",), "category": ("add", "change", "view")},
        "promotions": {
            "coupon": ("add", "change", "view"),
            "walletcoupon": ("add", "view"),
            "redemption": ("view",),
            "redemptionstatuschange": ("view",),
            # Points (积分): the history, and grants and deductions with a reason ("add").
            "pointsentry": ("add", "view"),
        },
    },
    FINANCE: {
        # Reconciliation: run or upload bills ("add"), resolve differences ("change").
        "reconciliation": {"reconciliationrun": ("add", "view"), "difference": ("change", "view")},
        "courses": {"merchant": ("view",)},
        "promoters": {"promoter": ("view",), "orderreferral": ("view",)},  # promoter balances
        "orders": {"order": ("view",), "orderstatuschange": ("view",)},
        "payments": {
            "payment": ("view",),
            "paymentstatuschange": ("view",),
            "refund": ("view",),
            "refundstatuschange": ("view",),
            "gatewayevent": ("view",),
            "gatewayexchange": ("view",),
            "journalentry": ("view",),
        },
        "promotions": {"coupon": ("view",), "redemption": ("view",), "pointsentry": ("view",)},
        "memberships": {
            "plan": ("view",),
            "membership": ("view",),
            "membershipperiod": ("view",),
            "agreement": ("view",),
            "agreementstatuschange": ("view",),
            "agreementevent": ("view",),
            "renewal": ("view",),
            "renewalstatuschange": ("view",),
            "renewalattempt": ("view",),
        },
        # Payouts are approved, rejected and marked paid through services ("change").
        "settlement": {
            "settlementstatement": ("view",),
            "payout": ("view", "change"),
            "payoutstatuschange": ("view",),
            "merchantbalance": ("view",),
            "dashboard": ("view",),
        },
    },
}


def sync_roles(*, using: str = DEFAULT_DB_ALIAS, verbosity: int = 0) -> None:
    """Create the role groups, or reset their permissions to ``ROLE_PERMISSIONS``.

    Idempotent. Permissions of the apps involved are created first: during ``migrate``
    this runs before Django has reached the later apps' permissions.
    """
    from django.contrib.auth.models import Group, Permission

    if not router.allow_migrate_model(using, Group):
        return
    labels = {label for spec in ROLE_PERMISSIONS.values() for label in spec}
    for label in sorted(labels):
        create_permissions(global_apps.get_app_config(label), verbosity=verbosity, using=using)

    with transaction.atomic(using=using):
        for role, spec in ROLE_PERMISSIONS.items():
            wanted = {
                (label, f"{action}_{model}")
                for label, models in spec.items()
                for model, actions in models.items()
                for action in actions
            }
            available = {
                (p.content_type.app_label, p.codename): p
                for p in Permission.objects.using(using)
                .filter(content_type__app_label__in=spec.keys())
                .select_related("content_type")
            }
            missing = wanted - available.keys()
            if missing:
                raise LookupError(f"role {role!r}: no such permissions {sorted(missing)}")
            group, _ = Group.objects.using(using).get_or_create(name=role)
            group.permissions.set([available[key] for key in wanted])


def sync_roles_after_migrate(sender, *, using=DEFAULT_DB_ALIAS, verbosity=0, **kwargs) -> None:
    """``post_migrate`` receiver (connected in ``CoursesConfig.ready``)."""
    sync_roles(using=using, verbosity=verbosity)


def user_merchant(user) -> Merchant | None:
    """The merchant a merchant-staff user works for; None for anyone else.

    Superusers are never scoped to a merchant, even with a membership row.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active or user.is_superuser:
        return None
    try:
        return user.merchant_membership.merchant  # both cached on the user object
    except MerchantMember.DoesNotExist:
        return None


def is_platform_staff(user) -> bool:
    """Superusers, and active staff in a platform role group (PLATFORM_ROLES) without a merchant."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if not user.is_staff or user_merchant(user) is not None:
        return False
    cached = getattr(user, "_kpay_platform_staff", None)
    if cached is None:
        cached = user.groups.filter(name__in=PLATFORM_ROLES).exists()
        user._kpay_platform_staff = cached
    return cached
