// Worldpay through the Worker against the Worldpay stand-in (tests/worldpay): the hosted
// page reserves, the merchant captures on shipment, signed event notifications move the
// intent; and the hosted-page round trip from the widget in Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID, createHmac } from 'node:crypto';
import { api, errorOf, newMerchant, serveOrigin, launchBrowser, WORKER } from './lib.mjs';

const WP = process.env.WORLDPAY_URL;
let shop;

async function standin(method, path, body) {
  const r = await fetch(`${WP}/_standin/${path}`, {
    method, headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined,
  });
  return r.json();
}

/** A merchant with Worldpay set up, its notifications pointed at our webhook. */
async function worldpayMerchant() {
  const m = await newMerchant(undefined, { default_currency: 'EUR' });
  const account = { username: `wp-${randomUUID().slice(0, 8)}`, password: `pw-${randomUUID()}`, entity: 'default', webhookSecret: `hook-${randomUUID()}` };
  await standin('POST', 'merchants', { ...account, notificationUrl: `${WORKER}/v1/webhooks/worldpay/${m.id}` });
  const r = await api('PUT', '/v1/merchants/me/providers/worldpay', {
    key: m.secret_key,
    body: { username: account.username, password: account.password, entity: account.entity, webhook_secret: account.webhookSecret },
  });
  assert.equal(r.status, 200, r.text);
  await api('PATCH', '/v1/merchants/me', { key: m.secret_key, body: { allowed_origins: [shop.origin] } });
  return { ...m, account };
}

const read = async (m, pi) => (await api('GET', `/v1/payment_intents/${pi.id}`, { key: m.secret_key })).json;

async function until(m, pi, pred) {
  let now;
  for (let i = 0; i < 40; i++) {
    now = await read(m, pi);
    if (pred(now)) return now;
    await new Promise((r) => setTimeout(r, 100));
  }
  return now;
}

/** Intent → hosted page → card → 3DS: the amount is reserved. */
async function reserved(m, amount = '120.00', card = '4444333322221111', threeDS = 'pass') {
  const pi = (await api('POST', '/v1/payment_intents', {
    key: m.secret_key, body: { amount, currency: 'EUR', provider: 'worldpay', capture_method: 'manual', order_reference: 'MAMUT-42' }, idem: randomUUID(),
  })).json;
  const c = await api('POST', `/v1/payment_intents/${pi.id}/confirm`, {
    key: m.publishable_key, body: { client_secret: pi.client_secret, return_url: `${shop.origin}/return?order=42` },
  });
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json.status, 'requires_action');
  assert.equal(c.json.next_action.type, 'redirect');
  const done = await standin('POST', 'complete', { url: c.json.next_action.url, card, threeDS });
  return { pi, done };
}

before(async () => {
  shop = await serveOrigin({ '/return': 'back at the shop' });
});
after(async () => { await shop?.close(); });

test('reserve, then capture all when the goods ship; the intent carries Worldpay\'s transaction number', async () => {
  const m = await worldpayMerchant();
  const { pi, done } = await reserved(m);
  const held = await until(m, pi, (x) => x.status === 'requires_capture');
  assert.equal(held.status, 'requires_capture');
  assert.equal(held.amount_capturable, '120.00');
  assert.equal(held.provider_reference, done.paymentId);
  const cap = await api('POST', `/v1/payment_intents/${pi.id}/capture`, { key: m.secret_key, body: {} });
  assert.equal(cap.status, 200, cap.text);
  assert.equal(cap.json.status, 'succeeded');
  assert.equal(cap.json.amount_received, '120.00');
});

test('reserve, capture less: the rest is released', async () => {
  const m = await worldpayMerchant();
  const { pi } = await reserved(m, '300.00');
  await until(m, pi, (x) => x.status === 'requires_capture');
  const cap = await api('POST', `/v1/payment_intents/${pi.id}/capture`, { key: m.secret_key, body: { amount: '247.35' } });
  assert.equal(cap.status, 200, cap.text);
  assert.equal(cap.json.amount_received, '247.35');
  assert.equal(cap.json.amount_capturable, '0.00');
  errorOf(assert, await api('POST', `/v1/payment_intents/${pi.id}/capture`, { key: m.secret_key, body: {} }), 400);
});

test('reserve, then cancel', async () => {
  const m = await worldpayMerchant();
  const { pi } = await reserved(m);
  await until(m, pi, (x) => x.status === 'requires_capture');
  const c = await api('POST', `/v1/payment_intents/${pi.id}/cancel`, { key: m.secret_key, body: {} });
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json.status, 'canceled');
});

