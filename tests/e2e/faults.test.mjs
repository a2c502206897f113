// Provider faults × operations. Each case switches on one fault at the provider's
// stand-in for the one call an operation makes (tests/tools/faults.mjs; the Stripe
// recording proxy's own kinds), lets the Worker recover the way it does in production
// (its alarm asks the provider; the customer or merchant tries again), and then checks
// that our books and the provider's agree: the intent's status and amounts equal the
// provider's record, the ledger's captured and refunded sums equal the intent's, and
// the provider made one payment and at most the one refund asked for.
//
// The Worker here is one of its own (the stack's stand-ins, its own Durable Object
// state) whose provider timeout is 2 s (PROVIDER_TIMEOUT_SECONDS), so "slower than the
// timeout" takes 3 s, not 20.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { randomUUID, createHmac } from 'node:crypto';
import { api, errorOf, newMerchant, STRIPE_TEST_ACCOUNT, paymentMethod, stripe, stripeMerchant, useWorker, PROXY, STATE_DIR, WORKER, WORKER_LOG } from './lib.mjs';
import { intent, confirm as stripeConfirm, read, recorded, lastSeq } from './payments.mjs';
import { startWorker, workerVars } from '../tools/stack.mjs';

const WP = process.env.WORLDPAY_URL;
const CC = process.env.CASHCLOUD_URL;
const TIMEOUT_S = 2;
const SLOW_MS = (TIMEOUT_S + 1) * 1000;
const CC_EXPIRATION_S = 6;
// FAULTS_ONLY=<regex> runs the matching cases only (a quick loop while working).
const ONLY = process.env.FAULTS_ONLY ? new RegExp(process.env.FAULTS_ONLY) : null;
const caseTest = (name, fn) => test(name, { skip: ONLY && !ONLY.test(name) ? 'FAULTS_ONLY' : false }, fn);

