"""Alipay open platform (RSA2), direct merchant: QR code, desktop and mobile web pay.

Protocol facts (from the open platform docs and the official SDKs), in short:

* **Requests**: common parameters ``app_id, method, format=JSON, charset=utf-8,
  sign_type=RSA2, timestamp (yyyy-MM-dd HH:mm:ss, Beijing time), version=1.0,
  notify_url[, return_url]`` and ``biz_content`` (a JSON string). The sign string is
  every parameter but ``sign`` (``sign_type`` included), empty values dropped, sorted,
  ``k=v`` joined by ``&`` with raw values; ``sign`` = SHA256withRSA with the app key.
  Like the official SDKs we send the common parameters in the query string and
  ``biz_content`` in a form body.
* **Responses**: ``{"<method with _>_response": {...}, "sign": "..."}``, the signature
  over the *exact text* of the ``_response`` object. ``code`` 10000 is success, 20000
  "try again", 40004 a business failure with an ``ACQ.*`` ``sub_code``.
* **Notifications**: form-encoded POST; the sign string leaves out both ``sign`` and
  ``sign_type``. Acknowledged by the exact body ``success``.
* **Amounts** are yuan strings with two decimals; :func:`fen_to_yuan` and
  :func:`yuan_to_fen` are the only conversions, here at the edge.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import time
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import httpx
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from payments.exceptions import (
    GatewayRejected,
    GatewayUnavailable,
    InvalidNotification,
    InvalidResponse,
    TradeAlreadyPaid,
    TradeNotFound,
)
from payments.exchanges import exchange_record

from .base import (
    BillFile,
    BillLine,
    BillLineKind,
    BillReader,
    BillSummary,
    Gateway,
    InvalidBill,
    Notification,
    NotificationKind,
    NotificationReply,
    PaymentAction,
    PaymentRequest,
    RefundRequest,
    RefundState,
    RefundStatus,
    TradeState,
    TradeStatus,
    bill_format,
    bill_yuan_to_fen,
)
from .signing import ensure_dev_keypair, load_private_key, load_public_key, sign_sha256_rsa, verify_sha256_rsa

GATEWAY_URL = "https://openapi.alipay.com/gateway.do"
SHANGHAI = ZoneInfo("Asia/Shanghai")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
# Development material in ``dev_key_dir`` (the simulator loads the same files).
APP_KEY_NAME = "alipay-app"
ALIPAY_KEY_NAME = "alipay-platform"

SUCCESS_CODE = "10000"
UNAVAILABLE_CODE = "20000"
BUSINESS_FAILURE_CODE = "40004"

TRADE_STATES = {
    "WAIT_BUYER_PAY": TradeState.PENDING,
    "TRADE_SUCCESS": TradeState.SUCCEEDED,
    "TRADE_FINISHED": TradeState.SUCCEEDED,
    "TRADE_CLOSED": TradeState.CLOSED,
}
PRODUCT_CODES = {
    "alipay.trade.precreate": "FACE_TO_FACE_PAYMENT",
    "alipay.trade.page.pay": "FAST_INSTANT_TRADE_PAY",
    "alipay.trade.wap.pay": "QUICK_WAP_WAY",
}
CHANNEL_METHODS = {
    "alipay_qr": "alipay.trade.precreate",
    "alipay_page": "alipay.trade.page.pay",
    "alipay_wap": "alipay.trade.wap.pay",
}


# -- protocol helpers, shared with the simulator ------------------------------------
def fen_to_yuan(fen: int) -> str:
    """9900 -> "99.00": Alipay's amount format."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"fen must be an int, not {type(fen).__name__}")
    return f"{Decimal(fen).scaleb(-2):.2f}"


def yuan_to_fen(yuan: str) -> int:
    """ "99.00" -> 9900; anything that is not a whole number of fen is a ValueError."""
    try:
        amount = Decimal(str(yuan).strip())
    except InvalidOperation:
        raise ValueError(f"not an amount: {yuan!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not an amount: {yuan!r}")
    fen = amount.scaleb(2)
    if fen != fen.to_integral_value():
        raise ValueError(f"not a whole number of fen: {yuan!r}")
    return int(fen)


