// Foundation: the Worker in workerd answers in the contract's shape, describes itself,
// serves the widget, and the widget mounts from one script tag on another origin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, errorOf, newMerchant, serveOrigin, launchBrowser, WORKER, STRIPE_TEST_ACCOUNT } from './lib.mjs';

test('GET /health answers 200 with JSON', async () => {
  const r = await api('GET', '/health');
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'ok');
  assert.match(r.headers.get('content-type'), /^application\/json/);
});

test('unknown routes are 404 and wrong methods 405, both in the error shape', async () => {
  const e404 = errorOf(assert, await api('GET', '/v1/nothing-here'), 404, 'invalid_request_error');
  assert.equal(e404.code, 'route_not_found');
  const e405 = errorOf(assert, await api('DELETE', '/health'), 405, 'invalid_request_error');
  assert.equal(e405.code, 'method_not_allowed');
});

test('/openapi.json is OpenAPI 3.1 and every documented operation is routed', async () => {
  const r = await api('GET', '/openapi.json');
  assert.equal(r.status, 200);
  const doc = r.json;
  assert.equal(doc.openapi, '3.1.0');
  const ops = Object.entries(doc.paths).flatMap(([p, item]) =>
    Object.keys(item).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map((m) => [m.toUpperCase(), p]));
  assert.ok(ops.length >= 10, `only ${ops.length} operations documented`);
  for (const [method, p] of ops) {
    const path = p.replace(/\{[^}]+\}/g, 'x_1');
    const res = await api(method, path, method === 'GET' ? {} : { body: {} });
    const code = res.json?.error?.code;
    assert.notEqual(code, 'route_not_found', `${method} ${p} is documented but not routed`);
    assert.notEqual(code, 'method_not_allowed', `${method} ${p} is documented but not routed`);
  }
});

test('a bad amount is rejected with invalid_amount and param amount', async () => {
  const m = await newMerchant();
  await api('PUT', '/v1/merchants/me/providers/stripe', { key: m.secret_key, body: STRIPE_TEST_ACCOUNT });
  const messages = new Set();
  for (const [amount, currency] of [['12.345', 'CHF'], ['0', 'CHF'], ['-1', 'CHF'], ['1e3', 'CHF'], ['5.5', 'JPY']]) {
    const r = await api('POST', '/v1/payment_intents', {
      key: m.secret_key, body: { amount, currency, provider: 'stripe', capture_method: 'automatic' },
    });
    const e = errorOf(assert, r, 400, 'invalid_request_error');
    assert.equal(e.code, 'invalid_amount', `${amount} ${currency}`);
    assert.equal(e.param, 'amount');
    messages.add(e.message);
  }
  assert.equal(messages.size, 5, 'each bad amount gets its own explanation');
  const list = await api('GET', '/v1/payment_intents', { key: m.secret_key });
  assert.equal(list.json.data.length, 0, 'nothing was created');
});

