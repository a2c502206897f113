// Merchants, provider keys and the API's ground rules (API.md, Conventions and
// Merchants): auth scopes, sealing at rest, tenant isolation, idempotency, CORS,
// strict bodies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  api, errorOf, newMerchant, stripeMerchant, launchBrowser, WORKER, ADMIN, STATE_DIR, WORKER_LOG, STRIPE_TEST_ACCOUNT,
} from './lib.mjs';

const intentBody = { amount: '49.90', currency: 'CHF', provider: 'stripe', capture_method: 'manual' };

function filesUnder(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    try {
      return statSync(p).isDirectory() ? filesUnder(p) : [p];
    } catch (e) {
      if (e.code === 'ENOENT') return []; // gone between the listing and the look
      throw e;
    }
  });
}

/** Every place a plaintext could leak to on this machine: D1's files and the Worker's log. */
function leaks(needle) {
  const found = [];
  for (const f of filesUnder(STATE_DIR)) {
    let bytes;
    // SQLite's -shm/-wal files come and go while objects sleep and wake.
    try { bytes = readFileSync(f); } catch (e) { if (e.code === 'ENOENT') continue; throw e; }
    if (bytes.includes(Buffer.from(needle))) found.push(f);
  }
  if (readFileSync(WORKER_LOG).includes(Buffer.from(needle))) found.push(WORKER_LOG);
  return found;
}

test('onboarding needs the admin token; keys are shown once and have the contract prefixes', async () => {
  errorOf(assert, await api('POST', '/v1/merchants', { body: { name: 'A', country: 'CH', default_currency: 'CHF' } }), 401, 'authentication_error');
  errorOf(assert, await api('POST', '/v1/merchants', { key: `${ADMIN}x`, body: { name: 'A', country: 'CH', default_currency: 'CHF' } }), 401, 'authentication_error');
  const m = await newMerchant();
  errorOf(assert, await api('POST', '/v1/merchants', { key: m.secret_key, body: { name: 'A', country: 'CH', default_currency: 'CHF' } }), 401, 'authentication_error');
  assert.match(m.id, /^acct_/);
  // The key's body starts with the merchant id's (so the Worker finds the merchant's
  // object without a lookup), then 33 random base62 digits.
  const idBody = m.id.slice('acct_'.length);
  assert.match(m.secret_key, new RegExp(`^sk_test_${idBody}[0-9A-Za-z]{33}$`));
  assert.match(m.publishable_key, new RegExp(`^pk_test_${idBody}[0-9A-Za-z]{33}$`));
  const me = await api('GET', '/v1/merchants/me', { key: m.secret_key });
  assert.equal(me.status, 200);
  assert.equal(me.json.id, m.id);
  assert.equal(me.json.platform_fee, '0.50');
  assert.deepEqual(me.json.allowed_origins, []);
  assert.ok(!me.text.includes(m.secret_key) && !me.text.includes(m.publishable_key), 'keys are never shown again');
  assert.deepEqual(leaks(m.secret_key), [], 'the secret key is stored only as a hash');
  errorOf(assert, await api('POST', '/v1/merchants', { key: ADMIN, body: { name: 'A', country: 'Switzerland', default_currency: 'CHF' } }), 400);
  errorOf(assert, await api('POST', '/v1/merchants', { key: ADMIN, body: { name: 'A', country: 'CH', default_currency: 'XXX' } }), 400);
});

