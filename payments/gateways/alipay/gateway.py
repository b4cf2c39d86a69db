"""The Alipay open platform backend (RSA2), direct merchant: QR code, desktop and
mobile web pay, and 周期扣款 withholding agreements (automatic renewal). Protocol pieces:
:mod:`.protocol`; agreements and charges under them: :mod:`.agreements`; the bill
reader: :mod:`.bill`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import BinaryIO

import httpx
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.money import fen_to_yuan, yuan_to_fen
from payments.exceptions import (
    GatewayRejected,
    GatewayUnavailable,
    InvalidNotification,
    InvalidResponse,
    TradeAlreadyPaid,
    TradeNotFound,
)
from payments.gateways import http
from payments.gateways.base import (
    BillFile,
    BillReader,
    Gateway,
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
)
from payments.gateways.signing import load_private_key, load_public_key

from .agreements import DEFAULT_SIGN_SCENE, SIGN_SCENE, AlipayWithholding
from .bill import AlipayBillReader
from .protocol import (
    CHANNEL_METHODS,
    GATEWAY_URL,
    PRODUCT_CODES,
    SUCCESS_CODE,
    UNAVAILABLE_CODE,
    alipay_timestamp,
    form_params,
    notify_time_problem,
    parse_alipay_time,
    sign_request_params,
    verified_response,
    verify_notify_params,
)

TRADE_STATES = {
    "WAIT_BUYER_PAY": TradeState.PENDING,
    "TRADE_SUCCESS": TradeState.SUCCEEDED,
    "TRADE_FINISHED": TradeState.SUCCEEDED,
    "TRADE_CLOSED": TradeState.CLOSED,
}


class AlipayGateway(AlipayWithholding, Gateway):
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
        agreement_sign_scene: str = DEFAULT_SIGN_SCENE,
    ):
        super().__init__(alias)
        self.sign_scene = agreement_sign_scene or DEFAULT_SIGN_SCENE
        self.app_id = app_id
        self.seller_id = seller_id
        self.gateway_url = gateway_url
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
        for name, what in (
            ("app_private_key_path", "a PEM file with the application's RSA2 private key"),
            ("alipay_public_key_path", "a PEM file with the Alipay public key shown in the open platform"),
        ):
            path = options.get(name)
            if not path:
                problems.append(f"option {name!r} is required: {what}.")
            elif not Path(path).is_file():
                problems.append(f"option {name!r}: the file {path!r} does not exist.")
        scene = options.get("agreement_sign_scene")
        if scene and (not SIGN_SCENE.fullmatch(str(scene)) or scene == "DEFAULT|DEFAULT"):
            problems.append(
                "option 'agreement_sign_scene': an Alipay signing scene such as 'INDUSTRY|EDU' "
                "(never 'DEFAULT|DEFAULT': kpay sends its own agreement numbers)."
            )
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

    def _answer(
        self, operation: str, method: str, biz: Mapping, *, trade_no: str = "", notify_url: str = ""
    ) -> dict:
        """Send a signed request and return Alipay's ``_response`` object once its
        signature is verified, whatever its ``code`` (callers that read business failures
        themselves, such as a charge's, start here)."""
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
        return verified_response(self._alipay_public_key, method, response.content.decode("utf-8", "replace"))

    def _call(self, operation: str, method: str, biz: Mapping, *, trade_no: str = "", notify_url: str = ""):
        data = self._answer(operation, method, biz, trade_no=trade_no, notify_url=notify_url)
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
        return PaymentAction(kind="redirect", redirect_url=f"{self.gateway_url}?{http.query_string(params)}")

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
        """Stream the bill into ``into`` (see :func:`payments.gateways.http.download`)."""
        return http.download(
            self._client,
            gateway=self.alias,
            operation=operation,
            request=request,
            into=into,
            refused=_download_refused,
        )

    # -- notifications ----------------------------------------------------------
    def _verified_notify_params(self, body: bytes) -> dict[str, str]:
        """The form of an asynchronous notification, once its signature (``sign`` and
        ``sign_type`` left out) and its ``notify_time`` are checked."""
        try:
            params = form_params(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidNotification("malformed notification body") from exc
        if params.get("sign_type", "RSA2") != "RSA2" or not verify_notify_params(
            self._alipay_public_key, params
        ):
            raise InvalidNotification("bad signature")
        problem = notify_time_problem(params.get("notify_time", ""), now=timezone.now())
        if problem:
            raise InvalidNotification(problem)
        return params

    def parse_notification(self, headers, body: bytes) -> Notification:
        params = self._verified_notify_params(body)
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
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidNotification(f"malformed notification: {exc}") from exc

    def notification_reply(self, *, ok: bool, message: str = "") -> NotificationReply:
        if ok:
            return NotificationReply(status=200, body=b"success", content_type="text/plain")
        return NotificationReply(status=400, body=b"fail", content_type="text/plain")


def _download_refused(response: httpx.Response) -> None:
    if response.status_code >= 500:
        raise GatewayUnavailable()
    raise GatewayRejected(f"bill download answered HTTP {response.status_code}")