test('partial refund: pending until Worldpay refunds, then on the intent', async () => {
  const m = await worldpayMerchant();
  const { pi, done } = await reserved(m, '80.00');
  await until(m, pi, (x) => x.status === 'requires_capture');
  await api('POST', `/v1/payment_intents/${pi.id}/capture`, { key: m.secret_key, body: {} });
  const r = await api('POST', '/v1/refunds', { key: m.secret_key, body: { payment_intent: pi.id, amount: '30.00' }, idem: randomUUID() });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'pending');
  errorOf(assert, await api('POST', '/v1/refunds', { key: m.secret_key, body: { payment_intent: pi.id, amount: '50.01' } }), 400);
  await standin('POST', 'settle-batch');
  await standin('POST', 'refund-batch');
  const after = await until(m, pi, (x) => x.amount_refunded === '30.00');
  assert.equal(after.amount_refunded, '30.00');
  assert.equal(after.provider_reference, done.paymentId);
});

test('a refused card, and a failed 3-D Secure, leave requires_payment_method with the reason', async () => {
  const m = await worldpayMerchant();
  const { pi } = await reserved(m, '20.00', '4000000000000002');
  const refused = await until(m, pi, (x) => x.status !== 'requires_action');
  assert.equal(refused.status, 'requires_payment_method');
  assert.match(refused.last_error.message, /refused/i);
  const { pi: pi2 } = await reserved(m, '20.00', '4444333322221111', 'fail');
  assert.equal((await until(m, pi2, (x) => x.status !== 'requires_action')).status, 'requires_payment_method');
});

test('an Expired event cancels the reservation', async () => {
  const m = await worldpayMerchant();
  const { pi, done } = await reserved(m);
  await until(m, pi, (x) => x.status === 'requires_capture');
  await standin('POST', 'expire', { paymentId: done.paymentId });
  assert.equal((await until(m, pi, (x) => x.status === 'canceled')).status, 'canceled');
});

test('signatures: forged and unknown keyId refused; several in another order accepted; duplicates and out-of-order change nothing', async () => {
  const m = await worldpayMerchant();
  const { pi, done } = await reserved(m);
  const held = await until(m, pi, (x) => x.status === 'requires_capture');
  const before = JSON.stringify(held);
  const body = JSON.stringify({
    eventId: randomUUID(), eventTimestamp: new Date().toISOString(),
    eventDetails: { classification: 'payment', transactionReference: pi.id, type: 'Cancelled', paymentId: done.paymentId, amount: { value: 12000, currencyCode: 'EUR' } },
  });
  const sig = (keyId, secret) => `${keyId}/SHA256/${createHmac('sha256', secret).update(body).digest('hex')}`;
  const post = (signature) => fetch(`${WORKER}/v1/webhooks/worldpay/${m.id}`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...(signature ? { 'event-signature': signature } : {}) }, body,
  });
  for (const bad of [sig('1', 'not-the-secret'), sig('7', m.account.webhookSecret), undefined]) {
    const r = await post(bad);
    assert.equal(r.status, 400, `${bad}: ${r.status}`);
    assert.equal(JSON.stringify(await read(m, pi)), before, 'nothing changed');
  }
  // Ours second, after another key's entry: accepted.
  const late = await post(`${sig('9', 'another-secret')},${sig('1', m.account.webhookSecret)}`);
  assert.equal(late.status, 200);
  const canceled = await read(m, pi);
  assert.equal(canceled.status, 'canceled');
  const dup = await post(sig('1', m.account.webhookSecret));
  assert.equal((await dup.json()).outcome, 'duplicate');
  // An older Authorized arriving after the cancellation changes nothing.
  const old = await standin('POST', 'notify', { paymentId: done.paymentId, type: 'Authorized' });
  assert.ok(old);
  assert.equal((await read(m, pi)).status, 'canceled');
});

