"""The simulated Alipay open platform: ``gateway.do``, the scan page and cashier, bills,
and trade_status_sync notifications (withholding agreements and charges under them:
:mod:`.agreements`).

Protocol: :mod:`payments.gateways.alipay.protocol`. The simulator holds the "Alipay" private key
and trusts the app public key, both development material in ``KPAY_KEY_DIR``.
"""

import csv
import io
import json
import secrets
import zipfile
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from core.money import fen_to_yuan, yuan_to_fen
from devtools.keys import ALIPAY_APP, ALIPAY_PLATFORM
from devtools.simulators.http import gateway_keys
from devtools.simulators.notifier import GatewayProfile, notification_schedule
from payments.gateways.alipay import protocol

from .models import AlipayRefund, AlipayTrade
from .protocol import sign_notify_params, signed_response_text, verify_request_params

GATEWAY = "alipay"
URL_NAMESPACE = "simulators:sim_alipay"  # mounted by devtools.simulators.urls
# Alipay's retry schedule for trade_status_sync (secondary source): 4m, 10m, 10m, 1h, 2h, 6h, 15h.
RETRY_SCHEDULE = (240, 600, 600, 3600, 7200, 21600, 54000)
DEFAULT_SELLER_ID = "2088000000000001"
BILL_URL_TTL = 30  # seconds, as Alipay's bill_download_url
MAX_AMOUNT = 100_000_000 * 100  # fen
PAID = (AlipayTrade.Status.TRADE_SUCCESS, AlipayTrade.Status.TRADE_FINISHED)
PAGE_METHODS = ("alipay.trade.page.pay", "alipay.trade.wap.pay")
BILL_DETAIL_HEADER = (
    "支付宝交易号",
    "商户订单号",
    "业务类型",
    "商品名称",
    "创建时间",
    "完成时间",
    "门店编号",
    "门店名称",
    "操作员",
    "终端号",
    "对方账户",
    "订单金额(元)",
    "商家实收(元)",
    "支付宝红包(元)",
    "集分宝(元)",
    "支付宝优惠(元)",
    "商家优惠(元)",
    "券核销金额(元)",
    "券名称",
    "商家红包消费金额(元)",
    "卡消费金额(元)",
    "退款批次号/请求号",
    "服务费(元)",
    "分润(元)",
    "备注",
)


def alipay_private_key():
    return gateway_keys(ALIPAY_PLATFORM, ALIPAY_APP)[0]


def _app_public_key():
    return gateway_keys(ALIPAY_PLATFORM, ALIPAY_APP)[1]


