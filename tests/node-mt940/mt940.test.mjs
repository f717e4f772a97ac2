// sandbank's MT940 read by mt940-js (npm, unmodified), a reader that takes each byte for a
// character: anything outside the SWIFT x character set comes out garbled, so this is where
// a UTF-8 payee name or an order number with `_` would show.
//
// The world is scenarios/statements-two-accounts.toml served by the real binary
// ($SANDBANK_BIN, or target/debug/sandbank): two accounts at one bank, payouts to payees
// with Chinese names under order numbers with `_`, one returned (退票). Both accounts'
// statements of the day are fetched over HTTP and read with mt940-js; the values come back
// exactly by the rule of docs/statements.md ("MT940 and the SWIFT character set").

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import mt940 from 'mt940-js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = process.env.SANDBANK_BIN || path.join(ROOT, 'target', 'debug', 'sandbank');
const SCENARIO = path.join(ROOT, 'scenarios', 'statements-two-accounts.toml');
const HTTP_TIMEOUT_MS = 10_000;

const CLIENTS = {
    '20000100': { key: '8934e7d15453e97507ef794cf7b0519d', account: '6222000000000000001', opening: 1_000_000_00 },
    '20000200': { key: '5d41402abc4b2a76b9719d911017c592', account: '6222020000000000001', opening: 500_000_00 },
};
// client, order number, fen, payee account, payee name
const PAYOUTS = [
    ['20000100', 'PAYOUT_2026_03_02_0001', 10_000, '6228480000000000011', '欧阳娜娜'],
    ['20000100', 'PAYOUT_2026_03_02_0002', 25_050, '6228480000000000012', '上海某某网络科技有限公司'],
    ['20000100', 'PO20260302A03', 888, '6228480000000000013', 'Li Si'],
    ['20000200', 'B_20260302_0001', 12_345, '6228480000000000021', '张三'],
    ['20000200', 'B_20260302_0002', 100, '6228480000000000022', '王五/Wang Wu?  (李)'],
];
const RETURNED = 'PAYOUT_2026_03_02_0002';
const SWIFT_X = /^[A-Za-z0-9/\-?:().,'+ ]*$/;

let server;
let base;

/** The payout API's signature: sorted non-empty fields, `k=v&…&key=KEY`, MD5, upper case. */
function signed(fields, key) {
    const text = Object.keys(fields)
        .filter((k) => k !== 'sign' && String(fields[k]) !== '')
        .sort()
        .map((k) => `${k}=${fields[k]}`)
        .join('&');
    const sign = createHash('md5').update(`${text}&key=${key}`, 'utf8').digest('hex').toUpperCase();
    return { ...fields, sign };
}

async function http(method, url, body) {
    const r = await fetch(url, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    const bytes = Buffer.from(await r.arrayBuffer());
    assert.equal(r.status, 200, `${method} ${url}: ${bytes.toString('utf8')}`);
    return bytes;
}

const control = (method, route, body) => http(method, `${base}/_sandbank/${route}`, body);

/** `:86:` as docs/statements.md says to read it: `/CODE/value` runs, `?XX` back to bytes. */
function subfields(description) {
    assert.match(description, SWIFT_X, 'the description is inside the x set (nothing garbled)');
    const parts = description.split('/');
    assert.equal(parts.shift(), '', description);
    const out = {};
    while (parts.length > 0) {
        const code = parts.shift();
        const value = parts.shift() ?? '';
        const bytes = [];
        for (let i = 0; i < value.length; i++) {
            if (value[i] === '?') {
                bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
                i += 2;
            } else {
                bytes.push(value.charCodeAt(i));
            }
        }
        out[code] = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
    }
    return out;
}

before(async () => {
    server = spawn(BIN, ['serve', '--scenario', SCENARIO, '--listen', '127.0.0.1:0'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: server.stdout });
    base = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${BIN} printed nothing in 30 s`)), 30_000);
        server.once('error', reject);
        server.once('exit', (code) => reject(new Error(`${BIN} exited with ${code}`)));
        lines.once('line', (line) => {
            clearTimeout(timer);
            const m = /^sandbank listening on (http:\/\/\S+)/.exec(line);
            m ? resolve(m[1]) : reject(new Error(`unexpected first line: ${line}`));
        });
    });
    // Keep reading so the server never blocks on a full stdout pipe.
    lines.on('line', () => {});

    for (const [client, order, fen, payee, name] of PAYOUTS) {
        const reply = JSON.parse(
            await http(
                'POST',
                `${base}/bank/agentpay/apply`,
                signed(
                    {
                        mchId: client,
                        mchOrderNo: order,
                        amount: fen,
                        accountAttr: '0',
                        bankName: '中国工商银行',
                        accountName: name,
                        accountNo: payee,
                        bankNumber: '102100099996',
                        reqTime: '20260302100000',
                        version: '1.0',
                    },
                    CLIENTS[client].key,
                ),
            ),
        );
        assert.equal(reply.status, 'PROCESSING', JSON.stringify(reply));
    }
    await control('POST', 'clock', { advance: '1m' });
    await control('POST', `banks/bank/payouts/${RETURNED}/return`, { reason: 'ACCOUNT_FROZEN' });
    await control('POST', 'clock', { to: '2026-03-03 10:00' });
});

after(() => {
    server?.kill();
});

async function statementOf(account) {
    const file = await control('GET', `statements/bank/2026-03-02?format=mt940&account=${account}`);
    return mt940.read(file);
}

for (const [client, { account, opening }] of Object.entries(CLIENTS)) {
    test(`mt940-js reads account ${account}: amounts, references, payees`, async () => {
        const statements = await statementOf(account);
        assert.equal(statements.length, 1);
        const [s] = statements;
        assert.equal(s.accountId, account);
        assert.match(s.referenceNumber, /^[A-Z0-9]{16}$/);

        const lines = PAYOUTS.filter((p) => p[0] === client).map((p) => [p, false]);
        const returned = PAYOUTS.find((p) => p[0] === client && p[1] === RETURNED);
        if (returned) lines.push([returned, true]);
        assert.equal(s.transactions.length, lines.length);

        let balance = opening;
        s.transactions.forEach((tx, i) => {
            const [[, order, fen, payee, name], isReturn] = lines[i];
            balance += isReturn ? fen : -fen;
            // A return is `RD`, a reversal of a debit: a credit by SWIFT's definition of the
            // mark. mt940-js 1.0.0 takes any mark with a `C` in it for a credit, so it reads
            // `RD` as a debit (and would read `RC` as a credit); docs/statements.md says so.
            assert.equal(tx.isCredit, false, order);
            assert.equal(Math.round(tx.amount * 100), fen, order);
            assert.equal(tx.code, 'NTRF');
            // `NONREF` (reads as ''): an order number with `_` does not fit the 16x reference.
            assert.equal(tx.customerReference, order.includes('_') ? '' : order);
            assert.match(tx.bankReference, /^[A-Z0-9]{16}$/);
            const info = subfields(tx.description);
            assert.equal(info.EREF, order);
            assert.equal(info.ACCT, payee);
            assert.equal(info.NAME, name);
            assert.match(info.REMI, isReturn ? /^return of payout / : /^payout /);
            assert.ok(info.REMI.endsWith(order), info.REMI);
        });
        assert.equal(Math.round(s.openingBalance.value * 100), opening);
        assert.equal(Math.round(s.closingBalance.value * 100), balance);
        assert.equal(s.closingBalance.currency, 'CNY');
    });
}

test('the two accounts of one day have different :20: references', async () => {
    const refs = [];
    for (const { account } of Object.values(CLIENTS)) {
        refs.push((await statementOf(account))[0].referenceNumber);
    }
    assert.notEqual(refs[0], refs[1]);
});
