"""Fixtures for the SDK tests: a real `sandbank serve` on the embedded default world.

The binary is `$SANDBANK_BIN`, or `target/debug/sandbank` under the repository root. It is
started once per session on 127.0.0.1:0; its address comes from the first stdout line,
`sandbank listening on http://ADDR`. Each test starts from a fresh world (`POST
/_sandbank/reset`), so tests do not see each other's orders, rules or clock moves.
"""

import os
import pathlib
import queue
import re
import subprocess
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from wechatpy.pay import WeChatPay

ROOT = pathlib.Path(__file__).resolve().parents[2]

# The default world's WeChat Pay merchant: the documentation test credentials.
APPID = "wx2421b1c4370ec43b"
MCH_ID = "10000100"
API_KEY = "192006250b4c09247ec02edce69f6a2d"

# Every HTTP call a test makes is bounded; a hang fails the test instead of the CI run.
HTTP_TIMEOUT = 10
STARTUP_TIMEOUT = 30

ACK = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
NACK = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[busy]]></return_msg></xml>"


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
        # Keep reading so the server never blocks (or dies) on a full or closed stdout pipe.
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
    """The control API under /_sandbank/."""

    def __init__(self, addr):
        self.base = f"http://{addr}/_sandbank/"

    def get(self, path, **params):
        r = requests.get(self.base + path, params=params, timeout=HTTP_TIMEOUT)
        r.raise_for_status()
        return r.json()

    def post(self, path, body=None):
        r = requests.post(self.base + path, json=body if body is not None else {}, timeout=HTTP_TIMEOUT)
        r.raise_for_status()
        return r.json()

    def advance(self, duration):
        """Move the clock; returns once every callback due on the way was sent."""
        return self.post("clock", {"advance": duration})

    def settle(self):
        """Fire what is due now; also waits for work the world already started."""
        return self.post("clock", {})

    def pay(self, out_trade_no):
        return self.post(f"channels/wxpay/orders/{out_trade_no}/pay")

    def ledger(self):
        return self.get("ledger")

    def journal(self, **filters):
        return self.get("journal", **filters)["entries"]


@pytest.fixture
def control(sandbank_addr):
    c = Control(sandbank_addr)
    c.post("reset")
    return c


@pytest.fixture
def merchant():
    """The default world's WeChat Pay merchant."""
    return {"appid": APPID, "mch_id": MCH_ID, "api_key": API_KEY}


@pytest.fixture
def make_pay(sandbank_addr, control):
    """Build an unmodified wechatpy client pointed at the fake the documented way
    (`API_BASE_URL` with its trailing slash; docs/protocols.md#c-pointing-wechatpy-at-sandbank)."""

    def make(api_key=API_KEY):
        client = WeChatPay(appid=APPID, api_key=api_key, mch_id=MCH_ID, timeout=HTTP_TIMEOUT)
        client.API_BASE_URL = f"http://{sandbank_addr}/wxpay/"
        return client

    return make


@pytest.fixture
def pay(make_pay):
    """A wechatpy client of the default world's merchant."""
    return make_pay()


@pytest.fixture
def order_no():
    """A fresh out_trade_no (6–32 characters of the documented alphabet)."""
    return "SDK" + uuid.uuid4().hex[:20].upper()


class Receiver:
    """A merchant's notify endpoint: records every body; acknowledges while `ack` is true."""

    def __init__(self):
        self.bodies = []
        self.ack = True
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.bodies.append(body)
                    reply = ACK if receiver.ack else NACK
                data = reply.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/wxpay/notify"
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
