// Concurrent customers against a running local stack (tests/tools/stack.mjs): each pays,
// is captured and gets part of the money back, through the Worker only — Stripe with and
// without 3-D Secure, Worldpay's hosted page, Cashcloud's wallet — while 20 refunds race
// on one intent. Then our books are laid beside the stand-ins' own records: the ledger
// (`GET /v1/balance_transactions`) and the intents' amounts must equal what Stripe
// (the recording proxy's records and its PaymentIntents), Worldpay and Cashcloud hold, to
// the centime, with every payment made exactly once. Used by `make load` (200 customers,
// tests/tools/load.mjs) and by `make test` (50, tests/e2e/load.test.mjs).
import { randomUUID } from 'node:crypto';
import { percentile } from '../bench/load.mjs';

export const KINDS = ['stripe', 'stripe_3ds', 'worldpay', 'cashcloud'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Minor units ↔ the API's decimal strings (two places: CHF and EUR). */
const cents = (s) => Math.round(Number(s) * 100);
const money = (c) => `${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}`;

/**
 * @param {object} env  {worker, stripe, proxy, worldpay, cashcloud, admin}: the stack's URLs and admin token
 * @param {object} o    {customers, raceRefunds = 20, log}
 */
export async function runLoad(env, { customers, raceRefunds = 20, log = () => {} }) {
  const run = randomUUID().slice(0, 8);
  const startDay = new Date().toISOString().slice(0, 10);
  const samples = {}; // operation → latencies (ms)
  let requests = 0;
  let retries = 0;

  /** One API call; POSTs carry an Idempotency-Key and are resent under it when the
   * answer is lost or a 5xx (the contract makes that safe), as a careful client would. */
  async function call(op, method, path, { key, body, idem } = {}) {
    const headers = { authorization: `Bearer ${key}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method === 'POST') headers['idempotency-key'] = idem ?? randomUUID();
    for (let attempt = 0; ; attempt++) {
      const t0 = performance.now();
      let r;
      try {
        const resp = await fetch(env.worker + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
        const text = await resp.text();
        r = { status: resp.status, text, json: text ? JSON.parse(text) : undefined };
      } catch (e) {
        r = { status: 0, text: String(e) };
      }
      requests++;
      (samples[op] ??= []).push(performance.now() - t0);
      if ((r.status === 0 || r.status >= 500) && attempt < 3 && (method === 'POST' || method === 'GET')) {
        retries++;
        await sleep(200 * (attempt + 1));
        continue;
      }
      return r;
    }
  }
  const ok = (r, what) => {
    if (r.status !== 200) throw new Error(`${what}: ${r.status} ${r.text}`);
    return r.json;
  };
  // The stand-ins' control APIs play the customer (wallet, hosted page); a connection
  // refused under load is tried again, as a person would press the button again.
  const standin = async (base, method, path, body) => {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await fetch(`${base}/_standin/${path}`, {
          method, headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined,
        });
        return await r.json();
      } catch (e) {
        if (attempt >= 3) throw e;
        await sleep(500);
      }
    }
  };
  /** Reads the intent (the Worker asks the provider where the outcome is open) until `pred`. */
  async function until(m, id, pred, what, ms = 60000) {
    const end = Date.now() + ms;
    for (;;) {
      const pi = ok(await call('read', 'GET', `/v1/payment_intents/${id}`, { key: m.secret_key }), 'read');
      if (pred(pi)) return pi;
      if (Date.now() > end) throw new Error(`${what}: ${id} stuck at ${JSON.stringify(pi)}`);
      await sleep(150);
    }
  }

  // --- merchants, one per provider (Cashcloud on corporate_plus: corporate allows 5 a day) ---
  async function merchant(currency) {
    const r = await fetch(`${env.worker}/v1/merchants`, {
      method: 'POST', headers: { authorization: `Bearer ${env.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `Load ${run} ${currency}`, country: 'CH', default_currency: currency }),
    });
    if (r.status !== 201) throw new Error(`merchant: ${r.status} ${await r.text()}`);
    return r.json();
  }
  const stripeM = await merchant('CHF');
  ok(await call('setup', 'PUT', '/v1/merchants/me/providers/stripe', {
    key: stripeM.secret_key,
    body: { mode: 'direct', secret_key: 'sk_test_localstripe0000000000004242', publishable_key: 'pk_test_localstripe000000000000', webhook_secret: 'whsec_local0000000000000000' },
  }), 'stripe account');
  const wpM = await merchant('EUR');
  const wpAccount = { username: `load-${run}`, password: `pw-${randomUUID()}`, entity: 'default', webhookSecret: `hook-${randomUUID()}` };
  await standin(env.worldpay, 'POST', 'merchants', { ...wpAccount, notificationUrl: `${env.worker}/v1/webhooks/worldpay/${wpM.id}` });
  ok(await call('setup', 'PUT', '/v1/merchants/me/providers/worldpay', {
    key: wpM.secret_key, body: { username: wpAccount.username, password: wpAccount.password, entity: 'default', webhook_secret: wpAccount.webhookSecret },
  }), 'worldpay account');
  // The hosted page sends the customer back to the shop: an allowed origin.
  ok(await call('setup', 'PATCH', '/v1/merchants/me', { key: wpM.secret_key, body: { allowed_origins: ['https://shop.example'] } }), 'allowed origins');
  const ccM = await merchant('EUR');
  const ccAccount = { username: `load-${run}@example.com`, password: `pw-${randomUUID()}`, apiPassword: `api-${randomUUID()}` };
  await standin(env.cashcloud, 'POST', 'merchants', { ...ccAccount, name: `Load ${run}` });
  ok(await call('setup', 'PUT', '/v1/merchants/me/providers/cashcloud', {
    key: ccM.secret_key, body: { username: ccAccount.username, password: ccAccount.password, api_password: ccAccount.apiPassword, plan: 'corporate_plus' },
  }), 'cashcloud account');

  /** A PaymentMethod for a test card, as Stripe's hosted field hands the widget. */
  async function paymentMethod(number) {
    const r = await fetch(`${env.stripe}/v1/payment_methods`, {
      method: 'POST', headers: { authorization: 'Bearer sk_test_load', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ type: 'card', 'card[number]': number, 'card[exp_month]': '12', 'card[exp_year]': '2034', 'card[cvc]': '123' }).toString(),
    });
    return (await r.json()).id;
  }
  const create = (m, amount, currency, provider, capture_method) => call('create', 'POST', '/v1/payment_intents', {
    key: m.secret_key, body: { amount: money(amount), currency, provider, capture_method },
  });
  const confirm = (m, pi, fields) => call('confirm', 'POST', `/v1/payment_intents/${pi.id}/confirm`, {
    key: m.publishable_key, body: { client_secret: pi.client_secret, ...fields },
  });
  const capture = (m, pi, amount) => call('capture', 'POST', `/v1/payment_intents/${pi.id}/capture`, {
    key: m.secret_key, body: amount === undefined ? {} : { amount: money(amount) },
  });
  const refund = (m, pi, amount) => call('refund', 'POST', '/v1/refunds', { key: m.secret_key, body: { payment_intent: pi.id, amount: money(amount) } });

  // --- one customer: pay, capture, refund part; what we expect at the end ------------------
  const expected = []; // {merchant, kind, id, received, refunded}
  async function customer(i) {
    const kind = KINDS[i % KINDS.length];
    const amount = 1000 + ((i * 137) % 9000); // 10.00 … 99.99
    const back = 100 + ((i * 53) % 400); // 1.00 … 4.99 refunded
    if (kind === 'stripe') {
      // Reserve, capture all but 1.11 when the goods ship, refund part.
      const pi = ok(await create(stripeM, amount, 'CHF', 'stripe', 'manual'), 'create');
      const held = ok(await confirm(stripeM, pi, { payment_method: await paymentMethod('4242424242424242') }), 'confirm');
      if (held.status !== 'requires_capture') throw new Error(`stripe ${pi.id}: ${held.status}`);
      const took = amount - 111;
      const cap = ok(await capture(stripeM, pi, took), 'capture');
      if (cap.status !== 'succeeded') throw new Error(`capture ${pi.id}: ${cap.status}`);
      ok(await refund(stripeM, pi, back), 'refund');
      await until(stripeM, pi.id, (x) => cents(x.amount_refunded) === back, 'stripe refund');
      expected.push({ merchant: stripeM, kind, id: pi.id, received: took, refunded: back });
    } else if (kind === 'stripe_3ds') {
      // The bank wants 3-D Secure: the widget's Stripe.js step, done as the stand-in's
      // `_authenticate` (what tests/e2e/stripe.test.mjs does without a browser).
      const pi = ok(await create(stripeM, amount, 'CHF', 'stripe', 'automatic'), 'create');
      const c = ok(await confirm(stripeM, pi, { payment_method: await paymentMethod('4000002500003155') }), 'confirm');
      if (c.next_action?.type !== 'three_d_secure') throw new Error(`3ds ${pi.id}: ${JSON.stringify(c)}`);
      const secret = c.next_action.provider_client_secret;
      const t0 = performance.now();
      const a = await fetch(`${env.stripe}/v1/payment_intents/${secret.split('_secret_')[0]}/_authenticate?success=true`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ key: 'pk_test_localstripe000000000000', client_secret: secret }).toString(),
      });
      (samples['3ds (stand-in)'] ??= []).push(performance.now() - t0);
      if (a.status !== 200) throw new Error(`authenticate ${pi.id}: ${a.status} ${await a.text()}`);
      await until(stripeM, pi.id, (x) => x.status === 'succeeded', '3ds outcome');
      ok(await refund(stripeM, pi, back), 'refund');
      await until(stripeM, pi.id, (x) => cents(x.amount_refunded) === back, '3ds refund');
      expected.push({ merchant: stripeM, kind, id: pi.id, received: amount, refunded: back });
    } else if (kind === 'worldpay') {
      // Hosted page (card + 3DS at Worldpay), reserve, capture all, refund part: pending
      // until Worldpay's refund batch runs (after every customer, below).
      const pi = ok(await create(wpM, amount, 'EUR', 'worldpay', 'manual'), 'create');
      const c = ok(await confirm(wpM, pi, { return_url: 'https://shop.example/return' }), 'confirm');
      if (c.next_action?.type !== 'redirect') throw new Error(`worldpay ${pi.id}: ${JSON.stringify(c)}`);
      const t0 = performance.now();
      await standin(env.worldpay, 'POST', 'complete', { url: c.next_action.url, card: '4444333322221111', threeDS: 'pass' });
      (samples['hosted page (stand-in)'] ??= []).push(performance.now() - t0);
      await until(wpM, pi.id, (x) => x.status === 'requires_capture', 'worldpay authorisation');
      const cap = ok(await capture(wpM, pi), 'capture');
      if (cap.status !== 'succeeded') throw new Error(`capture ${pi.id}: ${cap.status}`);
      const r = ok(await refund(wpM, pi, back), 'refund');
      if (r.status !== 'pending') throw new Error(`worldpay refund ${pi.id}: ${r.status}`);
      expected.push({ merchant: wpM, kind, id: pi.id, received: amount, refunded: back });
    } else {
      // The wallet approves the money request, later the refund request.
      const wallet = { username: `c${i}-${run}@load.example`, pin: '2468' };
      await standin(env.cashcloud, 'POST', 'wallets', { ...wallet, balance_cents: 1_000_000 });
      const pi = ok(await create(ccM, amount, 'EUR', 'cashcloud', 'automatic'), 'create');
      const c = ok(await confirm(ccM, pi, { cashcloud_username: wallet.username }), 'confirm');
      if (c.status !== 'processing') throw new Error(`cashcloud ${pi.id}: ${c.status}`);
      await standin(env.cashcloud, 'POST', 'approve', { hash: c.provider_reference, pin: wallet.pin });
      await until(ccM, pi.id, (x) => x.status === 'succeeded', 'wallet approval');
      ok(await refund(ccM, pi, back), 'refund');
      let pending;
      for (let t = 0; !pending && t < 200; t++) {
        const txs = (await standin(env.cashcloud, 'GET', 'transactions')).data;
        pending = txs.find((x) => x.original_hash === c.provider_reference && x.transaction_state_id === 1);
        if (!pending) await sleep(100);
      }
      if (!pending) throw new Error(`cashcloud refund ${pi.id}: no pending refund at the stand-in`);
      await standin(env.cashcloud, 'POST', 'approve', { hash: pending.hash, pin: wallet.pin });
      await until(ccM, pi.id, (x) => cents(x.amount_refunded) === back, 'cashcloud refund');
      expected.push({ merchant: ccM, kind, id: pi.id, received: amount, refunded: back });
    }
  }

  // --- 20 refunds of 7.00 at once on one 100.00 intent: exactly 14 fit ---------------------
  async function race() {
    const pi = ok(await create(stripeM, 10000, 'CHF', 'stripe', 'automatic'), 'create');
    const paid = ok(await confirm(stripeM, pi, { payment_method: await paymentMethod('4242424242424242') }), 'confirm');
    if (paid.status !== 'succeeded') throw new Error(`race intent: ${paid.status}`);
    const answers = await Promise.all(Array.from({ length: raceRefunds }, () => refund(stripeM, pi, 700)));
    const accepted = answers.filter((r) => r.status === 200).length;
    const refused = answers.filter((r) => r.status === 400 && r.json?.error?.type === 'invalid_request_error').length;
    const fits = Math.min(raceRefunds, Math.floor(10000 / 700));
    await until(stripeM, pi.id, (x) => cents(x.amount_refunded) === accepted * 700, 'race refunds');
    expected.push({ merchant: stripeM, kind: 'race', id: pi.id, received: 10000, refunded: accepted * 700 });
    return { accepted, refused, fits, other: answers.length - accepted - refused };
  }

  const t0 = performance.now();
  const durations = [];
  const failures = [];
  const [raceResult] = await Promise.all([
    race(),
    ...Array.from({ length: customers }, async (_, i) => {
      const c0 = performance.now();
      try {
        await customer(i);
        durations.push(performance.now() - c0);
      } catch (e) {
        failures.push(`customer ${i} (${KINDS[i % KINDS.length]}): ${e.message}`);
      }
    }),
  ]);
  const payingSeconds = (performance.now() - t0) / 1000;
  log(`${customers} customers done in ${payingSeconds.toFixed(1)} s (${failures.length} failed); settling Worldpay's refunds`);

  // Worldpay refunds complete in its batch; the notifications move our refunds.
  await standin(env.worldpay, 'POST', 'refund-batch');
  for (const e of expected.filter((x) => x.kind === 'worldpay')) {
    try {
      await until(wpM, e.id, (x) => cents(x.amount_refunded) === e.refunded, 'worldpay refund');
    } catch (err) {
      failures.push(err.message);
    }
  }

  // Before the books are compared, every intent still open is read once more until it
  // is not (a read asks the provider): a customer who gave up mid-way may still have
  // paid, and the books must show it.
  for (const m of [stripeM, wpM, ccM]) {
    for (const pi of await all(call, ok, m.secret_key, '/v1/payment_intents')) {
      if (['processing', 'requires_action'].includes(pi.status)) {
        await until(m, pi.id, (x) => !['processing'].includes(x.status), 'settling', 30000).catch((e) => failures.push(e.message));
      }
    }
  }
  const books = await reconcile(env, { call, ok, standin, expected, stripeM, wpM, ccM, wpAccount, ccAccount });
  // And the Worker's own reconciliation (what its alarm runs daily): every payment of the
  // run's day(s) beside the provider's record of it, differences named one by one.
  const reconciliation = {};
  const days = [...new Set([startDay, new Date().toISOString().slice(0, 10)])];
  for (const [provider, m] of [['stripe', stripeM], ['worldpay', wpM], ['cashcloud', ccM]]) {
    const sum = { checked: 0, in_flight: 0, mismatches: [], unreadable: [] };
    for (const day of days) {
      const run = ok(await call('reconcile', 'POST', '/v1/reconciliations', { key: m.secret_key, body: { day } }), 'reconciliation');
      sum.checked += run.checked;
      sum.in_flight += run.in_flight;
      sum.mismatches.push(...run.mismatches);
      sum.unreadable.push(...run.unreadable);
    }
    reconciliation[provider] = sum;
  }
  const figure = (op) => {
    const s = (samples[op] ?? []).slice().sort((a, b) => a - b);
    return { n: s.length, p50_ms: percentile(s, 50), p99_ms: percentile(s, 99) };
  };
  durations.sort((a, b) => a - b);
  return {
    customers, completed: durations.length, failures, race: raceResult,
    seconds: payingSeconds,
    customers_per_s: durations.length / payingSeconds,
    requests, retries, requests_per_s: requests / payingSeconds,
    customer_p50_ms: percentile(durations, 50), customer_p99_ms: percentile(durations, 99),
    ops: Object.fromEntries(Object.keys(samples).sort().map((op) => [op, figure(op)])),
    books,
    reconciliation,
  };
}

