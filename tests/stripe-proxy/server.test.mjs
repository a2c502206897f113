// Tests for the recording proxy that stands in front of localstripe (server.mjs). The proxy
// exists because localstripe refuses Stripe's Connect fields (400) and ignores both
// `Stripe-Account` and `Idempotency-Key`, and accepts a confirm without `use_stripe_sdk=true`
// that real Stripe's 3-D Secure needs; it forwards to localstripe and adds exactly what
// localstripe lacks. To stay fast and independent of Python, these tests put a tiny fake
// upstream (a node http server that records what reaches it) where localstripe would be.
// Run: node --test tests/stripe-proxy/
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startStripeProxy } from './server.mjs';

const SECRET = 'sk_test_51HxAbCdEfGhIjKlMnOpQrStUv4242';
const AUTH = `Bearer ${SECRET}`;
const FORM = 'application/x-www-form-urlencoded';

// Fake localstripe: records each request; `gate` (a promise) holds answers back when set.
async function startUpstream() {
  const seen = [];
  let piCount = 0;
  const up = { seen, gate: null };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      if (up.gate) await up.gate;
      const json = (status, obj, extra = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${seen.length}`, ...extra });
        res.end(JSON.stringify(obj, null, 2));
      };
      const form = new URLSearchParams(body);
      if (req.url.startsWith('/boom')) return json(500, { error: { type: 'api_error', message: 'localstripe blew up' } });
      if (req.method === 'POST' && req.url === '/v1/payment_intents') {
        piCount += 1;
        return json(200, { object: 'payment_intent', id: `pi_${piCount}`, amount: Number(form.get('amount')), status: 'requires_payment_method' });
      }
      const m = /^\/v1\/payment_intents\/(pi_\d+)/.exec(req.url);
      if (m) return json(200, { object: 'payment_intent', id: m[1], amount: 1000, status: 'succeeded' });
      if (req.url.startsWith('/stream')) { // chunked, not JSON
        res.writeHead(201, { 'content-type': 'text/plain', 'x-upstream': 'yes' });
        res.write('part1,');
        return setTimeout(() => res.end('part2'), 5);
      }
      json(200, { object: 'echo', method: req.method, url: req.url, body });
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  up.url = `http://127.0.0.1:${server.address().port}`;
  up.close = () => new Promise((r) => { server.close(r); server.closeAllConnections(); });
  return up;
}

// Raw http client (fetch refuses hop-by-hop headers and hides socket drops).
function call(base, method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    if (body !== undefined) headers = { 'content-length': Buffer.byteLength(body), ...headers };
    const req = http.request(new URL(path, base), { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json;
        try { json = JSON.parse(text); } catch {}
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const post = (base, path, body, headers = {}) =>
  call(base, 'POST', path, { body, headers: { authorization: AUTH, 'content-type': FORM, ...headers } });

describe('stripe proxy', () => {
  let up, proxy, clock;
  const records = async (since) =>
    (await call(proxy.url, 'GET', `/_recorder/requests${since === undefined ? '' : `?since=${since}`}`)).json;
  const addFault = (f) => call(proxy.url, 'POST', '/_recorder/faults',
    { body: JSON.stringify(f), headers: { 'content-type': 'application/json' } });

  beforeEach(async () => {
    clock = { t: Date.parse('2025-01-01T00:00:00Z') };
    up = await startUpstream();
    proxy = await startStripeProxy({ port: 0, upstream: up.url, now: () => clock.t });
  });
  afterEach(async () => { await proxy.close(); await up.close(); });

  it('binds 127.0.0.1 and forwards method, path, query, body and end-to-end headers', async () => {
    assert.match(proxy.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await call(proxy.url, 'DELETE', '/v1/customers/cus_1?expand[]=sources&a=b+c', {
      body: 'x=1', headers: { authorization: AUTH, 'content-type': FORM, 'x-custom': 'kept',
        connection: 'keep-alive, x-hop', 'x-hop': 'dropped', 'keep-alive': 'timeout=5' },
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers['request-id'], 'req_1');
    assert.deepEqual(r.json, { object: 'echo', method: 'DELETE', url: '/v1/customers/cus_1?expand[]=sources&a=b+c', body: 'x=1' });
    const [got] = up.seen;
    assert.equal(got.headers.authorization, AUTH);
    assert.equal(got.headers['x-custom'], 'kept');
    assert.equal(got.headers['x-hop'], undefined);
    assert.equal(got.headers['keep-alive'], undefined);
    assert.equal(got.headers.host, new URL(up.url).host);

    const s = await call(proxy.url, 'GET', '/stream');
    assert.equal(s.status, 201);
    assert.equal(s.headers['x-upstream'], 'yes');
    assert.equal(s.text, 'part1,part2');

    const { data } = await records();
    assert.deepEqual(data.map((x) => [x.seq, x.method, x.path, x.status, x.replayed]),
      [[1, 'DELETE', '/v1/customers/cus_1', 200, false], [2, 'GET', '/stream', 201, false]]);
    assert.deepEqual(data[0].query, [['expand[]', 'sources'], ['a', 'b c']]);
    assert.deepEqual(data[0].form, [['x', '1']]);
  });

  it('removes Connect fields and Stripe-Account upstream, records them, and puts them back on the PaymentIntent', async () => {
    const body = 'amount=1000&currency=eur&application_fee_amount=50&transfer_data[destination]=acct_1'
      + '&metadata[order]=42&transfer_data%5Bamount%5D=900&on_behalf_of=acct_1&payment_method_types[]=card';
    const r = await post(proxy.url, '/v1/payment_intents', body, { 'stripe-account': 'acct_2', 'idempotency-key': 'k1' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {
      object: 'payment_intent', id: 'pi_1', amount: 1000, status: 'requires_payment_method',
      amount_capturable: 0, amount_received: 0, application_fee_amount: 50, on_behalf_of: 'acct_1', transfer_data: { destination: 'acct_1', amount: 900 },
    });
    assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.text));

    const [got] = up.seen;
    assert.equal(got.body, 'amount=1000&currency=eur&metadata[order]=42&payment_method_types[]=card');
    assert.equal(Number(got.headers['content-length']), Buffer.byteLength(got.body));
    assert.equal(got.headers['stripe-account'], undefined);
    assert.equal(got.headers['idempotency-key'], 'k1');

    const [rec] = (await records()).data;
    assert.deepEqual(rec.form, [['amount', '1000'], ['currency', 'eur'], ['application_fee_amount', '50'],
      ['transfer_data[destination]', 'acct_1'], ['metadata[order]', '42'], ['transfer_data[amount]', '900'],
      ['on_behalf_of', 'acct_1'], ['payment_method_types[]', 'card']]);
    assert.equal(rec.headers['stripe-account'], 'acct_2');
    assert.equal(rec.headers['idempotency-key'], 'k1');

    // Later answers about the same intent keep the Connect fields; other objects are untouched.
    const later = await call(proxy.url, 'GET', '/v1/payment_intents/pi_1', { headers: { authorization: AUTH } });
    assert.equal(later.json.application_fee_amount, 50);
    assert.deepEqual(later.json.transfer_data, { destination: 'acct_1', amount: 900 });
    const other = await post(proxy.url, '/v1/refunds', 'payment_intent=pi_1&on_behalf_of=acct_9');
    assert.deepEqual(other.json, { object: 'echo', method: 'POST', url: '/v1/refunds', body: 'payment_intent=pi_1' });
  });

  it('refuses a PaymentIntent confirm without use_stripe_sdk=true (400, Stripe error shape); passes one with it', async () => {
    // Real Stripe needs use_stripe_sdk=true for stripe.handleNextAction to finish 3-D Secure
    // after a server-side confirm; localstripe accepts either, so the proxy is the check.
    for (const [path, body] of [
      ['/v1/payment_intents/pi_7/confirm', ''],
      ['/v1/payment_intents/pi_7/confirm', 'return_url=https%3A%2F%2Fshop%2Fr&use_stripe_sdk=false'],
      ['/v1/payment_intents', 'amount=500&currency=eur&payment_method=pm_1&confirm=true'],
    ]) {
      const r = await post(proxy.url, path, body, { 'idempotency-key': `k-${path}-${body}` });
      assert.equal(r.status, 400, `${path} ${body}`);
      assert.equal(r.json.error.type, 'invalid_request_error');
      assert.equal(r.json.error.code, 'parameter_missing');
      assert.equal(r.json.error.param, 'use_stripe_sdk');
      assert.match(r.json.error.message, /use_stripe_sdk=true/);
    }
    assert.equal(up.seen.length, 0, 'nothing reaches localstripe');
    // The refusal stores no idempotency record: the corrected resend under the same key runs.
    const ok = await post(proxy.url, '/v1/payment_intents/pi_7/confirm', 'use_stripe_sdk=true&return_url=https%3A%2F%2Fshop%2Fr',
      { 'idempotency-key': 'k-/v1/payment_intents/pi_7/confirm-' });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.id, 'pi_7');
    // localstripe refuses both fields ("Unexpected …"): forwarded without them, recorded with them.
    assert.deepEqual(up.seen.map((x) => [x.url, x.body]), [['/v1/payment_intents/pi_7/confirm', '']]);
    const created = await post(proxy.url, '/v1/payment_intents',
      'amount=500&currency=eur&payment_method=pm_1&confirm=true&use_stripe_sdk=true', { 'idempotency-key': 'k-create' });
    assert.equal(created.status, 200);
    assert.equal(up.seen[1].body, 'amount=500&currency=eur&payment_method=pm_1&confirm=true');
    // Off-session charges have no page to finish 3DS in: no use_stripe_sdk needed.
    const offSession = await post(proxy.url, '/v1/payment_intents',
      'amount=500&currency=eur&customer=cus_1&payment_method=pm_1&off_session=true&confirm=true', { 'idempotency-key': 'k-off' });
    assert.equal(offSession.status, 200);
    const recs = (await records()).data;
    assert.deepEqual(recs.map((x) => x.status), [400, 400, 400, 200, 200, 200]);
    assert.deepEqual(recs[3].form, [['use_stripe_sdk', 'true'], ['return_url', 'https://shop/r']]);
  });

  it('masks Authorization in records and never exposes the full key via the control API', async () => {
    await post(proxy.url, '/v1/payment_intents', 'amount=5', { 'idempotency-key': 'k-mask' });
    await addFault({ kind: '503_before_forward', path_prefix: '/nothing' });
    const [rec] = (await records()).data;
    assert.equal(rec.headers.authorization, 'Bearer sk_test_…4242');
    assert.equal(up.seen[0].headers.authorization, AUTH); // upstream still gets the real key
    for (const path of ['/_recorder/requests', '/_recorder/faults', '/_recorder/requests?since=0']) {
      const r = await call(proxy.url, 'GET', path);
      assert.ok(!r.text.includes(SECRET.slice(8, -4)), `${path} leaks the key`);
    }
  });

  it('replays an idempotent POST without forwarding: same status and bytes, Idempotent-Replayed', async () => {
    const first = await post(proxy.url, '/v1/payment_intents', 'amount=1000', { 'idempotency-key': 'k2' });
    const again = await post(proxy.url, '/v1/payment_intents', 'amount=1000', { 'idempotency-key': 'k2' });
    assert.equal(up.seen.length, 1);
    assert.equal(again.status, first.status);
    assert.equal(again.text, first.text);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(first.headers['idempotent-replayed'], undefined);
    assert.deepEqual((await records()).data.map((r) => [r.replayed, r.upstream_status]), [[false, 200], [true, null]]);

    // Keys are scoped by Authorization; GETs ignore keys.
    await post(proxy.url, '/v1/payment_intents', 'amount=1000', { 'idempotency-key': 'k2', authorization: 'Bearer sk_test_other' });
    assert.equal(up.seen.length, 2);
    await call(proxy.url, 'GET', '/v1/payment_intents/pi_1', { headers: { authorization: AUTH, 'idempotency-key': 'k2' } });
    await call(proxy.url, 'GET', '/v1/payment_intents/pi_1', { headers: { authorization: AUTH, 'idempotency-key': 'k2' } });
    assert.equal(up.seen.length, 4);
  });

  it('stores and replays an upstream 500 too, and forgets keys after 24 h', async () => {
    const a = await post(proxy.url, '/boom', 'x=1', { 'idempotency-key': 'k500' });
    const b = await post(proxy.url, '/boom', 'x=1', { 'idempotency-key': 'k500' });
    assert.equal(a.status, 500);
    assert.equal(b.status, 500);
    assert.equal(b.text, a.text);
    assert.equal(up.seen.length, 1);

    clock.t += 24 * 3600 * 1000 - 1;
    await post(proxy.url, '/boom', 'x=1', { 'idempotency-key': 'k500' });
    assert.equal(up.seen.length, 1);
    clock.t += 1;
    const c = await post(proxy.url, '/boom', 'x=1', { 'idempotency-key': 'k500' });
    assert.equal(up.seen.length, 2);
    assert.equal(c.headers['idempotent-replayed'], undefined);
  });

  it('answers 400 idempotency_error when a key is reused with other parameters', async () => {
    await post(proxy.url, '/v1/payment_intents', 'amount=1000', { 'idempotency-key': 'k3' });
    const r = await post(proxy.url, '/v1/payment_intents', 'amount=2000', { 'idempotency-key': 'k3' });
    assert.equal(r.status, 400);
    assert.deepEqual(r.json, { error: { type: 'idempotency_error',
      message: 'Keys for idempotent requests can only be used with the same parameters they were first used with.' } });
    const p = await post(proxy.url, '/v1/payment_intents/pi_1/capture', 'amount=1000', { 'idempotency-key': 'k3' });
    assert.equal(p.status, 400);
    assert.equal(up.seen.length, 1);
  });

  it('answers 409 idempotency_error while a request with the same key is in flight', async () => {
    let open;
    up.gate = new Promise((r) => { open = r; });
    const first = post(proxy.url, '/v1/payment_intents', 'amount=1000', { 'idempotency-key': 'k4' });
    while (up.seen.length === 0) await new Promise((r) => setTimeout(r, 2));
    const second = await post(proxy.url, '/v1/payment_intents', 'amount=1000', { 'idempotency-key': 'k4' });
    assert.equal(second.status, 409);
    assert.equal(second.json.error.type, 'idempotency_error');
    assert.match(second.json.error.message, /concurrent/);
    open();
    up.gate = null;
    assert.equal((await first).status, 200);
    const third = await post(proxy.url, '/v1/payment_intents', 'amount=1000', { 'idempotency-key': 'k4' });
    assert.equal(third.headers['idempotent-replayed'], 'true');
    assert.equal(up.seen.length, 1);
  });

  it('fault drop_after_forward: charge happens, caller gets a network error, retry is replayed', async () => {
    const f = await addFault({ method: 'post', path_prefix: '/v1/payment_intents', kind: 'drop_after_forward', count: 1 });
    assert.equal(f.status, 201);
    assert.deepEqual(f.json, { id: 1, method: 'POST', path_prefix: '/v1/payment_intents', path_suffix: null, kind: 'drop_after_forward', count: 1, remaining: 1, hold_ms: 0 });
    await assert.rejects(post(proxy.url, '/v1/payment_intents', 'amount=1000', { 'idempotency-key': 'k5' }),
      (e) => ['ECONNRESET', 'EPIPE'].includes(e.code) || /socket hang up/.test(e.message));
    assert.equal(up.seen.length, 1);
    const retry = await post(proxy.url, '/v1/payment_intents', 'amount=1000', { 'idempotency-key': 'k5' });
    assert.equal(retry.status, 200);
    assert.equal(retry.json.id, 'pi_1');
    assert.equal(retry.headers['idempotent-replayed'], 'true');
    assert.equal(up.seen.length, 1); // charged once
    assert.deepEqual((await records()).data.map((r) => [r.status, r.upstream_status, r.fault, r.replayed]),
      [[null, 200, 'drop_after_forward', false], [200, null, null, true]]);
    assert.deepEqual((await call(proxy.url, 'GET', '/_recorder/faults')).json, { data: [] }); // used up
  });

  it('fault 500_after_forward: answers 500 api_error, stores nothing, so a retry is forwarded again', async () => {
    await addFault({ path_prefix: '/v1/payment_intents', kind: '500_after_forward' });
    const r = await post(proxy.url, '/v1/payment_intents', 'amount=1000', { 'idempotency-key': 'k6' });
    assert.equal(r.status, 500);
    assert.deepEqual(r.json, { error: { type: 'api_error', message: 'An unknown error occurred' } });
    assert.equal(up.seen.length, 1);
    const retry = await post(proxy.url, '/v1/payment_intents', 'amount=1000', { 'idempotency-key': 'k6' });
    assert.equal(retry.status, 200);
    assert.equal(retry.json.id, 'pi_2'); // upstream state changed twice: the documented choice
    assert.equal(up.seen.length, 2);
  });

  it('fault 503_before_forward: count, method and path_prefix matching; DELETE clears faults', async () => {
    await addFault({ method: 'POST', path_prefix: '/v1/refunds', kind: '503_before_forward', count: 2 });
    assert.equal((await call(proxy.url, 'GET', '/v1/refunds/re_1')).status, 200); // other method
    assert.equal((await post(proxy.url, '/v1/customers', 'a=1')).status, 200); // other path
    const a = await post(proxy.url, '/v1/refunds', 'amount=1', { 'idempotency-key': 'k7' });
    assert.equal(a.status, 503);
    assert.equal(a.json.error.type, 'api_error');
    assert.equal((await post(proxy.url, '/v1/refunds', 'amount=1', { 'idempotency-key': 'k7' })).status, 503);
    assert.equal(up.seen.length, 2);
    const c = await post(proxy.url, '/v1/refunds', 'amount=1', { 'idempotency-key': 'k7' }); // key was not stored
    assert.equal(c.status, 200);
    assert.equal(up.seen.length, 3);

    await addFault({ kind: '503_before_forward', count: 5 });
    assert.equal((await call(proxy.url, 'DELETE', '/_recorder/faults')).status, 200);
    assert.equal((await call(proxy.url, 'GET', '/v1/x')).status, 200);
    assert.equal((await addFault({ kind: 'nope' })).status, 400);
    assert.equal((await addFault({ kind: '503_before_forward', count: 0 })).status, 400);
  });

  it('fault hold_after_forward: only paths with the suffix; the answer comes hold_ms late, after upstream acted', async () => {
    await addFault({ method: 'POST', path_prefix: '/v1/payment_intents/', path_suffix: '/confirm', kind: 'hold_after_forward', hold_ms: 300 });
    const t0 = Date.now();
    assert.equal((await post(proxy.url, '/v1/payment_intents/pi_1', 'a=1')).status, 200); // no suffix: not held
    assert.ok(Date.now() - t0 < 250);
    const t1 = Date.now();
    const held = await post(proxy.url, '/v1/payment_intents/pi_1/confirm', 'use_stripe_sdk=true', { 'idempotency-key': 'kh' });
    assert.equal(held.status, 200);
    assert.ok(Date.now() - t1 >= 300, 'held back');
    assert.equal(up.seen.length, 2, 'forwarded before the hold');
    assert.equal((await addFault({ kind: 'hold_after_forward', hold_ms: 60001 })).status, 400);
    assert.equal((await addFault({ kind: 'hold_after_forward', path_suffix: 7 })).status, 400);
  });

  it('Connect onboarding: express accounts once per idempotency key, links only for them, never forwarded', async () => {
    const acct = await post(proxy.url, '/v1/accounts', 'type=express&country=CH&capabilities%5Bcard_payments%5D%5Brequested%5D=true&metadata%5Bour_merchant_id%5D=acct_ours', { 'idempotency-key': 'ka' });
    assert.equal(acct.status, 200, acct.text);
    assert.match(acct.json.id, /^acct_1[0-9a-f]{16}$/);
    assert.equal(acct.json.metadata.our_merchant_id, 'acct_ours');
    const again = await post(proxy.url, '/v1/accounts', 'type=express&country=CH&capabilities%5Bcard_payments%5D%5Brequested%5D=true&metadata%5Bour_merchant_id%5D=acct_ours', { 'idempotency-key': 'ka' });
    assert.equal(again.json.id, acct.json.id, 'the same key makes one account');
    assert.equal((await call(proxy.url, 'GET', `/v1/accounts/${acct.json.id}`, { headers: { authorization: AUTH } })).json.id, acct.json.id);
    assert.equal((await call(proxy.url, 'GET', '/v1/accounts/acct_nope', { headers: { authorization: AUTH } })).status, 404);
    const link = await post(proxy.url, '/v1/account_links', `account=${acct.json.id}&refresh_url=https%3A%2F%2Fp.example%2Fr&return_url=https%3A%2F%2Fp.example%2Fr&type=account_onboarding`);
    assert.equal(link.status, 200, link.text);
    assert.match(link.json.url, /^https:\/\/connect\.stripe\.com\/setup\/e\/acct_1/);
    assert.equal((await post(proxy.url, '/v1/account_links', 'account=acct_other&refresh_url=https%3A%2F%2Fa&return_url=https%3A%2F%2Fa&type=account_onboarding')).status, 400);
    assert.equal((await post(proxy.url, '/v1/accounts', 'type=standard&country=CH')).status, 400);
    assert.equal(up.seen.length, 0, 'localstripe never sees these');
  });

  it('since filtering; DELETE clears records but not seq or idempotency state', async () => {
    await call(proxy.url, 'GET', '/v1/a');
    await post(proxy.url, '/v1/payment_intents', 'amount=1', { 'idempotency-key': 'k8' });
    await call(proxy.url, 'GET', '/v1/c');
    assert.deepEqual((await records(1)).data.map((r) => r.seq), [2, 3]);
    assert.deepEqual((await records(3)).data, []);
    assert.equal((await records()).last_seq, 3);
    assert.equal((await call(proxy.url, 'GET', '/_recorder/requests?since=abc')).status, 400);

    assert.equal((await call(proxy.url, 'DELETE', '/_recorder/requests')).status, 200);
    assert.deepEqual((await records()).data, []);
    const r = await post(proxy.url, '/v1/payment_intents', 'amount=1', { 'idempotency-key': 'k8' });
    assert.equal(r.headers['idempotent-replayed'], 'true');
    assert.deepEqual((await records()).data.map((x) => [x.seq, x.replayed]), [[4, true]]);
    assert.equal((await call(proxy.url, 'GET', '/_recorder/nope')).status, 404);
  });

  it('answers 502 when the upstream is down and releases the key', async () => {
    await up.close();
    const r = await post(proxy.url, '/v1/payment_intents', 'amount=1', { 'idempotency-key': 'k9' });
    assert.equal(r.status, 502);
    const again = await post(proxy.url, '/v1/payment_intents', 'amount=1', { 'idempotency-key': 'k9' });
    assert.equal(again.status, 502); // not 409, not replayed
    up.close = async () => {};
  });
});

it('lists PaymentIntents by created time, newest first and paged, as Stripe does (localstripe refuses created)', async () => {
  // localstripe's list: oldest first, 100 a page, `created` refused.
  const all = Array.from({ length: 150 }, (_, i) => ({ object: 'payment_intent', id: `pi_${i}`, amount: 100, status: i % 2 ? 'succeeded' : 'requires_capture', created: 1000 + i }));
  const up = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://up');
    if ([...u.searchParams.keys()].some((k) => k.startsWith('created'))) {
      res.writeHead(400, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { type: 'invalid_request_error', message: 'Unexpected created' } }));
    }
    const after = u.searchParams.get('starting_after');
    const from = after ? all.findIndex((p) => p.id === after) + 1 : 0;
    const limit = Number(u.searchParams.get('limit') ?? 10);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ object: 'list', data: all.slice(from, from + limit), has_more: from + limit < all.length }));
  });
  await new Promise((r) => up.listen(0, '127.0.0.1', r));
  const proxy = await startStripeProxy({ upstream: `http://127.0.0.1:${up.address().port}` });
  try {
    const get = (q) => call(proxy.url, 'GET', `/v1/payment_intents?${q}`, { headers: { authorization: AUTH } });
    const first = await get('created[gte]=1010&created[lt]=1140&limit=100');
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json.data.length, 100);
    assert.equal(first.json.has_more, true);
    assert.equal(first.json.data[0].id, 'pi_139', 'newest first');
    assert.equal(first.json.data[0].amount_received, 100, 'shaped like a single PaymentIntent');
    assert.equal(first.json.data[1].amount_capturable, 100);
    const rest = await get(`created[gte]=1010&created[lt]=1140&limit=100&starting_after=${first.json.data.at(-1).id}`);
    assert.deepEqual(rest.json.data.map((p) => p.id), Array.from({ length: 30 }, (_, i) => `pi_${39 - i}`));
    assert.equal(rest.json.has_more, false);
    assert.equal((await get('created[gte]=abc')).status, 400);
    // Without `created` the list goes to localstripe as it is.
    assert.equal((await get('limit=3')).json.data[0].id, 'pi_0');
  } finally {
    await proxy.close();
    await new Promise((r) => up.close(r));
  }
});