test('provider secrets are sealed at rest, read back masked, and never logged', async () => {
  const m = await newMerchant();
  const tag = randomUUID().replaceAll('-', '');
  const secrets = {
    stripe: { ...STRIPE_TEST_ACCOUNT, secret_key: `sk_test_${tag}SEALED4242`, webhook_secret: `whsec_${tag}HOOK9876` },
    worldpay: { username: `wpuser${tag}`, password: `wp-pass-${tag}`, entity: 'default', webhook_secret: `wp-hook-${tag}` },
    cashcloud: { username: 'shop@example.com', password: `cc-pass-${tag}`, api_password: `cc-api-${tag}`, plan: 'corporate' },
  };
  for (const [provider, body] of Object.entries(secrets)) {
    const r = await api('PUT', `/v1/merchants/me/providers/${provider}`, { key: m.secret_key, body });
    assert.equal(r.status, 200, `${provider}: ${r.text}`);
  }
  const list = await api('GET', '/v1/merchants/me/providers', { key: m.secret_key });
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.data.map((p) => p.provider), ['cashcloud', 'stripe', 'worldpay']);
  const stripe = list.json.data.find((p) => p.provider === 'stripe');
  assert.equal(stripe.secret_key, 'sk_test_…4242');
  assert.equal(stripe.webhook_secret, 'whsec_…9876');
  assert.equal(stripe.publishable_key, STRIPE_TEST_ACCOUNT.publishable_key, 'publishable keys are not secret');
  for (const needle of [tag, `sk_test_${tag}`, `wp-pass-${tag}`, `cc-api-${tag}`]) {
    assert.ok(!list.text.includes(needle), `masked view holds ${needle}`);
  }
  // Let the log flush, then look everywhere a copy could have landed.
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(leaks(tag), [], 'a provider secret is readable on disk or in the log');

  const del = await api('DELETE', '/v1/merchants/me/providers/worldpay', { key: m.secret_key });
  assert.equal(del.status, 200);
  const after = await api('GET', '/v1/merchants/me/providers', { key: m.secret_key });
  assert.deepEqual(after.json.data.map((p) => p.provider), ['cashcloud', 'stripe']);
  errorOf(assert, await api('DELETE', '/v1/merchants/me/providers/worldpay', { key: m.secret_key }), 404);
  errorOf(assert, await api('PUT', '/v1/merchants/me/providers/paypal', { key: m.secret_key, body: {} }), 400);
});

test('bad provider keys are refused and change nothing: shapes, and test and live never mix', async () => {
  const m = await stripeMerchant();
  const before = (await api('GET', '/v1/merchants/me/providers', { key: m.secret_key })).text;
  const bad = [
    [{ ...STRIPE_TEST_ACCOUNT, secret_key: 'sk_live_abcdefgh12345678', publishable_key: 'pk_live_abcdefgh' }, 'secret_key'],
    [{ ...STRIPE_TEST_ACCOUNT, publishable_key: 'pk_live_abcdefgh' }, 'publishable_key'],
    [{ ...STRIPE_TEST_ACCOUNT, secret_key: 'not-a-key' }, 'secret_key'],
    // A connected account is never typed in: only the platform's onboarding makes one.
    [{ ...STRIPE_TEST_ACCOUNT, mode: 'connect' }, 'mode'],
    [{ ...STRIPE_TEST_ACCOUNT, mode: 'connect', connected_account_id: 'acct_1SomeoneElse' }, 'mode'],
    [{ ...STRIPE_TEST_ACCOUNT, api_base: 'http://attacker.invalid' }, 'api_base'],
  ];
  for (const [body, param] of bad) {
    const e = errorOf(assert, await api('PUT', '/v1/merchants/me/providers/stripe', { key: m.secret_key, body }), 400, 'invalid_request_error');
    assert.equal(e.param, param, JSON.stringify(e));
  }
  assert.equal((await api('GET', '/v1/merchants/me/providers', { key: m.secret_key })).text, before);
});