def alipay_timestamp(at: datetime | None = None) -> str:
    return (at or timezone.now()).astimezone(SHANGHAI).strftime(TIMESTAMP_FORMAT)


def parse_alipay_time(value: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, TIMESTAMP_FORMAT).replace(tzinfo=SHANGHAI)
    except ValueError:
        return None


def _sign_string(params: Mapping[str, str], leave_out: tuple[str, ...]) -> bytes:
    pairs = sorted(
        (str(k), str(v)) for k, v in params.items() if k not in leave_out and v is not None and str(v) != ""
    )
    return "&".join(f"{k}={v}" for k, v in pairs).encode()


def request_sign_string(params: Mapping[str, str]) -> bytes:
    """Requests (and return_url parameters): everything but ``sign``; ``sign_type`` stays in."""
    return _sign_string(params, ("sign",))


def notify_sign_string(params: Mapping[str, str]) -> bytes:
    """Async notifications: ``sign`` and ``sign_type`` both left out."""
    return _sign_string(params, ("sign", "sign_type"))


def sign_request_params(private_key, params: Mapping[str, str]) -> dict[str, str]:
    signed = {k: str(v) for k, v in params.items() if v is not None and str(v) != ""}
    signed["sign"] = sign_sha256_rsa(private_key, request_sign_string(signed))
    return signed


def verify_request_params(public_key, params: Mapping[str, str]) -> bool:
    return verify_sha256_rsa(public_key, request_sign_string(params), params.get("sign", ""))


def sign_notify_params(private_key, params: Mapping[str, str]) -> dict[str, str]:
    signed = {k: str(v) for k, v in params.items() if v is not None and str(v) != ""}
    signed["sign_type"] = "RSA2"
    signed["sign"] = sign_sha256_rsa(private_key, notify_sign_string(signed))
    return signed


def verify_notify_params(public_key, params: Mapping[str, str]) -> bool:
    return verify_sha256_rsa(public_key, notify_sign_string(params), params.get("sign", ""))


def response_key(method: str) -> str:
    return method.replace(".", "_") + "_response"


def top_level_members(text: str) -> dict[str, tuple[int, int]]:
    """The top-level members of a JSON object text: name -> (start, end) of the value's
    exact text. Raises ValueError if ``text`` is not one JSON object."""
    decoder = json.JSONDecoder()
    members: dict[str, tuple[int, int]] = {}

    def skip(i: int) -> int:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        return i

    i = skip(0)
    if text[i : i + 1] != "{":
        raise ValueError("not a JSON object")
    i = skip(i + 1)
    if text[i : i + 1] == "}":
        return members
    while True:
        name, i = decoder.raw_decode(text, i)
        if not isinstance(name, str):
            raise ValueError("member name is not a string")
        i = skip(i)
        if text[i : i + 1] != ":":
            raise ValueError("expected ':'")
        start = skip(i + 1)
        _value, end = decoder.raw_decode(text, start)
        members[name] = (start, end)
        i = skip(end)
        if text[i : i + 1] == ",":
            i = skip(i + 1)
            continue
        if text[i : i + 1] == "}" and not text[skip(i + 1) :]:
            return members
        raise ValueError("malformed JSON object")


def signed_response_text(private_key, method: str, payload: Mapping) -> str:
    """What Alipay answers: the ``_response`` object and the signature over its exact text."""
    inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    signature = sign_sha256_rsa(private_key, inner.encode())
    return f'{{"{response_key(method)}":{inner},"sign":{json.dumps(signature)}}}'


