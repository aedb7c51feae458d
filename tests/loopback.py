"""Real-protocol stand-ins on 127.0.0.1 for the tests: broker, printer, scanner line, camera stream.

Each one is the real thing's wire protocol: mosquitto itself, a TCP listener
like a port-9100 printer (answering DLE EOT status queries), a TCP server the
kiosk reaches through pyserial's socket:// URL, and an MJPEG HTTP stream that
OpenCV reads like an IP camera.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import jsonschema
import numpy as np
import paho.mqtt.client as mqtt


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listen() -> socket.socket:
    """A listening TCP socket on a free loopback port."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    return sock


# Tests wait for events, not for the clock: a timeout is only how long to wait before calling it a failure, so it
# can be generous.  It is multiplied by TEST_SLACK (default 3), so a machine busy with other work (CI beside a
# second test run) slows a test down instead of failing it.
SLACK = float(os.environ.get("TEST_SLACK", "3"))


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02) -> bool:
    """True as soon as predicate() is; False if it still is not after timeout x SLACK seconds."""
    end = time.monotonic() + timeout * SLACK
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


class Mosquitto:
    """A mosquitto broker on a free loopback port; stop() and start() again to simulate an outage."""

    def __init__(self, workdir: Path, port: int | None = None, extra: str = "") -> None:
        self.workdir, self.extra, self.fixed_port = workdir, extra, port is not None
        self._configure(port or free_port())
        self.proc: subprocess.Popen | None = None
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).exists():
            raise RuntimeError("mosquitto is not installed: run `make test`, which installs it")
        self.exe = exe

    def _configure(self, port: int) -> None:
        self.port = port
        self.conf = self.workdir / f"mosquitto-{port}.conf"
        self.conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n{self.extra}")

    def start(self) -> Mosquitto:
        """Started and listening.  A free port can be taken between free_port() and mosquitto's bind (another
        test's outgoing connection): mosquitto then exits, and a listener found there would not be ours.  So
        the broker must be alive while the port answers; else another port (unless the test chose it)."""
        for _ in range(5):
            self.proc = subprocess.Popen(
                [self.exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if wait_until(self._exited_or_listening, 10):
                time.sleep(0.05)  # a mosquitto that could not bind exits at once
                if self.proc.poll() is None:
                    return self
            self.stop()
            if self.fixed_port:
                break
            self._configure(free_port())
        raise RuntimeError(f"mosquitto did not start on 127.0.0.1:{self.port}")

    def _exited_or_listening(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            return True
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc:
            if self.proc.poll() is None:
                self.proc.terminate()
            self.proc.wait(5)
            self.proc = None


PROTOCOL = jsonschema.Draft202012Validator(
    json.loads((Path(__file__).resolve().parent.parent / "protocol" / "mqtt-v1.1.schema.json").read_text())
)


class Subscriber:
    """Head office's side: subscribes to a topic filter and keeps every message."""

    def __init__(self, port: int, topic: str = "kiosk/#") -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"hq-{time.monotonic_ns()}")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        with self._lock:
            self.messages.append((msg.topic, msg.payload, bool(msg.retain)))

    def payloads(self, suffix: str) -> list[dict]:
        with self._lock:
            return [json.loads(p) for t, p, _ in self.messages if t.endswith("/" + suffix)]

    def raw(self, suffix: str) -> list[bytes]:
        with self._lock:
            return [p for t, p, _ in self.messages if t.endswith("/" + suffix)]

    def states(self) -> list[str]:
        """The kiosk's `status` messages, as the states they carry (online, offline, lost, locked)."""
        return [m["data"]["state"] for m in self.payloads("status")]

    def invalid(self) -> list[tuple[str, str]]:
        """Every message received that breaks the protocol's JSON Schema: (topic, why)."""
        with self._lock:
            seen = list(self.messages)
        bad = []
        for topic, payload, _ in seen:
            try:
                errors = sorted(PROTOCOL.iter_errors(json.loads(payload)), key=lambda e: e.path)
            except ValueError as exc:
                bad.append((topic, f"not JSON: {exc}"))
                continue
            bad += [(topic, f"{'/'.join(map(str, e.path))}: {e.message}") for e in errors]
        return bad

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class NetworkPrinter:
    """A TCP listener standing in for a port-9100 ESC/POS printer.

    It keeps each connection's bytes (`jobs`, with the real-time status
    queries taken out, as a printer consumes them) and answers DLE EOT 1, 2
    and 4 with the status bytes an Epson-compatible printer sends, from the
    flags below; `silent` answers nothing, like many cheap printers.  `hung`:
    it still accepts connections but reads nothing and answers nothing, like a
    printer whose firmware froze.  `buffer`: the receive buffer, as small as a
    real printer's (a few KB) or the kernel's default.
    """

    def __init__(self, buffer: int | None = None) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.jobs: list[bytes] = []
        self.last_byte_at: list[float] = []  # time.monotonic() of each job's last byte of print data
        self.queries = 0
        self.paper_near_end = False
        self.paper_out = False
        self.offline = False
        self.cover_open = False
        self.silent = False
        self.hung = False
        self.reply: bytes | None = None  # answer every query with these bytes instead (a confused printer)
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._job, args=(conn,), daemon=True).start()

    def _answer(self, n: int) -> bytes:
        if n == 1:
            return bytes([0x12 | (0x08 if self.offline or self.cover_open or self.paper_out else 0)])
        if n == 2:
            return bytes([0x12 | (0x04 if self.cover_open else 0) | (0x20 if self.paper_out else 0)])
        return bytes([0x12 | (0x0C if self.paper_near_end or self.paper_out else 0) | (0x60 if self.paper_out else 0)])

    def _job(self, conn: socket.socket) -> None:
        data = bytearray()
        last = 0.0
        conn.settimeout(5)
        if self.hung:  # holds the connection open and reads nothing, until the test ends
            with conn:
                end = time.monotonic() + 60
                while not self._stop and time.monotonic() < end:
                    time.sleep(0.05)
            return
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
                if not chunk.startswith(b"\x10\x04"):
                    last = time.monotonic()
                for n in (1, 2, 4):
                    query = b"\x10\x04" + bytes([n])
                    if data.endswith(query):
                        del data[-3:]
                        self.queries += 1
                        if not self.silent:
                            conn.sendall(self.reply if self.reply is not None else self._answer(n))
        self.last_byte_at.append(last)
        self.jobs.append(bytes(data))

    def close(self) -> None:
        self._stop = True
        self.sock.close()


class SerialLine:
    """The far end of a serial scanner: the kiosk connects with socket://127.0.0.1:PORT.

    Every connection is kept and every line goes to all of them (a scanner that reconnects gets the lines
    too).  Send only once the kiosk has opened the port: pyserial empties the input when it opens.
    """

    def __init__(self) -> None:
        self.sock = listen()
        self.port = self.sock.getsockname()[1]
        self.url = f"socket://127.0.0.1:{self.port}"
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def conn(self) -> socket.socket | None:
        return self.conns[-1] if self.conns else None

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def send(self, data: bytes) -> None:
        assert wait_until(lambda: self.conns, 10), "the kiosk never opened the serial line"
        for conn in list(self.conns):
            try:
                conn.sendall(data)
            except OSError:  # a client that went away
                self.conns.remove(conn)

    def close(self) -> None:
        for s in (*self.conns, self.sock):
            s.close()


class MjpegCamera:
    """An IP camera: multipart/x-mixed-replace JPEG frames at `fps` from whatever image is `show()`n."""

    def __init__(self, width: int = 640, height: int = 480, fps: int = 30) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.blank = np.full((height, width), 200, np.uint8)
        self._jpeg = self._encode(self.blank)
        self.frames_sent = 0
        cam = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    while not cam.closed:
                        jpeg = cam._jpeg
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n")
                        self.wfile.write(f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                        cam.frames_sent += 1
                        time.sleep(1 / cam.fps)
                except OSError:
                    pass

        self.closed = False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stream.mjpg"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def _encode(img: np.ndarray) -> bytes:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        return buf.tobytes()

    def show(self, image: np.ndarray | None) -> None:
        """Put an image (a phone showing a code) in front of the camera, or None for the empty counter."""
        if image is None:
            self._jpeg = self._encode(self.blank)
            return
        frame = self.blank.copy()
        h, w = image.shape[:2]
        y, x = (self.height - h) // 2, (self.width - w) // 2
        frame[y : y + h, x : x + w] = image
        self._jpeg = self._encode(frame)

    def close(self) -> None:
        self.closed = True
        self.server.shutdown()
        self.server.server_close()
