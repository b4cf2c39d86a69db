"""The WeChat Pay 委托代扣 (papay) simulator: the v2 withholding APIs, the signing page,
contract and charge notifications, and the v3 pre-charge notice.

Protocol and sources: :mod:`payments.gateways.wechatpay.papay` (its docstring lists what
the gateway's documents say) and :mod:`payments.gateways.wechatpay.v2`. The simulator
holds the merchant's v2 API key (development material in ``KPAY_KEY_DIR``), checks the
``sign`` of every request with it and signs every answer and notification with it.

What it enforces, as the documents describe WeChat Pay:

* ``entrustweb`` and ``deletecontract`` are MD5-signed; the other APIs take MD5 or
  HMAC-SHA256 (``sign_type``); answers are signed the way the request was.
* a charge needs a signed contract, at most the template's cap
  (``KPAY_SIMULATOR_PAPAY_MAX_AMOUNT`` fen, ¥500 by default), and, unless it is the first
  charge within 12 hours of signing a contract that never had a notice, an open
  pre-charge notice whose waiting period (the notice's day and the next) is over, within
  its window, for no more than the notified amount, between 07:00 and 22:00 Beijing time;
  one successful charge closes the notice's cycle.
* one ``out_trade_no`` is charged once: asking again answers ``ORDERPAID`` once paid,
  accepts again while accepted, and retries a failed charge with the same parameters.

Switches for tests and demos (settings, all optional): ``KPAY_SIMULATOR_PAPAY_NOW`` (an
aware datetime or ISO 8601 text: the simulator's clock for these rules),
``KPAY_SIMULATOR_PAPAY_ENFORCE_HOURS`` (default True). A contract's page lets the
simulated payer sign or decline, terminate it later (a ``DELETE`` notification, mode 2),
or make its charges fail for want of balance (``NOTENOUGH``), for dunning.

Simplifications: charges are settled at once (WeChat settles them shortly after
accepting); the termination notification goes to the contract's own notify URL (WeChat
sends it to the template's 解约回调地址, which the merchant sets to the same URL); any
numeric plan_id is a template.
"""

import secrets
import string
from datetime import date, datetime, time, timedelta
from functools import wraps

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.money import fen_to_yuan
from devtools.simulators.notifier import GatewayProfile, new_event_id, notification_schedule
from payments.gateways.wechatpay import v2

from . import views
from .models import WxContract, WxTrade

CONTRACT_GATEWAY = "wxpapay_contract"
PAY_GATEWAY = "wxpapay_pay"
# 签约、解约结果通知: 0/10/10/10/30/30/30 s, then 300 s 23 times; 扣款结果通知:
# 0/15/15/30/180/1800/1800/1800/1800/3600 s. The first delivery is at once.
CONTRACT_RETRY_SCHEDULE = (10, 10, 10, 30, 30, 30) + (300,) * 23
PAY_RETRY_SCHEDULE = (15, 15, 30, 180, 1800, 1800, 1800, 1800, 3600)
DEFAULT_MAX_AMOUNT = 50_000
CHARGE_HOURS = (time(7, 0), time(22, 0))
WAITING_DAYS = 2
FIRST_CHARGE_GRACE = timedelta(hours=12)
CONTRACT_LIFETIME = timedelta(days=5 * 365)
_OUT_TRADE_NO_CHARS = set(string.ascii_letters + string.digits + "_-|*@")
_XML = "text/xml; charset=utf-8"


# -- clock, keys, settings -----------------------------------------------------------------------
def now() -> datetime:
    """The simulator's clock for the papay rules: ``KPAY_SIMULATOR_PAPAY_NOW`` when set."""
    fixed = getattr(settings, "KPAY_SIMULATOR_PAPAY_NOW", None)
    if isinstance(fixed, str):
        fixed = parse_datetime(fixed)
    return fixed if isinstance(fixed, datetime) else timezone.now()


def _beijing(moment: datetime) -> datetime:
    return moment.astimezone(v2.BEIJING)


def _v2_key() -> str:
    return views.material().v2_key


def _max_amount() -> int:
    return int(getattr(settings, "KPAY_SIMULATOR_PAPAY_MAX_AMOUNT", DEFAULT_MAX_AMOUNT))