test('publishable keys reach only the widget routes, and only with the intent\'s client secret', async () => {
  const m = await stripeMerchant();
  const pi = (await api('POST', '/v1/payment_intents', { key: m.secret_key, body: intentBody })).json;
  errorOf(assert, await api('POST', '/v1/payment_intents', { key: m.publishable_key, body: intentBody }), 403, 'permission_error');
  errorOf(assert, await api('GET', '/v1/payment_intents', { key: m.publishable_key }), 403, 'permission_error');
  errorOf(assert, await api('GET', '/v1/merchants/me', { key: m.publishable_key }), 403, 'permission_error');
  errorOf(assert, await api('PUT', '/v1/merchants/me/providers/stripe', { key: m.publishable_key, body: STRIPE_TEST_ACCOUNT }), 403);
  errorOf(assert, await api('POST', `/v1/payment_intents/${pi.id}/cancel`, { key: m.publishable_key, body: {} }), 403);
  errorOf(assert, await api('GET', `/v1/payment_intents/${pi.id}`, { key: m.publishable_key }), 404);
  errorOf(assert, await api('GET', `/v1/payment_intents/${pi.id}?client_secret=${pi.client_secret}x`, { key: m.publishable_key }), 404);
  const ok = await api('GET', `/v1/payment_intents/${pi.id}?client_secret=${pi.client_secret}`, { key: m.publishable_key });
  assert.equal(ok.status, 200);
  assert.equal(ok.json.id, pi.id);
  errorOf(assert, await api('GET', '/v1/merchants/me', { key: 'sk_test_' + 'A'.repeat(33) }), 401, 'authentication_error');
  errorOf(assert, await api('GET', '/v1/merchants/me', { headers: { authorization: `Basic ${m.secret_key}` } }), 401);
});

test('merchant A cannot see, cancel or list anything of merchant B: 404, as if it did not exist', async () => {
  const a = await stripeMerchant();
  const b = await stripeMerchant();
  const bIntent = (await api('POST', '/v1/payment_intents', { key: b.secret_key, body: intentBody })).json;
  const missing = await api('GET', '/v1/payment_intents/pi_0000000000000000000001', { key: a.secret_key });
  const foreign = await api('GET', `/v1/payment_intents/${bIntent.id}`, { key: a.secret_key });
  errorOf(assert, foreign, 404);
  assert.deepEqual(foreign.json, { error: { ...missing.json.error } }, 'foreign and missing look the same');
  errorOf(assert, await api('GET', `/v1/payment_intents/${bIntent.id}?client_secret=${bIntent.client_secret}`, { key: a.publishable_key }), 404);
  errorOf(assert, await api('POST', `/v1/payment_intents/${bIntent.id}/cancel`, { key: a.secret_key, body: {} }), 404);
  const listA = await api('GET', '/v1/payment_intents?limit=100', { key: a.secret_key });
  assert.ok(listA.json.data.every((p) => p.id !== bIntent.id));
  errorOf(assert, await api('GET', `/v1/payment_intents?starting_after=${bIntent.id}`, { key: a.secret_key }), 400);
  // B's intent is untouched.
  const still = await api('GET', `/v1/payment_intents/${bIntent.id}`, { key: b.secret_key });
  assert.equal(still.json.status, 'requires_payment_method');
  // Each merchant's settings are its own: A's key only ever reaches A.
  assert.equal((await api('GET', '/v1/merchants/me', { key: a.secret_key })).json.id, a.id);
});

test('Idempotency-Key replays the first answer byte for byte; another body is a 409', async () => {
  const m = await stripeMerchant();
  const key = `order-${randomUUID()}`;
  const first = await api('POST', '/v1/payment_intents', { key: m.secret_key, body: intentBody, idem: key });
  assert.equal(first.status, 200);
  const again = await api('POST', '/v1/payment_intents', { key: m.secret_key, body: intentBody, idem: key });
  assert.equal(again.status, first.status);
  assert.equal(again.text, first.text, 'same bytes');
  const other = await api('POST', '/v1/payment_intents', { key: m.secret_key, body: { ...intentBody, amount: '50.00' }, idem: key });
  errorOf(assert, other, 409, 'idempotency_error');
  // Errors replay too: the same bad request gets the same answer.
  const badKey = `bad-${randomUUID()}`;
  const bad1 = await api('POST', '/v1/payment_intents', { key: m.secret_key, body: { ...intentBody, amount: '1.001' }, idem: badKey });
  const bad2 = await api('POST', '/v1/payment_intents', { key: m.secret_key, body: { ...intentBody, amount: '1.001' }, idem: badKey });
  assert.equal(bad1.status, 400);
  assert.equal(bad2.text, bad1.text);
  errorOf(assert, await api('POST', '/v1/payment_intents', { key: m.secret_key, body: intentBody, idem: 'k'.repeat(256) }), 400);
  const list = await api('GET', '/v1/payment_intents?limit=100', { key: m.secret_key });
  assert.equal(list.json.data.length, 1, 'one intent for all of it');
});