def verified_response(public_key, method: str, text: str) -> dict:
    """The ``_response`` object of ``text``, after checking Alipay's signature over its
    exact text (never a re-serialization). Raises InvalidResponse."""
    try:
        members = top_level_members(text)
    except ValueError as exc:
        raise InvalidResponse(f"alipay response is not JSON: {exc}") from exc
    key = response_key(method) if response_key(method) in members else "error_response"
    if key not in members:
        raise InvalidResponse("alipay response has no response object")
    start, end = members[key]
    exact = text[start:end]
    if "sign" not in members:
        raise InvalidResponse("alipay response is not signed")
    signature = json.loads(text[slice(*members["sign"])])
    if not isinstance(signature, str) or not verify_sha256_rsa(public_key, exact.encode(), signature):
        raise InvalidResponse("alipay response: bad signature")
    data = json.loads(exact)
    if not isinstance(data, dict):
        raise InvalidResponse("alipay response object is not an object")
    return data


def _form(body: bytes) -> dict[str, str]:
    text = body.decode("utf-8")
    return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))


class AlipayGateway(Gateway):
    channels = tuple(CHANNEL_METHODS)
    channel_labels = {
        "alipay_qr": _("Alipay (QR code)"),
        "alipay_page": _("Alipay (desktop)"),
        "alipay_wap": _("Alipay (mobile)"),
    }

    def __init__(
        self,
        alias: str,
        *,
        app_id: str,
        seller_id: str,
        gateway_url: str = GATEWAY_URL,
        app_private_key_path: str = "",
        alipay_public_key_path: str = "",
        dev_key_dir: str = "",
    ):
        super().__init__(alias)
        self.app_id = app_id
        self.seller_id = seller_id
        self.gateway_url = gateway_url
        if dev_key_dir:
            # Development material, generated on first use; the simulator holds the other halves.
            app_private_key_path, _pub = ensure_dev_keypair(dev_key_dir, APP_KEY_NAME)
            _priv, alipay_public_key_path = ensure_dev_keypair(dev_key_dir, ALIPAY_KEY_NAME)
        self._private_key = load_private_key(app_private_key_path)
        self._alipay_public_key = load_public_key(alipay_public_key_path)
        self._client = httpx.Client(timeout=self.timeout)

    @classmethod
    def check_options(cls, options: Mapping) -> list[str]:
        problems = []
        for name, what in (
            ("app_id", "the application's APPID from the Alipay open platform"),
            ("seller_id", "the merchant's Alipay user id (2088…), checked in every notification"),
            ("gateway_url", f"the Alipay gateway URL, normally {GATEWAY_URL}"),
        ):
            if not options.get(name):
                problems.append(f"option {name!r} is required: {what}.")
        if options.get("dev_key_dir"):
            if not Path(options["dev_key_dir"]).parent.exists():
                problems.append(f"dev_key_dir {options['dev_key_dir']!r}: its parent folder does not exist.")
            return problems
        for name, what in (
            ("app_private_key_path", "a PEM file with the application's RSA2 private key"),
            ("alipay_public_key_path", "a PEM file with the Alipay public key shown in the open platform"),
        ):
            path = options.get(name)
            if not path:
                problems.append(f"option {name!r} is required: {what} (or dev_key_dir in development).")
            elif not Path(path).is_file():
                problems.append(f"option {name!r}: the file {path!r} does not exist.")
        return problems

    @property
    def merchant_ids(self) -> Mapping[str, str]:
        return {"app_id": self.app_id, "seller_id": self.seller_id}

    # -- requests -----------------------------------------------------------------
    def _signed_params(
        self, method: str, biz: Mapping, *, notify_url: str = "", return_url: str = ""
    ) -> dict:
        params = {
            "app_id": self.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": alipay_timestamp(),
            "version": "1.0",
            "notify_url": notify_url,
            "return_url": return_url,
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        }
        return sign_request_params(self._private_key, params)

    def _call(self, operation: str, method: str, biz: Mapping, *, trade_no: str = "", notify_url: str = ""):
        params = self._signed_params(method, biz, notify_url=notify_url)
        form = {"biz_content": params.pop("biz_content")}
        request = self._client.build_request(
            "POST",
            self.gateway_url,
            params=params,
            data=form,
            headers={"Accept": "application/json"},
        )
        response = self._send(self._client, operation, request, trade_no=trade_no)
        if response.status_code >= 500:
            raise GatewayUnavailable()
        if response.status_code != 200:
            raise InvalidResponse(f"alipay answered HTTP {response.status_code}")
        data = verified_response(self._alipay_public_key, method, response.content.decode("utf-8", "replace"))
        code = str(data.get("code", ""))
        if code == SUCCESS_CODE:
            return data
        if code == UNAVAILABLE_CODE:
            raise GatewayUnavailable()
        sub_code = str(data.get("sub_code", ""))
        message = str(data.get("sub_msg") or data.get("msg") or "") or None
        if sub_code == "ACQ.TRADE_NOT_EXIST":
            raise TradeNotFound(message, gateway_code=sub_code)
        if sub_code == "ACQ.TRADE_HAS_SUCCESS":
            raise TradeAlreadyPaid(message, gateway_code=sub_code)
        raise GatewayRejected(message, gateway_code=sub_code or code)

    # -- calls ------------------------------------------------------------------
    def create_payment(self, request: PaymentRequest) -> PaymentAction:
        if request.currency != "CNY":
            raise GatewayRejected(f"Alipay takes CNY, not {request.currency}", gateway_code="CURRENCY")
        method = CHANNEL_METHODS.get(request.channel)
        if method is None:
            raise GatewayRejected(f"no such Alipay channel {request.channel!r}", gateway_code="CHANNEL")
        biz = {
            "out_trade_no": request.payment_no,
            "total_amount": fen_to_yuan(request.amount),
            "subject": request.description[:256],
            "product_code": PRODUCT_CODES[method],
            "time_expire": alipay_timestamp(request.expires_at),
        }
        if method == "alipay.trade.precreate":
            data = self._call(
                "create_payment", method, biz, trade_no=request.payment_no, notify_url=request.notify_url
            )
            return PaymentAction(kind="qr", code_url=str(data["qr_code"]))
        if method == "alipay.trade.wap.pay":
            biz["quit_url"] = request.return_url
        # No server call: the learner's browser carries the signed request to Alipay.
        params = self._signed_params(
            method, biz, notify_url=request.notify_url, return_url=request.return_url
        )
        return PaymentAction(kind="redirect", redirect_url=f"{self.gateway_url}?{urlencode(params)}")

    def query_payment(self, payment_no: str) -> TradeStatus:
        try:
            data = self._call(
                "query_payment", "alipay.trade.query", {"out_trade_no": payment_no}, trade_no=payment_no
            )
        except TradeNotFound:
            return TradeStatus(payment_no=payment_no, state=TradeState.NOT_FOUND)
        try:
            amount = yuan_to_fen(data["total_amount"])
        except (KeyError, ValueError) as exc:
            raise InvalidResponse(f"alipay query: bad total_amount: {exc}") from exc
        return TradeStatus(
            payment_no=str(data.get("out_trade_no") or payment_no),
            state=TRADE_STATES.get(str(data.get("trade_status", "")), TradeState.PENDING),
            gateway_txn_id=str(data.get("trade_no", "")),
            amount=amount,
            currency="CNY",
            paid_at=parse_alipay_time(str(data.get("send_pay_date", ""))),
            payer_id=str(data.get("buyer_user_id") or data.get("buyer_id") or ""),
            # The query is answered for our app_id only, signed by Alipay; seller_id is
            # compared when the answer carries it.
            merchant_ids={"app_id": self.app_id, "seller_id": str(data.get("seller_id") or self.seller_id)},
        )

    def close_payment(self, payment_no: str) -> None:
        try:
            self._call(
                "close_payment", "alipay.trade.close", {"out_trade_no": payment_no}, trade_no=payment_no
            )
        except TradeNotFound:
            return  # never scanned: nothing to close
        except GatewayRejected as exc:
            if exc.gateway_code != "ACQ.TRADE_STATUS_ERROR":
                raise
            # Closed already, or paid: ask which.
            state = self.query_payment(payment_no).state
            if state == TradeState.SUCCEEDED:
                raise TradeAlreadyPaid(exc.message, gateway_code=exc.gateway_code) from exc
            if state not in (TradeState.CLOSED, TradeState.NOT_FOUND):
                raise

    def refund(self, request: RefundRequest) -> RefundStatus:
        data = self._call(
            "refund",
            "alipay.trade.refund",
            {
                "out_trade_no": request.payment_no,
                "refund_amount": fen_to_yuan(request.amount),
                "out_request_no": request.refund_no,
                "refund_reason": request.reason[:256],
            },
            trade_no=request.payment_no,
        )
        if data.get("fund_change") == "Y":
            return RefundStatus(
                refund_no=request.refund_no, state=RefundState.SUCCEEDED, amount=request.amount
            )
        # "N": this call moved no money (a repeat, or still in progress): Alipay says to ask.
        return self.query_refund(request.refund_no, payment_no=request.payment_no)

    def query_refund(self, refund_no: str, *, payment_no: str) -> RefundStatus:
        data = self._call(
            "query_refund",
            "alipay.trade.fastpay.refund.query",
            {"out_trade_no": payment_no, "out_request_no": refund_no},
            trade_no=payment_no,
        )
        if data.get("refund_status") == "REFUND_SUCCESS" or (
            "refund_status" not in data and data.get("refund_amount")
        ):
            try:
                amount = yuan_to_fen(data["refund_amount"])
            except (KeyError, ValueError) as exc:
                raise InvalidResponse(f"alipay refund query: bad refund_amount: {exc}") from exc
            return RefundStatus(refund_no=refund_no, state=RefundState.SUCCEEDED, amount=amount)
        # No refund data: not (yet) refunded; the outcome is unknown here.
        return RefundStatus(
            refund_no=refund_no,
            state=RefundState.PROCESSING,
            message="Alipay has no refund data for this request number (yet)",
        )

    def fetch_bill(self, bill_date: date, into: BinaryIO) -> BillFile:
        """The trade bill of ``bill_date``: the zip Alipay delivers (detail and summary
        CSVs, GBK), streamed into ``into`` as downloaded."""
        day = bill_date.isoformat() if isinstance(bill_date, date) else str(bill_date)
        data = self._call(
            "fetch_bill",
            "alipay.data.dataservice.bill.downloadurl.query",
            {"bill_type": "trade", "bill_date": day},
        )
        url = str(data.get("bill_download_url", ""))
        if not url:
            raise InvalidResponse("alipay bill: no download URL")
        size = self._download("fetch_bill_download", self._client.build_request("GET", url), into)
        return BillFile(filename=f"alipay-{day}.csv.zip", size=size)

    def read_bill(self, source: BinaryIO) -> BillReader:
        return AlipayBillReader(source)

    def _download(self, operation: str, request: httpx.Request, into: BinaryIO) -> int:
        """Like :meth:`_send`, but streamed into ``into``, and the exchange is kept
        without the (binary) body. Returns the number of bytes written."""
        started = time.monotonic()
        status, note, error, size = None, "", "", 0
        try:
            response = self._client.send(request, stream=True)
            try:
                status = response.status_code
                if status != 200:
                    response.read()
                    note = response.text[:200]
                    if status >= 500:
                        raise GatewayUnavailable()
                    raise GatewayRejected(f"bill download answered HTTP {status}")
                for chunk in response.iter_bytes(_CHUNK):
                    into.write(chunk)
                    size += len(chunk)
                note = f"[{size} bytes of {response.headers.get('content-type', '?')}]"
            finally:
                response.close()
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:255]
            raise GatewayUnavailable() from exc
        finally:
            exchange_record(
                gateway=self.alias,
                operation=operation,
                trade_no="",
                request=request,
                response=httpx.Response(status, text=note, request=request) if status is not None else None,
                error=error,
                duration_ms=int((time.monotonic() - started) * 1000),
            )
        return size

    # -- notifications ----------------------------------------------------------
    def parse_notification(self, headers, body: bytes) -> Notification:
        try:
            params = _form(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidNotification("malformed notification body") from exc
        if params.get("sign_type", "RSA2") != "RSA2" or not verify_notify_params(
            self._alipay_public_key, params
        ):
            raise InvalidNotification("bad signature")
        try:
            trade_status = params["trade_status"]
            if trade_status not in TRADE_STATES:
                raise ValueError(f"unknown trade_status {trade_status!r}")
            common = {
                "event_id": params["notify_id"],
                "event_type": f"{params.get('notify_type', 'trade_status_sync')}:{trade_status}",
                "trade_no": params["out_trade_no"],
                "currency": "CNY",
                "gateway_txn_id": params.get("trade_no", ""),
                "payer_id": params.get("buyer_id", ""),
                "merchant_ids": {
                    "app_id": params.get("app_id", ""),
                    "seller_id": params.get("seller_id", ""),
                },
                "payload": {k: v for k, v in params.items() if k != "sign"},
            }
            if params.get("refund_fee") and trade_status in ("TRADE_SUCCESS", "TRADE_CLOSED"):
                # A refund (partial: TRADE_SUCCESS, full: TRADE_CLOSED). refund_fee is the
                # trade's *cumulative* refunded amount, not this refund's; out_biz_no is
                # our refund request number (out_request_no).
                return Notification(
                    kind=NotificationKind.REFUND,
                    state=RefundState.SUCCEEDED,
                    refund_no=params.get("out_biz_no", ""),
                    amount=yuan_to_fen(params["refund_fee"]),
                    occurred_at=parse_alipay_time(params.get("gmt_refund", "")),
                    **common,
                )
            return Notification(
                kind=NotificationKind.PAYMENT,
                state=TRADE_STATES[trade_status],
                amount=yuan_to_fen(params["total_amount"]),
                occurred_at=parse_alipay_time(params.get("gmt_payment", "")),
                **common,
            )
        except (KeyError, ValueError) as exc:
            raise InvalidNotification(f"malformed notification: {exc}") from exc

    def notification_reply(self, *, ok: bool, message: str = "") -> NotificationReply:
        if ok:
            return NotificationReply(status=200, body=b"success", content_type="text/plain")
        return NotificationReply(status=400, body=b"fail", content_type="text/plain")


# -- bills ------------------------------------------------------------------------------
BILL_HEADER_FIRST = "支付宝交易号"
BILL_REQUIRED = (
    "支付宝交易号",
    "商户订单号",
    "业务类型",
    "完成时间",
    "订单金额(元)",
    "退款批次号/请求号",
    "服务费(元)",
)
BILL_PAYMENT, BILL_REFUND = "交易", "退款"
_BILL_TOTALS = re.compile(r"交易合计[:：]\s*(\d+)\s*笔[,，]\s*退款合计[:：]\s*(\d+)\s*笔")
_HEADER_SEARCH_ROWS = 50
_CHUNK = 1 << 16


def _member_name(info: zipfile.ZipInfo) -> str:
    """A member's real name: zips made on Chinese Windows name members in GBK without
    saying so (zipfile then decodes them as cp437)."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _bill_encoding(raw: BinaryIO) -> str:
    """UTF-8 when the start of the file is UTF-8 (a re-saved file), else GB18030 (a
    superset of the GBK Alipay writes). ``raw`` is rewound."""
    sample = raw.read(_CHUNK)
    raw.seek(0)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"


class AlipayBillReader(BillReader):
    """Alipay's trade detail bill (业务明细): ``#`` comment lines, the detail header
    (支付宝交易号,商户订单号,业务类型,…), one line per 交易 or 退款, then ``#`` lines
    with the totals (交易合计：N笔，退款合计：M笔). Columns are found by name."""

    def __init__(self, source: BinaryIO):
        kind = bill_format(source)
        if kind == "gzip":
            raise InvalidBill(_("This is a gzip file: Alipay bills are zip archives or CSV."))
        if kind == "zip":
            try:
                archive = zipfile.ZipFile(source)
                members = [
                    (info, _member_name(info))
                    for info in archive.infolist()
                    if _member_name(info).lower().endswith(".csv") and "汇总" not in _member_name(info)
                ]
                if not members:
                    raise InvalidBill(_("The archive holds no Alipay detail bill (业务明细 CSV)."))
                info = next((m for m, name in members if name.endswith("业务明细.csv")), members[0][0])
                raw = archive.open(info)
            except zipfile.BadZipFile as exc:
                raise InvalidBill(_("The zip archive is damaged: %(error)s") % {"error": exc}) from exc
        else:
            raw = source
        self._text = io.TextIOWrapper(raw, encoding=_bill_encoding(raw), errors="replace", newline="")
        self._rows = csv.reader(self._text)
        self.summary = None
        self.summary_problem = ""
        header = self._header()
        columns = {name.strip(): i for i, name in enumerate(header)}
        missing = [name for name in BILL_REQUIRED if name not in columns]
        if missing:
            raise InvalidBill(
                _("Not an Alipay trade bill: its header has no %(columns)s.")
                % {"columns": ", ".join(missing)}
            )
        self._columns, self._width = columns, len(header)

    def _next_row(self) -> list[str] | None:
        try:
            return next(self._rows)
        except StopIteration:
            return None
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise InvalidBill(_("The bill file is damaged: %(error)s") % {"error": exc}) from exc
        except csv.Error as exc:
            raise InvalidBill(
                _("Line %(line)s of the bill is not CSV: %(error)s")
                % {"line": self._rows.line_num, "error": exc}
            ) from exc

    def _header(self) -> list[str]:
        for _i in range(_HEADER_SEARCH_ROWS):
            row = self._next_row()
            if row is None:
                break
            cells = {cell.strip() for cell in row}
            if BILL_HEADER_FIRST in cells and "商户订单号" in cells:
                return row
        raise InvalidBill(_("Not an Alipay trade bill: no detail header (支付宝交易号,商户订单号,…) found."))

    def __iter__(self) -> Iterator[BillLine]:
        c = self._columns
        i_txn, i_trade, i_type, i_time, i_amount, i_request, i_fee = (c[name] for name in BILL_REQUIRED)
        width, comments = self._width, []
        while (row := self._next_row()) is not None:
            line_no = self._rows.line_num
            if not row or not any(cell.strip() for cell in row):
                continue
            if row[0].startswith("#"):
                comments.append(",".join(row))
                continue
            if comments:  # a line after the closing comments
                yield BillLine(kind=BillLineKind.INVALID, line_no=line_no, problem="a line after the totals")
                continue
            if len(row) != width:
                yield BillLine(
                    kind=BillLineKind.INVALID,
                    line_no=line_no,
                    problem=f"{len(row)} columns, the header has {width}",
                )
                continue
            trade_no, kind = row[i_trade].strip(), row[i_type].strip()
            try:
                amount = abs(bill_yuan_to_fen(row[i_amount].strip()))
                fee = abs(bill_yuan_to_fen(row[i_fee].strip() or "0"))
                at = datetime.fromisoformat(row[i_time].strip()).replace(tzinfo=SHANGHAI)
                if kind not in (BILL_PAYMENT, BILL_REFUND):
                    raise ValueError(f"unknown 业务类型 {kind!r}")
            except ValueError as exc:
                line = BillLine(
                    kind=BillLineKind.INVALID,
                    line_no=line_no,
                    trade_no=trade_no,
                    status=kind,
                    problem=str(exc),
                )
            else:
                refund = kind == BILL_REFUND
                line = BillLine(
                    kind=BillLineKind.REFUND if refund else BillLineKind.PAYMENT,
                    line_no=line_no,
                    trade_no=trade_no,
                    txn_id=row[i_txn].strip(),
                    amount=amount,
                    # A fee is charged on a payment and given back on a refund, whichever
                    # sign the file prints it with.
                    fee=-fee if refund else fee,
                    status=kind,
                    refund_no=row[i_request].strip() if refund else "",
                    at=at,
                )
            yield line
        self._read_totals(comments)

    def _read_totals(self, comments: list[str]) -> None:
        for comment in comments:
            match = _BILL_TOTALS.search(comment)
            if match:
                payments, refunds = int(match[1]), int(match[2])
                self.summary = BillSummary(
                    lines=payments + refunds, payment_lines=payments, refund_lines=refunds
                )
                return