def _in_charge_hours(moment: datetime) -> bool:
    if not getattr(settings, "KPAY_SIMULATOR_PAPAY_ENFORCE_HOURS", True):
        return True
    start, end = CHARGE_HOURS
    return start <= _beijing(moment).time() <= end


def _acknowledged(response) -> bool:
    """A v2 notification is acknowledged by ``<return_code>SUCCESS</return_code>``."""
    if response.status_code != 200:
        return False
    try:
        return v2.parse_xml(response.content).get("return_code") == v2.SUCCESS
    except v2.MalformedMessage:
        return False


def _xml_headers(body: bytes) -> dict[str, str]:
    return {"Content-Type": _XML}  # v2 notifications are signed inside the body


def profiles() -> list[GatewayProfile]:
    return [
        GatewayProfile(
            name=CONTRACT_GATEWAY,
            sign_headers=_xml_headers,
            schedule=CONTRACT_RETRY_SCHEDULE,
            acknowledged=_acknowledged,
        ),
        GatewayProfile(
            name=PAY_GATEWAY,
            sign_headers=_xml_headers,
            schedule=PAY_RETRY_SCHEDULE,
            acknowledged=_acknowledged,
        ),
    ]


# -- answers ---------------------------------------------------------------------------------------
def _xml_response(fields: dict, status: int = 200) -> HttpResponse:
    return HttpResponse(v2.to_xml(fields), status=status, content_type=_XML)


def _refused(message: str) -> HttpResponse:
    """A protocol-level refusal: ``return_code=FAIL``, not signed (as WeChat Pay does)."""
    return _xml_response({"return_code": v2.FAIL, "return_msg": message})


def _answer(request_fields: dict, sign_type: str, result: dict) -> HttpResponse:
    fields = {
        "return_code": v2.SUCCESS,
        "return_msg": "OK",
        "appid": request_fields["appid"],
        "mch_id": request_fields["mch_id"],
        "nonce_str": v2.new_nonce(),
        **result,
    }
    return _xml_response(v2.signed(fields, _v2_key(), sign_type))


def _business_error(request_fields: dict, sign_type: str, code: str, message: str) -> HttpResponse:
    return _answer(
        request_fields, sign_type, {"result_code": v2.FAIL, "err_code": code, "err_code_des": message}
    )


def v2_api(*, sign_types=v2.SIGN_TYPES):
    """The server side of a v2 call: a flat XML body, signed with the merchant's v2 key
    with one of ``sign_types``. The view gets ``(request, fields, sign_type)``."""

    def decorator(view):
        @csrf_exempt
        @require_POST
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            try:
                fields = v2.parse_xml(request.body)
            except v2.MalformedMessage:
                return _refused("XML格式错误")
            sign_type = fields.get("sign_type") or v2.MD5
            if sign_type not in sign_types:
                return _refused("签名类型错误")
            if not (fields.get("appid") and fields.get("mch_id")):
                return _refused("缺少参数appid或mch_id")
            if not v2.verify(fields, _v2_key(), expected=v2.MD5):
                return _refused("签名错误")
            return view(request, fields, sign_type, *args, **kwargs)

        return wrapped

    return decorator


# -- contracts ---------------------------------------------------------------------------------------
def contract_fields(contract: WxContract) -> dict:
    """The contract as querycontract answers it."""
    fields = {
        "contract_id": contract.contract_id,
        "plan_id": contract.plan_id,
        "contract_code": contract.contract_code,
        "request_serial": contract.request_serial,
        "contract_display_account": contract.contract_display_account,
        "openid": contract.openid,
        "contract_state": "1" if contract.state == WxContract.State.TERMINATED else "0",
        "contract_signed_time": v2.format_time(contract.signed_at),
        "contract_expired_time": v2.format_time(contract.expires_at),
    }
    if contract.state == WxContract.State.TERMINATED:
        fields.update(
            contract_terminated_time=v2.format_time(contract.terminated_at),
            contract_termination_mode=contract.termination_mode,
            contract_termination_remark=contract.termination_remark,
        )
    return fields