test('a racing pair with one Idempotency-Key creates exactly one intent', async () => {
  const m = await stripeMerchant();
  for (let round = 0; round < 3; round++) {
    const key = `race-${randomUUID()}`;
    const results = await Promise.all(Array.from({ length: 4 }, () =>
      api('POST', '/v1/payment_intents', { key: m.secret_key, body: intentBody, idem: key })));
    for (const r of results) assert.equal(r.status, 200, r.text);
    assert.equal(new Set(results.map((r) => r.text)).size, 1, 'every twin sees the same intent');
  }
  const list = await api('GET', '/v1/payment_intents?limit=100', { key: m.secret_key });
  assert.equal(list.json.data.length, 3);
});

test('a rolled secret key stops working at once; the new one works', async () => {
  const m = await newMerchant();
  const rolled = await api('POST', '/v1/merchants/me/keys/roll', { key: m.secret_key, body: {} });
  assert.equal(rolled.status, 200, rolled.text);
  assert.match(rolled.json.secret_key, /^sk_test_/);
  assert.notEqual(rolled.json.secret_key, m.secret_key);
  errorOf(assert, await api('GET', '/v1/merchants/me', { key: m.secret_key }), 401, 'authentication_error');
  assert.equal((await api('GET', '/v1/merchants/me', { key: rolled.json.secret_key })).status, 200);
  // The publishable key is unaffected.
  assert.equal((await api('GET', '/v1/merchants/me', { key: m.publishable_key })).status, 403);
});

test('unknown fields, wrong types, bad JSON and oversized bodies are 400s that write nothing', async () => {
  const m = await stripeMerchant();
  const cases = [
    [{ ...intentBody, amout: '1.00' }, 'parameter_unknown', 'amout'],
    [{ ...intentBody, amount: 12.5 }, 'parameter_invalid'],
    [{ ...intentBody, provider: 'paypal' }, 'parameter_invalid'],
    [{ currency: 'CHF', provider: 'stripe' }, 'parameter_missing', 'amount'],
    ['{"amount": "1.00",', 'invalid_json'],
    [JSON.stringify({ ...intentBody, description: 'x'.repeat(70 * 1024) }), 'body_too_large'],
  ];
  for (const [body, code, param] of cases) {
    const e = errorOf(assert, await api('POST', '/v1/payment_intents', { key: m.secret_key, body }), 400, 'invalid_request_error');
    assert.equal(e.code, code, JSON.stringify(e));
    if (param) assert.equal(e.param, param);
  }
  const list = await api('GET', '/v1/payment_intents', { key: m.secret_key });
  assert.equal(list.json.data.length, 0);
  errorOf(assert, await api('PATCH', '/v1/merchants/me', { key: m.secret_key, body: { allowed_origins: ['https://shop.example/path'] } }), 400);
  errorOf(assert, await api('PATCH', '/v1/merchants/me', { key: m.secret_key, body: { platform_fee: '0.00' } }), 400);
  assert.equal((await api('GET', '/v1/merchants/me', { key: m.secret_key })).json.platform_fee, '0.50');
});