it('adds the amounts localstripe leaves out: capturable while held, received and the charge\'s captured after a (partial) capture', async () => {
  const states = { create: 'requires_capture', capture: 'succeeded' };
  const up = http.createServer(async (req, res) => {
    for await (const _ of req);
    const status = req.url.endsWith('/capture') ? states.capture : states.create;
    res.writeHead(200, { 'content-type': 'application/json' });
    const captured = status === 'succeeded';
    const latest_charge = { id: 'ch_9', object: 'charge', amount: 30000, captured };
    res.end(JSON.stringify({ object: 'payment_intent', id: 'pi_9', amount: 30000, status, latest_charge }));
  });
  await new Promise((r) => up.listen(0, '127.0.0.1', r));
  const proxy = await startStripeProxy({ upstream: `http://127.0.0.1:${up.address().port}` });
  try {
    const held = await post(proxy.url, '/v1/payment_intents', 'amount=30000&currency=chf');
    assert.equal(held.json.amount_capturable, 30000);
    assert.equal(held.json.amount_received, 0);
    assert.equal(held.json.latest_charge.amount_captured, 0);
    const cap = await post(proxy.url, '/v1/payment_intents/pi_9/capture', 'amount_to_capture=24735');
    assert.equal(cap.json.amount_received, 24735);
    assert.equal(cap.json.amount_capturable, 0);
    // The charge says what was captured, as Stripe's does (reconciliation reads it).
    assert.equal(cap.json.latest_charge.amount_captured, 24735);
  } finally {
    await proxy.close();
    await new Promise((r) => up.close(r));
  }
});

