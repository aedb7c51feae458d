"""Head office's HTTP API as the kiosk uses it: downloading a published catalog too big to ride in `cmd/catalog`,
and asking an order's state before handing it over.

Both run on a worker thread, never the UI loop, with a timeout.  Nothing here is trusted for what it says: a
catalog is checked against its signed manifest, and an order's state is signed by head office for the nonce the
kiosk sent (kiosk.services.online_orders checks it).  An `https` address is checked against the system's CAs,
or against `mqtt.ca_file` when the kiosk has one (head office's own CA).
"""

from __future__ import annotations

import json
import logging
import ssl
import time
import urllib.error
import urllib.request
from typing import Any

log = logging.getLogger(__name__)


class HqUnreachable(OSError):
    """Head office did not answer as it should; the message says how (for the log), `status` the HTTP status it
    answered with (0: none)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class TooLong(HqUnreachable):
    """A download longer than announced: trying again would not shorten it."""


class HqHttp:
    def __init__(self, base_url: str = "", ca_file: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.ca_file = ca_file  # read at the first request (a kiosk provisioned by QR gets it from head office later)
        self._context: ssl.SSLContext | None = None

    def open(self, request: urllib.request.Request | str, timeout: float):
        url = request.full_url if isinstance(request, urllib.request.Request) else request
        if not url.startswith(("http://", "https://")):
            raise HqUnreachable(f"not an http(s) address: {url[:80]!r}")
        if self.ca_file and self._context is None and url.startswith("https://"):
            try:
                self._context = ssl.create_default_context(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise HqUnreachable(f"head office's CA {self.ca_file} does not load ({exc})") from None
        try:
            return urllib.request.urlopen(request, timeout=timeout, context=self._context)  # noqa: S310 - checked
        except urllib.error.HTTPError as exc:
            answer = exc.read(300).decode(errors="replace")
            raise HqUnreachable(f"head office answered {exc.code}: {answer}", exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            raise HqUnreachable(f"head office cannot be reached: {getattr(exc, 'reason', exc)}") from None

    def download(self, url: str, size: int, timeout: float = 60.0, retries: tuple[float, ...] = (2.0, 8.0)) -> bytes:
        """The `size` bytes at `url`, tried again after each of `retries` seconds; HqUnreachable when every try
        fails or sends more than announced."""
        for wait in (*retries, None):
            try:
                with self.open(url, timeout) as resp:
                    data = resp.read(size + 1)
                if len(data) > size:
                    raise TooLong(f"the download is longer than the {size} bytes announced")
                return data
            except HqUnreachable as exc:
                if wait is None or isinstance(exc, TooLong):
                    raise
                log.warning("catalog download failed (%s); again in %.0f s", exc, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")

    def post_json(self, path: str, body: dict[str, Any], timeout: float) -> Any:
        """POST `body` as JSON to base_url + path: the answer's JSON.  HqUnreachable when there is no base URL,
        no answer in time, or no JSON."""
        if not self.base_url:
            raise HqUnreachable("no head-office address (mqtt.hq_url)")
        request = urllib.request.Request(
            self.base_url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with self.open(request, timeout) as resp:
            raw = resp.read(64 * 1024)
        try:
            return json.loads(raw)
        except ValueError:
            raise HqUnreachable("head office's answer is not JSON") from None