def contract_notification_body(contract: WxContract, change_type: str) -> bytes:
    """签约/解约结果通知 (``ADD``/``DELETE``), MD5-signed; it names no appid."""
    fields = {
        "return_code": v2.SUCCESS,
        "return_msg": "OK",
        "result_code": v2.SUCCESS,
        "mch_id": contract.mchid,
        "contract_code": contract.contract_code,
        "plan_id": contract.plan_id,
        "openid": contract.openid,
        "change_type": change_type,
        "operate_time": v2.format_time(
            contract.terminated_at if change_type == "DELETE" else contract.signed_at
        ),
        "contract_id": contract.contract_id,
        "contract_expired_time": v2.format_time(contract.expires_at),
        "request_serial": contract.request_serial,
    }
    if change_type == "DELETE":
        fields["contract_termination_mode"] = contract.termination_mode
    return v2.to_xml(v2.signed(fields, _v2_key(), v2.MD5))


def _notify_contract(contract: WxContract, change_type: str) -> None:
    notification_schedule(
        gateway=CONTRACT_GATEWAY,
        event_id=new_event_id(),
        url=contract.notify_url,
        body=contract_notification_body(contract, change_type),
    )


def _lookup_contract(fields: dict):
    contracts = WxContract.objects.filter(
        mchid=fields["mch_id"],
        appid=fields["appid"],
        state__in=(WxContract.State.SIGNED, WxContract.State.TERMINATED),
    )
    if fields.get("contract_id"):
        return contracts.filter(contract_id=fields["contract_id"])
    if fields.get("plan_id") and fields.get("contract_code"):
        return contracts.filter(plan_id=fields["plan_id"], contract_code=fields["contract_code"])
    return None


@v2_api()
def api_querycontract(request, fields, sign_type):
    if fields.get("version") != "1.0":
        return _business_error(fields, sign_type, "PARAM_ERROR", "version必须为1.0")
    contracts = _lookup_contract(fields)
    if contracts is None:
        return _business_error(fields, sign_type, "PARAM_ERROR", "contract_id或plan_id+contract_code必填")
    contract = contracts.first()
    if contract is None:
        return _business_error(fields, sign_type, "CONTRACT_NOT_EXIST", "签约协议不存在")
    return _answer(fields, sign_type, {"result_code": v2.SUCCESS, **contract_fields(contract)})


@v2_api(sign_types=(v2.MD5,))  # "签名方式: MD5"
def api_deletecontract(request, fields, sign_type):
    if fields.get("version") != "1.0":
        return _business_error(fields, sign_type, "PARAM_ERROR", "version必须为1.0")
    contracts = _lookup_contract(fields)
    if contracts is None:
        return _business_error(fields, sign_type, "PARAM_ERROR", "contract_id或plan_id+contract_code必填")
    with transaction.atomic():
        contract = contracts.select_for_update().first()
        if contract is None:
            return _business_error(fields, sign_type, "CONTRACT_NOT_EXIST", "签约协议不存在")
        if contract.state == WxContract.State.TERMINATED:
            return _business_error(fields, sign_type, "INVALID_REQUEST", "该签约协议已解约")
        contract_terminate(contract, mode="3", remark=fields.get("contract_termination_remark", "")[:512])
    return _answer(
        fields,
        sign_type,
        {
            "result_code": v2.SUCCESS,
            "contract_id": contract.contract_id,
            "plan_id": contract.plan_id,
            "contract_code": contract.contract_code,
        },
    )


def contract_terminate(contract: WxContract, *, mode: str, remark: str) -> None:
    """End a signed contract (inside the caller's transaction, row locked) and notify DELETE."""
    contract.state = WxContract.State.TERMINATED
    contract.terminated_at = now()
    contract.termination_mode = mode
    contract.termination_remark = remark
    contract.notice_open = False
    contract.save(
        update_fields=["state", "terminated_at", "termination_mode", "termination_remark", "notice_open"]
    )
    _notify_contract(contract, "DELETE")


def contract_sign(contract: WxContract) -> None:
    """The payer signs (inside the caller's transaction, row locked): notify ADD."""
    signed_at = now()
    contract.state = WxContract.State.SIGNED
    contract.contract_id = f"{_beijing(signed_at):%Y%m%d}" + "".join(
        secrets.choice(string.digits) for _ in range(10)
    )
    contract.openid = contract.openid or "o" + secrets.token_urlsafe(21)[:27]
    contract.signed_at = signed_at
    contract.expires_at = signed_at + CONTRACT_LIFETIME
    contract.save(update_fields=["state", "contract_id", "openid", "signed_at", "expires_at"])
    _notify_contract(contract, "ADD")