/** Every page of a list. */
async function all(call, ok, key, path) {
  const out = [];
  let after;
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const page = ok(await call('list', 'GET', `${path}${sep}limit=100${after ? `&starting_after=${after}` : ''}`, { key }), path);
    out.push(...page.data);
    if (!page.has_more) return out;
    after = page.data.at(-1).id;
  }
}

/** Our books beside the providers', per provider, in minor units. */
async function reconcile(env, { call, ok, standin, expected, stripeM, wpM, ccM, wpAccount, ccAccount }) {
  const out = {};
  const ids = new Set(expected.map((e) => e.id));
  for (const [provider, m] of [['stripe', stripeM], ['worldpay', wpM], ['cashcloud', ccM]]) {
    const ledger = await all(call, ok, m.secret_key, '/v1/balance_transactions');
    const sum = (type) => ledger.filter((r) => r.type === type).reduce((a, r) => a + cents(r.amount), 0);
    const intents = await all(call, ok, m.secret_key, '/v1/payment_intents');
    const mine = expected.filter((e) => e.merchant === m);
    out[provider] = {
      intents: intents.length,
      expected_received: mine.reduce((a, e) => a + e.received, 0),
      expected_refunded: mine.reduce((a, e) => a + e.refunded, 0),
      ledger_captured: sum('captured'),
      ledger_refunded: sum('refund_succeeded'),
      ledger_refund_pending: sum('refund_pending') - sum('refund_succeeded') - sum('refund_failed'),
      intents_received: intents.reduce((a, pi) => a + cents(pi.amount_received), 0),
      intents_refunded: intents.reduce((a, pi) => a + cents(pi.amount_refunded), 0),
      unexpected_intents: intents.filter((pi) => !ids.has(pi.id)).map((pi) => pi.id),
    };
  }

  // Stripe: each intent's PaymentIntent as the proxy shows it (amount_received), and the
  // refunds the proxy forwarded and localstripe made (a replay under a known key is not a
  // new refund); creates per intent count duplicates.
  const records = (await (await fetch(`${env.proxy}/_recorder/requests`)).json()).data;
  const stripeIntents = await all(call, ok, stripeM.secret_key, '/v1/payment_intents');
  const ourStripeIds = new Map(stripeIntents.map((pi) => [pi.provider_reference, pi.id]));
  let received = 0;
  for (const [stripeId] of ourStripeIds) {
    const r = await fetch(`${env.proxy}/v1/payment_intents/${stripeId}`, { headers: { authorization: 'Bearer sk_test_localstripe0000000000004242' } });
    received += (await r.json()).amount_received ?? 0;
  }
  const field = (rec, k) => rec.form?.find(([name]) => name === k)?.[1];
  const madeRefunds = records.filter((r) => r.method === 'POST' && r.path === '/v1/refunds' && r.upstream_status === 200 && !r.replayed
    && ourStripeIds.has(field(r, 'payment_intent')));
  const creates = records.filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents' && r.upstream_status === 200 && !r.replayed
    && ids.has(field(r, 'metadata[our_intent_id]')));
  const perIntent = new Map();
  for (const r of creates) perIntent.set(field(r, 'metadata[our_intent_id]'), (perIntent.get(field(r, 'metadata[our_intent_id]')) ?? 0) + 1);
  out.stripe.provider_received = received;
  out.stripe.provider_refunded = madeRefunds.reduce((a, r) => a + Number(field(r, 'amount')), 0);
  out.stripe.provider_payments = creates.length;
  out.stripe.duplicated = [...perIntent.values()].filter((n) => n > 1).length;

  // Worldpay: its payments for our merchant, by our intent id (transactionReference).
  const wpPayments = (await standin(env.worldpay, 'GET', 'payments')).data.filter((p) => p.merchant === wpAccount.username);
  out.worldpay.provider_received = wpPayments.reduce((a, p) => a + (p.settledValue?.amount ?? 0), 0);
  out.worldpay.provider_refunded = wpPayments.reduce((a, p) => a + (p.refundedValue?.amount ?? 0), 0);
  out.worldpay.provider_payments = wpPayments.length;
  out.worldpay.duplicated = wpPayments.length - new Set(wpPayments.map((p) => p.transactionReference)).size;

  // Cashcloud: requests accepted or completed (or refunded since), and completed refunds.
  const txs = (await standin(env.cashcloud, 'GET', 'transactions')).data.filter((t) => t.merchant === ccAccount.username);
  const requests = txs.filter((t) => t.type === 'request');
  const paid = requests.filter((t) => [2, 3, 8].includes(t.transaction_state_id));
  out.cashcloud.provider_received = paid.reduce((a, t) => a + t.amount, 0);
  out.cashcloud.provider_refunded = txs.filter((t) => t.type === 'refund' && t.transaction_state_id === 3).reduce((a, t) => a + t.amount, 0);
  out.cashcloud.provider_payments = requests.length;
  out.cashcloud.duplicated = requests.length - new Set(requests.map((t) => t.extern?.id ?? t.hash)).size;
  return out;
}

