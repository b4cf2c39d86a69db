"""The sandbox gateway's server side: cashier page, signed API, notifications.

Protocol: :mod:`payments.gateways.sandbox.protocol`. The simulator holds the gateway's private
key and trusts the merchant public key, both from ``KPAY_KEY_DIR`` (development keys).
"""

import json
import secrets
import time
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.money import fen_to_yuan
from devtools.keys import SANDBOX_GATEWAY, SANDBOX_MERCHANT
from payments.gateways.sandbox import protocol
from payments.gateways.signing import (
    new_nonce,
    sign_sha256_rsa,
    verify_sha256_rsa,
)

from .http import fresh_authorization, gateway_keys, merchant_api
from .locks import payable_trade_lock
from .models import SimRefund, SimTrade
from .notifier import GatewayProfile, new_event_id, notification_schedule

GATEWAY = "sandbox"


def _gateway_key():
    return gateway_keys(SANDBOX_GATEWAY, SANDBOX_MERCHANT)[0]


def _merchant_key():
    return gateway_keys(SANDBOX_GATEWAY, SANDBOX_MERCHANT)[1]


def signed_headers(private_key, body: bytes) -> dict[str, str]:
    """Response or notification headers signing ``body`` with the gateway's key."""
    timestamp, nonce = str(int(time.time())), new_nonce()
    return {
        "Sandbox-Timestamp": timestamp,
        "Sandbox-Nonce": nonce,
        "Sandbox-Signature": sign_sha256_rsa(private_key, protocol.response_message(timestamp, nonce, body)),
    }


# WeChat Pay's schedule, which the sandbox imitates: 15 s, 15 s, 30 s, 3 min, … 6 h.
RETRY_SCHEDULE = (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600)


def profile() -> GatewayProfile:
    return GatewayProfile(
        name=GATEWAY,
        sign_headers=lambda body: signed_headers(_gateway_key(), body),
        schedule=RETRY_SCHEDULE,
    )


def _signed_json(data, status: int = 200) -> HttpResponse:
    body = b"" if data is None else json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    response = HttpResponse(body, status=status, content_type="application/json")
    for name, value in signed_headers(_gateway_key(), body).items():
        response[name] = value
    return response


def _error(status: int, code: str, message: str) -> JsonResponse:
    # Errors are not signed, as with WeChat Pay.
    return JsonResponse({"code": code, "message": message}, status=status)


def _trade_resource(trade: SimTrade) -> dict:
    return {
        "merchant_id": trade.merchant_id,
        "out_trade_no": trade.out_trade_no,
        "transaction_id": trade.transaction_id,
        "trade_state": trade.state,
        "amount": {"total": trade.amount, "currency": trade.currency},
        "payer": {"id": trade.payer_id},
        "success_time": trade.success_time.isoformat() if trade.success_time else None,
        **(
            {"failure": {"code": trade.failure_code, "message": trade.failure_message}}
            if trade.failure_code
            else {}
        ),
    }


def _refund_resource(refund: SimRefund) -> dict:
    trade = refund.trade
    return {
        "merchant_id": trade.merchant_id,
        "out_trade_no": trade.out_trade_no,
        "transaction_id": trade.transaction_id,
        "out_refund_no": refund.out_refund_no,
        "refund_id": refund.refund_id,
        "status": refund.status,
        "amount": {"refund": refund.amount, "total": trade.amount, "currency": trade.currency},
        "success_time": refund.success_time.isoformat() if refund.success_time else None,
    }


def _notify(url: str, event_type: str, resource: dict) -> None:
    event_id = new_event_id()
    body = {
        "id": event_id,
        "event_type": event_type,
        "create_time": timezone.now().isoformat(),
        "resource": resource,
    }
    notification_schedule(
        gateway=GATEWAY,
        event_id=event_id,
        url=url,
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
    )


def _authenticated_merchant(request) -> str | None:
    fields = fresh_authorization(
        request,
        scheme=protocol.AUTH_SCHEME,
        required=("merchant_id", "nonce"),
        max_skew=protocol.MAX_CLOCK_SKEW,
    )
    if fields is None:
        return None
    message = protocol.request_message(
        request.method, request.get_full_path(), fields["timestamp"], fields["nonce"], request.body
    )
    if not verify_sha256_rsa(_merchant_key(), message, fields.get("signature", "")):
        return None
    return fields["merchant_id"]


_api = merchant_api(
    _authenticated_merchant, lambda: _error(401, "SIGN_ERROR", "signature verification failed")
)


def _locked_trade(merchant_id: str, out_trade_no: str) -> SimTrade | None:
    return (
        SimTrade.objects.select_for_update()
        .filter(gateway=GATEWAY, merchant_id=merchant_id, out_trade_no=out_trade_no)
        .first()
    )


# -- API ----------------------------------------------------------------------------
@require_GET
@_api
def api_trade(request, merchant_id, out_trade_no):
    trade = SimTrade.objects.filter(
        gateway=GATEWAY, merchant_id=merchant_id, out_trade_no=out_trade_no
    ).first()
    if trade is None:
        return _error(404, "TRADE_NOT_EXIST", "trade does not exist")
    return _signed_json(_trade_resource(trade))


@require_POST
@_api
def api_trade_close(request, merchant_id, out_trade_no):
    with transaction.atomic():
        trade = _locked_trade(merchant_id, out_trade_no)
        if trade is None:
            return _error(404, "TRADE_NOT_EXIST", "trade does not exist")
        if trade.state in (SimTrade.State.SUCCESS, SimTrade.State.REFUND):
            return _error(400, "TRADE_PAID", "trade is paid: refund it instead")
        trade.state = SimTrade.State.CLOSED
        trade.save(update_fields=["state"])
    return _signed_json(None, status=204)


