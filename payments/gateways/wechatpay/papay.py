"""WeChat Pay 委托代扣 (papay): the withholding contract (``payments.gateways.withholding``)
for the WeChat Pay backend, channel ``wechat_papay``.

What the gateway's documents say, and where (checked against the WeChat Pay developer
documents; "(SDK)" marks what only independent SDKs showed):

* **Protocol.** The withholding APIs are v2: XML bodies ``<xml>…</xml>``, signed with
  the merchant's **v2 API key** (not the APIv3 key), answers ``return_code``/``return_msg``
  then ``result_code``/``err_code``/``err_code_des``; see :mod:`.v2` for the signature.
  Which algorithm each API uses is what its page says: 公众号纯签约 ``papay/entrustweb``
  (wxpay_v2/papay/chapter3_1: "签名方式: MD5") and 申请解约 ``papay/deletecontract``
  (chapter3_9: "签名方式: MD5") are MD5; 查询签约关系 ``papay/querycontract``
  (chapter3_7) and 查询订单 ``pay/paporderquery`` (doc/v2/merchant/4013894074) show MD5
  examples; 申请扣款 ``pay/pappayapply`` (chapter3_8) takes a signature of up to 64
  characters, and a ``sign_type`` is accepted there (seen in a merchant's logged request,
  developers.weixin.qq.com community), so kpay signs charges HMAC-SHA256 with
  ``sign_type=HMAC-SHA256``. Every answer with ``return_code=SUCCESS`` and every
  notification is verified before anything in it is believed (algorithm: the message's
  own ``sign_type``, else the request's, else the signature's length).
* **Signing a contract** (chapter3_1): a browser GET of ``/papay/entrustweb`` with
  ``appid, mch_id, plan_id`` (the template id), ``contract_code`` (ours: digits and
  letters only), ``request_serial`` (int64, unique, not starting with 0),
  ``contract_display_account`` (no 4-byte UTF-8), ``notify_url`` (URL-encoded in the
  query, raw in the signature), ``version=1.0``, ``timestamp`` (10 digits),
  ``return_web=1`` (back to the referring page, with ``from_wxpay=1``) and ``sign``. The
  amount and period are the template's, set on the merchant platform, not parameters.
* **Contract notifications** (签约、解约结果通知, chapter3_6): v2 XML to the signing
  ``notify_url`` (signing) or to the template's 解约回调地址 (termination, by the merchant's
  API or the payer in their wallet): ``return_code, result_code, mch_id, contract_code,
  plan_id, openid, change_type`` (``ADD``/``DELETE``), ``operate_time``
  (``yyyy-MM-dd HH:mm:ss``, Beijing), ``contract_id, contract_expired_time,
  contract_termination_mode, request_serial, sign`` (no ``appid``: a captured DELETE
  notification has none). Retries 0/10/10/10/30/30/30 s then every 300 s. Termination
  modes (SDK): 0 none, 1 expired, 2 by the payer, 3 merchant API, 4 merchant platform,
  5 account closed. The answer is ``<xml><return_code>SUCCESS</return_code>
  <return_msg>OK</return_msg></xml>``.
* **Query / terminate** (chapter3_7, 3_9): by ``plan_id`` + ``contract_code`` or by
  ``contract_id``, ``version=1.0``; ``contract_state`` 0 active, 1 terminated (SDK);
  ``contract_termination_remark`` when terminating. WeChat knows only signed contracts:
  one never signed is "not found".
* **Pre-charge notice** (预扣费通知, chapter3_10): **v3**, ``POST
  /v3/papay/contracts/{contract_id}/notify`` with ``mchid, appid,
  deduct_duration{count, unit: DAY}, estimated_amount{amount, currency}``, answered 204.
  The day of the notice and the next are the waiting period (扣费等待期); charges are
  allowed on the following ``count`` days (default 7: days 3–9), at most the notified
  amount, **one successful charge per cycle**; notices only 07:00–22:00 Beijing.
* **Charging** (申请扣款, chapter3_8): ``pay/pappayapply`` with ``contract_id,
  out_trade_no, total_fee`` (fen), ``body, notify_url, trade_type=PAP,
  spbill_create_ip, nonce_str``. Only 07:00–22:00 Beijing, inside the window a notice
  opened; within 12 hours of a first signing a charge needs no notice. "同一个商户号 +
  同一个商户订单号, 只会扣款一次": one ``out_trade_no`` is charged at most once. A
  ``SUCCESS`` answer means accepted, not charged: the result comes as a notification
  (扣款结果通知, doc/v2/merchant/4011987465: v2 XML with ``result_code, out_trade_no,
  transaction_id, total_fee, trade_state, time_end`` (``yyyyMMddHHmmss``), ``contract_id,
  openid``; sent for failures too, then without an amount; retries
  0/15/15/30/180/1800/1800/1800/1800/3600 s) and by ``pay/paporderquery``
  (``trade_state`` SUCCESS, REFUND, NOTPAY, CLOSED, ACCEPT (accepted, waiting), PAY_FAIL;
  unknown ``ORDERNOTEXIST``). Errors seen: ``RULELIMIT`` (template's amount or count
  limits; initial quota ¥500 a charge, ¥2,500 a day, per the official FAQ),
  ``INVALID_REQUEST`` (no notice), ``CONTRACT_NOT_EXIST``, ``ORDERPAID``.

A failure notification carries no amount, so kpay asks ``paporderquery`` before
believing it (the amount is compared like every payment notification's).
"""

