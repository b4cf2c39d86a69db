"""Promoters over the API: the learner's promoter memberships with their links and
statistics, and a link to a course of the programme."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.api.schema import error_responses

from . import selectors, services
from .exceptions import CourseNotPromoted, PromoterNotFound


class LinkOutput(serializers.Serializer):
    course = serializers.CharField(source="course.slug")
    code = serializers.CharField()
    url = serializers.SerializerMethodField()

    def get_url(self, link) -> str:
        return self.context["request"].build_absolute_uri(f"/r/{link.code}")


class PromoterOutput(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    merchant = serializers.CharField(source="merchant.slug")
    status = serializers.CharField()
    links = LinkOutput(many=True, source="links.all")
    statistics = serializers.SerializerMethodField(
        help_text="clicks, orders (paid, referred), and commission pending, available, payouts "
        "(requested) and paid_out, in fen."
    )

    def get_statistics(self, promoter) -> dict:
        return self.context["stats"][promoter.pk]


class MyPromotersApi(APIView):
    @extend_schema(responses={200: PromoterOutput(many=True)})
    def get(self, request):
        promoters = selectors.promoters_of(user=request.user)
        context = {"request": request, "stats": selectors.promoter_stats(promoters=promoters)}
        return Response(PromoterOutput(promoters, many=True, context=context).data)


# Any text reaches the views (a 404 in the error shape unless it is one of the user's promoters).
PROMOTER_ID = OpenApiParameter("promoter_id", int, OpenApiParameter.PATH)


class PromoterLinkInput(serializers.Serializer):
    course = serializers.SlugField()


class PromoterLinkCreateApi(APIView):
    @extend_schema(
        request=PromoterLinkInput,
        parameters=[PROMOTER_ID],
        responses={
            200: LinkOutput,
            **error_responses(
                {404: "`promoter_not_found`", 400: "`course_not_promoted`", 403: "`promoter_not_allowed`"}
            ),
        },
    )
    def post(self, request, promoter_id):
        data = PromoterLinkInput(data=request.data)
        data.is_valid(raise_exception=True)
        promoter = selectors.promoter_of(user=request.user, promoter_id=promoter_id)
        if promoter is None:
            raise PromoterNotFound()
        course = promoter.programme.courses.filter(slug=data.validated_data["course"]).first()
        if course is None:
            raise CourseNotPromoted()
        link = services.link_for(promoter=promoter, course_id=course.pk)
        return Response(LinkOutput(link, context={"request": request}).data)


class PayoutOutput(serializers.Serializer):
    payout_no = serializers.CharField()
    amount = serializers.IntegerField(help_text="In fen.")
    status = serializers.CharField()
    requested_at = serializers.DateTimeField()


class PromoterPayoutInput(serializers.Serializer):
    amount = serializers.IntegerField(min_value=1, help_text="In fen.")
    account_name = serializers.CharField(max_length=120)
    bank_name = serializers.CharField(max_length=120)
    account_number = serializers.CharField(max_length=64)


class PromoterPayoutCreateApi(APIView):
    """Withdraw available commission (提现) through the payout flow: its limits, and
    finance's decisions."""

    @extend_schema(
        request=PromoterPayoutInput,
        parameters=[IDEMPOTENCY_PARAMETER, PROMOTER_ID],
        responses={
            201: PayoutOutput,
            **error_responses(
                {
                    400: "`payout_below_minimum`, `payout_above_maximum`",
                    403: "`promoter_not_approved` (an application not decided yet)",
                    404: "`promoter_not_found`",
                    409: "`insufficient_balance`",
                }
            ),
        },
    )
    @idempotent
    def post(self, request, promoter_id):
        data = PromoterPayoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        payout = services.promoter_payout_request(
            user=request.user, promoter_id=promoter_id, **data.validated_data
        )
        return Response(PayoutOutput(payout).data, status=201)