# -- the signing page ---------------------------------------------------------------------------------
_ENTRUST_REQUIRED = (
    "appid",
    "mch_id",
    "plan_id",
    "contract_code",
    "request_serial",
    "contract_display_account",
    "notify_url",
    "version",
    "timestamp",
    "sign",
)


def _entrust_problem(params: dict) -> str:
    missing = [name for name in _ENTRUST_REQUIRED if not params.get(name)]
    if missing:
        return f"参数构造错误: missing {', '.join(missing)}"
    serial = params["request_serial"]
    if not (
        params["plan_id"].isdigit()
        and params["contract_code"].isascii()
        and params["contract_code"].isalnum()
        and len(params["contract_code"]) <= 32
        and serial.isdigit()
        and not serial.startswith("0")
        and int(serial) <= 2**63 - 1
        and len(params["timestamp"]) == 10
        and params["timestamp"].isdigit()
        and params["version"] == "1.0"
        and params["notify_url"].startswith(("http://", "https://"))
        and all(ord(ch) <= 0xFFFF for ch in params["contract_display_account"])
    ):
        return "参数构造错误"
    if params.get("sign_type", v2.MD5) != v2.MD5 or not v2.verify(params, _v2_key(), expected=v2.MD5):
        return "签约参数签名校验错误"
    return ""


@require_GET
def entrustweb(request):
    """公众号纯签约: check the signed query, then show the payer the contract to sign."""
    if any(len(values) > 1 for _name, values in request.GET.lists()):
        problem = "参数构造错误"
    else:
        problem = _entrust_problem(request.GET.dict())
    if problem:
        return render(request, "sim_wechatpay/contract.html", {"problem": problem}, status=400)
    params = request.GET.dict()
    referrer = request.headers.get("Referer", "")
    return_url = (
        referrer if params.get("return_web") == "1" and referrer.startswith(("http://", "https://")) else ""
    )
    lookup = {
        "mchid": params["mch_id"],
        "plan_id": params["plan_id"],
        "contract_code": params["contract_code"],
    }
    fields = {
        "appid": params["appid"],
        "request_serial": params["request_serial"],
        "contract_display_account": params["contract_display_account"],
        "notify_url": params["notify_url"],
        "return_url": return_url,
    }
    with transaction.atomic():
        contract = WxContract.objects.select_for_update().filter(**lookup).first()
        if contract is None:
            try:
                with transaction.atomic():
                    contract = WxContract.objects.create(**lookup, **fields, token=secrets.token_urlsafe(16))
            except IntegrityError:
                contract = WxContract.objects.select_for_update().get(**lookup)
        if contract.state in (WxContract.State.PENDING, WxContract.State.DECLINED):
            for name, value in fields.items():
                setattr(contract, name, value)
            contract.state = WxContract.State.PENDING
            contract.save(update_fields=[*fields, "state"])
    problem = (
        ""
        if contract.state == WxContract.State.PENDING
        else "该协议号已签约或已解约 · this contract code is used"
    )
    return _contract_page(request, contract, problem)


def _contract_page(request, contract: WxContract, problem: str = "", status: int = 200):
    return render(
        request,
        "sim_wechatpay/contract.html",
        {
            "contract": contract,
            "problem": problem,
            "action": reverse("simulators:wechatpay-papay-contract", args=[contract.token]),
            "return_url": _return_url(contract),
            "max_yuan": fen_to_yuan(_max_amount()),
        },
        status=status,
    )


def _return_url(contract: WxContract) -> str:
    if not contract.return_url or contract.state == WxContract.State.PENDING:
        return ""
    return contract.return_url + ("&" if "?" in contract.return_url else "?") + "from_wxpay=1"


