"""The WeChat Pay API v3 backend: a thin client on httpx and cryptography.

It is also a withholding backend (委托代扣 papay, channel ``wechat_papay``, the v2
protocol): see :mod:`.papay`. That half is configured by ``v2_key``/``v2_key_path`` and
``papay_plan_id`` (both or neither).

Requests are signed with the merchant's API key (``Authorization:
WECHATPAY2-SHA256-RSA2048 …``); every 2xx response, 204 included, and every
notification must carry WeChat Pay's signature, checked with the key named by
``Wechatpay-Serial``: the "WeChat Pay public key" (``PUB_KEY_ID_…``) or a platform
certificate (kept in ``platform_cert_dir``, refreshed from ``GET /v3/certificates``).
Notification resources are AEAD_AES_256_GCM under the APIv3 key. Amounts are fen.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import zlib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import Encoding
from django.utils.translation import gettext_lazy as _

from payments.exceptions import (
    ChannelUnavailable,
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
    require_json_types,
)
from payments.gateways.signing import load_private_key, load_public_key, sign_sha256_rsa

from . import protocol
from .bill import WeChatPayBillReader
from .oauth import (
    REAL_AUTHORIZE_BASE,
    REAL_SNS_API_BASE,
    WeChatWebAuth,
    app_secret_read,
    web_auth_check_options,
)
from .papay import WeChatPayWithholding, papay_check_options

logger = logging.getLogger("payments.gateways")

TRADE_STATES = {
    "NOTPAY": TradeState.PENDING,
    "USERPAYING": TradeState.PENDING,
    "SUCCESS": TradeState.SUCCEEDED,
    "PAYERROR": TradeState.FAILED,
    "CLOSED": TradeState.CLOSED,
    "REVOKED": TradeState.CLOSED,
    "REFUND": TradeState.REFUNDED,
}
REFUND_STATES = {
    "PROCESSING": RefundState.PROCESSING,
    "SUCCESS": RefundState.SUCCEEDED,
    "ABNORMAL": RefundState.FAILED,
    "CLOSED": RefundState.FAILED,
}
NOT_FOUND_CODES = {"ORDER_NOT_EXIST", "RESOURCE_NOT_EXISTS"}
PAID_CODES = {"ORDERPAID", "ORDER_PAID"}
_CERT_REFRESH_EVERY = 60.0
_CHUNK = 1 << 16


class WeChatPayGateway(WeChatPayWithholding, Gateway):
    channels = ("wechat_native", "wechat_h5", "wechat_jsapi")
    payer_id_channels = frozenset({"wechat_jsapi"})  # needs the learner's openid
    channel_labels = {
        "wechat_native": _("WeChat Pay (QR code)"),
        "wechat_h5": _("WeChat Pay (mobile)"),
        "wechat_jsapi": _("WeChat Pay (in WeChat)"),
    }

    def __init__(
        self,
        alias: str,
        *,
        mchid: str,
        appid: str,
        api_base: str = protocol.REAL_API_BASE,
        apiv3_key: str = "",
        apiv3_key_path: str = "",
        private_key_path: str = "",
        cert_serial_no: str = "",
        public_key_path: str = "",
        public_key_id: str = "",
        platform_cert_dir: str = "",
        v2_key: str = "",
        v2_key_path: str = "",
        papay_plan_id: str = "",
        papay_max_amount: int | None = None,
        papay_server_ip: str = "127.0.0.1",
        mp_app_secret: str = "",
        mp_app_secret_path: str = "",
        oauth_authorize_base: str = REAL_AUTHORIZE_BASE,
        sns_api_base: str = REAL_SNS_API_BASE,
    ):
        super().__init__(alias)
        self.mchid, self.appid = mchid, appid
        self.api_base = (api_base or protocol.REAL_API_BASE).rstrip("/")
        self._base_path = urlsplit(self.api_base).path.rstrip("/")
        if apiv3_key_path and not apiv3_key:
            apiv3_key = Path(apiv3_key_path).read_text().strip()
        self._apiv3_key = apiv3_key or ""
        self._private_key = load_private_key(private_key_path)
        self.cert_serial_no = cert_serial_no
        self.public_key_id = public_key_id
        self._public_keys: dict[str, RSAPublicKey] = {}
        if public_key_path and public_key_id:
            self._public_keys[public_key_id] = load_public_key(public_key_path)
        self.platform_cert_dir = Path(platform_cert_dir) if platform_cert_dir else None
        if self.platform_cert_dir:
            self._public_keys.update(_load_certificates(self.platform_cert_dir))
        self._refresh_lock = threading.Lock()
        self._refreshed_at = 0.0
        self._client = httpx.Client(timeout=self.timeout)
        self._papay_setup(
            v2_key=v2_key,
            v2_key_path=v2_key_path,
            papay_plan_id=papay_plan_id,
            papay_max_amount=papay_max_amount,
            papay_server_ip=papay_server_ip,
        )
        # WeChat's web authorisation (snsapi_base) gives JSAPI the payer's openid; without
        # the Official Account's AppSecret there is none, and JSAPI is not offered.
        app_secret = app_secret_read(secret=mp_app_secret, secret_path=mp_app_secret_path)
        self.web_auth = (
            WeChatWebAuth(
                gateway=alias,
                appid=appid,
                app_secret=app_secret,
                authorize_base=oauth_authorize_base,
                sns_api_base=sns_api_base,
                client=self._client,
            )
            if app_secret
            else None
        )

    @classmethod
    def check_options(cls, options: Mapping) -> list[str]:
        # The APIv3 key is given as such, or as a file holding it (apiv3_key_path).
        given = {**options, "apiv3_key": options.get("apiv3_key") or options.get("apiv3_key_path")}
        required = ("mchid", "appid", "apiv3_key", "private_key_path", "cert_serial_no")
        problems = [f"option {name!r} is required." for name in required if not given.get(name)]
        api_base = str(options.get("api_base") or protocol.REAL_API_BASE)
        if not api_base.startswith(("https://", "http://")):
            problems.append(f"option 'api_base' must be an http(s) URL, not {api_base!r}.")
        key_path = options.get("apiv3_key_path")
        if key_path and not Path(key_path).is_file():
            problems.append(f"option 'apiv3_key_path': no file at {key_path!r} (the APIv3 key).")
        key = options.get("apiv3_key")
        if key and len(str(key).encode()) != 32:
            problems.append("option 'apiv3_key' must be the 32-byte APIv3 key set on the merchant platform.")
        path = options.get("private_key_path")
        if path and not Path(path).is_file():
            problems.append(f"option 'private_key_path': no file at {path!r} (the merchant API key).")
        public_key_path, public_key_id = options.get("public_key_path"), options.get("public_key_id")
        cert_dir = options.get("platform_cert_dir")
        if bool(public_key_path) != bool(public_key_id):
            problems.append(
                "options 'public_key_path' and 'public_key_id' go together: give both (WeChat Pay "
                "public key mode) or neither."
            )
        elif not public_key_path and not cert_dir:
            problems.append(
                "WeChat Pay's key is missing: give 'public_key_path' and 'public_key_id' "
                "(PUB_KEY_ID_…), or 'platform_cert_dir' (platform certificates)."
            )
        if public_key_path and not Path(public_key_path).is_file():
            problems.append(f"option 'public_key_path': no file at {public_key_path!r}.")
        if public_key_id and not str(public_key_id).startswith("PUB_KEY_ID_"):
            problems.append("option 'public_key_id' must start with 'PUB_KEY_ID_'.")
        if cert_dir and not Path(cert_dir).is_dir():
            problems.append(f"option 'platform_cert_dir': no folder at {cert_dir!r}.")
        return problems + papay_check_options(options) + web_auth_check_options(options)

    @classmethod
    def check_warnings(cls, options: Mapping) -> list[str]:
        if options.get("mp_app_secret") or options.get("mp_app_secret_path"):
            return []
        return [
            "WeChat Pay JSAPI (wechat_jsapi) needs the learner's openid, which WeChat's web "
            "authorisation gives only with the Official Account's AppSecret: set 'mp_app_secret' "
            "or 'mp_app_secret_path' (WECHAT_MP_APP_SECRET or WECHAT_MP_APP_SECRET_FILE). Without "
            "it, WeChat Pay is not offered inside WeChat."
        ]

    @property
    def merchant_ids(self) -> Mapping[str, str]:
        return {"mchid": self.mchid, "appid": self.appid}

    # -- calls ------------------------------------------------------------------
    def create_payment(self, request: PaymentRequest) -> PaymentAction:
        body = {
            "appid": self.appid,
            "mchid": self.mchid,
            "description": request.description[:127] or request.payment_no,
            "out_trade_no": request.payment_no,
            "time_expire": protocol.rfc3339(request.expires_at),
            "notify_url": request.notify_url,
            "amount": {"total": request.amount, "currency": request.currency},
        }
        if request.channel == "wechat_native":
            data = self._call(
                "create_payment", "POST", "/v3/pay/transactions/native", body, request.payment_no
            )
            code_url = str(data["code_url"])
            return PaymentAction(kind="qr", code_url=code_url)
        if request.channel == "wechat_h5":
            if not request.client_ip:
                raise ChannelUnavailable(_("WeChat Pay (mobile) needs the payer's IP address."))
            body["scene_info"] = {"payer_client_ip": request.client_ip, "h5_info": {"type": "Wap"}}
            data = self._call("create_payment", "POST", "/v3/pay/transactions/h5", body, request.payment_no)
            h5_url = str(data["h5_url"])
            if request.return_url:
                h5_url += (
                    ("&" if "?" in h5_url else "?") + "redirect_url=" + quote(request.return_url, safe="")
                )
            return PaymentAction(kind="redirect", redirect_url=h5_url)
        if request.channel == "wechat_jsapi":
            if not request.payer_id:
                raise ChannelUnavailable(_("WeChat Pay inside WeChat needs the payer's WeChat openid."))
            body["payer"] = {"openid": request.payer_id}
            data = self._call(
                "create_payment", "POST", "/v3/pay/transactions/jsapi", body, request.payment_no
            )
            return PaymentAction(kind="jsapi", client_params=self.jsapi_params(str(data["prepay_id"])))
        raise ChannelUnavailable()

    def jsapi_params(self, prepay_id: str) -> dict[str, str]:
        """What the page passes to ``WeixinJSBridge.invoke('getBrandWCPayRequest', …)``."""
        timestamp, nonce, package = str(int(time.time())), protocol.new_nonce(), f"prepay_id={prepay_id}"
        return {
            "appId": self.appid,
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": sign_sha256_rsa(
                self._private_key, protocol.jsapi_message(self.appid, timestamp, nonce, package)
            ),
        }

    def query_payment(self, payment_no: str) -> TradeStatus:
        path = f"/v3/pay/transactions/out-trade-no/{quote(payment_no, safe='')}?mchid={quote(self.mchid)}"
        try:
            data = self._call("query_payment", "GET", path, trade_no=payment_no)
        except TradeNotFound:
            return TradeStatus(payment_no=payment_no, state=TradeState.NOT_FOUND)
        try:
            return trade_status_from(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidResponse("WeChat Pay query: malformed trade") from exc

    def close_payment(self, payment_no: str) -> None:
        path = f"/v3/pay/transactions/out-trade-no/{quote(payment_no, safe='')}/close"
        try:
            self._call("close_payment", "POST", path, {"mchid": self.mchid}, payment_no)
        except TradeNotFound:
            return

    def refund(self, request: RefundRequest) -> RefundStatus:
        body = {
            "out_trade_no": request.payment_no,
            "out_refund_no": request.refund_no,
            "reason": request.reason[:80],
            "amount": {"refund": request.amount, "total": request.total, "currency": request.currency},
        }
        if request.notify_url:
            body["notify_url"] = request.notify_url
        data = self._call("refund", "POST", "/v3/refund/domestic/refunds", body, request.payment_no)
        return _refund_status(data)

    def query_refund(self, refund_no: str, *, payment_no: str) -> RefundStatus:
        path = f"/v3/refund/domestic/refunds/{quote(refund_no, safe='')}"
        return _refund_status(self._call("query_refund", "GET", path, trade_no=payment_no))

    def fetch_bill(self, bill_date: date, into: BinaryIO) -> BillFile:
        """The day's trade bill (bill_type ALL), gzip as downloaded, written to ``into``
        in chunks; the SHA1 WeChat gives is checked over the decompressed bytes as they
        stream by. A day without trades (NO_STATEMENT_EXIST) is an empty bill."""
        path = f"/v3/bill/tradebill?bill_date={bill_date:%Y-%m-%d}&bill_type=ALL&tar_type=GZIP"
        try:
            data = self._call("fetch_bill", "GET", path)
        except GatewayRejected as exc:
            if exc.gateway_code == "NO_STATEMENT_EXIST":
                return BillFile(filename=f"wechatpay-{bill_date:%Y-%m-%d}.csv.gz", size=0, empty=True)
            raise
        download_url = str(data.get("download_url", ""))
        if not download_url.startswith(self.api_base + "/"):
            raise InvalidResponse("WeChat Pay bill: download_url is not on the API host")
        if str(data.get("hash_type", "")).upper() != "SHA1":
            raise InvalidResponse("WeChat Pay bill: unknown hash_type")
        digest = _GunzipDigest()
        size = self._download(download_url, into, digest.update)
        try:
            hexdigest = digest.hexdigest()
        except (OSError, EOFError, zlib.error) as exc:
            raise InvalidResponse("WeChat Pay bill: not a gzip file") from exc
        if hexdigest != str(data.get("hash_value", "")).lower():
            raise InvalidResponse("WeChat Pay bill: SHA1 does not match")
        return BillFile(filename=f"wechatpay-{bill_date:%Y-%m-%d}.csv.gz", size=size)

    def read_bill(self, source: BinaryIO) -> BillReader:
        return WeChatPayBillReader(source)

    def download_platform_certificates(self) -> dict[str, x509.Certificate]:
        """``GET /v3/certificates``: decrypt each certificate, check the response's signature
        with them (or a key we hold), keep them in ``platform_cert_dir`` and trust them."""
        request = self._signed_request("GET", "/v3/certificates", b"")
        response = self._send(self._client, "download_certificates", request)
        self._raise_for_status(response)
        certificates: dict[str, x509.Certificate] = {}
        try:
            for entry in response.json()["data"]:
                pem = protocol.aead_decrypt(self._apiv3_key, entry["encrypt_certificate"])
                certificate = x509.load_pem_x509_certificate(pem)
                if protocol.certificate_serial(certificate) != str(entry["serial_no"]).upper():
                    raise ValueError("serial_no does not match the certificate")
                certificates[protocol.certificate_serial(certificate)] = certificate
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidResponse("WeChat Pay certificates: malformed or undecryptable") from exc
        keys = {**self._public_keys, **{s: c.public_key() for s, c in _valid(certificates).items()}}
        problem = protocol.verify_signed_headers(keys, response.headers, response.content)
        if problem:
            raise InvalidResponse(f"WeChat Pay response: {problem}")
        if self.platform_cert_dir:
            self.platform_cert_dir.mkdir(parents=True, exist_ok=True)
            for serial, certificate in certificates.items():
                path = self.platform_cert_dir / f"{serial}.pem"
                if not path.exists():
                    path.write_bytes(certificate.public_bytes(Encoding.PEM))
        self._public_keys = keys
        return certificates

    # -- plumbing -----------------------------------------------------------------
    def _signed_request(self, method: str, path: str, body: bytes) -> httpx.Request:
        url = self.api_base + path if path.startswith("/") else path
        signed_url = httpx.URL(url).raw_path.decode()
        if self._base_path and signed_url.startswith(self._base_path + "/"):
            signed_url = signed_url[len(self._base_path) :]  # WeChat sees only /v3/…
        headers = {
            "Authorization": protocol.authorization(
                self._private_key,
                mchid=self.mchid,
                serial_no=self.cert_serial_no,
                method=method,
                url=signed_url,
                body=body,
            ),
            "Accept": "application/json",
            "User-Agent": "kpay-wechatpay/1",
        }
        if body:
            headers["Content-Type"] = "application/json"
        if self.public_key_id:
            headers["Wechatpay-Serial"] = self.public_key_id
        return self._client.build_request(method, url, content=body or None, headers=headers)

    def _call(
        self, operation: str, method: str, path: str, payload: dict | None = None, trade_no: str = ""
    ) -> dict:
        body = b"" if payload is None else protocol.dumps(payload)
        request = self._signed_request(method, path, body)
        response = self._send(self._client, operation, request, trade_no=trade_no)
        self._raise_for_status(response)
        problem = self._verify(response.headers, response.content)
        if problem:
            raise InvalidResponse(f"WeChat Pay response: {problem}")
        if not response.content:
            return {}
        try:
            data = response.json()
        except ValueError as exc:
            raise InvalidResponse("WeChat Pay response: not JSON") from exc
        if not isinstance(data, dict):
            raise InvalidResponse("WeChat Pay response: not an object")
        return data

    def _download(self, url: str, into: BinaryIO, on_chunk) -> int:
        """A signed GET whose answer (the bill file) is not signed and is binary: streamed
        into ``into`` (each chunk also given to ``on_chunk``). Returns the bytes written."""
        return http.download(
            self._client,
            gateway=self.alias,
            operation="download_bill",
            request=self._signed_request("GET", url, b""),
            into=into,
            refused=_download_refused,
            on_chunk=on_chunk,
        )

    def _verify(self, headers: Mapping[str, str], body: bytes) -> str | None:
        problem = protocol.verify_signed_headers(self._public_keys, headers, body)
        if problem and problem.startswith("unknown key serial") and self._may_refresh_certificates():
            problem = protocol.verify_signed_headers(self._public_keys, headers, body)
        return problem

    def _may_refresh_certificates(self) -> bool:
        """In certificate mode an unknown serial may be a rotated certificate: fetch the
        list, at most once a minute."""
        if not self.platform_cert_dir:
            return False
        with self._refresh_lock:
            if time.monotonic() - self._refreshed_at < _CERT_REFRESH_EVERY and self._refreshed_at:
                return False
            self._refreshed_at = time.monotonic()
        try:
            self.download_platform_certificates()
        except (GatewayUnavailable, GatewayRejected, InvalidResponse) as exc:
            logger.warning("%s: could not refresh platform certificates: %s", self.alias, exc)
            return False
        return True

    @staticmethod
    def _raise_for_status(response: httpx.Response) -> None:
        if response.status_code >= 500:
            raise GatewayUnavailable()
        if response.status_code < 400:
            return
        try:
            error = response.json()
            code, message = str(error.get("code", "")), str(error.get("message", ""))
        except (ValueError, AttributeError):
            code, message = "", response.text[:200]
        if code in NOT_FOUND_CODES:
            raise TradeNotFound(message or None, gateway_code=code)
        if code in PAID_CODES:
            raise TradeAlreadyPaid(message or None, gateway_code=code)
        raise GatewayRejected(message or None, gateway_code=code)

    # -- notifications ----------------------------------------------------------
    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        problem = self._verify(headers, body)
        if problem:
            raise InvalidNotification(problem)
        try:
            event = json.loads(body)
            require_json_types(event, {"id": str, "event_type": str, "resource": dict})
            event_type = event["event_type"]
            if event.get("resource_type", "encrypt-resource") != "encrypt-resource":
                raise ValueError("resource_type is not encrypt-resource")
            plain = json.loads(protocol.aead_decrypt(self._apiv3_key, event["resource"]))
            require_json_types(
                plain,
                {
                    "out_trade_no": str,
                    "out_refund_no": str,
                    "transaction_id": str,
                    "mchid": str,
                    "appid": str,
                    "trade_state": str,
                    "refund_status": str,
                    "success_time": str,
                    "amount": dict,
                    "payer": dict,
                },
                where="resource",
            )
            require_json_types(
                plain.get("amount") or {},
                {"total": int, "refund": int, "payer_total": int, "currency": str},
                where="amount",
            )
            require_json_types(plain.get("payer") or {}, {"openid": str}, where="payer")
            if event_type.startswith("REFUND."):
                return self._refund_notification(event, event_type, plain)
            trade = trade_status_from(plain)
            return Notification(
                event_id=str(event["id"]),
                event_type=event_type,
                kind=NotificationKind.PAYMENT,
                trade_no=trade.payment_no,
                state=trade.state,
                amount=int(plain["amount"]["total"]),
                currency=trade.currency,
                gateway_txn_id=trade.gateway_txn_id,
                payer_id=trade.payer_id,
                occurred_at=trade.paid_at,
                merchant_ids=trade.merchant_ids,
                payload={k: v for k, v in event.items() if k != "resource"} | {"resource": plain},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidNotification(f"malformed notification: {exc}") from exc

    def _refund_notification(self, event: Mapping, event_type: str, plain: Mapping) -> Notification:
        amount = plain["amount"]
        return Notification(
            event_id=str(event["id"]),
            event_type=event_type,
            kind=NotificationKind.REFUND,
            trade_no=str(plain["out_trade_no"]),
            refund_no=str(plain["out_refund_no"]),
            state=REFUND_STATES.get(str(plain.get("refund_status", "")), RefundState.PROCESSING),
            amount=int(amount["refund"]),
            currency=str(amount.get("currency") or "CNY"),
            gateway_txn_id=str(plain.get("transaction_id", "")),
            occurred_at=protocol.parse_rfc3339(plain.get("success_time")),
            # WeChat's refund notification names the mchid only; the appid is not in it.
            merchant_ids={"mchid": str(plain.get("mchid", "")), "appid": self.appid},
            payload={k: v for k, v in event.items() if k != "resource"} | {"resource": dict(plain)},
        )

    def notification_reply(self, *, ok: bool, message: str = "") -> NotificationReply:
        if ok:
            return NotificationReply(status=204, body=b"", content_type="application/json")
        body = json.dumps({"code": "FAIL", "message": message or "rejected"}).encode()
        return NotificationReply(status=400, body=body, content_type="application/json")


class _GunzipDigest:
    """SHA1 of a gzip stream's decompressed bytes, fed compressed chunks, in bounded
    memory (at most ``_CHUNK`` decompressed bytes at a time)."""

    def __init__(self):
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._started = False

    def update(self, chunk: bytes) -> None:
        self._started = True
        data = chunk
        while True:
            out = self._inflate.decompress(data, _CHUNK)
            self._sha1.update(out)
            if self._inflate.eof:  # end of a gzip member; another may follow
                data = self._inflate.unused_data
                if not data:
                    return
                self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                continue
            data = self._inflate.unconsumed_tail
            if not data and len(out) < _CHUNK:
                return

    def hexdigest(self) -> str:
        if not self._started or not self._inflate.eof:
            raise EOFError("the gzip stream is truncated")
        return self._sha1.hexdigest()


def trade_status_from(data: Mapping) -> TradeStatus:
    amount = data.get("amount") or {}
    return TradeStatus(
        payment_no=str(data["out_trade_no"]),
        state=TRADE_STATES.get(str(data.get("trade_state", "")), TradeState.PENDING),
        gateway_txn_id=str(data.get("transaction_id") or ""),
        amount=int(amount["total"]) if amount.get("total") is not None else None,
        currency=str(amount.get("currency") or ""),
        paid_at=protocol.parse_rfc3339(data.get("success_time")),
        payer_id=str((data.get("payer") or {}).get("openid") or ""),
        merchant_ids={"mchid": str(data.get("mchid", "")), "appid": str(data.get("appid", ""))},
    )


def _refund_status(data: Mapping) -> RefundStatus:
    try:
        return RefundStatus(
            refund_no=str(data["out_refund_no"]),
            state=REFUND_STATES.get(str(data.get("status", "")), RefundState.PROCESSING),
            gateway_refund_id=str(data.get("refund_id", "")),
            amount=(data.get("amount") or {}).get("refund"),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidResponse("WeChat Pay refund: malformed") from exc


def _valid(certificates: Mapping[str, x509.Certificate]) -> dict[str, x509.Certificate]:
    now = datetime.now(UTC)
    return {s: c for s, c in certificates.items() if c.not_valid_before_utc <= now <= c.not_valid_after_utc}


def _load_certificates(directory: Path) -> dict[str, RSAPublicKey]:
    """The valid platform certificates in ``directory``, keyed by serial (upper-case hex)."""
    certificates = {}
    if directory.is_dir():
        for path in sorted(directory.glob("*.pem")):
            try:
                certificate = x509.load_pem_x509_certificate(path.read_bytes())
            except ValueError:
                logger.warning("platform certificate %s is not a PEM certificate", path.name)
                continue
            certificates[protocol.certificate_serial(certificate)] = certificate
    return {serial: c.public_key() for serial, c in _valid(certificates).items()}


def _download_refused(response: httpx.Response) -> None:
    WeChatPayGateway._raise_for_status(response)
    raise InvalidResponse(f"WeChat Pay bill download answered HTTP {response.status_code}")