from __future__ import annotations

import re
import secrets
import time as clock
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
from django.utils.translation import gettext_lazy as _

from payments.exceptions import (
    ChannelUnavailable,
    GatewayRejected,
    GatewayUnavailable,
    InvalidNotification,
    InvalidResponse,
    PaymentError,
)
from payments.gateways import http
from payments.gateways.base import (
    Notification,
    NotificationKind,
    NotificationReply,
    PaymentAction,
    TradeState,
    TradeStatus,
)
from payments.gateways.withholding import (
    AgreementNotification,
    AgreementRequest,
    AgreementState,
    AgreementStatus,
    ChargeNotice,
    ChargeRequest,
    Withholding,
    WithholdingRules,
)

from . import v2

CHANNEL = "wechat_papay"
# The algorithm each API's page gives (see the module docstring).
SIGN_TYPES = {
    "entrustweb": v2.MD5,
    "querycontract": v2.MD5,
    "deletecontract": v2.MD5,
    "paporderquery": v2.MD5,
    "pappayapply": v2.HMAC_SHA256,
}
CONTRACT_STATES = {"0": AgreementState.ACTIVE, "1": AgreementState.TERMINATED}
CHANGE_TYPES = {"ADD": AgreementState.ACTIVE, "DELETE": AgreementState.TERMINATED}
TERMINATED_BY_PAYER = "2"
PAP_TRADE_STATES = {
    "SUCCESS": TradeState.SUCCEEDED,
    "REFUND": TradeState.REFUNDED,
    "NOTPAY": TradeState.PENDING,
    "ACCEPT": TradeState.PENDING,
    "USERPAYING": TradeState.PENDING,
    "PAY_FAIL": TradeState.FAILED,
    "PAYERROR": TradeState.FAILED,
    "CLOSED": TradeState.CLOSED,
    "REVOKED": TradeState.CLOSED,
}
CONTRACT_NOT_FOUND_CODES = {"CONTRACT_NOT_EXIST", "CONTRACTNOTEXIST", "CONTRACT_NOT_EXISTS"}
ORDER_NOT_FOUND_CODES = {"ORDERNOTEXIST", "ORDER_NOT_EXIST"}
UNKNOWN_OUTCOME_CODES = {"SYSTEMERROR", "SYSTEM_ERROR"}
DEFAULT_MAX_AMOUNT = 50_000  # fen: the initial per-charge quota (¥500) the FAQ names
NOTICE_WINDOW_DAYS = 7  # deduct_duration.count: the documented default
WAITING_DAYS = 2  # the notice's day and the next: no charges
CONTRACT_CODE = re.compile(r"[0-9A-Za-z]{1,32}")
_XML_HEADERS = {
    "Content-Type": "text/xml; charset=utf-8",
    "Accept": "text/xml",
    "User-Agent": "kpay-wechatpay/1",
}