@require_http_methods(["GET", "POST"])
def contract_page(request, token):
    """The payer's view of a contract: sign or decline it, end it later, or (for tests
    and demos) make its charges fail for want of balance."""
    contract = get_object_or_404(WxContract, token=token)
    if request.method == "GET":
        return _contract_page(request, contract)
    action = request.POST.get("action")
    with transaction.atomic():
        contract = WxContract.objects.select_for_update().get(pk=contract.pk)
        pending = contract.state == WxContract.State.PENDING
        signed = contract.state == WxContract.State.SIGNED
        if action == "sign" and pending:
            contract_sign(contract)
        elif action == "decline" and pending:  # WeChat does not notify a declined signing
            contract.state = WxContract.State.DECLINED
            contract.save(update_fields=["state"])
        elif action == "terminate" and signed:
            contract_terminate(contract, mode="2", remark="用户主动解约")
        elif action in ("balance_fail", "balance_ok") and signed:
            contract.fail_charges_with = "NOTENOUGH" if action == "balance_fail" else ""
            contract.save(update_fields=["fail_charges_with"])
        else:
            return _contract_page(
                request, contract, "This cannot be done now · 当前不能进行此操作", status=400
            )
    return _contract_page(request, contract)


# -- the pre-charge notice (v3) ------------------------------------------------------------------------
@require_POST
@views._api
def api_contract_notify(request, mchid, contract_id):
    """预扣费通知: opens the contract's charge window (after the waiting period)."""
    data = views._json_body(request)
    if data is None:
        return views._error(400, "PARAM_ERROR", "body must be a JSON object")
    duration = data.get("deduct_duration") if isinstance(data.get("deduct_duration"), dict) else {}
    amount = data.get("estimated_amount") if isinstance(data.get("estimated_amount"), dict) else {}
    count = duration.get("count")
    if data.get("mchid") != mchid or not data.get("appid"):
        return views._error(400, "PARAM_ERROR", "mchid与请求签名的商户号不一致, 或缺少appid")
    if "contract_id" in data:
        return views._error(400, "PARAM_ERROR", "contract_id是路径参数")
    if not (
        isinstance(count, int)
        and not isinstance(count, bool)
        and 1 <= count <= 31
        and duration.get("unit") == "DAY"
    ):
        return views._error(400, "PARAM_ERROR", "deduct_duration.count(1-31)与unit(DAY)必填")
    total = amount.get("amount")
    if not (
        isinstance(total, int)
        and not isinstance(total, bool)
        and total >= 1
        and amount.get("currency") == "CNY"
    ):
        return views._error(400, "PARAM_ERROR", "estimated_amount.amount(分)与currency(CNY)必填")
    moment = now()
    with transaction.atomic():
        contract = (
            WxContract.objects.select_for_update()
            .filter(mchid=mchid, appid=data["appid"], contract_id=contract_id, state=WxContract.State.SIGNED)
            .first()
        )
        if contract is None:
            return views._error(404, "RESOURCE_NOT_EXISTS", "签约协议不存在或已解约")
        if not _in_charge_hours(moment):
            return views._error(400, "INVALID_REQUEST", "只能在北京时间每天7:00~22:00下发预扣费通知")
        if total > _max_amount():
            return views._error(400, "INVALID_REQUEST", "预计扣费金额超出模板限额")
        contract.notice_day = _beijing(moment).date()
        contract.notice_days = count
        contract.notice_amount = total
        contract.notice_open = True
        contract.noticed_ever = True
        contract.save(
            update_fields=["notice_day", "notice_days", "notice_amount", "notice_open", "noticed_ever"]
        )
    return views._signed(request, None, status=204)


# -- charges ----------------------------------------------------------------------------------------------
def _charge_problem(contract: WxContract, amount: int, moment: datetime) -> tuple[str, str]:
    """Why WeChat Pay would refuse this charge now: ``(err_code, err_code_des)``."""
    if amount > _max_amount():
        return "RULELIMIT", "交易金额或次数超出限制,请检查后再试"
    grace = (
        not contract.noticed_ever
        and moment - contract.signed_at < FIRST_CHARGE_GRACE
        and not contract.charges.filter(state__in=(WxTrade.State.SUCCESS, WxTrade.State.REFUND)).exists()
    )
    if grace:
        return "", ""
    if not contract.notice_open:
        return "INVALID_REQUEST", "请先下发扣费前通知(预扣费通知)再发起扣费"
    if not _in_charge_hours(moment):
        return "INVALID_REQUEST", "只能在北京时间每天7:00~22:00发起扣款"
    today: date = _beijing(moment).date()
    first = contract.notice_day + timedelta(days=WAITING_DAYS)
    if today < first:
        return "INVALID_REQUEST", "扣费等待期内不能扣款"
    if today > first + timedelta(days=contract.notice_days - 1):
        contract.notice_open = False
        contract.save(update_fields=["notice_open"])
        return "INVALID_REQUEST", "可扣费期已结束,请重新下发预扣费通知"
    if amount > (contract.notice_amount or 0):
        return "INVALID_REQUEST", "扣款金额不能高于预计扣费金额"
    return "", ""


