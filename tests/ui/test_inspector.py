"""The inspector page (/_sandbank/ui/) driven in headless Chromium over the DevTools protocol.

A world is served by the built binary (`$SANDBANK_BIN`, else target/debug/sandbank) on a
manual clock; it gets traffic — a signed WeChat order, the customer's payment, a notification
the merchant does not acknowledge — and the page must show the order's lanes and its ladder
attempts, and, when "advance 15s" is clicked on the page, the retry. Screenshots are kept in
`$SANDBANK_UI_SCREENSHOTS` (default target/ui-screenshots/).

Standard library only (cdp.py speaks to Chromium over a pipe); Chromium is Debian's
`chromium` package, which `.ci/run` installs. Without it the test is skipped, saying so.
"""

import hashlib
import json
import os
import pathlib
import re
import subprocess
import tempfile
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cdp import Browser, find_chromium

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHOTS = pathlib.Path(os.environ.get("SANDBANK_UI_SCREENSHOTS") or ROOT / "target" / "ui-screenshots")
APPID, MCH_ID, KEY = "wx2421b1c4370ec43b", "10000100", "192006250b4c09247ec02edce69f6a2d"
ORDER = "UIORDER0001"
NACK = b"<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[busy]]></return_msg></xml>"


def sign(fields):
    text = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if fields[k] != "") + f"&key={KEY}"
    return hashlib.md5(text.encode()).hexdigest().upper()


