from django.utils.translation import gettext_lazy as _

from core.errors import KpayError


class OrderError(KpayError):
    code = "order_error"


class CourseNotAvailable(OrderError):
    code = "course_not_available"
    message = _("This course is not on sale.")
    http_status = 404


class CourseAlreadyOwned(OrderError):
    code = "course_already_owned"
    message = _("You already own this course.")
    http_status = 409


class CoursePaymentUnderReview(CourseAlreadyOwned):
    """A paid order for the course is held for risk review: buying it again would
    charge the learner twice for one course."""

    code = "course_payment_under_review"
    message = _(
        "You have already paid for this course; access is granted as soon as the payment is reviewed."
    )


class OrderNotFound(OrderError):
    code = "order_not_found"
    message = _("No such order.")
    http_status = 404


class OrderNotCancellable(OrderError):
    code = "order_not_cancellable"
    message = _("Only an unpaid order can be cancelled.")
    http_status = 409


class OrderStateConflict(OrderError):
    code = "order_state_conflict"
    message = _("The order has changed in the meantime; please reload it.")
    http_status = 409


class CheckoutRefused(OrderError):
    code = "checkout_refused"
    message = _("We cannot accept this order. Please contact support if you think this is a mistake.")
    http_status = 403


class OpenOrderWithoutCoupon(OrderError):
    code = "order_open_without_coupon"
    message = _("You have an unpaid order for this course. Cancel it to order again with a coupon.")
    http_status = 409


class OpenOrderOtherPoints(OrderError):
    code = "order_open_other_points"
    message = _("You have an unpaid order for this course with other points. Cancel it to order again.")
    http_status = 409