def _pappay_param_problem(fields: dict) -> str:
    no = fields.get("out_trade_no", "")
    for name in (
        "body",
        "out_trade_no",
        "total_fee",
        "spbill_create_ip",
        "notify_url",
        "trade_type",
        "contract_id",
    ):
        if not fields.get(name):
            return f"缺少参数{name}"
    if not (1 <= len(no) <= 32 and set(no) <= _OUT_TRADE_NO_CHARS):
        return "out_trade_no格式错误"
    if not (
        fields["total_fee"].isascii() and fields["total_fee"].isdigit() and int(fields["total_fee"]) >= 1
    ):
        return "total_fee必须为正整数(分)"
    if fields["trade_type"] != "PAP":
        return "trade_type必须为PAP"
    if fields.get("fee_type", "CNY") != "CNY":
        return "fee_type必须为CNY"
    if not fields["notify_url"].startswith(("http://", "https://")):
        return "notify_url格式错误"
    if len(fields["body"].encode()) > 127:
        return "body超长"
    return ""


_CHARGE_KEYS = ("body", "total_fee", "fee_type", "notify_url", "contract_id", "attach", "detail", "goods_tag")


@v2_api()
def api_pappayapply(request, fields, sign_type):
    """申请扣款: accept (and at once settle) a charge under a signed contract."""
    problem = _pappay_param_problem(fields)
    if problem:
        return _business_error(fields, sign_type, "PARAM_ERROR", problem)
    amount, moment = int(fields["total_fee"]), now()
    order = {name: fields.get(name, "") for name in _CHARGE_KEYS} | {
        "fee_type": fields.get("fee_type") or "CNY"
    }
    with transaction.atomic():
        contract = (
            WxContract.objects.select_for_update()
            .filter(mchid=fields["mch_id"], appid=fields["appid"], contract_id=fields["contract_id"])
            .first()
        )
        if contract is None or contract.state != WxContract.State.SIGNED:
            return _business_error(fields, sign_type, "CONTRACT_NOT_EXIST", "签约协议不存在")
        lookup = {"mchid": fields["mch_id"], "out_trade_no": fields["out_trade_no"]}
        trade = WxTrade.objects.select_for_update().filter(**lookup).first()
        if trade is not None:
            if trade.trade_type != "PAP" or trade.request_body.get("order") != order:
                return _business_error(
                    fields, sign_type, "INVALID_REQUEST", "商户订单号重复,请更换商户订单号"
                )
            if trade.state in (WxTrade.State.SUCCESS, WxTrade.State.REFUND):
                return _business_error(fields, sign_type, "ORDERPAID", "订单已支付")
            if trade.state in (WxTrade.State.ACCEPT, WxTrade.State.NOTPAY):
                return _answer(fields, sign_type, {"result_code": v2.SUCCESS})  # accepted already
        code, message = _charge_problem(contract, amount, moment)
        if code:
            return _business_error(fields, sign_type, code, message)
        if trade is None:
            trade = WxTrade.objects.create(
                **lookup,
                appid=fields["appid"],
                trade_type="PAP",
                request_body={"order": order, "sign_type": sign_type},
                description=fields["body"][:127],
                attach=fields.get("attach", "")[:128],
                notify_url=fields["notify_url"],
                amount=amount,
                currency="CNY",
                time_expire=moment + timedelta(days=1),
                token=secrets.token_urlsafe(12),
                prepay_id=f"pap{secrets.token_hex(16)}",
                key_mode="v2",
                state=WxTrade.State.ACCEPT,
                payer_openid=contract.openid,
                payer_client_ip=fields["spbill_create_ip"][:45],
                contract=contract,
            )
        else:
            trade.request_body = {"order": order, "sign_type": sign_type}
            trade.state = WxTrade.State.ACCEPT
            trade.save(update_fields=["request_body", "state"])
        charge_settle(trade, contract, moment)
    return _answer(fields, sign_type, {"result_code": v2.SUCCESS})


