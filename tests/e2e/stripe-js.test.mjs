// The local Stripe.js stand-in (tests/stripe-js): a merchant page on another origin
// mounts its card field, gets PaymentMethods that exist at localstripe without ever
// seeing card data, and runs the 3-D Secure challenge both ways.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveOrigin, launchBrowser, STRIPE, PROXY } from './lib.mjs';

const STRIPE_JS = process.env.STRIPE_JS_URL;
const SK = 'sk_test_stripejs_e2e';
const PK = 'pk_test_stripejs_e2e';

/** Straight to localstripe with a secret key, form-encoded. */
async function ls(method, path, params) {
  const r = await fetch(STRIPE + path, {
    method,
    headers: { authorization: `Bearer ${SK}`, ...(params ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    body: params ? new URLSearchParams(params).toString() : undefined,
  });
  return { status: r.status, json: await r.json() };
}

/** Through the recording proxy (which completes a SetupIntent's 3-D Secure), form-encoded. */
async function viaProxy(method, path, params) {
  const r = await fetch(PROXY + path, {
    method,
    headers: { authorization: `Bearer ${SK}`, ...(params ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    body: params ? new URLSearchParams(params).toString() : undefined,
  });
  return { status: r.status, json: await r.json() };
}

let shop, browser;
before(async () => {
  assert.ok(STRIPE_JS, 'STRIPE_JS_URL comes from tests/tools/e2e.mjs');
  shop = await serveOrigin({
    '/': `<!doctype html><html lang="en"><title>Shop</title>
<main><h1>Pay</h1><div id="card"></div><button id="pay" type="button">Pay</button></main>
<script src="${STRIPE_JS}"></script>
<script>
  window.events = [];
  window.seen = [];  // every message this page receives, to prove no card data arrives
  addEventListener('message', (e) => seen.push(JSON.stringify(e.data)));
  window.stripe = Stripe('${PK}', { stripeAccount: 'acct_test_1' });
  window.card = stripe.elements().create('card', { hidePostalCode: false });
  for (const t of ['change', 'ready', 'focus', 'blur']) card.on(t, (ev) => events.push({ t, ev }));
  card.mount('#card');
</script>`,
  });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await shop?.close();
});

async function shopPage() {
  const page = await (await browser.newContext()).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${shop.origin}/`);
  await page.waitForFunction(() => events.some((e) => e.t === 'ready'));
  const field = page.frameLocator('#card iframe');
  return { page, field, errors };
}

async function typeCard(field, number, exp = '12 / 34', cvc = '123') {
  await field.getByLabel('Card number').pressSequentially(number);
  await field.getByLabel('Expiry (MM / YY)').pressSequentially(exp);
  await field.getByLabel('CVC').pressSequentially(cvc);
}

/** A PaymentMethod for `number` made through the card field, then an intent confirmed to requires_action. */
async function intentNeeding3ds(field, page, number = '4000 0025 0000 3155') {
  await typeCard(field, number);
  const { paymentMethod, error } = await page.evaluate(() => stripe.createPaymentMethod({ type: 'card', card }));
  assert.equal(error, undefined);
  const pi = await ls('POST', '/v1/payment_intents', { amount: '1000', currency: 'chf', payment_method: paymentMethod.id });
  assert.equal(pi.status, 200, JSON.stringify(pi.json));
  const confirmed = await ls('POST', `/v1/payment_intents/${pi.json.id}/confirm`);
  assert.equal(confirmed.json.status, 'requires_action');
  return pi.json;
}

test('the stand-in serves its script cross-origin and refuses card data from other origins', async () => {
  const js = await fetch(STRIPE_JS);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /javascript/);
  assert.equal(js.headers.get('access-control-allow-origin'), '*');
  assert.match(await js.text(), /window\.Stripe = Stripe/);
  const base = new URL(STRIPE_JS).origin;
  const field = await fetch(`${base}/card-field.html`);
  assert.equal(field.status, 200);
  assert.match(field.headers.get('content-security-policy'), /script-src 'self'/);
  for (const origin of [shop.origin, 'null']) {
    const r = await fetch(`${base}/payment_methods`, {
      method: 'POST', headers: { origin, 'content-type': 'application/json' },
      body: JSON.stringify({ number: '4242424242424242', exp_month: '12', exp_year: '2034', cvc: '123' }),
    });
    assert.equal(r.status, 403, origin);
    assert.equal(r.headers.get('access-control-allow-origin'), null);
  }
});

test('createPaymentMethod turns what was typed into a localstripe PaymentMethod; the page never sees the card', async () => {
  const { page, field, errors } = await shopPage();
  const number = field.getByLabel('Card number');
  assert.equal(await number.getAttribute('autocomplete'), 'cc-number');
  assert.equal(await number.getAttribute('inputmode'), 'numeric');
  assert.equal(await field.getByLabel('Expiry (MM / YY)').getAttribute('autocomplete'), 'cc-exp');
  assert.equal(await field.getByLabel('CVC').getAttribute('autocomplete'), 'cc-csc');
  assert.equal(await page.locator('#card iframe').getAttribute('title'), 'Secure card payment input frame');

  await typeCard(field, '4242 4242 4242 4242');
  assert.equal(await number.inputValue(), '4242 4242 4242 4242');
  await page.waitForFunction(() => events.some((e) => e.t === 'change' && e.ev.complete));
  assert.equal(await page.evaluate(() => events.filter((e) => e.t === 'focus').length), 1, 'one focus for the whole element');
  const r = await page.evaluate(() => stripe.createPaymentMethod({ type: 'card', card, billing_details: { name: 'Ada Test' } }));
  assert.equal(r.error, undefined, JSON.stringify(r.error));
  assert.match(r.paymentMethod.id, /^pm_/);
  assert.equal(r.paymentMethod.type, 'card');
  assert.equal(r.paymentMethod.card.last4, '4242');
  assert.equal(r.paymentMethod.card.brand, 'visa');

  const pm = await ls('GET', `/v1/payment_methods/${r.paymentMethod.id}`);
  assert.equal(pm.status, 200);
  assert.equal(pm.json.card.last4, '4242');
  assert.equal(pm.json.card.exp_month, 12);
  assert.equal(pm.json.card.exp_year, 2034);
  assert.equal(pm.json.billing_details.name, 'Ada Test');

  // Nothing typed reached the merchant page: not its DOM, not its inputs, not its messages.
  const top = await page.evaluate(() => ({
    html: document.documentElement.outerHTML,
    inputs: [...document.querySelectorAll('input, textarea')].map((i) => i.value),
    seen: seen.join('\n'),
    events: JSON.stringify(events),
  }));
  for (const where of [top.html, top.inputs.join('\n'), top.seen, top.events]) {
    assert.doesNotMatch(where, /4242\s?4242\s?4242\s?4242|4242424242424242/);
    assert.doesNotMatch(where, /12 \/ 34/);
  }
  assert.deepEqual(errors, []);
});

test('handleNextAction: "Complete authentication" → succeeded', async () => {
  const { page, field, errors } = await shopPage();
  const pi = await intentNeeding3ds(field, page);
  await page.evaluate((cs) => { window.outcome = stripe.handleNextAction({ clientSecret: cs }); }, pi.client_secret);
  const challenge = page.frameLocator('[role="dialog"] iframe');
  const complete = challenge.getByRole('button', { name: 'Complete authentication' });
  await complete.waitFor();
  await assert.doesNotReject(challenge.getByText(/test/i).first().waitFor());
  // Focus is inside the challenge: Enter on the focused button completes it.
  await page.waitForFunction(() => document.activeElement?.tagName === 'IFRAME');
  await page.keyboard.press('Enter');
  const r = await page.evaluate(() => window.outcome);
  assert.equal(r.error, undefined, JSON.stringify(r.error));
  assert.equal(r.paymentIntent.id, pi.id);
  assert.equal(r.paymentIntent.status, 'succeeded');
  assert.equal((await ls('GET', `/v1/payment_intents/${pi.id}`)).json.status, 'succeeded');
  assert.equal(await page.locator('[role="dialog"]').count(), 0, 'the overlay is gone');
  // Not in requires_action any more: resolves with the current status, no overlay.
  const again = await page.evaluate((cs) => stripe.handleNextAction({ clientSecret: cs }), pi.client_secret);
  assert.equal(again.paymentIntent.status, 'succeeded');
  assert.equal(await page.locator('[role="dialog"]').count(), 0);
  assert.deepEqual(errors, []);
});

test('handleNextAction: "Fail authentication" (and Escape) → error, intent back in requires_payment_method', async () => {
  const { page, field, errors } = await shopPage();
  const pi = await intentNeeding3ds(field, page);
  await page.evaluate((cs) => { window.outcome = stripe.handleNextAction({ clientSecret: cs }); }, pi.client_secret);
  await page.frameLocator('[role="dialog"] iframe').getByRole('button', { name: 'Fail authentication' }).click();
  const r = await page.evaluate(() => window.outcome);
  assert.equal(r.paymentIntent, undefined);
  assert.equal(r.error.type, 'card_error');
  assert.equal(r.error.code, 'payment_intent_authentication_failure');
  assert.equal(typeof r.error.message, 'string');
  assert.equal(r.error.payment_intent.status, 'requires_payment_method');
  assert.equal((await ls('GET', `/v1/payment_intents/${pi.id}`)).json.status, 'requires_payment_method');

  // confirmCardPayment(clientSecret) on another intent, dismissed with Escape.
  await page.evaluate(() => card.clear());
  await field.getByLabel('Card number').waitFor();
  await page.waitForFunction(() => events.filter((e) => e.t === 'change').at(-1)?.ev.empty === true);
  const pi2 = await intentNeeding3ds(field, page);
  await page.evaluate((cs) => { window.outcome = stripe.confirmCardPayment(cs); }, pi2.client_secret);
  await page.frameLocator('[role="dialog"] iframe').getByRole('button', { name: 'Fail authentication' }).waitFor();
  await page.waitForFunction(() => document.activeElement?.tagName === 'IFRAME');
  await page.keyboard.press('Escape');
  const r2 = await page.evaluate(() => window.outcome);
  assert.equal(r2.error?.code, 'payment_intent_authentication_failure');
  assert.equal((await ls('GET', `/v1/payment_intents/${pi2.id}`)).json.status, 'requires_payment_method');
  assert.deepEqual(errors, []);
});

test('an invalid card number shows an error in the field and createPaymentMethod resolves with {error}', async () => {
  const { page, field, errors } = await shopPage();
  await typeCard(field, '4242 4242 4242 4241');
  const alert = field.getByRole('alert');
  await assert.doesNotReject(field.getByText('Your card number is invalid.').waitFor());
  assert.equal(await alert.textContent(), 'Your card number is invalid.');
  assert.equal(await field.getByLabel('Card number').getAttribute('aria-invalid'), 'true');
  const change = await page.evaluate(() => events.filter((e) => e.t === 'change').at(-1).ev);
  assert.equal(change.complete, false);
  assert.equal(change.error.code, 'invalid_number');
  const r = await page.evaluate(() => stripe.createPaymentMethod({ type: 'card', card }));
  assert.equal(r.paymentMethod, undefined);
  assert.equal(r.error.type, 'validation_error');
  assert.equal(r.error.code, 'invalid_number');
  assert.equal(r.error.message, 'Your card number is invalid.');
  assert.deepEqual(errors, []);
});

test('a SetupIntent\'s 3-D Secure: handleNextAction completes it (card saved to the customer); confirmCardSetup failed → error, nothing saved', async () => {
  const { page, field, errors } = await shopPage();
  const customer = (await viaProxy('POST', '/v1/customers', { email: 'save@example.com' })).json.id;
  const saved = async () => (await viaProxy('GET', `/v1/payment_methods?customer=${customer}&type=card`)).json.data.map((p) => p.id);
  async function setupNeeding3ds() {
    await typeCard(field, '4000 0025 0000 3155');
    const { paymentMethod } = await page.evaluate(() => stripe.createPaymentMethod({ type: 'card', card }));
    const si = (await viaProxy('POST', '/v1/setup_intents', { customer, usage: 'off_session' })).json;
    const c = await viaProxy('POST', `/v1/setup_intents/${si.id}/confirm`, { payment_method: paymentMethod.id, use_stripe_sdk: 'true' });
    assert.equal(c.json.status, 'requires_action', JSON.stringify(c.json));
    return { si, pm: paymentMethod.id };
  }

  const ko = await setupNeeding3ds();
  await page.evaluate((cs) => { window.outcome = stripe.confirmCardSetup(cs); }, ko.si.client_secret);
  await page.frameLocator('[role="dialog"] iframe').getByRole('button', { name: 'Fail authentication' }).click();
  const r = await page.evaluate(() => window.outcome);
  assert.equal(r.setupIntent, undefined);
  assert.equal(r.error.code, 'setup_intent_authentication_failure');
  assert.equal(r.error.setup_intent.status, 'requires_payment_method');
  assert.deepEqual(await saved(), []);

  await page.evaluate(() => card.clear());
  await page.waitForFunction(() => events.filter((e) => e.t === 'change').at(-1)?.ev.empty === true);
  const ok = await setupNeeding3ds();
  await page.evaluate((cs) => { window.outcome = stripe.handleNextAction({ clientSecret: cs }); }, ok.si.client_secret);
  await page.frameLocator('[role="dialog"] iframe').getByRole('button', { name: 'Complete authentication' }).click();
  const r2 = await page.evaluate(() => window.outcome);
  assert.equal(r2.error, undefined, JSON.stringify(r2.error));
  assert.equal(r2.setupIntent.id, ok.si.id);
  assert.equal(r2.setupIntent.status, 'succeeded');
  assert.equal(r2.setupIntent.payment_method, ok.pm);
  assert.deepEqual(await saved(), [ok.pm]);
  assert.deepEqual(errors, []);
});