test('the widget files are served with the right types and cross-origin headers', async () => {
  const js = await fetch(`${WORKER}/v1/checkout.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /javascript/);
  assert.equal(js.headers.get('access-control-allow-origin'), '*');
  const src = await js.text();
  const wasmName = src.match(/checkout-[0-9a-f]{16}\.wasm/)?.[0];
  assert.ok(wasmName, 'checkout.js names its content-hashed wasm');
  const wasm = await fetch(`${WORKER}/v1/${wasmName}`);
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  assert.equal(wasm.headers.get('access-control-allow-origin'), '*');
  assert.match(wasm.headers.get('cache-control'), /immutable/);
  assert.ok(WebAssembly.validate(new Uint8Array(await wasm.arrayBuffer())));
  // The ES module and its types beside it, and the manifest for pinning.
  const mjs = await fetch(`${WORKER}/v1/checkout.mjs`);
  assert.equal(mjs.status, 200);
  assert.match(mjs.headers.get('content-type'), /javascript/, 'module scripts need a JavaScript MIME type');
  assert.match(await mjs.text(), /export\s*\{[^}]*\bmount\b/);
  const dts = await fetch(`${WORKER}/v1/checkout.d.ts`);
  assert.match(await dts.text(), /export function mount\(target: Element \| string, options: MountOptions\): CheckoutHandle;/);
  const manifest = await (await fetch(`${WORKER}/v1/checkout.json`)).json();
  assert.deepEqual(Object.keys(manifest).slice(0, 4), ['version', 'url', 'module_url', 'integrity']);
  assert.ok(src.includes(wasmName) && (await (await fetch(`${WORKER}${manifest.url}`)).text()) === src,
    'the versioned script is the current one, byte for byte');
});

test('the demo shop is served at /', async () => {
  const r = await fetch(`${WORKER}/`);
  assert.equal(r.status, 200);
  assert.match(await r.text(), /<script[^>]+checkout\.js/);
});

test('one script tag on another origin mounts the widget and shows the amount in the customer locale', async () => {
  const m = await newMerchant();
  assert.equal((await api('PUT', '/v1/merchants/me/providers/stripe', { key: m.secret_key, body: STRIPE_TEST_ACCOUNT })).status, 200);
  const shop = await serveOrigin({
    '/': (req) => {
      const secret = new URL(req.url, 'http://x').searchParams.get('cs');
      return `<!doctype html><html lang="de"><title>Shop</title><div id="checkout"></div>
<script src="${WORKER}/v1/checkout.js" data-publishable-key="${m.publishable_key}" data-client-secret="${secret}" data-target="#checkout" async></script>`;
    },
  });
  const browser = await launchBrowser();
  try {
    assert.equal((await api('PATCH', '/v1/merchants/me', { key: m.secret_key, body: { allowed_origins: [shop.origin] } })).status, 200);
    const pi = await api('POST', '/v1/payment_intents', {
      key: m.secret_key, body: { amount: '1234.50', currency: 'CHF', provider: 'stripe', capture_method: 'automatic' },
    });
    assert.equal(pi.status, 200, pi.text);
    const page = await (await browser.newContext({ locale: 'de-CH' })).newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const reads = [];
    page.on('request', (r) => { if (r.method() === 'GET' && r.url().includes(`/v1/payment_intents/${pi.json.id}`)) reads.push(r); });
    await page.goto(`${shop.origin}/?cs=${encodeURIComponent(pi.json.client_secret)}`);
    const root = page.locator('#checkout .ec-checkout');
    await root.waitFor();
    await page.waitForFunction(() => document.querySelector('#checkout .ec-checkout')?.dataset.state === 'requires_payment_method');
    const shown = await page.locator('#checkout .ec-amount').textContent();
    // de-CH: "CHF 1'234.50" — Swiss grouping, exact digits, no float rounding.
    assert.match(shown, /^CHF\s1['’]234\.50$/);
    assert.equal(await root.getAttribute('data-amount'), '1234.50');
    // The page's lang="de" speaks German on the button too: "Bezahlen CHF 1'234.50". The
    // state is shown as soon as the intent is read; the button only once Stripe's card
    // field is mounted (one CI run read it before: empty), so wait for it.
    const pay = page.locator('#checkout .ec-pay');
    await pay.waitFor({ state: 'visible' });
    assert.match(await pay.textContent(), /^Bezahlen CHF\s1['’]234\.50$/);
    // The widget's own time in mount(), as Performance API measures.
    const own = await page.evaluate(() => performance.getEntriesByName('checkout:mount', 'measure').map((e) => e.duration));
    assert.ok(own.length >= 2 && own.every((d) => d >= 0), JSON.stringify(own));
    assert.deepEqual(errors, []);
    // `…/checkout` went out as a CORS "simple" request: the key in `?key=`, no header of
    // its own, so the browser sent no preflight before it.
    assert.equal(reads.length, 1, reads.map((r) => r.url()).join(' '));
    assert.match(reads[0].url(), new RegExp(`/checkout\\?client_secret=[^&]+&key=${m.publishable_key}$`));
    assert.deepEqual(Object.keys(await reads[0].allHeaders()).filter((h) => !['accept', 'referer', 'user-agent', 'origin', 'sec-ch-ua', 'sec-ch-ua-mobile', 'sec-ch-ua-platform', 'accept-language', 'accept-encoding', 'connection', 'host', 'sec-fetch-dest', 'sec-fetch-mode', 'sec-fetch-site'].includes(h)), []);

    // The same page on an origin the merchant did not allow: the Worker refuses it.
    const other = await (await browser.newContext()).newPage();
    await other.goto(`${shop.localhostOrigin}/?cs=${encodeURIComponent(pi.json.client_secret)}`);
    await other.waitForFunction(() => document.querySelector('#checkout .ec-checkout')?.dataset.state === 'error');
    assert.equal(await other.locator('#checkout .ec-amount').textContent(), '');
  } finally {
    await browser.close();
    await shop.close();
  }
});
