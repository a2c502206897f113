// Small HTTP helpers for the bench: the Worker's JSON API and localstripe's form API.
import { randomUUID } from 'node:crypto';

export async function api(base, method, path, { key, body, idem } = {}) {
  const headers = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (idem) headers['idempotency-key'] = idem;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, json, text };
}

export const LOCALSTRIPE_KEY = 'sk_test_localstripe0000000000004242';

export async function stripe(base, method, path, form) {
  const r = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${LOCALSTRIPE_KEY}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
  return r.json();
}

/** A merchant with Stripe in direct mode (the e2e tests' test account). */
export async function stripeMerchant(worker, adminToken) {
  const m = await api(worker, 'POST', '/v1/merchants', {
    key: adminToken, body: { name: 'Bench shop', country: 'CH', default_currency: 'CHF' },
  });
  if (m.status !== 201) throw new Error(`merchant: ${m.status} ${m.text}`);
  const p = await api(worker, 'PUT', '/v1/merchants/me/providers/stripe', {
    key: m.json.secret_key,
    body: { mode: 'direct', secret_key: LOCALSTRIPE_KEY, publishable_key: 'pk_test_localstripe000000000000', webhook_secret: 'whsec_local0000000000000000' },
  });
  if (p.status !== 200) throw new Error(`stripe set-up: ${p.status} ${p.text}`);
  return m.json;
}

export async function createIntent(worker, merchant) {
  const r = await api(worker, 'POST', '/v1/payment_intents', {
    key: merchant.secret_key, idem: randomUUID(), body: { amount: '10.00', currency: 'CHF', provider: 'stripe' },
  });
  if (r.status !== 200) throw new Error(`intent: ${r.status} ${r.text}`);
  return r.json;
}

/** PaymentMethods for 4242, made at localstripe in advance (localstripe lets one be reused). */
export async function paymentMethods(stripeUrl, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const pm = await stripe(stripeUrl, 'POST', '/v1/payment_methods', {
      type: 'card', 'card[number]': '4242424242424242', 'card[exp_month]': '12', 'card[exp_year]': '2034', 'card[cvc]': '123',
    });
    if (!/^pm_/.test(pm.id ?? '')) throw new Error(`payment method: ${JSON.stringify(pm)}`);
    out.push(pm.id);
  }
  return out;
}
