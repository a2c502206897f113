// Test and live mode (issue 12): the admin issues live keys; every object belongs to
// the mode of the key that made it and is invisible (404) from the other; each mode
// takes only its own provider credentials.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { api, errorOf, paymentMethod, stripeMerchant, ADMIN, STRIPE_TEST_ACCOUNT } from './lib.mjs';

const LIVE_ACCOUNT = {
  mode: 'direct',
  secret_key: 'sk_live_localstripe0000000000004242',
  publishable_key: 'pk_live_localstripe000000000000',
  webhook_secret: 'whsec_live0000000000000000000',
};
const issue = (id, key = ADMIN) => api('POST', `/v1/merchants/${id}/live_keys`, { key, idem: randomUUID() });

async function liveMerchant() {
  const m = await stripeMerchant();
  const r = await issue(m.id);
  assert.equal(r.status, 200, r.text);
  const put = await api('PUT', '/v1/merchants/me/providers/stripe', { key: r.json.secret_key, body: LIVE_ACCOUNT });
  assert.equal(put.status, 200, put.text);
  return { test: m, live: { ...m, secret_key: r.json.secret_key, publishable_key: r.json.publishable_key } };
}

async function pay(keys, amount) {
  const pi = await api('POST', '/v1/payment_intents', {
    key: keys.secret_key, body: { amount, currency: 'CHF', provider: 'stripe' }, idem: randomUUID(),
  });
  assert.equal(pi.status, 200, pi.text);
  const done = await api('POST', `/v1/payment_intents/${pi.json.id}/confirm`, {
    key: keys.publishable_key, body: { client_secret: pi.json.client_secret, payment_method: await paymentMethod('4242424242424242') },
  });
  assert.equal(done.json.status, 'succeeded', done.text);
  return done.json;
}

test('the admin issues live keys, shown once; the merchant reads itself in the key\'s mode; a re-issue ends the old keys', async () => {
  const m = await stripeMerchant();
  errorOf(assert, await issue(m.id, m.secret_key), 401);
  errorOf(assert, await issue('acct_0000000000000000000000'), 404);
  const r = await issue(m.id);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.livemode, true);
  assert.match(r.json.secret_key, /^sk_live_/);
  assert.match(r.json.publishable_key, /^pk_live_/);
  assert.equal((await api('GET', '/v1/merchants/me', { key: r.json.secret_key })).json.livemode, true);
  assert.equal((await api('GET', '/v1/merchants/me', { key: m.secret_key })).json.livemode, false);
  const listed = (await api('GET', '/v1/merchants', { key: ADMIN })).json.data.find((x) => x.id === m.id);
  assert.equal(listed.livemode, true);
  // Rolling the test secret key leaves the live one working, and the other way round.
  const rolled = await api('POST', '/v1/merchants/me/keys/roll', { key: m.secret_key, idem: randomUUID() });
  assert.equal(rolled.status, 200, rolled.text);
  assert.match(rolled.json.secret_key, /^sk_test_/);
  assert.equal((await api('GET', '/v1/merchants/me', { key: r.json.secret_key })).status, 200);
  const again = await issue(m.id);
  assert.notEqual(again.json.secret_key, r.json.secret_key);
  errorOf(assert, await api('GET', '/v1/merchants/me', { key: r.json.secret_key }), 401);
  assert.equal((await api('GET', '/v1/merchants/me', { key: again.json.secret_key })).status, 200);
  assert.equal((await api('GET', '/v1/merchants/me', { key: rolled.json.secret_key })).status, 200);
});

