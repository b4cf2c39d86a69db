"""The sandbox gateway's withholding side (代扣): the signing page (also the payer's wallet
page of the agreement), agreement state, agreement and charge notifications with the
notifier's retries, pre-charge notices and charges under the rules the sandbox publishes.

Protocol and rules: :mod:`payments.gateways.sandbox.protocol`. The rules are checked on the
simulator's clock: ``KPAY_SIMULATOR_SANDBOX_NOW`` (an aware datetime) when set, so tests
can play a charge day at a chosen hour; the real time otherwise. Signatures always use
the real time.
"""

import json
import secrets
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.money import fen_to_yuan
from payments.gateways.sandbox import protocol
from payments.gateways.signing import verify_sha256_rsa

from .models import SimAgreement, SimChargeNotice, SimTrade
from .sandbox import GATEWAY, _api, _error, _merchant_key, _notify, _signed_json, _trade_resource

RULES = protocol.WITHHOLDING_RULES
ZONE = ZoneInfo(RULES.timezone)
PERIOD_UNITS = ("DAY", "MONTH")


def sim_now() -> datetime:
    """The simulator's clock for the withholding rules."""
    fixed = getattr(settings, "KPAY_SIMULATOR_SANDBOX_NOW", None)
    return fixed if fixed is not None else timezone.now()


def _local(now: datetime) -> datetime:
    return now.astimezone(ZONE)


def _within_hours(now: datetime) -> bool:
    start, end = RULES.charge_hours
    return start <= _local(now).time() <= end


def _agreement_resource(agreement: SimAgreement) -> dict:
    return {
        "merchant_id": agreement.merchant_id,
        "agreement_no": agreement.agreement_no,
        "agreement_id": agreement.agreement_id,
        "state": agreement.state,
        "payer": {"id": agreement.payer_id},
        "amount": {"limit": agreement.amount_limit, "currency": agreement.currency},
        "period": {"unit": agreement.period_unit, "count": agreement.period},
        "signed_time": agreement.signed_at.isoformat() if agreement.signed_at else None,
        "terminated_time": agreement.terminated_at.isoformat() if agreement.terminated_at else None,
        "terminated_by": agreement.terminated_by or None,
    }


def _notify_agreement(agreement: SimAgreement, event_type: str) -> None:
    _notify(agreement.notify_url, event_type, _agreement_resource(agreement))


def _terminate(agreement: SimAgreement, *, by: str) -> None:
    """End a locked agreement; the merchant hears of it when it had been signed."""
    was_active = agreement.state == SimAgreement.State.ACTIVE
    agreement.state = SimAgreement.State.TERMINATED
    agreement.terminated_at = timezone.now()
    agreement.terminated_by = by
    agreement.save(update_fields=["state", "terminated_at", "terminated_by"])
    if was_active:
        _notify_agreement(agreement, "AGREEMENT.TERMINATED")


# -- signing page (the payer's browser) ---------------------------------------------------
_SIGN_FIELDS = (
    "merchant_id",
    "agreement_no",
    "amount",
    "currency",
    "period_unit",
    "period",
    "first_charge_date",
    "description",
    "notify_url",
    "return_url",
)


def _agreement_from_sign_params(params) -> tuple[SimAgreement | None, str]:
    """Verify a signed signing URL and find or open its agreement; (None, why) if invalid."""
    if not verify_sha256_rsa(_merchant_key(), protocol.params_sign_string(params), params.get("sign", "")):
        return None, "The signing link's signature is invalid."
    try:
        fields = {
            "amount_limit": int(params["amount"]),
            "currency": params["currency"],
            "period_unit": params["period_unit"],
            "period": int(params["period"]),
            "first_charge_date": date.fromisoformat(params["first_charge_date"]),
            "description": params.get("description", "")[:256],
            "notify_url": params["notify_url"],
            "return_url": params.get("return_url", ""),
        }
    except (KeyError, ValueError):
        return None, "The signing link is incomplete."
    if fields["amount_limit"] < 1 or fields["period"] < 1 or fields["period_unit"] not in PERIOD_UNITS:
        return None, "The agreement's amount or period is invalid."
    if fields["amount_limit"] > RULES.max_amount:
        return None, "The limit is above what the gateway allows for one charge."
    lookup = {
        "gateway": GATEWAY,
        "merchant_id": params.get("merchant_id", ""),
        "agreement_no": params.get("agreement_no", ""),
    }
    agreement = SimAgreement.objects.filter(**lookup).first()
    if agreement is None:
        try:
            with transaction.atomic():
                agreement = SimAgreement.objects.create(
                    **lookup,
                    **fields,
                    agreement_id=f"SBXA{secrets.token_hex(12).upper()}",
                    token=secrets.token_urlsafe(24),
                )
        except IntegrityError:
            agreement = SimAgreement.objects.get(**lookup)
    if any(getattr(agreement, name) != value for name, value in fields.items()):
        return None, "This agreement number was already used with different terms."
    return agreement, ""


