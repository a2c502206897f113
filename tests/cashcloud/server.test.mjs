// Tests for the Cashcloud stand-in (server.mjs) and its hashing (hashes.mjs): the published
// vectors from /work/shared/PROVIDERS.md, the merchant API as a merchant (the Worker) uses
// it, the wallet app's approvals, callbacks (received by a tiny HTTP server in the test)
// and expiry with an injected clock. Run: node --test tests/cashcloud/
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startCashcloud } from './server.mjs';
import { passwordHash, tokenHash, authorizationHeader, control } from './hashes.mjs';

const SHOP = { username: 'shop@example.com', password: 'shop-pass', apiPassword: 'api-secret', name: 'Test Shop' };
const DEVICE = 'edge-worker';

// Receives callbacks; `next(n)` resolves once n have arrived in total.
async function startReceiver() {
  const got = [];
  let waiters = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      got.push(Object.fromEntries(new URLSearchParams(body)));
      res.end('ok');
      waiters = waiters.filter((w) => (got.length >= w.n ? (w.resolve(), false) : true));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    got,
    url: `http://127.0.0.1:${server.address().port}/cb`,
    next: (n) => (got.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}

describe('hashes (published vectors)', () => {
  it('token header for email/pass/devId/salt', () => {
    assert.equal(passwordHash('pass').length, 16);
    assert.equal(authorizationHeader('email', 'devId', tokenHash('email', 'salt', 'pass')),
      'Token ZW1haWx8ZGV2SWR8M2E0ZmZhOTE3NWE2OTJjMWZmNWVkZDNkOTAyYzdkMDY=');
  });
  it('callback control for request/3/1700000000/pass', () => {
    assert.equal(control('request', '3', '1700000000', 'pass'), 'hp6szTzfYqC9cAVL66BcCA==');
    assert.equal(control('request', 3, 1700000000, 'pass'), 'hp6szTzfYqC9cAVL66BcCA==');
  });
});

describe('Cashcloud stand-in', () => {
  let cc;
  let rx;
  let t = Date.UTC(2024, 0, 1);
  const post = (path, fields, headers = {}) => fetch(cc.url + path, { method: 'POST', body: new URLSearchParams(fields), headers });
  const json = async (p, body) => (await fetch(cc.url + p, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }));

  async function auth(m = SHOP) {
    const r = await post('/salt', { username: m.username, device_id: DEVICE });
    assert.equal(r.status, 200);
    const { salt } = await r.json();
    assert.match(salt, /^[0-9a-f]{32}$/);
    return { authorization: authorizationHeader(m.username, DEVICE, tokenHash(m.username, salt, m.password)) };
  }
  async function request(fields = {}, headers) {
    const h = headers ?? await auth();
    return post('/request', { email: 'alice@example.com', amount: '1250', currency_id: '1', remark: 'Order 42',
      'extern.id': 'pi_1', 'extern.reference': 'order-42', ...fields }, h);
  }
  async function tx(hash, h) {
    const r = await fetch(`${cc.url}/transactions?hash=${hash}`, { headers: h ?? await auth() });
    assert.equal(r.status, 200);
    return (await r.json()).transaction;
  }
  async function walletSession(username = 'alice@example.com', pin = '1234') {
    const r = await json('/wallet/api/session', { username, pin });
    assert.equal(r.status, 200);
    const { token } = await r.json();
    const call = (method, p, body) => fetch(`${cc.url}/wallet/api/${p}`, { method, body: body && JSON.stringify(body),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
    return call;
  }
  function assertCallback(cb, method, status, hash) {
    assert.deepEqual({ method: cb.method, status: cb.status, hash: cb.hash }, { method, status: String(status), hash });
    assert.equal(cb.control, control(cb.method, cb.status, cb.time, SHOP.apiPassword));
    assert.ok(Math.abs(Number(cb.time) - t / 1000) <= 300, 'callback time within 300 s');
  }

  before(async () => {
    rx = await startReceiver();
    cc = await startCashcloud({ port: 0, merchants: [{ ...SHOP, callbackUrl: rx.url }], now: () => t });
  });
  after(async () => { await cc.close(); await rx.close(); });
  beforeEach(async () => { await cc.settled(); rx.got.length = 0; await fetch(`${cc.url}/_standin/callbacks`, { method: 'DELETE' }); });

  it('salt → token → request → transactions', async () => {
    const h = await auth();
    const r = await request({}, h);
    assert.equal(r.status, 200);
    const { hash } = await r.json();
    assert.match(hash, /^[0-9a-f]{32}$/);
    const got = await tx(hash, h);
    assert.equal(got.transaction_state_id, 1);
    assert.equal(got.amount, 1250);
    assert.equal(got.refunded_amount, 0);
    assert.deepEqual(got.extern, { id: 'pi_1', reference: 'order-42' });
  });

  it('wrong or missing token → 403 JSON', async () => {
    const good = await auth();
    const bad = { authorization: authorizationHeader(SHOP.username, DEVICE, tokenHash(SHOP.username, 'not-the-salt', SHOP.password)) };
    for (const headers of [bad, {}, { authorization: 'Token !!' }]) {
      const r = await request({}, headers);
      assert.equal(r.status, 403);
      assert.ok((await r.json()).error);
    }
    const wrongPassword = { authorization: authorizationHeader(SHOP.username, DEVICE, tokenHash(SHOP.username, 'x', 'nope')) };
    assert.equal((await request({}, wrongPassword)).status, 403);
    assert.equal((await post('/salt', { username: 'nobody', device_id: DEVICE })).status, 403);
    assert.equal((await request({}, good)).status, 200);
  });

  it('412 validationFailed: unknown wallet, amount < 20 cents, currency_id ≠ 1', async () => {
    const h = await auth();
    const cases = [[{ email: 'nobody@example.com' }, 'email'], [{ amount: '19' }, 'amount'], [{ amount: '12.50' }, 'amount'],
      [{ currency_id: '2' }, 'currency_id'], [{ currency_id: '' }, 'currency_id']];
    for (const [fields, field] of cases) {
      const r = await request(fields, h);
      assert.equal(r.status, 412, JSON.stringify(fields));
      const body = await r.json();
      assert.ok(Array.isArray(body.validationFailed[field]), JSON.stringify(body));
    }
    assert.equal((await request({ amount: '20' }, h)).status, 200);
  });

  it('approve in the wallet app with the PIN → 2 → 3, callbacks verify, wallet debited', async () => {
    const { hash } = await (await request()).json();
    const call = await walletSession();
    const list = await (await call('GET', 'requests')).json();
    const item = list.requests.find((r) => r.hash === hash);
    assert.deepEqual({ merchant: item.merchant, amount: item.amount, remark: item.remark, expires_in: item.expires_in },
      { merchant: 'Test Shop', amount: 1250, remark: 'Order 42', expires_in: 300 });
    const wrong = await call('POST', 'approve', { hash, pin: '9999' });
    assert.equal(wrong.status, 403);
    assert.equal((await wrong.json()).attempts_left, 4);
    const ok = await call('POST', 'approve', { hash, pin: '1234' });
    assert.equal(ok.status, 200);
    const out = await ok.json();
    assert.equal(out.transaction.state, 3);
    assert.equal(out.balance_cents, list.balance_cents - 1250);
    assert.equal((await tx(hash)).transaction_state_id, 3);
    await rx.next(2);
    assertCallback(rx.got[0], 'request', 2, hash);
    assertCallback(rx.got[1], 'request', 3, hash);
    const recorded = (await (await fetch(`${cc.url}/_standin/callbacks`)).json()).data;
    assert.deepEqual(recorded.map((c) => [c.fields.status, c.response_status]), [['2', 200], ['3', 200]]);
    assert.equal((await call('POST', 'approve', { hash, pin: '1234' })).status, 409);
  });

  it('decline → 4 with a callback', async () => {
    const { hash } = await (await request()).json();
    const r = await json('/_standin/decline', { hash, pin: '1234' });
    assert.equal(r.status, 200);
    assert.equal((await tx(hash)).transaction_state_id, 4);
    await rx.next(1);
    assertCallback(rx.got[0], 'request', 4, hash);
  });

  it('expiry after request_expiration → 6 (injected clock)', async () => {
    const h = await auth();
    const s = await post('/settings', { callback_url: rx.url, request_expiration: '60' }, h);
    assert.deepEqual(await s.json(), { callback_url: rx.url, request_expiration: 60 });
    const { hash } = await (await request({}, h)).json();
    t += 59_000;
    assert.equal((await tx(hash, h)).transaction_state_id, 1);
    t += 1_000;
    assert.equal((await tx(hash, h)).transaction_state_id, 6);
    await rx.next(1);
    assertCallback(rx.got[0], 'request', 6, hash);
    assert.equal((await json('/_standin/approve', { hash, pin: '1234' })).status, 409);
    await post('/settings', { request_expiration: '300' }, h);
  });

  it('partial refund stays pending until the wallet accepts, then refunded_amount grows; full → 8', async () => {
    const h = await auth();
    const { hash } = await (await request({ amount: '1000' }, h)).json();
    assert.equal((await json('/_standin/approve', { hash, pin: '1234' })).status, 200);
    assert.equal((await post('/refund', { hash, amount: '1001' }, h)).status, 412);
    const r1 = await post('/refund', { hash, amount: '400' }, h);
    assert.equal(r1.status, 200);
    const refund = (await r1.json()).hash;
    assert.notEqual(refund, hash);
    let rt = await tx(refund, h);
    assert.deepEqual([rt.type, rt.transaction_state_id, rt.original_hash], ['refund', 1, hash]);
    assert.equal((await tx(hash, h)).refunded_amount, 0);
    assert.equal((await post('/refund', { hash, amount: '601' }, h)).status, 412, 'pending refunds count');
    const before = (await (await fetch(`${cc.url}/_standin/wallets`)).json()).data.find((w) => w.username === 'alice@example.com');
    const call = await walletSession();
    const list = await (await call('GET', 'requests')).json();
    assert.equal(list.requests.find((x) => x.hash === refund).type, 'refund');
    const ok = await (await call('POST', 'approve', { hash: refund, pin: '1234' })).json();
    assert.equal(ok.balance_cents, before.balance_cents + 400);
    rt = await tx(refund, h);
    assert.equal(rt.transaction_state_id, 3);
    let orig = await tx(hash, h);
    assert.deepEqual([orig.transaction_state_id, orig.refunded_amount], [3, 400]);
    const rest = (await (await post('/refund', { hash, amount: '600' }, h)).json()).hash;
    await json('/_standin/approve', { hash: rest, pin: '1234' });
    orig = await tx(hash, h);
    assert.deepEqual([orig.transaction_state_id, orig.refunded_amount], [8, 1000]);
    await cc.settled();
    const cbs = rx.got.map((c) => `${c.method}:${c.status}:${c.hash === hash ? 'orig' : c.hash === refund ? 'r1' : 'r2'}`);
    assert.deepEqual(cbs, ['request:2:orig', 'request:3:orig', 'refund:2:r1', 'refund:3:r1', 'refund:2:r2', 'refund:3:r2', 'request:8:orig']);
    rx.got.forEach((c) => assertCallback(c, c.method, c.status, c.hash));
  });

  it('too small a balance → 7; five wrong PINs lock the wallet', async () => {
    const { hash } = await (await request({ email: 'carol@example.com', amount: '5000' })).json();
    assert.equal((await (await json('/_standin/approve', { hash, pin: '0000' })).json()).transaction.transaction_state_id, 7);
    await json('/_standin/wallets', { username: 'dave@example.com', pin: '2468' });
    const codes = [];
    for (let i = 0; i < 6; i++) codes.push((await json('/wallet/api/session', { username: 'dave@example.com', pin: '1111' })).status);
    assert.deepEqual(codes, [403, 403, 403, 403, 403, 423]);
    assert.equal((await json('/wallet/api/session', { username: 'dave@example.com', pin: '2468' })).status, 423);
  });

  it('locked merchant account → 423', async () => {
    const h = await auth();
    await json('/_standin/lock', { username: SHOP.username });
    assert.equal((await request({}, h)).status, 423);
    assert.equal((await post('/salt', { username: SHOP.username, device_id: DEVICE })).status, 423);
    await json('/_standin/lock', { username: SHOP.username, locked: false });
    assert.equal((await request({}, h)).status, 200);
  });

  it('send-callback posts a hand-made callback without changing state', async () => {
    const { hash } = await (await request()).json();
    const r = await json('/_standin/send-callback', { hash, method: 'request', status: 3 });
    const rec = await r.json();
    assert.equal(rec.response_status, 200);
    assertCallback(rx.got[0], 'request', 3, hash);
    assert.equal((await tx(hash)).transaction_state_id, 1);
    await json('/_standin/send-callback', { hash, method: 'request', status: 3, control: 'forged' });
    assert.equal(rx.got[1].control, 'forged');
  });

  it('currency-rate converts to EUR from a fixed table', async () => {
    const h = await auth();
    const r = await fetch(`${cc.url}/currency-rate?amount=12.50&currency=CHF`, { headers: h });
    assert.deepEqual(await r.json(), { amount: '13.13', amount_cents: 1313, rate: '1.05', currency: 'CHF', currency_id: 1 });
    assert.equal((await fetch(`${cc.url}/currency-rate?amount=1&currency=XXX`, { headers: h })).status, 412);
    assert.equal((await fetch(`${cc.url}/currency-rate?amount=1&currency=USD`)).status, 403);
  });

  it('the wallet page loads with labelled inputs and a live status region', async () => {
    const r = await fetch(`${cc.url}/wallet`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /text\/html/);
    assert.match(r.headers.get('content-security-policy'), /script-src 'self'/);
    const html = await r.text();
    for (const id of ['username', 'pin']) {
      assert.match(html, new RegExp(`<label for="${id}">`));
      assert.match(html, new RegExp(`<input id="${id}"`));
    }
    assert.match(html, /aria-live="polite"/);
    assert.equal((await fetch(`${cc.url}/wallet/wallet.js`)).status, 200);
  });
});
