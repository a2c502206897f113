// Saved cards, subscriptions and the platform's bill through the Worker: cards saved
// with a setup intent, invoices charged off session by the merchant's object on a
// test clock (no test sleeps), retries to `unpaid`, cancelation, never a second
// charge for one invoice (the recording proxy counts Stripe calls), and a month of
// mixed payments billed by the platform at 0.50 each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { api, errorOf, newMerchant, paymentMethod, stripeMerchant, launchBrowser, STRIPE_TEST_ACCOUNT, WORKER } from './lib.mjs';
import { intent, confirm, refund, recorded, lastSeq, fault, clearFaults } from './payments.mjs';

const DAY = 86400;
/** A recorded request's form fields. */
const f = (r) => Object.fromEntries(r.form ?? []);
const now = () => Math.floor(Date.now() / 1000);

async function customer(m, clock) {
  const r = await api('POST', '/v1/customers', {
    key: m.secret_key, body: { email: `c-${randomUUID().slice(0, 6)}@example.ch`, name: 'Anna Muster', ...(clock ? { test_clock: clock.id } : {}) },
  });
  assert.equal(r.status, 200, r.text);
  assert.match(r.json.id, /^cus_/);
  return r.json;
}

async function clock(m, at = now()) {
  const r = await api('POST', '/v1/test_clocks', { key: m.secret_key, body: { frozen_time: at } });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/** Saves `number` to the customer through a setup intent (the widget's calls). */
async function savedCard(m, cus, number = '4242424242424242') {
  const si = await api('POST', '/v1/setup_intents', { key: m.secret_key, body: { customer: cus.id, provider: 'stripe' } });
  assert.equal(si.status, 200, si.text);
  assert.match(si.json.client_secret, /^seti_.+_secret_/);
  const pm = await paymentMethod(number);
  const c = await api('POST', `/v1/setup_intents/${si.json.id}/confirm`, {
    key: m.publishable_key, body: { client_secret: si.json.client_secret, payment_method: pm },
  });
  assert.equal(c.status, 200, c.text);
  return { si: c.json, pm };
}

const advance = (m, c, to) => api('POST', `/v1/test_clocks/${c.id}/advance`, { key: m.secret_key, body: { frozen_time: to } });
const invoices = async (m, sub) => (await api('GET', `/v1/invoices?subscription=${sub.id}&limit=100`, { key: m.secret_key })).json.data;
const subscription = async (m, sub) => (await api('GET', `/v1/subscriptions/${sub.id}`, { key: m.secret_key })).json;
/** Off-session charges the Worker sent to Stripe for one invoice's intent. */
const chargesFor = (reqs, invoice) => reqs.filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents'
  && f(r).off_session === 'true' && f(r)['metadata[our_intent_id]'] === invoice.payment_intent);

