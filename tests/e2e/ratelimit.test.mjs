// Abuse limits on the public routes (edge-worker/src/ratelimit.rs), on a Worker of its
// own: the stack's Worker has generous limits (every test comes from 127.0.0.1), this
// one a low per-IP limit on the widget's routes (the Worker's own counter, set by a
// var) and, for callbacks per merchant, the rate-limiting binding of wrangler.toml as
// wrangler dev simulates it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { api, errorOf, stripeMerchant, useWorker, STATE_DIR, WORKER, WORKER_LOG } from './lib.mjs';
import { intent } from './payments.mjs';
import { startWorker, workerVars } from '../tools/stack.mjs';

const WIDGET_PER_IP = 5;
/** wrangler.toml's RL_WEBHOOK_MERCHANT: 1200 per 60 s. */
const WEBHOOK_PER_MERCHANT = 1200;

let worker, dir;
before(async () => {
  dir = mkdtempSync(path.join(path.dirname(STATE_DIR), 'ratelimit-'));
  const vars = {
    ...workerVars({
      stripeProxyUrl: process.env.STRIPE_PROXY_URL, stripeJsUrl: process.env.STRIPE_JS_URL,
      cashcloudUrl: process.env.CASHCLOUD_URL, worldpayUrl: process.env.WORLDPAY_URL,
    }),
    ADMIN_TOKEN: process.env.ADMIN_TOKEN, MASTER_KEY: process.env.MASTER_KEY,
    RATE_LIMIT_WIDGET_PER_IP: `${WIDGET_PER_IP}/60`,
  };
  // No var: the binding counts.
  delete vars.RATE_LIMIT_WEBHOOK_PER_MERCHANT;
  worker = await startWorker({ port: Number(new URL(WORKER).port) + 2, stateDir: path.join(dir, 'state'), vars, logFile: WORKER_LOG });
  useWorker(worker.url);
});
after(async () => {
  await worker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const retryAfter = (r) => Number(r.headers.get('retry-after'));

test('the widget routes answer 429 rate_limit_error with Retry-After past the per-IP limit; server routes are not limited', async () => {
  const m = await stripeMerchant();
  const pi = await intent(m, '10.00');
  const read = () => api('GET', `/v1/payment_intents/${pi.id}?client_secret=${pi.client_secret}`, { key: m.publishable_key });
  // The window may turn over during the burst (the counter is per minute): then the
  // limit is allowed once more, never more.
  const statuses = [];
  let limited;
  while (!limited && statuses.length < 2 * WIDGET_PER_IP + 1) {
    const r = await read();
    statuses.push(r.status);
    if (r.status === 429) limited = r;
  }
  assert.ok(limited, `no 429 after ${statuses.length} reads: ${statuses}`);
  const passed = statuses.filter((s) => s === 200).length;
  assert.ok(passed >= WIDGET_PER_IP && passed <= 2 * WIDGET_PER_IP, `${passed} reads before the 429`);
  const e = errorOf(assert, limited, 429, 'rate_limit_error');
  assert.equal(e.code, 'rate_limited');
  assert.ok(retryAfter(limited) >= 1 && retryAfter(limited) <= 60, limited.headers.get('retry-after'));
  assert.equal(limited.headers.get('access-control-allow-origin'), '*');
  // The preflight and the confirm are widget routes too, from the same IP.
  errorOf(assert, await api('OPTIONS', `/v1/payment_intents/${pi.id}/confirm`, { headers: { origin: 'http://127.0.0.1:1' } }), 429, 'rate_limit_error');
  // The merchant's server (secret key) is not a public route: no limit.
  const own = await api('GET', '/v1/payment_intents', { key: m.secret_key });
  assert.equal(own.status, 200, own.text);
});

test('a provider callback path answers 429 past the per-merchant binding limit; another merchant is not affected', async () => {
  const hook = (merchant) => api('POST', `/v1/webhooks/stripe/${merchant}`, {
    body: '{"id":"evt_1","type":"payment_intent.succeeded"}', headers: { 'stripe-signature': 't=1,v1=00' },
  });
  const flooded = 'acct_ratelimitflood0001';
  let passed = 0;
  let limited;
  // Concurrent batches, as a flood would come; stop at the first 429.
  while (!limited && passed <= 2 * WEBHOOK_PER_MERCHANT) {
    const batch = await Promise.all(Array.from({ length: 20 }, () => hook(flooded)));
    for (const r of batch) {
      if (r.status === 429) limited ??= r;
      else {
        assert.notEqual(r.status, 200, 'a bad signature is never accepted');
        passed++;
      }
    }
  }
  assert.ok(limited, `no 429 after ${passed} callbacks`);
  assert.ok(passed >= WEBHOOK_PER_MERCHANT && passed <= 2 * WEBHOOK_PER_MERCHANT, `${passed} callbacks before the 429`);
  errorOf(assert, limited, 429, 'rate_limit_error');
  assert.ok(retryAfter(limited) >= 1 && retryAfter(limited) <= 60);
  // The limit is per merchant: another merchant's callbacks still reach its object.
  const other = await hook('acct_ratelimitother0001');
  assert.ok([400, 401].includes(other.status), other.text);
});