PAPAY_RULES = WithholdingRules(
    charge_hours=(time(7, 0), time(22, 0)),
    timezone="Asia/Shanghai",
    notice_days=WAITING_DAYS,
    charge_window_days=NOTICE_WINDOW_DAYS,
    # Not a documented number: a charge needs a notice two days before it, and a cycle
    # ends with its one successful charge, so charges can be no closer than that.
    min_period_days=WAITING_DAYS,
    max_amount=DEFAULT_MAX_AMOUNT,
)


def papay_check_options(options: Mapping) -> list[str]:
    """Problems with the withholding options, for the system check (both or neither of
    the v2 key and the template id)."""
    key, key_path, plan_id = options.get("v2_key"), options.get("v2_key_path"), options.get("papay_plan_id")
    problems = []
    if bool(key or key_path) != bool(plan_id):
        problems.append(
            "WeChat Pay withholding (papay) needs the v2 API key ('v2_key' or 'v2_key_path') and "
            "the template id 'papay_plan_id' together: give both, or neither to go without it."
        )
    if key and len(str(key)) != 32:
        problems.append("option 'v2_key' must be the 32-character v2 API key set on the merchant platform.")
    if key_path and not Path(key_path).is_file():
        problems.append(f"option 'v2_key_path': no file at {key_path!r} (the v2 API key).")
    if plan_id and not str(plan_id).isdigit():
        problems.append("option 'papay_plan_id' must be the numeric template id (plan_id).")
    max_amount = options.get("papay_max_amount")
    if max_amount is not None and not (isinstance(max_amount, int) and max_amount >= 1):
        problems.append("option 'papay_max_amount' must be a whole number of fen, at least 1.")
    return problems


