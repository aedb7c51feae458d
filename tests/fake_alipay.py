"""A local Alipay Face-to-Face gateway for tests: the real wire protocol on 127.0.0.1.

It reads a request as Alipay does: the common parameters from the URL query,
the form body decoded by the `charset` named there (GBK when none is, so a
Chinese subject sent without it fails the signature check), and checks the
RSA2 signature with the kiosk's public key through Alipay's official Python
SDK (`alipay-sdk-python`), not through the kiosk's own code.  It insists the
payment code never appears in the URL, keeps trades, and answers with
`<method>_response` objects signed by its own key, again with the official
SDK, written with the spacing and non-ASCII text of a real answer so that
verification must use the raw text.  Faults are queued per method: "5xx",
"drop", "slow", "badsig", "garbage", "gbk" (the answer in GBK, as Alipay sends
to merchants whose charset is GBK), "escaped" (slashes written `\\/`, signed
unescaped), or a result code ("20000").  What a payment code does follows its
last digit, like the sandbox: 0-6 paid, 7 waits for the buyer (paid after
`buyer_pays_after` queries), 8 declined.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from alipay.aop.api.util.SignatureUtils import get_sign_content, sign_with_rsa2, verify_with_rsa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass
class Trade:
    out_trade_no: str
    amount: str
    status: str  # WAIT_BUYER_PAY, TRADE_SUCCESS, TRADE_CLOSED
    trade_no: str
    queries: int = 0
    refunded: bool = False


@dataclass
class FakeAlipay:
    app_public_key: rsa.RSAPublicKey
    alipay_private_key: rsa.RSAPrivateKey
    buyer_pays_after: int = 2
    cancel_retries: int = 0  # cancels answered "retry_flag=Y" before one goes through
    slow_s: float = 3.0
    port: int = 0
    trades: dict[str, Trade] = field(default_factory=dict)
    precreated: dict[str, str] = field(default_factory=dict)  # QR shown, not scanned yet: no trade exists
    refunds: dict[str, tuple[str, str]] = field(default_factory=dict)  # out_request_no -> (out_trade_no, amount)
    faults: dict[str, list[str]] = field(default_factory=dict)
    calls: list[tuple[str, dict]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        # the official SDK takes keys as PEM text: PKCS#1 for the private key, SubjectPublicKeyInfo for the public
        self._sdk_private = self.alipay_private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ).decode()
        self._sdk_app_public = self.app_public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                fake.handle(self)

            def do_GET(self):
                fake._raw(self, fake.bill_zip(), "application/zip")

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/gateway.do"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wallet_scans(self, out_trade_no: str) -> None:
        """The shopper's Alipay app scans the precreated QR and pays: now the trade exists."""
        with self.lock:
            amount = self.precreated.pop(out_trade_no)
            self.trades[out_trade_no] = Trade(
                out_trade_no, amount, "TRADE_SUCCESS", f"2026112422001{len(self.trades):07d}"
            )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fault(self, method: str, *names: str) -> None:
        self.faults.setdefault(method, []).extend(names)

    def methods(self) -> list[str]:
        return [m for m, _ in self.calls]

    # -- one request ------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler) -> None:
        query = urllib.parse.urlsplit(h.path).query
        common = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
        charset = common.get("charset") or "gbk"  # Alipay reads the charset from the URL; without it, GBK
        length = int(h.headers.get("Content-Length", 0))
        body = h.rfile.read(length)
        try:
            form = {
                k: v[0] for k, v in urllib.parse.parse_qs(body.decode(charset, "replace"), encoding=charset).items()
            }
        except LookupError:
            form = {}
        if "auth_code" in urllib.parse.unquote(query):
            self.violations.append(f"the payment code in the URL: {h.path}")
        params = {**form, **common}
        method = params.get("method", "")
        unsigned = {k: v for k, v in params.items() if k != "sign" and v}
        try:
            ok = verify_with_rsa(
                self._sdk_app_public, get_sign_content(unsigned).encode(charset), params.get("sign", "")
            )
        except Exception:
            ok = False
        if not ok:
            self.violations.append(f"{method}: bad request signature")
            return self._send(
                h,
                {"error_response": {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"}},
                signed=False,
            )
        form = params
        for key in ("app_id", "format", "charset", "sign_type", "timestamp", "version"):
            if not form.get(key):
                self.violations.append(f"{method}: no {key}")
        biz = json.loads(form.get("biz_content", "{}"))
        with self.lock:
            self.calls.append((method, biz))
            fault = (self.faults.get(method) or [None]).pop(0) if self.faults.get(method) else None
        if fault == "drop":
            h.connection.shutdown(2)
            return
        if fault == "5xx":
            h.send_response(502)
            h.end_headers()
            return
        if fault == "garbage":
            return self._raw(h, b"<html>gateway busy</html>")
        body = self.answer(method, biz, fault)
        if fault == "slow":
            time.sleep(self.slow_s)
        self._send(h, body, signed=True, method=method, fault=fault)

    def answer(self, method: str, biz: dict, fault: str | None) -> dict:
        ok = {"code": "10000", "msg": "Success"}
        out_trade_no = biz.get("out_trade_no", "")
        if method == "alipay.data.dataservice.bill.downloadurl.query":
            base = self.url.rsplit("/", 1)[0]
            return {**ok, "bill_download_url": f"{base}/bill/{biz['bill_date']}.csv.zip?token=t"}
        with self.lock:
            trade = self.trades.get(out_trade_no)
            if method == "alipay.trade.precreate":
                self.precreated[out_trade_no] = biz["total_amount"]
                return {
                    **ok,
                    "out_trade_no": out_trade_no,
                    "qr_code": f"https://qr.alipay.com/bax0{len(self.precreated)}",
                }
            if method == "alipay.trade.close" and trade is None and out_trade_no in self.precreated:
                del self.precreated[out_trade_no]  # never scanned: nothing to close but the QR
                return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST"}
            if method == "alipay.trade.pay":
                if trade is not None:
                    return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_HAS_SUCCESS"}
                last = biz["auth_code"][-1]
                if last == "8":
                    return {
                        "code": "40004",
                        "msg": "Business Failed",
                        "sub_code": "ACQ.PAYMENT_AUTH_CODE_INVALID",
                        "sub_msg": "支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款",
                    }
                status = "WAIT_BUYER_PAY" if last == "7" else "TRADE_SUCCESS"
                trade = self.trades[out_trade_no] = Trade(
                    out_trade_no, biz["total_amount"], status, f"2026112422001{len(self.trades):07d}"
                )
                if fault and fault.isdigit():  # e.g. 20000: the trade is made, the answer is "unknown"
                    return {"code": fault, "msg": "Service Currently Unavailable", "sub_code": "aop.unknow-error"}
                code = "10003" if status == "WAIT_BUYER_PAY" else "10000"
                return {
                    "code": code,
                    "msg": "Success" if code == "10000" else "order success pay inprocess",
                    "trade_no": trade.trade_no,
                    "out_trade_no": out_trade_no,
                    "total_amount": trade.amount,
                    "buyer_logon_id": "159****5620",
                }
            if trade is None:
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_NOT_EXIST",
                    "sub_msg": "交易不存在",
                }
            if method == "alipay.trade.query":
                trade.queries += 1
                if trade.status == "WAIT_BUYER_PAY" and trade.queries >= self.buyer_pays_after:
                    trade.status = "TRADE_SUCCESS"
                return {
                    **ok,
                    "trade_no": trade.trade_no,
                    "out_trade_no": out_trade_no,
                    "trade_status": trade.status,
                    "total_amount": trade.amount,
                }
            if method == "alipay.trade.refund":
                orn = biz["out_request_no"]
                if orn in self.refunds:  # the same request again: refunded once, said again
                    return {**ok, "trade_no": trade.trade_no, "fund_change": "N", "refund_fee": self.refunds[orn][1]}
                if trade.status != "TRADE_SUCCESS":
                    return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_STATUS_ERROR"}
                self.refunds[orn] = (out_trade_no, biz["refund_amount"])
                return {**ok, "trade_no": trade.trade_no, "fund_change": "Y", "refund_fee": biz["refund_amount"]}
            if method == "alipay.trade.fastpay.refund.query":
                found = self.refunds.get(biz["out_request_no"])
                if found is None:
                    return {**ok, "trade_no": trade.trade_no, "out_trade_no": out_trade_no}
                return {
                    **ok,
                    "trade_no": trade.trade_no,
                    "out_request_no": biz["out_request_no"],
                    "refund_amount": found[1],
                    "refund_status": "REFUND_SUCCESS",
                }
            if method == "alipay.trade.close":
                if trade.status == "TRADE_SUCCESS":
                    return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_STATUS_ERROR"}
                trade.status = "TRADE_CLOSED"
                return {**ok, "trade_no": trade.trade_no, "out_trade_no": out_trade_no}
            if method == "alipay.trade.cancel":
                if self.cancel_retries > 0:
                    self.cancel_retries -= 1
                    return {"code": "20000", "msg": "Service Currently Unavailable", "retry_flag": "Y"}
                action = "refund" if trade.status == "TRADE_SUCCESS" else "close"
                trade.refunded = action == "refund"
                trade.status = "TRADE_CLOSED"
                return {
                    **ok,
                    "trade_no": trade.trade_no,
                    "out_trade_no": out_trade_no,
                    "retry_flag": "N",
                    "action": action,
                }
        return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.METHOD_NOT_SUPPORTED"}

    def _send(self, h, body: dict, *, signed: bool, method: str = "", fault: str | None = None) -> None:
        if not signed:
            return self._raw(h, json.dumps(body, ensure_ascii=False).encode())
        name = method.replace(".", "_") + "_response"
        raw = json.dumps(body, ensure_ascii=False, indent=None, separators=(", ", ": "))  # not the canonical form
        charset = "gbk" if fault == "gbk" else "utf-8"
        signature = sign_with_rsa2(self._sdk_private, raw, charset)
        if fault == "badsig":
            flipped = base64.b64decode(signature)
            signature = base64.b64encode(bytes([flipped[0] ^ 1]) + flipped[1:]).decode()
        if fault == "escaped":  # signed as "/", sent as "\/", as some of Alipay's answers are
            raw = raw.replace("/", "\\/")
        text = f'{{"{name}": {raw},"sign":"{signature}"}}'
        self._raw(h, text.encode(charset), f"text/html;charset={charset}")

    def bill_zip(self) -> bytes:
        """The day's trade bill as Alipay ships it: a zip holding GBK CSVs, the detail one with # comments."""
        import csv
        import io
        import zipfile

        out = io.StringIO()
        out.write("#支付宝业务明细查询\n#账号：[20881234567890123]\n#起始日期：[2026年11月24日 00:00:00]\n")
        out.write("#-----------------------------------------业务明细列表----------------------------------------\n")
        w = csv.writer(out, lineterminator="\n")
        w.writerow(
            [
                "支付宝交易号",
                "商户订单号",
                "业务类型",
                "商品名称",
                "创建时间",
                "完成时间",
                "门店编号",
                "门店名称",
                "操作员",
                "终端号",
                "对方账户",
                "订单金额（元）",
                "商家实收（元）",
                "支付宝红包（元）",
                "集分宝（元）",
                "支付宝优惠（元）",
                "商家优惠（元）",
                "券核销金额（元）",
                "券名称",
                "商家红包消费金额（元）",
                "卡消费金额（元）",
                "退款批次号/请求号",
                "服务费（元）",
                "分润（元）",
                "备注",
            ]
        )
        for t in self.trades.values():
            if t.status != "TRADE_SUCCESS" and not t.refunded:
                continue
            w.writerow(
                [
                    t.trade_no + "\t",
                    t.out_trade_no + "\t",
                    "交易",
                    "自助收银",
                    "2026-11-24 10:00:00",
                    "2026-11-24 10:00:05",
                    "s1",
                    "演示门店",
                    "",
                    "k1",
                    "159****5620",
                    t.amount,
                    t.amount,
                    "0.00",
                    "0.00",
                    "0.00",
                    "0.00",
                    "0.00",
                    "",
                    "0.00",
                    "0.00",
                    "",
                    "-0.03",
                    "0.00",
                    "",
                ]
            )
            if t.refunded:  # reversed by a cancel: a refund with no request number
                w.writerow(
                    [
                        t.trade_no,
                        t.out_trade_no,
                        "退款",
                        "自助收银",
                        "",
                        "",
                        "s1",
                        "",
                        "",
                        "k1",
                        "",
                        "-" + t.amount,
                        "-" + t.amount,
                    ]
                    + ["0.00"] * 8
                    + ["", "0.03", "0.00", ""]
                )
        for orn, (otn, amount) in self.refunds.items():
            t = self.trades[otn]
            w.writerow(
                [t.trade_no, otn, "退款", "自助收银", "", "", "s1", "", "", "k1", "", "-" + amount, "-" + amount]
                + ["0.00"] * 8
                + [orn, "0.01", "0.00", ""]
            )
        out.write("#-----------------------------------------业务明细列表结束------------------------------------\n")
        out.write(f"#交易合计：{len(self.trades)}笔\n")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("20881234567890123_20261124_业务明细.csv", out.getvalue().encode("gbk"))
            z.writestr("20881234567890123_20261124_业务明细(汇总).csv", "#汇总\n".encode("gbk"))
        return buf.getvalue()

    def _raw(self, h, data: bytes, content_type: str = "text/html;charset=utf-8") -> None:
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
