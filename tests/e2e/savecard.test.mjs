// The widget's save-card mode (issue 11) in Debian's Chromium on a merchant's origin:
// the same script tag with a setup intent's `seti_…_secret_…` mounts Stripe's card
// field with "Save card", runs 3-D Secure at setup, and the card the Worker read back
// from Stripe is the customer's saved card; a decline saves nothing; the German page
// says it in German; the settings page's Billing part saves the merchant's own card for
// the platform's bill; and a card saved here is charged off session a month later.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { api, serveOrigin, launchBrowser, stripeMerchant, axeViolations, paymentMethod, WORKER } from './lib.mjs';
import { intent, confirm, recorded, lastSeq } from './payments.mjs';

const EVENTS = ['checkout:ready', 'checkout:setup_succeeded', 'checkout:succeeded', 'checkout:failed'];
const EVENTS_JS = `window.events = [];
for (const t of ${JSON.stringify(EVENTS)}) document.addEventListener(t, (e) => events.push({ type: t, detail: e.detail }));`;

let shop, browser, merchant;
before(async () => {
  merchant = await stripeMerchant();
  const q = (req) => new URL(req.url, 'http://x').searchParams;
  shop = await serveOrigin({
    '/events.js': () => ({ body: EVENTS_JS, headers: { 'content-type': 'text/javascript' } }),
    // The payment page's tag, with a setup intent's client secret.
    '/': (req) => `<!doctype html><html lang="${q(req).get('lang') ?? 'en'}"><meta charset="utf-8"><title>Your account</title>
<main><h1>Payment methods</h1><div id="checkout"></div></main><script src="/events.js"></script>
<script src="${WORKER}/v1/checkout.js" data-publishable-key="${merchant.publishable_key}" data-client-secret="${q(req).get('cs')}" data-target="#checkout" async></script>`,
  });
  const r = await api('PATCH', '/v1/merchants/me', { key: merchant.secret_key, body: { allowed_origins: [shop.origin] } });
  assert.equal(r.status, 200, r.text);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await shop?.close();
});

async function customer(extra = {}, m = merchant) {
  const r = await api('POST', '/v1/customers', { key: m.secret_key, body: { email: `c-${randomUUID().slice(0, 6)}@example.ch`, ...extra } });
  assert.equal(r.status, 200, r.text);
  return r.json;
}
async function setupIntent(cus) {
  const r = await api('POST', '/v1/setup_intents', { key: merchant.secret_key, body: { customer: cus.id, provider: 'stripe' } });
  assert.equal(r.status, 200, r.text);
  assert.match(r.json.client_secret, /^seti_.+_secret_/);
  return r.json;
}
const savedCards = async (cus) => (await api('GET', `/v1/customers/${cus.id}/payment_methods`, { key: merchant.secret_key })).json.data;

