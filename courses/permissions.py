"""Who may do what: the one place every "may this user …" question is answered.

Admin pages, site views, the API and services all ask here, so a rule changes in one
place. Who a user *is* comes from :mod:`courses.roles` (:func:`~courses.roles.user_merchant`,
:func:`~courses.roles.is_platform_staff`); what they may do is their Django permissions
(granted through the role groups) narrowed by that identity:

* **Merchant staff** act only on their own merchant's rows.
* **Platform staff** (support, finance, risk, superusers) act on every merchant's rows,
  where their permissions allow.
* Money the platform owes (unapplied payments), payout decisions, reconciliation and the
  risk review queue are platform business: merchant staff never act on them, whatever
  permissions they were given.

Each function takes the acting user (and, for merchant rows, the merchant id) and returns
a bool; services turn a ``False`` into their own "not allowed" error.
"""

from .roles import is_platform_staff, user_merchant


def is_active_staff(user) -> bool:
    """Logged in, active, and allowed into the back office."""
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.is_staff)


def _may_for_merchant(user, permission: str, merchant_id: int | None) -> bool:
    """``permission`` held, and the merchant (``None``: any) is the user's to act on."""
    if not is_active_staff(user) or not user.has_perm(permission):
        return False
    if is_platform_staff(user):
        return True
    merchant = user_merchant(user)
    return merchant is not None and (merchant_id is None or merchant.pk == merchant_id)


def _may_as_platform(user, permission: str) -> bool:
    return is_active_staff(user) and is_platform_staff(user) and user.has_perm(permission)


# -- refunds --------------------------------------------------------------------------
def may_issue_refund(user, *, merchant_id: int | None = None) -> bool:
    """Issue a refund on an order of ``merchant_id`` (support; merchant staff granted it)."""
    return _may_for_merchant(user, "payments.issue_refund", merchant_id)


def may_approve_refund(user, *, merchant_id: int | None = None) -> bool:
    """Approve, deny or retry a refund of ``merchant_id`` (the four-eyes step)."""
    return _may_for_merchant(user, "payments.approve_refund", merchant_id)


def may_return_unapplied(user) -> bool:
    """Return a payment no order took: the platform's money, so platform staff only."""
    return _may_as_platform(user, "payments.issue_refund")


# -- payouts --------------------------------------------------------------------------
def may_request_payout(user, *, merchant_id: int | None = None) -> bool:
    """Ask for a payout of ``merchant_id``'s balance: its own staff only, never the platform."""
    if not is_active_staff(user) or not user.has_perm("settlement.add_payout"):
        return False
    merchant = user_merchant(user)
    return merchant is not None and (merchant_id is None or merchant.pk == merchant_id)


def may_decide_payouts(user) -> bool:
    """Approve, reject, mark paid or failed (finance)."""
    return _may_as_platform(user, "settlement.change_payout")


def may_see_bank_accounts(user) -> bool:
    """See a payout's bank account number in full (page and CSV): finance, who pay them.
    Everyone else (support, risk, merchant staff) sees ``**** 1234``."""
    return _may_as_platform(user, "settlement.change_payout")


def may_view_finance(user) -> bool:
    """See balances and the dashboard: platform staff, or a merchant's staff (their own)."""
    return is_platform_staff(user) or user_merchant(user) is not None


# -- reconciliation -------------------------------------------------------------------
def may_reconcile(user) -> bool:
    """Fetch or upload a gateway bill and run the matching (finance)."""
    return _may_as_platform(user, "reconciliation.add_reconciliationrun")


def may_resolve_differences(user) -> bool:
    """Close a reconciliation difference with a note (finance)."""
    return _may_as_platform(user, "reconciliation.change_difference")


# -- risk control ---------------------------------------------------------------------
def may_see_risk(user) -> bool:
    """Rules, assessments and the review queue are platform business."""
    return is_platform_staff(user)


def may_review_risk(user) -> bool:
    """Approve (deliver) or reject (refund) an order held by risk control (risk staff)."""
    return is_platform_staff(user) and user.has_perm("riskcontrol.add_reviewdecision")


# -- promotions -------------------------------------------------------------------------
def may_manage_coupon(user, *, funded_by: str, merchant_id: int | None) -> bool:
    """Create or change a coupon: a merchant's coupon by that merchant's own staff (its
    money), a platform coupon by platform staff holding the permission (marketing)."""
    if funded_by == "merchant":
        if not is_active_staff(user) or not user.has_perm("promotions.change_coupon"):
            return False
        merchant = user_merchant(user)
        return user.is_superuser or (merchant is not None and merchant.pk == merchant_id)
    return _may_as_platform(user, "promotions.change_coupon")


def may_grant_coupon(user) -> bool:
    """Put a platform's issued coupon into chosen learners' wallets (marketing)."""
    return _may_as_platform(user, "promotions.add_walletcoupon")


def may_adjust_points(user) -> bool:
    """Grant learners points or deduct them, with a reason (platform staff: marketing, support)."""
    return _may_as_platform(user, "promotions.add_pointsentry")