class WeChatPayWithholding(Withholding):
    """The papay half of :class:`~payments.gateways.wechatpay.WeChatPayGateway` (it needs
    the gateway's ``alias``, ``mchid``, ``appid``, ``api_base``, ``_client`` and the v3
    ``_call`` for the pre-charge notice)."""

    withholding_channels = (CHANNEL,)
    withholding_rules = PAPAY_RULES

    def _papay_setup(
        self,
        *,
        v2_key: str = "",
        v2_key_path: str = "",
        papay_plan_id: str = "",
        papay_max_amount: int | None = None,
        papay_server_ip: str = "127.0.0.1",
    ) -> None:
        if v2_key_path and not v2_key:
            v2_key = Path(v2_key_path).read_text().strip()
        self._v2_key = v2_key or ""
        self.papay_plan_id = str(papay_plan_id or "")
        self.papay_max_amount = papay_max_amount or DEFAULT_MAX_AMOUNT
        self.papay_server_ip = papay_server_ip
        self.withholding_rules = replace(PAPAY_RULES, max_amount=self.papay_max_amount)
        if not self.papay_configured:
            self.withholding_channels = ()  # this instance cannot withhold

    @property
    def papay_configured(self) -> bool:
        return bool(self._v2_key and self.papay_plan_id)

    def _papay_ready(self) -> None:
        if not self.papay_configured:
            raise ChannelUnavailable(_("WeChat Pay automatic renewal is not set up."))

    # -- agreements -------------------------------------------------------------
    def agreement_sign(self, request: AgreementRequest) -> PaymentAction:
        """The entrustweb page to send the payer's browser to (a redirect). The payer
        comes back to the referring page (``return_web=1``): entrustweb takes no return
        URL, so ``request.return_url`` is where kpay should send them from."""
        self._papay_ready()
        if request.channel != CHANNEL:
            raise ChannelUnavailable()
        self._check_amount(request.amount, request.currency)
        if not CONTRACT_CODE.fullmatch(request.agreement_no):
            raise ChannelUnavailable(_("This agreement number cannot be used with WeChat Pay."))
        params = {
            "appid": self.appid,
            "mch_id": self.mchid,
            "plan_id": self.papay_plan_id,
            "contract_code": request.agreement_no,
            "request_serial": _request_serial(),
            "contract_display_account": _display_account(request.description) or request.agreement_no,
            "notify_url": request.notify_url,
            "version": "1.0",
            "timestamp": str(int(clock.time())),
            "return_web": "1",
        }
        signed = v2.signed(params, self._v2_key, SIGN_TYPES["entrustweb"])
        url = f"{self.api_base}/papay/entrustweb?" + urlencode(signed, quote_via=quote)
        return PaymentAction(kind="redirect", redirect_url=url)

    def agreement_query(self, agreement_no: str) -> AgreementStatus:
        self._papay_ready()
        answer = self._v2_call(
            "agreement_query",
            "/papay/querycontract",
            {"plan_id": self.papay_plan_id, "contract_code": agreement_no, "version": "1.0"},
            SIGN_TYPES["querycontract"],
            trade_no=agreement_no,
        )
        code, message = _business_error(answer)
        if code in CONTRACT_NOT_FOUND_CODES:
            return AgreementStatus(agreement_no=agreement_no, state=AgreementState.NOT_FOUND)
        if code:
            raise GatewayRejected(message or None, gateway_code=code)
        if answer.get("contract_code") != agreement_no or answer.get("plan_id") != self.papay_plan_id:
            raise InvalidResponse("WeChat Pay querycontract: the answer is about another contract")
        state = CONTRACT_STATES.get(answer.get("contract_state", ""))
        if state is None:
            raise InvalidResponse("WeChat Pay querycontract: unknown contract_state")
        try:
            signed_at = v2.parse_time(answer.get("contract_signed_time"))
            terminated_at = v2.parse_time(answer.get("contract_terminated_time"))
        except ValueError as exc:
            raise InvalidResponse("WeChat Pay querycontract: malformed time") from exc
        return AgreementStatus(
            agreement_no=agreement_no,
            state=state,
            gateway_agreement_id=answer.get("contract_id", ""),
            payer_id=answer.get("openid", ""),
            signed_at=signed_at,
            terminated_at=terminated_at if state == AgreementState.TERMINATED else None,
            merchant_ids=_merchant_ids(answer, self.appid),
        )

    def agreement_terminate(self, *, agreement_no: str, gateway_agreement_id: str, reason: str) -> None:
        self._papay_ready()
        params = {
            "contract_termination_remark": (reason or "terminated by the merchant")[:200],
            "version": "1.0",
        }
        if gateway_agreement_id:
            params["contract_id"] = gateway_agreement_id
        else:
            params.update(plan_id=self.papay_plan_id, contract_code=agreement_no)
        answer = self._v2_call(
            "agreement_terminate",
            "/papay/deletecontract",
            params,
            SIGN_TYPES["deletecontract"],
            trade_no=agreement_no,
        )
        code, message = _business_error(answer)
        if not code:
            return
        # Ended already, or never signed: fine. Otherwise the refusal stands.
        status = self.agreement_query(agreement_no)
        if status.state in (AgreementState.TERMINATED, AgreementState.NOT_FOUND):
            return
        raise GatewayRejected(message or None, gateway_code=code)

    def parse_agreement_notification(self, headers: Mapping[str, str], body: bytes) -> AgreementNotification:
        fields = self._verified_notification(body)
        if fields.get("result_code") != v2.SUCCESS:
            raise InvalidNotification("contract notification without result_code SUCCESS")
        state = CHANGE_TYPES.get(fields.get("change_type", ""))
        if state is None:
            raise InvalidNotification("unknown change_type")
        contract_code, contract_id = fields.get("contract_code", ""), fields.get("contract_id", "")
        if not (contract_code and contract_id):
            raise InvalidNotification("contract_code or contract_id missing")
        if fields.get("plan_id") != self.papay_plan_id:
            raise InvalidNotification("a contract of another template")
        try:
            occurred_at = v2.parse_time(fields.get("operate_time"))
        except ValueError as exc:
            raise InvalidNotification("malformed operate_time") from exc
        return AgreementNotification(
            event_id=f"{contract_id}-{fields['change_type']}",
            agreement_no=contract_code,
            state=state,
            gateway_agreement_id=contract_id,
            payer_id=fields.get("openid", ""),
            occurred_at=occurred_at,
            by_payer=state == AgreementState.TERMINATED
            and fields.get("contract_termination_mode") == TERMINATED_BY_PAYER,
            merchant_ids=_merchant_ids(fields, self.appid),
            payload=_payload(fields),
        )

    def agreement_notification_reply(self, *, ok: bool, message: str = "") -> NotificationReply:
        return _v2_reply(ok, message)

    # -- charges ------------------------------------------------------------------
    def charge_notice(self, notice: ChargeNotice) -> None:
        """预扣费通知 (v3). It opens a window of ``charge_window_days`` days starting two
        days after the notice's (Beijing) day, which must hold ``notice.charge_on``."""
        self._papay_ready()
        self._check_amount(notice.amount, notice.currency)
        today = datetime.now(UTC).astimezone(v2.BEIJING).date()
        first = today + timedelta(days=WAITING_DAYS)
        if not first <= notice.charge_on <= first + timedelta(days=NOTICE_WINDOW_DAYS - 1):
            raise GatewayRejected(
                f"a notice sent on {today} allows charges from {first} for {NOTICE_WINDOW_DAYS} days, "
                f"not on {notice.charge_on}",
                gateway_code="CHARGE_DATE_OUTSIDE_NOTICE_WINDOW",
            )
        body = {
            "mchid": self.mchid,
            "appid": self.appid,
            "deduct_duration": {"count": NOTICE_WINDOW_DAYS, "unit": "DAY"},
            "estimated_amount": {"amount": notice.amount, "currency": notice.currency},
        }
        path = f"/v3/papay/contracts/{quote(notice.gateway_agreement_id, safe='')}/notify"
        self._call("charge_notice", "POST", path, body)  # type: ignore[attr-defined]

    def charge(self, request: ChargeRequest) -> TradeStatus:
        self._papay_ready()
        self._check_amount(request.amount, request.currency)
        params = {
            "nonce_str": v2.new_nonce(),
            "body": _trim_bytes(request.description or request.payment_no, 127),
            "out_trade_no": request.payment_no,
            "total_fee": str(request.amount),
            "fee_type": "CNY",
            "spbill_create_ip": request.client_ip or self.papay_server_ip,
            "notify_url": request.notify_url,
            "trade_type": "PAP",
            "contract_id": request.gateway_agreement_id,
        }
        answer = self._v2_call(
            "charge", "/pay/pappayapply", params, SIGN_TYPES["pappayapply"], trade_no=request.payment_no
        )
        code, message = _business_error(answer)
        if not code:
            return TradeStatus(
                payment_no=request.payment_no,
                state=TradeState.PENDING,
                amount=request.amount,
                currency=request.currency,
                merchant_ids=_merchant_ids(answer, self.appid),
            )
        # Refused. If the trade exists (paid, or accepted before), that is the answer:
        # the same out_trade_no is never charged twice.
        status = self.query_charge(request.payment_no)
        if status.state == TradeState.NOT_FOUND:
            raise GatewayRejected(message or None, gateway_code=code)
        if status.amount is not None and status.amount != request.amount:
            raise GatewayRejected(
                f"payment number {request.payment_no} is a charge of another amount", gateway_code=code
            )
        return status

    def query_charge(self, payment_no: str) -> TradeStatus:
        self._papay_ready()
        answer = self._v2_call(
            "query_charge",
            "/pay/paporderquery",
            {"out_trade_no": payment_no, "nonce_str": v2.new_nonce()},
            SIGN_TYPES["paporderquery"],
            trade_no=payment_no,
        )
        code, message = _business_error(answer)
        if code in ORDER_NOT_FOUND_CODES:
            return TradeStatus(payment_no=payment_no, state=TradeState.NOT_FOUND)
        if code:
            raise GatewayRejected(message or None, gateway_code=code)
        if answer.get("out_trade_no") != payment_no:
            raise InvalidResponse("WeChat Pay paporderquery: the answer is about another trade")
        try:
            return _pap_trade_status(answer, self.appid)
        except ValueError as exc:
            raise InvalidResponse(f"WeChat Pay paporderquery: {exc}") from exc

    def parse_charge_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        fields = self._verified_notification(body)
        trade_no = fields.get("out_trade_no", "")
        if not trade_no:
            raise InvalidNotification("out_trade_no missing")
        if fields.get("result_code") == v2.SUCCESS:
            try:
                status = _pap_trade_status(fields, self.appid, default_state="SUCCESS")
            except ValueError as exc:
                raise InvalidNotification(f"malformed notification: {exc}") from exc
            if status.amount is None or not status.gateway_txn_id:
                raise InvalidNotification("total_fee or transaction_id missing")
            event_id = status.gateway_txn_id
        elif fields.get("result_code") == v2.FAIL:
            # A failure carries no amount: what the gateway's books say is what counts.
            try:
                status = self.query_charge(trade_no)
            except PaymentError as exc:
                raise InvalidNotification(f"cannot confirm the failure: {exc.message}") from exc
            if status.state == TradeState.NOT_FOUND or status.amount is None:
                raise InvalidNotification("a failure of a trade the gateway does not know")
            event_id = f"{trade_no}-FAIL-{fields.get('err_code', '') or 'UNKNOWN'}"
        else:
            raise InvalidNotification("result_code is neither SUCCESS nor FAIL")
        return Notification(
            event_id=event_id[:128],
            event_type=f"PAP.{fields.get('trade_state') or fields.get('result_code')}",
            kind=NotificationKind.PAYMENT,
            trade_no=trade_no,
            state=status.state,
            amount=status.amount,
            currency=status.currency or "CNY",
            gateway_txn_id=status.gateway_txn_id,
            payer_id=status.payer_id or fields.get("openid", ""),
            occurred_at=status.paid_at,
            merchant_ids=_merchant_ids(fields, self.appid),
            payload=_payload(fields),
        )

    def charge_notification_reply(self, *, ok: bool, message: str = "") -> NotificationReply:
        return _v2_reply(ok, message)

    # -- plumbing -------------------------------------------------------------------
    def _check_amount(self, amount: int, currency: str) -> None:
        if currency != "CNY":
            raise ChannelUnavailable(_("WeChat Pay automatic renewal charges in CNY only."))
        if not 1 <= amount <= self.papay_max_amount:
            raise ChannelUnavailable(
                _("This amount is above what WeChat Pay automatic renewal may charge at once.")
            )

    def _v2_call(
        self, operation: str, path: str, params: Mapping[str, str], sign_type: str, *, trade_no: str = ""
    ) -> dict[str, str]:
        """POST a signed v2 message; the verified answer's fields (``return_code`` SUCCESS).

        The exchange is kept with ``sign`` redacted (request and answer); transport
        trouble and 5xx are GatewayUnavailable; a protocol-level refusal
        (``return_code=FAIL``, unsigned by design) is GatewayRejected; an answer that is
        not XML, not signed with our key, or about another merchant is InvalidResponse."""
        message = {"appid": self.appid, "mch_id": self.mchid, **params}  # type: ignore[attr-defined]
        if sign_type != v2.MD5:
            message["sign_type"] = sign_type
        body = v2.to_xml(v2.signed(message, self._v2_key, sign_type))
        url = self.api_base + path  # type: ignore[attr-defined]
        request = self._client.build_request("POST", url, content=body, headers=_XML_HEADERS)  # type: ignore[attr-defined]
        kept = httpx.Request("POST", url, content=v2.redact(body.decode()).encode(), headers=_XML_HEADERS)
        with http.exchange_recorded(
            gateway=self.alias,  # type: ignore[attr-defined]
            operation=operation,
            request=kept,
            trade_no=trade_no,
        ) as exchange:
            response = self._client.send(request)  # type: ignore[attr-defined]
            exchange.response = httpx.Response(
                response.status_code, text=v2.redact(response.text), request=kept
            )
        if response.status_code >= 500:
            raise GatewayUnavailable()
        if response.status_code != 200:
            raise GatewayRejected(f"WeChat Pay answered HTTP {response.status_code}")
        try:
            answer = v2.parse_xml(response.content)
        except v2.MalformedMessage as exc:
            raise InvalidResponse(f"WeChat Pay {operation}: {exc}") from exc
        return_code = answer.get("return_code")
        if return_code == v2.FAIL:
            raise GatewayRejected(answer.get("return_msg", "")[:200] or None, gateway_code="FAIL")
        if return_code != v2.SUCCESS:
            raise InvalidResponse(f"WeChat Pay {operation}: no return_code")
        if not v2.verify(answer, self._v2_key, expected=sign_type):
            raise InvalidResponse(f"WeChat Pay {operation}: bad signature")
        if answer.get("mch_id", self.mchid) != self.mchid or answer.get("appid", self.appid) != self.appid:  # type: ignore[attr-defined]
            raise InvalidResponse(f"WeChat Pay {operation}: an answer for another merchant")
        if answer.get("err_code") in UNKNOWN_OUTCOME_CODES:
            raise GatewayUnavailable()
        return answer

    def _verified_notification(self, body: bytes) -> dict[str, str]:
        if not self.papay_configured:
            raise InvalidNotification("withholding is not configured")
        try:
            fields = v2.parse_xml(body)
        except v2.MalformedMessage as exc:
            raise InvalidNotification(f"malformed notification: {exc}") from exc
        if not v2.verify(fields, self._v2_key):
            raise InvalidNotification("bad signature")
        if fields.get("return_code") != v2.SUCCESS:
            raise InvalidNotification("return_code is not SUCCESS")
        return fields