class Merchant(BaseHTTPRequestHandler):
    """A settlement system that is busy: it answers every notification FAIL."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "text/xml")
        self.send_header("content-length", str(len(NACK)))
        self.end_headers()
        self.wfile.write(NACK)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def merchant():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Merchant)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/notify"
    server.shutdown()


@pytest.fixture(scope="module")
def sandbank():
    binary = os.environ.get("SANDBANK_BIN") or str(ROOT / "target" / "debug" / "sandbank")
    if not os.access(binary, os.X_OK):
        pytest.fail(f"sandbank binary not found at {binary}: run `cargo build` or set SANDBANK_BIN")
    # The default world on a manual clock: only the page's clock buttons move time.
    text = (ROOT / "scenarios" / "default.toml").read_text()
    text, n = re.subn(r'(?m)^clock = "real"$', 'clock = "manual"\nstart = "2026-03-02 10:00"', text)
    assert n == 1, "scenarios/default.toml no longer says clock = \"real\""
    scenario = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    scenario.write(text)
    scenario.close()
    proc = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--scenario", scenario.name],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    first = proc.stdout.readline()
    m = re.match(r"sandbank listening on (http://\S+)", first)
    if not m:
        proc.kill()
        pytest.fail(f"sandbank serve did not start: {first!r}")
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    yield m.group(1)
    proc.terminate()
    proc.wait(timeout=10)
    os.unlink(scenario.name)


def post(url, body, content_type="application/json"):
    req = urllib.request.Request(url, data=body.encode(), method="POST", headers={"content-type": content_type})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read().decode()


@pytest.fixture(scope="module")
def browser():
    binary = find_chromium()
    if not binary:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium); .ci/run installs it")
    b = Browser(binary)
    yield b
    b.close()


def callbacks(ref):
    return f'document.querySelectorAll(\'g[data-class="callback"][data-reference="{ref}"]\').length'


def test_the_inspector_shows_the_ladder_and_the_retry_after_advance(sandbank, merchant, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    # Traffic: a signed order whose notify_url is a merchant that answers FAIL, and its payment.
    fields = {"appid": APPID, "mch_id": MCH_ID, "nonce_str": "UINONCE1", "body": "inspector",
              "out_trade_no": ORDER, "total_fee": "101", "spbill_create_ip": "127.0.0.1",
              "notify_url": merchant, "trade_type": "NATIVE", "product_id": "SKU1"}
    fields["sign"] = sign(fields)
    xml = "<xml>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items()) + "</xml>"
    reply = post(f"{sandbank}/wxpay/pay/unifiedorder", xml, "text/xml")
    assert "<result_code><![CDATA[SUCCESS]]></result_code>" in reply, reply
    paid = json.loads(post(f"{sandbank}/_sandbank/channels/wxpay/orders/{ORDER}/pay", ""))
    assert paid["trade_state"] == "SUCCESS"
    post(f"{sandbank}/_sandbank/clock", "{}")  # fire what is due now: attempt 1

    browser.goto(f"{sandbank}/_sandbank/ui/")
    browser.wait_for("document.body && document.body.dataset.ready === 'true'", "the page to load its data")
    # One lane per party, the order listed, its exchanges drawn.
    lanes = browser.js("[...document.querySelectorAll('[data-lane]')].map(e => e.dataset.lane)")
    assert lanes == ["merchant", "wxpay", "alipay", "customer", "bank"], lanes
    assert browser.js(f"!!document.querySelector('#references a[data-reference=\"{ORDER}\"]')")
    assert browser.js(f'document.querySelectorAll(\'g[data-class="request"][data-reference="{ORDER}"]\').length') == 1
    assert browser.js(f'document.querySelectorAll(\'g[data-class="customer"][data-reference="{ORDER}"]\').length') == 1
    browser.wait_for(f"{callbacks(ORDER)} === 1", "notification attempt 1")
    retry = browser.js(f'(() => {{ const g = document.querySelector(\'g[data-class="retry"][data-reference="{ORDER}"]\');'
                       f' return g && [g.dataset.attempt, g.dataset.next, g.querySelector(".sb-label").textContent]; }})()')
    assert retry and retry[:2] == ["2", "2026-03-02 10:00:15"], retry
    assert retry[2].startswith(f"notify {ORDER} attempt 2 due"), retry
    assert browser.js("document.getElementById('now').textContent").startswith("2026-03-02 10:00:00")
    browser.screenshot(SHOTS / "1-order-and-first-attempt.png")

    # Advance the clock from the page: attempt 2 goes out and fails, attempt 3 is scheduled.
    browser.js("document.getElementById('advance-15s').click()")
    browser.wait_for(f"{callbacks(ORDER)} === 2", "the retry (attempt 2) after clicking advance 15s")
    browser.wait_for(f'!!document.querySelector(\'g[data-class="retry"][data-attempt="3"][data-reference="{ORDER}"]\')',
                     "attempt 3 scheduled")
    browser.wait_for("document.getElementById('now').textContent.startsWith('2026-03-02 10:00:15')", "the clock shown moved")
    browser.screenshot(SHOTS / "2-after-advance-15s.png")

    # Filter by the order's number: only its steps, and the answer carries the merchant's reply.
    browser.js(f"document.querySelector('#references a[data-reference=\"{ORDER}\"]').click()")
    browser.wait_for("document.getElementById('reference').value === '" + ORDER + "' && "
                     "[...document.querySelectorAll('g.sb-step')].length > 0 && "
                     f"[...document.querySelectorAll('g.sb-step')].every(g => g.dataset.reference === '{ORDER}')",
                     "the diagram filtered to the order")
    browser.js("document.querySelector('g[data-class=\"answer\"]').dispatchEvent(new MouseEvent('click'))")
    details = browser.wait_for("document.getElementById('details').textContent", "the step's details")
    assert "not acknowledged" in details and "busy" in details, details
    browser.screenshot(SHOTS / "3-filtered-to-the-order.png")

    # Ledger balances: the merchant's account holds the payment less the fee.
    browser.js("document.querySelector('nav.tabs button[data-panel=\"p-ledger\"]').click()")
    balances = browser.wait_for("document.getElementById('balances').textContent", "ledger balances")
    assert "channel:wxpay:merchant:10000100" in balances and "1.00 CNY" in balances, balances
    browser.screenshot(SHOTS / "4-ledger.png")

    # A statement with an injected mismatch: the line of the order is highlighted in the preview.
    post(f"{sandbank}/_sandbank/statements/wxpay/mismatches",
         json.dumps({"kind": "amount", "day": "2026-03-02", "reference": ORDER}))
    browser.js("document.getElementById('advance-1d').click()")
    browser.wait_for("document.getElementById('now').textContent.startsWith('2026-03-03')", "the clock a day on")
    browser.js("document.querySelector('nav.tabs button[data-panel=\"p-statements\"]').click()")
    browser.js("document.getElementById('statement-instance').value = 'wxpay';"
               "document.getElementById('statement-date').value = '2026-03-02';"
               "document.querySelector('#statement-form button').click()")
    marked = browser.wait_for("[...document.querySelectorAll('#statement-text .mismatch')].map(e => e.textContent).join('')",
                              "the mismatched line highlighted")
    assert ORDER in marked, marked
    expected = browser.js("document.getElementById('expected').textContent")
    assert "amount_mismatch" in expected and ORDER in expected, expected
    browser.screenshot(SHOTS / "5-statement-with-a-mismatch.png")
