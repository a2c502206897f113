// Cashcloud wallet payments through the Worker against the Cashcloud stand-in
// (tests/cashcloud): money request, approval in the wallet app, hashed callbacks
// re-checked with the API, limits, refunds; and the widget in Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { api, errorOf, newMerchant, serveOrigin, launchBrowser, axeViolations, WORKER } from './lib.mjs';
import { control } from '../cashcloud/hashes.mjs';

const CC = process.env.CASHCLOUD_URL;

async function standin(method, path, body) {
  const r = await fetch(`${CC}/_standin/${path}`, {
    method, headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined,
  });
  return r.json();
}

/** A merchant with a Cashcloud account on `plan`, known to the stand-in too. */
async function cashcloudMerchant(plan = 'corporate') {
  const m = await newMerchant(undefined, { default_currency: 'EUR' });
  const account = {
    username: `shop-${randomUUID().slice(0, 8)}@example.com`, password: `pw-${randomUUID()}`, apiPassword: `api-${randomUUID()}`,
  };
  await standin('POST', 'merchants', { ...account, name: 'E2E shop' });
  const r = await api('PUT', '/v1/merchants/me/providers/cashcloud', {
    key: m.secret_key,
    body: { username: account.username, password: account.password, api_password: account.apiPassword, plan },
  });
  assert.equal(r.status, 200, r.text);
  return { ...m, account };
}

const create = (m, amount, extra = {}) => api('POST', '/v1/payment_intents', {
  key: m.secret_key, body: { amount, currency: 'EUR', provider: 'cashcloud', ...extra }, idem: randomUUID(),
});
const confirm = (m, pi, username = 'alice@example.com') => api('POST', `/v1/payment_intents/${pi.id}/confirm`, {
  key: m.publishable_key, body: { client_secret: pi.client_secret, cashcloud_username: username },
});
const read = (m, pi) => api('GET', `/v1/payment_intents/${pi.id}`, { key: m.secret_key });

async function requested(m, amount = '4.50') {
  const pi = await create(m, amount);
  assert.equal(pi.status, 200, pi.text);
  const c = await confirm(m, pi.json);
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json.status, 'processing');
  assert.equal(c.json.next_action.type, 'await_wallet_approval');
  assert.ok(c.json.next_action.expires_at > Date.now() / 1000);
  return c.json;
}