@require_GET
def agreement_sign(request):
    """The signing URL: checked, then the payer lands on the agreement's page."""
    agreement, problem = _agreement_from_sign_params(request.GET.dict())
    if agreement is None:
        return render(request, "simulators/agreement.html", {"problem": problem}, status=400)
    return HttpResponseRedirect(reverse("simulators:sandbox-agreement", args=[agreement.token]))


PAYER_ACTIONS = {"sign", "decline", "terminate", "balance_short", "balance_ok", "answer_later", "answer_now"}


@require_http_methods(["GET", "POST"])
def agreement_page(request, token):
    """What the payer sees: sign or decline, and afterwards their wallet's view of the
    agreement (end it; the simulator's switches for charges)."""
    agreement = get_object_or_404(SimAgreement, token=token)
    declined = False
    if request.method == "POST":
        action = request.POST.get("action")
        if action not in PAYER_ACTIONS:
            return render(
                request,
                "simulators/agreement.html",
                {"agreement": agreement, "problem": "Choose an action."},
                status=400,
            )
        declined = action == "decline"
        _payer_act(agreement.pk, action)
        agreement.refresh_from_db()
    return render(
        request,
        "simulators/agreement.html",
        {"agreement": agreement, "declined": declined, "limit": fen_to_yuan(agreement.amount_limit)},
    )


def _payer_act(agreement_pk: int, action: str) -> None:
    with transaction.atomic():
        agreement = SimAgreement.objects.select_for_update().get(pk=agreement_pk)
        if action == "sign" and agreement.state == SimAgreement.State.PENDING:
            agreement.state = SimAgreement.State.ACTIVE
            agreement.signed_at = timezone.now()
            agreement.payer_id = f"sbx_payer_{secrets.token_hex(6)}"
            agreement.save(update_fields=["state", "signed_at", "payer_id"])
            _notify_agreement(agreement, "AGREEMENT.SIGNED")
        elif action == "terminate" and agreement.state == SimAgreement.State.ACTIVE:
            _terminate(agreement, by="PAYER")
        elif action in ("balance_short", "balance_ok"):
            agreement.balance_short = action == "balance_short"
            agreement.save(update_fields=["balance_short"])
        elif action in ("answer_later", "answer_now"):
            agreement.answer_later = action == "answer_later"
            agreement.save(update_fields=["answer_later"])
        # "decline": nothing is signed; the merchant hears nothing (as with a real gateway).


# -- API (the merchant's server) -----------------------------------------------------------
def _locked_agreement(merchant_id: str, **lookup) -> SimAgreement | None:
    return (
        SimAgreement.objects.select_for_update()
        .filter(gateway=GATEWAY, merchant_id=merchant_id, **lookup)
        .first()
    )


def _not_found():
    return _error(404, "AGREEMENT_NOT_EXIST", "agreement does not exist")


@require_GET
@_api
def api_agreement(request, merchant_id, agreement_no):
    agreement = SimAgreement.objects.filter(
        gateway=GATEWAY, merchant_id=merchant_id, agreement_no=agreement_no
    ).first()
    if agreement is None:
        return _not_found()
    return _signed_json(_agreement_resource(agreement))


@require_POST
@_api
def api_agreement_terminate(request, merchant_id, agreement_no):
    with transaction.atomic():
        agreement = _locked_agreement(merchant_id, agreement_no=agreement_no)
        if agreement is None:
            return _not_found()
        if agreement.state != SimAgreement.State.TERMINATED:
            _terminate(agreement, by="MERCHANT")
    return _signed_json(None, status=204)


def _amount(data) -> tuple[int, str]:
    amount = data["amount"]
    total, currency = amount["total"], amount["currency"]
    if isinstance(total, bool) or not isinstance(total, int) or total < 1 or not isinstance(currency, str):
        raise ValueError("amount")
    return total, currency


def _rule_problem(agreement: SimAgreement, amount: int, currency: str, now: datetime) -> str:
    if agreement.state != SimAgreement.State.ACTIVE:
        return ""  # answered separately (AGREEMENT_NOT_ACTIVE)
    if not _within_hours(now):
        start, end = RULES.charge_hours
        return f"only between {start:%H:%M} and {end:%H:%M} Beijing time"
    if currency != agreement.currency or amount > min(agreement.amount_limit, RULES.max_amount):
        return "above the agreement's limit"
    return ""


