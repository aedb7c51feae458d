"""Alipay Face-to-Face (当面付) over its real wire protocol: RSA2-signed form POSTs, signed JSON answers.

Facts from ../shared/spec/payments.md.  Every request is signed with the
app's RSA key and sent as the official SDKs send it: the common parameters
(with `charset` and `sign`) in the URL query, `biz_content` alone in the POST
body, so Alipay decodes the body as UTF-8 and the payment code never appears
in a URL.  Every answer is decoded by the charset it declares, and its
`<method>_response` object is verified, as the raw text received, against the
top-level `sign` with Alipay's public key (once more with a backslash-slash read as `/`, as
the SDKs do).  An answer that fails verification, or cannot be read at all, is
treated as no answer (UNKNOWN), so the loop queries and, if need be, cancels;
nothing an answer holds makes the gateway raise.
"""

from __future__ import annotations

import base64
import codecs
import csv
import io
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kiosk.money import minor_units
from kiosk.payments import Answer, Entry, PayRequest, Status

log = logging.getLogger(__name__)
BEIJING = timezone(timedelta(hours=8))
PAID_STATES = ("TRADE_SUCCESS", "TRADE_FINISHED")


def signing_string(params: dict[str, str]) -> str:
    """All parameters but `sign`, empty values dropped, sorted by key, `k=v` joined by `&`, values raw."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] not in ("", None))


def sign(params: dict[str, str], key: rsa.RSAPrivateKey) -> str:
    signature = key.sign(signing_string(params).encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify(signed: bytes, signature: str, key: rsa.RSAPublicKey) -> bool:
    """`signed`: the response object's bytes as Alipay encoded them (the charset of the answer)."""
    try:
        key.verify(base64.b64decode(signature), signed, padding.PKCS1v15(), hashes.SHA256())
        return True
    except (InvalidSignature, ValueError):
        return False


def _charset(raw: bytes, declared: str | None) -> str:
    """The answer's charset: as its Content-Type declares, else utf-8; an unknown name counts as utf-8."""
    for name in (declared, "utf-8"):
        if name:
            try:
                return codecs.lookup(name).name
            except LookupError:
                continue
    return "utf-8"


def response_object(body: str, method: str) -> tuple[str, str, dict[str, Any]] | None:
    """(name, raw text, value) of `<method>_response` (or else `error_response`), the text exactly as received."""
    decoder = json.JSONDecoder()
    for name in (method.replace(".", "_") + "_response", "error_response"):
        marker = f'"{name}"'
        at = body.find(marker)
        if at < 0:
            continue
        start = body.index(":", at + len(marker)) + 1
        while body[start] in " \t\r\n":
            start += 1
        value, end = decoder.raw_decode(body, start)
        return name, body[start:end], value
    return None


def yuan(minor: int) -> str:
    whole, cents = divmod(minor, 100)
    return f"{whole}.{cents:02d}"


