// The official Node `alipay-sdk` (4.14.0, unmodified) against sandbank's Alipay gateway, with
// response signature verification on (`validateSign: true`) and notifications checked with
// the SDK's own `checkNotifySign`.
//
// Starts `sandbank serve --listen 127.0.0.1:0` itself ($SANDBANK_BIN, or target/debug/sandbank
// under the repository root), reads its address from the first stdout line, and configures
// the SDK from `GET /_sandbank/channels/alipay` as a user would. Run: `npm test` here.

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import readline from 'node:readline';
import { AlipaySdk } from 'alipay-sdk';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.SANDBANK_BIN || path.join(ROOT, 'target/debug/sandbank');
// Every wait is bounded: a hang fails the test instead of the CI run.
const TIMEOUT_MS = 10_000;

let server;
let base;
let creds;

async function control(method, route, body) {
  const r = await fetch(`${base}/_sandbank/${route}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const v = await r.json();
  if (!r.ok) throw new Error(`${method} ${route}: ${r.status} ${JSON.stringify(v)}`);
  return v;
}

function sdk(overrides = {}) {
  return new AlipaySdk({
    appId: creds.app_id,
    privateKey: creds.app_private_key,
    keyType: 'PKCS8',
    alipayPublicKey: creds.alipay_public_key,
    gateway: `${base}/alipay/gateway.do`,
    timeout: TIMEOUT_MS,
    ...overrides,
  });
}

// A merchant's notify endpoint: records every form body, answers `reply`.
async function receiver(reply = 'success') {
  const bodies = [];
  const srv = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(reply);
    });
  });
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${srv.address().port}/notify`,
    bodies,
    close: () => new Promise((ok) => srv.close(ok)),
  };
}

const fields = (body) => Object.fromEntries(new URLSearchParams(body));
const orderNo = () => `NODE${Date.now()}${Math.floor(Math.random() * 1e6)}`;

before(async () => {
  server = spawn(BIN, ['serve', '--listen', '127.0.0.1:0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: server.stdout });
  const first = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('sandbank printed nothing in time')), 30_000);
    lines.once('line', (l) => { clearTimeout(timer); ok(l); });
    server.once('exit', (code) => fail(new Error(`sandbank exited with ${code}`)));
  });
  // Keep reading so the server never blocks on a full pipe.
  lines.on('line', () => {});
  const m = /^sandbank listening on (http:\/\/\S+)/.exec(first);
  assert.ok(m, `unexpected first line: ${first}`);
  base = m[1];
  creds = await control('GET', 'channels/alipay');
});

after(() => {
  server?.kill();
});

beforeEach(async () => {
  await control('POST', 'reset', {});
});

test('precreate, pay, query and the notification, every response verified', async () => {
  const merchant = await receiver();
  try {
    const alipay = sdk();
    const no = orderNo();
    const pre = await alipay.exec('alipay.trade.precreate', {
      notify_url: merchant.url,
      bizContent: { out_trade_no: no, total_amount: '88.88', subject: 'sandbank 测试' },
    }, { validateSign: true });
    assert.equal(pre.code, '10000');
    assert.match(pre.qrCode, /^https:\/\/qr\.alipay\.com\//);

    const unscanned = await alipay.exec('alipay.trade.query', { bizContent: { out_trade_no: no } }, { validateSign: true });
    assert.equal(unscanned.code, '40004');
    assert.equal(unscanned.subCode, 'ACQ.TRADE_NOT_EXIST');

    const paid = await control('POST', `channels/alipay/orders/${no}/pay`, {});
    await control('POST', 'clock', {});
    const q = await alipay.exec('alipay.trade.query', { bizContent: { out_trade_no: no } }, { validateSign: true });
    assert.equal(q.code, '10000');
    assert.equal(q.tradeStatus, 'TRADE_SUCCESS');
    assert.equal(q.totalAmount, '88.88');
    assert.equal(q.tradeNo, paid.trade_no);

    assert.equal(merchant.bodies.length, 1);
    const n = fields(merchant.bodies[0]);
    assert.equal(alipay.checkNotifySign(n), true);
    assert.equal(alipay.checkNotifySignV2(n), true);
    assert.equal(n.trade_status, 'TRADE_SUCCESS');
    assert.equal(n.out_trade_no, no);
    assert.equal(alipay.checkNotifySign({ ...n, total_amount: '0.01' }), false, 'a changed field does not verify');
  } finally {
    await merchant.close();
  }
});

test('a partial refund is notified and checkNotifySign verifies it', async () => {
  const merchant = await receiver();
  try {
    const alipay = sdk();
    const no = orderNo();
    const pre = await alipay.exec('alipay.trade.precreate', {
      notify_url: merchant.url,
      bizContent: { out_trade_no: no, total_amount: '88.88', subject: 'refund notify' },
    }, { validateSign: true });
    assert.equal(pre.code, '10000');
    await control('POST', `channels/alipay/orders/${no}/pay`, {});
    await control('POST', 'clock', {});
    assert.equal(merchant.bodies.length, 1);
    const paid = fields(merchant.bodies[0]);
    assert.equal(alipay.checkNotifySign(paid), true);
    assert.equal(paid.refund_fee, undefined);

    const refund = await alipay.exec('alipay.trade.refund', {
      bizContent: { out_trade_no: no, refund_amount: '30.00', out_request_no: 'RN1' },
    }, { validateSign: true });
    assert.equal(refund.fundChange, 'Y');
    assert.equal(refund.refundFee, '30.00');
    await control('POST', 'clock', {});
    assert.equal(merchant.bodies.length, 2, 'a partial refund sends a notification');

    const n = fields(merchant.bodies[1]);
    assert.equal(alipay.checkNotifySign(n), true);
    assert.equal(alipay.checkNotifySignV2(n), true);
    assert.equal(n.out_trade_no, no);
    assert.equal(n.trade_no, paid.trade_no);
    assert.equal(n.trade_status, 'TRADE_SUCCESS');
    assert.equal(n.total_amount, '88.88');
    assert.equal(n.refund_fee, '30.00');
    assert.equal(n.out_biz_no, 'RN1');
    assert.match(n.gmt_refund, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{3})?$/);
    assert.ok(n.notify_id);
    assert.notEqual(n.notify_id, paid.notify_id, 'a new notification, not a retry');
    assert.equal(alipay.checkNotifySign({ ...n, refund_fee: '88.88' }), false, 'a changed refund_fee does not verify');

    // Acknowledged: no retry. Refunding the rest closes the trade, which is not notified.
    await control('POST', 'clock', { advance: '25h' });
    assert.equal(merchant.bodies.length, 2);
    const rest = await alipay.exec('alipay.trade.refund', {
      bizContent: { out_trade_no: no, refund_amount: '58.88', out_request_no: 'RN2' },
    }, { validateSign: true });
    assert.equal(rest.refundFee, '88.88');
    await control('POST', 'clock', { advance: '1h' });
    assert.equal(merchant.bodies.length, 2, 'a full refund closes the trade and sends nothing');
  } finally {
    await merchant.close();
  }
});