# -- helpers ---------------------------------------------------------------------------------
def _business_error(answer: Mapping[str, str]) -> tuple[str, str]:
    """``(err_code, err_code_des)`` of a refused request; ``("", "")`` when it succeeded."""
    if answer.get("result_code") == v2.SUCCESS:
        return "", ""
    return answer.get("err_code", "") or "FAIL", answer.get("err_code_des", "")[:200]


def _pap_trade_status(fields: Mapping[str, str], appid: str, default_state: str = "") -> TradeStatus:
    total_fee = fields.get("total_fee", "")
    if total_fee and not (total_fee.isascii() and total_fee.isdigit()):
        raise ValueError("total_fee is not a whole number of fen")
    trade_state = fields.get("trade_state") or default_state
    state = PAP_TRADE_STATES.get(trade_state, TradeState.PENDING)
    return TradeStatus(
        payment_no=fields.get("out_trade_no", ""),
        state=state,
        gateway_txn_id=fields.get("transaction_id", ""),
        amount=int(total_fee) if total_fee else None,
        currency=fields.get("fee_type") or "CNY",
        paid_at=v2.parse_time(fields.get("time_end")) if state == TradeState.SUCCEEDED else None,
        payer_id=fields.get("openid", ""),
        merchant_ids=_merchant_ids(fields, appid),
    )


def _merchant_ids(fields: Mapping[str, str], appid: str) -> dict[str, str]:
    # Contract notifications name the mch_id only (no appid): as for v3 refunds.
    return {"mchid": fields.get("mch_id", ""), "appid": fields.get("appid") or appid}


def _payload(fields: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in fields.items() if name not in ("sign", "nonce_str")}


def _v2_reply(ok: bool, message: str) -> NotificationReply:
    return NotificationReply(
        status=200 if ok else 400, body=v2.reply(ok, message[:120]), content_type="text/xml; charset=utf-8"
    )


def _request_serial() -> str:
    """Unique, increasing, at most 19 digits, never starting with 0."""
    return str(clock.time_ns() // 1_000_000 * 1000 + secrets.randbelow(1000))


def _display_account(text: str) -> str:
    """What the signing page shows as the account: no 4-byte UTF-8 characters (WeChat
    refuses them), at most 32 characters."""
    return "".join(ch for ch in text if ord(ch) <= 0xFFFF).strip()[:32]


def _trim_bytes(text: str, limit: int) -> str:
    encoded = text.encode()[:limit]
    return encoded.decode("utf-8", "ignore")