test('approve in the wallet: the callback prompts a re-check and the intent succeeds', async () => {
  const m = await cashcloudMerchant();
  const pi = await requested(m);
  const ok = await standin('POST', 'approve', { hash: pi.provider_reference, pin: '1234' });
  assert.ok(ok, 'approved');
  let now;
  for (let i = 0; i < 30; i++) {
    now = (await read(m, pi)).json;
    if (now.status !== 'processing') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(now.status, 'succeeded');
  assert.equal(now.amount_received, '4.50');
  assert.equal(now.next_action, null);
  // Cashcloud's fee on the Corporate plan: 1.5 % of 4.50 (0.0675 → 0.07) + 0.20; the
  // merchant keeps 4.50 − 0.27 − the platform's 0.50.
  assert.equal(now.provider_fee, '0.27');
  assert.equal(now.net, '3.73');
  const rows = (await api('GET', `/v1/balance_transactions?payment_intent=${pi.id}`, { key: m.secret_key })).json.data;
  assert.deepEqual(rows.filter((r) => r.type === 'provider_fee').map((r) => [r.amount, r.net]), [['0.27', '-0.27']]);
  // Read again (the callback and the read both re-check): the fee is written once.
  const again = (await read(m, pi)).json;
  assert.equal(again.provider_fee, '0.27');
  assert.equal((await api('GET', `/v1/balance_transactions?payment_intent=${pi.id}&type=provider_fee`, { key: m.secret_key })).json.data.length, 1);
});

test('declined in the wallet, and expired: back to requires_payment_method with the reason', async () => {
  const m = await cashcloudMerchant();
  const d = await requested(m);
  await standin('POST', 'decline', { hash: d.provider_reference });
  const declined = (await read(m, d)).json;
  assert.equal(declined.status, 'requires_payment_method');
  assert.match(declined.last_error.message, /declined/i);

  const e = await requested(m);
  await standin('POST', 'expire', { hash: e.provider_reference });
  const expired = (await read(m, e)).json;
  assert.equal(expired.status, 'requires_payment_method');
  assert.match(expired.last_error.message, /expired/i);
  // The customer may send a new request.
  const again = await confirm(m, e);
  assert.equal(again.json.status, 'processing', again.text);
});

test('limits: 0.19 € and 200.01 € on corporate refused, the sixth corporate transaction of a day refused', async () => {
  const m = await cashcloudMerchant('corporate');
  errorOf(assert, await create(m, '0.19'), 400, 'invalid_request_error');
  errorOf(assert, await create(m, '200.01'), 400, 'invalid_request_error');
  assert.equal((await create(m, '0.20')).status, 200);
  errorOf(assert, await create(m, '5.00', { capture_method: 'manual' }), 400);
  for (let i = 0; i < 5; i++) await requested(m, '1.00');
  const sixth = await create(m, '1.00');
  if (sixth.status === 200) {
    const e = errorOf(assert, await confirm(m, sixth.json), 400, 'invalid_request_error');
    assert.equal(e.code, 'daily_limit_exceeded');
  } else {
    assert.equal(sixth.json.error.code, 'daily_limit_exceeded');
  }
  // Corporate+ has no such caps.
  const plus = await cashcloudMerchant('corporate_plus');
  assert.equal((await create(plus, '250.00')).status, 200);
});

test('a declined request gives its daily slot back: five declines leave the Corporate plan its five', async () => {
  const m = await cashcloudMerchant('corporate');
  for (let i = 0; i < 5; i++) {
    const pi = await requested(m, '1.00');
    await standin('POST', 'decline', { hash: pi.provider_reference });
    assert.equal((await read(m, pi)).json.status, 'requires_payment_method');
  }
  // Anyone with the checkout page could otherwise use up the merchant's day.
  for (let i = 0; i < 5; i++) await requested(m, '1.00');
  const sixth = await create(m, '1.00');
  const refused = sixth.status === 200 ? await confirm(m, sixth.json) : sixth;
  assert.equal(errorOf(assert, refused, 400).code, 'daily_limit_exceeded', 'the sixth live request is still refused');
});

test('a money request whose answer is lost is followed, never sent twice', async () => {
  const m = await cashcloudMerchant();
  const pi = await create(m, '6.40');
  await standin('POST', 'faults', { path: '/request' });
  try {
    const lost = await confirm(m, pi.json);
    assert.equal(lost.status, 200, lost.text);
    assert.equal(lost.json.status, 'processing', 'it may be in the wallet: not failed');
    const again = await confirm(m, pi.json);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.status, 'processing');
    const mine = (await standin('GET', 'transactions')).data.filter((t) => t.extern?.id === pi.json.id);
    assert.equal(mine.length, 1, `${mine.length} wallet requests`);
    // The customer approves the one request; its callback names a hash we never
    // heard: Cashcloud's own record of it names our intent.
    await standin('POST', 'approve', { hash: mine[0].hash, pin: '1234' });
    let now;
    for (let i = 0; i < 50; i++) {
      now = (await read(m, pi.json)).json;
      if (now.status !== 'processing') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(now.status, 'succeeded', JSON.stringify(now));
    assert.equal(now.provider_reference, mine[0].hash);
    assert.equal(now.amount_received, '6.40');
  } finally {
    await standin('DELETE', 'faults');
  }
});

test('another currency is refused with the EUR equivalent quoted', async () => {
  const m = await cashcloudMerchant();
  const r = await api('POST', '/v1/payment_intents', {
    key: m.secret_key, body: { amount: '10.00', currency: 'CHF', provider: 'cashcloud' },
  });
  const e = errorOf(assert, r, 400, 'invalid_request_error');
  assert.equal(e.code, 'currency_not_supported');
  assert.match(e.message, /10\.50/, 'CHF 10.00 at the stand-in rate 1.05');
});

test('forged and stale callbacks are refused; a callback claiming "completed" while the API says pending changes nothing', async () => {
  const m = await cashcloudMerchant();
  const pi = await requested(m);
  const before = (await read(m, pi)).text;
  const hook = (fields) => fetch(`${WORKER}/v1/webhooks/cashcloud/${m.id}`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields),
  });
  const now = Math.floor(Date.now() / 1000);
  const good = (status, time = now) => ({
    method: 'request', status: String(status), time: String(time), hash: pi.provider_reference,
    control: control('request', String(status), String(time), m.account.apiPassword),
  });
  const forged = await hook({ ...good(3), control: control('request', '3', String(now), 'not-the-password') });
  assert.equal(forged.status, 400);
  const stale = await hook(good(3, now - 301));
  assert.equal(stale.status, 400);
  assert.equal((await read(m, pi)).text, before, 'forged and stale changed nothing');
  // Correctly signed, but Cashcloud's own API still says "pending accept".
  const lying = await hook(good(3));
  assert.equal(lying.status, 200);
  assert.equal((await read(m, pi)).json.status, 'processing', 'a callback alone never settles a payment');
  const replay = await hook(good(3));
  assert.equal((await replay.json()).outcome, 'duplicate');
});

