// Stripe payment helpers shared by the money and restart tests: our API calls, and the
// recording proxy's faults and log (tests/stripe-proxy).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { api, paymentMethod, stripe, PROXY } from './lib.mjs';

export async function intent(m, amount, capture_method = 'automatic', currency = 'CHF') {
  const r = await api('POST', '/v1/payment_intents', {
    key: m.secret_key, body: { amount, currency, provider: 'stripe', capture_method }, idem: randomUUID(),
  });
  assert.equal(r.status, 200, r.text);
  return r.json;
}
export const confirm = (m, pi, pm, extra = {}) => api('POST', `/v1/payment_intents/${pi.id}/confirm`, {
  key: m.publishable_key, body: { client_secret: pi.client_secret, payment_method: pm, ...extra },
});
export const read = (m, pi) => api('GET', `/v1/payment_intents/${pi.id}`, { key: m.secret_key });
export const refund = (m, pi, amount, idem = randomUUID()) => api('POST', '/v1/refunds', {
  key: m.secret_key, body: amount ? { payment_intent: pi.id, amount } : { payment_intent: pi.id }, idem,
});
export const fault = (f) => fetch(`${PROXY}/_recorder/faults`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(f),
});
export const clearFaults = () => fetch(`${PROXY}/_recorder/faults`, { method: 'DELETE' });
export const recorded = async (since) => (await (await fetch(`${PROXY}/_recorder/requests?since=${since}`)).json()).data;
/** localstripe ignores `?payment_intent=` on its refund list: filter here. */
export const stripeRefunds = async (stripeId) => (await stripe('GET', '/v1/refunds?limit=100')).data
  .filter((r) => r.payment_intent === stripeId);
export const lastSeq = async () => (await (await fetch(`${PROXY}/_recorder/requests`)).json()).last_seq;

/** Authorise 300.00 and capture 247.35 of it. */
export async function partlyCaptured(m) {
  const pi = await intent(m, '300.00', 'manual');
  const held = await confirm(m, pi, await paymentMethod('4242424242424242'));
  assert.equal(held.json.status, 'requires_capture', held.text);
  const cap = await api('POST', `/v1/payment_intents/${pi.id}/capture`, { key: m.secret_key, body: { amount: '247.35' } });
  assert.equal(cap.status, 200, cap.text);
  return { pi, cap: cap.json };
}
