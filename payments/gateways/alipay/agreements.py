"""Alipay 周期扣款 (cycle withholding, now filed under 商家扣款): the withholding contract
(:mod:`payments.gateways.withholding`) spoken over the open platform's RSA2 protocol, as a
mixin of :class:`~payments.gateways.alipay.AlipayGateway` (same keys, same signing, same
exchange records).

Protocol facts, and where they come from (Alipay's open platform documents, read through
their mirrors, and the official SDK's model classes ``alipay/alipay-sdk-java-all``
``v2/src/main/java/com/alipay/api/domain/*``; "(secondary)" marks community answers):

* **Signing** (``alipay.user.agreement.page.sign``, "支付宝个人协议页面签约接口",
  opendocs.alipay.com/open/8bccfa0b_alipay.user.agreement.page.sign, SDK
  ``AlipayUserAgreementPageSignModel``, ``PeriodRuleParams``, ``AccessParams``): a page
  interface: no server call, the payer's browser carries the signed request to the gateway
  (common parameters, ``notify_url`` for the signing notification, ``return_url``).
  ``biz_content``: ``personal_product_code`` ``CYCLE_PAY_AUTH_P`` and ``product_code``
  ``CYCLE_PAY_AUTH`` ("周期扣款 产品，接口中 product_code 字段固定传参为 CYCLE_PAY_AUTH",
  guide "周期扣款-独立签约后扣款场景", opendocs.alipay.com/open/00a05b);
  ``sign_scene`` ``INDUSTRY|…``, required and never ``DEFAULT|DEFAULT`` when
  ``external_agreement_no`` (letters and digits, at most 32) is given;
  ``access_params.channel`` ``ALIPAYAPP`` (wallet H5, an ``alipays://`` link),
  ``QRCODE`` or ``QRCODEORSMS`` (an http page that shows a code to scan): we use
  ``QRCODE``, which a desktop browser can open; ``period_rule_params``: ``period_type``
  ``DAY`` or ``MONTH``, ``period`` (a number), ``execute_time`` (the first charge's day,
  ``yyyy-MM-dd``), ``single_amount`` (yuan, the most one charge may take), optional
  ``total_amount`` and ``total_payments``. Rules (the guide and ``PeriodRuleParams``):
  a DAY period is at least 7; with MONTH, ``execute_time`` falls on the 1st–28th. The
  page shows the app and the rule; page.sign has no free-text description (only
  ``sub_merchant.*``, which needs Alipay's consent), so the request's description is not
  sent.
* **Notifications** ("周期/商家扣款异步通知说明", opendocs.alipay.com/open/01rg2a, and real
  payloads quoted in public code): form-encoded, signed like trade notifications, answered
  with the exact body ``success``. ``notify_type=dut_user_sign`` (``status=NORMAL``,
  ``sign_time``, ``valid_time``, ``invalid_time`` e.g. ``2115-02-01 00:00:00``) and
  ``dut_user_unsign`` (``status=UNSIGN``, ``unsign_time``), both with ``agreement_no``,
  ``external_agreement_no``, ``personal_product_code``, ``sign_scene``,
  ``alipay_user_id``, ``alipay_logon_id`` (masked), ``app_id``, ``auth_app_id``,
  ``notify_id``, ``notify_time``; no seller id. Where they go: signing → page.sign's
  ``notify_url``, else the app's gateway address (应用网关); kpay's unsign →
  unsign's ``notify_url``, else the app's gateway; the payer's own unsign in the wallet →
  **only the app's gateway** ("用户解约异步返回…是发送到appid下的应用网关地址中",
  developer.aliyun.com/ask/285557, (secondary)). So the app's gateway address in the open
  platform console must be kpay's agreement notification URL. The notification does not
  say who ended the agreement: every ``dut_user_unsign`` is parsed ``by_payer=True``, and
  kpay's own unsign (sent without ``notify_url``, answered at once) reaches that URL too;
  kpay's records know it was kpay's.
* **Query** (``alipay.user.agreement.query``, SDK ``AlipayUserAgreementQueryModel`` /
  ``…Response``): by ``agreement_no``, or by ``external_agreement_no`` with
  ``personal_product_code`` and the signing ``sign_scene``. ``status`` is ``TEMP``
  (stored, never effective), ``NORMAL`` or ``STOP`` (paused); an unknown or ended
  agreement is the business error ``USER_AGREEMENT_NOT_EXIST`` (the status has no UNSIGN):
  :meth:`agreement_query` reports ``NOT_FOUND`` for both, kpay's records tell which.
* **Unsign** (``alipay.user.agreement.unsign``, SDK ``AlipayUserAgreementUnsignModel``):
  ``agreement_no`` alone ("如果传了该参数，其他参数会被忽略"), else
  ``external_agreement_no`` with product code and scene.
* **Charging** (``alipay.trade.pay`` with ``product_code`` ``CYCLE_PAY_AUTH`` and
  ``agreement_params.agreement_no``, ``out_trade_no``, ``total_amount`` yuan, ``subject``;
  ``notify_url`` gets the usual ``trade_status_sync``, "支付异步通知只发送到
  alipay.trade.pay 设置的 notify_url"): ``10000`` with ``trade_status`` TRADE_SUCCESS is
  final; ``10003`` (WAIT_BUYER_PAY), ``20000`` and ``ACQ.SYSTEM_ERROR`` are unknown
  outcomes (query); ``40004`` sub-codes are refusals: ``ACQ.BUYER_BALANCE_NOT_ENOUGH``,
  ``ACQ.AGREEMENT_NOT_EXIST`` ("用户协议不存在或已解约"), ``ACQ.AGREEMENT_INVALID``,
  ``ACQ.AGREEMENT_STATUS_NOT_NORMAL``, ``ACQ.CYCLE_PAY_SINGLE_FEE_EXCEED`` (above
  ``single_amount``), ``ACQ.CYCLE_PAY_TOTAL_FEE_EXCEED``,
  ``ACQ.CYCLE_PAY_TOTAL_TIMES_EXCEED``, ``ACQ.CYCLE_PAY_DATE_NOT_MATCH`` (outside the
  window, or a second charge in one period); ``ACQ.TRADE_HAS_SUCCESS`` on a repeated
  ``out_trade_no`` (never charged twice: we query and report the first).
* **When** ("周期扣款如何设置周期规则", developer.aliyun.com/ask/285548, and the
  ``ACQ.CYCLE_PAY_DATE_NOT_MATCH`` answer, /ask/285581, (secondary)): a charge is accepted
  from 3 days before the scheduled day to that day ("每次扣款允许商户在约定日期之前3天开始
  扣款"; the 2024 page on ``alipay.user.agreement.executionplan.modify``,
  opendocs.alipay.com/open/01rg2g, shows 5 days: we keep the stricter 3); the day is
  Beijing time when the money moves (a request at 23:59:59 landing after midnight is
  late); after a success the schedule moves one period on; once the day has passed
  unpaid, only ``alipay.user.agreement.executionplan.modify`` (``agreement_no``,
  ``deduct_time`` ``yyyy-MM-dd``, later days only, 1st–28th for MONTH;
  ``ILLEGAL_EXECUTION_TIME``) opens a new window (:meth:`agreement_reschedule`). No hours
  are documented (unlike WeChat Pay's 07:00–22:00); no pre-charge notice API exists.

Amounts cross this edge as yuan strings through :mod:`core.money` only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time

from core.money import fen_to_yuan, yuan_to_fen
from payments.exceptions import (
    GatewayRejected,
    GatewayUnavailable,
    InvalidNotification,
    InvalidResponse,
    TradeAlreadyPaid,
)
from payments.gateways.base import NotificationReply, PaymentAction, TradeState, TradeStatus
from payments.gateways.http import query_string
from payments.gateways.withholding import (
    AgreementNotification,
    AgreementRequest,
    AgreementState,
    AgreementStatus,
    ChargeRequest,
    PeriodUnit,
    Withholding,
    WithholdingRules,
)

from .protocol import BUSINESS_FAILURE_CODE, SUCCESS_CODE, UNAVAILABLE_CODE, parse_alipay_time

WITHHOLDING_CHANNEL = "alipay_agreement"
PRODUCT_CODE = "CYCLE_PAY_AUTH"
PERSONAL_PRODUCT_CODE = "CYCLE_PAY_AUTH_P"
ACCESS_CHANNEL = "QRCODE"
DEFAULT_SIGN_SCENE = "INDUSTRY|EDU"
PAYING_CODE = "10003"  # created, the payer is paying (WAIT_BUYER_PAY): ask again later

MIN_DAY_PERIOD = 7
LAST_MONTHLY_DAY = 28
EARLY_DAYS = 3
MAX_AMOUNT = 100_000_000 * 100  # fen, Alipay's ceiling for one trade

EXTERNAL_AGREEMENT_NO = re.compile(r"[A-Za-z0-9]{1,32}")
SIGN_SCENE = re.compile(r"[A-Z_]+\|[A-Z_]+")

AGREEMENT_NOT_FOUND_CODES = frozenset({"USER_AGREEMENT_NOT_EXIST", "ACQ.USER_AGREEMENT_NOT_EXIST"})
QUERY_STATES = {
    "NORMAL": AgreementState.ACTIVE,
    "TEMP": AgreementState.PENDING,  # stored, never effective
    "STOP": AgreementState.PENDING,  # paused by Alipay: not chargeable now, may resume
    "UNSIGN": AgreementState.TERMINATED,  # not documented for the query; read if sent
}
# Answers that leave a charge's outcome unknown: the trade may exist; ask for it.
UNKNOWN_OUTCOME_SUB_CODES = frozenset({"ACQ.SYSTEM_ERROR"})

ALIPAY_WITHHOLDING_RULES = WithholdingRules(
    # Alipay documents no hours; a request in the last minutes of the day may land after
    # midnight, outside its day, so the schedule leaves the last ten minutes alone.
    charge_hours=(time(0, 0), time(23, 50)),
    timezone="Asia/Shanghai",
    notice_days=0,
    charge_window_days=1,
    charge_early_days=EARLY_DAYS,
    min_period_days=MIN_DAY_PERIOD,
    max_amount=None,
    last_monthly_charge_day=LAST_MONTHLY_DAY,
)


def period_rule_problem(unit: PeriodUnit, period: int, first_charge_on: date) -> str:
    """Why Alipay would refuse this period rule, or ""."""
    if unit not in (PeriodUnit.DAY, PeriodUnit.MONTH):
        return f"unknown period unit {unit!r}"
    if not isinstance(first_charge_on, date):
        return "the first charge needs a day"
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        return "the period must be a whole number of at least 1"
    if unit == PeriodUnit.DAY and period < MIN_DAY_PERIOD:
        return f"a DAY period is at least {MIN_DAY_PERIOD} days"
    if unit == PeriodUnit.MONTH and first_charge_on.day > LAST_MONTHLY_DAY:
        return f"with MONTH periods, charges fall on the 1st to the {LAST_MONTHLY_DAY}th"
    return ""


class AlipayWithholding(Withholding):
    """The withholding half of :class:`~payments.gateways.alipay.AlipayGateway`: it uses
    the gateway's ``_signed_params``, ``_answer``, ``_call``, ``_verified_notify_params``,
    ``query_payment`` and identity (``app_id``, ``seller_id``, ``gateway_url``)."""

    withholding_channels = (WITHHOLDING_CHANNEL,)
    withholding_rules = ALIPAY_WITHHOLDING_RULES
    sign_scene = DEFAULT_SIGN_SCENE

    # -- agreements -------------------------------------------------------------
    def _agreement_key(self, agreement_no: str) -> dict:
        return {
            "personal_product_code": PERSONAL_PRODUCT_CODE,
            "sign_scene": self.sign_scene,
            "external_agreement_no": agreement_no,
        }

    def agreement_sign(self, request: AgreementRequest) -> PaymentAction:
        if request.channel not in self.withholding_channels:
            raise GatewayRejected(
                f"no such Alipay withholding channel {request.channel!r}", gateway_code="CHANNEL"
            )
        if request.currency != "CNY":
            raise GatewayRejected(f"Alipay takes CNY, not {request.currency}", gateway_code="CURRENCY")
        if not (
            isinstance(request.agreement_no, str) and EXTERNAL_AGREEMENT_NO.fullmatch(request.agreement_no)
        ):
            raise GatewayRejected(
                "Alipay's external_agreement_no is 1 to 32 letters and digits", gateway_code="AGREEMENT_NO"
            )
        _check_amount(request.amount)
        problem = period_rule_problem(request.period_unit, request.period, request.first_charge_on)
        if problem:
            raise GatewayRejected(f"Alipay period rule: {problem}", gateway_code="PERIOD_RULE")
        biz = {
            "personal_product_code": PERSONAL_PRODUCT_CODE,
            "product_code": PRODUCT_CODE,
            "sign_scene": self.sign_scene,
            "external_agreement_no": request.agreement_no,
            "access_params": {"channel": ACCESS_CHANNEL},
            "period_rule_params": {
                "period_type": "DAY" if request.period_unit == PeriodUnit.DAY else "MONTH",
                "period": request.period,
                "execute_time": request.first_charge_on.isoformat(),
                "single_amount": fen_to_yuan(request.amount),
            },
        }
        # A page interface: the payer's browser carries the signed request to Alipay.
        params = self._signed_params(
            "alipay.user.agreement.page.sign",
            biz,
            notify_url=request.notify_url,
            return_url=request.return_url,
        )
        return PaymentAction(kind="redirect", redirect_url=f"{self.gateway_url}?{query_string(params)}")

    def agreement_query(self, agreement_no: str) -> AgreementStatus:
        data = self._answer(
            "agreement_query",
            "alipay.user.agreement.query",
            self._agreement_key(agreement_no),
            trade_no=agreement_no,
        )
        code, sub_code = str(data.get("code", "")), str(data.get("sub_code", ""))
        if code != SUCCESS_CODE:
            if sub_code in AGREEMENT_NOT_FOUND_CODES:
                return AgreementStatus(
                    agreement_no=agreement_no, state=AgreementState.NOT_FOUND, merchant_ids=self.merchant_ids
                )
            _raise_refusal(data)
        if str(data.get("external_agreement_no") or agreement_no) != agreement_no:
            raise InvalidResponse("alipay agreement query answered for another agreement")
        status = str(data.get("status", ""))
        if status not in QUERY_STATES:
            raise InvalidResponse(f"alipay agreement query: unknown status {status!r}")
        return AgreementStatus(
            agreement_no=agreement_no,
            state=QUERY_STATES[status],
            gateway_agreement_id=str(data.get("agreement_no", "")),
            payer_id=str(data.get("principal_id") or data.get("alipay_user_id") or ""),
            signed_at=parse_alipay_time(str(data.get("sign_time", ""))),
            # Answered for our app only, signed by Alipay: the app's seller is ours.
            merchant_ids=self.merchant_ids,
        )

    def agreement_terminate(self, *, agreement_no: str, gateway_agreement_id: str, reason: str) -> None:
        """Unsign (``reason`` stays in kpay: the call has no field for it). No
        ``notify_url``: the result is this answer, and Alipay sends its notification to
        the app's gateway address. An unknown or ended agreement is fine."""
        biz = (
            {"agreement_no": gateway_agreement_id}
            if gateway_agreement_id
            else self._agreement_key(agreement_no)
        )
        data = self._answer("agreement_terminate", "alipay.user.agreement.unsign", biz, trade_no=agreement_no)
        if (
            str(data.get("code", "")) == SUCCESS_CODE
            or str(data.get("sub_code", "")) in AGREEMENT_NOT_FOUND_CODES
        ):
            return
        _raise_refusal(data)

    def agreement_reschedule(
        self, *, agreement_no: str, gateway_agreement_id: str, next_charge_on: date
    ) -> None:
        """``alipay.user.agreement.executionplan.modify``: the next charge's day, later than
        the current one (a failed charge keeps its day; a successful one moved it a period
        on)."""
        if not gateway_agreement_id:
            raise GatewayRejected(
                "the agreement has no Alipay agreement_no (never signed)", gateway_code="AGREEMENT_NO"
            )
        self._call(
            "agreement_reschedule",
            "alipay.user.agreement.executionplan.modify",
            {"agreement_no": gateway_agreement_id, "deduct_time": next_charge_on.isoformat()},
            trade_no=agreement_no,
        )

    def parse_agreement_notification(self, headers, body: bytes) -> AgreementNotification:
        params = self._verified_notify_params(body)
        notify_type = params.get("notify_type", "")
        if notify_type not in ("dut_user_sign", "dut_user_unsign"):
            raise InvalidNotification(f"not an agreement notification: notify_type {notify_type!r}")
        expected_status, state, time_field = (
            ("NORMAL", AgreementState.ACTIVE, "sign_time")
            if notify_type == "dut_user_sign"
            else ("UNSIGN", AgreementState.TERMINATED, "unsign_time")
        )
        status = params.get("status", "")
        if status != expected_status:
            raise InvalidNotification(f"malformed notification: {notify_type} with status {status!r}")
        event_id, agreement_no, gateway_agreement_id = (
            params.get("notify_id", ""),
            params.get("external_agreement_no", ""),
            params.get("agreement_no", ""),
        )
        if not (event_id and agreement_no and gateway_agreement_id):
            raise InvalidNotification(
                "malformed notification: notify_id, agreement_no or external_agreement_no missing"
            )
        occurred_at = None
        if params.get(time_field):
            occurred_at = parse_alipay_time(params[time_field])
            if occurred_at is None:
                raise InvalidNotification(f"malformed notification: {time_field} {params[time_field]!r}")
        app_id = params.get("app_id", "")
        return AgreementNotification(
            event_id=event_id,
            agreement_no=agreement_no,
            state=state,
            gateway_agreement_id=gateway_agreement_id,
            payer_id=params.get("alipay_user_id", ""),
            occurred_at=occurred_at,
            # Alipay does not say who ended it; kpay's own unsign is in kpay's records.
            by_payer=notify_type == "dut_user_unsign",
            # The notification names the app, not the seller: the seller is ours only
            # when the (signed) app is, and a stranger's app shows as a mismatch.
            merchant_ids={"app_id": app_id, "seller_id": self.seller_id if app_id == self.app_id else ""},
            payload={k: v for k, v in params.items() if k != "sign"},
        )

    def agreement_notification_reply(self, *, ok: bool, message: str = "") -> NotificationReply:
        return self.notification_reply(ok=ok, message=message)

    # -- charges ----------------------------------------------------------------
    def charge(self, request: ChargeRequest) -> TradeStatus:
        if request.currency != "CNY":
            raise GatewayRejected(f"Alipay takes CNY, not {request.currency}", gateway_code="CURRENCY")
        if not request.gateway_agreement_id:
            raise GatewayRejected("no Alipay agreement_no to charge under", gateway_code="AGREEMENT_NO")
        _check_amount(request.amount)
        biz = {
            "out_trade_no": request.payment_no,
            "total_amount": fen_to_yuan(request.amount),
            "subject": request.description[:256],
            "product_code": PRODUCT_CODE,
            "agreement_params": {"agreement_no": request.gateway_agreement_id},
        }
        data = self._answer(
            "charge", "alipay.trade.pay", biz, trade_no=request.payment_no, notify_url=request.notify_url
        )
        code, sub_code = str(data.get("code", "")), str(data.get("sub_code", ""))
        if code == SUCCESS_CODE:
            return self._charge_status(request, data)
        if code in (PAYING_CODE, UNAVAILABLE_CODE) or sub_code in UNKNOWN_OUTCOME_SUB_CODES:
            return TradeStatus(payment_no=request.payment_no, state=TradeState.PENDING)
        if code != BUSINESS_FAILURE_CODE:  # 40001/40002/20001: our request or our keys are wrong
            _raise_refusal(data)
        if sub_code in ("ACQ.TRADE_HAS_SUCCESS", "ACQ.TRADE_HAS_CLOSE", "ACQ.CONTEXT_INCONSISTENT"):
            # The number was used before: report that trade, never charge again.
            known = self.query_payment(request.payment_no)
            if known.state in (TradeState.SUCCEEDED, TradeState.CLOSED):
                return known
        return TradeStatus(
            payment_no=request.payment_no,
            state=TradeState.FAILED,
            currency="CNY",
            merchant_ids=self.merchant_ids,
            failure_code=sub_code or code,
            failure_message=str(data.get("sub_msg") or data.get("msg") or ""),
        )

    def _charge_status(self, request: ChargeRequest, data: Mapping) -> TradeStatus:
        if str(data.get("out_trade_no") or request.payment_no) != request.payment_no:
            raise InvalidResponse("alipay charge answered for another trade")
        try:
            amount = yuan_to_fen(data["total_amount"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidResponse(f"alipay charge: bad total_amount: {exc}") from exc
        trade_status = str(data.get("trade_status") or "TRADE_SUCCESS")
        state = (
            TradeState.SUCCEEDED
            if trade_status in ("TRADE_SUCCESS", "TRADE_FINISHED")
            else TradeState.PENDING
        )
        return TradeStatus(
            payment_no=request.payment_no,
            state=state,
            gateway_txn_id=str(data.get("trade_no", "")),
            amount=amount,
            currency="CNY",
            paid_at=parse_alipay_time(str(data.get("gmt_payment", ""))),
            payer_id=str(data.get("buyer_user_id") or data.get("buyer_id") or ""),
            merchant_ids=self.merchant_ids,
        )


def _check_amount(amount) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= MAX_AMOUNT:
        raise GatewayRejected("Alipay amounts are 0.01 to 100000000.00 yuan", gateway_code="AMOUNT")


def _raise_refusal(data: Mapping) -> None:
    if str(data.get("code", "")) == UNAVAILABLE_CODE:
        raise GatewayUnavailable()
    sub_code = str(data.get("sub_code", ""))
    message = str(data.get("sub_msg") or data.get("msg") or "") or None
    if sub_code == "ACQ.TRADE_HAS_SUCCESS":
        raise TradeAlreadyPaid(message, gateway_code=sub_code)
    raise GatewayRejected(message, gateway_code=sub_code or str(data.get("code", "")))