def charge_settle(trade: WxTrade, contract: WxContract, moment: datetime) -> None:
    """Make an accepted charge (rows locked by the caller) and notify its result."""
    if contract.fail_charges_with:
        trade.state = WxTrade.State.PAY_FAIL
        trade.err_code = contract.fail_charges_with
        trade.save(update_fields=["state", "err_code"])
    else:
        trade.state = WxTrade.State.SUCCESS
        trade.err_code = ""
        trade.success_time = moment
        trade.transaction_id = f"4200{_beijing(moment):%Y%m%d}" + "".join(
            secrets.choice(string.digits) for _ in range(16)
        )
        trade.save(update_fields=["state", "err_code", "success_time", "transaction_id"])
        contract.notice_open = False  # one successful charge per cycle
        contract.save(update_fields=["notice_open"])
    notification_schedule(
        gateway=PAY_GATEWAY, event_id=new_event_id(), url=trade.notify_url, body=pay_notification_body(trade)
    )


_ERR_DESC = {"NOTENOUGH": "用户账户余额不足"}


def pap_trade_fields(trade: WxTrade) -> dict:
    """The charge as paporderquery answers it."""
    fields = {
        "result_code": v2.SUCCESS,
        "device_info": "",
        "openid": trade.payer_openid,
        "is_subscribe": "N",
        "trade_type": "PAP",
        "trade_state": trade.state,
        "bank_type": "OTHERS",
        "total_fee": str(trade.amount),
        "fee_type": trade.currency,
        "out_trade_no": trade.out_trade_no,
        "attach": trade.attach,
        "contract_id": trade.contract.contract_id if trade.contract else "",
    }
    if trade.state in (WxTrade.State.SUCCESS, WxTrade.State.REFUND):
        fields.update(
            cash_fee=str(trade.amount),
            transaction_id=trade.transaction_id,
            time_end=v2.format_time(trade.success_time, compact=True),
        )
    if trade.state == WxTrade.State.PAY_FAIL:
        fields["trade_state_desc"] = _ERR_DESC.get(trade.err_code, "支付失败")
    return fields


def pay_notification_body(trade: WxTrade) -> bytes:
    """扣款结果通知: signed as the charge was asked for; a failure names no amount."""
    sign_type = trade.request_body.get("sign_type", v2.MD5)
    fields = {
        "return_code": v2.SUCCESS,
        "return_msg": "OK",
        "appid": trade.appid,
        "mch_id": trade.mchid,
        "nonce_str": v2.new_nonce(),
        "out_trade_no": trade.out_trade_no,
        "contract_id": trade.contract.contract_id,
    }
    if sign_type != v2.MD5:
        fields["sign_type"] = sign_type
    if trade.state == WxTrade.State.SUCCESS:
        fields.update(
            result_code=v2.SUCCESS,
            openid=trade.payer_openid,
            is_subscribe="N",
            trade_type="PAP",
            bank_type="OTHERS",
            total_fee=str(trade.amount),
            fee_type=trade.currency,
            cash_fee=str(trade.amount),
            transaction_id=trade.transaction_id,
            time_end=v2.format_time(trade.success_time, compact=True),
            trade_state="SUCCESS",
            attach=trade.attach,
        )
    else:
        fields.update(
            result_code=v2.FAIL,
            err_code=trade.err_code,
            err_code_des=_ERR_DESC.get(trade.err_code, "支付失败"),
        )
    return v2.to_xml(v2.signed(fields, _v2_key(), sign_type))


@v2_api()
def api_paporderquery(request, fields, sign_type):
    trades = WxTrade.objects.select_related("contract").filter(mchid=fields["mch_id"], trade_type="PAP")
    if fields.get("transaction_id"):
        trade = trades.filter(transaction_id=fields["transaction_id"]).exclude(transaction_id="").first()
    elif fields.get("out_trade_no"):
        trade = trades.filter(out_trade_no=fields["out_trade_no"]).first()
    else:
        return _business_error(fields, sign_type, "PARAM_ERROR", "transaction_id和out_trade_no至少填一个")
    if trade is None or trade.appid != fields["appid"]:
        return _business_error(fields, sign_type, "ORDERNOTEXIST", "订单不存在")
    return _answer(fields, sign_type, pap_trade_fields(trade))
