// The widget, from one script tag on a merchant's page on another origin, paying
// through Stripe's hosted card field (the local Stripe.js stand-in) and 3-D Secure,
// in Debian's Chromium. The outcome the page is told comes from the Worker, which
// reads it from Stripe.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { api, serveOrigin, launchBrowser, stripeMerchant, WORKER } from './lib.mjs';

let shop, browser, merchant;
before(async () => {
  merchant = await stripeMerchant();
  shop = await serveOrigin({
    '/': (req) => {
      const cs = new URL(req.url, 'http://x').searchParams.get('cs');
      return `<!doctype html><html lang="en"><title>Shop</title><main><h1>Checkout</h1><div id="checkout"></div></main>
<script>
  window.events = [];
  for (const t of ['checkout:ready', 'checkout:succeeded', 'checkout:failed', 'checkout:requires_capture'])
    document.addEventListener(t, (e) => events.push({ type: t, detail: e.detail }));
</script>
<script src="${WORKER}/v1/checkout.js" data-publishable-key="${merchant.publishable_key}" data-client-secret="${cs}" data-target="#checkout" async></script>`;
    },
  });
  const r = await api('PATCH', '/v1/merchants/me', { key: merchant.secret_key, body: { allowed_origins: [shop.origin] } });
  assert.equal(r.status, 200, r.text);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await shop?.close();
});

async function checkout(amount, capture_method = 'automatic') {
  const pi = await api('POST', '/v1/payment_intents', {
    key: merchant.secret_key, body: { amount, currency: 'CHF', provider: 'stripe', capture_method }, idem: randomUUID(),
  });
  assert.equal(pi.status, 200, pi.text);
  const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${shop.origin}/?cs=${encodeURIComponent(pi.json.client_secret)}`);
  await page.waitForFunction(() => events.some((e) => e.type === 'checkout:ready'));
  return { page, pi: pi.json, errors, field: page.frameLocator('#checkout iframe').first() };
}

async function pay(page, field, number) {
  await field.getByLabel('Card number').pressSequentially(number);
  await field.getByLabel('Expiry (MM / YY)').pressSequentially('12 / 34');
  await field.getByLabel('CVC').pressSequentially('123');
  await page.getByRole('button', { name: /^Pay / }).click();
}

const outcome = (page, type) => page.waitForFunction((t) => events.find((e) => e.type === t), type, { timeout: 15000 });
const challenge = (page, button) => page.frameLocator('[role="dialog"] iframe').getByRole('button', { name: button }).click();
const status = async (pi) => (await api('GET', `/v1/payment_intents/${pi.id}`, { key: merchant.secret_key })).json;

test('4242: the customer pays in the hosted field; the page hears checkout:succeeded', async () => {
  const { page, pi, errors, field } = await checkout('19.90');
  assert.match(await page.getByRole('button', { name: /^Pay / }).textContent(), /^Pay CHF\s19\.90$/);
  await pay(page, field, '4242 4242 4242 4242');
  const ev = await (await outcome(page, 'checkout:succeeded')).jsonValue();
  assert.deepEqual(ev.detail, { payment_intent: pi.id, status: 'succeeded' });
  assert.match(await page.getByRole('status').textContent(), /Payment received/);
  assert.equal((await status(pi)).status, 'succeeded');
  // No card data ever reached the merchant's page.
  const html = await page.content();
  assert.ok(!html.includes('4242 4242') && !html.includes('4242424242424242'));
  assert.deepEqual(errors, []);
});

for (const card of ['4000 0025 0000 3155', '4000 0000 0000 3220']) {
  test(`${card}: 3-D Secure completed → succeeded; failed → a message and another try`, async () => {
    const ok = await checkout('30.00');
    await pay(ok.page, ok.field, card);
    await challenge(ok.page, 'Complete authentication');
    await outcome(ok.page, 'checkout:succeeded');
    assert.equal((await status(ok.pi)).status, 'succeeded');

    const ko = await checkout('30.00');
    await pay(ko.page, ko.field, card);
    await challenge(ko.page, 'Fail authentication');
    await outcome(ko.page, 'checkout:failed');
    const pi = await status(ko.pi);
    assert.equal(pi.status, 'requires_payment_method');
    assert.match(await ko.page.getByRole('alert').textContent(), /Try again/);
    assert.equal(await ko.page.getByRole('button', { name: /^Pay / }).isEnabled(), true, 'the customer can try again');
  });
}

test('4000 0084 0000 1629: declined after 3-D Secure, said plainly', async () => {
  const { page, pi, field } = await checkout('45.00');
  await pay(page, field, '4000 0084 0000 1629');
  await challenge(page, 'Complete authentication');
  await outcome(page, 'checkout:failed');
  assert.match(await page.getByRole('alert').textContent(), /Your card was declined/);
  assert.equal((await status(pi)).status, 'requires_payment_method');
});

test('manual capture: the page hears checkout:requires_capture and the hold is on the intent', async () => {
  const { page, pi, field } = await checkout('300.00', 'manual');
  await pay(page, field, '4242 4242 4242 4242');
  await outcome(page, 'checkout:requires_capture');
  const held = await status(pi);
  assert.equal(held.status, 'requires_capture');
  assert.equal(held.amount_capturable, '300.00');
});