async function subscribe(m, cus, extra = {}) {
  const r = await api('POST', '/v1/subscriptions', {
    key: m.secret_key, body: { customer: cus.id, amount: '19.90', currency: 'CHF', interval: 'month', ...extra }, idem: randomUUID(),
  });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

test('a saved card shows brand, last4 and expiry only; another customer cannot detach it', async () => {
  const m = await stripeMerchant();
  const cus = await customer(m);
  const { si, pm } = await savedCard(m, cus);
  assert.equal(si.status, 'succeeded');
  assert.equal(si.payment_method, pm);
  const cards = await api('GET', `/v1/customers/${cus.id}/payment_methods`, { key: m.secret_key });
  assert.equal(cards.status, 200, cards.text);
  assert.deepEqual(cards.json.data, [{ id: pm, card: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2034 } }]);
  const other = await customer(m);
  await savedCard(m, other);
  errorOf(assert, await api('DELETE', `/v1/customers/${other.id}/payment_methods/${pm}`, { key: m.secret_key }), 404);
  // Another merchant's key sees neither the customer nor the setup intent.
  const stranger = await stripeMerchant();
  errorOf(assert, await api('GET', `/v1/customers/${cus.id}`, { key: stranger.secret_key }), 404);
  errorOf(assert, await api('GET', `/v1/setup_intents/${si.id}`, { key: stranger.secret_key }), 404);
  // A wrong client secret is as missing as none; a publishable key never lists cards.
  errorOf(assert, await api('GET', `/v1/setup_intents/${si.id}?client_secret=${si.id}_secret_x`, { key: m.publishable_key }), 404);
  errorOf(assert, await api('GET', `/v1/customers/${cus.id}/payment_methods`, { key: m.publishable_key }), 403);
  const del = await api('DELETE', `/v1/customers/${cus.id}/payment_methods/${pm}`, { key: m.secret_key });
  assert.equal(del.status, 200, del.text);
  assert.deepEqual((await api('GET', `/v1/customers/${cus.id}/payment_methods`, { key: m.secret_key })).json.data, []);
  // Bad input changes nothing.
  errorOf(assert, await api('POST', '/v1/customers', { key: m.secret_key, body: { email: 'nope' } }), 400);
  errorOf(assert, await api('POST', '/v1/customers', { key: m.secret_key, body: { email: 'a@b.ch', extra: 1 } }), 400);
  errorOf(assert, await api('POST', '/v1/setup_intents', { key: m.secret_key, body: { customer: cus.id, provider: 'worldpay' } }), 400);
});

test('monthly on the test clock: each period is invoiced and charged once, even when the clock is advanced twice at once', async () => {
  const m = await stripeMerchant();
  const c = await clock(m);
  const cus = await customer(m, c);
  await savedCard(m, cus);
  const seq = await lastSeq();
  const sub = await subscribe(m, cus);
  assert.equal(sub.status, 'active', JSON.stringify(sub));
  assert.equal(sub.current_period_start, c.frozen_time);
  // Two advances at once (two runners over the same due invoice while one waits for
  // Stripe), then one to a time the clock has passed.
  // Stripe's answer to the charge is held back, so the second runner comes while the
  // first one waits for it.
  await fault({ method: 'POST', path_prefix: '/v1/payment_intents', kind: 'hold_after_forward', hold_ms: 1500, count: 1 });
  const target = sub.current_period_end + 3600;
  const first = advance(m, c, target);
  await new Promise((r) => setTimeout(r, 500));
  const both = await Promise.all([first, advance(m, c, target + 60)]);
  await clearFaults();
  assert.deepEqual(both.map((r) => r.status), [200, 200], both.map((r) => r.text).join());
  errorOf(assert, await advance(m, c, target), 400);
  const invs = await invoices(m, sub);
  assert.equal(invs.length, 2, JSON.stringify(invs));
  const reqs = await recorded(seq);
  for (const inv of invs) {
    assert.equal(inv.status, 'paid', JSON.stringify(inv));
    assert.equal(inv.amount_paid, '19.90');
    assert.equal(chargesFor(reqs, inv).length, 1, `one Stripe charge for ${inv.id}`);
  }
  assert.equal(invs[0].period_start, sub.current_period_end, 'the second period starts where the first ended');
  const after = await subscription(m, sub);
  assert.equal(after.status, 'active');
  assert.equal(after.latest_invoice, invs[0].id);
  // The ledger counts both: two payments of 19.90.
  const txns = (await api('GET', '/v1/balance_transactions?type=captured&limit=100', { key: m.secret_key })).json.data;
  assert.equal(txns.filter((t) => invs.some((i) => i.payment_intent === t.payment_intent)).length, 2);
  // Live mode has no test clocks.
  errorOf(assert, await api('POST', '/v1/test_clocks', { key: m.secret_key, body: { frozen_time: now(), extra: 1 } }), 400);
});

