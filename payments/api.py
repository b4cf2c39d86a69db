from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.api.schema import (
    NonBlankCharField,
    PositiveAmountField,
    error_responses,
    idempotent_error_responses,
)
from core.http import client_info
from orders.exceptions import OrderNotFound
from orders.selectors import order_get_for_learner

from . import selectors, services
from .gateways import available_channels
from .models import Payment, Refund


class PaymentOutput(serializers.ModelSerializer):
    order_no = serializers.CharField(source="order.order_no")
    code_url = serializers.SerializerMethodField()
    redirect_url = serializers.SerializerMethodField()
    client_params = serializers.SerializerMethodField()

    class Meta:
        model = Payment
        fields = [
            "payment_no",
            "order_no",
            "channel",
            "status",
            "amount",
            "currency",
            "expires_at",
            "code_url",
            "redirect_url",
            "client_params",
        ]

    def get_code_url(self, payment) -> str:
        return payment.action.get("code_url", "")

    def get_redirect_url(self, payment) -> str:
        return payment.action.get("redirect_url", "")

    def get_client_params(self, payment) -> dict:
        return payment.action.get("client_params", {})


class PaymentStartApi(APIView):
    class PaymentStartInput(serializers.Serializer):
        # A choice of the channels configured when the request (or the schema) is made,
        # so the schema lists them as an enum.
        channel = serializers.ChoiceField(choices=[], help_text="A configured payment channel.")
        openid = serializers.CharField(required=False, help_text="WeChat openid, for wechat_jsapi")

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            channels = available_channels()
            field = self.fields["channel"]
            field.choices = channels
            field.error_messages["invalid_choice"] = (
                f"Unknown or unavailable channel; available: {', '.join(channels)}."
            )

    @extend_schema(
        request=PaymentStartInput,
        responses={
            201: PaymentOutput,
            **idempotent_error_responses(
                {
                    400: "`invalid`: unknown channel, or `openid` missing for a channel that needs it",
                    404: "`order_not_found`",
                    409: "`order_not_payable`: the order is paid, closed or expired",
                },
                502,
                503,
            ),
        },
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request, order_no):
        data = self.PaymentStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        payment = services.payment_start(
            learner=request.user,
            order_no=order_no,
            channel=data.validated_data["channel"],
            client=client_info(request),
            payer_id=data.validated_data.get("openid"),
        )
        return Response(PaymentOutput(payment).data, status=status.HTTP_201_CREATED)


class RefundOutput(serializers.ModelSerializer):
    order_no = serializers.CharField(source="order.order_no")

    class Meta:
        model = Refund
        fields = [
            "refund_no",
            "order_no",
            "status",
            "amount",
            "currency",
            "reason",
            "decision_note",
            "created_at",
            "decided_at",
            "succeeded_at",
        ]


class OrderRefundListCreateApi(APIView):
    """A learner's refund requests for their own order (someone else's order is a 404)."""

    class RefundRequestInput(serializers.Serializer):
        amount = PositiveAmountField(
            required=False, help_text="In fen; without it, everything left to refund is asked for."
        )
        reason = NonBlankCharField(max_length=255)

    @extend_schema(responses={200: RefundOutput(many=True), **error_responses({404: "`order_not_found`"})})
    def get(self, request, order_no):
        if order_get_for_learner(learner=request.user, order_no=order_no) is None:
            raise OrderNotFound()
        queryset = selectors.refund_list_for_learner_order(learner=request.user, order_no=order_no)
        return Response(RefundOutput(queryset.select_related("order"), many=True).data)

    @extend_schema(
        request=RefundRequestInput,
        responses={
            201: RefundOutput,
            **idempotent_error_responses(
                {
                    400: "`invalid_refund_amount`",
                    404: "`order_not_found`",
                    409: "The order cannot be refunded (not paid, window closed, more than is left)",
                }
            ),
        },
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request, order_no):
        data = self.RefundRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        refund = services.refund_request(
            learner=request.user,
            order_no=order_no,
            amount=data.validated_data.get("amount"),
            reason=data.validated_data["reason"],
        )
        return Response(RefundOutput(refund).data, status=status.HTTP_201_CREATED)
