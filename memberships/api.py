"""Memberships over the API: plans on sale, buying one period of a plan (an order, paid
like any other: ``POST /orders/<order_no>/pay/``), and the learner's memberships."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.api.schema import error_responses, idempotent_error_responses, merge_responses
from core.http import client_info
from orders.api import OrderOutput
from orders.attribution import referral_from_request
from promotions.api import coupon_error_responses

from . import selectors
from .exceptions import PlanNotAvailable
from .models import Membership, MembershipPeriod, Plan
from .services.purchase import plan_checkout


class PlanOutput(serializers.ModelSerializer):
    merchant = serializers.CharField(source="merchant.name")
    merchant_slug = serializers.CharField(source="merchant.slug")
    price = serializers.IntegerField(help_text="One period, in fen (1 yuan = 100 fen). Today's price.")
    period = serializers.ChoiceField(
        choices=Plan.Period.values,
        help_text="month (same day next month), quarter (3 months), year (12 months) or days "
        "(period_days × 24 h); a period ends at the end of a day in Asia/Shanghai time.",
    )
    period_days = serializers.IntegerField(allow_null=True, help_text="With period `days` only.")
    courses = serializers.SerializerMethodField(
        help_text="With all_courses false: the slugs of the courses it opens (on sale)."
    )

    class Meta:
        model = Plan
        fields = [
            "slug",
            "title",
            "description",
            "merchant",
            "merchant_slug",
            "period",
            "period_days",
            "price",
            "currency",
            "all_courses",
            "courses",
            "renewal_allowed",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_courses(self, plan) -> list[str]:
        return [] if plan.all_courses else [course.slug for course in plan.courses.all()]


class PlanListApi(generics.ListAPIView):
    """Membership plans on sale, by merchant and price (paginated)."""

    permission_classes = [AllowAny]
    serializer_class = PlanOutput

    def get_queryset(self):
        plans = selectors.plans_on_sale()
        merchant = self.request.query_params.get("merchant")
        if merchant:
            plans = plans.filter(merchant__slug=merchant[:80])
        return plans

    @extend_schema(
        parameters=[
            OpenApiParameter("merchant", OpenApiTypes.STR, description="Only this merchant's plans (slug)")
        ],
        responses={200: PlanOutput(many=True), **error_responses(404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PlanDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: PlanOutput, **error_responses({404: "`plan_not_available`"})})
    def get(self, request, slug):
        plan = selectors.plan_get_on_sale(slug=slug)
        if plan is None:
            raise PlanNotAvailable()
        return Response(PlanOutput(plan).data)


class PlanOrderCreateApi(APIView):
    """Buy one period of a plan: an order (201), or the learner's open order for the plan
    (200). Pay it with ``POST /orders/<order_no>/pay/``. Bought again before the
    membership ends, the period starts where the last one ends."""

    class PlanOrderInput(serializers.Serializer):
        coupon = serializers.CharField(
            max_length=32,
            required=False,
            allow_blank=True,
            help_text="A coupon code, or the id of a coupon in the learner's wallet: one for the "
            "plan's merchant or for every course (a coupon for chosen courses does not apply).",
        )
        points = serializers.IntegerField(
            min_value=1,
            max_value=10**12,
            required=False,
            allow_null=True,
            help_text="Points (积分) to pay part of the price with, after the coupon, within the cap.",
        )

    @extend_schema(
        request=PlanOrderInput,
        responses=merge_responses(
            {201: OrderOutput, 200: OrderOutput},
            idempotent_error_responses(
                {
                    403: "`checkout_refused`: risk control refused this purchase",
                    404: "`plan_not_available`: no such plan on sale",
                    409: "`order_open_without_coupon`, `order_open_other_points`: an unpaid order for "
                    "this plan exists; cancel it to order again",
                }
            ),
            coupon_error_responses(),
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request, slug):
        data = self.PlanOrderInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = plan_checkout(
            learner=request.user,
            plan_slug=slug,
            client=client_info(request),
            coupon=data.validated_data.get("coupon") or None,
            points=data.validated_data.get("points") or None,
            referral=referral_from_request(request),
        )
        return Response(
            OrderOutput(result.order).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class PeriodOutput(serializers.ModelSerializer):
    price = serializers.IntegerField(help_text="What the period's order paid, in fen")
    last_day = serializers.DateField(help_text="The last local day it covers (it ends at that day's end)")
    ended_at = serializers.DateTimeField(allow_null=True, help_text="Set when a refund ended it early")

    class Meta:
        model = MembershipPeriod
        fields = ["sequence", "order_no", "price", "starts_at", "ends_at", "last_day", "status", "ended_at"]


class MembershipOutput(serializers.ModelSerializer):
    plan = serializers.CharField(source="plan.slug")
    plan_title = serializers.CharField(source="plan.title")
    merchant = serializers.CharField(source="plan.merchant.name")
    state = serializers.ChoiceField(
        choices=[selectors.ACTIVE, selectors.GRACE, selectors.UPCOMING, selectors.ENDED],
        help_text="active: a paid period covers now; grace: a renewal is being retried and access "
        "continues until grace_until; upcoming: paid periods start later; ended",
    )
    ends_at = serializers.DateTimeField(
        allow_null=True, help_text="Access until (the end of the last paid period)"
    )
    last_day = serializers.DateField(allow_null=True, help_text="The last local day of access")
    grace_until = serializers.DateTimeField(allow_null=True)
    auto_renew = serializers.BooleanField(help_text="Renews automatically")
    periods = PeriodOutput(many=True, read_only=True)

    class Meta:
        model = Membership
        fields = [
            "id",
            "plan",
            "plan_title",
            "merchant",
            "state",
            "ends_at",
            "last_day",
            "grace_until",
            "auto_renew",
            "periods",
        ]


class MyMembershipsApi(generics.GenericAPIView):
    """The learner's memberships, latest ending first (paginated), each with its periods."""

    serializer_class = MembershipOutput

    @extend_schema(responses={200: MembershipOutput(many=True), **error_responses(404)})
    def get(self, request):
        queryset = selectors.memberships_for_learner(learner=request.user, at=timezone.now())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(MembershipOutput(page, many=True).data)