/** The figures as lines for a person. */
export function report(r) {
  const eur = (c) => money(c);
  const lines = [
    `customers ${r.customers}: ${r.completed} completed, ${r.failures.length} failed, in ${r.seconds.toFixed(1)} s`,
    `throughput ${r.customers_per_s.toFixed(2)} customers/s, ${r.requests_per_s.toFixed(1)} API requests/s (${r.requests} requests, ${r.retries} resent)`,
    `per customer (pay, capture, refund): p50 ${r.customer_p50_ms.toFixed(0)} ms, p99 ${r.customer_p99_ms.toFixed(0)} ms`,
  ];
  for (const [op, f] of Object.entries(r.ops)) lines.push(`  ${op.padEnd(24)} n=${String(f.n).padStart(5)}  p50 ${f.p50_ms.toFixed(1)} ms  p99 ${f.p99_ms.toFixed(1)} ms`);
  lines.push(`race: ${r.race.accepted} of 20 refunds of 7.00 on one 100.00 intent accepted (${r.race.fits} fit), ${r.race.refused} refused, ${r.race.other} other`);
  for (const [p, b] of Object.entries(r.books)) {
    lines.push(`${p.padEnd(9)} received: ledger ${eur(b.ledger_captured)} = intents ${eur(b.intents_received)} = ${p} ${eur(b.provider_received)} (expected ${eur(b.expected_received)}); `
      + `refunded: ledger ${eur(b.ledger_refunded)} = intents ${eur(b.intents_refunded)} = ${p} ${eur(b.provider_refunded)} (expected ${eur(b.expected_refunded)}); `
      + `${b.provider_payments} payments at ${p} for ${b.intents} intents, ${b.duplicated} duplicated`);
  }
  for (const [p, x] of Object.entries(r.reconciliation)) {
    lines.push(`${p.padEnd(9)} reconciliation: ${x.checked} payments compared, ${x.in_flight} in flight, ${x.mismatches.length} mismatches${x.unreadable.length ? `, unreadable: ${x.unreadable}` : ''}`);
  }
  return lines.join('\n');
}