test('each mode takes only its own provider credentials, and shows only its own', async () => {
  const { test: t, live } = await liveMerchant();
  const e = errorOf(assert, await api('PUT', '/v1/merchants/me/providers/stripe', { key: live.secret_key, body: STRIPE_TEST_ACCOUNT }), 400);
  assert.equal(e.param, 'secret_key');
  errorOf(assert, await api('PUT', '/v1/merchants/me/providers/stripe', { key: t.secret_key, body: LIVE_ACCOUNT }), 400);
  const liveView = (await api('GET', '/v1/merchants/me/providers', { key: live.secret_key })).json.data;
  const testView = (await api('GET', '/v1/merchants/me/providers', { key: t.secret_key })).json.data;
  assert.match(JSON.stringify(liveView), /sk_live_/);
  assert.doesNotMatch(JSON.stringify(liveView), /sk_test_/);
  assert.match(JSON.stringify(testView), /sk_test_/);
  assert.doesNotMatch(JSON.stringify(testView), /sk_live_/);
  // Removing the live credentials leaves the test ones.
  assert.equal((await api('DELETE', '/v1/merchants/me/providers/stripe', { key: live.secret_key })).status, 200);
  assert.equal((await api('GET', '/v1/merchants/me/providers', { key: t.secret_key })).json.data.length, 1);
  errorOf(assert, await api('POST', '/v1/payment_intents', {
    key: live.secret_key, body: { amount: '5.00', currency: 'CHF', provider: 'stripe' }, idem: randomUUID(),
  }), 400);
});

test('objects of one mode are invisible from the other: intents, refunds, events, endpoints, the ledger', async () => {
  const { test: t, live } = await liveMerchant();
  const livePi = await pay(live, '30.00');
  const testPi = await pay(t, '20.00');
  assert.equal(livePi.livemode, true);
  assert.equal(testPi.livemode, false);
  for (const [keys, other] of [[t, livePi], [live, testPi]]) {
    errorOf(assert, await api('GET', `/v1/payment_intents/${other.id}`, { key: keys.secret_key }), 404);
    errorOf(assert, await api('POST', `/v1/payment_intents/${other.id}/cancel`, { key: keys.secret_key }), 404);
    errorOf(assert, await api('POST', '/v1/refunds', { key: keys.secret_key, body: { payment_intent: other.id }, idem: randomUUID() }), 404);
    errorOf(assert, await api('GET', `/v1/payment_intents/${other.id}/checkout?client_secret=${other.client_secret}`, { key: keys.publishable_key }), 404);
  }
  const ids = async (keys, path) => (await api('GET', path, { key: keys.secret_key })).json.data.map((x) => x.id);
  assert.deepEqual(await ids(live, '/v1/payment_intents'), [livePi.id]);
  assert.deepEqual(await ids(t, '/v1/payment_intents'), [testPi.id]);
  const liveRefund = await api('POST', '/v1/refunds', { key: live.secret_key, body: { payment_intent: livePi.id, amount: '3.00' }, idem: randomUUID() });
  assert.equal(liveRefund.json.status, 'succeeded', liveRefund.text);
  assert.deepEqual(await ids(t, '/v1/refunds'), []);
  errorOf(assert, await api('GET', `/v1/refunds/${liveRefund.json.id}`, { key: t.secret_key }), 404);
  assert.deepEqual(await ids(live, '/v1/refunds'), [liveRefund.json.id]);
  const liveTxns = (await api('GET', '/v1/balance_transactions?limit=100', { key: live.secret_key })).json.data;
  assert.ok(liveTxns.length > 0 && liveTxns.every((x) => x.payment_intent === livePi.id));
  const testTxns = (await api('GET', '/v1/balance_transactions?limit=100', { key: t.secret_key })).json.data;
  assert.ok(testTxns.every((x) => x.payment_intent === testPi.id));
  const liveEvents = (await api('GET', '/v1/events', { key: live.secret_key })).json.data;
  assert.ok(liveEvents.length >= 2 && liveEvents.every((e) => e.livemode === true));
  assert.ok((await api('GET', '/v1/events', { key: t.secret_key })).json.data.every((e) => e.livemode === false));
  errorOf(assert, await api('GET', `/v1/events/${liveEvents[0].id}`, { key: t.secret_key }), 404);
  const we = await api('POST', '/v1/webhook_endpoints', { key: live.secret_key, body: { url: 'https://shop.example.com/hooks' }, idem: randomUUID() });
  assert.equal(we.json.livemode, true);
  assert.deepEqual(await ids(t, '/v1/webhook_endpoints'), []);
  errorOf(assert, await api('GET', `/v1/webhook_endpoints/${we.json.id}`, { key: t.secret_key }), 404);
  // Live mode has no test clock.
  errorOf(assert, await api('POST', '/v1/test_helpers/advance_clock', { key: live.secret_key, body: { seconds: 60 } }), 400);
});
