from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.http import client_info
from promotions.api import coupon_error_responses

from . import selectors, services
from .exceptions import OrderNotFound
from .models import Order


class OrderLineOutput(serializers.Serializer):
    course = serializers.CharField(source="course_slug")
    title = serializers.CharField()
    unit_price = serializers.IntegerField()
    quantity = serializers.IntegerField()
    amount = serializers.IntegerField()


class OrderOutput(serializers.ModelSerializer):
    lines = OrderLineOutput(source="line_items", many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "order_no",
            "status",
            "subtotal",
            "discount",
            "total",
            "currency",
            "created_at",
            "expires_at",
            "paid_at",
            "fulfilled_at",
            "lines",
        ]


class OrderListCreateApi(APIView):
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

    @extend_schema(responses=OrderOutput(many=True))
    def get(self, request):
        queryset = selectors.order_list_for_learner(learner=request.user)
        paginator = generics.GenericAPIView.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(OrderOutput(page, many=True).data)

    @extend_schema(
        request=OrderCreateInput,
        responses={201: OrderOutput, 200: OrderOutput, **coupon_error_responses()},
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
            coupon=data.validated_data.get("coupon") or None,
        )
        return Response(
            OrderOutput(result.order).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class OrderDetailApi(APIView):
    @extend_schema(responses=OrderOutput)
    def get(self, request, order_no):
        order = selectors.order_get_for_learner(learner=request.user, order_no=order_no)
        if order is None:
            raise OrderNotFound()
        return Response(OrderOutput(order).data)


class OrderCancelApi(APIView):
    @extend_schema(request=None, responses=OrderOutput)
    def post(self, request, order_no):
        order = services.order_cancel(learner=request.user, order_no=order_no)
        return Response(OrderOutput(order).data)
