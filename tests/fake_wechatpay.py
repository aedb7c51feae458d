"""A local WeChat Pay API v3 for tests: signed requests checked, answers signed, the real paths and codes.

Time is a virtual clock shared with the gateway under test, so the rule "no
reverse sooner than 15 s after the payment" is checked without waiting; the
answers' `Wechatpay-Timestamp` is real time, as WeChat's is.  It runs in
public-key mode: requests must name its key (`Wechatpay-Serial`), and answers
carry that id and are signed with wechatpayv3's own `rsa_sign`.  What a
payment code does follows its last digit: 0-6 paid, 7 the shopper confirms on
the phone (paid after `buyer_pays_after` queries), 8 declined (NOTENOUGH).
Faults are queued per route name: "5xx", "drop", "badsig", "skew" (the answer
stamped an hour ago, correctly signed: a replay), "serial" (signed, but naming
another key), "204" (a reverse answered 204 No Content).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from wechatpayv3.utils import rsa_sign

PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001"


class VirtualClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


@dataclass
class WxTrade:
    out_trade_no: str
    total: int
    state: str  # SUCCESS, USERPAYING, NOTPAY, REVOKED, CLOSED
    transaction_id: str
    paid_at: float
    queries: int = 0


@dataclass
class FakeWechatPay:
    merchant_public_key: rsa.RSAPublicKey
    platform_key: rsa.RSAPrivateKey
    clock: VirtualClock
    buyer_pays_after: int = 2
    recalls: int = 0  # reverses answered recall=Y before one goes through
    trades: dict[str, WxTrade] = field(default_factory=dict)
    refunds: dict[str, tuple[str, int]] = field(default_factory=dict)
    faults: dict[str, list[str]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.handle(self, "GET")

            def do_POST(self):
                fake.handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fault(self, route: str, *names: str) -> None:
        self.faults.setdefault(route, []).extend(names)

    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length", 0))).decode("utf-8")
        self._check_signature(h, method, body)
        if h.path.startswith("/v3/billdownload/file"):
            return self._bill(h)
        route, status, data = self.route(method, h.path, json.loads(body) if body else {})
        with self.lock:
            self.calls.append(route)
            fault = self.faults[route].pop(0) if self.faults.get(route) else None
        if fault == "drop":
            h.connection.shutdown(2)
            return
        if fault == "5xx":
            status, data = 500, {"code": "SYSTEM_ERROR", "message": "系统错误"}
        if fault == "204" and route == "reverse" and status == 200:
            status, data = 204, None
        raw = "" if data is None else json.dumps(data, ensure_ascii=False)
        ts, nonce = str(int(time.time()) - (3600 if fault == "skew" else 0)), secrets.token_hex(8)
        sig = rsa_sign(self.platform_key, f"{ts}\n{nonce}\n{raw}\n")
        if fault == "badsig":
            flipped = base64.b64decode(sig)
            sig = base64.b64encode(bytes([flipped[0] ^ 1]) + flipped[1:]).decode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Wechatpay-Timestamp", ts)
        h.send_header("Wechatpay-Nonce", nonce)
        h.send_header("Wechatpay-Signature", sig)
        h.send_header("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
        h.send_header("Wechatpay-Serial", "PUB_KEY_ID_0000OTHER" if fault == "serial" else PUBLIC_KEY_ID)
        h.send_header("Content-Length", str(len(raw.encode())))
        h.end_headers()
        h.wfile.write(raw.encode())

    def _bill(self, h) -> None:
        """The trade bill as WeChat ships it: every field behind a backtick, then a totals block."""
        head = (
            "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
            "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
            "手续费,费率,订单金额,申请退款金额,费率备注"
        )
        rows = [head]
        for t in self.trades.values():
            if t.state in ("SUCCESS", "REVOKED") and t.transaction_id:
                rows.append(
                    ",".join(
                        "`" + v
                        for v in [
                            "2026-11-24 10:00:00",
                            "wx",
                            "1900000109",
                            "0",
                            "k1",
                            t.transaction_id,
                            t.out_trade_no,
                            "o",
                            "MICROPAY",
                            "SUCCESS",
                            "CMB",
                            "CNY",
                            f"{t.total / 100:.2f}",
                            "0.00",
                            "0",
                            "0",
                            "0.00",
                            "0.00",
                            "",
                            "",
                            "Demo",
                            "",
                            "0.01",
                            "0.60%",
                            f"{t.total / 100:.2f}",
                            "0.00",
                            "",
                        ]
                    )
                )
        for orn, (otn, amount) in self.refunds.items():
            t = self.trades[otn]
            rows.append(
                ",".join(
                    "`" + v
                    for v in [
                        "2026-11-24 11:00:00",
                        "wx",
                        "1900000109",
                        "0",
                        "k1",
                        t.transaction_id,
                        otn,
                        "o",
                        "MICROPAY",
                        "REFUND",
                        "CMB",
                        "CNY",
                        "0.00",
                        "0.00",
                        "503",
                        orn,
                        f"{amount / 100:.2f}",
                        "0.00",
                        "ORIGINAL",
                        "SUCCESS",
                        "Demo",
                        "",
                        "0.00",
                        "0.60%",
                        "0.00",
                        f"{amount / 100:.2f}",
                        "",
                    ]
                )
            )
        rows += ["总交易单数,应结订单总金额,退款总金额", "`1,`0.00,`0.00"]
        data = ("\n".join(rows) + "\n").encode("utf-8")
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _check_signature(self, h, method: str, body: str) -> None:
        if h.headers.get("Wechatpay-Serial") != PUBLIC_KEY_ID:
            self.violations.append(f"{method} {h.path}: Wechatpay-Serial {h.headers.get('Wechatpay-Serial')!r}")
        auth = h.headers.get("Authorization", "")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', auth))
        if not auth.startswith("WECHATPAY2-SHA256-RSA2048 ") or not fields.get("signature"):
            self.violations.append(f"{method} {h.path}: no WECHATPAY2 authorization")
            return
        message = f"{method}\n{h.path}\n{fields['timestamp']}\n{fields['nonce_str']}\n{body}\n".encode()
        try:
            self.merchant_public_key.verify(
                base64.b64decode(fields["signature"]), message, padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception:
            self.violations.append(f"{method} {h.path}: bad request signature")

    def route(self, method: str, path: str, body: dict) -> tuple[str, int, dict | None]:
        url = urllib.parse.urlsplit(path)
        m = re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)(/reverse|/close)?", url.path)
        with self.lock:
            if url.path == "/v3/pay/transactions/codepay":
                last = body["payer"]["auth_code"][-1]
                otn = body["out_trade_no"]
                if last == "8":
                    return "codepay", 403, {"code": "NOTENOUGH", "message": "余额不足"}
                state = "USERPAYING" if last == "7" else "SUCCESS"
                t = self.trades[otn] = WxTrade(
                    otn, body["amount"]["total"], state, f"42000{len(self.trades):09d}", self.clock.now()
                )
                if state == "USERPAYING":
                    return "codepay", 202, {"code": "USERPAYING", "message": "需要用户输入支付密码"}
                return (
                    "codepay",
                    200,
                    {
                        "trade_state": "SUCCESS",
                        "transaction_id": t.transaction_id,
                        "out_trade_no": otn,
                        "amount": {"total": t.total},
                    },
                )
            if url.path == "/v3/pay/transactions/native":
                otn = body["out_trade_no"]
                self.trades[otn] = WxTrade(otn, body["amount"]["total"], "NOTPAY", "", self.clock.now())
                return "native", 200, {"code_url": f"weixin://wxpay/bizpayurl?pr={otn}"}
            if m:
                t = self.trades.get(urllib.parse.unquote(m.group(1)))
                if t is None:
                    return "query", 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
                if m.group(2) == "/reverse":
                    if self.clock.now() - t.paid_at < 15:
                        self.violations.append(
                            f"reverse {t.out_trade_no} {self.clock.now() - t.paid_at:.1f} s after the payment"
                        )
                    if self.recalls > 0:
                        self.recalls -= 1
                        return "reverse", 200, {"recall": "Y"}
                    t.state = "REVOKED"
                    return "reverse", 200, {"recall": "N"}
                if m.group(2) == "/close":
                    if t.state == "SUCCESS":
                        return "close", 400, {"code": "ORDERPAID", "message": "订单已支付"}
                    t.state = "CLOSED"
                    return "close", 204, None
                t.queries += 1
                if t.state == "USERPAYING" and t.queries >= self.buyer_pays_after:
                    t.state = "SUCCESS"
                return (
                    "query",
                    200,
                    {"trade_state": t.state, "transaction_id": t.transaction_id, "out_trade_no": t.out_trade_no},
                )
            if url.path == "/v3/refund/domestic/refunds" and method == "POST":
                orn = body["out_refund_no"]
                if orn not in self.refunds:
                    self.refunds[orn] = (body["out_trade_no"], body["amount"]["refund"])
                return "refund", 200, {"refund_id": "50300" + orn[-6:], "out_refund_no": orn, "status": "SUCCESS"}
            if url.path.startswith("/v3/refund/domestic/refunds/"):
                orn = urllib.parse.unquote(url.path.rsplit("/", 1)[1])
                if orn not in self.refunds:
                    return "refund_query", 404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}
                return "refund_query", 200, {"out_refund_no": orn, "status": "SUCCESS"}
            if url.path == "/v3/bill/tradebill":
                return (
                    "tradebill",
                    200,
                    {"download_url": f"{self.url}/v3/billdownload/file?token=t", "hash_type": "SHA1"},
                )
        return "unknown", 404, {"code": "NOT_FOUND", "message": path}