@require_POST
@_api
def api_refund_create(request, merchant_id):
    try:
        data = json.loads(request.body)
        out_trade_no, out_refund_no = str(data["out_trade_no"]), str(data["out_refund_no"])
        amount = int(data["amount"]["refund"])
    except (ValueError, KeyError, TypeError):
        return _error(400, "PARAM_ERROR", "out_trade_no, out_refund_no and amount.refund are required")
    with transaction.atomic():
        trade = _locked_trade(merchant_id, out_trade_no)
        if trade is None:
            return _error(404, "TRADE_NOT_EXIST", "trade does not exist")
        existing = trade.refunds.filter(out_refund_no=out_refund_no).first()
        if existing is not None:  # the refund number is the idempotency key
            return _signed_json(_refund_resource(existing))
        if trade.state not in (SimTrade.State.SUCCESS, SimTrade.State.REFUND):
            return _error(400, "TRADE_NOT_PAID", "only paid trades can be refunded")
        if not 0 < amount <= trade.amount - trade.refunded:
            return _error(400, "NOT_ENOUGH", "refund amount exceeds what is left to refund")
        refund = SimRefund.objects.create(
            trade=trade,
            out_refund_no=out_refund_no,
            refund_id=f"RF{secrets.token_hex(12).upper()}",
            amount=amount,
            status="SUCCESS",
            success_time=timezone.now(),
            notify_url=str(data.get("notify_url", "")),
        )
        trade.refunded += amount
        trade.state = SimTrade.State.REFUND
        trade.save(update_fields=["refunded", "state"])
        if refund.notify_url:
            _notify(refund.notify_url, "REFUND.SUCCESS", _refund_resource(refund))
    return _signed_json(_refund_resource(refund))


@require_GET
@_api
def api_refund(request, merchant_id, out_refund_no):
    refund = (
        SimRefund.objects.select_related("trade")
        .filter(trade__gateway=GATEWAY, trade__merchant_id=merchant_id, out_refund_no=out_refund_no)
        .first()
    )
    if refund is None:
        return _error(404, "RESOURCE_NOT_EXISTS", "refund does not exist")
    return _signed_json(_refund_resource(refund))


# -- cashier ------------------------------------------------------------------------
_CASHIER_FIELDS = (
    "merchant_id",
    "out_trade_no",
    "amount",
    "currency",
    "description",
    "notify_url",
    "return_url",
    "expire_time",
)


def _trade_from_cashier_params(params) -> tuple[SimTrade | None, str]:
    """Verify a signed cashier URL and find or open its trade; (None, why) if invalid."""
    if not verify_sha256_rsa(_merchant_key(), protocol.params_sign_string(params), params.get("sign", "")):
        return None, "The payment link's signature is invalid."
    try:
        amount = int(params["amount"])
        expire_at = datetime.fromtimestamp(int(params["expire_time"]), tz=UTC)
    except (KeyError, ValueError):
        return None, "The payment link is incomplete."
    if amount < 1:
        return None, "The amount is invalid."
    fields = {
        "amount": amount,
        "currency": params.get("currency", ""),
        "description": params.get("description", "")[:256],
        "notify_url": params.get("notify_url", ""),
        "return_url": params.get("return_url", ""),
        "expire_at": expire_at,
    }
    lookup = {
        "gateway": GATEWAY,
        "merchant_id": params.get("merchant_id", ""),
        "out_trade_no": params.get("out_trade_no", ""),
    }
    trade = SimTrade.objects.filter(**lookup).first()
    if trade is None:
        try:
            with transaction.atomic():
                trade = SimTrade.objects.create(
                    **lookup, **fields, transaction_id=f"SBX{secrets.token_hex(12).upper()}"
                )
        except IntegrityError:
            trade = SimTrade.objects.get(**lookup)
    if any(getattr(trade, name) != value for name, value in fields.items()):
        # Like WeChat: the same trade number must come with the same parameters.
        return None, "This trade number was already used with different parameters."
    return trade, ""


@require_http_methods(["GET", "POST"])
def cashier(request):
    params = request.GET.dict()
    trade, problem = _trade_from_cashier_params(params)
    if trade is None:
        return render(request, "simulators/cashier.html", {"problem": problem}, status=400)
    if request.method == "POST":
        action = request.POST.get("action")
        if action not in {"pay", "decline"}:
            return render(
                request,
                "simulators/cashier.html",
                {"trade": trade, "problem": "Choose pay or decline."},
                status=400,
            )
        _cashier_act(trade.pk, action)
        trade.refresh_from_db()
    expired = trade.state == SimTrade.State.NOTPAY and trade.expire_at <= timezone.now()
    return render(
        request,
        "simulators/cashier.html",
        {"trade": trade, "expired": expired, "yuan": fen_to_yuan(trade.amount)},
    )


def _cashier_act(trade_pk: int, action: str) -> None:
    with transaction.atomic():
        trade = payable_trade_lock(SimTrade, trade_pk, expires="expire_at")
        if trade is None:
            return
        if action == "pay":
            trade.state = SimTrade.State.SUCCESS
            trade.success_time = timezone.now()
            trade.payer_id = f"sbx_payer_{secrets.token_hex(6)}"
            event_type = "TRADE.SUCCESS"
        else:
            trade.state = SimTrade.State.PAYERROR
            event_type = "TRADE.FAILED"
        trade.save(update_fields=["state", "success_time", "payer_id"])
        _notify(trade.notify_url, event_type, _trade_resource(trade))