test('CORS: widget routes answer only allowed origins; secret-key routes answer no other origin', async () => {
  const m = await stripeMerchant();
  const shop = 'https://shop.example';
  await api('PATCH', '/v1/merchants/me', { key: m.secret_key, body: { allowed_origins: [shop] } });
  const pi = (await api('POST', '/v1/payment_intents', { key: m.secret_key, body: intentBody })).json;
  const preflight = (origin) => fetch(`${WORKER}/v1/payment_intents/${pi.id}`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
  });
  const good = await preflight(shop);
  assert.equal(good.status, 204);
  assert.equal(good.headers.get('access-control-allow-origin'), shop);
  assert.match(good.headers.get('access-control-allow-headers'), /authorization/);
  const evil = await preflight('https://evil.example');
  assert.equal(evil.status, 403);
  assert.equal(evil.headers.get('access-control-allow-origin'), null);

  const read = (origin, key) => api('GET', `/v1/payment_intents/${pi.id}?client_secret=${pi.client_secret}`, { key, headers: { origin } });
  const allowed = await read(shop, m.publishable_key);
  assert.equal(allowed.status, 200);
  assert.equal(allowed.headers.get('access-control-allow-origin'), shop);
  const refused = await read('https://evil.example', m.publishable_key);
  errorOf(assert, refused, 403, 'permission_error');
  assert.equal(refused.headers.get('access-control-allow-origin'), null);
  // A secret key used from any browser origin, even an allowed one, is refused.
  const skFromBrowser = await api('GET', '/v1/merchants/me', { key: m.secret_key, headers: { origin: shop } });
  errorOf(assert, skFromBrowser, 403, 'permission_error');
  assert.equal(skFromBrowser.headers.get('access-control-allow-origin'), null);
  const skPreflight = await fetch(`${WORKER}/v1/merchants/me`, { method: 'OPTIONS', headers: { origin: shop, 'access-control-request-method': 'GET' } });
  assert.equal(skPreflight.headers.get('access-control-allow-origin'), null);
});

test('?key=pk_… on a widget GET: no header, so no preflight; a secret key, both places or another method refused', async () => {
  const m = await stripeMerchant();
  const other = await stripeMerchant();
  const shop = 'https://shop.example';
  for (const x of [m, other]) await api('PATCH', '/v1/merchants/me', { key: x.secret_key, body: { allowed_origins: [shop] } });
  const pi = (await api('POST', '/v1/payment_intents', { key: m.secret_key, body: intentBody })).json;
  const cs = encodeURIComponent(pi.client_secret);
  const get = (tail, query, headers = {}) => api('GET', `/v1/payment_intents/${pi.id}${tail}?client_secret=${cs}&${query}`, { headers: { origin: shop, ...headers } });

  const checkout = await get('/checkout', `key=${m.publishable_key}`);
  assert.equal(checkout.status, 200, checkout.text);
  assert.equal(checkout.json.payment_intent.id, pi.id);
  assert.equal(checkout.headers.get('access-control-allow-origin'), shop);
  const intent = await get('', `key=${encodeURIComponent(m.publishable_key)}`);
  assert.equal(intent.status, 200, intent.text);
  assert.equal(intent.json.id, pi.id);
  // Another merchant's publishable key sees nothing of this one's.
  errorOf(assert, await get('', `key=${other.publishable_key}`), 404);
  // A secret key never rides in a URL, even the right one.
  const sk = await get('', `key=${m.secret_key}`);
  errorOf(assert, sk, 401, 'authentication_error');
  assert.match(sk.json.error.message, /publishable key/);
  assert.ok(!sk.text.includes(m.secret_key));
  errorOf(assert, await get('', `key=${m.publishable_key}`, { authorization: `Bearer ${m.publishable_key}` }), 400, 'invalid_request_error');
  errorOf(assert, await get('', 'key=pk_test_nonsense'), 401, 'authentication_error');
  errorOf(assert, await get('', 'key='), 401, 'authentication_error');
  // The POST keeps its header: `?key=` there is refused, and nothing is confirmed.
  const post = await api('POST', `/v1/payment_intents/${pi.id}/confirm?key=${m.publishable_key}`, {
    headers: { origin: shop }, body: { client_secret: pi.client_secret, payment_method: 'pm_card_visa' },
  });
  errorOf(assert, post, 400, 'invalid_request_error');
  assert.equal(post.json.error.param, 'key');
  assert.equal((await api('GET', `/v1/payment_intents/${pi.id}`, { key: m.secret_key })).json.status, 'requires_payment_method');
});