def profile() -> GatewayProfile:
    return GatewayProfile(
        name=GATEWAY,
        # The signature is inside the form body.
        sign_headers=lambda body: {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
        schedule=RETRY_SCHEDULE,
        acknowledged=lambda r: r.status_code == 200 and r.text.strip() == "success",
    )


def seller_id_for(app_id: str) -> str:
    """The Alipay account (2088…) behind an app: the simulator reads it from the
    configured gateways, as the real Alipay knows which merchant owns an app."""
    for config in getattr(settings, "KPAY_GATEWAYS", {}).values():
        options = config.get("OPTIONS", {})
        if options.get("app_id") == app_id and options.get("seller_id"):
            return str(options["seller_id"])
    return DEFAULT_SELLER_ID


# -- notifications ------------------------------------------------------------------
def signed_notify_params(fields: dict, *, notify_id: str | None = None) -> dict[str, str]:
    """A trade_status_sync notification as Alipay posts it, signed with the Alipay key
    (``sign_type`` and ``sign`` added; empty values dropped)."""
    params = {
        "notify_time": protocol.alipay_timestamp(),
        "notify_type": "trade_status_sync",
        "notify_id": notify_id or secrets.token_hex(16),
        "charset": "utf-8",
        "version": "1.0",
        **fields,
    }
    return sign_notify_params(alipay_private_key(), params)


def notify_body(params: dict[str, str]) -> bytes:
    return urlencode(params).encode()


def _trade_notify_fields(trade: AlipayTrade) -> dict:
    return {
        "app_id": trade.app_id,
        "auth_app_id": trade.app_id,
        "seller_id": trade.seller_id,
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "buyer_id": trade.buyer_id,
        "buyer_logon_id": trade.buyer_logon_id,
        "trade_status": trade.status,
        "total_amount": fen_to_yuan(trade.total_amount),
        "receipt_amount": fen_to_yuan(trade.total_amount),
        "buyer_pay_amount": fen_to_yuan(trade.total_amount),
        "invoice_amount": fen_to_yuan(trade.total_amount),
        "subject": trade.subject,
        "gmt_create": protocol.alipay_timestamp(trade.gmt_create),
        "gmt_payment": protocol.alipay_timestamp(trade.gmt_payment) if trade.gmt_payment else "",
        "gmt_close": protocol.alipay_timestamp(trade.gmt_close) if trade.gmt_close else "",
        "fund_bill_list": json.dumps(
            [{"amount": fen_to_yuan(trade.total_amount), "fundChannel": "ALIPAYACCOUNT"}],
            separators=(",", ":"),
        ),
    }


def _queue_notify(trade: AlipayTrade, fields: dict) -> None:
    if not trade.notify_url:
        return
    params = signed_notify_params(fields)
    notification_schedule(
        gateway=GATEWAY, event_id=params["notify_id"], url=trade.notify_url, body=notify_body(params)
    )


# -- responses ----------------------------------------------------------------------
def _respond(method: str, payload: dict) -> HttpResponse:
    text = signed_response_text(alipay_private_key(), method, payload)
    return HttpResponse(text.encode(), content_type="application/json;charset=utf-8")


def _success(method: str, **fields) -> HttpResponse:
    return _respond(method, {"code": protocol.SUCCESS_CODE, "msg": "Success", **fields})


def _failure(method: str, sub_code: str, sub_msg: str, *, code: str = protocol.BUSINESS_FAILURE_CODE):
    msg = {"40001": "Missing Required Arguments", "40002": "Invalid Arguments"}.get(code, "Business Failed")
    return _respond(method, {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg})


# -- gateway.do ---------------------------------------------------------------------
@csrf_exempt
@require_http_methods(["GET", "POST"])
def gateway_do(request):
    # SDKs differ: common parameters in the query string, biz_content in the form, or all as GET.
    params = {**request.GET.dict(), **request.POST.dict()}
    method = params.get("method", "")
    if not method:
        return _failure("error", "isv.missing-method", "method is missing", code="40001")
    if not params.get("sign"):
        return _failure(method, "isv.missing-signature", "sign is missing", code="40001")
    if params.get("sign_type") != "RSA2" or not verify_request_params(_app_public_key(), params):
        return _failure(method, "isv.invalid-signature", "验签出错 (invalid signature)", code="40002")
    try:
        biz = json.loads(params.get("biz_content") or "{}")
        if not isinstance(biz, dict):
            raise ValueError
    except ValueError:
        return _failure(method, "isv.invalid-biz-content", "biz_content is not a JSON object", code="40002")
    handler = _HANDLERS.get(method)
    if handler is None:
        return _failure("error", "isv.invalid-method", f"unknown method {method}", code="40002")
    return handler(request, method, params, biz)


def _amount(biz: dict, name: str) -> int | None:
    try:
        fen = yuan_to_fen(str(biz.get(name, "")))
    except ValueError:
        return None
    return fen if 1 <= fen <= MAX_AMOUNT else None


def _trade(params: dict, biz: dict, *, lock: bool = False) -> AlipayTrade | None:
    """The trade named in biz_content, as Alipay knows it (precreated-but-unscanned
    trades do not exist yet); unpaid trades past time_expire are closed first."""
    trades = AlipayTrade.objects.filter(app_id=params.get("app_id", "")).exclude(
        status=AlipayTrade.Status.PRECREATED
    )
    if lock:
        trades = trades.select_for_update()
    if biz.get("out_trade_no"):
        trade = trades.filter(out_trade_no=str(biz["out_trade_no"])).first()
    elif biz.get("trade_no"):
        trade = trades.filter(trade_no=str(biz["trade_no"])).first()
    else:
        return None
    if trade is not None:
        _close_if_expired(trade)
    return trade


def _close_if_expired(trade: AlipayTrade) -> None:
    now = timezone.now()
    if trade.status == AlipayTrade.Status.WAIT_BUYER_PAY and trade.time_expire and trade.time_expire <= now:
        trade.status, trade.gmt_close = AlipayTrade.Status.TRADE_CLOSED, now
        trade.save(update_fields=["status", "gmt_close"])


def _open_trade(method: str, params: dict, biz: dict, status: str) -> tuple[AlipayTrade | None, str, str]:
    """Find or create the trade a precreate/page.pay/wap.pay asks for; (None, sub_code, why) if refused."""
    out_trade_no = str(biz.get("out_trade_no", ""))
    amount = _amount(biz, "total_amount")
    subject = str(biz.get("subject", ""))
    if not (out_trade_no and len(out_trade_no) <= 64 and subject and len(subject) <= 256):
        return None, "ACQ.INVALID_PARAMETER", "out_trade_no (≤64) and subject (≤256) are required"
    if amount is None:
        return None, "ACQ.INVALID_PARAMETER", "total_amount must be 0.01–100000000.00 yuan, two decimals"
    expire = protocol.parse_alipay_time(str(biz.get("time_expire", "")))
    fields = {
        "seller_id": seller_id_for(params["app_id"]),
        "method": method,
        "total_amount": amount,
        "subject": subject,
        "notify_url": params.get("notify_url", ""),
        "return_url": params.get("return_url", ""),
        "time_expire": expire,
    }
    lookup = {"app_id": params["app_id"], "out_trade_no": out_trade_no}
    trade = AlipayTrade.objects.filter(**lookup).first()
    if trade is None:
        try:
            with transaction.atomic():
                trade = AlipayTrade.objects.create(
                    **lookup,
                    **fields,
                    status=status,
                    trade_no=f"{timezone.localdate():%Y%m%d}22{secrets.randbelow(10**22):022d}",
                    token=secrets.token_urlsafe(24),
                )
        except IntegrityError:
            trade = AlipayTrade.objects.get(**lookup)
    if trade.status in PAID:
        return None, "ACQ.TRADE_HAS_SUCCESS", "交易已被支付 (trade already paid)"
    if trade.status == AlipayTrade.Status.TRADE_CLOSED:
        return None, "ACQ.TRADE_HAS_CLOSE", "交易已经关闭 (trade closed)"
    if (trade.total_amount, trade.subject) != (amount, subject):
        return (
            None,
            "ACQ.CONTEXT_INCONSISTENT",
            "交易信息被篡改 (out_trade_no reused, other parameters)",
        )
    return trade, "", ""


def _precreate(request, method, params, biz):
    trade, sub_code, why = _open_trade(method, params, biz, AlipayTrade.Status.PRECREATED)
    if trade is None:
        return _failure(method, sub_code, why)
    qr_code = request.build_absolute_uri(reverse(f"{URL_NAMESPACE}:scan", args=[trade.token]))
    return _success(method, out_trade_no=trade.out_trade_no, qr_code=qr_code)


def _page_pay(request, method, params, biz):
    """The learner's browser brought a signed page.pay/wap.pay request: show the cashier."""
    trade, sub_code, why = _open_trade(method, params, biz, AlipayTrade.Status.WAIT_BUYER_PAY)
    if trade is None:
        return _failure(method, sub_code, why)
    return HttpResponseRedirect(reverse(f"{URL_NAMESPACE}:scan", args=[trade.token]))


def _query_fields(trade: AlipayTrade) -> dict:
    fields = {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "buyer_logon_id": trade.buyer_logon_id,
        "trade_status": trade.status,
        "total_amount": fen_to_yuan(trade.total_amount),
        # Not in every real answer; the simulator says whose trade it is.
        "seller_id": trade.seller_id,
    }
    if trade.status in PAID or trade.gmt_payment:
        fields |= {
            "receipt_amount": fen_to_yuan(trade.total_amount),
            "buyer_pay_amount": fen_to_yuan(trade.total_amount),
            "buyer_user_id": trade.buyer_id,
            "send_pay_date": protocol.alipay_timestamp(trade.gmt_payment),
        }
    return fields


def _query(request, method, params, biz):
    trade = _trade(params, biz)
    if trade is None:
        return _failure(method, "ACQ.TRADE_NOT_EXIST", "交易不存在 (trade does not exist)")
    return _success(method, **_query_fields(trade))


def _close(request, method, params, biz):
    with transaction.atomic():
        trade = _trade(params, biz, lock=True)
        if trade is None:
            return _failure(method, "ACQ.TRADE_NOT_EXIST", "交易不存在 (trade does not exist)")
        if trade.status != AlipayTrade.Status.WAIT_BUYER_PAY:
            return _failure(method, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法 (trade is paid or closed)")
        trade.status, trade.gmt_close = AlipayTrade.Status.TRADE_CLOSED, timezone.now()
        trade.save(update_fields=["status", "gmt_close"])
    return _success(method, trade_no=trade.trade_no, out_trade_no=trade.out_trade_no)


def _refund_answer(method, trade: AlipayTrade, refund: AlipayRefund, fund_change: str):
    return _success(
        method,
        trade_no=trade.trade_no,
        out_trade_no=trade.out_trade_no,
        buyer_logon_id=trade.buyer_logon_id,
        buyer_user_id=trade.buyer_id,
        fund_change=fund_change,
        refund_fee=fen_to_yuan(trade.refunded),  # cumulative, as Alipay answers
        gmt_refund_pay=protocol.alipay_timestamp(refund.gmt_refund),
    )


def _refund(request, method, params, biz):
    amount = _amount(biz, "refund_amount")
    if amount is None:
        return _failure(method, "ACQ.INVALID_PARAMETER", "refund_amount must be a positive yuan amount")
    with transaction.atomic():
        trade = _trade(params, biz, lock=True)
        if trade is None:
            return _failure(method, "ACQ.TRADE_NOT_EXIST", "交易不存在 (trade does not exist)")
        # Without out_request_no Alipay takes the trade number: a full refund, once.
        out_request_no = str(biz.get("out_request_no") or trade.out_trade_no)[:64]
        existing = trade.refunds.filter(out_request_no=out_request_no).first()
        if existing is not None:  # idempotent: the same request number moves no money again
            return _refund_answer(method, trade, existing, "N")
        if trade.status not in PAID and not (
            trade.status == AlipayTrade.Status.TRADE_CLOSED and trade.refunded
        ):
            return _failure(method, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法 (trade is not paid)")
        if trade.status == AlipayTrade.Status.TRADE_FINISHED:
            return _failure(method, "ACQ.TRADE_HAS_FINISHED", "交易已完结 (no longer refundable)")
        if amount > trade.total_amount - trade.refunded:
            return _failure(method, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限 (more than is left)")
        refund = AlipayRefund.objects.create(
            trade=trade,
            out_request_no=out_request_no,
            refund_amount=amount,
            refund_reason=str(biz.get("refund_reason", ""))[:256],
            gmt_refund=timezone.now(),
        )
        trade.refunded += amount
        if trade.refunded == trade.total_amount:
            trade.status, trade.gmt_close = AlipayTrade.Status.TRADE_CLOSED, refund.gmt_refund
        trade.save(update_fields=["refunded", "status", "gmt_close"])
        _queue_notify(
            trade,
            _trade_notify_fields(trade)
            | {
                "out_biz_no": out_request_no,
                "refund_fee": fen_to_yuan(trade.refunded),
                "gmt_refund": protocol.alipay_timestamp(refund.gmt_refund),
            },
        )
    return _refund_answer(method, trade, refund, "Y")


def _refund_query(request, method, params, biz):
    trade = _trade(params, biz)
    if trade is None:
        return _failure(method, "ACQ.TRADE_NOT_EXIST", "交易不存在 (trade does not exist)")
    out_request_no = str(biz.get("out_request_no") or trade.out_trade_no)
    refund = trade.refunds.filter(out_request_no=out_request_no).first()
    if refund is None:  # success, but no refund data: not refunded
        return _success(method, trade_no=trade.trade_no, out_trade_no=trade.out_trade_no)
    return _success(
        method,
        trade_no=trade.trade_no,
        out_trade_no=trade.out_trade_no,
        out_request_no=refund.out_request_no,
        total_amount=fen_to_yuan(trade.total_amount),
        refund_amount=fen_to_yuan(refund.refund_amount),
        refund_status="REFUND_SUCCESS",
        gmt_refund_pay=protocol.alipay_timestamp(refund.gmt_refund),
    )


_BILL_SALT = "sim_alipay.bill"


def _bill_url(request, method, params, biz):
    try:
        day = date.fromisoformat(str(biz.get("bill_date", "")))
    except ValueError:
        return _failure(method, "isv.invalid-bill-date", "bill_date must be yyyy-MM-dd", code="40002")
    if biz.get("bill_type") != "trade":
        return _failure(method, "isv.invalid-bill-type", "this simulator has trade bills only", code="40002")
    if day >= timezone.localdate(timezone=protocol.SHANGHAI):
        return _failure(method, "isp.bill_not_exist", "账单不存在 (the bill of this day is not ready)")
    token = signing.dumps({"app_id": params["app_id"], "day": day.isoformat()}, salt=_BILL_SALT)
    url = request.build_absolute_uri(reverse(f"{URL_NAMESPACE}:bill", args=[token]))
    return _success(method, bill_download_url=url)


_HANDLERS = {
    "alipay.trade.precreate": _precreate,
    "alipay.trade.page.pay": _page_pay,
    "alipay.trade.wap.pay": _page_pay,
    "alipay.trade.query": _query,
    "alipay.trade.close": _close,
    "alipay.trade.refund": _refund,
    "alipay.trade.fastpay.refund.query": _refund_query,
    "alipay.data.dataservice.bill.downloadurl.query": _bill_url,
}


def handlers_add(handlers: dict) -> None:
    """More ``gateway.do`` methods (the agreements' in :mod:`.agreements`, which build on
    this module), added once by the app config at startup."""
    _HANDLERS.update(handlers)


# -- bills --------------------------------------------------------------------------
def bill_csv(app_id: str, day: date) -> str:
    """The trade detail bill of ``day`` (Beijing time) for ``app_id``, as Alipay lays it
    out: ``#`` comment lines around the detail table."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=protocol.SHANGHAI)
    end = start + timedelta(days=1)
    rows = []
    for trade in AlipayTrade.objects.filter(app_id=app_id, gmt_payment__gte=start, gmt_payment__lt=end):
        rows.append(_bill_row(trade, "交易", trade.total_amount, "", trade.gmt_payment))
    refunds = AlipayRefund.objects.select_related("trade").filter(
        trade__app_id=app_id, gmt_refund__gte=start, gmt_refund__lt=end
    )
    for refund in refunds:
        rows.append(
            _bill_row(refund.trade, "退款", -refund.refund_amount, refund.out_request_no, refund.gmt_refund)
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    out.write("#支付宝业务明细查询\r\n")
    out.write(f"#账号：[{seller_id_for(app_id)}]\r\n")
    out.write(f"#起始日期：[{day:%Y年%m月%d日} 00:00:00]   终止日期：[{end:%Y年%m月%d日} 00:00:00]\r\n")
    out.write(
        "#-----------------------------------------业务明细列表----------------------------------------\r\n"
    )
    writer.writerow(BILL_DETAIL_HEADER)
    writer.writerows(rows)
    out.write(
        "#-----------------------------------------业务明细列表结束------------------------------------\r\n"
    )
    trades = sum(1 for row in rows if row[2] == "交易")
    out.write(f"#交易合计：{trades}笔，退款合计：{len(rows) - trades}笔\r\n")
    out.write(f"#导出时间：[{protocol.alipay_timestamp()}]\r\n")
    return out.getvalue()


def _bill_row(trade: AlipayTrade, kind: str, amount: int, request_no: str, at) -> list[str]:
    yuan = fen_to_yuan(amount)
    row = dict.fromkeys(BILL_DETAIL_HEADER, "")
    row |= {
        "支付宝交易号": trade.trade_no,
        "商户订单号": trade.out_trade_no,
        "业务类型": kind,
        "商品名称": trade.subject,
        "创建时间": protocol.alipay_timestamp(trade.gmt_create),
        "完成时间": protocol.alipay_timestamp(at),
        "对方账户": trade.buyer_logon_id,
        "订单金额(元)": yuan,
        "商家实收(元)": yuan,
        "退款批次号/请求号": request_no,
        "服务费(元)": "0.00",
        "分润(元)": "0.00",
    }
    return [row[name] for name in BILL_DETAIL_HEADER]


@require_GET
def bill_download(request, token):
    try:
        data = signing.loads(token, salt=_BILL_SALT, max_age=BILL_URL_TTL)
    except signing.BadSignature:  # expired or forged
        return HttpResponse(
            "the bill download URL is invalid or has expired", status=404, content_type="text/plain"
        )
    day = date.fromisoformat(data["day"])
    detail = bill_csv(data["app_id"], day)
    archive = io.BytesIO()
    stem = f"{seller_id_for(data['app_id'])}0156_{day:%Y%m%d}"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        # Real bills are GBK-encoded.
        bundle.writestr(f"{stem}_业务明细.csv", detail.encode("gbk", "replace"))
        summary = f"#支付宝业务汇总查询\r\n#账号：[{seller_id_for(data['app_id'])}]\r\n"
        bundle.writestr(f"{stem}_业务明细(汇总).csv", summary.encode("gbk", "replace"))
    response = HttpResponse(archive.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{stem}.csv.zip"'
    return response


# -- scan page and cashier ----------------------------------------------------------
def _buyer() -> tuple[str, str]:
    return f"2088{secrets.randbelow(10**12):012d}", f"lea***@{secrets.choice(['163', 'qq', 'sina'])}.com"


@require_http_methods(["GET", "POST"])
def scan(request, token):
    """Opening the QR code = scanning it: the trade comes into being (WAIT_BUYER_PAY) and
    the cashier shows; page/wap payers land here from gateway.do."""
    trade = get_object_or_404(AlipayTrade, token=token)
    with transaction.atomic():
        trade = AlipayTrade.objects.select_for_update().get(pk=trade.pk)
        if trade.status == AlipayTrade.Status.PRECREATED:
            trade.status = AlipayTrade.Status.WAIT_BUYER_PAY
            trade.save(update_fields=["status"])
        _close_if_expired(trade)
        problem = ""
        if request.method == "POST":
            action = request.POST.get("action")
            if action == "pay" and trade.status == AlipayTrade.Status.WAIT_BUYER_PAY:
                trade.buyer_id, trade.buyer_logon_id = _buyer()
                trade.status, trade.gmt_payment = AlipayTrade.Status.TRADE_SUCCESS, timezone.now()
                trade.save(update_fields=["buyer_id", "buyer_logon_id", "status", "gmt_payment"])
                _queue_notify(trade, _trade_notify_fields(trade))
            elif action == "decline":
                problem = "Payment cancelled. 已取消 — the trade stays open until it expires."
            elif action != "pay":
                problem = "Choose pay or decline."
    if (
        request.method == "POST"
        and trade.status in PAID
        and trade.method in PAGE_METHODS
        and trade.return_url
    ):
        return HttpResponseRedirect(return_url_for(trade))
    return render(
        request,
        "sim_alipay/cashier.html",
        {"trade": trade, "yuan": fen_to_yuan(trade.total_amount), "problem": problem},
    )


def return_url_for(trade: AlipayTrade) -> str:
    """The signed GET Alipay sends the payer back with (verified like a notification)."""
    params = sign_notify_params(
        alipay_private_key(),
        {
            "charset": "utf-8",
            "out_trade_no": trade.out_trade_no,
            "method": f"{trade.method}.return",
            "total_amount": fen_to_yuan(trade.total_amount),
            "trade_no": trade.trade_no,
            "auth_app_id": trade.app_id,
            "version": "1.0",
            "app_id": trade.app_id,
            "seller_id": trade.seller_id,
            "timestamp": protocol.alipay_timestamp(),
        },
    )
    separator = "&" if "?" in trade.return_url else "?"
    return f"{trade.return_url}{separator}{urlencode(params)}"
