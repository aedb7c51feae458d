"""WeChat Pay API v3 for a kiosk: code payment, query, reverse, refunds, Native QR, trade bill.

Every request carries `Authorization: WECHATPAY2-SHA256-RSA2048 …`, an RSA
SHA-256 signature over "METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n" with the
merchant's key, and `Wechatpay-Serial` naming the WeChat Pay public key the
kiosk holds (public-key mode).  Every answer is verified over
"TIMESTAMP\\nNONCE\\nBODY\\n" with that key (its Wechatpay-Signature headers),
and refused when its `Wechatpay-Serial` is not that key's id or its
`Wechatpay-Timestamp` is more than 5 minutes from the kiosk's clock (a
replayed answer).  An answer that does not verify, a 5xx, a timeout or a
dropped connection is no answer (UNKNOWN), so the loop queries and, if need
be, reverses; nothing an answer holds makes the gateway raise.  A reverse is never
sent sooner than 15 s after the payment (WeChat's rule) and is repeated while
WeChat answers recall=Y.
"""

from __future__ import annotations

import base64
import csv
import json
import logging
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kiosk.money import minor_units
from kiosk.payments import Answer, Entry, PayRequest, Status

log = logging.getLogger(__name__)
SCHEME = "WECHATPAY2-SHA256-RSA2048"
REVERSE_NOT_BEFORE_S = 15.0
MAX_ANSWER_SKEW_S = 300.0  # payments.md: reject an answer whose timestamp is more than 5 minutes from now
DEFINITE_FAILURES = {
    "AUTH_CODE_INVALID",
    "NOTENOUGH",
    "ORDERPAID",
    "ORDERCLOSED",
    "OUT_TRADE_NO_USED",
    "PARAM_ERROR",
    "INVALID_REQUEST",
    "TRADE_ERROR",
    "PAYER_ACCOUNT_ABNORMAL",
}


