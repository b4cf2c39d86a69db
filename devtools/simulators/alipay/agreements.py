"""The simulated Alipay's 周期扣款 (cycle withholding): the signing page behind
``alipay.user.agreement.page.sign``, ``alipay.user.agreement.query`` / ``.unsign`` /
``.executionplan.modify``, ``alipay.trade.pay`` under an agreement, and the
``dut_user_sign`` / ``dut_user_unsign`` notifications, delivered with Alipay's retries.

The protocol facts, and where they come from, are in :mod:`payments.gateways.alipay.agreements`.
What the simulator holds to, as Alipay does:

* signing: a signed request (RSA2, checked like every ``gateway.do`` call), the cycle pay
  product (``CYCLE_PAY_AUTH_P``), a scene that is not ``DEFAULT|DEFAULT``, an
  ``external_agreement_no`` of 1–32 letters and digits, and a period rule: DAY ≥ 7,
  MONTH with ``execute_time`` on the 1st–28th, ``single_amount`` > 0;
* charging (``product_code`` ``CYCLE_PAY_AUTH``, ``agreement_params.agreement_no``): a
  signed agreement, at most ``single_amount`` (and the optional totals), from 3 days before
  the scheduled day to that day (Beijing), once per period; an ``out_trade_no`` pays once;
  a payer whose balance is short (``balance_short``, a button on the signing page) fails
  with ``ACQ.BUYER_BALANCE_NOT_ENOUGH`` and may be charged again, with the same number,
  once it is not;
* notifications: signing to page.sign's ``notify_url``; kpay's unsign to unsign's
  ``notify_url``; the payer's unsign only to the app's gateway address (应用网关). The
  simulator has no open platform console: an app's gateway address is taken to be the
  ``notify_url`` its agreement was signed with, which is what kpay's console setting must
  be.

Charges are ordinary simulated trades (``AlipayTrade``, method ``alipay.trade.pay``):
queried, refunded and billed like any other.
"""

import re
import secrets
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_http_methods

from core.money import fen_to_yuan, yuan_to_fen
from devtools.simulators.notifier import notification_schedule
from payments.gateways.alipay import protocol

from .locks import agreement_lock
from .models import AlipayAgreement, AlipayTrade
from .views import (
    GATEWAY,
    MAX_AMOUNT,
    PAID,
    URL_NAMESPACE,
    _failure,
    _success,
    _trade_notify_fields,
    notify_body,
    seller_id_for,
    signed_notify_params,
)

PERSONAL_PRODUCT_CODE = "CYCLE_PAY_AUTH_P"
PRODUCT_CODE = "CYCLE_PAY_AUTH"
ACCESS_CHANNELS = ("ALIPAYAPP", "QRCODE", "QRCODEORSMS")
MIN_DAY_PERIOD = 7
LAST_MONTHLY_DAY = 28
EARLY_DAYS = 3
INVALID_TIME = "2115-02-01 00:00:00"  # what real dut_user_sign notifications carry
EXTERNAL_AGREEMENT_NO = re.compile(r"[A-Za-z0-9]{1,32}")
NOT_FOUND = ("USER_AGREEMENT_NOT_EXIST", "用户协议不存在 (no such agreement, or it has ended)")


def beijing_today() -> date:
    """The simulator's day for the charge window: ``KPAY_SIMULATOR_ALIPAY_NOW`` (an aware
    datetime or ISO 8601 text) when set, for tests and demos, else now."""
    fixed = getattr(settings, "KPAY_SIMULATOR_ALIPAY_NOW", None)
    if isinstance(fixed, str):
        fixed = parse_datetime(fixed)
    moment = fixed if isinstance(fixed, datetime) else timezone.now()
    return timezone.localdate(moment, timezone=protocol.SHANGHAI)