/** Opens the shop's save-card page for `si`; waits for checkout:ready. */
async function open(si, lang = 'en') {
  const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${shop.origin}/?${new URLSearchParams({ cs: si.client_secret, lang })}`);
  await page.waitForFunction(() => window.events?.some((e) => e.type === 'checkout:ready'), null, { timeout: 15000 });
  return { page, errors, field: page.frameLocator('#checkout iframe').first() };
}
async function typeCard(field, number, labels = ['Card number', 'Expiry (MM / YY)', 'CVC']) {
  await field.getByLabel(labels[0]).pressSequentially(number);
  await field.getByLabel(labels[1]).pressSequentially('12 / 34');
  await field.getByLabel(labels[2]).pressSequentially('123');
}
const heard = (page, type) => page.waitForFunction((t) => events.find((e) => e.type === t), type, { timeout: 20000 })
  .then(() => page.evaluate((t) => events.find((e) => e.type === t).detail, type));
const dialog = (page) => page.frameLocator('[role="dialog"] iframe');
async function accessible(t, page, state, include = ['#checkout', '[role="dialog"]']) {
  const violations = await axeViolations(page, include);
  t.diagnostic(`axe, ${state}: ${violations.length} violations`);
  assert.deepEqual(violations, [], `axe in state ${state}`);
}

/** Saves `number` through the widget, 3-D Secure completed if the bank asks. */
async function saveThroughWidget(si, number) {
  const { page, errors, field } = await open(si);
  await typeCard(field, number);
  await page.getByRole('button', { name: 'Save card' }).click();
  if (number.replace(/ /g, '') === '4000002500003155') {
    await dialog(page).getByRole('button', { name: 'Complete authentication' }).click();
  }
  const detail = await heard(page, 'checkout:setup_succeeded');
  return { page, errors, detail };
}

test('save 4000 0025 0000 3155 through the widget with 3-D Secure at setup: checkout:setup_succeeded, the saved card is brand, last4 and expiry only', async (t) => {
  const cus = await customer();
  const si = await setupIntent(cus);
  const { page, errors, field } = await open(si);
  const save = page.getByRole('button', { name: 'Save card' });
  assert.equal(await save.isVisible(), true);
  assert.equal(await page.locator('#checkout .ec-checkout').getAttribute('aria-label'), 'Save a card');
  assert.equal(await page.locator('#checkout .ec-amount').isVisible(), false, 'nothing is charged: no amount');
  await accessible(t, page, 'save-card ready');
  await typeCard(field, '4000 0025 0000 3155');
  await save.click();
  await dialog(page).getByRole('button', { name: 'Complete authentication' }).waitFor();
  assert.equal(await page.getByRole('status').textContent(), 'Confirm the card with your bank…');
  await accessible(t, page, 'save-card 3-D Secure open');
  await dialog(page).getByRole('button', { name: 'Complete authentication' }).click();
  const detail = await heard(page, 'checkout:setup_succeeded');
  assert.equal(detail.setup_intent, si.id);
  assert.equal(detail.status, 'succeeded');
  assert.match(detail.payment_method, /^pm_/);
  assert.equal(detail.payment_intent, undefined, 'a setup has no payment intent');
  assert.equal(await page.getByRole('status').textContent(), 'Your card is saved.');
  assert.equal(await page.evaluate(() => events.some((e) => e.type === 'checkout:succeeded')), false, 'nothing was paid');
  await accessible(t, page, 'save-card succeeded');
  // The Worker's word, from Stripe: the setup intent succeeded and the card is saved.
  const read = await api('GET', `/v1/setup_intents/${si.id}`, { key: merchant.secret_key });
  assert.equal(read.json.status, 'succeeded', read.text);
  assert.equal(read.json.payment_method, detail.payment_method);
  assert.deepEqual(await savedCards(cus), [{ id: detail.payment_method, card: { brand: 'visa', last4: '3155', exp_month: 12, exp_year: 2034 } }]);
  // The card never reached the merchant's page (only Stripe's frame saw it).
  assert.doesNotMatch(await page.content(), /3155|4000\s?0025/);
  assert.deepEqual(errors, []);
});

test('a card declined at setup (4000 0000 0000 0002): the widget says so, checkout:failed, nothing is saved, another card can be tried', async (t) => {
  const cus = await customer();
  const si = await setupIntent(cus);
  const { page, errors, field } = await open(si);
  await typeCard(field, '4000 0000 0000 0002');
  await page.getByRole('button', { name: 'Save card' }).click();
  const detail = await heard(page, 'checkout:failed');
  assert.equal(detail.setup_intent, si.id);
  assert.equal(detail.status, 'requires_payment_method');
  assert.match(await page.getByRole('alert').textContent(), /declined.*You can try another card\.$/i);
  assert.equal(await page.evaluate(() => events.some((e) => e.type === 'checkout:setup_succeeded')), false);
  assert.deepEqual(await savedCards(cus), []);
  assert.equal((await api('GET', `/v1/setup_intents/${si.id}`, { key: merchant.secret_key })).json.status, 'requires_payment_method');
  await accessible(t, page, 'save-card declined');
  // The button is offered again: the same setup intent saves another card.
  await field.getByLabel('Card number').fill('');
  await field.getByLabel('Card number').pressSequentially('4242 4242 4242 4242');
  await page.getByRole('button', { name: 'Save card' }).click();
  const ok = await heard(page, 'checkout:setup_succeeded');
  assert.deepEqual((await savedCards(cus)).map((c) => [c.id, c.card.last4]), [[ok.payment_method, '4242']]);
  assert.deepEqual(errors, []);
});

test('a German page says "Karte speichern" and saves in German', async () => {
  const si = await setupIntent(await customer());
  const { page, errors, field } = await open(si, 'de-CH');
  const save = page.getByRole('button', { name: 'Karte speichern' });
  assert.equal(await save.textContent(), 'Karte speichern');
  assert.equal(await page.locator('#checkout .ec-checkout').getAttribute('lang'), 'de');
  await typeCard(field, '4242 4242 4242 4242', ['Kartennummer', 'Ablaufdatum (MM / JJ)', 'CVC']);
  await save.click();
  await heard(page, 'checkout:setup_succeeded');
  assert.equal(await page.getByRole('status').textContent(), 'Ihre Karte ist gespeichert.');
  assert.deepEqual(errors, []);
});

test('settings, Billing: the platform invoice is listed, "Save a card" saves the merchant\'s card through the widget, the next run pays the bill; axe finds nothing', async (t) => {
  const m = await stripeMerchant();
  // One payment this month; the month ends: a platform invoice, open for want of a card.
  const pi = await intent(m, '10.00', 'automatic', 'EUR');
  assert.equal((await confirm(m, pi, await paymentMethod('4242424242424242'))).json.status, 'succeeded');
  const now = new Date();
  const nextMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) / 1000;
  const moved = await api('POST', '/v1/test_helpers/advance_clock', { key: m.secret_key, body: { seconds: nextMonth - Math.floor(Date.now() / 1000) + 3600 } });
  assert.equal(moved.status, 200, moved.text);
  const [bill] = (await api('GET', '/v1/platform_invoices', { key: m.secret_key })).json.data;
  assert.equal(bill.status, 'open');

  const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${WORKER}/settings.html`);
  await page.locator('#secret-key').fill(m.secret_key);
  await page.keyboard.press('Enter');
  const billing = page.locator('section', { has: page.getByRole('heading', { name: 'Billing' }) });
  const row = billing.getByRole('row', { name: new RegExp(bill.id) });
  await row.waitFor();
  assert.deepEqual(await row.getByRole('cell').allTextContents(), [bill.id, bill.month, '1', 'EUR 0.50', 'EUR 0.00', 'open']);
  assert.equal(await billing.locator('#billing-card').textContent(), 'No card saved yet.');
  await accessible(t, page, 'settings billing, no card', []);

  await billing.getByLabel('Publishable key').fill(m.publishable_key);
  await billing.getByRole('button', { name: 'Save a card' }).focus();
  await page.keyboard.press('Enter');
  const field = page.frameLocator('#billing-widget iframe').first();
  await typeCard(field, '4242 4242 4242 4242');
  await billing.getByRole('button', { name: 'Save card' }).click();
  await page.waitForFunction(() => /ending in 4242/.test(document.getElementById('billing-card').textContent), null, { timeout: 20000 });
  assert.equal(await billing.locator('#billing-card').textContent(), 'Visa ending in 4242, expires 12/2034');
  assert.equal(await billing.locator('#billing-status').textContent(), 'Card saved: the platform charges its bills to it from now on.');
  await accessible(t, page, 'settings billing, card saved (widget shown)', []);
  const saved = (await api('GET', '/v1/platform_billing', { key: m.secret_key })).json;
  assert.equal(saved.payment_method?.card?.last4, '4242');
  assert.deepEqual(Object.keys(saved.payment_method.card).sort(), ['brand', 'exp_month', 'exp_year', 'last4']);

  // The object's next run charges the bill to that card; the page shows it paid.
  await api('POST', '/v1/test_helpers/advance_clock', { key: m.secret_key, body: { seconds: 60 } });
  await billing.getByRole('button', { name: 'Refresh billing' }).click();
  await page.waitForFunction(() => document.querySelector('#invoices-body tr td:last-child')?.textContent === 'paid', null, { timeout: 10000 });
  assert.deepEqual(await row.getByRole('cell').allTextContents(), [bill.id, bill.month, '1', 'EUR 0.50', 'EUR 0.50', 'paid']);
  assert.deepEqual(errors, []);
});

