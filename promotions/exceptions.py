from django.utils.translation import gettext_lazy as _

from core.errors import KpayError


class PromotionError(KpayError):
    code = "promotion_error"


class CouponNotFound(PromotionError):
    code = "coupon_not_found"
    message = _("No such coupon.")
    http_status = 404


class CouponExpired(PromotionError):
    code = "coupon_expired"
    message = _("This coupon is not valid at this time.")
    http_status = 409


class CouponExhausted(PromotionError):
    code = "coupon_exhausted"
    message = _("This coupon has run out.")
    http_status = 409


class CouponNotApplicable(PromotionError):
    code = "coupon_not_applicable"
    message = _("This coupon cannot be used for this course.")
    http_status = 409

    @classmethod
    def for_item(cls, *, is_course: bool) -> "CouponNotApplicable":
        """The refusal in the words of what is bought: a course, or a membership plan."""
        return cls() if is_course else cls(_("This coupon cannot be used for this membership plan."))


class CouponMinimumNotMet(PromotionError):
    code = "coupon_minimum_not_met"
    message = _("The price is below this coupon's minimum spend.")
    http_status = 409


class CouponLimitReached(PromotionError):
    code = "coupon_limit_reached"
    message = _("You have already used this coupon as many times as allowed.")
    http_status = 409


class CouponAlreadyUsed(PromotionError):
    code = "coupon_already_used"
    message = _("This coupon is already used on another order.")
    http_status = 409


class CouponNotAllowed(PromotionError):
    code = "coupon_not_allowed"
    message = _("A merchant's coupon can only cover that merchant's own courses.")
    http_status = 400


class PointsInvalid(PromotionError):
    code = "points_invalid"
    message = _("Points must be a whole number above zero.")
    http_status = 400


class PointsInsufficient(PromotionError):
    code = "points_insufficient"
    message = _("You do not have that many points.")
    http_status = 409


class PointsAboveCap(PromotionError):
    code = "points_above_cap"
    message = _("Points can pay only part of this price: use fewer points.")
    http_status = 409


class PointsReasonRequired(PromotionError):
    code = "points_reason_required"
    message = _("Say why the points are granted or deducted.")
    http_status = 400