test('the settings page sets provider keys and shows them masked, by keyboard', async () => {
  const m = await newMerchant();
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(`${WORKER}/settings.html`);
    await page.locator('#secret-key').fill(m.secret_key);
    await page.keyboard.press('Enter');
    await page.locator('#pf-id').filter({ hasText: m.id }).waitFor();
    const tag = randomUUID().slice(0, 8);
    await page.locator('#st-secret_key').fill(`sk_test_${tag}abcdefgh7777`);
    await page.locator('#st-publishable_key').fill('pk_test_settingspage');
    await page.locator('#st-webhook_secret').fill(`whsec_${tag}zzzz5555`);
    await page.locator('#st-webhook_secret').press('Enter');
    await page.locator('#provider-list').getByText('sk_test_…7777').waitFor();
    const listText = await page.locator('#provider-list').textContent();
    assert.ok(!listText.includes(tag), 'the page shows only the masked values');
    assert.equal(await page.locator('#st-secret_key').inputValue(), '', 'secret inputs are cleared after saving');
    const stored = await api('GET', '/v1/merchants/me/providers', { key: m.secret_key });
    assert.equal(stored.json.data[0].secret_key, 'sk_test_…7777');
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
  } finally {
    await browser.close();
  }
});

test('the settings page starts Stripe Connect onboarding: no keys asked, the merchant goes to Stripe', async () => {
  const m = await newMerchant();
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    // Stripe's onboarding page is not on loopback: the test stops at the navigation.
    await page.route('https://connect.stripe.com/**', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<title>Stripe onboarding</title>' }));
    await page.goto(`${WORKER}/settings.html`);
    await page.locator('#secret-key').fill(m.secret_key);
    await page.keyboard.press('Enter');
    await page.locator('#pf-id').filter({ hasText: m.id }).waitFor();
    await page.locator('#st-mode-connect').check();
    assert.equal(await page.locator('#st-secret_key').isVisible(), false, 'no Stripe keys in connect mode');
    const navigated = page.waitForURL(/^https:\/\/connect\.stripe\.com\/setup\/e\/acct_1/);
    await page.locator('#st-connect').press('Enter');
    await navigated;
    const [acct] = (await api('GET', '/v1/merchants/me/providers', { key: m.secret_key })).json.data;
    assert.equal(acct.mode, 'connect');
    assert.ok(page.url().includes(acct.connected_account_id));
  } finally {
    await browser.close();
  }
});

test('the admin sets a merchant\'s platform_fee: it applies from the next intent on, and bad values change nothing', async () => {
  const m = await stripeMerchant();
  const make = async () => (await api('POST', '/v1/payment_intents', {
    key: m.secret_key, body: { amount: '20.00', currency: 'CHF', provider: 'stripe' }, idem: randomUUID(),
  })).json;
  const before = await make();
  assert.equal(before.platform_fee, '0.50');
  const patch = (body, key = ADMIN, id = m.id) => api('PATCH', `/v1/merchants/${id}`, { key, body });
  for (const fee of ['-1', '0.505', '100.01', 'abc', '']) {
    const e = errorOf(assert, await patch({ platform_fee: fee }), 400);
    assert.equal(e.param, 'platform_fee', fee);
  }
  errorOf(assert, await patch({ platform_fee: '0.30', name: 'x' }), 400);
  errorOf(assert, await patch({ platform_fee: '0.30' }, m.secret_key), 401);
  errorOf(assert, await patch({ platform_fee: '0.30' }, ADMIN, 'acct_0000000000000000000000'), 404);
  assert.equal((await api('GET', '/v1/merchants/me', { key: m.secret_key })).json.platform_fee, '0.50', 'refusals changed nothing');
  // A merchant's own PATCH is still the merchant's, not the admin's.
  assert.equal((await api('PATCH', '/v1/merchants/me', { key: m.secret_key, body: { name: 'Renamed' } })).status, 200);

  const r = await patch({ platform_fee: '0.30' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.id, m.id);
  assert.equal(r.json.platform_fee, '0.30');
  assert.equal((await api('GET', '/v1/merchants/me', { key: m.secret_key })).json.platform_fee, '0.30');
  assert.equal((await make()).platform_fee, '0.30');
  // An intent keeps the fee it was made with.
  assert.equal((await api('GET', `/v1/payment_intents/${before.id}`, { key: m.secret_key })).json.platform_fee, '0.50');
});
