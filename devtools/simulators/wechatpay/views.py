"""The WeChat Pay API v3 simulator: signed API, cashier page, notifications, bills.

Protocol: :mod:`payments.gateways.wechatpay.protocol` and the "WeChat Pay API v3"
section of the gateway protocol notes. The simulator holds WeChat Pay's private keys
(the "WeChat Pay public key" pair and a platform certificate's key) and trusts the
merchant key, all development material from ``KPAY_KEY_DIR``. A merchant that sends
``Wechatpay-Serial: PUB_KEY_ID_…`` is answered in public-key mode; any other in
platform-certificate mode (and its notifications are signed the same way).

Simplifications: one merchant key pair for every mchid; refunds succeed at once; a
bill may be asked for today's date too (real bills come the next day after 10:00).
"""

import csv
import gzip
import hashlib
import io
import json
import secrets
import string
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.money import fen_to_yuan
from devtools.keys import DevMaterial, ensure_dev_material
from devtools.simulators.http import fresh_authorization, merchant_api
from devtools.simulators.locks import payable_trade_lock
from devtools.simulators.notifier import GatewayProfile, new_event_id, notification_schedule
from payments.gateways.signing import load_private_key, load_public_key, verify_sha256_rsa
from payments.gateways.wechatpay import protocol

from .models import WxRefund, WxTrade
from .protocol import signed_headers

GATEWAY = "wechatpay"  # notifications signed with the WeChat Pay public key
GATEWAY_CERT = "wechatpay_cert"  # … with the platform certificate
RETRY_SCHEDULE = (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600)
TRADE_TYPES = {"native": "NATIVE", "h5": "MWEB", "jsapi": "JSAPI"}
_BILL_SALT = "sim_wechatpay.bill"


# -- keys -----------------------------------------------------------------------------------
@cache
def _keys(key_dir: str) -> dict:
    material = ensure_dev_material(key_dir)
    return {
        "material": material,
        "merchant_public": load_public_key(material.merchant_public_path),
        "pubkey": load_private_key(material.pubkey_private_path),
        "platform": load_private_key(material.platform_private_path),
    }


def keys() -> dict:
    return _keys(str(settings.KPAY_KEY_DIR))


def material() -> DevMaterial:
    return keys()["material"]


def sign_headers(body: bytes, mode: str = "pubkey") -> dict[str, str]:
    """WeChat Pay's signature headers over ``body``, in the merchant's key mode."""
    if mode == "cert":
        return signed_headers(keys()["platform"], material().platform_serial, body)
    return signed_headers(keys()["pubkey"], material().public_key_id, body)


def profiles() -> list[GatewayProfile]:
    return [
        GatewayProfile(
            name=GATEWAY, sign_headers=lambda body: sign_headers(body, "pubkey"), schedule=RETRY_SCHEDULE
        ),
        GatewayProfile(
            name=GATEWAY_CERT, sign_headers=lambda body: sign_headers(body, "cert"), schedule=RETRY_SCHEDULE
        ),
    ]


def _mode(request) -> str:
    return "pubkey" if request.headers.get("Wechatpay-Serial") == material().public_key_id else "cert"


# -- resources and notifications ----------------------------------------------------------
def transaction_plaintext(trade: WxTrade) -> dict:
    """The trade as WeChat Pay shows it in a query and in TRANSACTION.SUCCESS."""
    paid = trade.state in (WxTrade.State.SUCCESS, WxTrade.State.REFUND)
    data = {
        "appid": trade.appid,
        "mchid": trade.mchid,
        "out_trade_no": trade.out_trade_no,
        "trade_type": trade.trade_type,
        "trade_state": trade.state,
        "trade_state_desc": _STATE_DESC.get(trade.state, ""),
        "attach": trade.attach,
        "amount": {"total": trade.amount, "currency": trade.currency, "payer_currency": trade.currency},
    }
    if paid:
        data.update(
            transaction_id=trade.transaction_id,
            bank_type="OTHERS",
            success_time=protocol.rfc3339(trade.success_time),
            payer={"openid": trade.payer_openid},
        )
        data["amount"]["payer_total"] = trade.amount
    return data


_STATE_DESC = {
    "NOTPAY": "未支付",
    "USERPAYING": "用户支付中",
    "SUCCESS": "支付成功",
    "PAYERROR": "支付失败",
    "CLOSED": "已关闭",
    "REFUND": "转入退款",
}