test("another attempt's paid page is superseded: the intent keeps the payment that holds its money, and the other hold is released", async () => {
  const m = await worldpayMerchant();
  const { pi, done } = await reserved(m, '40.00');
  const held = await until(m, pi, (x) => x.status === 'requires_capture');
  assert.equal(held.provider_reference, done.paymentId);
  // A second hosted page for the same intent (an earlier attempt's page left open in
  // another tab, say), paid as well: Worldpay holds a second 40.00.
  const HPP = 'application/vnd.worldpay.payment_pages-v1.hal+json';
  const page = await (await fetch(`${WP}/payment_pages`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${m.account.username}:${m.account.password}`).toString('base64')}`, 'content-type': HPP, accept: HPP },
    body: JSON.stringify({ transactionReference: pi.id, merchant: { entity: 'default' }, narrative: { line1: 'MAMUT-42' },
      value: { amount: 4000, currency: 'EUR' }, resultURLs: { successURL: `${shop.origin}/ok`, failureURL: `${shop.origin}/no` }, settlement: { auto: false } }),
  })).json();
  const second = await standin('POST', 'complete', { url: page.url, card: '4444333322221111', threeDS: 'pass' });
  assert.notEqual(second.paymentId, done.paymentId);
  // Its Authorized notification reaches the Worker, which releases that hold.
  let other;
  for (let i = 0; i < 40; i++) {
    other = (await standin('GET', 'payments')).data.find((x) => x.paymentId === second.paymentId);
    if (other?.lastEvent === 'Cancelled') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(other.lastEvent, 'Cancelled', JSON.stringify(other));
  const after = await read(m, pi);
  assert.equal(after.status, 'requires_capture');
  assert.equal(after.provider_reference, done.paymentId, 'still the first payment');
  assert.equal(after.amount_capturable, '40.00');
  // Capture goes to the payment that holds the money.
  const cap = await api('POST', `/v1/payment_intents/${pi.id}/capture`, { key: m.secret_key, body: {} });
  assert.equal(cap.status, 200, cap.text);
  const first = (await standin('GET', 'payments')).data.find((x) => x.paymentId === done.paymentId);
  assert.notEqual(first.lastEvent, 'Cancelled');
});

test('widget: the customer goes to the hosted page, pays, comes back, and the page sees the reservation', async () => {
  const m = await newMerchant(undefined, { default_currency: 'EUR' });
  const account = { username: `wp-${randomUUID().slice(0, 8)}`, password: `pw-${randomUUID()}`, entity: 'default', webhookSecret: `hook-${randomUUID()}` };
  await standin('POST', 'merchants', { ...account, notificationUrl: `${WORKER}/v1/webhooks/worldpay/${m.id}` });
  await api('PUT', '/v1/merchants/me/providers/worldpay', {
    key: m.secret_key, body: { username: account.username, password: account.password, entity: 'default', webhook_secret: account.webhookSecret },
  });
  const page = (cs) => `<!doctype html><html lang="en"><title>Mamut shop</title><main><div id="checkout"></div></main>
<script>window.events = []; for (const t of ['checkout:ready','checkout:requires_capture','checkout:failed']) document.addEventListener(t, (e) => events.push(t));</script>
<script src="${WORKER}/v1/checkout.js" data-publishable-key="${m.publishable_key}" data-client-secret="${cs}" data-target="#checkout" async></script>`;
  const site = await serveOrigin({ '/checkout': (req) => page(new URL(req.url, 'http://x').searchParams.get('cs')) });
  await api('PATCH', '/v1/merchants/me', { key: m.secret_key, body: { allowed_origins: [site.origin] } });
  const browser = await launchBrowser();
  try {
    const pi = (await api('POST', '/v1/payment_intents', {
      key: m.secret_key, body: { amount: '59.00', currency: 'EUR', provider: 'worldpay', capture_method: 'manual' },
    })).json;
    const tab = await (await browser.newContext({ locale: 'en-GB' })).newPage();
    await tab.goto(`${site.origin}/checkout?cs=${encodeURIComponent(pi.client_secret)}`);
    await tab.getByRole('button', { name: /with Worldpay/ }).click();
    await tab.waitForURL(`${WP}/hpp/**`);
    await tab.getByLabel(/card number/i).fill('4444 3333 2222 1111');
    await tab.getByLabel(/expiry/i).fill('12/34');
    await tab.getByLabel(/CVC/i).fill('123');
    await tab.getByLabel(/cardholder/i).fill('Ada Customer');
    await tab.keyboard.press('Enter');
    await tab.getByRole('button', { name: 'Pass authentication' }).click();
    await tab.waitForURL(`${site.origin}/checkout?**`);
    await tab.waitForFunction(() => events.includes('checkout:requires_capture'), null, { timeout: 20000 });
    assert.match(await tab.getByRole('status').textContent(), /reserved/);
    assert.equal((await read(m, pi)).status, 'requires_capture');
  } finally {
    await browser.close();
    await site.close();
  }
});