/** Every figure that must hold; an empty list when the books agree. */
export function problems(r) {
  const out = [...r.failures];
  if (r.completed !== r.customers) out.push(`${r.customers - r.completed} customers did not complete`);
  if (r.race.accepted !== r.race.fits || r.race.other !== 0) out.push(`race: ${JSON.stringify(r.race)}`);
  for (const [p, b] of Object.entries(r.books)) {
    const same = (what, ...v) => { if (new Set(v).size !== 1) out.push(`${p} ${what}: ${v.join(' / ')}`); };
    same('received (ledger / intents / provider / expected)', b.ledger_captured, b.intents_received, b.provider_received, b.expected_received);
    same('refunded (ledger / intents / provider / expected)', b.ledger_refunded, b.intents_refunded, b.provider_refunded, b.expected_refunded);
    if (b.ledger_refund_pending !== 0) out.push(`${p}: ${b.ledger_refund_pending} still pending in the ledger`);
    if (b.duplicated !== 0) out.push(`${p}: ${b.duplicated} payments duplicated at the provider`);
    if (b.provider_payments !== b.intents) out.push(`${p}: ${b.provider_payments} payments at the provider for ${b.intents} intents`);
    if (b.unexpected_intents.length) out.push(`${p}: intents nobody made: ${b.unexpected_intents}`);
  }
  for (const [p, x] of Object.entries(r.reconciliation)) {
    if (x.mismatches.length) out.push(`${p} reconciliation: ${JSON.stringify(x.mismatches)}`);
    if (x.unreadable.length) out.push(`${p} reconciliation could not read ${x.unreadable}`);
    if (x.in_flight) out.push(`${p} reconciliation: ${x.in_flight} payments still in flight`);
    if (x.checked !== r.books[p].intents) out.push(`${p} reconciliation compared ${x.checked} of ${r.books[p].intents} intents`);
  }
  return out;
}