def refund_resource(refund: WxRefund) -> dict:
    """A refund as the refund API answers it."""
    trade = refund.trade
    return {
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "transaction_id": trade.transaction_id,
        "out_trade_no": trade.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "success_time": protocol.rfc3339(refund.success_time) if refund.success_time else None,
        "create_time": protocol.rfc3339(refund.created_at),
        "status": refund.status,
        "funds_account": "AVAILABLE",
        "amount": {
            "total": trade.amount,
            "refund": refund.amount,
            "payer_total": trade.amount,
            "payer_refund": refund.amount,
            "settlement_refund": refund.amount,
            "settlement_total": trade.amount,
            "discount_refund": 0,
            "currency": refund.currency,
        },
    }


def refund_plaintext(refund: WxRefund) -> dict:
    """A refund as REFUND.* notifications carry it."""
    trade = refund.trade
    return {
        "mchid": refund.mchid,
        "out_trade_no": trade.out_trade_no,
        "transaction_id": trade.transaction_id,
        "out_refund_no": refund.out_refund_no,
        "refund_id": refund.refund_id,
        "refund_status": refund.status,
        "success_time": protocol.rfc3339(refund.success_time) if refund.success_time else None,
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": trade.amount,
            "refund": refund.amount,
            "payer_total": trade.amount,
            "payer_refund": refund.amount,
        },
    }


_SUMMARIES = {
    "TRANSACTION.SUCCESS": "支付成功",
    "REFUND.SUCCESS": "退款成功",
    "REFUND.ABNORMAL": "退款异常",
    "REFUND.CLOSED": "退款关闭",
}


def notification_body(event_type: str, plaintext: dict, *, event_id: str | None = None) -> bytes:
    """A notification's body: ``plaintext`` encrypted under the APIv3 key, as WeChat sends it."""
    original_type = "refund" if event_type.startswith("REFUND.") else "transaction"
    resource = protocol.aead_encrypt(
        material().apiv3_key, protocol.dumps(plaintext), associated_data=original_type
    )
    event = {
        "id": event_id or new_event_id(),
        "create_time": protocol.rfc3339(timezone.now()),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": _SUMMARIES.get(event_type, ""),
        "resource": {"original_type": original_type, **resource},
    }
    return protocol.dumps(event)


def _notify(url: str, event_type: str, plaintext: dict, mode: str) -> None:
    event_id = new_event_id()
    notification_schedule(
        gateway=GATEWAY if mode == "pubkey" else GATEWAY_CERT,
        event_id=event_id,
        url=url,
        body=notification_body(event_type, plaintext, event_id=event_id),
    )


# -- request checking and answers -------------------------------------------------------
def _signed(request, data, status: int = 200) -> HttpResponse:
    body = b"" if data is None else protocol.dumps(data)
    response = HttpResponse(body, status=status, content_type="application/json")
    for name, value in sign_headers(body, _mode(request)).items():
        response[name] = value
    return response


def _error(status: int, code: str, message: str) -> JsonResponse:
    # Errors are not signed by WeChat Pay.
    return JsonResponse(
        {"code": code, "message": message}, status=status, json_dumps_params={"ensure_ascii": False}
    )


def _api_url(request) -> str:
    """The URL as WeChat Pay would see it: the path from ``/v3/`` on, with its query."""
    full = request.get_full_path()
    return full[full.index("/v3/") :]


def _authenticated_mchid(request) -> str | None:
    fields = fresh_authorization(
        request,
        scheme=protocol.AUTH_SCHEME,
        required=("mchid", "nonce_str"),
        max_skew=protocol.MAX_CLOCK_SKEW,
    )
    if fields is None or fields.get("serial_no", "").upper() != material().cert_serial_no:
        return None
    message = protocol.request_message(
        request.method, _api_url(request), fields["timestamp"], fields["nonce_str"], request.body
    )
    if not verify_sha256_rsa(keys()["merchant_public"], message, fields.get("signature", "")):
        return None
    return fields["mchid"]


_api = merchant_api(_authenticated_mchid, lambda: _error(401, "SIGN_ERROR", "签名错误"))