@require_POST
@_api
def api_notice(request, merchant_id, agreement_id):
    """The pre-charge notice: the payer is told; it opens a window of charges."""
    try:
        data = json.loads(request.body)
        amount, currency = _amount(data)
        charge_date = date.fromisoformat(str(data["charge_date"]))
    except (ValueError, KeyError, TypeError):
        return _error(400, "PARAM_ERROR", "amount{total, currency} and charge_date are required")
    now = sim_now()
    with transaction.atomic():
        agreement = _locked_agreement(merchant_id, agreement_id=agreement_id)
        if agreement is None:
            return _not_found()
        if agreement.state != SimAgreement.State.ACTIVE:
            return _error(400, "AGREEMENT_NOT_ACTIVE", "the agreement is not in force")
        problem = _rule_problem(agreement, amount, currency, now)
        if problem:
            return _error(400, "RULE_LIMIT", f"notice refused: {problem}")
        SimChargeNotice.objects.create(
            agreement=agreement,
            amount=amount,
            currency=currency,
            charge_date=charge_date,
            sent_on=_local(now).date(),
        )
    return _signed_json(None, status=204)


def _covering_notice(agreement: SimAgreement, amount: int, today: date) -> SimChargeNotice | None:
    """An unused notice of at least ``amount`` whose window contains ``today``."""
    first = today - timedelta(days=RULES.notice_days + RULES.charge_window_days - 1)
    last = today - timedelta(days=RULES.notice_days)
    return (
        agreement.notices.filter(
            used_by__isnull=True, amount__gte=amount, sent_on__gte=first, sent_on__lte=last
        )
        .order_by("-sent_on", "-pk")
        .first()
    )


def _charge_answer(trade: SimTrade, agreement: SimAgreement):
    resource = _trade_resource(trade)
    if agreement.answer_later:  # accepted; the result comes as the notification
        resource.update(trade_state="ACCEPT", success_time=None)
        resource.pop("failure", None)
    return _signed_json(resource)


@require_POST
@_api
def api_charge(request, merchant_id):
    try:
        data = json.loads(request.body)
        agreement_id, out_trade_no = str(data["agreement_id"]), str(data["out_trade_no"])
        amount, currency = _amount(data)
        notify_url = str(data["notify_url"])
        description = str(data.get("description", ""))[:256]
    except (ValueError, KeyError, TypeError):
        return _error(
            400,
            "PARAM_ERROR",
            "agreement_id, out_trade_no, amount{total, currency} and notify_url are required",
        )
    now = sim_now()
    with transaction.atomic():
        agreement = _locked_agreement(merchant_id, agreement_id=agreement_id)
        if agreement is None:
            return _not_found()
        trade = SimTrade.objects.filter(
            gateway=GATEWAY, merchant_id=merchant_id, out_trade_no=out_trade_no
        ).first()
        if trade is not None:  # the trade number is the idempotency key: charged at most once
            if trade.agreement_id != agreement.pk or trade.amount != amount or trade.currency != currency:
                return _error(400, "PARAM_ERROR", "this out_trade_no was used with other parameters")
            return _charge_answer(trade, agreement)
        if agreement.state != SimAgreement.State.ACTIVE:
            return _error(400, "AGREEMENT_NOT_ACTIVE", "the agreement is not in force")
        problem = _rule_problem(agreement, amount, currency, now)
        notice = None if problem else _covering_notice(agreement, amount, _local(now).date())
        if not problem and notice is None:
            problem = "no pre-charge notice covers today (sent at least one day before, within three days)"
        if problem:
            return _error(400, "RULE_LIMIT", f"charge refused: {problem}")
        trade = SimTrade(
            gateway=GATEWAY,
            merchant_id=merchant_id,
            out_trade_no=out_trade_no,
            transaction_id=f"SBX{secrets.token_hex(12).upper()}",
            amount=amount,
            currency=currency,
            description=description,
            notify_url=notify_url,
            expire_at=timezone.now() + timedelta(days=1),
            agreement=agreement,
            payer_id=agreement.payer_id,
        )
        if agreement.balance_short:
            trade.state = SimTrade.State.PAYERROR
            trade.failure_code, trade.failure_message = "NOT_ENOUGH", "the payer's balance is too low"
            event_type = "TRADE.FAILED"
        else:
            trade.state = SimTrade.State.SUCCESS
            trade.success_time = timezone.now()
            event_type = "TRADE.SUCCESS"
        trade.save(force_insert=True)
        if trade.state == SimTrade.State.SUCCESS:
            notice.used_by = trade
            notice.save(update_fields=["used_by"])
        _notify(notify_url, event_type, _trade_resource(trade))
    return _charge_answer(trade, agreement)
