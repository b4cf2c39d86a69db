"""What the automatic renewal tests share: a learner with a paid membership, the renewal
calendar in Beijing time, and one *driver* per withholding gateway that plays the payer's
and the gateway's side over HTTP against its simulator.

The flow tests are parametrised by gateway alias (:data:`WITHHOLDING_GATEWAYS`). Adding a
gateway is one line there, plus its driver here: a class with the methods of
:class:`SandboxWithholding` (sign on the signing page, end the agreement in the payer's
wallet, make charges fail, answer charges later, set the simulator's clock, count charges
and notices, build a tampered agreement notification).

Drivers: the sandbox, WeChat Pay's papay (``wechatpay``) and Alipay's 周期扣款 (``alipay``).
A test that holds for some gateways only says so with :func:`only_on` and a comment why.
"""

import json
import re
import secrets
from datetime import date, datetime, time, timedelta
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation

from devtools.keys import SANDBOX_GATEWAY, ensure_dev_keypair
from devtools.simulators.alipay.models import AlipayAgreement, AlipayTrade
from devtools.simulators.models import SimAgreement, SimChargeNotice, SimTrade
from devtools.simulators.sandbox import signed_headers
from devtools.simulators.wechatpay.models import WxContract, WxTrade
from memberships.models import Agreement, Membership, MembershipPeriod, Plan
from orders.models import Order
from payments.gateways import get_gateway
from payments.gateways.alipay import protocol
from payments.gateways.signing import load_private_key
from payments.gateways.wechatpay import v2
from payments.models import GatewayExchange, Payment
from tests.factories import MerchantFactory, UserFactory

BEIJING = ZoneInfo("Asia/Shanghai")


def beijing(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BEIJING)


def today_beijing() -> date:
    return timezone.now().astimezone(BEIJING).date()


def make_plan(*, price=9900, period=Plan.Period.MONTH, period_days=None, merchant=None, **fields) -> Plan:
    merchant = merchant or MerchantFactory()
    return Plan.objects.create(
        merchant=merchant,
        slug=f"plan-{secrets.token_hex(4)}",
        title=fields.pop("title", "Monthly circle"),
        period=period,
        period_days=period_days,
        price=price,
        **fields,
    )