let worker, dir;
before(async () => {
  dir = mkdtempSync(path.join(path.dirname(STATE_DIR), 'faults-'));
  worker = await startWorker({
    port: Number(new URL(WORKER).port) + 3,
    stateDir: path.join(dir, 'state'),
    vars: {
      ...workerVars({
        stripeProxyUrl: process.env.STRIPE_PROXY_URL, stripeJsUrl: process.env.STRIPE_JS_URL,
        cashcloudUrl: CC, worldpayUrl: WP,
      }),
      ADMIN_TOKEN: process.env.ADMIN_TOKEN, MASTER_KEY: process.env.MASTER_KEY,
      PROVIDER_TIMEOUT_SECONDS: String(TIMEOUT_S),
      // A Cashcloud request (or refund) whose answer was lost is settled after it
      // would have expired: seconds here, not 5 minutes.
      CASHCLOUD_REQUEST_EXPIRATION_SECONDS: String(CC_EXPIRATION_S),
    },
    logFile: WORKER_LOG,
  });
  useWorker(worker.url);
});
after(async () => {
  await clearAll();
  await worker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const json = async (url, method = 'GET', body, headers = {}) => {
  const r = await fetch(url, { method, headers: { 'content-type': 'application/json', ...headers }, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  return text ? JSON.parse(text) : {};
};
const wp = (method, p, body) => json(`${WP}/_standin/${p}`, method, body);
const cc = (method, p, body) => json(`${CC}/_standin/${p}`, method, body);
async function clearAll() {
  await Promise.all([json(`${PROXY}/_recorder/faults`, 'DELETE'), wp('DELETE', 'faults'), cc('DELETE', 'faults')]);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Every merchant the fault cases pay with: reconciled at the end (nothing may differ). */
const merchants = [];
const tracked = (m) => { merchants.push(m); return m; };
const cents = (s) => Math.round(Number(s) * 100);

/** Reads the intent (a read asks the provider about what is open) until `done` or 20 s. */
async function until(m, pi, done, ms = 20000) {
  const end = Date.now() + ms;
  let now;
  for (;;) {
    now = (await read(m, pi)).json;
    if (done(now) || Date.now() > end) return now;
    await sleep(150);
  }
}
const settled = (x) => !['processing', 'requires_confirmation'].includes(x.status);

/** The ledger's captured and refunded sums for one intent, in cents. */
async function ledger(m, pi) {
  const rows = (await api('GET', `/v1/balance_transactions?payment_intent=${pi.id}&limit=100`, { key: m.secret_key })).json.data;
  const sum = (type) => rows.filter((r) => r.type === type).reduce((a, r) => a + Math.abs(cents(r.amount)), 0);
  return { captured: sum('captured'), refunded: sum('refund_succeeded'), pending: sum('refund_pending') - sum('refund_succeeded') - sum('refund_failed') };
}

/** Our intent and ledger agree with each other; returns the intent. */
async function ours(m, pi) {
  const x = (await read(m, pi)).json;
  const l = await ledger(m, pi);
  assert.equal(l.captured, cents(x.amount_received), `ledger captured ${l.captured} = amount_received ${x.amount_received}`);
  assert.equal(l.refunded, cents(x.amount_refunded), `ledger refunded ${l.refunded} = amount_refunded ${x.amount_refunded}`);
  return x;
}

// --- Stripe (recording proxy in front of localstripe) ------------------------------------
const STRIPE_FAULTS = {
  429: { kind: '429_before_forward' },
  500: { kind: '500_before_forward' },
  503: { kind: '503_before_forward' },
  drop_before: { kind: 'drop_before_forward' },
  delay: { kind: 'hold_after_forward', hold_ms: SLOW_MS },
  drop_after: { kind: 'drop_after_forward' },
  malformed_after: { kind: 'malformed_after_forward' },
  truncated_after: { kind: 'truncated_after_forward' },
};
const stripeFault = (f) => json(`${PROXY}/_recorder/faults`, 'POST', f);

/** A GET at Stripe with the merchant's account key, through the proxy (never faulted: GETs are not in the fault paths). */
const atStripeGet = (p) => json(`${PROXY}${p}`, 'GET', undefined, { authorization: `Bearer ${STRIPE_TEST_ACCOUNT.secret_key}` });

/** Stripe's PaymentIntent (through the proxy, which adds amount_received) and how many were made for ours. */
async function atStripe(pi, since) {
  const x = (await read({ secret_key: pi.key }, pi)).json;
  const made = (await recorded(since)).filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents'
    && !r.replayed && r.upstream_status === 200 && r.form.some(([k, v]) => k === 'metadata[our_intent_id]' && v === pi.id));
  const theirs = x.provider_reference ? await atStripeGet(`/v1/payment_intents/${x.provider_reference}`) : null;
  return { theirs, made: made.length };
}
const stripeRefundsOf = async (ref) => (await atStripeGet('/v1/refunds?limit=100')).data.filter((r) => r.payment_intent === ref);

async function stripeHeld(m, amount = '300.00') {
  const pi = await intent(m, amount, 'manual');
  const held = await stripeConfirm(m, pi, await paymentMethod('4242424242424242'));
  assert.equal(held.json.status, 'requires_capture', held.text);
  return pi;
}

/** Compares our intent with Stripe's: status, amounts, one PaymentIntent made, refunds. */
async function checkStripe(m, pi, since, want) {
  const x = await ours(m, pi);
  const { theirs, made } = await atStripe({ ...pi, key: m.secret_key }, since);
  assert.equal(x.status, want.status, JSON.stringify(x));
  assert.equal(made, 1, `Stripe PaymentIntents made for ${pi.id}: ${made}`);
  assert.equal(theirs.status, want.status);
  assert.equal(cents(x.amount_received), theirs.amount_received ?? 0, 'amount_received: ours = Stripe');
  const refunds = (await stripeRefundsOf(x.provider_reference)).filter((r) => r.status === 'succeeded');
  if (want.refunded !== undefined) {
    assert.equal(refunds.length, want.refunds ?? 1, `Stripe refunds: ${refunds.length}`);
    assert.equal(cents(x.amount_refunded), want.refunded);
  }
}

const STRIPE_OPS = {
  async confirm(m, f) {
    const pi = await intent(m, '12.50');
    const since = await lastSeq();
    await stripeFault({ method: 'POST', path_prefix: '/v1/payment_intents', ...f });
    const pm = await paymentMethod('4242424242424242');
    await stripeConfirm(m, pi, pm);
    let x = await until(m, pi, settled);
    // The customer tries again when told it failed (never when it may have gone through).
    if (x.status === 'requires_payment_method') {
      await stripeConfirm(m, pi, pm);
      x = await until(m, pi, settled);
    }
    await checkStripe(m, pi, since, { status: 'succeeded' });
  },
  async capture(m, f) {
    const since = await lastSeq();
    const pi = await stripeHeld(m);
    await stripeFault({ method: 'POST', path_suffix: '/capture', ...f });
    const idem = randomUUID();
    const body = { amount: '247.35' };
    await api('POST', `/v1/payment_intents/${pi.id}/capture`, { key: m.secret_key, body, idem });
    let x = await until(m, pi, (i) => i.status !== 'requires_capture', 6000);
    if (x.status === 'requires_capture') { // the merchant retries, with its key
      await api('POST', `/v1/payment_intents/${pi.id}/capture`, { key: m.secret_key, body, idem: randomUUID() });
      x = await until(m, pi, (i) => i.status !== 'requires_capture');
    }
    await checkStripe(m, pi, since, { status: 'succeeded' });
    assert.equal(x.amount_received, '247.35');
  },
  async cancel(m, f) {
    const since = await lastSeq();
    const pi = await stripeHeld(m, '80.00');
    await stripeFault({ method: 'POST', path_suffix: '/cancel', ...f });
    await api('POST', `/v1/payment_intents/${pi.id}/cancel`, { key: m.secret_key, body: {} });
    let x = await until(m, pi, (i) => i.status !== 'requires_capture', 6000);
    if (x.status === 'requires_capture') {
      await api('POST', `/v1/payment_intents/${pi.id}/cancel`, { key: m.secret_key, body: {} });
      x = await until(m, pi, (i) => i.status !== 'requires_capture');
    }
    await checkStripe(m, pi, since, { status: 'canceled' });
  },
  async refund(m, f) {
    const since = await lastSeq();
    const pi = await intent(m, '60.00');
    const ok = await stripeConfirm(m, pi, await paymentMethod('4242424242424242'));
    assert.equal(ok.json.status, 'succeeded', ok.text);
    await stripeFault({ method: 'POST', path_prefix: '/v1/refunds', ...f });
    const idem = randomUUID();
    const r = await api('POST', '/v1/refunds', { key: m.secret_key, body: { payment_intent: pi.id, amount: '40.00' }, idem });
    let refund = r.json?.id ? r.json : null;
    const settle = async () => {
      for (let i = 0; i < 100 && refund?.status === 'pending'; i++) {
        await sleep(150);
        refund = (await api('GET', `/v1/refunds/${refund.id}`, { key: m.secret_key })).json;
      }
    };
    await settle();
    if (!refund || refund.status === 'failed') { // told it failed: the merchant tries again
      refund = (await api('POST', '/v1/refunds', { key: m.secret_key, body: { payment_intent: pi.id, amount: '40.00' }, idem: randomUUID() })).json;
      await settle();
    }
    assert.equal(refund.status, 'succeeded', JSON.stringify(refund));
    await checkStripe(m, pi, since, { status: 'succeeded', refunded: 4000 });
  },
};

for (const [op, run] of Object.entries(STRIPE_OPS)) {
  for (const [name, f] of Object.entries(STRIPE_FAULTS)) {
    caseTest(`Stripe ${op} × ${name}: our intent and ledger end equal to Stripe's, one payment, no double refund`, async () => {
      try { await run(tracked(await stripeMerchant()), f); } finally { await clearAll(); }
    });
  }
}

// --- Worldpay and Cashcloud stand-ins (tests/tools/faults.mjs) -----------------------------
const STANDIN_FAULTS = {
  429: { kind: '429' },
  500: { kind: '500' },
  503: { kind: '503' },
  drop_before: { kind: 'drop_before' },
  delay: { kind: 'delay', hold_ms: SLOW_MS },
  drop_after: { kind: 'drop_after' },
  '500_after': { kind: '500_after' },
  malformed_after: { kind: 'malformed_after' },
  truncated_after: { kind: 'truncated_after' },
};

async function worldpayMerchant() {
  const m = await newMerchant(undefined, { default_currency: 'EUR' });
  const account = { username: `wp-${randomUUID().slice(0, 8)}`, password: `pw-${randomUUID()}`, entity: 'default', webhookSecret: `hook-${randomUUID()}` };
  await wp('POST', 'merchants', { ...account, notificationUrl: `${worker.url}/v1/webhooks/worldpay/${m.id}` });
  const r = await api('PUT', '/v1/merchants/me/providers/worldpay', {
    key: m.secret_key, body: { username: account.username, password: account.password, entity: account.entity, webhook_secret: account.webhookSecret },
  });
  assert.equal(r.status, 200, r.text);
  await api('PATCH', '/v1/merchants/me', { key: m.secret_key, body: { allowed_origins: ['https://shop.example'] } });
  return tracked(Object.assign(m, { account }));
}
const wpConfirm = (m, pi) => api('POST', `/v1/payment_intents/${pi.id}/confirm`, {
  key: m.publishable_key, body: { client_secret: pi.client_secret, return_url: 'https://shop.example/return' },
});
/** Intent → hosted page (confirm) → card and 3-D Secure at the stand-in: reserved. */
async function wpReserved(m, amount) {
  const pi = (await api('POST', '/v1/payment_intents', {
    key: m.secret_key, body: { amount, currency: 'EUR', provider: 'worldpay', capture_method: 'manual' }, idem: randomUUID(),
  })).json;
  const c = await wpConfirm(m, pi);
  assert.equal(c.json?.next_action?.type, 'redirect', c.text);
  await wp('POST', 'complete', { url: c.json.next_action.url });
  const x = await until(m, pi, (i) => i.status === 'requires_capture');
  assert.equal(x.status, 'requires_capture');
  return pi;
}
const wpPayments = async (pi) => (await wp('GET', 'payments')).data.filter((p) => p.transactionReference === pi.provider_reference
  || p.paymentId === pi.provider_reference);

/** Ours equal to the Worldpay stand-in's payment: one payment, settled and refunded sums. */
async function checkWorldpay(m, pi, status) {
  const x = await ours(m, pi);
  assert.equal(x.status, status, JSON.stringify(x));
  const all = (await wp('GET', 'payments')).data.filter((p) => p.paymentId === x.provider_reference);
  assert.equal(all.length, 1, `Worldpay payments for ${pi.id}: ${all.length}`);
  const p = all[0];
  assert.equal(cents(x.amount_received), p.settledValue?.amount ?? 0, 'settled: ours = Worldpay');
  assert.equal(cents(x.amount_refunded), p.refundedValue?.amount ?? 0, 'refunded: ours = Worldpay');
  assert.equal(p.pendingRefunds.length, 0, 'no refund left pending at Worldpay');
  return { x, p };
}
const wpFault = (f) => wp('POST', 'faults', f);

const WORLDPAY_OPS = {
  async page(m, f) {
    const pi = (await api('POST', '/v1/payment_intents', {
      key: m.secret_key, body: { amount: '45.00', currency: 'EUR', provider: 'worldpay', capture_method: 'manual' }, idem: randomUUID(),
    })).json;
    await wpFault({ method: 'POST', path_prefix: '/payment_pages', ...f });
    let c = await wpConfirm(m, pi);
    // No page to go to: the customer presses Pay again.
    for (let i = 0; i < 3 && c.json?.next_action?.type !== 'redirect'; i++) {
      await sleep(500);
      c = await wpConfirm(m, pi);
    }
    assert.equal(c.json?.next_action?.type, 'redirect', c.text);
    await wp('POST', 'complete', { url: c.json.next_action.url });
    await until(m, pi, (i) => i.status === 'requires_capture');
    const { p } = await checkWorldpay(m, pi, 'requires_capture');
    assert.equal(p.lastEvent, 'Authorized');
  },
  async capture(m, f) {
    const pi = await wpReserved(m, '300.00');
    await wpFault({ method: 'POST', path_suffix: '/partialSettlements', ...f });
    await api('POST', `/v1/payment_intents/${pi.id}/capture`, { key: m.secret_key, body: { amount: '247.35' } });
    let x = await until(m, pi, (i) => i.status !== 'requires_capture', 6000);
    if (x.status === 'requires_capture') {
      await api('POST', `/v1/payment_intents/${pi.id}/capture`, { key: m.secret_key, body: { amount: '247.35' } });
      x = await until(m, pi, (i) => i.status !== 'requires_capture');
    }
    const { p } = await checkWorldpay(m, pi, 'succeeded');
    assert.equal(p.settledValue.amount, 24735);
  },
  async cancel(m, f) {
    const pi = await wpReserved(m, '70.00');
    await wpFault({ method: 'POST', path_suffix: '/cancellations', ...f });
    await api('POST', `/v1/payment_intents/${pi.id}/cancel`, { key: m.secret_key, body: {} });
    let x = await until(m, pi, (i) => i.status !== 'requires_capture', 6000);
    if (x.status === 'requires_capture') {
      await api('POST', `/v1/payment_intents/${pi.id}/cancel`, { key: m.secret_key, body: {} });
      x = await until(m, pi, (i) => i.status !== 'requires_capture');
    }
    const { p } = await checkWorldpay(m, pi, 'canceled');
    assert.equal(p.lastEvent, 'Cancelled');
  },
  async refund(m, f) {
    const pi = await wpReserved(m, '120.00');
    const cap = await api('POST', `/v1/payment_intents/${pi.id}/capture`, { key: m.secret_key, body: {} });
    assert.equal(cap.json.status, 'succeeded', cap.text);
    await wpFault({ method: 'POST', path_suffix: '/partialRefunds', ...f });
    const r = await api('POST', '/v1/refunds', { key: m.secret_key, body: { payment_intent: pi.id, amount: '20.00' }, idem: randomUUID() });
    let refund = r.json?.id ? r.json : null;
    const settle = async () => {
      for (let i = 0; i < 100 && refund?.status === 'pending'; i++) {
        await wp('POST', 'refund-batch');
        await sleep(150);
        refund = (await api('GET', `/v1/refunds/${refund.id}`, { key: m.secret_key })).json;
      }
    };
    await settle();
    if (!refund || refund.status === 'failed') {
      refund = (await api('POST', '/v1/refunds', { key: m.secret_key, body: { payment_intent: pi.id, amount: '20.00' }, idem: randomUUID() })).json;
      await settle();
    }
    assert.equal(refund.status, 'succeeded', JSON.stringify(refund));
    await until(m, pi, (i) => i.amount_refunded === '20.00');
    const { p } = await checkWorldpay(m, pi, 'succeeded');
    assert.equal(p.refundedValue.amount, 2000);
  },
};

for (const [op, run] of Object.entries(WORLDPAY_OPS)) {
  for (const [name, f] of Object.entries(STANDIN_FAULTS)) {
    caseTest(`Worldpay ${op} × ${name}: our intent and ledger end equal to Worldpay's, one payment, no double refund`, async () => {
      try { await run(await worldpayMerchant(), f); } finally { await clearAll(); }
    });
  }
}

async function cashcloudMerchant() {
  const m = await newMerchant(undefined, { default_currency: 'EUR' });
  const account = { username: `shop-${randomUUID().slice(0, 8)}@example.com`, password: `pw-${randomUUID()}`, apiPassword: `api-${randomUUID()}` };
  await cc('POST', 'merchants', { ...account, name: 'Faults shop' });
  const r = await api('PUT', '/v1/merchants/me/providers/cashcloud', {
    key: m.secret_key, body: { username: account.username, password: account.password, api_password: account.apiPassword, plan: 'corporate_plus' },
  });
  assert.equal(r.status, 200, r.text);
  return tracked(m);
}
const ccConfirm = (m, pi) => api('POST', `/v1/payment_intents/${pi.id}/confirm`, {
  key: m.publishable_key, body: { client_secret: pi.client_secret, cashcloud_username: 'alice@example.com' },
});
const ccTxs = async () => (await cc('GET', 'transactions')).data;

/** Ours equal to Cashcloud's: one accepted request for the intent, its completed refunds. */
async function checkCashcloud(m, pi, status) {
  const x = await ours(m, pi);
  assert.equal(x.status, status, JSON.stringify(x));
  const txs = await ccTxs();
  const requests = txs.filter((t) => t.type === 'request' && t.extern?.id === pi.id);
  const paid = requests.filter((t) => [2, 3, 8].includes(t.transaction_state_id));
  assert.equal(paid.length, status === 'succeeded' ? 1 : 0, `accepted Cashcloud requests for ${pi.id}: ${paid.length}`);
  const received = paid.reduce((a, t) => a + t.amount, 0);
  assert.equal(cents(x.amount_received), received, 'received: ours = Cashcloud');
  const refunds = txs.filter((t) => t.type === 'refund' && paid.some((p) => p.hash === t.original_hash));
  const refunded = refunds.filter((t) => [2, 3].includes(t.transaction_state_id)).reduce((a, t) => a + t.amount, 0);
  assert.equal(cents(x.amount_refunded), refunded, 'refunded: ours = Cashcloud');
  return { x, requests, refunds };
}
const ccFault = (f) => cc('POST', 'faults', f);

async function ccPaid(m, amount) {
  const pi = (await api('POST', '/v1/payment_intents', { key: m.secret_key, body: { amount, currency: 'EUR', provider: 'cashcloud' }, idem: randomUUID() })).json;
  const c = await ccConfirm(m, pi);
  assert.equal(c.json.status, 'processing', c.text);
  await cc('POST', 'approve', { hash: c.json.provider_reference, pin: '1234' });
  const x = await until(m, pi, (i) => i.status === 'succeeded');
  assert.equal(x.status, 'succeeded');
  return pi;
}

const CASHCLOUD_OPS = {
  async request(m, f) {
    const pi = (await api('POST', '/v1/payment_intents', { key: m.secret_key, body: { amount: '9.40', currency: 'EUR', provider: 'cashcloud' }, idem: randomUUID() })).json;
    await ccFault({ method: 'POST', path_prefix: '/request', path_suffix: '/request', ...f });
    const c = await ccConfirm(m, pi);
    const requestsOf = async () => (await ccTxs()).filter((t) => t.type === 'request' && t.extern?.id === pi.id);
    // The confirm's call is over: a request Cashcloud took is in the wallet now.
    let mine = await requestsOf();
    assert.ok(mine.length <= 1, `${mine.length} wallet requests for one intent (confirm said ${c.status})`);
    if (mine.length === 0) {
      // Nothing reached Cashcloud. Told so (a refusal), the customer may pay again at
      // once; not told (no answer, a 5xx), the Worker cannot know — Cashcloud has no
      // idempotency key and no list — so the intent waits, and Pay sends no second
      // request, until a request would have expired.
      let x = (await read(m, pi)).json;
      if (x.status === 'processing') {
        await ccConfirm(m, pi);
        assert.equal((await requestsOf()).length, 0, 'a confirm while the request is unknown sends none');
        x = await until(m, pi, (i) => i.status !== 'processing', (CC_EXPIRATION_S + 10) * 1000);
      }
      assert.equal(x.status, 'requires_payment_method', JSON.stringify(x));
      await checkCashcloud(m, pi, 'requires_payment_method');
      await ccConfirm(m, pi); // the customer presses Pay again
      mine = await requestsOf();
      assert.equal(mine.length, 1, `wallet requests after paying again: ${mine.length}`);
    }
    // The one request at Cashcloud is approved in the wallet; its callback tells the
    // Worker, which adopts it when the answer with its hash was lost.
    await cc('POST', 'approve', { hash: mine[0].hash, pin: '1234' });
    const x = await until(m, pi, (i) => i.status === 'succeeded');
    assert.equal(x.status, 'succeeded', JSON.stringify(x));
    await checkCashcloud(m, pi, 'succeeded');
  },
  async refund(m, f) {
    const pi = await ccPaid(m, '15.00');
    await ccFault({ method: 'POST', path_prefix: '/refund', path_suffix: '/refund', ...f });
    const r = await api('POST', '/v1/refunds', { key: m.secret_key, body: { payment_intent: pi.id, amount: '5.00' }, idem: randomUUID() });
    let refund = r.json?.id ? r.json : null;
    const approveAll = async () => {
      for (const t of (await ccTxs()).filter((t) => t.type === 'refund' && t.transaction_state_id === 1)) {
        await cc('POST', 'approve', { hash: t.hash, pin: '1234' }).catch(() => {});
      }
    };
    const settle = async () => {
      for (let i = 0; i < 120 && refund?.status === 'pending'; i++) {
        await approveAll();
        await sleep(150);
        refund = (await api('GET', `/v1/refunds/${refund.id}`, { key: m.secret_key })).json;
      }
    };
    await settle();
    if (!refund || refund.status === 'failed') {
      refund = (await api('POST', '/v1/refunds', { key: m.secret_key, body: { payment_intent: pi.id, amount: '5.00' }, idem: randomUUID() })).json;
      await settle();
    }
    assert.equal(refund.status, 'succeeded', JSON.stringify(refund));
    await until(m, pi, (i) => i.amount_refunded === '5.00');
    const { refunds } = await checkCashcloud(m, pi, 'succeeded');
    assert.equal(refunds.length, 1, `Cashcloud refunds: ${refunds.length}`);
  },
};

for (const [op, run] of Object.entries(CASHCLOUD_OPS)) {
  for (const [name, f] of Object.entries(STANDIN_FAULTS)) {
    caseTest(`Cashcloud ${op} × ${name}: our intent and ledger end equal to Cashcloud's, one request, no double refund`, async () => {
      try { await run(await cashcloudMerchant(), f); } finally { await clearAll(); }
    });
  }
}

// --- Webhooks: duplicated, reordered, delayed by hours ----------------------------------
// Each provider's change is made behind our back (as in its dashboard), so only its
// event tells us; the event arrives hours late, then again, then an older one after it.
const HOURS = 3600 * 1000;
const post = (url, headers, body) => fetch(url, { method: 'POST', headers, body });

caseTest('Stripe webhooks × delayed by hours, duplicated, reordered: applied once, never backwards, ours = Stripe', async () => {
  const m = tracked(await stripeMerchant());
  const since = await lastSeq();
  const pi = await stripeHeld(m, '33.00');
  const ref = (await read(m, pi)).json.provider_reference;
  const captured = await stripe('POST', `/v1/payment_intents/${ref}/capture`, {});
  assert.equal(captured.status, 'succeeded');
  const secret = STRIPE_TEST_ACCOUNT.webhook_secret;
  // Stripe signs each delivery when it sends it: a late event carries an old `created`
  // and a fresh signature.
  const deliver = async (type, object, createdMs) => {
    const body = JSON.stringify({ id: `evt_${randomUUID().slice(0, 12)}`, object: 'event', type, created: Math.floor(createdMs / 1000), data: { object } });
    const send = async () => {
      const t = Math.floor(Date.now() / 1000);
      const sig = `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
      const r = await post(`${worker.url}/v1/webhooks/stripe/${m.id}`, { 'content-type': 'application/json', 'stripe-signature': sig }, body);
      assert.equal(r.status, 200, await r.clone().text());
      return (await r.json()).outcome;
    };
    return { send };
  };
  const late = await deliver('payment_intent.succeeded', captured, Date.now() - 3 * HOURS);
  assert.equal(await late.send(), 'applied', '3 hours late: still applied');
  assert.equal(await late.send(), 'duplicate', 'the same event again');
  const older = await deliver('payment_intent.amount_capturable_updated', { ...captured, status: 'requires_capture', amount_received: 0 }, Date.now() - 4 * HOURS);
  assert.equal(await older.send(), 'ignored', 'an older state after a newer one');
  await checkStripe(m, pi, since, { status: 'succeeded' });
});

caseTest('Worldpay webhooks × delayed by hours, duplicated, reordered: applied once, never backwards, ours = Worldpay', async () => {
  const m = await worldpayMerchant();
  const pi = await wpReserved(m, '64.00');
  const x = (await read(m, pi)).json;
  const basic = `Basic ${Buffer.from(`${m.account.username}:${m.account.password}`).toString('base64')}`;
  // Its own notification of the settlement goes nowhere: only ours, late, will arrive.
  await wp('POST', 'merchants', { ...m.account, notificationUrl: 'http://127.0.0.1:9/' });
  const settle = await fetch(`${WP}/api/payments/${x.provider_reference}/settlements`, {
    method: 'POST', headers: { authorization: basic, 'wp-api-version': '2024-06-01' },
  });
  assert.ok([200, 202].includes(settle.status), await settle.text());
  const event = (type, agoMs) => JSON.stringify({
    eventId: randomUUID(), eventTimestamp: new Date(Date.now() - agoMs).toISOString(),
    eventDetails: { classification: 'payment', transactionReference: pi.id, type, paymentId: x.provider_reference, amount: { value: 6400, currencyCode: 'EUR' } },
  });
  const send = async (body) => {
    const sig = `1/SHA256/${createHmac('sha256', m.account.webhookSecret).update(body).digest('hex')}`;
    const r = await post(`${worker.url}/v1/webhooks/worldpay/${m.id}`, { 'content-type': 'application/json', 'event-signature': sig }, body);
    assert.equal(r.status, 200, await r.clone().text());
    return (await r.json()).outcome;
  };
  const late = event('SentForSettlement', 3 * HOURS);
  assert.equal(await send(late), 'applied', '3 hours late: still applied');
  assert.equal(await send(late), 'duplicate');
  assert.notEqual(await send(event('Authorized', 4 * HOURS)), 'applied', 'an older Authorized after the settlement');
  await checkWorldpay(m, pi, 'succeeded');
});

caseTest('Cashcloud callbacks × delayed by hours, duplicated, reordered: a stale one refused, the rest change nothing, ours = Cashcloud', async () => {
  const m = await cashcloudMerchant();
  const pi = await ccPaid(m, '12.00');
  const hash = (await read(m, pi)).json.provider_reference;
  const real = (await cc('GET', 'callbacks')).data.filter((d) => d.fields.hash === hash && d.fields.status === '3');
  assert.equal(real.length, 1, 'the completion was called back once');
  const before = (await read(m, pi)).text;
  const resend = (fields) => cc('POST', 'send-callback', { hash, method: fields.method, status: fields.status, time: fields.time });
  // Cashcloud signs the time it sends: hours late is stale (refused; its state is read from the API anyway).
  const stale = await resend({ method: 'request', status: '3', time: String(Math.floor((Date.now() - 3 * HOURS) / 1000)) });
  assert.equal(stale.response_status, 400, 'a callback signed 3 hours ago is refused');
  const dup = await resend(real[0].fields);
  assert.equal(dup.response_status, 200, 'the same callback again is accepted and changes nothing');
  const older = await resend({ method: 'request', status: '1' });
  assert.equal(older.response_status, 200);
  assert.equal((await read(m, pi)).text, before, 'nothing moved');
  await checkCashcloud(m, pi, 'succeeded');
});

// --- Reconciliation -------------------------------------------------------------------------
// The merchant object compares its ledger with each provider's record of the payments a
// day touched (edge-worker/src/reconcile.rs). Differences planted behind our back must be
// found, and, after every fault case above, nothing may differ.
const reconcile = (m, body = {}, key = m.secret_key) => api('POST', '/v1/reconciliations', { key, body });
const utcDay = (ms = Date.now()) => new Date(ms).toISOString().slice(0, 10);

caseTest('reconciliation finds what changed behind our back, as events the merchant and the admin read; bad input changes nothing', async () => {
  // Stripe: 247.35 captured of 300.00, 20.00 refunded through us, 5.00 more at Stripe's dashboard.
  const m = await stripeMerchant();
  const pi = await stripeHeld(m, '300.00');
  assert.equal((await api('POST', `/v1/payment_intents/${pi.id}/capture`, { key: m.secret_key, body: { amount: '247.35' } })).status, 200);
  const ours20 = await api('POST', '/v1/refunds', { key: m.secret_key, body: { payment_intent: pi.id, amount: '20.00' }, idem: randomUUID() });
  assert.equal(ours20.json?.status, 'succeeded', ours20.text);
  const clean = await reconcile(m);
  assert.equal(clean.status, 200, clean.text);
  assert.deepEqual(clean.json.mismatches, [], clean.text);
  assert.equal(clean.json.checked, 1);
  const ref = (await read(m, pi)).json.provider_reference;
  const behind = await stripe('POST', '/v1/refunds', { payment_intent: ref, amount: '500' });
  assert.equal(behind.status, 'succeeded', JSON.stringify(behind));
  const found = await reconcile(m);
  assert.equal(found.status, 200, found.text);
  assert.equal(found.json.day, utcDay());
  assert.deepEqual(found.json.mismatches, [{
    object: 'reconciliation.mismatch', reconciliation: found.json.id, provider: 'stripe', kind: 'amount_differs',
    payment_intent: pi.id, provider_reference: ref, field: 'refunded', currency: 'CHF', ours: '20.00', theirs: '25.00',
  }]);
  // Nothing was repaired: our books still say 20.00, for a person to decide.
  assert.equal((await read(m, pi)).json.amount_refunded, '20.00');
  const events = await api('GET', '/v1/events?type=reconciliation.mismatch', { key: m.secret_key });
  assert.equal(events.status, 200, events.text);
  assert.equal(events.json.data.length, 1, events.text);
  assert.deepEqual(events.json.data[0].data.object, found.json.mismatches[0]);
  const one = await api('GET', `/v1/reconciliations/${found.json.id}`, { key: m.secret_key });
  assert.deepEqual(one.json, found.json);
  const admin = await api('GET', `/v1/merchants/${m.id}/reconciliations`, { key: process.env.ADMIN_TOKEN });
  assert.equal(admin.status, 200, admin.text);
  assert.deepEqual(admin.json.data.map((r) => r.id), [found.json.id, clean.json.id]);
  const mismatchEvents = async () => (await api('GET', '/v1/events?type=reconciliation.mismatch&limit=100', { key: m.secret_key })).json.data.length;

  // A second charge at Stripe for the same order (made outside the Worker, naming our
  // intent in its metadata as ours do): Stripe's list of the day's PaymentIntents shows it.
  const second = await stripe('POST', '/v1/payment_intents', {
    amount: '1500', currency: 'chf', 'metadata[our_intent_id]': pi.id,
    payment_method: await paymentMethod('4242424242424242'), confirm: 'true',
  });
  assert.equal(second.status, 'succeeded', JSON.stringify(second));
  const twice = await reconcile(m);
  assert.deepEqual(twice.json.mismatches.map((x) => [x.kind, x.payment_intent, x.provider_reference, x.ours, x.theirs]), [
    ['amount_differs', pi.id, ref, '20.00', '25.00'],
    ['unknown_to_us', pi.id, second.id, null, '15.00'],
  ], twice.text);

  // Worldpay: a reservation settled at Worldpay without telling us (its notification lost).
  const w = await worldpayMerchant();
  merchants.pop(); // differs on purpose: not one of the clean merchants
  const wpi = await wpReserved(w, '64.00');
  const wref = (await read(w, wpi)).json.provider_reference;
  await wp('POST', 'merchants', { ...w.account, notificationUrl: 'http://127.0.0.1:9/' });
  const basic = `Basic ${Buffer.from(`${w.account.username}:${w.account.password}`).toString('base64')}`;
  const settle = await fetch(`${WP}/api/payments/${wref}/settlements`, { method: 'POST', headers: { authorization: basic, 'wp-api-version': '2024-06-01' } });
  assert.ok([200, 202].includes(settle.status), await settle.text());
  const wfound = await reconcile(w);
  assert.deepEqual(wfound.json.mismatches.map((x) => [x.kind, x.field, x.ours, x.theirs]),
    [['amount_differs', 'capturable', '64.00', '0.00'], ['amount_differs', 'captured', '0.00', '64.00']], wfound.text);

  // Bad input: refused in the error shape, no run kept.
  for (const [body, key, status] of [
    [{ day: '2026-13-01' }, m.secret_key, 400], [{ day: utcDay(Date.now() + 2 * 86400e3) }, m.secret_key, 400],
    [{ days: utcDay() }, m.secret_key, 400], ['{"day":', m.secret_key, 400], [{}, m.publishable_key, 403],
  ]) {
    const r = await reconcile(m, body, key);
    errorOf(assert, r, status);
  }
  assert.equal((await api('GET', `/v1/reconciliations/${found.json.id}`, { key: w.secret_key })).status, 404, "another merchant's run");
  assert.equal((await api('GET', '/v1/reconciliations', { key: m.secret_key })).json.data.length, 3, 'no run kept for bad input');
  assert.equal(await mismatchEvents(), 3, 'one event per difference found: 1 + 2');

  // The daily run: the object's alarm reconciles each day an hour after it ends (the
  // test clock stands in for the night), once per day.
  const adv = await api('POST', '/v1/test_helpers/advance_clock', { key: m.secret_key, body: { seconds: 26 * 3600 } });
  assert.equal(adv.status, 200, adv.text);
  const runs = (await api('GET', '/v1/reconciliations?limit=100', { key: m.secret_key })).json.data;
  const daily = runs.filter((r) => r.day === utcDay() && ![clean.json.id, found.json.id, twice.json.id].includes(r.id));
  assert.equal(daily.length, 1, JSON.stringify(runs));
  assert.deepEqual(daily[0].mismatches.map((x) => [x.kind, x.provider_reference]), [['amount_differs', ref], ['unknown_to_us', second.id]]);
  await api('POST', '/v1/test_helpers/advance_clock', { key: m.secret_key, body: { seconds: 3600 } });
  const again = (await api('GET', '/v1/reconciliations?limit=100', { key: m.secret_key })).json.data;
  assert.equal(again.filter((r) => r.day === utcDay()).length, 4, 'no second daily run of the same day');
});

caseTest('afterwards, a reconciliation of every merchant of the fault cases finds nothing: ledger = the providers\' records', async () => {
  if (ONLY && !merchants.length) return; // FAULTS_ONLY chose no fault case
  assert.ok(merchants.length > 0);
  let checked = 0;
  let inFlight = 0;
  for (const m of merchants) {
    const r = await reconcile(m);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.unreadable, [], `${m.id}: ${r.text}`);
    assert.deepEqual(r.json.mismatches, [], `${m.id}: ${r.text}`);
    checked += r.json.checked;
    inFlight += r.json.in_flight;
  }
  console.log(`# reconciliation after the fault cases: ${merchants.length} merchants, ${checked} payments compared, ${inFlight} still in flight, 0 mismatches`);
  assert.ok(checked >= merchants.length, `${checked} payments compared`);
});