def sign_message(method: str, path: str, timestamp: str, nonce: str, body: str, key: rsa.RSAPrivateKey) -> str:
    message = f"{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n".encode()
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify_message(timestamp: str, nonce: str, body: str, signature: str, key: rsa.RSAPublicKey) -> bool:
    try:
        key.verify(
            base64.b64decode(signature), f"{timestamp}\n{nonce}\n{body}\n".encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        return True
    except (InvalidSignature, ValueError):
        return False


class WechatPayGateway:
    name = "wechatpay"
    qr_channel = "wechat"  # a Native QR is paid in WeChat
    schemes = frozenset({"wechat"})
    poll_interval_s, paying_limit_s = 10.0, 45.0  # payments.md: query about every 10 s up to 45 s

    def __init__(
        self,
        *,
        mchid: str,
        appid: str,
        api_base: str,
        merchant_key: rsa.RSAPrivateKey,
        merchant_serial_no: str,
        platform_key: rsa.RSAPublicKey,
        platform_key_id: str = "",
        timeout_s: float = 10.0,
        device_id: str = "",
        store_id: str = "",
        clock: Any = time.monotonic,
        sleep: Any = time.sleep,
        wall_clock: Any = time.time,
    ) -> None:
        self.mchid, self.appid = mchid, appid
        self.base = api_base.rstrip("/")
        self.key, self.serial = merchant_key, merchant_serial_no
        self.platform_key, self.platform_key_id = platform_key, platform_key_id
        self.wall_clock = wall_clock
        self.timeout_s = timeout_s
        self.device_id, self.store_id = device_id, store_id
        self.clock, self.sleep = clock, sleep
        self._paid_at: dict[str, float] = {}  # when each pay was sent, for the 15 s reverse rule

    # -- the wire -----------------------------------------------------------------------
    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]] | None:
        """A signed request; (HTTP status, verified JSON) or None when there is no trustworthy answer."""
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":")) if body is not None else ""
        headers = {
            "Authorization": self._authorization(method, path, text),
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "kiosk",
        }
        if self.platform_key_id:
            headers["Wechatpay-Serial"] = self.platform_key_id
        req = urllib.request.Request(
            self.base + path, data=text.encode() if body is not None else None, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                status, answer_headers, raw = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as exc:
            if exc.code >= 500:
                log.warning("wechatpay %s %s: HTTP %s", method, path, exc.code)
                return None
            status, answer_headers, raw = exc.code, exc.headers, exc.read()
        except OSError as exc:  # timeouts, refused and dropped connections
            log.warning("wechatpay %s %s: no answer (%s)", method, path, exc)
            return None
        try:
            return self._verified(method, path, status, answer_headers, raw)
        except Exception as exc:  # whatever the answer holds, it is no answer to act on
            log.warning(
                "wechatpay %s %s: an answer that cannot be read (%s: %s)", method, path, type(exc).__name__, exc
            )
            return None

    def _verified(self, method: str, path: str, status: int, headers: Any, raw: bytes) -> tuple[int, dict] | None:
        text = raw.decode("utf-8")
        serial = headers.get("Wechatpay-Serial", "")
        if self.platform_key_id and serial != self.platform_key_id:
            log.warning(
                "wechatpay %s %s: answer signed by key %r, not %r; refused", method, path, serial, self.platform_key_id
            )
            return None
        stamp = headers.get("Wechatpay-Timestamp", "")
        if not stamp.isdigit() or abs(self.wall_clock() - int(stamp)) > MAX_ANSWER_SKEW_S:
            log.warning("wechatpay %s %s: answer timestamp %r is more than 5 minutes off; refused", method, path, stamp)
            return None
        if not verify_message(
            stamp, headers.get("Wechatpay-Nonce", ""), text, headers.get("Wechatpay-Signature", ""), self.platform_key
        ):
            log.warning("wechatpay %s %s: the answer's signature does not verify; treated as no answer", method, path)
            return None
        data = json.loads(text) if text else {}
        return (status, data) if isinstance(data, dict) else None

    def _authorization(self, method: str, path: str, body: str) -> str:
        ts, nonce = str(int(self.wall_clock())), secrets.token_hex(16)
        signature = sign_message(method, path, ts, nonce, body, self.key)
        return (
            f'{SCHEME} mchid="{self.mchid}",nonce_str="{nonce}",timestamp="{ts}",serial_no="{self.serial}",'
            f'signature="{signature}"'
        )

    def _trade_path(self, out_trade_no: str) -> str:
        return f"/v3/pay/transactions/out-trade-no/{urllib.parse.quote(out_trade_no)}"

    # -- the Gateway interface ----------------------------------------------------------------
    def pay(self, req: PayRequest) -> Answer:
        self._paid_at[req.out_trade_no] = self.clock()
        body = {
            "appid": self.appid,
            "mchid": self.mchid,
            "description": req.subject[:127],
            "out_trade_no": req.out_trade_no,
            "payer": {"auth_code": req.auth_code},
            "amount": {"total": req.amount, "currency": req.currency},
            "scene_info": {"device_id": self.device_id, "store_info": {"out_id": self.store_id}},
        }
        r = self.call("POST", "/v3/pay/transactions/codepay", body)
        if r is None:
            return Answer(Status.UNKNOWN, reason="NO_ANSWER")
        status, data = r
        state, code = data.get("trade_state"), data.get("code")
        if status == 200 and state == "SUCCESS":
            return Answer(Status.PAID, trade_id=data.get("transaction_id", ""))
        if state == "USERPAYING" or code == "USERPAYING":
            return Answer(Status.PAYING, trade_id=data.get("transaction_id", ""))
        if code in DEFINITE_FAILURES:
            return Answer(Status.FAILED, reason=code)
        return Answer(Status.UNKNOWN, reason=code or state or f"HTTP_{status}")

    def query(self, out_trade_no: str) -> Answer:
        r = self.call("GET", f"{self._trade_path(out_trade_no)}?mchid={self.mchid}")
        if r is None:
            return Answer(Status.UNKNOWN, reason="NO_ANSWER")
        status, data = r
        if status == 404 or data.get("code") == "ORDER_NOT_EXIST":
            return Answer(Status.NOT_FOUND, reason="ORDER_NOT_EXIST")
        state, tid = data.get("trade_state"), data.get("transaction_id", "")
        if state in ("SUCCESS", "REFUND"):
            return Answer(Status.PAID, trade_id=tid)
        if state in ("USERPAYING", "ACCEPT"):
            return Answer(Status.PAYING, trade_id=tid)
        if state in ("CLOSED", "REVOKED"):
            return Answer(Status.CLOSED, trade_id=tid, reason=state)
        if state in ("NOTPAY", "PAYERROR"):
            return Answer(Status.NOT_FOUND, trade_id=tid, reason=state)  # not paid: reverse it
        return Answer(Status.UNKNOWN, reason=str(state or data.get("code")))

    def cancel(self, out_trade_no: str) -> Answer:
        """Reverse (撤销): closes an unpaid trade or refunds a paid one; not sooner than 15 s after the pay."""
        sent = self._paid_at.get(out_trade_no)
        if sent is not None:
            wait = REVERSE_NOT_BEFORE_S - (self.clock() - sent)
            if wait > 0:
                self.sleep(wait)
        r = self.call("POST", f"{self._trade_path(out_trade_no)}/reverse", {"mchid": self.mchid, "appid": self.appid})
        if r is None:
            return Answer(Status.UNKNOWN, reason="NO_ANSWER", retry=True)
        status, data = r
        if status == 204 or (status == 200 and data.get("recall") != "Y"):  # 204: reversed, nothing more to say
            return Answer(Status.CLOSED, reason="REVOKED")
        if data.get("code") == "ORDER_NOT_EXIST":
            return Answer(Status.CLOSED, reason="ORDER_NOT_EXIST")
        return Answer(Status.UNKNOWN, reason=data.get("code") or "RECALL", retry=True)

    def precreate(self, out_trade_no: str, amount: int, subject: str) -> Answer:
        body = {
            "appid": self.appid,
            "mchid": self.mchid,
            "description": subject[:127],
            "out_trade_no": out_trade_no,
            "notify_url": "https://localhost/unused",
            "amount": {"total": amount, "currency": "CNY"},
        }
        r = self.call("POST", "/v3/pay/transactions/native", body)
        if r is None:
            return Answer(Status.UNKNOWN, reason="NO_ANSWER")
        status, data = r
        if status == 200 and data.get("code_url"):
            return Answer(Status.PAYING, qr=data["code_url"])
        return Answer(Status.FAILED if status < 500 else Status.UNKNOWN, reason=data.get("code", f"HTTP_{status}"))

    def close(self, out_trade_no: str) -> Answer:
        r = self.call("POST", f"{self._trade_path(out_trade_no)}/close", {"mchid": self.mchid})
        if r is None:
            return Answer(Status.UNKNOWN, reason="NO_ANSWER")
        status, data = r
        if status in (200, 204):
            return Answer(Status.CLOSED)
        return Answer(Status.UNKNOWN, reason=data.get("code", f"HTTP_{status}"))  # e.g. ORDERPAID meanwhile

    def refund(self, out_trade_no: str, out_request_no: str, amount: int, total: int | None = None) -> Answer:
        body = {
            "out_trade_no": out_trade_no,
            "out_refund_no": out_request_no,
            "amount": {"refund": amount, "total": total or amount, "currency": "CNY"},
        }
        r = self.call("POST", "/v3/refund/domestic/refunds", body)
        if r is None:
            return Answer(Status.UNKNOWN, reason="NO_ANSWER")
        return self._refund_answer(*r)

    def refund_query(self, out_trade_no: str, out_request_no: str) -> Answer:
        r = self.call("GET", f"/v3/refund/domestic/refunds/{urllib.parse.quote(out_request_no)}")
        if r is None:
            return Answer(Status.UNKNOWN, reason="NO_ANSWER")
        status, data = r
        if status == 404 or data.get("code") == "RESOURCE_NOT_EXISTS":
            return Answer(Status.NOT_FOUND, reason="RESOURCE_NOT_EXISTS")
        return self._refund_answer(status, data)

    @staticmethod
    def _refund_answer(status: int, data: dict[str, Any]) -> Answer:
        state = data.get("status")
        if status == 200 and state == "SUCCESS":
            return Answer(Status.REFUNDED, trade_id=data.get("refund_id", ""))
        if status == 200 and state in ("CLOSED", "ABNORMAL"):
            return Answer(Status.FAILED, reason=state)
        if 400 <= status < 500 and data.get("code") not in (None, "SYSTEM_ERROR", "FREQUENCY_LIMITED"):
            return Answer(Status.FAILED, reason=data["code"])
        return Answer(Status.UNKNOWN, reason=str(state or data.get("code")))  # PROCESSING: query later

    def statement(self, day: str) -> list[Entry]:
        """The day's trade bill (all trades): the download URL, then the signed download of the CSV."""
        r = self.call("GET", f"/v3/bill/tradebill?bill_date={day}&bill_type=ALL")
        if r is None or r[0] != 200 or not r[1].get("download_url"):
            raise OSError(f"WeChat Pay has no trade bill for {day}")
        url = r[1]["download_url"]
        path = url[len(self.base) :] if url.startswith(self.base) else urllib.parse.urlsplit(url).path
        auth = self._authorization("GET", path, "")
        with urllib.request.urlopen(
            urllib.request.Request(url, headers={"Authorization": auth, "Wechatpay-Serial": self.platform_key_id}),
            timeout=self.timeout_s,
        ) as resp:
            return parse_wechat_bill(resp.read().decode("utf-8"))


WECHAT_COLUMNS = {
    "微信订单号": "trade_id",
    "商户订单号": "out_trade_no",
    "交易状态": "state",
    "应结订单金额": "amount",
    "商户退款单号": "out_request_no",
    "退款金额": "refund_amount",
}


def parse_wechat_bill(text: str) -> list[Entry]:
    """WeChat Pay's trade bill: CSV whose every field starts with a backtick; a totals block follows."""
    lines = text.lstrip("\ufeff").splitlines()
    rows = list(csv.reader(lines))
    if not rows:
        raise ValueError("an empty WeChat bill")
    cols = {WECHAT_COLUMNS[c.strip()]: i for i, c in enumerate(rows[0]) if c.strip() in WECHAT_COLUMNS}
    if "out_trade_no" not in cols:
        raise ValueError("the WeChat bill has no 商户订单号 column")
    entries = []
    for r in rows[1:]:
        if not r or not r[0].startswith("`"):
            break  # the totals block starts: plain header, no backticks
        f = [c.lstrip("`").strip() for c in r]
        if f[cols["state"]] == "REFUND":
            entries.append(
                Entry(
                    "refund",
                    f[cols["out_trade_no"]],
                    minor_units(f[cols["refund_amount"]]),
                    f[cols["out_request_no"]],
                    f[cols["trade_id"]],
                )
            )
        elif f[cols["state"]] == "SUCCESS":
            entries.append(
                Entry("trade", f[cols["out_trade_no"]], minor_units(f[cols["amount"]]), "", f[cols["trade_id"]])
            )
    return entries