def make_membership(*, plan=None, learner=None, ends_on: date | None = None) -> Membership:
    """A learner's membership with one paid period ending at noon (Beijing) on
    ``ends_on`` (default: five days from today), bought through the checkout and paid by
    a sandbox notification (so its order, payment and journal are real: ``ledger_check``
    holds), then moved to end then."""
    from django.conf import settings

    from memberships.services.purchase import plan_checkout
    from payments.services import payment_start
    from tests.sandbox import SandboxDriver

    plan = plan or make_plan()
    learner = learner or UserFactory()
    order = plan_checkout(learner=learner, plan_slug=plan.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    # The driver posts through Django's test client, in this thread: its LocaleMiddleware
    # activates the site's language for good; keep the one the test chose.
    with translation.override(translation.get_language()):
        assert SandboxDriver(settings).pay(payment).status_code == 204
    ends_at = beijing(ends_on or today_beijing() + timedelta(days=5), 12)
    MembershipPeriod.objects.filter(order_no=order.order_no).update(
        starts_at=ends_at - timedelta(days=30), ends_at=ends_at
    )
    Membership.objects.filter(learner=learner, plan=plan).update(ends_at=ends_at)
    return Membership.objects.get(learner=learner, plan=plan)


FIRST_PERIOD_CHANNEL = "sandbox"  # make_membership pays the first period at the sandbox cashier


def renewal_payments():
    """The renewals' payments: all but the first period's (see :func:`make_membership`)."""
    return Payment.objects.exclude(channel=FIRST_PERIOD_CHANNEL)


def renewal_orders():
    """The renewals' orders: all but the first period's."""
    first = Payment.objects.filter(channel=FIRST_PERIOD_CHANNEL).values("order_id")
    return Order.objects.exclude(pk__in=first)


def charge_day(membership: Membership) -> date:
    """The renewal's charge day with the default settings: the day before the end."""
    return (membership.ends_at - timedelta(days=1)).astimezone(BEIJING).date()


class _Browser:
    """A payer's browser on a simulator page: open it, press a button (with its CSRF token)."""

    @staticmethod
    def press(url: str, action: str) -> httpx.Response:
        with httpx.Client(timeout=15, follow_redirects=True) as browser:
            page = browser.get(url)
            assert page.status_code == 200, page.text[:300]
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
            form = re.search(r'<form method="post" action="([^"]*)"', page.text)
            target = str(page.url.join(form[1])) if form and form[1] else str(page.url)
            response = browser.post(
                target,
                data={"csrfmiddlewaretoken": token, "action": action},
                headers={"Referer": str(page.url)},
            )
            assert response.status_code == 200, response.text[:300]
            return response


class SandboxWithholding:
    """The sandbox gateway's withholding side, driven over HTTP through its simulator."""

    alias = "sandbox"
    channel = "sandbox_withholding"

    @classmethod
    def configure(cls, settings) -> None:
        """Configure the gateway before ``live_simulators`` points it at the live server."""

    def __init__(self, settings, live_server):
        self.settings = settings
        self.live_server = live_server

    # -- the simulator's clock (its rules: hours, notice, window) -----------------------
    def set_clock(self, when: datetime) -> None:
        self.settings.KPAY_SIMULATOR_SANDBOX_NOW = when

    # -- the gateway as kpay sees it --------------------------------------------------------
    @property
    def rules(self):
        return get_gateway(self.alias).withholding_rules

    def notice_lead_days(self) -> int:
        """Days before the charge day that the gateway's notice goes (at least one: the run
        the day before the charge day)."""
        return max(1, self.rules.notice_days)

    def unreachable(self) -> dict:
        """``KPAY_GATEWAYS`` with this gateway's simulator URLs leading nowhere."""
        gateways = self.settings.KPAY_GATEWAYS
        options = {**gateways[self.alias]["OPTIONS"]}
        for name, value in options.items():
            if isinstance(value, str) and value.startswith(self.live_server.url):
                options[name] = "http://127.0.0.1:9" + value[len(self.live_server.url) :]
        return {**gateways, self.alias: {**gateways[self.alias], "OPTIONS": options}}

    # -- the payer ------------------------------------------------------------------------
    def signing_url(self, agreement: Agreement) -> str:
        """Where the payer signs: the sandbox shows a QR code, the others redirect."""
        action = agreement.action
        return action.get("code_url") or action.get("redirect_url", "")

    def _page(self, agreement: Agreement) -> str:
        sim = SimAgreement.objects.filter(agreement_no=agreement.agreement_no).first()
        if sim is None:  # the payer has not opened the signing link yet
            return self.signing_url(agreement)
        return f"{self.live_server.url}/simulators/sandbox/agreements/{sim.token}/"

    def sign(self, agreement: Agreement, *, expect_signed: bool = True) -> None:
        response = _Browser.press(self.signing_url(agreement), "sign")
        if expect_signed:
            assert "Signed" in response.text, response.text[:500]

    def decline(self, agreement: Agreement) -> None:
        _Browser.press(self.signing_url(agreement), "decline")

    def payer_terminate(self, agreement: Agreement) -> None:
        response = _Browser.press(self._page(agreement), "terminate")
        assert "Ended" in response.text

    def fail_charges(self, agreement: Agreement, fail: bool = True) -> None:
        _Browser.press(self._page(agreement), "balance_short" if fail else "balance_ok")

    def answer_later(self, agreement: Agreement, later: bool = True) -> None:
        _Browser.press(self._page(agreement), "answer_later" if later else "answer_now")

    # -- the gateway's books ------------------------------------------------------------------
    def charges(self, agreement: Agreement) -> list[str]:
        """The states of every charge the gateway made under the agreement."""
        return list(
            SimTrade.objects.filter(agreement__agreement_no=agreement.agreement_no)
            .order_by("pk")
            .values_list("state", flat=True)
        )

    def successful_charges(self, agreement: Agreement) -> int:
        return sum(state == SimTrade.State.SUCCESS for state in self.charges(agreement))

    def notices(self, agreement: Agreement) -> int:
        return SimChargeNotice.objects.filter(agreement__agreement_no=agreement.agreement_no).count()

    def agreement_state(self, agreement: Agreement) -> str:
        """ACTIVE, TERMINATED or PENDING, as the gateway has it."""
        return SimAgreement.objects.get(agreement_no=agreement.agreement_no).state

    # -- notifications a test sends itself ------------------------------------------------------
    def agreement_notification(
        self, agreement: Agreement, *, event_type="AGREEMENT.SIGNED", key=None, **resource
    ) -> tuple[bytes, dict]:
        """A signed agreement notification (``key``: another signer's private key)."""
        body = json.dumps(
            {
                "id": f"EV{secrets.token_hex(8)}",
                "event_type": event_type,
                "create_time": timezone.now().isoformat(),
                "resource": {
                    "merchant_id": get_gateway(self.alias).merchant_id,
                    "agreement_no": agreement.agreement_no,
                    "agreement_id": f"SBXA{secrets.token_hex(6).upper()}",
                    "state": "ACTIVE" if event_type == "AGREEMENT.SIGNED" else "TERMINATED",
                    "payer": {"id": "sbx_payer_test"},
                    "signed_time": timezone.now().isoformat(),
                    "terminated_time": None,
                    "terminated_by": None,
                    **resource,
                },
            }
        ).encode()
        if key is None:
            private_path, _ = ensure_dev_keypair(self.settings.KPAY_KEY_DIR, SANDBOX_GATEWAY)
            key = load_private_key(private_path)
        headers = signed_headers(key, body)
        return body, {"Content-Type": "application/json", **headers}

    def tampered_notifications(self, agreement: Agreement) -> list[tuple[str, bytes, dict]]:
        """Agreement notifications the gateway did not send as they are: (why, body, headers)."""
        body, headers = self.agreement_notification(agreement)
        tampered = body.replace(b'"sbx_payer_test"', b'"someone_else"')
        stale = dict(headers, **{"Sandbox-Timestamp": str(int(timezone.now().timestamp()) - 600)})
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged_body, forged_headers = self.agreement_notification(agreement, key=other_key)
        unsigned = {"Content-Type": "application/json"}
        return [
            ("body changed after signing", tampered, headers),
            ("stale timestamp", body, stale),
            ("signed with another key", forged_body, forged_headers),
            ("no signature", body, unsigned),
            ("not JSON", b"{not json", headers),
        ]


def _exchanges(alias: str, operation: str, agreement: Agreement):
    """kpay's own log of its calls to the gateway (GatewayExchange) under the agreement,
    for what the simulator keeps no history of (WeChat's notices, Alipay's refusals)."""
    agreement.refresh_from_db(fields=["gateway_agreement_id"])
    exchanges = GatewayExchange.objects.filter(gateway=alias, operation=operation)
    if not agreement.gateway_agreement_id:
        return exchanges.none()
    return exchanges.filter(
        Q(request_body__contains=agreement.gateway_agreement_id)
        | Q(url__contains=agreement.gateway_agreement_id)
    )


class WeChatPapayWithholding(SandboxWithholding):
    """WeChat Pay's 委托代扣 (papay): the entrustweb signing page, v2 contract
    notifications, the v3 pre-charge notice, v2 charges; clock ``KPAY_SIMULATOR_PAPAY_NOW``."""

    alias = "wechatpay"
    channel = "wechat_papay"

    @classmethod
    def configure(cls, settings) -> None:
        from tests.gateways.test_wechatpay_contract import configure_wechatpay
        from tests.gateways.test_wechatpay_papay_protocol import papay_config

        configure_wechatpay(settings, papay_config(settings))

    def set_clock(self, when: datetime) -> None:
        self.settings.KPAY_SIMULATOR_PAPAY_NOW = when

    def _contract(self, agreement: Agreement) -> WxContract:
        return WxContract.objects.get(contract_code=agreement.agreement_no)

    def _page(self, agreement: Agreement) -> str:
        token = self._contract(agreement).token
        return self.live_server.url + reverse("simulators:wechatpay-papay-contract", args=[token])

    def sign(self, agreement: Agreement, *, expect_signed: bool = True) -> None:
        response = _Browser.press(self.signing_url(agreement), "sign")
        if expect_signed:
            assert "已开通" in response.text, response.text[:500]

    def payer_terminate(self, agreement: Agreement) -> None:
        _Browser.press(self._page(agreement), "terminate")
        assert self._contract(agreement).state == WxContract.State.TERMINATED

    def fail_charges(self, agreement: Agreement, fail: bool = True) -> None:
        _Browser.press(self._page(agreement), "balance_fail" if fail else "balance_ok")

    def answer_later(self, agreement: Agreement, later: bool = True) -> None:
        """WeChat always answers a charge with "accepted" only; the result comes later."""

    def charges(self, agreement: Agreement) -> list[str]:
        states = WxTrade.objects.filter(
            contract__contract_code=agreement.agreement_no, trade_type="PAP"
        ).order_by("pk")
        # A failed charge asked again with the same number is one trade: count the asks.
        asked = list(
            _exchanges(self.alias, "charge", agreement).order_by("pk").values_list("trade_no", flat=True)
        )
        by_no = dict(states.values_list("out_trade_no", "state"))
        out = []
        for no in asked:
            state = by_no.get(no)
            if state is None:
                continue
            out.append("PAYERROR" if state == WxTrade.State.PAY_FAIL else state)
        return out

    def notices(self, agreement: Agreement) -> int:
        return _exchanges(self.alias, "charge_notice", agreement).filter(status_code=204).count()

    def agreement_state(self, agreement: Agreement) -> str:
        state = self._contract(agreement).state
        return {"SIGNED": "ACTIVE", "TERMINATED": "TERMINATED"}.get(state, "PENDING")

    def _fields(self, agreement: Agreement, event_type: str, resource: dict) -> dict:
        from devtools.simulators.wechatpay.views import material

        gateway = get_gateway(self.alias)
        change = "ADD" if event_type == "AGREEMENT.SIGNED" else "DELETE"
        fields = {
            "return_code": "SUCCESS",
            "return_msg": "OK",
            "result_code": "SUCCESS",
            "mch_id": resource.pop("merchant_id", gateway.mchid),
            "contract_code": agreement.agreement_no,
            "plan_id": gateway.papay_plan_id if hasattr(gateway, "papay_plan_id") else PAPAY_PLAN_ID,
            "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            "change_type": change,
            "operate_time": v2.format_time(timezone.now()),
            "contract_id": f"{timezone.now():%Y%m%d}{secrets.randbelow(10**10):010d}",
            "contract_expired_time": v2.format_time(timezone.now() + timedelta(days=1800)),
            "request_serial": str(secrets.randbelow(10**12) + 1),
            **resource,
        }
        if change == "DELETE":
            fields["contract_termination_mode"] = "2"
        return fields, material().v2_key

    def agreement_notification(
        self, agreement: Agreement, *, event_type="AGREEMENT.SIGNED", key=None, **resource
    ) -> tuple[bytes, dict]:
        """签约/解约结果通知, MD5-signed with the v2 key (``key``: another v2 key)."""
        fields, v2_key = self._fields(agreement, event_type, dict(resource))
        body = v2.to_xml(v2.signed(fields, key or v2_key, v2.MD5))
        return body, {"Content-Type": "text/xml; charset=utf-8"}

    def tampered_notifications(self, agreement: Agreement) -> list[tuple[str, bytes, dict]]:
        # v2 notifications carry no timestamp to go stale: the signature is inside the body.
        body, headers = self.agreement_notification(agreement)
        tampered = re.sub(
            rb"<openid><!\[CDATA\[[^]]*\]\]></openid>|<openid>[^<]*</openid>",
            b"<openid>someone_else</openid>",
            body,
        )
        assert tampered != body
        forged, _ = self.agreement_notification(agreement, key=secrets.token_hex(16))
        unsigned = re.sub(rb"<sign>.*?</sign>", b"", body, flags=re.S)
        assert unsigned != body
        return [
            ("body changed after signing", tampered, headers),
            ("signed with another key", forged, headers),
            ("no signature", unsigned, headers),
            ("not XML", b"{not xml", headers),
        ]


class AlipayAgreementWithholding(SandboxWithholding):
    """Alipay's 周期扣款: the page.sign signing page, dut_user_sign/unsign notifications,
    charges with alipay.trade.pay in the window ending on the agreement's next_deduct_date;
    clock ``KPAY_SIMULATOR_ALIPAY_NOW``."""

    alias = "alipay"
    channel = "alipay_agreement"

    @classmethod
    def configure(cls, settings) -> None:
        from devtools.keys import ALIPAY_APP, ALIPAY_PLATFORM
        from tests.gateways.test_alipay_contract import APP_ID, CLOSED_LOOPBACK_URL, SELLER_ID

        app_private, _ = ensure_dev_keypair(settings.KPAY_KEY_DIR, ALIPAY_APP)
        _, alipay_public = ensure_dev_keypair(settings.KPAY_KEY_DIR, ALIPAY_PLATFORM)
        settings.KPAY_GATEWAYS = {
            **settings.KPAY_GATEWAYS,
            "alipay": {
                "BACKEND": "payments.gateways.alipay.AlipayGateway",
                "OPTIONS": {
                    "app_id": APP_ID,
                    "seller_id": SELLER_ID,
                    "gateway_url": CLOSED_LOOPBACK_URL + "/simulators/alipay/gateway.do",
                    "app_private_key_path": str(app_private),
                    "alipay_public_key_path": str(alipay_public),
                },
            },
        }

    def set_clock(self, when: datetime) -> None:
        self.settings.KPAY_SIMULATOR_ALIPAY_NOW = when

    def _sim(self, agreement: Agreement) -> AlipayAgreement:
        return AlipayAgreement.objects.get(external_agreement_no=agreement.agreement_no)

    def _page(self, agreement: Agreement) -> str:
        sim = AlipayAgreement.objects.filter(external_agreement_no=agreement.agreement_no).first()
        if sim is None:
            return self.signing_url(agreement)
        return self.live_server.url + reverse("simulators:sim_alipay:agreement", args=[sim.token])

    def sign(self, agreement: Agreement, *, expect_signed: bool = True) -> None:
        _Browser.press(self.signing_url(agreement), "sign")
        if expect_signed:
            assert self._sim(agreement).status == AlipayAgreement.Status.NORMAL

    def payer_terminate(self, agreement: Agreement) -> None:
        _Browser.press(self._page(agreement), "unsign")
        assert self._sim(agreement).status == AlipayAgreement.Status.UNSIGN

    def answer_later(self, agreement: Agreement, later: bool = True) -> None:
        """Alipay answers a charge under an agreement at once: nothing to switch."""

    def charges(self, agreement: Agreement) -> list[str]:
        """Alipay keeps no trade for a refused charge: the refusals are read from kpay's
        log of its alipay.trade.pay calls, in order."""
        sim = AlipayAgreement.objects.filter(external_agreement_no=agreement.agreement_no).first()
        paid = set(
            AlipayTrade.objects.filter(buyer_id=sim.alipay_user_id if sim else "-").values_list(
                "out_trade_no", flat=True
            )
        )
        out = []
        for no, answer in (
            _exchanges(self.alias, "charge", agreement)
            .order_by("pk")
            .values_list("trade_no", "response_body")
        ):
            if no in paid and "10000" in answer:
                out.append("SUCCESS")
            elif "BUYER_BALANCE_NOT_ENOUGH" in answer:
                out.append("PAYERROR")
        return out

    def notices(self, agreement: Agreement) -> int:
        return 0  # Alipay sends the payer its own reminders: kpay gives no notice

    def agreement_state(self, agreement: Agreement) -> str:
        status = AlipayAgreement.objects.get(external_agreement_no=agreement.agreement_no).status
        return {"NORMAL": "ACTIVE", "UNSIGN": "TERMINATED"}.get(status, "PENDING")

    def agreement_notification(
        self, agreement: Agreement, *, event_type="AGREEMENT.SIGNED", key=None, **resource
    ) -> tuple[bytes, dict]:
        """dut_user_sign / dut_user_unsign, RSA2-signed with Alipay's key (``key``: another)."""
        from devtools.simulators.alipay.protocol import sign_notify_params
        from devtools.simulators.alipay.views import alipay_private_key

        gateway = get_gateway(self.alias)
        signing = event_type == "AGREEMENT.SIGNED"
        now = protocol.alipay_timestamp(timezone.now())
        params = {
            "notify_time": now,
            "notify_type": "dut_user_sign" if signing else "dut_user_unsign",
            "notify_id": secrets.token_hex(16),
            "charset": "UTF-8",
            "version": "1.0",
            "app_id": resource.pop("merchant_id", gateway.app_id),
            "agreement_no": f"2026{secrets.randbelow(10**16):016d}",
            "external_agreement_no": agreement.agreement_no,
            "personal_product_code": "CYCLE_PAY_AUTH_P",
            "sign_scene": "INDUSTRY|EDU",
            "alipay_user_id": "2088000000000001",
            "alipay_logon_id": "139******01",
            "status": "NORMAL" if signing else "UNSIGN",
            **({"sign_time": now, "valid_time": now} if signing else {"unsign_time": now}),
            **resource,
        }
        params["auth_app_id"] = params["app_id"]
        signed = sign_notify_params(key or alipay_private_key(), params)
        return urlencode(signed).encode(), {"Content-Type": "application/x-www-form-urlencoded"}

    def tampered_notifications(self, agreement: Agreement) -> list[tuple[str, bytes, dict]]:
        # Alipay's notifications carry no timestamp checked against a clock.
        body, headers = self.agreement_notification(agreement)
        tampered = body.replace(b"2088000000000001", b"2088999999999999")
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged, _ = self.agreement_notification(agreement, key=other_key)
        unsigned = urlencode([(k, v) for k, v in parse_qsl(body.decode()) if k != "sign"]).encode()
        return [
            ("body changed after signing", tampered, headers),
            ("signed with another key", forged, headers),
            ("no signature", unsigned, headers),
            ("not a form", b"\xff\xfe{not a form", headers),
        ]


PAPAY_PLAN_ID = "12535"
DRIVERS = {
    "sandbox": SandboxWithholding,
    "wechatpay": WeChatPapayWithholding,
    "alipay": AlipayAgreementWithholding,
}
WITHHOLDING_GATEWAYS = ["sandbox", "wechatpay", "alipay"]


def only_on(*aliases: str):
    """Run a ``withholding`` test on these gateways only (say why at the test)."""
    return pytest.mark.parametrize("_withholding_configured", list(aliases), indirect=True)