test('a partial refund is a request the wallet accepts; once accepted it shows on the intent', async () => {
  const m = await cashcloudMerchant();
  const pi = await requested(m, '20.00');
  await standin('POST', 'approve', { hash: pi.provider_reference, pin: '1234' });
  assert.equal((await read(m, pi)).json.status, 'succeeded');
  const refund = await api('POST', '/v1/refunds', { key: m.secret_key, body: { payment_intent: pi.id, amount: '7.25' }, idem: randomUUID() });
  assert.equal(refund.status, 200, refund.text);
  assert.equal(refund.json.status, 'pending');
  assert.equal((await read(m, pi)).json.amount_refunded, '0.00', 'not before the wallet accepts');
  errorOf(assert, await api('POST', '/v1/refunds', { key: m.secret_key, body: { payment_intent: pi.id, amount: '12.76' } }), 400);
  const tx = (await standin('GET', 'transactions')).data ?? [];
  const pending = (Array.isArray(tx) ? tx : Object.values(tx)).find((t) => t.original_hash === pi.provider_reference && t.transaction_state_id === 1);
  assert.ok(pending, 'the refund waits in the wallet');
  await standin('POST', 'approve', { hash: pending.hash, pin: '1234' });
  let now;
  for (let i = 0; i < 30; i++) {
    now = (await read(m, pi)).json;
    if (now.amount_refunded !== '0.00') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(now.amount_refunded, '7.25');
});

let shop, browser, merchant;
before(async () => {
  merchant = await cashcloudMerchant();
  shop = await serveOrigin({
    '/': (req) => {
      const cs = new URL(req.url, 'http://x').searchParams.get('cs');
      return `<!doctype html><html lang="en"><title>Shop</title><main><div id="checkout"></div></main>
<script>
  window.events = [];
  for (const t of ['checkout:ready', 'checkout:succeeded', 'checkout:failed'])
    document.addEventListener(t, (e) => events.push({ type: t, detail: e.detail }));
</script>
<script src="${WORKER}/v1/checkout.js" data-publishable-key="${merchant.publishable_key}" data-client-secret="${cs}" data-target="#checkout" async></script>`;
    },
  });
  await api('PATCH', '/v1/merchants/me', { key: merchant.secret_key, body: { allowed_origins: [shop.origin] } });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await shop?.close();
});

async function widget(amount) {
  const pi = (await create(merchant, amount)).json;
  const page = await (await browser.newContext({ locale: 'de-DE' })).newPage();
  await page.goto(`${shop.origin}/?cs=${encodeURIComponent(pi.client_secret)}`);
  await page.waitForFunction(() => events.some((e) => e.type === 'checkout:ready'));
  await page.getByLabel('Cashcloud username').fill('alice@example.com');
  await page.getByRole('button', { name: 'Request payment in Cashcloud' }).click();
  await page.getByText(/left to approve/).waitFor();
  const sent = (await read(merchant, pi)).json;
  assert.equal(sent.status, 'processing');
  return { page, pi: sent };
}

test('widget: approve in the wallet app page with the PIN; the page hears checkout:succeeded', async (t) => {
  const { page, pi } = await widget('3.90');
  assert.match(await page.getByRole('status').textContent(), /Approve the payment in your Cashcloud app/);
  const violations = await axeViolations(page, ['#checkout']);
  t.diagnostic(`axe, widget wallet waiting: ${violations.length} violations`);
  assert.deepEqual(violations, []);
  // The customer's phone: the stand-in's wallet app page.
  const wallet = await (await browser.newContext()).newPage();
  await wallet.goto(`${CC}/wallet`);
  await wallet.getByLabel(/username/i).fill('alice@example.com');
  await wallet.getByLabel('PIN', { exact: true }).fill('1234');
  await wallet.keyboard.press('Enter');
  // Other tests' requests wait in Alice's wallet too: pick this payment's (its remark).
  const request = wallet.locator('#requests li', { hasText: `Payment ${pi.id}` });
  await request.getByLabel('PIN to confirm').fill('1234');
  await request.getByRole('button', { name: 'Approve' }).click();
  await page.waitForFunction(() => events.some((e) => e.type === 'checkout:succeeded'), null, { timeout: 20000 });
  assert.equal((await read(merchant, pi)).json.status, 'succeeded');
});

test('widget: declined, then expired, each said plainly with a way to try again', async () => {
  const d = await widget('2.00');
  await standin('POST', 'decline', { hash: d.pi.provider_reference });
  await d.page.waitForFunction(() => events.some((e) => e.type === 'checkout:failed'), null, { timeout: 20000 });
  assert.match(await d.page.getByRole('alert').textContent(), /declined/i);
  assert.ok(await d.page.getByRole('button', { name: 'Request payment in Cashcloud' }).isEnabled());

  const e = await widget('2.00');
  await standin('POST', 'expire', { hash: e.pi.provider_reference });
  await e.page.waitForFunction(() => events.some((x) => x.type === 'checkout:failed'), null, { timeout: 20000 });
  assert.match(await e.page.getByRole('alert').textContent(), /expired/i);
});