test('a card saved through the widget (3155, 3-D Secure at setup) is charged off session a month later on the test clock: invoice paid, one charge', async () => {
  const at = Math.floor(Date.now() / 1000);
  const clock = (await api('POST', '/v1/test_clocks', { key: merchant.secret_key, body: { frozen_time: at } })).json;
  assert.match(clock.id ?? '', /./, JSON.stringify(clock));
  const cus = await customer({ test_clock: clock.id });
  const { detail } = await saveThroughWidget(await setupIntent(cus), '4000 0025 0000 3155');
  const sub = await api('POST', '/v1/subscriptions', {
    key: merchant.secret_key, body: { customer: cus.id, amount: '19.90', currency: 'CHF', interval: 'month', payment_method: detail.payment_method }, idem: randomUUID(),
  });
  assert.equal(sub.status, 200, sub.text);
  const seq = await lastSeq();
  const moved = await api('POST', `/v1/test_clocks/${clock.id}/advance`, { key: merchant.secret_key, body: { frozen_time: sub.json.current_period_end + 3600 } });
  assert.equal(moved.status, 200, moved.text);
  const invs = (await api('GET', `/v1/invoices?subscription=${sub.json.id}&limit=100`, { key: merchant.secret_key })).json.data;
  const later = invs.find((i) => i.period_start === sub.json.current_period_end);
  assert.ok(later, JSON.stringify(invs));
  assert.equal(later.status, 'paid', JSON.stringify(later));
  assert.equal(later.amount_paid, '19.90');
  const f = (r) => Object.fromEntries(r.form ?? []);
  const charges = (await recorded(seq)).filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents'
    && f(r).off_session === 'true' && f(r)['metadata[our_intent_id]'] === later.payment_intent);
  assert.equal(charges.length, 1, 'exactly one off-session charge for the invoice');
  assert.equal(f(charges[0]).payment_method, detail.payment_method, 'the card saved through the widget');
  // The proxy's Stripe: a set-up 3155 is not challenged off session.
  assert.equal(charges[0].emulated, 'off_session_set_up');
  assert.equal(charges[0].status, 200);
});
