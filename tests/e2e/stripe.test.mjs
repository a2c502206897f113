// Stripe card payments through the Worker against localstripe (behind the recording
// proxy in tests/stripe-proxy, which adds what localstripe lacks: Connect fields and
// idempotency keys). Browser flows with the hosted card field are in
// stripe-widget.test.mjs; these drive the same API calls the widget makes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID, createHmac } from 'node:crypto';
import { api, errorOf, newMerchant, paymentMethod, stripe, stripeMerchant, PROXY, STRIPE, STRIPE_TEST_ACCOUNT, WORKER } from './lib.mjs';
import { PLATFORM_WEBHOOK_SECRET } from '../tools/stack.mjs';

async function intent(m, amount, capture_method = 'automatic', currency = 'CHF') {
  const r = await api('POST', '/v1/payment_intents', {
    key: m.secret_key, body: { amount, currency, provider: 'stripe', capture_method }, idem: randomUUID(),
  });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

const confirm = (m, pi, pm) => api('POST', `/v1/payment_intents/${pi.id}/confirm`, {
  key: m.publishable_key, body: { client_secret: pi.client_secret, payment_method: pm },
});
const read = (m, pi) => api('GET', `/v1/payment_intents/${pi.id}`, { key: m.secret_key });

/** What Stripe.js does in the browser for 3DS, against localstripe. `declined`: the
 * bank approved the challenge but then declined the charge (localstripe answers 402). */
async function authenticate(m, pi, success, declined = false) {
  const nextAction = pi.next_action;
  assert.equal(nextAction?.type, 'three_d_secure', JSON.stringify(pi));
  const secret = nextAction.provider_client_secret;
  const stripeId = secret.split('_secret_')[0];
  const r = await fetch(`${STRIPE}/v1/payment_intents/${stripeId}/_authenticate?success=${success}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ key: STRIPE_TEST_ACCOUNT.publishable_key, client_secret: secret }).toString(),
  });
  assert.equal(r.status, declined ? 402 : 200, await r.text());
}

test('4242 succeeds at once; the intent records what was received', async () => {
  const m = await stripeMerchant();
  const pi = await intent(m, '12.50');
  const r = await confirm(m, pi, await paymentMethod('4242424242424242'));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'succeeded');
  assert.equal(r.json.amount_received, '12.50');
  assert.match(r.json.provider_reference, /^pi_/);
  assert.equal(r.json.platform_fee, '0.50');
  // Stripe's fee from the charge's balance transaction (the recording proxy books
  // Stripe's 2.9 % + 0.30, where localstripe books 0): 0.3625 → 0.36 + 0.30.
  assert.equal(r.json.provider_fee, '0.66');
  assert.equal(r.json.net, '11.34');
  errorOf(assert, await confirm(m, pi, await paymentMethod('4242424242424242')), 400);
});

for (const card of ['4000002500003155', '4000000000003220']) {
  test(`${card}: succeeds when 3-D Secure is completed, back to requires_payment_method when failed`, async () => {
    const m = await stripeMerchant();
    const pi = await intent(m, '30.00');
    const r = await confirm(m, pi, await paymentMethod(card));
    assert.equal(r.json.status, 'requires_action', r.text);
    // The browser's word settles nothing: only Stripe's state, read by the Worker.
    await authenticate(m, r.json, true);
    const done = await read(m, pi);
    assert.equal(done.json.status, 'succeeded', done.text);
    assert.equal(done.json.next_action, null);
    // The fee arrives with Stripe's answer read after 3-D Secure: 0.87 + 0.30.
    assert.equal(done.json.provider_fee, '1.17');
    assert.equal(done.json.net, '28.33');

    const pi2 = await intent(m, '30.00');
    const r2 = await confirm(m, pi2, await paymentMethod(card));
    await authenticate(m, r2.json, false);
    const failed = await read(m, pi2);
    assert.equal(failed.json.status, 'requires_payment_method', failed.text);
    assert.ok(failed.json.last_error?.message, 'a reason the customer understands');
    // The customer may try again with another card.
    const retry = await confirm(m, pi2, await paymentMethod('4242424242424242'));
    assert.equal(retry.json.status, 'succeeded', retry.text);
  });
}

test('4000 0084 0000 1629 is declined after 3-D Secure', async () => {
  const m = await stripeMerchant();
  const pi = await intent(m, '45.00');
  const r = await confirm(m, pi, await paymentMethod('4000008400001629'));
  assert.equal(r.json.status, 'requires_action', r.text);
  await authenticate(m, r.json, true, true);
  const after = await read(m, pi);
  assert.equal(after.json.status, 'requires_payment_method', after.text);
  assert.equal(after.json.last_error.message, 'Your card was declined.');
  assert.equal(after.json.amount_received, '0.00');
});

test('capture less than authorised, then refund part, the rest, and one cent more', async () => {
  const m = await stripeMerchant();
  const pi = await intent(m, '300.00', 'manual');
  const held = await confirm(m, pi, await paymentMethod('4242424242424242'));
  assert.equal(held.json.status, 'requires_capture', held.text);
  assert.equal(held.json.amount_capturable, '300.00');
  errorOf(assert, await api('POST', '/v1/refunds', { key: m.secret_key, body: { payment_intent: pi.id } }), 400);
  errorOf(assert, await api('POST', `/v1/payment_intents/${pi.id}/capture`, { key: m.secret_key, body: { amount: '300.01' } }), 400);
  const cap = await api('POST', `/v1/payment_intents/${pi.id}/capture`, { key: m.secret_key, body: { amount: '247.35' } });
  assert.equal(cap.status, 200, cap.text);
  assert.equal(cap.json.status, 'succeeded');
  assert.equal(cap.json.amount_received, '247.35');
  assert.equal(cap.json.amount_capturable, '0.00');
  // Stripe's fee on what was captured, not on the authorisation: 7.17 + 0.30.
  assert.equal(cap.json.provider_fee, '7.47');
  assert.equal(cap.json.net, '239.38');
  errorOf(assert, await api('POST', `/v1/payment_intents/${pi.id}/capture`, { key: m.secret_key, body: {} }), 400);

  const part = await api('POST', '/v1/refunds', { key: m.secret_key, body: { payment_intent: pi.id, amount: '100.00' }, idem: randomUUID() });
  assert.equal(part.status, 200, part.text);
  assert.match(part.json.id, /^re_/);
  assert.equal(part.json.status, 'succeeded');
  assert.equal((await read(m, pi)).json.amount_refunded, '100.00');
  errorOf(assert, await api('POST', '/v1/refunds', { key: m.secret_key, body: { payment_intent: pi.id, amount: '147.36' } }), 400);
  const rest = await api('POST', '/v1/refunds', { key: m.secret_key, body: { payment_intent: pi.id } });
  assert.equal(rest.status, 200, rest.text);
  assert.equal(rest.json.amount, '147.35');
  const before = (await read(m, pi)).text;
  assert.equal(JSON.parse(before).amount_refunded, '247.35');
  // All given back; the fees stay charged.
  assert.equal(JSON.parse(before).net, '-7.97');
  const cent = await api('POST', '/v1/refunds', { key: m.secret_key, body: { payment_intent: pi.id, amount: '0.01' } });
  errorOf(assert, cent, 400, 'invalid_request_error');
  assert.equal((await read(m, pi)).text, before, 'nothing changed');
});

test('cancel releases the hold', async () => {
  const m = await stripeMerchant();
  const pi = await intent(m, '80.00', 'manual');
  await confirm(m, pi, await paymentMethod('4242424242424242'));
  const c = await api('POST', `/v1/payment_intents/${pi.id}/cancel`, { key: m.secret_key, body: {} });
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json.status, 'canceled');
  assert.equal(c.json.amount_capturable, '0.00');
  errorOf(assert, await api('POST', `/v1/payment_intents/${pi.id}/capture`, { key: m.secret_key, body: {} }), 400);
});

test('Connect: onboarding makes the account; charges carry the fee, destination and on_behalf_of; refunds reverse the transfer; events come to the platform endpoint', async () => {
  const m = await newMerchant();
  // No Stripe keys of the merchant's: the platform's onboarding makes the account.
  const bad = await api('POST', '/v1/merchants/me/stripe_connect', { key: m.secret_key, body: { return_url: 'javascript:alert(1)' } });
  errorOf(assert, bad, 400, 'invalid_request_error');
  const onboard = await api('POST', '/v1/merchants/me/stripe_connect', { key: m.secret_key, body: { return_url: 'https://platform.example/settings' } });
  assert.equal(onboard.status, 200, onboard.text);
  assert.match(onboard.json.url, /^https:\/\//);
  const again = await api('POST', '/v1/merchants/me/stripe_connect', { key: m.secret_key, body: { return_url: 'https://platform.example/settings' } });
  assert.equal(again.status, 200, again.text);
  const [acct] = (await api('GET', '/v1/merchants/me/providers', { key: m.secret_key })).json.data;
  assert.equal(acct.mode, 'connect');
  assert.match(acct.connected_account_id, /^acct_1/);
  assert.ok(onboard.json.url.includes(acct.connected_account_id) && again.json.url.includes(acct.connected_account_id), 'one account, however often onboarding starts');

  const { last_seq } = await (await fetch(`${PROXY}/_recorder/requests`)).json();
  const pi = await intent(m, '20.00');
  const r = await confirm(m, pi, await paymentMethod('4242424242424242'));
  assert.equal(r.json.status, 'succeeded', r.text);
  const sent = async () => (await (await fetch(`${PROXY}/_recorder/requests?since=${last_seq}`)).json()).data;
  const create = (await sent()).find((x) => x.method === 'POST' && x.path === '/v1/payment_intents');
  assert.ok(create, 'the Worker created the Stripe intent');
  const form = Object.fromEntries(create.form);
  assert.equal(form.application_fee_amount, '50');
  assert.equal(form['transfer_data[destination]'], acct.connected_account_id);
  assert.equal(form.on_behalf_of, acct.connected_account_id);
  assert.equal(form.amount, '2000');
  assert.equal(form.currency, 'chf');
  assert.equal(form['metadata[our_intent_id]'], pi.id);
  assert.ok(create.headers['idempotency-key'], 'every POST to Stripe carries an Idempotency-Key');
  assert.match(create.headers.authorization, /^Bearer sk_test_…/, 'the platform key, masked in the record');

  // The refund comes back from the connected account, not the platform's balance.
  const re = await api('POST', '/v1/refunds', { key: m.secret_key, body: { payment_intent: pi.id, amount: '5.00' }, idem: randomUUID() });
  assert.equal(re.json.status, 'succeeded', re.text);
  const refundForm = Object.fromEntries((await sent()).find((x) => x.method === 'POST' && x.path === '/v1/refunds').form);
  assert.equal(refundForm.reverse_transfer, 'true');

  // Destination charges' events are the platform's: signed with its secret, they
  // reach the merchant's intent; the merchant endpoint (no secret of its own) refuses.
  const pi2 = await intent(m, '11.00', 'manual');
  const held = await confirm(m, pi2, await paymentMethod('4242424242424242'));
  assert.equal(held.json.status, 'requires_capture', held.text);
  const stripePi = await stripe('POST', `/v1/payment_intents/${held.json.provider_reference}/capture`, {});
  const body = JSON.stringify({ id: `evt_${randomUUID().slice(0, 8)}`, object: 'event', type: 'payment_intent.succeeded', created: Math.floor(Date.now() / 1000), data: { object: stripePi } });
  const toMerchant = await hook(m, body, signed('', body));
  assert.ok([400, 401].includes(toMerchant.status), `merchant endpoint: ${toMerchant.status}`);
  const wrong = await fetch(`${WORKER}/v1/webhooks/stripe/platform`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signed(STRIPE_TEST_ACCOUNT.webhook_secret, body) }, body });
  assert.ok([400, 401].includes(wrong.status), `platform endpoint, wrong secret: ${wrong.status}`);
  assert.equal((await read(m, pi2)).json.status, 'requires_capture', 'nothing changed');
  const platform = await fetch(`${WORKER}/v1/webhooks/stripe/platform`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signed(PLATFORM_WEBHOOK_SECRET, body) }, body });
  assert.equal(platform.status, 200, await platform.text());
  const done = (await read(m, pi2)).json;
  assert.equal(done.status, 'succeeded');
  assert.equal(done.amount_received, '11.00');

  // Direct mode sends none of the Connect fields.
  const d = await stripeMerchant();
  const { last_seq: s2 } = await (await fetch(`${PROXY}/_recorder/requests`)).json();
  await confirm(d, await intent(d, '20.00'), await paymentMethod('4242424242424242'));
  const direct = (await (await fetch(`${PROXY}/_recorder/requests?since=${s2}`)).json()).data
    .find((x) => x.path === '/v1/payment_intents');
  const df = Object.fromEntries(direct.form);
  assert.equal(df.application_fee_amount, undefined);
  assert.equal(df['transfer_data[destination]'], undefined);
  assert.equal(df.on_behalf_of, undefined);
});

test('a confirm whose answer is lost is retried without charging twice', async () => {
  const m = await stripeMerchant();
  const pi = await intent(m, '64.00');
  // The first attempt is one call to Stripe (create with confirm=true): drop its answer.
  await fetch(`${PROXY}/_recorder/faults`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ method: 'POST', path_prefix: '/v1/payment_intents', path_suffix: '/payment_intents', kind: 'drop_after_forward', count: 1 }),
  });
  const { last_seq } = await (await fetch(`${PROXY}/_recorder/requests`)).json();
  const pm = await paymentMethod('4242424242424242');
  const lost = await confirm(m, pi, pm);
  // Not known yet: pending (200), never an error that invites a new attempt.
  assert.equal(lost.status, 200, lost.text);
  assert.equal(lost.json.status, 'processing');
  const retried = await confirm(m, pi, pm);
  if (retried.status === 200) assert.equal(retried.json.status, 'succeeded', retried.text);
  const { data } = await (await fetch(`${PROXY}/_recorder/requests?since=${last_seq}`)).json();
  const charged = data.filter((x) => x.method === 'POST' && x.path === '/v1/payment_intents' && x.upstream_status === 200);
  assert.equal(charged.length, 1, `Stripe charged ${charged.length} times`);
  assert.equal((await read(m, pi)).json.amount_received, '64.00');
  await fetch(`${PROXY}/_recorder/faults`, { method: 'DELETE' });
});

function signed(secret, body, t = Math.floor(Date.now() / 1000), scheme = 'v1') {
  const sig = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return `t=${t},${scheme}=${sig}`;
}

const hook = (m, body, signature) => fetch(`${WORKER}/v1/webhooks/stripe/${m.id}`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(signature ? { 'stripe-signature': signature } : {}) },
  body,
});

test('webhooks: applied once when delivered twice; forged, stale, missing and v0-only rejected; no moving backwards', async () => {
  const m = await stripeMerchant();
  const pi = await intent(m, '15.00', 'manual');
  const held = await confirm(m, pi, await paymentMethod('4242424242424242'));
  assert.equal(held.json.status, 'requires_capture');
  const stripePi = await stripe('POST', `/v1/payment_intents/${held.json.provider_reference}/capture`, {});
  assert.equal(stripePi.status, 'succeeded');
  const evt = (id, type, object, created = Math.floor(Date.now() / 1000)) =>
    JSON.stringify({ id, object: 'event', type, created, data: { object } });
  const body = evt(`evt_${randomUUID().slice(0, 8)}`, 'payment_intent.succeeded', stripePi);
  const secret = STRIPE_TEST_ACCOUNT.webhook_secret;
  const before = (await read(m, pi)).text;

  const now = Math.floor(Date.now() / 1000);
  for (const [name, sig] of [
    ['forged', signed('whsec_not_the_secret', body)],
    ['stale', signed(secret, body, now - 301)],
    ['missing', undefined],
    ['v0 only', signed(secret, body, now, 'v0')],
  ]) {
    const r = await hook(m, body, sig);
    assert.ok([400, 401].includes(r.status), `${name}: ${r.status}`);
    const e = await r.json();
    assert.ok(e.error?.code, `${name}: error shape`);
    assert.equal((await read(m, pi)).text, before, `${name} changed nothing`);
  }

  const first = await hook(m, body, signed(secret, body));
  assert.equal(first.status, 200);
  assert.equal((await first.json()).outcome, 'applied');
  const after = await read(m, pi);
  assert.equal(after.json.status, 'succeeded');
  assert.equal(after.json.amount_received, '15.00');
  const again = await hook(m, body, `${signed('whsec_other', body)},${signed(secret, body).split(',')[1]}`);
  assert.equal(again.status, 200, 'any matching v1 is accepted');
  assert.equal((await again.json()).outcome, 'duplicate');
  assert.equal((await read(m, pi)).text, after.text);

  const failed = { ...stripePi, status: 'requires_payment_method', last_payment_error: { code: 'card_declined' } };
  const late = evt(`evt_${randomUUID().slice(0, 8)}`, 'payment_intent.payment_failed', failed);
  const lr = await hook(m, late, signed(secret, late));
  assert.equal(lr.status, 200);
  assert.equal((await lr.json()).outcome, 'ignored');
  assert.equal((await read(m, pi)).text, after.text, 'payment_failed after succeeded changes nothing');

  const unknown = evt(`evt_${randomUUID().slice(0, 8)}`, 'payment_intent.succeeded', { ...stripePi, id: 'pi_unknownAtOurs', metadata: {} });
  const ur = await hook(m, unknown, signed(secret, unknown));
  assert.equal(ur.status, 200);
  assert.equal((await ur.json()).outcome, 'unknown_object');
});

test("localstripe's own signed webhook moves the intent when the change happened only at Stripe", async () => {
  const m = await stripeMerchant();
  // As `make dev`'s demo shop does: register this merchant's endpoint at localstripe.
  const reg = await fetch(`${STRIPE}/_config/webhooks/${m.id}`, {
    method: 'POST',
    body: new URLSearchParams({ url: `${WORKER}/v1/webhooks/stripe/${m.id}`, secret: STRIPE_TEST_ACCOUNT.webhook_secret }),
  });
  assert.equal(reg.status, 200);
  try {
    const pi = await intent(m, '22.00', 'manual');
    const held = await confirm(m, pi, await paymentMethod('4242424242424242'));
    assert.equal(held.json.status, 'requires_capture');
    // Captured in Stripe's dashboard, say: only the webhook tells us.
    await stripe('POST', `/v1/payment_intents/${held.json.provider_reference}/capture`, {});
    let now;
    for (let i = 0; i < 50; i++) {
      now = (await read(m, pi)).json;
      if (now.status === 'succeeded') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(now.status, 'succeeded');
    assert.equal(now.amount_received, '22.00');
  } finally {
    // Webhooks are global at localstripe: leave none behind for other tests.
    await fetch(`${STRIPE}/_config/webhooks/${m.id}`, {
      method: 'POST',
      body: new URLSearchParams({ url: 'http://127.0.0.1:9/', secret: 'whsec_off' }),
    });
  }
});
