from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.api.schema import error_responses, idempotent_error_responses, merge_responses
from core.http import client_info
from promotions.api import coupon_error_responses

from . import selectors, services
from .attribution import referral_from_request, referred_promoter_id
from .exceptions import OrderNotFound
from .models import Order


class OrderLineOutput(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=["course", "membership"], help_text="A course, or one period of a membership plan."
    )
    course = serializers.CharField(
        source="course_slug", help_text="The course's slug (kind course; else empty)."
    )
    plan = serializers.CharField(
        source="plan_slug", help_text="The membership plan's slug (kind membership; else empty)."
    )
    title = serializers.CharField()
    unit_price = serializers.IntegerField()
    quantity = serializers.IntegerField()
    amount = serializers.IntegerField()


# payments.Refund.Origin.UNAPPLIED: orders sits below payments and reads its refunds by
# their reverse relation only.
RETURNED_PAYMENT_ORIGIN = "unapplied"


class ReturnedPaymentOutput(serializers.Serializer):
    """A second payment for the order (another channel's cashier took the money too, or
    it arrived after the order closed) that kpay is giving back, or gave back."""

    refund_no = serializers.CharField()
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.SerializerMethodField(help_text="returning, returned or failed (staff retry it)")

    def get_status(self, refund) -> str:
        return {"succeeded": "returned", "failed": "failed"}.get(refund.status, "returning")


class OrderOutput(serializers.ModelSerializer):
    lines = OrderLineOutput(source="line_items", many=True, read_only=True)
    returned_payments = serializers.SerializerMethodField()
    referred = serializers.SerializerMethodField(help_text="Whether a promoter referred the order (分销).")

    class Meta:
        model = Order
        fields = [
            "order_no",
            "status",
            "subtotal",
            "discount",
            "points_used",
            "points_discount",
            "total",
            "currency",
            "created_at",
            "expires_at",
            "paid_at",
            "fulfilled_at",
            "lines",
            "returned_payments",
            "referred",
        ]

    def get_referred(self, order) -> bool:
        return referred_promoter_id(order) is not None

    @extend_schema_field(ReturnedPaymentOutput(many=True))
    def get_returned_payments(self, order) -> list:
        returned = [refund for refund in order.refunds.all() if refund.origin == RETURNED_PAYMENT_ORIGIN]
        return ReturnedPaymentOutput(returned, many=True).data


class OrderListCreateApi(generics.GenericAPIView):
    """GET: the learner's orders, paginated (``count``, ``next``, ``previous``, ``results``);
    POST: check out one course."""

    # A generic view, so the schema knows GET pages through the list (an APIView that
    # pages by hand was documented as a plain array).
    serializer_class = OrderOutput

    class OrderCreateInput(serializers.Serializer):
        course = serializers.SlugField(
            max_length=80, help_text="The course's slug. Prices are computed by kpay."
        )
        coupon = serializers.CharField(
            max_length=32,
            required=False,
            allow_blank=True,
            help_text="A coupon code, or the id of a coupon in the learner's wallet.",
        )
        points = serializers.IntegerField(
            min_value=1,
            max_value=10**12,
            required=False,
            allow_null=True,
            help_text="Points (积分) to pay part of the price with, after the coupon, within the cap.",
        )

    @extend_schema(responses={200: OrderOutput(many=True), **error_responses(404)})
    def get(self, request):
        queryset = selectors.order_list_for_learner(learner=request.user).prefetch_related("refunds")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(OrderOutput(page, many=True).data)

    @extend_schema(
        request=OrderCreateInput,
        responses=merge_responses(
            {201: OrderOutput, 200: OrderOutput},
            idempotent_error_responses(
                {
                    403: "`checkout_refused`: risk control refused this purchase",
                    404: "`course_not_available`",
                    409: "`course_already_owned`, `course_payment_under_review`, `order_open_without_coupon`",
                }
            ),
            coupon_error_responses(),
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request):
        data = self.OrderCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.order_checkout(
            learner=request.user,
            course_slug=data.validated_data["course"],
            client=client_info(request),
            referral=referral_from_request(request),
            coupon=data.validated_data.get("coupon") or None,
            points=data.validated_data.get("points") or None,
        )
        return Response(
            OrderOutput(result.order).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class OrderDetailApi(APIView):
    @extend_schema(responses={200: OrderOutput, **error_responses({404: "`order_not_found`"})})
    def get(self, request, order_no):
        order = selectors.order_get_for_learner(learner=request.user, order_no=order_no)
        if order is None:
            raise OrderNotFound()
        return Response(OrderOutput(order).data)


class OrderCancelApi(APIView):
    @extend_schema(
        request=None,
        responses={
            200: OrderOutput,
            **error_responses(
                {404: "`order_not_found`", 409: "`order_not_cancellable`: paid, closed or paying"}
            ),
        },
    )
    def post(self, request, order_no):
        order = services.order_cancel(learner=request.user, order_no=order_no)
        return Response(OrderOutput(order).data)
