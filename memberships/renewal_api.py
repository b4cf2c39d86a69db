"""``POST /api/v1/memberships/<id>/renewal/`` ``{"on": true|false, "channel"?}``: turn a
membership's automatic renewal on (the answer carries the signing action to open) or
off (the agreement is ended at the gateway)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.api.schema import idempotent_error_responses
from core.http import client_info
from payments.gateways import available_withholding_channels

from .exceptions import MembershipNotFound
from .renewal_selectors import RenewalSummary, membership_for_learner, renewal_summary
from .services import renewal_turn_off, renewal_turn_on


class SignActionOutput(serializers.Serializer):
    kind = serializers.CharField(help_text="`qr` (show `code_url` as a QR code) or `redirect`")
    code_url = serializers.CharField(allow_blank=True)
    redirect_url = serializers.CharField(allow_blank=True)


class RenewalOutput(serializers.Serializer):
    membership = serializers.IntegerField(source="membership.pk")
    state = serializers.ChoiceField(
        choices=[RenewalSummary.OFF, RenewalSummary.SIGNING, RenewalSummary.ON, RenewalSummary.TURNING_OFF],
        help_text="`signing`: open `action` to sign at the gateway; `turning_off`: the gateway has not "
        "confirmed the end yet (nothing more is charged)",
    )
    auto_renew = serializers.BooleanField(source="membership.auto_renew")
    channel = serializers.SerializerMethodField()
    agreement_no = serializers.SerializerMethodField()
    amount_cap = serializers.SerializerMethodField(help_text="The most one charge may take, in fen")
    next_charge_on = serializers.DateField(allow_null=True, help_text="In the gateway's time zone")
    next_charge_amount = serializers.IntegerField(
        allow_null=True, help_text="In fen: the plan's current price"
    )
    grace_until = serializers.DateTimeField(
        allow_null=True, help_text="A renewal charge failed and is retried: access continues until then"
    )
    action = serializers.SerializerMethodField()

    def get_channel(self, summary) -> str:
        return summary.agreement.channel if summary.agreement else ""

    def get_agreement_no(self, summary) -> str:
        return summary.agreement.agreement_no if summary.agreement else ""

    def get_amount_cap(self, summary) -> int | None:
        return summary.agreement.amount_cap if summary.agreement else None

    @extend_schema_field(SignActionOutput(allow_null=True))
    def get_action(self, summary):
        """While ``signing``: what the learner opens to sign; null otherwise."""
        action = summary.action
        if not action:
            return None
        return {
            "kind": action.get("kind", ""),
            "code_url": action.get("code_url", ""),
            "redirect_url": action.get("redirect_url", ""),
        }


class MembershipRenewalApi(APIView):
    class RenewalInput(serializers.Serializer):
        on = serializers.BooleanField(help_text="true: turn automatic renewal on; false: off")
        channel = serializers.ChoiceField(
            choices=[], required=False, help_text="A withholding channel; default: the first configured"
        )

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            channels = available_withholding_channels()
            field = self.fields["channel"]
            field.choices = channels
            field.error_messages["invalid_choice"] = (
                f"Unknown or unavailable channel; available: {', '.join(channels)}."
            )

    @extend_schema(
        request=RenewalInput,
        responses={
            200: RenewalOutput,
            **idempotent_error_responses(
                {
                    400: "`invalid`: `on` missing or not a boolean, unknown `channel`",
                    404: "`membership_not_found`",
                    409: "`renewal_not_offered`, `membership_not_active`, `renewal_amount_above_limit`, "
                    "`renewal_turning_off`",
                },
                502,
                503,
            ),
        },
        parameters=[
            IDEMPOTENCY_PARAMETER,
            # Any text reaches the view (and is a 404 in the error shape unless it is the
            # number of one of the learner's memberships).
            OpenApiParameter("membership_id", int, OpenApiParameter.PATH),
        ],
    )
    @idempotent
    def post(self, request, membership_id):
        data = self.RenewalInput(data=request.data)
        data.is_valid(raise_exception=True)
        if membership_for_learner(learner=request.user, membership_id=membership_id) is None:
            raise MembershipNotFound()
        if data.validated_data["on"]:
            renewal_turn_on(
                learner=request.user,
                membership_id=membership_id,
                channel=data.validated_data.get("channel"),
                client=client_info(request),
            )
        else:
            renewal_turn_off(learner=request.user, membership_id=membership_id)
        membership = membership_for_learner(learner=request.user, membership_id=membership_id)
        return Response(RenewalOutput(renewal_summary(membership=membership)).data)
