// A Worker restarted in the middle of a payment: the request dies between the
// provider's answer and our write, and the next request (or the alarm) finds the open
// attempt and asks the provider. These tests restart a Worker of their own — its own
// copy of the bundle, its own Durable Object state, the stack's stand-ins — so the
// reloads they cause never reach the Worker every other test file talks to.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { api, errorOf, paymentMethod, stripeMerchant, useWorker, STATE_DIR, WORKER, WORKER_LOG } from './lib.mjs';
import { intent, confirm, read, refund, fault, clearFaults, recorded, stripeRefunds, lastSeq, partlyCaptured } from './payments.mjs';
import { startReceiver, verify } from '../webhook-receiver/receiver.mjs';
import { ROOT, startWorker, workerVars } from '../tools/stack.mjs';

let worker, dir, bundle, original;
before(async () => {
  dir = mkdtempSync(path.join(path.dirname(STATE_DIR), 'restarts-'));
  cpSync(path.join(ROOT, 'edge-worker/build'), path.join(dir, 'bundle'), { recursive: true });
  bundle = path.join(dir, 'bundle/index.js');
  original = readFileSync(bundle);
  worker = await startWorker({
    port: Number(new URL(WORKER).port) + 1,
    stateDir: path.join(dir, 'state'),
    script: bundle,
    vars: {
      ...workerVars({
        stripeProxyUrl: process.env.STRIPE_PROXY_URL, stripeJsUrl: process.env.STRIPE_JS_URL,
        cashcloudUrl: process.env.CASHCLOUD_URL, worldpayUrl: process.env.WORLDPAY_URL,
      }),
      ADMIN_TOKEN: process.env.ADMIN_TOKEN, MASTER_KEY: process.env.MASTER_KEY,
    },
    logFile: WORKER_LOG,
  });
  useWorker(worker.url);
});
after(async () => {
  await worker?.stop();
  await clearFaults();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** wrangler dev reloads the Worker when its bundle changes: what a crash or deploy does to in-flight requests. */
const restart = () => writeFileSync(bundle, Buffer.concat([original, Buffer.from(`\n// restart ${randomUUID()}\n`)]));

/** Waits until the recording proxy has seen Stripe answer `path` with 200 (since `since`). */
async function reachedStripe(since, path) {
  const until = Date.now() + 10000;
  while (!(await recorded(since)).some((r) => r.method === 'POST' && r.path === path && r.upstream_status === 200)) {
    assert.ok(Date.now() < until, `${path} reached Stripe`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a Worker killed between the provider call and its write recovers the right state on the next request', async () => {
  const m = await stripeMerchant();
  const pi = await intent(m, '71.00', 'manual');
  const since = await lastSeq();
  // Stripe confirms at once; its answer is held back while the Worker restarts under the request.
  await fault({ method: 'POST', path_prefix: '/v1/payment_intents', path_suffix: '/payment_intents', kind: 'hold_after_forward', hold_ms: 15000 });
  try {
    const inFlight = confirm(m, pi, await paymentMethod('4242424242424242'));
    await reachedStripe(since, '/v1/payment_intents');
    restart();
    const died = await inFlight;
    assert.notEqual(died.status, 200, `the killed request wrote nothing: ${died.status} ${died.text}`);
    // Back up: the next read finds the open attempt and asks Stripe.
    let after;
    for (let i = 0; i < 100; i++) {
      after = await read(m, pi).catch(() => null);
      if (after?.status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(after.status, 200, after.text);
    assert.equal(after.json.status, 'requires_capture');
    assert.equal(after.json.amount_capturable, '71.00');
    const charged = (await recorded(since)).filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents' && r.upstream_status === 200);
    assert.equal(charged.length, 1);
  } finally {
    await clearFaults();
  }
});

test('an Idempotency-Key whose request died is held while it may still finish, then released after 60 s', async () => {
  const m = await stripeMerchant();
  const { pi } = await partlyCaptured(m);
  const key = randomUUID();
  const since = await lastSeq();
  await fault({ method: 'POST', path_prefix: '/v1/refunds', kind: 'hold_after_forward', hold_ms: 15000 });
  try {
    const inFlight = refund(m, pi, '30.00', key);
    await reachedStripe(since, '/v1/refunds');
    restart();
    const died = await inFlight;
    assert.notEqual(died.status, 200, `the request died: ${died.status}`);
  } finally {
    await clearFaults();
  }
  const started = Date.now();
  let r;
  for (let i = 0; i < 100; i++) {
    r = await refund(m, pi, '30.00', key).catch(() => null);
    if (r && r.status !== 503) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  // Within the minute the key is still held: no second run.
  errorOf(assert, r, 409, 'idempotency_error');
  await new Promise((res) => setTimeout(res, Math.max(0, 61000 - (Date.now() - started))));
  const after = await refund(m, pi, '30.00', key);
  assert.equal(after.status, 200, after.text);
  assert.equal(after.json.amount, '30.00');
  assert.equal(after.json.status, 'succeeded');
  // One refund in our ledger and at Stripe, whatever ran twice.
  assert.equal((await read(m, pi)).json.amount_refunded, '30.00');
  assert.equal((await stripeRefunds((await read(m, pi)).json.provider_reference)).length, 1);
});

test('a Worker killed while it delivers an event delivers it after the restart', async () => {
  const m = await stripeMerchant();
  let secret;
  let hang = true;
  const held = [];
  // The merchant's server takes the first delivery and never answers it.
  const rx = await startReceiver({ secret: (sig, raw) => verify(sig, raw, secret) });
  const server = (await import('node:http')).createServer((req, res) => {
    if (hang) { hang = false; held.push(res); return; }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const r = await fetch(rx.url, { method: 'POST', headers: { 'edge-checkout-signature': req.headers['edge-checkout-signature'] }, body: Buffer.concat(chunks) });
      res.writeHead(r.status);
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const we = await api('POST', '/v1/webhook_endpoints', { key: m.secret_key, body: { url: `http://127.0.0.1:${server.address().port}/hooks` }, idem: randomUUID() });
    assert.equal(we.status, 200, we.text);
    secret = we.json.secret;
    const pi = await intent(m, '12.00');
    const paid = await confirm(m, pi, await paymentMethod('4242424242424242'));
    assert.equal(paid.json.status, 'succeeded', paid.text);
    const end = Date.now() + 10000;
    while (held.length === 0) {
      assert.ok(Date.now() < end, 'the first delivery started');
      await new Promise((r) => setTimeout(r, 50));
    }
    restart();
    for (let i = 0; i < 100 && (await fetch(`${worker.url}/health`).catch(() => null))?.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 200));
    }
    // The send that died holds its lease for a minute of the object's clock; then the
    // event goes out again.
    for (let i = 0; i < 100 && rx.received.length === 0; i++) {
      const r = await api('POST', '/v1/test_helpers/advance_clock', { key: m.secret_key, body: { seconds: 60 } }).catch(() => null);
      if (r?.status !== 200) await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal(rx.received.length, 1, 'delivered once after the restart');
    assert.equal(rx.received[0].verified, true);
    assert.equal(rx.received[0].event.type, 'payment_intent.succeeded');
    assert.equal(rx.received[0].event.data.object.id, pi.id);
  } finally {
    for (const res of held) res.destroy();
    await new Promise((r) => server.close(r));
    await rx.close();
  }
});
