"""The sandbox gateway backend (protocol: :mod:`.protocol`): spoken to exactly like a
real gateway, over HTTP, with signatures both ways."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import httpx
from django.utils.translation import gettext_lazy as _

from payments.exceptions import (
    GatewayRejected,
    GatewayUnavailable,
    InvalidNotification,
    InvalidResponse,
    TradeAlreadyPaid,
    TradeNotFound,
)
from payments.gateways.base import (
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
    require_json_types,
)
from payments.gateways.http import authorization_header, query_string
from payments.gateways.signing import load_private_key, load_public_key, new_nonce, sign_sha256_rsa
from payments.gateways.withholding import (
    AgreementNotification,
    AgreementRequest,
    AgreementState,
    AgreementStatus,
    ChargeNotice,
    ChargeRequest,
    Withholding,
)

from .protocol import (
    AGREEMENT_STATES,
    AUTH_SCHEME,
    WITHHOLDING_CHANNEL,
    WITHHOLDING_RULES,
    params_sign_string,
    request_message,
    verify_signed_headers,
)

TRADE_STATES = {
    "NOTPAY": TradeState.PENDING,
    "ACCEPT": TradeState.PENDING,  # a charge accepted, its result to follow
    "SUCCESS": TradeState.SUCCEEDED,
    "PAYERROR": TradeState.FAILED,
    "CLOSED": TradeState.CLOSED,
    "REFUND": TradeState.REFUNDED,
}
REFUND_STATES = {
    "PROCESSING": RefundState.PROCESSING,
    "SUCCESS": RefundState.SUCCEEDED,
    "ABNORMAL": RefundState.FAILED,
    "CLOSED": RefundState.FAILED,
}


def trade_status_from(resource: Mapping) -> TradeStatus:
    amount = resource.get("amount") or {}
    success_time = resource.get("success_time")
    failure = resource.get("failure") or {}
    return TradeStatus(
        payment_no=resource["out_trade_no"],
        state=TRADE_STATES.get(resource.get("trade_state", ""), TradeState.PENDING),
        gateway_txn_id=resource.get("transaction_id") or "",
        amount=amount.get("total"),
        currency=amount.get("currency", ""),
        paid_at=datetime.fromisoformat(success_time) if success_time else None,
        payer_id=(resource.get("payer") or {}).get("id", ""),
        merchant_ids={"merchant_id": resource.get("merchant_id", "")},
        failure_code=str(failure.get("code", "")),
        failure_message=str(failure.get("message", "")),
    )


AGREEMENT_EVENT_STATES = {
    "AGREEMENT.SIGNED": AgreementState.ACTIVE,
    "AGREEMENT.TERMINATED": AgreementState.TERMINATED,
}


def _time_or_none(value) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def agreement_status_from(resource: Mapping) -> AgreementStatus:
    state = resource.get("state", "")
    if state not in AGREEMENT_STATES:
        raise InvalidResponse(f"sandbox agreement: unknown state {state!r}")
    return AgreementStatus(
        agreement_no=resource["agreement_no"],
        state=AgreementState(state.lower()),
        gateway_agreement_id=resource.get("agreement_id") or "",
        payer_id=(resource.get("payer") or {}).get("id", ""),
        signed_at=_time_or_none(resource.get("signed_time")),
        terminated_at=_time_or_none(resource.get("terminated_time")),
        merchant_ids={"merchant_id": resource.get("merchant_id", "")},
    )


class SandboxGateway(Withholding, Gateway):
    channels = ("sandbox",)
    channel_labels = {
        "sandbox": _("Sandbox Pay (simulated gateway)"),
        WITHHOLDING_CHANNEL: _("Sandbox Pay automatic payments (simulated gateway)"),
    }
    withholding_channels = (WITHHOLDING_CHANNEL,)
    withholding_rules = WITHHOLDING_RULES

    def __init__(
        self,
        alias: str,
        *,
        base_url: str,
        merchant_id: str,
        private_key_path: str,
        gateway_public_key_path: str,
    ):
        super().__init__(alias)
        self.base_url = base_url.rstrip("/")
        self.merchant_id = merchant_id
        self._private_key = load_private_key(private_key_path)
        self._gateway_public_key = load_public_key(gateway_public_key_path)
        self._client = httpx.Client(timeout=self.timeout)

    @classmethod
    def check_options(cls, options):
        problems = [
            f"option {name!r} is required" for name in ("base_url", "merchant_id") if not options.get(name)
        ]
        key_files = ("private_key_path", "gateway_public_key_path")
        if not all(options.get(name) for name in key_files):
            problems.append("options 'private_key_path' (our key) and 'gateway_public_key_path' are required")
        for name in key_files:
            if options.get(name) and not Path(options[name]).is_file():
                problems.append(f"option {name!r}: no file at {options[name]!r}")
        return problems

    @property
    def merchant_ids(self):
        return {"merchant_id": self.merchant_id}

    # -- calls ------------------------------------------------------------------
    def create_payment(self, request: PaymentRequest) -> PaymentAction:
        params = {
            "merchant_id": self.merchant_id,
            "out_trade_no": request.payment_no,
            "amount": str(request.amount),
            "currency": request.currency,
            "description": request.description[:127],
            "notify_url": request.notify_url,
            "return_url": request.return_url,
            "expire_time": str(int(request.expires_at.timestamp())),
            "timestamp": str(int(time.time())),
            "nonce": new_nonce(),
        }
        params["sign"] = sign_sha256_rsa(self._private_key, params_sign_string(params))
        url = f"{self.base_url}/cashier/?{query_string(params)}"
        return PaymentAction(kind="qr", code_url=url, redirect_url=url)

    def query_payment(self, payment_no: str) -> TradeStatus:
        try:
            data = self._call("query_payment", "GET", f"/api/trades/{payment_no}", trade_no=payment_no)
        except TradeNotFound:
            return TradeStatus(payment_no=payment_no, state=TradeState.NOT_FOUND)
        return trade_status_from(data)

    def close_payment(self, payment_no: str) -> None:
        try:
            self._call("close_payment", "POST", f"/api/trades/{payment_no}/close", {}, trade_no=payment_no)
        except TradeNotFound:
            return

    def refund(self, request: RefundRequest) -> RefundStatus:
        data = self._call(
            "refund",
            "POST",
            "/api/refunds",
            {
                "out_trade_no": request.payment_no,
                "out_refund_no": request.refund_no,
                "reason": request.reason[:80],
                "notify_url": request.notify_url,
                "amount": {"refund": request.amount, "total": request.total, "currency": request.currency},
            },
            trade_no=request.payment_no,
        )
        return self._refund_status(data)

    def query_refund(self, refund_no: str, *, payment_no: str) -> RefundStatus:
        data = self._call("query_refund", "GET", f"/api/refunds/{refund_no}", trade_no=payment_no)
        return self._refund_status(data)

    @staticmethod
    def _refund_status(data: Mapping) -> RefundStatus:
        return RefundStatus(
            refund_no=data["out_refund_no"],
            state=REFUND_STATES.get(data.get("status", ""), RefundState.PROCESSING),
            gateway_refund_id=data.get("refund_id", ""),
            amount=(data.get("amount") or {}).get("refund"),
        )

    def _call(
        self, operation: str, method: str, path: str, payload: dict | None = None, *, trade_no: str = ""
    ) -> dict:
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        url = f"{self.base_url}{path}"
        path_and_query = httpx.URL(url).raw_path.decode()
        timestamp, nonce = str(int(time.time())), new_nonce()
        signature = sign_sha256_rsa(
            self._private_key, request_message(method, path_and_query, timestamp, nonce, body)
        )
        request = self._client.build_request(
            method,
            url,
            content=body or None,
            headers={
                "Authorization": authorization_header(
                    AUTH_SCHEME,
                    {
                        "merchant_id": self.merchant_id,
                        "timestamp": timestamp,
                        "nonce": nonce,
                        "signature": signature,
                    },
                ),
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        response = self._send(self._client, operation, request, trade_no=trade_no)
        if response.status_code >= 500:
            raise GatewayUnavailable()
        if response.status_code >= 400:
            self._raise_business_error(response)
        problem = verify_signed_headers(self._gateway_public_key, response.headers, response.content)
        if problem:
            raise InvalidResponse(f"sandbox response: {problem}")
        return response.json() if response.content else {}

    @staticmethod
    def _raise_business_error(response: httpx.Response):
        try:
            error = response.json()
            code, message = str(error.get("code", "")), str(error.get("message", ""))
        except ValueError:
            code, message = "", response.text[:200]
        if code == "TRADE_NOT_EXIST":
            raise TradeNotFound(message, gateway_code=code)
        if code == "TRADE_PAID":
            raise TradeAlreadyPaid(message, gateway_code=code)
        raise GatewayRejected(message or None, gateway_code=code)

    # -- withholding agreements (代扣) ---------------------------------------------
    def agreement_sign(self, request: AgreementRequest) -> PaymentAction:
        if request.channel not in self.withholding_channels:
            raise GatewayRejected(
                f"unknown withholding channel {request.channel!r}", gateway_code="PARAM_ERROR"
            )
        params = {
            "merchant_id": self.merchant_id,
            "agreement_no": request.agreement_no,
            "amount": str(request.amount),
            "currency": request.currency,
            "period_unit": request.period_unit.upper(),
            "period": str(request.period),
            "first_charge_date": request.first_charge_on.isoformat(),
            "description": request.description[:127],
            "notify_url": request.notify_url,
            "return_url": request.return_url,
            "timestamp": str(int(time.time())),
            "nonce": new_nonce(),
        }
        params["sign"] = sign_sha256_rsa(self._private_key, params_sign_string(params))
        url = f"{self.base_url}/agreements/sign/?{query_string(params)}"
        return PaymentAction(kind="qr", code_url=url, redirect_url=url)

    def agreement_query(self, agreement_no: str) -> AgreementStatus:
        try:
            data = self._call(
                "agreement_query", "GET", f"/api/agreements/{agreement_no}", trade_no=agreement_no
            )
        except GatewayRejected as exc:
            if exc.gateway_code == "AGREEMENT_NOT_EXIST":
                return AgreementStatus(agreement_no=agreement_no, state=AgreementState.NOT_FOUND)
            raise
        return agreement_status_from(data)

    def agreement_terminate(self, *, agreement_no: str, gateway_agreement_id: str, reason: str) -> None:
        try:
            self._call(
                "agreement_terminate",
                "POST",
                f"/api/agreements/{agreement_no}/terminate",
                {"agreement_id": gateway_agreement_id, "reason": reason[:80]},
                trade_no=agreement_no,
            )
        except GatewayRejected as exc:
            if exc.gateway_code != "AGREEMENT_NOT_EXIST":  # never signed: nothing to end
                raise

    def parse_agreement_notification(self, headers, body: bytes) -> AgreementNotification:
        problem = verify_signed_headers(self._gateway_public_key, headers, body)
        if problem:
            raise InvalidNotification(problem)
        try:
            event = json.loads(body)
            require_json_types(event, {"id": str, "event_type": str, "resource": dict})
            state = AGREEMENT_EVENT_STATES.get(event["event_type"])
            if state is None:
                raise InvalidNotification(f"not an agreement event: {event['event_type']!r}")
            resource = event["resource"]
            require_json_types(
                resource,
                {
                    "merchant_id": str,
                    "agreement_no": str,
                    "agreement_id": str,
                    "payer": dict,
                    "signed_time": str,
                    "terminated_time": str,
                    "terminated_by": str,
                },
                where="resource",
            )
            require_json_types(resource.get("payer") or {}, {"id": str}, where="payer")
            if not (event["id"] and resource["agreement_no"]):
                raise InvalidNotification("malformed notification: event id or agreement number missing")
            occurred = resource.get("terminated_time") if state == AgreementState.TERMINATED else None
            return AgreementNotification(
                event_id=event["id"],
                agreement_no=resource["agreement_no"],
                state=state,
                gateway_agreement_id=resource.get("agreement_id") or "",
                payer_id=(resource.get("payer") or {}).get("id", ""),
                occurred_at=_time_or_none(occurred or resource.get("signed_time")),
                by_payer=resource.get("terminated_by") == "PAYER",
                merchant_ids={"merchant_id": resource.get("merchant_id", "")},
                payload=event,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidNotification(f"malformed notification: {exc}") from exc

    def agreement_notification_reply(self, *, ok: bool, message: str = "") -> NotificationReply:
        return self.notification_reply(ok=ok, message=message)

    def charge_notice(self, notice: ChargeNotice) -> None:
        self._call(
            "charge_notice",
            "POST",
            f"/api/agreements/{notice.gateway_agreement_id}/notices",
            {
                "amount": {"total": notice.amount, "currency": notice.currency},
                "charge_date": notice.charge_on.isoformat(),
                "description": notice.description[:127],
            },
            trade_no=notice.gateway_agreement_id,
        )

    def charge(self, request: ChargeRequest) -> TradeStatus:
        data = self._call(
            "charge",
            "POST",
            "/api/charges",
            {
                "agreement_id": request.gateway_agreement_id,
                "out_trade_no": request.payment_no,
                "amount": {"total": request.amount, "currency": request.currency},
                "description": request.description[:127],
                "notify_url": request.notify_url,
            },
            trade_no=request.payment_no,
        )
        return trade_status_from(data)

    # -- notifications ----------------------------------------------------------
    def parse_notification(self, headers, body: bytes) -> Notification:
        problem = verify_signed_headers(self._gateway_public_key, headers, body)
        if problem:
            raise InvalidNotification(problem)
        try:
            event = json.loads(body)
            require_json_types(event, {"id": str, "event_type": str, "resource": dict})
            resource = event["resource"]
            event_type = event["event_type"]
            require_json_types(
                resource,
                {
                    "out_trade_no": str,
                    "out_refund_no": str,
                    "transaction_id": str,
                    "merchant_id": str,
                    "trade_state": str,
                    "status": str,
                    "amount": dict,
                    "payer": dict,
                    "success_time": str,
                },
                where="resource",
            )
            require_json_types(
                resource.get("amount") or {}, {"total": int, "refund": int, "currency": str}, where="amount"
            )
            require_json_types(resource.get("payer") or {}, {"id": str}, where="payer")
            if event_type.startswith("REFUND."):
                return Notification(
                    event_id=event["id"],
                    event_type=event_type,
                    kind=NotificationKind.REFUND,
                    trade_no=resource["out_trade_no"],
                    refund_no=resource["out_refund_no"],
                    state=REFUND_STATES.get(resource["status"], RefundState.PROCESSING),
                    amount=int(resource["amount"]["refund"]),
                    currency=resource["amount"]["currency"],
                    gateway_txn_id=resource.get("transaction_id", ""),
                    merchant_ids={"merchant_id": resource["merchant_id"]},
                    payload=event,
                )
            trade = trade_status_from(resource)
            return Notification(
                event_id=event["id"],
                event_type=event_type,
                kind=NotificationKind.PAYMENT,
                trade_no=trade.payment_no,
                state=trade.state,
                amount=int(trade.amount),
                currency=trade.currency,
                gateway_txn_id=trade.gateway_txn_id,
                payer_id=trade.payer_id,
                occurred_at=trade.paid_at,
                merchant_ids=trade.merchant_ids,
                payload=event,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidNotification(f"malformed notification: {exc}") from exc

    def notification_reply(self, *, ok: bool, message: str = "") -> NotificationReply:
        if ok:
            return NotificationReply(status=204, body=b"", content_type="application/json")
        body = json.dumps({"code": "FAIL", "message": message or "rejected"}).encode()
        return NotificationReply(status=400, body=body, content_type="application/json")
