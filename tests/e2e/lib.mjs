// Helpers for end-to-end tests: the stack's URLs come from tests/tools/e2e.mjs.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The Worker the helpers talk to: the stack's, unless a test file chose its own (useWorker). */
export let WORKER = process.env.WORKER_URL;
export const STRIPE = process.env.STRIPE_URL;
export const ADMIN = process.env.ADMIN_TOKEN;
export const STATE_DIR = process.env.STATE_DIR;
export const WORKER_LOG = process.env.WORKER_LOG;
export const PROXY = process.env.STRIPE_PROXY_URL;
if (!WORKER) throw new Error('run the end-to-end tests through tests/tools/e2e.mjs (make test)');
/** Points this test file's helpers at another Worker (each file runs in its own process). */
export function useWorker(url) { WORKER = url; }

/** One API call. `body` objects are sent as JSON; strings as they are. */
export async function api(method, path, { key, body, headers = {}, idem } = {}) {
  const h = { ...headers };
  if (key) h.authorization = `Bearer ${key}`;
  if (idem) h['idempotency-key'] = idem;
  let payload;
  if (body !== undefined) {
    h['content-type'] ??= 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let r = await fetch(WORKER + path, { method, headers: h, body: payload });
  let text = await r.text();
  // `wrangler dev` answers a POST it cut off by reloading the Worker with this 503
  // (it retries only GET and HEAD). One CI run saw the shared Worker reload without a
  // file change, mid-test. A request with an idempotency key is sent again under the
  // same key, as any client of the API would: the answer is the one first made, or the
  // request is made once now. Without a key, the 503 stands; so it does on a Worker a
  // test file started itself (tests/e2e/restarts.test.mjs restarts its own on purpose).
  if (r.status === 503 && idem && WORKER === process.env.WORKER_URL
      && text.startsWith('Your worker restarted mid-request')) {
    console.error(`# ${method} ${path}: the Worker reloaded mid-request; sent again under the same idempotency key`);
    r = await fetch(WORKER + path, { method, headers: h, body: payload });
    text = await r.text();
  }
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, json, text, headers: r.headers };
}

/** A fresh merchant with its keys. */
export async function newMerchant(name = `Shop ${randomUUID().slice(0, 8)}`, extra = {}) {
  const r = await api('POST', '/v1/merchants', {
    key: ADMIN, body: { name, country: 'CH', default_currency: 'CHF', ...extra },
  });
  if (r.status !== 201) throw new Error(`merchant: ${r.status} ${r.text}`);
  return r.json;
}

export const STRIPE_TEST_ACCOUNT = {
  mode: 'direct',
  secret_key: 'sk_test_localstripe0000000000004242',
  publishable_key: 'pk_test_localstripe000000000000',
  webhook_secret: 'whsec_local0000000000000000',
};

/** Asserts the contract's error shape and returns the error object. */
export function errorOf(assert, r, status, type) {
  assert.equal(r.status, status, r.text);
  assert.ok(r.json?.error, `error shape: ${r.text}`);
  assert.equal(typeof r.json.error.code, 'string');
  assert.equal(typeof r.json.error.message, 'string');
  if (type) assert.equal(r.json.error.type, type);
  return r.json.error;
}

/**
 * A tiny static server on loopback: a merchant's shop on another origin. A route is
 * HTML, or a function of the request returning HTML or `{body, headers}`.
 */
export async function serveOrigin(routes) {
  const server = http.createServer((req, res) => {
    const page = routes[new URL(req.url, 'http://x').pathname];
    if (!page) { res.writeHead(404); res.end(); return; }
    const out = typeof page === 'function' ? page(req) : page;
    const { body, headers } = typeof out === 'string' ? { body: out, headers: {} } : out;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...headers });
    res.end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return { origin: `http://127.0.0.1:${port}`, localhostOrigin: `http://localhost:${port}`, close: () => new Promise((r) => server.close(r)) };
}

/** Debian's Chromium through playwright-core; never a downloaded browser. */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/** Straight to localstripe with a secret key, form-encoded. */
export async function stripe(method, path, form) {
  const r = await fetch(`${STRIPE}${path}`, {
    method,
    headers: { authorization: 'Bearer sk_test_e2e', 'content-type': 'application/x-www-form-urlencoded' },
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
  return r.json();
}

/** A PaymentMethod for a test card, as Stripe's hosted field would hand the widget. */
export async function paymentMethod(number) {
  const pm = await stripe('POST', '/v1/payment_methods', {
    type: 'card', 'card[number]': number, 'card[exp_month]': '12', 'card[exp_year]': '2034', 'card[cvc]': '123',
  });
  assert.match(pm.id, /^pm_/, JSON.stringify(pm));
  return pm.id;
}

export async function stripeMerchant(account = STRIPE_TEST_ACCOUNT) {
  const m = await newMerchant();
  const r = await api('PUT', '/v1/merchants/me/providers/stripe', { key: m.secret_key, body: account });
  assert.equal(r.status, 200, r.text);
  return m;
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

/**
 * axe-core's WCAG 2.2 AA violations within `include` (selectors; the whole document
 * when empty), as `id (impact): target — summary` lines. The provider's iframes are
 * the provider's: not descended into.
 */
export async function axeViolations(page, include = []) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.addScriptTag({ content: AXE_SOURCE });
  const r = await page.evaluate(async ({ include, tags }) => {
    const context = include.length ? { include: include.filter((s) => document.querySelector(s)) } : document;
    const res = await window.axe.run(context, { runOnly: tags, iframes: false, resultTypes: ['violations'] });
    return { passes: res.passes.length, violations: res.violations.flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(' ')} — ${n.failureSummary}`)) };
  }, { include, tags: AXE_TAGS });
  return r.violations;
}