// Saved cards: these emulations exist because of what localstripe itself does (a
// SetupIntent that never attaches its card, 3-D Secure asked for off session, a declined
// setup that cancels the SetupIntent), so they are tested against localstripe itself,
// from the project's .venv (make setup), on a port of its own.
describe('saved cards, against localstripe', () => {
  let ls, proxy;
  const ROOT = new URL('../../', import.meta.url).pathname;
  const get = (path) => call(proxy.url, 'GET', path, { headers: { authorization: AUTH } });
  const form = (o) => new URLSearchParams(o).toString();
  const sdk = { use_stripe_sdk: 'true' };
  let n = 0;
  const idem = () => ({ 'idempotency-key': `saved-${process.pid}-${++n}` });

  beforeEach(async () => {
    const free = http.createServer();
    await new Promise((r) => free.listen(0, '127.0.0.1', r));
    const port = free.address().port;
    await new Promise((r) => free.close(r));
    const { spawn } = await import('node:child_process');
    const child = spawn(`${ROOT}.venv/bin/python`, [`${ROOT}tests/tools/localstripe_loopback.py`, String(port)], { stdio: 'ignore' });
    ls = { url: `http://127.0.0.1:${port}`, child };
    for (let i = 0; ; i++) {
      try { if ((await fetch(`${ls.url}/v1/customers`, { headers: { authorization: AUTH } })).ok) break; } catch {}
      if (i > 100) throw new Error('localstripe did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    proxy = await startStripeProxy({ upstream: ls.url });
  });
  afterEach(async () => {
    await proxy.close();
    ls.child.kill();
  });

  async function customer() {
    const c = await post(proxy.url, '/v1/customers', form({ email: 'c@example.com' }), idem());
    assert.equal(c.status, 200, c.text);
    return c.json.id;
  }
  async function card(number) {
    const pm = await post(proxy.url, '/v1/payment_methods', form({ type: 'card', 'card[number]': number, 'card[exp_month]': '12', 'card[exp_year]': '2034', 'card[cvc]': '123' }));
    assert.equal(pm.status, 200, pm.text);
    return pm.json.id;
  }
  const saved = async (cus) => (await get(`/v1/payment_methods?customer=${cus}`)).json.data.map((p) => p.id);
  async function setupIntent(cus) {
    const s = await post(proxy.url, '/v1/setup_intents', form({ customer: cus, usage: 'off_session', 'payment_method_types[]': 'card' }), idem());
    assert.equal(s.status, 200, s.text);
    return s.json;
  }
  /** A card saved the way the widget saves it: SetupIntent, confirm, 3-D Secure completed. */
  async function setUpCard(cus, number) {
    const seti = await setupIntent(cus);
    const pm = await card(number);
    const c = await post(proxy.url, `/v1/setup_intents/${seti.id}/confirm`, form({ payment_method: pm, ...sdk }), idem());
    assert.equal(c.status, 200, c.text);
    if (c.json.status === 'requires_action') {
      const a = await post(proxy.url, `/v1/setup_intents/${seti.id}/_authenticate?success=true`, form({ client_secret: seti.client_secret }));
      assert.equal(a.json.status, 'succeeded', a.text);
    }
    return pm;
  }
  const offSession = (cus, pm, key = idem()) => post(proxy.url, '/v1/payment_intents',
    form({ amount: '2500', currency: 'chf', customer: cus, payment_method: pm, off_session: 'true', confirm: 'true' }), key);

  it('setup_future_usage: stripped for localstripe, echoed, and the card attached once the payment succeeds (also after 3-D Secure done elsewhere)', async () => {
    const cus = await customer();
    const pm = await card('4242424242424242');
    const pi = await post(proxy.url, '/v1/payment_intents', form({ amount: '1000', currency: 'chf', customer: cus, payment_method: pm,
      setup_future_usage: 'off_session', confirm: 'true', ...sdk }), idem());
    assert.equal(pi.status, 200, pi.text);
    assert.equal(pi.json.status, 'succeeded');
    assert.equal(pi.json.setup_future_usage, 'off_session');
    assert.deepEqual(await saved(cus), [pm]);
    const rec = (await call(proxy.url, 'GET', '/_recorder/requests')).json.data.find((r) => r.path === '/v1/payment_intents');
    assert.ok(rec.form.some(([k, v]) => k === 'setup_future_usage' && v === 'off_session'), 'recorded as the Worker sent it');

    // 3-D Secure finished between Stripe.js and localstripe, out of the proxy's sight.
    const cus2 = await customer();
    const pm2 = await card('4000002500003155');
    const pi2 = await post(proxy.url, '/v1/payment_intents', form({ amount: '1000', currency: 'chf', customer: cus2, payment_method: pm2,
      setup_future_usage: 'off_session', confirm: 'true', ...sdk }), idem());
    assert.equal(pi2.json.status, 'requires_action');
    assert.deepEqual(await saved(cus2), [], 'not saved before it succeeds');
    const auth = await fetch(`${ls.url}/v1/payment_intents/${pi2.json.id}/_authenticate?success=true`, { method: 'POST',
      headers: { 'content-type': FORM }, body: form({ key: 'pk_test_x', client_secret: pi2.json.client_secret }) });
    assert.equal((await auth.json()).status, 'succeeded');
    assert.deepEqual(await saved(cus2), [pm2]);
    assert.equal((await get(`/v1/payment_intents/${pi2.json.id}`)).json.setup_future_usage, 'off_session');
  });

  it('SetupIntent: 3-D Secure at setup through _authenticate; success attaches the card, failure leaves it unsaved and another card works', async () => {
    const cus = await customer();
    const seti = await setupIntent(cus);
    const bad = await post(proxy.url, `/v1/setup_intents/${seti.id}/confirm`, form({ payment_method: await card('4000002500003155') }), idem());
    assert.equal(bad.status, 400, 'a confirm without use_stripe_sdk=true is refused as for payments');
    assert.equal(bad.json.error.param, 'use_stripe_sdk');

    const pm = await card('4000002500003155');
    const c = await post(proxy.url, `/v1/setup_intents/${seti.id}/confirm`, form({ payment_method: pm, ...sdk }), idem());
    assert.equal(c.json.status, 'requires_action');
    const wrong = await post(proxy.url, `/v1/setup_intents/${seti.id}/_authenticate?success=true`, form({ client_secret: `${seti.id}_secret_nope` }));
    assert.equal(wrong.status, 401);
    const failed = await post(proxy.url, `/v1/setup_intents/${seti.id}/_authenticate?success=false`, form({ client_secret: seti.client_secret }));
    assert.equal(failed.status, 200);
    assert.equal(failed.json.status, 'requires_payment_method');
    assert.equal(failed.json.last_setup_error.code, 'setup_intent_authentication_failure');
    assert.equal(failed.json.last_setup_error.payment_method.id, pm);
    assert.equal((await get(`/v1/setup_intents/${seti.id}`)).json.status, 'requires_payment_method', 'later reads agree');
    assert.deepEqual(await saved(cus), []);
    const again = await post(proxy.url, `/v1/setup_intents/${seti.id}/_authenticate?success=true`, form({ client_secret: seti.client_secret }));
    assert.equal(again.status, 400, 'nothing to authenticate any more');

    const pm2 = await card('4000002500003155');
    assert.equal((await post(proxy.url, `/v1/setup_intents/${seti.id}/confirm`, form({ payment_method: pm2, ...sdk }), idem())).json.status, 'requires_action');
    const ok = await post(proxy.url, `/v1/setup_intents/${seti.id}/_authenticate?success=true`, form({ client_secret: seti.client_secret }));
    assert.equal(ok.json.status, 'succeeded', ok.text);
    assert.equal(ok.json.last_setup_error ?? null, null);
    assert.deepEqual(await saved(cus), [pm2]);
    assert.equal((await get(`/v1/setup_intents/${seti.id}`)).json.status, 'succeeded');

    // No 3-D Secure: saved at confirm.
    const cus2 = await customer();
    const pm3 = await card('4242424242424242');
    const plain = await post(proxy.url, `/v1/setup_intents/${(await setupIntent(cus2)).id}/confirm`, form({ payment_method: pm3, ...sdk }), idem());
    assert.equal(plain.json.status, 'succeeded');
    assert.deepEqual(await saved(cus2), [pm3]);
  });

  it('a card declined at setup: 402 card_error with the SetupIntent back in requires_payment_method (not canceled), nothing saved', async () => {
    const cus = await customer();
    const seti = await setupIntent(cus);
    const r = await post(proxy.url, `/v1/setup_intents/${seti.id}/confirm`, form({ payment_method: await card('4000000000000002'), ...sdk }), idem());
    assert.equal(r.status, 402, r.text);
    assert.equal(r.json.error.type, 'card_error');
    assert.equal(r.json.error.code, 'card_declined');
    assert.equal(r.json.error.setup_intent.id, seti.id);
    assert.equal(r.json.error.setup_intent.status, 'requires_payment_method');
    assert.equal(r.json.error.setup_intent.last_setup_error.code, 'card_declined');
    assert.equal((await get(`/v1/setup_intents/${seti.id}`)).json.status, 'requires_payment_method');
    assert.deepEqual(await saved(cus), []);
    const pm = await card('4242424242424242');
    assert.equal((await post(proxy.url, `/v1/setup_intents/${seti.id}/confirm`, form({ payment_method: pm, ...sdk }), idem())).json.status, 'succeeded');
    assert.deepEqual(await saved(cus), [pm]);
  });

  it('off session: 3155 set up succeeds, 3184 needs authentication (402), 0341 is declined (402), 3155 never set up needs authentication; a retried key charges once', async () => {
    const cus = await customer();
    const pm3155 = await setUpCard(cus, '4000002500003155');
    const key = idem();
    const ok = await offSession(cus, pm3155, key);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.status, 'succeeded');
    assert.equal(ok.json.amount_received, 2500);
    const replay = await offSession(cus, pm3155, key);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.equal(replay.text, ok.text);
    const recs = (await call(proxy.url, 'GET', '/_recorder/requests')).json.data.filter((r) => r.path === '/v1/payment_intents');
    assert.deepEqual(recs.map((r) => [r.status, r.emulated, r.replayed]), [[200, 'off_session_set_up', false], [200, null, true]]);
    const charges = await (await fetch(`${ls.url}/v1/charges?customer=${cus}`, { headers: { authorization: AUTH } })).json();
    assert.equal(charges.data.length, 1, 'one charge at "Stripe"');

    const pm3184 = await setUpCard(cus, '4000002760003184');
    const auth = await offSession(cus, pm3184);
    assert.equal(auth.status, 402, auth.text);
    assert.equal(auth.json.error.type, 'card_error');
    assert.equal(auth.json.error.code, 'authentication_required');
    assert.equal(auth.json.error.payment_intent.status, 'requires_payment_method');
    assert.equal(auth.json.error.payment_intent.last_payment_error.code, 'authentication_required');
    const later = await get(`/v1/payment_intents/${auth.json.error.payment_intent.id}`);
    assert.equal(later.json.status, 'requires_payment_method');
    assert.equal(later.json.last_payment_error.code, 'authentication_required');

    const pm0341 = await setUpCard(cus, '4000000000000341');
    assert.ok((await saved(cus)).includes(pm0341), '0341 attaches fine');
    const declined = await offSession(cus, pm0341);
    assert.equal(declined.status, 402, declined.text);
    assert.equal(declined.json.error.type, 'card_error');
    assert.equal(declined.json.error.code, 'card_declined');
    assert.equal(declined.json.error.payment_intent.status, 'requires_payment_method');

    // Attached without a setup (no SetupIntent, no setup_future_usage): the bank still asks.
    const bare = await card('4000002500003155');
    assert.equal((await post(proxy.url, `/v1/payment_methods/${bare}/attach`, form({ customer: cus }))).status, 200);
    assert.equal((await offSession(cus, bare)).json.error?.code, 'authentication_required');

    // No 3-D Secure card: localstripe's own answer, untouched.
    const plain = await offSession(cus, await setUpCard(cus, '4242424242424242'));
    assert.equal(plain.json.status, 'succeeded');
  });
});
