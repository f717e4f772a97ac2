"""Fixtures for the Alipay SDK tests: a real `sandbank serve` on the embedded default world.

The binary is `$SANDBANK_BIN`, or `target/debug/sandbank` under the repository root. It is
started once per session on 127.0.0.1:0 (its address is the first stdout line, `sandbank
listening on http://ADDR`); each test starts from a fresh world (`POST /_sandbank/reset`).
The SDK is configured from `GET /_sandbank/channels/alipay`, as a user would: app id, the
app's private key and the Alipay public key, all PEM.
"""

import json
import os
import pathlib
import queue
import re
import subprocess
import threading
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from alipay import AliPay

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Every HTTP call a test makes is bounded; a hang fails the test instead of the CI run.
HTTP_TIMEOUT = 10
STARTUP_TIMEOUT = 30


def _binary():
    path = os.environ.get("SANDBANK_BIN") or str(ROOT / "target" / "debug" / "sandbank")
    if not os.access(path, os.X_OK):
        pytest.exit(f"sandbank binary not found at {path}: run `cargo build` or set SANDBANK_BIN", returncode=2)
    return path


@pytest.fixture(scope="session")
def sandbank_addr():
    """Start `sandbank serve --listen 127.0.0.1:0`; yield its `host:port`; stop it."""
    proc = subprocess.Popen(
        [_binary(), "serve", "--listen", "127.0.0.1:0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    lines = queue.Queue()

    def drain():
        # Keep reading so the server never blocks on a full stdout pipe.
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    try:
        first = lines.get(timeout=STARTUP_TIMEOUT)
    except queue.Empty:
        proc.kill()
        pytest.fail(f"sandbank printed nothing within {STARTUP_TIMEOUT}s")
    m = re.match(r"sandbank listening on http://(\S+)", first or "")
    if not m:
        proc.kill()
        pytest.fail(f"unexpected first line from sandbank: {first!r}")
    yield m.group(1)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


class Control:
    """The control API under /_sandbank/ (standard library only)."""

    def __init__(self, addr):
        self.base = f"http://{addr}/_sandbank/"

    def _send(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as r:
            return json.loads(r.read())

    def get(self, path):
        return self._send("GET", path)

    def post(self, path, body=None):
        return self._send("POST", path, body if body is not None else {})

    def advance(self, duration):
        """Move the clock; returns once every callback due on the way was sent."""
        return self.post("clock", {"advance": duration})

    def settle(self):
        """Fire what is due now (and wait for what the world already started)."""
        return self.post("clock", {})

    def pay(self, out_trade_no):
        return self.post(f"channels/alipay/orders/{out_trade_no}/pay")

    def postings(self):
        return [p for p in self.get("ledger")["postings"] if p["kind"] != "opening"]


@pytest.fixture
def control(sandbank_addr):
    c = Control(sandbank_addr)
    c.post("reset")
    return c


@pytest.fixture
def credentials(control):
    """What `GET /_sandbank/channels/alipay` hands out."""
    return control.get("channels/alipay")


@pytest.fixture
def make_alipay(sandbank_addr, credentials):
    """An unmodified python-alipay-sdk client pointed at the fake the documented way: its
    gateway attribute (docs/protocols.md, "C.2 The Alipay SDKs")."""

    def make(private_key=None, alipay_public_key=None, notify_url=None):
        client = AliPay(
            appid=credentials["app_id"],
            app_notify_url=notify_url,
            app_private_key_string=private_key or credentials["app_private_key"],
            alipay_public_key_string=alipay_public_key or credentials["alipay_public_key"],
            sign_type="RSA2",
        )
        client._gateway = f"http://{sandbank_addr}/alipay/gateway.do"
        return client

    return make


@pytest.fixture
def order_no():
    """A fresh out_trade_no."""
    return "PY" + uuid.uuid4().hex[:20].upper()


class Receiver:
    """A merchant's notify endpoint: records every form body; answers `reply`."""

    def __init__(self):
        self.bodies = []
        self.reply = "success"
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.bodies.append(body)
                    data = receiver.reply.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alipay/notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self):
        with self._lock:
            return len(self.bodies)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()