class AlipayGateway:
    name = "alipay"
    qr_channel = "alipay"  # a precreate QR is paid in the Alipay app
    schemes = frozenset({"alipay"})
    poll_interval_s, paying_limit_s = 3.0, 60.0  # payments.md: query every 3-5 s for about 60 s

    def __init__(
        self,
        *,
        app_id: str,
        gateway_url: str,
        private_key: rsa.RSAPrivateKey,
        alipay_public_key: rsa.RSAPublicKey,
        timeout_s: float = 10.0,
        store_id: str = "",
        terminal_id: str = "",
    ) -> None:
        self.app_id = app_id
        self.url = gateway_url
        self.key = private_key
        self.alipay_key = alipay_public_key
        self.timeout_s = timeout_s
        self.store_id = store_id
        self.terminal_id = terminal_id

    # -- the wire ------------------------------------------------------------------------
    def call(self, method: str, biz: dict[str, Any]) -> dict[str, Any] | None:
        """One signed request; the verified response object, or None when there is no trustworthy answer."""
        params = {
            "app_id": self.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        }
        params["sign"] = sign(params, self.key)
        common = {k: v for k, v in params.items() if k != "biz_content"}
        request = urllib.request.Request(
            self.url + ("&" if "?" in self.url else "?") + urllib.parse.urlencode(common),
            data=urllib.parse.urlencode({"biz_content": params["biz_content"]}).encode("utf-8"),
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                raw, declared = resp.read(), resp.headers.get_content_charset()
        except urllib.error.HTTPError as exc:
            log.warning("alipay %s: HTTP %s", method, exc.code)
            return None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            log.warning("alipay %s: no answer (%s)", method, exc)
            return None
        return self._verified(method, raw, declared)

    def _verified(self, method: str, raw: bytes, declared: str | None) -> dict[str, Any] | None:
        """The verified response object of an answer, or None; never raises, whatever the answer holds."""
        try:
            return self._read(method, raw, declared)
        except Exception as exc:
            log.warning("alipay %s: an answer that cannot be read (%s: %s)", method, type(exc).__name__, exc)
            return None

    def _read(self, method: str, raw: bytes, declared: str | None) -> dict[str, Any] | None:
        charset = _charset(raw, declared)
        body = raw.decode(charset)
        try:
            found = response_object(body, method)
            envelope = json.loads(body)
        except (ValueError, IndexError):
            log.warning("alipay %s: an answer that is not JSON", method)
            return None
        if found is None or not isinstance(envelope, dict):
            log.warning("alipay %s: no response object in the answer", method)
            return None
        name, text, value = found
        if name == "error_response":
            sub = value.get("sub_code") or value.get("code") if isinstance(value, dict) else value
            log.warning("alipay %s: error_response %s", method, sub)
            return None  # unsigned, and about the request rather than the trade: not an answer to act on
        signature = envelope.get("sign", "")
        if not isinstance(signature, str) or not signature or not isinstance(value, dict):
            log.warning("alipay %s: an unsigned answer; treated as no answer", method)
            return None
        signed = text.encode(charset)
        if not verify(signed, signature, self.alipay_key) and not (
            "\\/" in text and verify(text.replace("\\/", "/").encode(charset), signature, self.alipay_key)
        ):
            log.warning("alipay %s: the answer's signature does not verify; treated as no answer", method)
            return None
        return value

    # -- the Gateway interface ----------------------------------------------------------------
    def pay(self, req: PayRequest) -> Answer:
        biz = {
            "out_trade_no": req.out_trade_no,
            "scene": "bar_code",
            "auth_code": req.auth_code,
            "total_amount": yuan(req.amount),
            "subject": req.subject,
        }
        if self.store_id:
            biz["store_id"] = self.store_id
        if self.terminal_id:
            biz["terminal_id"] = self.terminal_id
        r = self.call("alipay.trade.pay", biz)
        if r is None:
            return Answer(Status.UNKNOWN, reason="NO_ANSWER")
        code, trade_id = r.get("code"), r.get("trade_no", "")
        if code == "10000":
            return Answer(Status.PAID, trade_id=trade_id)
        if code == "10003":
            return Answer(Status.PAYING, trade_id=trade_id)
        if code == "40004":
            return Answer(Status.FAILED, trade_id=trade_id, reason=r.get("sub_code", "BUSINESS_FAILED"))
        return Answer(Status.UNKNOWN, trade_id=trade_id, reason=r.get("sub_code") or str(code))

    def query(self, out_trade_no: str) -> Answer:
        r = self.call("alipay.trade.query", {"out_trade_no": out_trade_no})
        if r is None:
            return Answer(Status.UNKNOWN, reason="NO_ANSWER")
        if r.get("code") == "40004" and r.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return Answer(Status.NOT_FOUND, reason="ACQ.TRADE_NOT_EXIST")
        if r.get("code") != "10000":
            return Answer(Status.UNKNOWN, reason=r.get("sub_code") or str(r.get("code")))
        state, trade_id = r.get("trade_status"), r.get("trade_no", "")
        if state in PAID_STATES:
            return Answer(Status.PAID, trade_id=trade_id)
        if state == "WAIT_BUYER_PAY":
            return Answer(Status.PAYING, trade_id=trade_id)
        if state == "TRADE_CLOSED":
            return Answer(Status.CLOSED, trade_id=trade_id, reason="TRADE_CLOSED")
        return Answer(Status.UNKNOWN, trade_id=trade_id, reason=str(state))

    def precreate(self, out_trade_no: str, amount: int, subject: str) -> Answer:
        """A QR for the shopper's Alipay app to scan (the trade exists only once it is scanned)."""
        biz = {"out_trade_no": out_trade_no, "total_amount": yuan(amount), "subject": subject}
        if self.store_id:
            biz["store_id"] = self.store_id
        if self.terminal_id:
            biz["terminal_id"] = self.terminal_id
        r = self.call("alipay.trade.precreate", biz)
        if r is None:
            return Answer(Status.UNKNOWN, reason="NO_ANSWER")
        if r.get("code") == "10000" and r.get("qr_code"):
            return Answer(Status.PAYING, qr=r["qr_code"])
        if r.get("code") == "40004":
            return Answer(Status.FAILED, reason=r.get("sub_code", "BUSINESS_FAILED"))
        return Answer(Status.UNKNOWN, reason=r.get("sub_code") or str(r.get("code")))

    def close(self, out_trade_no: str) -> Answer:
        r = self.call("alipay.trade.close", {"out_trade_no": out_trade_no})
        if r is None:
            return Answer(Status.UNKNOWN, reason="NO_ANSWER")
        if r.get("code") == "10000" or r.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return Answer(Status.CLOSED, trade_id=r.get("trade_no", ""), reason=r.get("sub_code", ""))
        return Answer(Status.UNKNOWN, reason=r.get("sub_code") or str(r.get("code")))  # e.g. paid meanwhile

    def refund(self, out_trade_no: str, out_request_no: str, amount: int, total: int | None = None) -> Answer:
        """alipay.trade.refund: Alipay refunds one out_request_no once, however often it is sent."""
        r = self.call(
            "alipay.trade.refund",
            {"out_trade_no": out_trade_no, "out_request_no": out_request_no, "refund_amount": yuan(amount)},
        )
        if r is None:
            return Answer(Status.UNKNOWN, reason="NO_ANSWER")
        if r.get("code") == "10000":
            return Answer(Status.REFUNDED, trade_id=r.get("trade_no", ""))
        if r.get("code") == "40004":
            return Answer(Status.FAILED, reason=r.get("sub_code", "BUSINESS_FAILED"))
        return Answer(Status.UNKNOWN, reason=r.get("sub_code") or str(r.get("code")))

    def refund_query(self, out_trade_no: str, out_request_no: str) -> Answer:
        r = self.call(
            "alipay.trade.fastpay.refund.query", {"out_trade_no": out_trade_no, "out_request_no": out_request_no}
        )
        if r is None or r.get("code") != "10000":
            return Answer(Status.UNKNOWN, reason="NO_ANSWER" if r is None else str(r.get("sub_code")))
        if r.get("refund_status") == "REFUND_SUCCESS" or r.get("refund_amount"):
            return Answer(Status.REFUNDED, trade_id=r.get("trade_no", ""))
        return Answer(Status.NOT_FOUND, reason="REFUND_NOT_EXIST")  # success with no refund: it was never made

    def statement(self, day: str) -> list[Entry]:
        """The day's trade bill: the download URL (valid 30 s) from bill.downloadurl.query, then the GBK csv.zip."""
        r = self.call("alipay.data.dataservice.bill.downloadurl.query", {"bill_type": "trade", "bill_date": day})
        if r is None or r.get("code") != "10000" or not r.get("bill_download_url"):
            reason = "no answer" if r is None else r.get("sub_code") or r.get("code")
            raise OSError(f"Alipay has no bill for {day} ({reason})")
        with urllib.request.urlopen(r["bill_download_url"], timeout=self.timeout_s) as resp:
            return parse_alipay_bill(resp.read())

    def cancel(self, out_trade_no: str) -> Answer:
        r = self.call("alipay.trade.cancel", {"out_trade_no": out_trade_no})
        if r is None:
            return Answer(Status.UNKNOWN, reason="NO_ANSWER", retry=True)
        retry = r.get("retry_flag") == "Y"
        if r.get("code") == "10000" and not retry:
            return Answer(
                Status.CLOSED,
                trade_id=r.get("trade_no", ""),
                refunded=r.get("action") == "refund",
                reason=f"ACTION_{str(r.get('action', 'close')).upper()}",
            )
        if r.get("code") == "40004" and r.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return Answer(Status.CLOSED, reason="ACQ.TRADE_NOT_EXIST")  # nothing was made, nothing to undo
        return Answer(Status.UNKNOWN, reason=r.get("sub_code") or str(r.get("code")), retry=True)


ALIPAY_COLUMNS = {
    "支付宝交易号": "trade_id",
    "商户订单号": "out_trade_no",
    "业务类型": "kind",
    "订单金额（元）": "amount",
    "退款批次号/请求号": "out_request_no",
}


def parse_alipay_bill(data: bytes) -> list[Entry]:
    """Alipay's trade bill: a zip whose detail CSV (GBK) has '#' comment lines around a header and rows."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = [n for n in z.namelist() if n.endswith(".csv") and "汇总" not in n]
        if not names:
            raise ValueError("no detail CSV in the Alipay bill zip")
        text = z.read(names[0]).decode("gbk")
    rows = [r for r in csv.reader(line for line in text.splitlines() if line and not line.startswith("#"))]
    header = next((i for i, r in enumerate(rows) if "商户订单号" in [c.strip() for c in r]), None)
    if header is None:
        raise ValueError("the Alipay bill has no header row with 商户订单号")
    cols = {ALIPAY_COLUMNS[c.strip()]: i for i, c in enumerate(rows[header]) if c.strip() in ALIPAY_COLUMNS}
    entries = []
    for r in rows[header + 1 :]:
        if len(r) <= max(cols.values()):
            continue  # totals and trailing lines
        kind = {"交易": "trade", "退款": "refund"}.get(r[cols["kind"]].strip())
        if kind is None:
            continue
        entries.append(
            Entry(
                kind,
                r[cols["out_trade_no"]].strip(),
                abs(minor_units(r[cols["amount"]])),
                r[cols.get("out_request_no", cols["out_trade_no"])].strip() if kind == "refund" else "",
                r[cols["trade_id"]].strip(),
            )
        )
    return entries
