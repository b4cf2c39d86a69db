"""The learner's coupons over the API: the wallet, claiming (领券), and what checkout
answers when a coupon is refused (documented here, used by ``orders.api``)."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.schema import ErrorSerializer, error_responses, merge_responses

from . import exceptions, selectors, services
from .points import fen_per_point

COUPON_ERRORS = (
    exceptions.CouponNotFound,
    exceptions.CouponExpired,
    exceptions.CouponExhausted,
    exceptions.CouponNotApplicable,
    exceptions.CouponMinimumNotMet,
    exceptions.CouponLimitReached,
    exceptions.CouponAlreadyUsed,
    exceptions.PointsInsufficient,
    exceptions.PointsAboveCap,
    exceptions.PointsInvalid,
)

ErrorOutput = ErrorSerializer  # the API's one error shape (core.api.schema)


def coupon_error_responses(*errors) -> dict:
    """OpenAPI responses naming each refusal's machine code, grouped by HTTP status."""
    by_status: dict[int, list] = {}
    for error in errors or COUPON_ERRORS:
        by_status.setdefault(error.http_status, []).append(error)
    return {
        http_status: OpenApiResponse(
            response=ErrorOutput,
            description="Refused: " + ", ".join(f"`{e.code}` ({e.message})" for e in group),
            examples=[
                OpenApiExample(e.code, value={"error": {"code": e.code, "message": str(e.message)}})
                for e in group
            ],
        )
        for http_status, group in by_status.items()
    }


class CouponOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    amount_off = serializers.IntegerField(help_text="Fen off (kind amount)")
    percent_off = serializers.IntegerField(allow_null=True, help_text="Percentage off (kind percent)")
    max_discount = serializers.IntegerField(allow_null=True, help_text="Cap in fen (kind percent)")
    min_spend = serializers.IntegerField(help_text="Minimum price in fen")
    currency = serializers.CharField()
    scope = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class WalletCouponOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="Pass it as `coupon` when placing an order")
    state = serializers.ChoiceField(choices=["available", "in_use", "expired"])
    source = serializers.CharField()
    created_at = serializers.DateTimeField()
    coupon = CouponOutput()


class CouponWalletApi(generics.GenericAPIView):
    """The learner's wallet, paginated (a generic view, so the schema says so)."""

    serializer_class = WalletCouponOutput

    @extend_schema(responses={200: WalletCouponOutput(many=True), **error_responses(404)})
    def get(self, request):
        queryset = selectors.wallet_list_for_learner(learner=request.user, at=timezone.now())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(WalletCouponOutput(page, many=True).data)


class CouponClaimApi(APIView):
    class ClaimInput(serializers.Serializer):
        coupon = serializers.IntegerField(min_value=1, help_text="The id of an issued coupon")

    @extend_schema(
        request=ClaimInput,
        responses=merge_responses(
            {201: WalletCouponOutput},
            coupon_error_responses(
                exceptions.CouponNotFound,
                exceptions.CouponExpired,
                exceptions.CouponExhausted,
                exceptions.CouponLimitReached,
            ),
        ),
    )
    def post(self, request):
        data = self.ClaimInput(data=request.data)
        data.is_valid(raise_exception=True)
        wallet = services.coupon_claim(learner=request.user, coupon_id=data.validated_data["coupon"])
        wallet.state = "available"
        return Response(WalletCouponOutput(wallet).data, status=status.HTTP_201_CREATED)


class PointsLotOutput(serializers.Serializer):
    remaining = serializers.IntegerField(help_text="Points left in this lot")
    source = serializers.CharField()
    expires_at = serializers.DateTimeField()


class PointsEntryOutput(serializers.Serializer):
    kind = serializers.CharField(
        help_text="earned, granted, deducted, spent, released, returned, clawed_back, expired, repaid"
    )
    points = serializers.IntegerField(help_text="Signed change")
    order_no = serializers.CharField(source="order.order_no", allow_null=True, default=None)
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class PointsApi(APIView):
    """The learner's points (积分): balance (negative: a debt a refund left), the lots
    with points left, soonest to expire first, and the history, newest first (paginated)."""

    @extend_schema(
        responses=inline_serializer(
            name="Points",
            fields={
                "balance": serializers.IntegerField(),
                "value_per_point": serializers.IntegerField(help_text="Fen one point pays at checkout"),
                "expiring": PointsLotOutput(many=True),
                "history": PointsEntryOutput(many=True),
                "next": serializers.CharField(allow_null=True),
            },
        )
    )
    def get(self, request):
        paginator = generics.GenericAPIView.pagination_class()
        page = paginator.paginate_queryset(
            selectors.points_history(learner_id=request.user.pk), request, view=self
        )
        return Response(
            {
                "balance": selectors.points_balance(learner_id=request.user.pk),
                "value_per_point": fen_per_point(),
                "expiring": PointsLotOutput(
                    selectors.points_lots_expiring(learner_id=request.user.pk), many=True
                ).data,
                "history": PointsEntryOutput(page, many=True).data,
                "next": paginator.get_next_link(),
            }
        )