test('a card that declines (0341) is retried at +1, +3, +7 and +14 days, then the subscription is unpaid', async () => {
  const m = await stripeMerchant();
  const c = await clock(m);
  const cus = await customer(m, c);
  await savedCard(m, cus, '4000000000000341');
  const seq = await lastSeq();
  const sub = await subscribe(m, cus);
  assert.equal(sub.status, 'past_due', JSON.stringify(sub));
  let [inv] = await invoices(m, sub);
  assert.equal(inv.status, 'open');
  assert.equal(inv.attempt_count, 1);
  assert.equal(inv.next_payment_attempt, c.frozen_time + DAY);
  const seen = [];
  for (const days of [1, 3, 7, 14]) {
    const r = await advance(m, c, c.frozen_time + days * DAY + 60);
    assert.equal(r.status, 200, r.text);
    [inv] = await invoices(m, sub);
    seen.push([inv.attempt_count, inv.next_payment_attempt && (inv.next_payment_attempt - c.frozen_time) / DAY]);
  }
  assert.deepEqual(seen, [[2, 3], [3, 7], [4, 14], [5, null]]);
  assert.equal(inv.status, 'open');
  assert.equal((await subscription(m, sub)).status, 'unpaid');
  assert.equal(chargesFor(await recorded(seq), inv).length, 5, 'five attempts, each charged once');
  // Unpaid makes no further invoices.
  await advance(m, c, c.frozen_time + 70 * DAY);
  assert.equal((await invoices(m, sub)).length, 1);
});

test('a canceled subscription is never charged again', async () => {
  const m = await stripeMerchant();
  const c = await clock(m);
  const cus = await customer(m, c);
  await savedCard(m, cus);
  const sub = await subscribe(m, cus);
  const ending = await api('POST', `/v1/subscriptions/${sub.id}/cancel`, { key: m.secret_key, body: { at_period_end: true } });
  assert.equal(ending.json.cancel_at_period_end, true);
  assert.equal(ending.json.status, 'active');
  const seq = await lastSeq();
  await advance(m, c, sub.current_period_end + 40 * DAY);
  assert.equal((await subscription(m, sub)).status, 'canceled');
  assert.equal((await invoices(m, sub)).length, 1, 'only the first period');
  // Canceled now: the same.
  const sub2 = await subscribe(m, cus);
  const now2 = await api('POST', `/v1/subscriptions/${sub2.id}/cancel`, { key: m.secret_key, body: {} });
  assert.equal(now2.json.status, 'canceled');
  errorOf(assert, await api('POST', `/v1/subscriptions/${sub2.id}/cancel`, { key: m.secret_key, body: {} }), 400);
  const c2 = (await api('GET', `/v1/test_clocks/${c.id}`, { key: m.secret_key })).json;
  await advance(m, c, c2.frozen_time + 100 * DAY);
  assert.equal((await invoices(m, sub2)).length, 1);
  const offSession = (await recorded(seq)).filter((r) => f(r).off_session === 'true'
    && f(r).customer && r.path === '/v1/payment_intents');
  assert.equal(offSession.length, 1, 'only sub2\'s first period was charged after the cancel');
});

test('a trial ends in the first charge; bad subscriptions are refused', async () => {
  const m = await stripeMerchant();
  const c = await clock(m);
  const cus = await customer(m, c);
  errorOf(assert, await api('POST', '/v1/subscriptions', { key: m.secret_key, body: { customer: cus.id, amount: '19.90', currency: 'CHF', interval: 'month' } }), 400);
  await savedCard(m, cus);
  for (const bad of [{ amount: '0' }, { amount: '1.234' }, { interval: 'week' }, { interval_count: 0 }, { trial_end: c.frozen_time - 1 }, { currency: 'XXX' }, { payment_method: 'pm_nope' }, { surprise: true }]) {
    const r = await api('POST', '/v1/subscriptions', { key: m.secret_key, body: { customer: cus.id, amount: '19.90', currency: 'CHF', interval: 'month', ...bad } });
    assert.ok([400, 404].includes(r.status), `${JSON.stringify(bad)}: ${r.status} ${r.text}`);
  }
  assert.equal((await api('GET', `/v1/subscriptions?customer=${cus.id}`, { key: m.secret_key })).json.data.length, 0);
  const sub = await subscribe(m, cus, { trial_end: c.frozen_time + 14 * DAY });
  assert.equal(sub.status, 'trialing');
  assert.equal((await invoices(m, sub)).length, 0);
  await advance(m, c, c.frozen_time + 14 * DAY + 1);
  const [inv] = await invoices(m, sub);
  assert.equal(inv.status, 'paid');
  assert.equal(inv.period_start, c.frozen_time + 14 * DAY);
  assert.equal((await subscription(m, sub)).status, 'active');
});