def _json_body(request) -> dict | None:
    try:
        data = json.loads(request.body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


# -- orders ---------------------------------------------------------------------------------
_OUT_TRADE_NO_CHARS = set(string.ascii_letters + string.digits + "_-|*")


def _order_problem(data: dict, mchid: str, trade_type: str) -> str:
    amount = data.get("amount") if isinstance(data.get("amount"), dict) else {}
    no = str(data.get("out_trade_no", ""))
    if data.get("mchid") != mchid:
        return "mchid与请求签名的商户号不一致"
    if not data.get("appid"):
        return "appid is required"
    if not 0 < len(str(data.get("description", ""))) <= 127:
        return "description must be 1 to 127 characters"
    if not (6 <= len(no) <= 32 and set(no) <= _OUT_TRADE_NO_CHARS):
        return "out_trade_no must be 6-32 characters of [0-9A-Za-z_-|*]"
    if not str(data.get("notify_url", "")).startswith(("http://", "https://")):
        return "notify_url must be an http(s) URL"
    if not (isinstance(amount.get("total"), int) and amount["total"] >= 1):
        return "amount.total must be an integer number of fen, at least 1"
    if amount.get("currency", "CNY") != "CNY":
        return "amount.currency must be CNY"
    if trade_type == "MWEB":
        scene = data.get("scene_info") or {}
        if not scene.get("payer_client_ip") or not (scene.get("h5_info") or {}).get("type"):
            return "scene_info.payer_client_ip and scene_info.h5_info.type are required for H5"
    if trade_type == "JSAPI" and not (data.get("payer") or {}).get("openid"):
        return "payer.openid is required for JSAPI"
    if data.get("time_expire"):
        try:
            protocol.parse_rfc3339(data["time_expire"])
        except ValueError:
            return "time_expire must be RFC 3339"
    return ""


def _order_answer(request, trade: WxTrade) -> dict:
    if trade.trade_type == "NATIVE":
        return {"code_url": f"weixin://wxpay/bizpayurl?pr={trade.token}"}
    if trade.trade_type == "MWEB":
        return {"h5_url": request.build_absolute_uri(_prefix(request) + f"/pay/{trade.token}/")}
    return {"prepay_id": trade.prepay_id}


def _prefix(request) -> str:
    return request.path[: request.path.index("/v3/")]


@require_POST
@_api
def api_order_create(request, mchid, trade_type):
    if trade_type not in TRADE_TYPES:
        return _error(404, "NOT_FOUND", "no such API")
    trade_type = TRADE_TYPES[trade_type]
    data = _json_body(request)
    if data is None:
        return _error(400, "PARAM_ERROR", "body must be a JSON object")
    problem = _order_problem(data, mchid, trade_type)
    if problem:
        return _error(400, "PARAM_ERROR", problem)
    expire = protocol.parse_rfc3339(data.get("time_expire")) or timezone.now() + timedelta(hours=2)
    scene = data.get("scene_info") or {}
    fields = {
        "appid": data["appid"],
        "trade_type": trade_type,
        "request_body": data,
        "description": data["description"],
        "attach": str(data.get("attach", ""))[:128],
        "notify_url": data["notify_url"],
        "amount": data["amount"]["total"],
        "currency": data["amount"].get("currency", "CNY"),
        "time_expire": expire,
        "payer_openid": (data.get("payer") or {}).get("openid", ""),
        "payer_client_ip": scene.get("payer_client_ip", ""),
        "key_mode": _mode(request),
    }
    lookup = {"mchid": mchid, "out_trade_no": data["out_trade_no"]}
    trade = WxTrade.objects.filter(**lookup).first()
    if trade is None:
        try:
            with transaction.atomic():
                trade = WxTrade.objects.create(
                    **lookup,
                    **fields,
                    token=secrets.token_urlsafe(12),
                    prepay_id=f"wx{secrets.token_hex(16)}",
                )
        except IntegrityError:
            trade = WxTrade.objects.get(**lookup)
    if trade.state in (WxTrade.State.SUCCESS, WxTrade.State.REFUND):
        return _error(400, "ORDERPAID", "该订单已支付")
    if trade.state == WxTrade.State.CLOSED:
        return _error(400, "ORDER_CLOSED", "该订单已关闭")
    if trade.trade_type != trade_type or trade.request_body != data:
        return _error(400, "INVALID_REQUEST", "201 商户订单号重复：同一订单号须用相同的参数")
    return _signed(request, _order_answer(request, trade))


@require_GET
@_api
def api_trade(request, mchid, out_trade_no):
    if request.GET.get("mchid") != mchid:
        return _error(400, "PARAM_ERROR", "mchid is required and must match the signature")
    trade = WxTrade.objects.filter(mchid=mchid, out_trade_no=out_trade_no).first()
    if trade is None:
        return _error(404, "ORDER_NOT_EXIST", "订单不存在")
    return _signed(request, transaction_plaintext(trade))


@require_GET
@_api
def api_trade_by_id(request, mchid, transaction_id):
    trade = (
        WxTrade.objects.filter(mchid=mchid, transaction_id=transaction_id).exclude(transaction_id="").first()
    )
    if trade is None:
        return _error(404, "ORDER_NOT_EXIST", "订单不存在")
    return _signed(request, transaction_plaintext(trade))


@require_POST
@_api
def api_trade_close(request, mchid, out_trade_no):
    data = _json_body(request)
    if data is None or data.get("mchid") != mchid:
        return _error(400, "PARAM_ERROR", "mchid is required and must match the signature")
    with transaction.atomic():
        trade = WxTrade.objects.select_for_update().filter(mchid=mchid, out_trade_no=out_trade_no).first()
        if trade is None:
            return _error(404, "ORDER_NOT_EXIST", "订单不存在")
        if trade.state in (WxTrade.State.SUCCESS, WxTrade.State.REFUND):
            return _error(400, "ORDERPAID", "订单已支付，不能关闭，请发起退款")
        trade.state = WxTrade.State.CLOSED
        trade.save(update_fields=["state"])
    return _signed(request, None, status=204)


# -- refunds ----------------------------------------------------------------------------------
@require_POST
@_api
def api_refund_create(request, mchid):
    data = _json_body(request) or {}
    amount = data.get("amount") if isinstance(data.get("amount"), dict) else {}
    out_refund_no = str(data.get("out_refund_no", ""))
    if not (
        (data.get("out_trade_no") or data.get("transaction_id"))
        and 0 < len(out_refund_no) <= 64
        and isinstance(amount.get("refund"), int)
        and isinstance(amount.get("total"), int)
        and amount.get("currency") == "CNY"
    ):
        return _error(
            400, "PARAM_ERROR", "out_trade_no, out_refund_no and amount{refund,total,currency} required"
        )
    with transaction.atomic():
        trades = WxTrade.objects.select_for_update().filter(mchid=mchid)
        if data.get("out_trade_no"):
            trade = trades.filter(out_trade_no=str(data["out_trade_no"])).first()
        else:
            trade = (
                trades.filter(transaction_id=str(data["transaction_id"])).exclude(transaction_id="").first()
            )
        if trade is None:
            return _error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
        existing = WxRefund.objects.filter(mchid=mchid, out_refund_no=out_refund_no).first()
        if existing is not None:  # one refund per out_refund_no: the idempotency key
            if existing.trade_id != trade.pk or existing.amount != amount["refund"]:
                return _error(400, "INVALID_REQUEST", "退款单号已用于另一笔退款")
            return _signed(request, refund_resource(existing))
        if trade.state not in (WxTrade.State.SUCCESS, WxTrade.State.REFUND):
            return _error(400, "INVALID_REQUEST", "订单未支付，不能退款")
        if amount["total"] != trade.amount:
            return _error(400, "PARAM_ERROR", "amount.total 与订单金额不一致")
        if not 0 < amount["refund"] <= trade.amount - trade.refunded:
            return _error(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
        now = timezone.now()
        refund = WxRefund.objects.create(
            trade=trade,
            mchid=mchid,
            out_refund_no=out_refund_no,
            refund_id="50" + "".join(secrets.choice(string.digits) for _ in range(27)),
            amount=amount["refund"],
            currency="CNY",
            reason=str(data.get("reason", ""))[:80],
            status="SUCCESS",
            notify_url=str(data.get("notify_url", "")),
            success_time=now,
        )
        trade.refunded += refund.amount
        trade.state = WxTrade.State.REFUND
        trade.save(update_fields=["refunded", "state"])
        if refund.notify_url:
            _notify(refund.notify_url, "REFUND.SUCCESS", refund_plaintext(refund), _mode(request))
    return _signed(request, refund_resource(refund))


@require_GET
@_api
def api_refund(request, mchid, out_refund_no):
    refund = WxRefund.objects.select_related("trade").filter(mchid=mchid, out_refund_no=out_refund_no).first()
    if refund is None:
        return _error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    return _signed(request, refund_resource(refund))


# -- platform certificates -----------------------------------------------------------------
@require_GET
@_api
def api_certificates(request, mchid):
    from cryptography import x509

    pem = material().platform_cert_path.read_bytes()
    certificate = x509.load_pem_x509_certificate(pem)
    entry = {
        "serial_no": material().platform_serial,
        "effective_time": protocol.rfc3339(certificate.not_valid_before_utc),
        "expire_time": protocol.rfc3339(certificate.not_valid_after_utc),
        "encrypt_certificate": protocol.aead_encrypt(
            material().apiv3_key, pem, associated_data="certificate"
        ),
    }
    return _signed(request, {"data": [entry]})


# -- bills --------------------------------------------------------------------------------------
ALL_COLUMNS = [
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
]
REFUND_COLUMNS = {
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "申请退款金额",
}
SUMMARY_COLUMNS = [
    "总交易单数",
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
]
FEE_RATE = Decimal("0.006")


def _fee(fen: int) -> int:
    return int((Decimal(fen) * FEE_RATE).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _beijing_day(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=protocol.BEIJING)
    return start, start + timedelta(days=1)


def trade_bill(mchid: str, day: date, bill_type: str = "ALL") -> bytes:
    """The trade bill CSV of ``day`` (Beijing time): every value prefixed with a backtick,
    amounts in yuan, then the summary header and its one row."""
    start, end = _beijing_day(day)
    rows = []
    if bill_type in ("ALL", "SUCCESS"):
        for trade in WxTrade.objects.filter(
            mchid=mchid, success_time__gte=start, success_time__lt=end
        ).order_by("success_time", "pk"):
            rows.append(_bill_row(trade, None))
    if bill_type in ("ALL", "REFUND"):
        for refund in (
            WxRefund.objects.select_related("trade")
            .filter(mchid=mchid, success_time__gte=start, success_time__lt=end)
            .order_by("success_time", "pk")
        ):
            rows.append(_bill_row(refund.trade, refund))
    if not rows:
        return b""
    columns = [c for c in ALL_COLUMNS if bill_type != "SUCCESS" or c not in REFUND_COLUMNS]
    settled = sum(r["_settled"] for r in rows)
    refunded = sum(r["_refund"] for r in rows)
    summary = [
        str(len(rows)),
        fen_to_yuan(settled),
        fen_to_yuan(refunded),
        "0.00",
        fen_to_yuan(sum(r["_fee"] for r in rows)),
        fen_to_yuan(sum(r["_order"] for r in rows)),
        fen_to_yuan(refunded),
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([f"`{row[c]}" for c in columns])
    writer.writerow(SUMMARY_COLUMNS)
    writer.writerow([f"`{v}" for v in summary])
    return out.getvalue().encode()


def _bill_row(trade: WxTrade, refund: WxRefund | None) -> dict:
    yuan = fen_to_yuan
    moment = (refund.success_time if refund else trade.success_time).astimezone(protocol.BEIJING)
    fee = -_fee(refund.amount) if refund else _fee(trade.amount)
    return {
        "交易时间": f"{moment:%Y-%m-%d %H:%M:%S}",
        "公众账号ID": trade.appid,
        "商户号": trade.mchid,
        "特约商户号": "0",
        "设备号": "",
        "微信订单号": trade.transaction_id,
        "商户订单号": trade.out_trade_no,
        "用户标识": trade.payer_openid,
        "交易类型": trade.trade_type,
        "交易状态": "REFUND" if refund else "SUCCESS",
        "付款银行": "OTHERS",
        "货币种类": trade.currency,
        "应结订单金额": yuan(0 if refund else trade.amount),
        "代金券金额": "0.00",
        "微信退款单号": refund.refund_id if refund else "0",
        "商户退款单号": refund.out_refund_no if refund else "0",
        "退款金额": yuan(refund.amount if refund else 0),
        "充值券退款金额": "0.00",
        "退款类型": "ORIGINAL" if refund else "",
        "退款状态": refund.status if refund else "",
        "商品名称": trade.description,
        "商户数据包": trade.attach,
        "手续费": yuan(fee),
        "费率": "0.60%",
        "订单金额": yuan(trade.amount),
        "申请退款金额": yuan(refund.amount if refund else 0),
        "费率备注": "",
        "_settled": 0 if refund else trade.amount,
        "_refund": refund.amount if refund else 0,
        "_fee": fee,
        "_order": 0 if refund else trade.amount,
    }


@require_GET
@_api
def api_tradebill(request, mchid):
    bill_type = request.GET.get("bill_type", "ALL")
    tar_type = request.GET.get("tar_type", "")
    try:
        day = date.fromisoformat(request.GET.get("bill_date", ""))
    except ValueError:
        return _error(400, "PARAM_ERROR", "bill_date must be YYYY-MM-DD")
    if bill_type not in ("ALL", "SUCCESS", "REFUND") or tar_type not in ("", "GZIP"):
        return _error(400, "PARAM_ERROR", "bill_type is ALL, SUCCESS or REFUND; tar_type is GZIP or absent")
    today = timezone.now().astimezone(protocol.BEIJING).date()
    if day > today or day < today - timedelta(days=92):
        return _error(400, "INVALID_REQUEST", "只能下载三个月以内的账单")
    content = trade_bill(mchid, day, bill_type)
    if not content:
        return _error(400, "NO_STATEMENT_EXIST", "该日期无交易，账单不存在")
    token = signing.dumps({"m": mchid, "d": day.isoformat(), "b": bill_type, "g": tar_type}, salt=_BILL_SALT)
    url = request.build_absolute_uri(f"{_prefix(request)}/v3/billdownload/file") + f"?token={token}"
    return _signed(
        request,
        {
            "hash_type": "SHA1",
            "hash_value": hashlib.sha1(content, usedforsecurity=False).hexdigest(),
            "download_url": url,
        },
    )


@require_GET
@_api
def api_bill_download(request, mchid):
    """The file itself: a signed request, an unsigned answer (gzip when asked for)."""
    try:
        facts = signing.loads(request.GET.get("token", ""), salt=_BILL_SALT, max_age=300)
    except signing.BadSignature:
        return _error(400, "INVALID_REQUEST", "下载链接无效或已过期")
    if facts["m"] != mchid:
        return _error(403, "NO_AUTH", "无权下载该账单")
    content = trade_bill(mchid, date.fromisoformat(facts["d"]), facts["b"])
    if facts["g"] == "GZIP":
        return HttpResponse(gzip.compress(content), content_type="application/octet-stream")
    return HttpResponse(content, content_type="text/plain; charset=utf-8")


# -- cashier ----------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
def cashier(request, token):
    """What the payer sees after scanning the code (or opening the H5 page): pay or decline."""
    trade = get_object_or_404(WxTrade, token=token)
    problem = ""
    if request.method == "POST":
        action = request.POST.get("action")
        if action in {"pay", "decline"}:
            cashier_act(trade.pk, action)
            trade.refresh_from_db()
        else:
            problem = "Choose pay or decline."
    expired = trade.state == WxTrade.State.NOTPAY and trade.time_expire <= timezone.now()
    return render(
        request,
        "sim_wechatpay/cashier.html",
        {
            "trade": trade,
            "problem": problem,
            "expired": expired,
            "yuan": fen_to_yuan(trade.amount),
            "return_url": _http_url(request.GET.get("redirect_url", "")),
        },
        status=400 if problem else 200,
    )


def _http_url(url: str) -> str:
    return url if url.startswith(("http://", "https://")) else ""


def cashier_act(trade_pk: int, action: str) -> None:
    """Pay (notifying TRANSACTION.SUCCESS) or decline (PAYERROR: WeChat does not notify it)."""
    with transaction.atomic():
        trade = payable_trade_lock(WxTrade, trade_pk, expires="time_expire")
        if trade is None:
            return
        if action == "decline":
            trade.state = WxTrade.State.PAYERROR
            trade.save(update_fields=["state"])
            return
        trade.state = WxTrade.State.SUCCESS
        trade.success_time = timezone.now()
        trade.transaction_id = f"4200{timezone.now():%Y%m%d}" + "".join(
            secrets.choice(string.digits) for _ in range(16)
        )
        trade.payer_openid = trade.payer_openid or "o" + secrets.token_urlsafe(21)[:27]
        trade.save(update_fields=["state", "success_time", "transaction_id", "payer_openid"])
        _notify(trade.notify_url, "TRANSACTION.SUCCESS", transaction_plaintext(trade), trade.key_mode)