def next_period(agreement: AlipayAgreement, day: date) -> date:
    """``day`` moved one period on: DAY periods by days, MONTH periods to the same day of
    the month (1st–28th, so every month has it)."""
    if agreement.period_type == AlipayAgreement.PeriodType.DAY:
        return day + timedelta(days=agreement.period)
    months = day.month - 1 + agreement.period
    return day.replace(year=day.year + months // 12, month=months % 12 + 1)


# -- notifications ------------------------------------------------------------------
def _masked_logon_id(user_id: str) -> str:
    return f"{secrets.choice(['139', '186', '158'])}******{user_id[-2:]}"


def _agreement_notify_fields(agreement: AlipayAgreement, notify_type: str) -> dict:
    fields = {
        "notify_type": notify_type,
        "charset": "UTF-8",
        "app_id": agreement.app_id,
        "auth_app_id": agreement.app_id,
        "agreement_no": agreement.agreement_no,
        "external_agreement_no": agreement.external_agreement_no,
        "personal_product_code": agreement.personal_product_code,
        "sign_scene": agreement.sign_scene,
        "alipay_user_id": agreement.alipay_user_id,
        "alipay_logon_id": agreement.alipay_logon_id,
        "status": agreement.status,
    }
    if notify_type == "dut_user_sign":
        signed = protocol.alipay_timestamp(agreement.sign_time)
        fields |= {"sign_time": signed, "valid_time": signed, "invalid_time": INVALID_TIME}
    else:
        fields["unsign_time"] = protocol.alipay_timestamp(agreement.unsign_time)
    return fields


def _queue_agreement_notify(agreement: AlipayAgreement, notify_type: str, url: str) -> None:
    if not url:  # no address: Alipay would use the app's gateway, which the simulator has not
        return
    params = signed_notify_params(_agreement_notify_fields(agreement, notify_type))
    notification_schedule(gateway=GATEWAY, event_id=params["notify_id"], url=url, body=notify_body(params))


def app_gateway_url(agreement: AlipayAgreement) -> str:
    """The app's gateway address (应用网关), where Alipay sends what no request named an
    address for: the simulator stands in the address the agreement was signed with."""
    return agreement.notify_url


# -- alipay.user.agreement.page.sign ----------------------------------------------------
def _period_rule(biz: dict) -> tuple[dict | None, str]:
    rule = biz.get("period_rule_params")
    if not isinstance(rule, dict):
        return None, "period_rule_params is required for CYCLE_PAY_AUTH_P"
    period_type = rule.get("period_type")
    if period_type not in AlipayAgreement.PeriodType.values:
        return None, "period_type must be DAY or MONTH"
    period = rule.get("period")
    if isinstance(period, str) and period.isascii() and period.isdigit():
        period = int(period)
    if isinstance(period, bool) or not isinstance(period, int) or not 1 <= period <= 10_000:
        return None, "period must be a whole number"
    if period_type == "DAY" and period < MIN_DAY_PERIOD:
        return None, f"周期类型为DAY时，period不允许小于{MIN_DAY_PERIOD} (DAY periods are at least 7 days)"
    try:
        execute_time = date.fromisoformat(str(rule.get("execute_time", "")))
    except ValueError:
        return None, "execute_time must be yyyy-MM-dd"
    if period_type == "MONTH" and execute_time.day > LAST_MONTHLY_DAY:
        return None, "周期类型为MONTH时，execute_time不允许传28日之后的日期 (1st to 28th only)"
    amounts = {}
    for name, required in (("single_amount", True), ("total_amount", False)):
        if rule.get(name) in (None, "") and not required:
            amounts[name] = None
            continue
        try:
            amounts[name] = yuan_to_fen(str(rule.get(name, "")))
        except ValueError:
            amounts[name] = 0
        if not 1 <= amounts[name] <= MAX_AMOUNT:
            return None, f"{name} must be 0.01–100000000.00 yuan"
    total_payments = rule.get("total_payments")
    if total_payments in (None, ""):
        total_payments = None
    elif isinstance(total_payments, bool) or not isinstance(total_payments, int) or total_payments < 1:
        return None, "total_payments must be a whole number of at least 1"
    return {
        "period_type": period_type,
        "period": period,
        "execute_time": execute_time,
        "single_amount": amounts["single_amount"],
        "total_amount": amounts["total_amount"],
        "total_payments": total_payments,
    }, ""


def _page_sign(request, method, params, biz):
    """The payer's browser brought a signed page.sign request: keep the agreement asked
    for and show the signing page."""
    if biz.get("personal_product_code") != PERSONAL_PRODUCT_CODE:
        return _failure(
            method, "PRODUCT_CODE_NOT_SUPPORTED_ERROR", "无效的个人产品码 (this app has CYCLE_PAY_AUTH_P)"
        )
    if biz.get("product_code") not in (None, "", PRODUCT_CODE):
        return _failure(method, "PRODUCT_CODE_NOT_SUPPORTED_ERROR", "销售产品码 must be CYCLE_PAY_AUTH")
    external_no = biz.get("external_agreement_no")
    if not (isinstance(external_no, str) and EXTERNAL_AGREEMENT_NO.fullmatch(external_no)):
        return _failure(method, "INVALID_PARAMETER", "external_agreement_no: 1–32 letters and digits")
    scene = biz.get("sign_scene")
    if not isinstance(scene, str) or not scene or scene == "DEFAULT|DEFAULT":
        return _failure(method, "INVALID_PARAMETER", "sign_scene is required with external_agreement_no")
    access = biz.get("access_params")
    if not isinstance(access, dict) or access.get("channel") not in ACCESS_CHANNELS:
        return _failure(
            method, "INVALID_PARAMETER", "access_params.channel: ALIPAYAPP, QRCODE or QRCODEORSMS"
        )
    rule, problem = _period_rule(biz)
    if rule is None:
        return _failure(method, "INVALID_PARAMETER", problem)
    fields = {
        "personal_product_code": PERSONAL_PRODUCT_CODE,
        "sign_scene": scene,
        "access_channel": access["channel"],
        "notify_url": params.get("notify_url", "")[:500],
        "return_url": params.get("return_url", "")[:500],
        **rule,
        "next_deduct_date": rule["execute_time"],
    }
    lookup = {"app_id": params["app_id"], "external_agreement_no": external_no}
    with transaction.atomic():
        agreement = (
            AlipayAgreement.objects.exclude(status=AlipayAgreement.Status.UNSIGN).filter(**lookup).first()
        )
        if agreement is None:
            try:
                with transaction.atomic():
                    agreement = AlipayAgreement.objects.create(
                        **lookup,
                        **fields,
                        token=secrets.token_urlsafe(24),
                        agreement_no=f"{beijing_today():%Y}{secrets.randbelow(10**16):016d}",
                    )
            except IntegrityError:
                agreement = AlipayAgreement.objects.exclude(status=AlipayAgreement.Status.UNSIGN).get(
                    **lookup
                )
        elif agreement.status == AlipayAgreement.Status.REQUESTED:
            # Not signed yet: the page shows the latest request's terms.
            agreement = agreement_lock(agreement.pk)
            if agreement.status == AlipayAgreement.Status.REQUESTED:
                for name, value in fields.items():
                    setattr(agreement, name, value)
                agreement.save(update_fields=list(fields))
    return HttpResponseRedirect(reverse(f"{URL_NAMESPACE}:agreement", args=[agreement.token]))


# -- the signing page (and the payer's wallet) ----------------------------------------
def _rule_text(agreement: AlipayAgreement) -> str:
    unit = "天 days" if agreement.period_type == AlipayAgreement.PeriodType.DAY else "个月 months"
    return f"每 {agreement.period} {unit}，首次 {agreement.execute_time:%Y-%m-%d}"


@require_http_methods(["GET", "POST"])
def agreement_page(request, token):
    """The payer signs (or declines) here; once signed, the same page stands in for the
    wallet's 自动扣款 settings: unsign, and a balance switch to make charges fail."""
    agreement = get_object_or_404(AlipayAgreement, token=token)
    problem = ""
    if request.method == "POST":
        action = request.POST.get("action")
        with transaction.atomic():
            agreement = agreement_lock(agreement.pk)
            status = agreement.status
            if action == "sign" and status == AlipayAgreement.Status.REQUESTED:
                agreement.alipay_user_id = f"2088{secrets.randbelow(10**12):012d}"
                agreement.alipay_logon_id = _masked_logon_id(agreement.alipay_user_id)
                agreement.status, agreement.sign_time = AlipayAgreement.Status.NORMAL, timezone.now()
                agreement.save(update_fields=["alipay_user_id", "alipay_logon_id", "status", "sign_time"])
                _queue_agreement_notify(agreement, "dut_user_sign", agreement.notify_url)
            elif action == "decline" and status == AlipayAgreement.Status.REQUESTED:
                problem = "Not signed. 已取消 — nothing is notified; the link still works."
            elif action == "unsign" and status == AlipayAgreement.Status.NORMAL:
                agreement.status, agreement.unsign_time = AlipayAgreement.Status.UNSIGN, timezone.now()
                agreement.save(update_fields=["status", "unsign_time"])
                _queue_agreement_notify(agreement, "dut_user_unsign", app_gateway_url(agreement))
            elif action in ("balance_short", "balance_ok") and status == AlipayAgreement.Status.NORMAL:
                agreement.balance_short = action == "balance_short"
                agreement.save(update_fields=["balance_short"])
            else:
                problem = f"Cannot {action or 'do that'} now: the agreement is {status}."
        if action == "sign" and not problem and agreement.return_url:
            return HttpResponseRedirect(agreement.return_url)
    return render(
        request,
        "sim_alipay/agreement.html",
        {
            "agreement": agreement,
            "single": fen_to_yuan(agreement.single_amount),
            "rule": _rule_text(agreement),
            "problem": problem,
        },
    )


# -- alipay.user.agreement.query / unsign / executionplan.modify ---------------------------
def _agreement(params: dict, biz: dict) -> tuple[AlipayAgreement | None, str]:
    """The signed agreement named in biz_content, or (None, why the request is invalid —
    "" when it is valid but names no signed agreement)."""
    signed = AlipayAgreement.objects.filter(app_id=params["app_id"], status=AlipayAgreement.Status.NORMAL)
    if biz.get("agreement_no"):  # given, it wins: the other fields are ignored
        return signed.filter(agreement_no=str(biz["agreement_no"])).first(), ""
    external_no = biz.get("external_agreement_no")
    if not external_no:
        return None, "agreement_no or external_agreement_no is required"
    scene = biz.get("sign_scene")
    if not scene or scene == "DEFAULT|DEFAULT":
        return None, "sign_scene is required with external_agreement_no"
    return signed.filter(
        external_agreement_no=str(external_no),
        sign_scene=str(scene),
        personal_product_code=str(biz.get("personal_product_code") or PERSONAL_PRODUCT_CODE),
    ).first(), ""


def _agreement_query(request, method, params, biz):
    agreement, problem = _agreement(params, biz)
    if problem:
        return _failure(method, "INVALID_PARAMETER", problem)
    if agreement is None:
        return _failure(method, *NOT_FOUND)
    signed = protocol.alipay_timestamp(agreement.sign_time)
    fields = {
        "agreement_no": agreement.agreement_no,
        "external_agreement_no": agreement.external_agreement_no,
        "personal_product_code": agreement.personal_product_code,
        "sign_scene": agreement.sign_scene,
        "status": agreement.status,
        "sign_time": signed,
        "valid_time": signed,
        "invalid_time": INVALID_TIME,
        "alipay_logon_id": agreement.alipay_logon_id,
        "principal_id": agreement.alipay_user_id,
        "third_party_type": "PARTNER",
        "single_quota": fen_to_yuan(agreement.single_amount),
        "next_deduct_time": agreement.next_deduct_date.isoformat(),
    }
    if agreement.last_deduct_time:
        fields["last_deduct_time"] = protocol.alipay_timestamp(agreement.last_deduct_time)
    return _success(method, **fields)


def _agreement_unsign(request, method, params, biz):
    found, problem = _agreement(params, biz)
    if problem:
        return _failure(method, "INVALID_PARAMETER", problem)
    if found is None:
        return _failure(method, *NOT_FOUND)
    with transaction.atomic():
        agreement = agreement_lock(found.pk)
        if agreement.status != AlipayAgreement.Status.NORMAL:
            return _failure(method, *NOT_FOUND)
        agreement.status, agreement.unsign_time = AlipayAgreement.Status.UNSIGN, timezone.now()
        agreement.save(update_fields=["status", "unsign_time"])
        # notify_url, else the app's gateway address.
        _queue_agreement_notify(
            agreement, "dut_user_unsign", params.get("notify_url") or app_gateway_url(agreement)
        )
    return _success(method)


def _execution_plan_modify(request, method, params, biz):
    if not biz.get("agreement_no"):
        return _failure(method, "INVALID_PARAMETER", "agreement_no is required")
    try:
        deduct = date.fromisoformat(str(biz.get("deduct_time", "")))
    except ValueError:
        return _failure(method, "ILLEGAL_EXECUTION_TIME", "执行计划时间参数非法 (deduct_time: yyyy-MM-dd)")
    found, _problem = _agreement(params, {"agreement_no": biz["agreement_no"]})
    if found is None:
        return _failure(method, *NOT_FOUND)
    with transaction.atomic():
        agreement = agreement_lock(found.pk)
        if agreement.status != AlipayAgreement.Status.NORMAL:
            return _failure(method, *NOT_FOUND)
        if deduct <= agreement.next_deduct_date or (
            agreement.period_type == AlipayAgreement.PeriodType.MONTH and deduct.day > LAST_MONTHLY_DAY
        ):
            return _failure(
                method,
                "ILLEGAL_EXECUTION_TIME",
                "执行计划时间参数非法 (only later than the next charge's day; MONTH: the 1st–28th)",
            )
        agreement.next_deduct_date = deduct
        agreement.save(update_fields=["next_deduct_date"])
    return _success(method, agreement_no=agreement.agreement_no, deduct_time=deduct.isoformat())


# -- alipay.trade.pay under an agreement ----------------------------------------------
def _charge_answer(method: str, trade: AlipayTrade):
    yuan = fen_to_yuan(trade.total_amount)
    return _success(
        method,
        trade_no=trade.trade_no,
        out_trade_no=trade.out_trade_no,
        buyer_logon_id=trade.buyer_logon_id,
        buyer_user_id=trade.buyer_id,
        total_amount=yuan,
        receipt_amount=yuan,
        buyer_pay_amount=yuan,
        gmt_payment=protocol.alipay_timestamp(trade.gmt_payment),
        fund_bill_list=[{"fund_channel": "ALIPAYACCOUNT", "amount": yuan}],
    )


def _charge_refusal(agreement: AlipayAgreement, amount: int) -> tuple[str, str]:
    """Why this agreement may not be charged ``amount`` today, as Alipay's sub-code."""
    if amount > agreement.single_amount:
        return "ACQ.CYCLE_PAY_SINGLE_FEE_EXCEED", "周期扣款的单笔金额超过签约时限制 (above single_amount)"
    if agreement.total_amount is not None and agreement.deducted_total + amount > agreement.total_amount:
        return "ACQ.CYCLE_PAY_TOTAL_FEE_EXCEED", "周期扣款的累计金额超过签约时限制 (above total_amount)"
    if agreement.total_payments is not None and agreement.deducted_count >= agreement.total_payments:
        return "ACQ.CYCLE_PAY_TOTAL_TIMES_EXCEED", "周期扣款的总次数超过签约时限制 (total_payments reached)"
    today = beijing_today()
    if not agreement.next_deduct_date - timedelta(days=EARLY_DAYS) <= today <= agreement.next_deduct_date:
        return (
            "ACQ.CYCLE_PAY_DATE_NOT_MATCH",
            "扣款日期不在签约时的允许范围之内 "
            f"(next charge {agreement.next_deduct_date}, from {EARLY_DAYS} days before)",
        )
    if agreement.balance_short:
        return "ACQ.BUYER_BALANCE_NOT_ENOUGH", "买家余额不足 (the payer's balance is short)"
    return "", ""


def _trade_pay(request, method, params, biz):
    """A charge under an agreement (this simulator has no bar-code payments)."""
    agreement_params = biz.get("agreement_params")
    if not isinstance(agreement_params, dict) or not agreement_params.get("agreement_no"):
        return _failure(method, "ACQ.INVALID_PARAMETER", "agreement_params.agreement_no is required here")
    if biz.get("product_code") != PRODUCT_CODE:
        return _failure(
            method, "ACQ.ACCESS_FORBIDDEN", "无权限使用接口 (product_code must be CYCLE_PAY_AUTH)"
        )
    out_trade_no, subject = str(biz.get("out_trade_no", "")), str(biz.get("subject", ""))
    if not (out_trade_no and len(out_trade_no) <= 64 and subject and len(subject) <= 256):
        return _failure(method, "ACQ.INVALID_PARAMETER", "out_trade_no (≤64) and subject (≤256) are required")
    try:
        amount = yuan_to_fen(str(biz.get("total_amount", "")))
    except ValueError:
        amount = 0
    if not 1 <= amount <= MAX_AMOUNT:
        return _failure(method, "ACQ.TOTAL_FEE_EXCEED", "订单总金额超过限额 (0.01–100000000.00 yuan)")
    lookup = {"app_id": params["app_id"], "out_trade_no": out_trade_no}
    existing = AlipayTrade.objects.filter(**lookup).first()
    if existing is not None:
        return _known_trade(method, existing, amount, subject)
    found = AlipayAgreement.objects.filter(
        app_id=params["app_id"],
        agreement_no=str(agreement_params["agreement_no"]),
        status=AlipayAgreement.Status.NORMAL,
    ).first()
    if found is None:
        return _failure(
            method, "ACQ.AGREEMENT_NOT_EXIST", "用户协议不存在或已解约 (no such agreement, or it has ended)"
        )
    with transaction.atomic():
        agreement = agreement_lock(found.pk)
        if agreement.status != AlipayAgreement.Status.NORMAL:
            return _failure(method, "ACQ.AGREEMENT_NOT_EXIST", "用户协议不存在或已解约")
        existing = AlipayTrade.objects.filter(**lookup).first()  # a copy that raced us
        if existing is not None:
            return _known_trade(method, existing, amount, subject)
        sub_code, sub_msg = _charge_refusal(agreement, amount)
        if sub_code:  # refused: no trade, and the same number may be charged again
            return _failure(method, sub_code, sub_msg)
        now = timezone.now()
        trade = AlipayTrade.objects.create(
            **lookup,
            seller_id=seller_id_for(params["app_id"]),
            method=method,
            total_amount=amount,
            subject=subject,
            notify_url=params.get("notify_url", "")[:500],
            status=AlipayTrade.Status.TRADE_SUCCESS,
            trade_no=f"{timezone.localdate():%Y%m%d}22{secrets.randbelow(10**22):022d}",
            token=secrets.token_urlsafe(24),
            buyer_id=agreement.alipay_user_id,
            buyer_logon_id=agreement.alipay_logon_id,
            gmt_payment=now,
        )
        agreement.next_deduct_date = next_period(agreement, agreement.next_deduct_date)
        agreement.last_deduct_time = now
        agreement.deducted_count += 1
        agreement.deducted_total += amount
        agreement.save(
            update_fields=["next_deduct_date", "last_deduct_time", "deducted_count", "deducted_total"]
        )
        if trade.notify_url:
            fields = signed_notify_params(_trade_notify_fields(trade))
            notification_schedule(
                gateway=GATEWAY, event_id=fields["notify_id"], url=trade.notify_url, body=notify_body(fields)
            )
    return _charge_answer(method, trade)


def _known_trade(method: str, trade: AlipayTrade, amount: int, subject: str):
    """The out_trade_no was used before: it pays once."""
    if trade.status in PAID:
        return _failure(method, "ACQ.TRADE_HAS_SUCCESS", "交易已被支付 (trade already paid)")
    if trade.status == AlipayTrade.Status.TRADE_CLOSED:
        return _failure(method, "ACQ.TRADE_HAS_CLOSE", "交易已经关闭 (trade closed)")
    if (trade.total_amount, trade.subject) != (amount, subject):
        return _failure(
            method, "ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改 (out_trade_no reused, other parameters)"
        )
    return _failure(method, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法 (the trade waits for its payer)")


HANDLERS = {
    "alipay.user.agreement.page.sign": _page_sign,
    "alipay.user.agreement.query": _agreement_query,
    "alipay.user.agreement.unsign": _agreement_unsign,
    "alipay.user.agreement.executionplan.modify": _execution_plan_modify,
    "alipay.trade.pay": _trade_pay,
}