/** Stripe payments of `amount` EUR that succeed (4242), `n` of them. */
async function stripePayments(m, n, amount = '10.00') {
  const out = [];
  for (let i = 0; i < n; i++) {
    const pi = await intent(m, amount, 'automatic', 'EUR');
    const r = await confirm(m, pi, await paymentMethod('4242424242424242'));
    assert.equal(r.json.status, 'succeeded', r.text);
    out.push(pi);
  }
  return out;
}

test('a month of 7 Stripe-direct (one refunded), 2 Worldpay, 3 Cashcloud and 4 Connect payments: the platform bills 12 × 0.50', async () => {
  const WP = process.env.WORLDPAY_URL;
  const CC = process.env.CASHCLOUD_URL;
  const standin = async (base, method, path, body) => (await fetch(`${base}/_standin/${path}`, {
    method, headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined,
  })).json();
  const m = await stripeMerchant();
  await api('PATCH', '/v1/merchants/me', { key: m.secret_key, body: { allowed_origins: ['https://shop.example'] } });
  const direct = await stripePayments(m, 7);
  assert.equal((await refund(m, direct[0])).status, 200);
  // Worldpay: the hosted page reserves, the merchant captures.
  const wp = { username: `wp-${randomUUID().slice(0, 8)}`, password: `pw-${randomUUID()}`, entity: 'default', webhookSecret: `hook-${randomUUID()}` };
  await standin(WP, 'POST', 'merchants', { ...wp, notificationUrl: `${WORKER}/v1/webhooks/worldpay/${m.id}` });
  assert.equal((await api('PUT', '/v1/merchants/me/providers/worldpay', { key: m.secret_key, body: { username: wp.username, password: wp.password, entity: wp.entity, webhook_secret: wp.webhookSecret } })).status, 200);
  for (let i = 0; i < 2; i++) {
    const made = await api('POST', '/v1/payment_intents', { key: m.secret_key, body: { amount: '20.00', currency: 'EUR', provider: 'worldpay', capture_method: 'manual' }, idem: randomUUID() });
    assert.equal(made.status, 200, made.text);
    const pi = made.json;
    const c = await api('POST', `/v1/payment_intents/${pi.id}/confirm`, { key: m.publishable_key, body: { client_secret: pi.client_secret, return_url: 'https://shop.example/back' } });
    assert.equal(c.json.next_action?.type, 'redirect', c.text);
    await standin(WP, 'POST', 'complete', { url: c.json.next_action.url, card: '4444333322221111', threeDS: 'pass' });
    let st;
    for (let k = 0; k < 50 && st !== 'succeeded'; k++) {
      st = (await api('GET', `/v1/payment_intents/${pi.id}`, { key: m.secret_key })).json.status;
      if (st === 'requires_capture') st = (await api('POST', `/v1/payment_intents/${pi.id}/capture`, { key: m.secret_key, body: {} })).json.status;
      if (st !== 'succeeded') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(st, 'succeeded');
  }
  // Cashcloud: approved in the wallet.
  const cc = { username: `shop-${randomUUID().slice(0, 8)}@example.com`, password: `pw-${randomUUID()}`, apiPassword: `api-${randomUUID()}` };
  await standin(CC, 'POST', 'merchants', { ...cc, name: 'E2E shop' });
  assert.equal((await api('PUT', '/v1/merchants/me/providers/cashcloud', { key: m.secret_key, body: { username: cc.username, password: cc.password, api_password: cc.apiPassword, plan: 'corporate_plus' } })).status, 200);
  for (let i = 0; i < 3; i++) {
    const pi = (await api('POST', '/v1/payment_intents', { key: m.secret_key, body: { amount: '4.50', currency: 'EUR', provider: 'cashcloud' }, idem: randomUUID() })).json;
    const c = await api('POST', `/v1/payment_intents/${pi.id}/confirm`, { key: m.publishable_key, body: { client_secret: pi.client_secret, cashcloud_username: 'alice@example.com' } });
    assert.equal(c.json.status, 'processing', c.text);
    await standin(CC, 'POST', 'approve', { hash: c.json.provider_reference, pin: '1234' });
    let st;
    for (let k = 0; k < 50 && st !== 'succeeded'; k++) {
      st = (await api('GET', `/v1/payment_intents/${pi.id}`, { key: m.secret_key })).json.status;
      if (st !== 'succeeded') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(st, 'succeeded');
  }
  // Connect: Stripe takes the fee as an application fee; the bill must not count these.
  const onboard = await api('POST', '/v1/merchants/me/stripe_connect', { key: m.secret_key, body: { return_url: 'https://shop.example/settings' } });
  assert.equal(onboard.status, 200, onboard.text);
  const seq = await lastSeq();
  await stripePayments(m, 4);
  const fees = (await recorded(seq)).filter((r) => f(r).application_fee_amount === '50');
  assert.equal(fees.length, 4, 'Connect took 0.50 at once on each');
  // The month ends (the object's test clock moves into next month): the bill is made.
  const t = new Date();
  const nextMonth = Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + 1, 1) / 1000;
  const moved = await api('POST', '/v1/test_helpers/advance_clock', { key: m.secret_key, body: { seconds: nextMonth - now() + 3600 } });
  assert.equal(moved.status, 200, moved.text);
  const list = await api('GET', '/v1/platform_invoices', { key: m.secret_key });
  assert.equal(list.status, 200, list.text);
  assert.equal(list.json.data.length, 1, list.text);
  const [bill] = list.json.data;
  assert.equal(bill.currency, 'EUR');
  assert.equal(bill.count, 12);
  assert.equal(bill.amount_due, '6.00');
  assert.equal(bill.status, 'open', 'no card saved yet: it waits');
  // The admin sees it; another merchant does not.
  const admin = await api('GET', `/v1/merchants/${m.id}/platform_invoices`, { key: process.env.ADMIN_TOKEN });
  assert.equal(admin.status, 200, admin.text);
  assert.deepEqual(admin.json.data.map((i) => [i.id, i.amount_due]), [[bill.id, '6.00']]);
  const other = await newMerchant();
  assert.deepEqual((await api('GET', '/v1/platform_invoices', { key: other.secret_key })).json.data, []);
  // The merchant saves a card on the platform's account; the next run (the alarm it
  // sets, or the one below, whichever comes first) charges the bill, once.
  const seq2 = await lastSeq();
  const si = await api('POST', '/v1/platform_billing/setup_intents', { key: m.secret_key, body: {} });
  assert.equal(si.status, 200, si.text);
  const card = await paymentMethod('4242424242424242');
  const ok = await api('POST', `/v1/setup_intents/${si.json.id}/confirm`, { key: m.publishable_key, body: { client_secret: si.json.client_secret, payment_method: card } });
  assert.equal(ok.json.status, 'succeeded', ok.text);
  const billing = await api('GET', '/v1/platform_billing', { key: m.secret_key });
  assert.equal(billing.json.payment_method?.card?.last4, '4242', billing.text);
  await api('POST', '/v1/test_helpers/advance_clock', { key: m.secret_key, body: { seconds: 60 } });
  const [paid] = (await api('GET', '/v1/platform_invoices', { key: m.secret_key })).json.data;
  assert.equal(paid.status, 'paid', JSON.stringify(paid));
  assert.equal(paid.amount_paid, '6.00');
  const platformCharges = (await recorded(seq2)).filter((r) => r.path === '/v1/payment_intents' && f(r)['metadata[our_intent_id]'] === bill.id);
  assert.equal(platformCharges.length, 1);
  assert.equal(f(platformCharges[0]).amount, '600');
  // A second month-end run makes no second invoice for the same month.
  await api('POST', '/v1/test_helpers/advance_clock', { key: m.secret_key, body: { seconds: 60 } });
  assert.equal((await api('GET', '/v1/platform_invoices', { key: m.secret_key })).json.data.length, 1);
});

test('3184 asks for authentication off session: the invoice stays open and its hosted page, completed in Chromium, pays it', async () => {
  const m = await stripeMerchant();
  const c = await clock(m);
  const cus = await customer(m, c);
  // 3-D Secure at setup, completed as Stripe.js would (the proxy's _authenticate).
  const si = await api('POST', '/v1/setup_intents', { key: m.secret_key, body: { customer: cus.id } });
  const pm = await paymentMethod('4000002760003184');
  const c1 = await api('POST', `/v1/setup_intents/${si.json.id}/confirm`, { key: m.publishable_key, body: { client_secret: si.json.client_secret, payment_method: pm } });
  assert.equal(c1.json.status, 'requires_action', c1.text);
  const stripeSeti = c1.json.next_action.provider_client_secret.split('_secret_')[0];
  const auth = await fetch(`${process.env.STRIPE_PROXY_URL}/v1/setup_intents/${stripeSeti}/_authenticate?success=true`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ key: STRIPE_TEST_ACCOUNT.publishable_key, client_secret: c1.json.next_action.provider_client_secret }).toString(),
  });
  assert.equal(auth.status, 200, await auth.text());
  const saved = await api('GET', `/v1/setup_intents/${si.json.id}?client_secret=${si.json.client_secret}`, { key: m.publishable_key });
  assert.equal(saved.json.status, 'succeeded', saved.text);

  const sub = await subscribe(m, cus);
  assert.equal(sub.status, 'past_due');
  const [inv] = await invoices(m, sub);
  assert.equal(inv.status, 'open');
  assert.equal(inv.next_payment_attempt, null, 'no automatic retry can authenticate');
  assert.match(inv.hosted_url, new RegExp(`^${WORKER}/v1/hosted_invoices/${inv.id}\\?token=[0-9a-f]{32}$`));
  const events = (await api('GET', '/v1/events?type=invoice.payment_action_required', { key: m.secret_key })).json.data;
  assert.equal(events[0]?.data.object.id, inv.id);
  // A wrong token shows nothing of the invoice.
  const forged = await fetch(inv.hosted_url.replace(/token=.*/, 'token=' + '0'.repeat(32)));
  assert.equal(forged.status, 404);
  assert.ok(!(await forged.text()).includes(inv.payment_intent));

  const browser = await launchBrowser();
  try {
    const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const resp = await page.goto(inv.hosted_url);
    assert.match(resp.headers()['content-security-policy'], /script-src 'self' \S+ 'wasm-unsafe-eval'/);
    assert.doesNotMatch(resp.headers()['content-security-policy'], /unsafe-inline|'unsafe-eval'/);
    const field = page.frameLocator('#checkout iframe').first();
    await field.getByLabel('Card number').pressSequentially('4000 0027 6000 3184');
    await field.getByLabel('Expiry (MM / YY)').pressSequentially('12 / 34');
    await field.getByLabel('CVC').pressSequentially('123');
    await page.getByRole('button', { name: /^Pay / }).click();
    await page.frameLocator('[role="dialog"] iframe').getByRole('button', { name: 'Complete authentication' }).click();
    await page.getByRole('status').filter({ hasText: /Payment received/ }).waitFor({ timeout: 15000 });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
  const paid = (await invoices(m, sub))[0];
  assert.equal(paid.status, 'paid', JSON.stringify(paid));
  assert.equal(paid.hosted_url, null);
  assert.equal((await subscription(m, sub)).status, 'active');
  assert.equal((await (await fetch(inv.hosted_url)).text()).includes('This invoice is paid'), true);
});