test('barcode payment, refund, refund query, close and cancel', async () => {
  const alipay = sdk();
  const no = orderNo();
  const pay = await alipay.exec('alipay.trade.pay', {
    bizContent: { out_trade_no: no, total_amount: '100.00', subject: 'barcode', scene: 'bar_code', auth_code: '287634438256643941' },
  }, { validateSign: true });
  assert.equal(pay.code, '10000');
  assert.equal(pay.fundBillList[0].fundChannel, 'ALIPAYACCOUNT');

  const refund = await alipay.exec('alipay.trade.refund', {
    bizContent: { out_trade_no: no, refund_amount: '30.00', out_request_no: 'R1' },
  }, { validateSign: true });
  assert.equal(refund.fundChange, 'Y');
  assert.equal(refund.refundFee, '30.00');
  const replay = await alipay.exec('alipay.trade.refund', {
    bizContent: { out_trade_no: no, refund_amount: '30.00', out_request_no: 'R1' },
  }, { validateSign: true });
  assert.equal(replay.fundChange, 'N');
  const rq = await alipay.exec('alipay.trade.fastpay.refund.query', {
    bizContent: { out_trade_no: no, out_request_no: 'R1' },
  }, { validateSign: true });
  assert.equal(rq.refundStatus, 'REFUND_SUCCESS');

  const close = await alipay.exec('alipay.trade.close', { bizContent: { out_trade_no: no } }, { validateSign: true });
  assert.equal(close.subCode, 'ACQ.TRADE_STATUS_ERROR', 'a paid trade does not close');

  const waiting = orderNo();
  const big = await alipay.exec('alipay.trade.pay', {
    bizContent: { out_trade_no: waiting, total_amount: '5000.00', subject: 'big', scene: 'bar_code', auth_code: '287634438256643941' },
  }, { validateSign: true });
  assert.equal(big.code, '10003');
  const cancel = await alipay.exec('alipay.trade.cancel', { bizContent: { out_trade_no: waiting } }, { validateSign: true });
  assert.equal(cancel.action, 'close');

  const ledger = await control('GET', 'ledger');
  const kinds = ledger.postings.filter((p) => p.kind !== 'opening').map((p) => p.kind);
  assert.deepEqual(kinds, ['payment', 'fee', 'refund', 'fee']);
});

test('a request signed with another key gets isv.invalid-signature and moves nothing', async () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const alipay = sdk({ privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) });
  const r = await alipay.exec('alipay.trade.pay', {
    bizContent: { out_trade_no: orderNo(), total_amount: '5.00', subject: 'x', scene: 'bar_code', auth_code: '287634438256643941' },
  }, { validateSign: true });
  assert.equal(r.code, '40002');
  assert.equal(r.subCode, 'isv.invalid-signature');
  const ledger = await control('GET', 'ledger');
  assert.deepEqual(ledger.postings.filter((p) => p.kind !== 'opening'), []);
});

test('the SDK refuses a response signed with a key it does not trust', async () => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const alipay = sdk({ alipayPublicKey: publicKey.export({ type: 'spki', format: 'pem' }) });
  await assert.rejects(
    alipay.exec('alipay.trade.query', { bizContent: { out_trade_no: orderNo() } }, { validateSign: true }),
    /验签失败/,
  );
});

test('the bill link serves the day\'s ZIP, then expires', async () => {
  const alipay = sdk();
  await alipay.exec('alipay.trade.pay', {
    bizContent: { out_trade_no: orderNo(), total_amount: '10.00', subject: 'bill', scene: 'bar_code', auth_code: '287634438256643941' },
  }, { validateSign: true });
  const day = (await control('GET', 'clock')).now_local.slice(0, 10);
  await control('POST', 'clock', { advance: '34h' });
  const r = await alipay.exec('alipay.data.dataservice.bill.downloadurl.query', {
    bizContent: { bill_type: 'trade', bill_date: day },
  }, { validateSign: true });
  assert.equal(r.code, '10000');
  const zip = await fetch(r.billDownloadUrl, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  assert.equal(zip.status, 200);
  const bytes = Buffer.from(await zip.arrayBuffer());
  assert.equal(bytes.subarray(0, 4).toString('binary'), 'PK\x03\x04');
  await control('POST', 'clock', { advance: '31s' });
  const late = await fetch(r.billDownloadUrl, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  assert.equal(late.status, 404);
});