test('a payment with setup_future_usage saves the card; the server charges it later off session, refusing what is not the customer\'s', async () => {
  const m = await stripeMerchant();
  const cus = await customer(m);
  const first = await api('POST', '/v1/payment_intents', {
    key: m.secret_key, body: { amount: '25.00', currency: 'CHF', provider: 'stripe', customer: cus.id, setup_future_usage: 'off_session' }, idem: randomUUID(),
  });
  assert.equal(first.status, 200, first.text);
  const pm = await paymentMethod('4242424242424242');
  const paid = await confirm(m, first.json, pm);
  assert.equal(paid.json.status, 'succeeded', paid.text);
  const cards = (await api('GET', `/v1/customers/${cus.id}/payment_methods`, { key: m.secret_key })).json.data;
  assert.deepEqual(cards.map((c) => [c.id, c.card.last4]), [[pm, '4242']]);

  const later = async (card) => {
    const pi = await api('POST', '/v1/payment_intents', { key: m.secret_key, body: { amount: '12.00', currency: 'CHF', provider: 'stripe', customer: cus.id }, idem: randomUUID() });
    assert.equal(pi.status, 200, pi.text);
    return [pi.json, await api('POST', `/v1/payment_intents/${pi.json.id}/confirm`, { key: m.secret_key, body: { payment_method: card, off_session: true } })];
  };
  const [, ok] = await later(pm);
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.status, 'succeeded');
  assert.equal(ok.json.amount_received, '12.00');
  // Not with a publishable key; not a card of someone else.
  const other = await customer(m);
  const { pm: theirs } = await savedCard(m, other);
  errorOf(assert, (await later(theirs))[1], 404);
  const pi2 = (await api('POST', '/v1/payment_intents', { key: m.secret_key, body: { amount: '1.00', currency: 'CHF', provider: 'stripe', customer: cus.id }, idem: randomUUID() })).json;
  errorOf(assert, await api('POST', `/v1/payment_intents/${pi2.id}/confirm`, { key: m.publishable_key, body: { client_secret: pi2.client_secret, payment_method: pm, off_session: true } }), 403);
  assert.equal((await api('GET', `/v1/payment_intents/${pi2.id}`, { key: m.secret_key })).json.status, 'requires_payment_method');
  // A card that wants the customer (3184) or declines (0341): a final 402.
  for (const [number, code] of [['4000002760003184', 'authentication_required'], ['4000000000000341', 'card_declined']]) {
    const c2 = await customer(m);
    const { pm: card } = await savedCardFor(m, c2, number);
    const pi3 = (await api('POST', '/v1/payment_intents', { key: m.secret_key, body: { amount: '5.00', currency: 'CHF', provider: 'stripe', customer: c2.id }, idem: randomUUID() })).json;
    const r = await api('POST', `/v1/payment_intents/${pi3.id}/confirm`, { key: m.secret_key, body: { payment_method: card, off_session: true } });
    assert.equal(errorOf(assert, r, 402).code, code);
  }
});

/** Saves a card, completing 3-D Secure at setup when the card asks for it. */
async function savedCardFor(m, cus, number) {
  const si = await api('POST', '/v1/setup_intents', { key: m.secret_key, body: { customer: cus.id } });
  const pm = await paymentMethod(number);
  const c = await api('POST', `/v1/setup_intents/${si.json.id}/confirm`, { key: m.publishable_key, body: { client_secret: si.json.client_secret, payment_method: pm } });
  if (c.json.status === 'requires_action') {
    const secret = c.json.next_action.provider_client_secret;
    await fetch(`${process.env.STRIPE_PROXY_URL}/v1/setup_intents/${secret.split('_secret_')[0]}/_authenticate?success=true`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ key: STRIPE_TEST_ACCOUNT.publishable_key, client_secret: secret }).toString(),
    });
  }
  const done = await api('GET', `/v1/setup_intents/${si.json.id}`, { key: m.secret_key });
  assert.equal(done.json.status, 'succeeded', done.text);
  return { pm };
}
