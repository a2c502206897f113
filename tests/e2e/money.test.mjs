// Money stays right where payments are hard (issue 10): partial capture, lost
// answers, retries and races. Amounts are sums over the merchant's ledger in its
// Durable Object, never a provider's summary field. Stripe is localstripe behind the
// recording proxy, whose faults (an answer lost after Stripe acted) stand in for
// timeouts and dropped connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID, createHmac } from 'node:crypto';
import { api, errorOf, paymentMethod, stripe, stripeMerchant, STRIPE_TEST_ACCOUNT, WORKER } from './lib.mjs';
import { intent, confirm, read, refund, fault, clearFaults, recorded, stripeRefunds, lastSeq, partlyCaptured } from './payments.mjs';

function signed(secret, body, t = Math.floor(Date.now() / 1000)) {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

test('capture 247.35 of 300.00: nothing is refunded, and "refund the rest" refunds 247.35 (Stripe counts the release in amount_refunded)', async () => {
  const m = await stripeMerchant();
  const { pi, cap } = await partlyCaptured(m);
  assert.equal(cap.amount_received, '247.35');
  assert.equal(cap.amount_refunded, '0.00');
  // Stripe's own event for the capture: its charge's amount_refunded counts the
  // released 52.65, exactly as real Stripe reports a partial capture.
  const stripePi = await stripe('GET', `/v1/payment_intents/${cap.provider_reference}`);
  const charge = { id: `ch_${randomUUID().slice(0, 8)}`, object: 'charge', amount: 30000, amount_captured: 24735, amount_refunded: 5265, captured: true, currency: 'chf', refunded: false, status: 'succeeded' };
  const object = { ...stripePi, status: 'succeeded', amount_received: 24735, latest_charge: charge, charges: { object: 'list', data: [charge] } };
  const body = JSON.stringify({ id: `evt_${randomUUID().slice(0, 8)}`, object: 'event', type: 'payment_intent.succeeded', created: Math.floor(Date.now() / 1000), data: { object } });
  const hook = await fetch(`${WORKER}/v1/webhooks/stripe/${m.id}`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signed(STRIPE_TEST_ACCOUNT.webhook_secret, body) }, body,
  });
  assert.equal(hook.status, 200, await hook.text());
  const after = (await read(m, pi)).json;
  assert.equal(after.amount_refunded, '0.00', 'the released part is not a refund');
  const rest = await refund(m, pi);
  assert.equal(rest.status, 200, rest.text);
  assert.equal(rest.json.amount, '247.35');
  assert.equal(rest.json.status, 'succeeded');
  assert.equal((await read(m, pi)).json.amount_refunded, '247.35');
  errorOf(assert, await refund(m, pi, '0.01'), 400, 'invalid_request_error');
});

test('50 concurrent refunds of 10.00 on a 247.35 capture: at most 247.35 succeeds and amount_refunded is their sum', async () => {
  const m = await stripeMerchant();
  const { pi } = await partlyCaptured(m);
  const results = await Promise.all(Array.from({ length: 50 }, () => refund(m, pi, '10.00')));
  const ok = results.filter((r) => r.status === 200);
  for (const r of results.filter((x) => x.status !== 200)) errorOf(assert, r, 400, 'invalid_request_error');
  const succeeded = ok.filter((r) => r.json.status === 'succeeded');
  assert.equal(ok.length, 24, `accepted ${ok.length}`);
  assert.equal(succeeded.length, 24);
  const after = (await read(m, pi)).json;
  assert.equal(after.amount_refunded, '240.00');
  // The listed refunds agree with the intent's sum.
  const list = await api('GET', `/v1/refunds?payment_intent=${pi.id}&limit=100`, { key: m.secret_key });
  assert.equal(list.status, 200, list.text);
  const total = list.json.data.filter((r) => r.status === 'succeeded').reduce((s, r) => s + Math.round(Number(r.amount) * 100), 0);
  assert.equal(total, 24000);
  // And Stripe holds exactly as many refunds.
  assert.equal((await stripeRefunds(after.provider_reference)).filter((r) => r.status === 'succeeded').length, 24);
});

test("a refund whose answer is lost stays pending, then ends succeeded once, not twice", async () => {
  const m = await stripeMerchant();
  const { pi, cap } = await partlyCaptured(m);
  const since = await lastSeq();
  await fault({ method: 'POST', path_prefix: '/v1/refunds', kind: 'drop_after_forward', count: 1 });
  try {
    const lost = await refund(m, pi, '40.00');
    // The outcome is not known: the refund is pending, not an error inviting a retry.
    assert.equal(lost.status, 200, lost.text);
    assert.equal(lost.json.status, 'pending');
    // The pending refund holds its amount: 207.35 is all that is left to refund now.
    errorOf(assert, await refund(m, pi, '207.36'), 400);
    // Reading the refund asks Stripe again under the same idempotency key.
    const got = await api('GET', `/v1/refunds/${lost.json.id}`, { key: m.secret_key });
    assert.equal(got.status, 200, got.text);
    assert.equal(got.json.status, 'succeeded');
    assert.equal(got.json.amount, '40.00');
    assert.equal((await read(m, pi)).json.amount_refunded, '40.00');
    const sent = (await recorded(since)).filter((r) => r.method === 'POST' && r.path === '/v1/refunds');
    assert.ok(sent.length >= 2, `the refund was asked about again (${sent.length} sends)`);
    const keys = new Set(sent.map((r) => r.headers['idempotency-key']));
    assert.equal(keys.size, 1, 'every send of this refund carried the same idempotency key');
    const atStripe = await stripeRefunds(cap.provider_reference);
    assert.equal(atStripe.length, 1, `Stripe made ${atStripe.length} refunds`);
  } finally {
    await clearFaults();
  }
});

test("the merchant's object settles a lost refund by itself: its alarm asks Stripe, no request needed", async () => {
  const m = await stripeMerchant();
  const { pi, cap } = await partlyCaptured(m);
  await fault({ method: 'POST', path_prefix: '/v1/refunds', kind: 'drop_after_forward', count: 1 });
  try {
    const lost = await refund(m, pi, '25.00');
    assert.equal(lost.json.status, 'pending', lost.text);
    // Listing refunds reads our ledger only; it never asks Stripe.
    const listed = async () => (await api('GET', `/v1/refunds?payment_intent=${pi.id}`, { key: m.secret_key })).json.data[0];
    let r = await listed();
    for (let i = 0; i < 100 && r.status === 'pending'; i++) {
      await new Promise((res) => setTimeout(res, 200));
      r = await listed();
    }
    assert.equal(r.status, 'succeeded', 'the alarm settled it');
    assert.equal((await stripeRefunds(cap.provider_reference)).length, 1);
  } finally {
    await clearFaults();
  }
});

test('a refund retried with the same Idempotency-Key after a lost answer is the same refund', async () => {
  const m = await stripeMerchant();
  const { pi, cap } = await partlyCaptured(m);
  const key = randomUUID();
  await fault({ method: 'POST', path_prefix: '/v1/refunds', kind: 'drop_after_forward', count: 1 });
  try {
    const first = await refund(m, pi, '12.00', key);
    const again = await refund(m, pi, '12.00', key);
    assert.equal(again.text, first.text, 'the stored answer is replayed byte for byte');
    const other = await api('POST', '/v1/refunds', { key: m.secret_key, body: { payment_intent: pi.id, amount: '13.00' }, idem: key });
    errorOf(assert, other, 409, 'idempotency_error');
    const settled = await api('GET', `/v1/refunds/${first.json.id}`, { key: m.secret_key });
    assert.equal(settled.json.status, 'succeeded', settled.text);
    assert.equal((await stripeRefunds(cap.provider_reference)).length, 1);
  } finally {
    await clearFaults();
  }
});

test('cancel racing confirm never leaves a canceled intent with money taken at Stripe', async () => {
  for (let round = 0; round < 4; round++) {
    const m = await stripeMerchant();
    const pi = await intent(m, '33.00', 'manual');
    const pm = await paymentMethod('4242424242424242');
    const [c, x] = await Promise.all([
      confirm(m, pi, pm),
      api('POST', `/v1/payment_intents/${pi.id}/cancel`, { key: m.secret_key, body: {} }),
    ]);
    const ours = (await read(m, pi)).json;
    if (ours.provider_reference) {
      const theirs = await stripe('GET', `/v1/payment_intents/${ours.provider_reference}`);
      if (ours.status === 'canceled') assert.notEqual(theirs.status, 'requires_capture', `round ${round}: held at Stripe, canceled here`);
      if (theirs.status === 'requires_capture') assert.equal(ours.status, 'requires_capture', `round ${round}`);
    }
    // Either the cancel came first (and the confirm was refused), or the confirm did
    // (and the cancel was refused while it ran, or released the hold after it).
    assert.ok(c.status === 200 || x.status === 200, `round ${round}: ${c.text} / ${x.text}`);
    if (x.status === 200) assert.equal(ours.status, 'canceled', `round ${round}`);
  }
});

test('a Stripe return_url must be on the merchant\'s allowed_origins, and a refused one uses up no attempt', async () => {
  const m = await stripeMerchant();
  await api('PATCH', '/v1/merchants/me', { key: m.secret_key, body: { allowed_origins: ['https://shop.example'] } });
  const pi = await intent(m, '9.00');
  const pm = await paymentMethod('4242424242424242');
  const bad = await confirm(m, pi, pm, { return_url: 'https://evil.example/back' });
  const e = errorOf(assert, bad, 400, 'invalid_request_error');
  assert.equal(e.param, 'return_url');
  assert.equal((await read(m, pi)).json.status, 'requires_payment_method');
  const good = await confirm(m, pi, pm, { return_url: 'https://shop.example/back' });
  assert.equal(good.json.status, 'succeeded', good.text);
});

test("a provider's event is ordered by when we received it, not by the provider's clock", async () => {
  const m = await stripeMerchant();
  const pi = await intent(m, '15.00', 'manual');
  const held = await confirm(m, pi, await paymentMethod('4242424242424242'));
  assert.equal(held.json.status, 'requires_capture', held.text);
  // Captured at Stripe (the merchant's dashboard, say); Stripe's clock runs two
  // minutes behind ours, so its event's `created` is older than our last write.
  const stripePi = await stripe('POST', `/v1/payment_intents/${held.json.provider_reference}/capture`, {});
  const created = Math.floor(Date.now() / 1000) - 120;
  const body = JSON.stringify({ id: `evt_${randomUUID().slice(0, 8)}`, object: 'event', type: 'payment_intent.succeeded', created, data: { object: stripePi } });
  const hook = await fetch(`${WORKER}/v1/webhooks/stripe/${m.id}`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signed(STRIPE_TEST_ACCOUNT.webhook_secret, body) }, body,
  });
  assert.equal(hook.status, 200);
  assert.equal((await hook.json()).outcome, 'applied');
  const now = (await read(m, pi)).json;
  assert.equal(now.status, 'succeeded');
  assert.equal(now.amount_received, '15.00');
});

test('KWD 1.234 is refused when the intent is created, not at confirm', async () => {
  const m = await stripeMerchant();
  const r = await api('POST', '/v1/payment_intents', {
    key: m.secret_key, body: { amount: '1.234', currency: 'KWD', provider: 'stripe', capture_method: 'automatic' },
  });
  const e = errorOf(assert, r, 400, 'invalid_request_error');
  assert.equal(e.param, 'amount');
  const list = await api('GET', '/v1/payment_intents', { key: m.secret_key });
  assert.equal(list.json.data.length, 0, 'nothing was written');
  assert.equal((await intent(m, '1.230', 'automatic', 'KWD')).amount, '1.230');
});

test('a chunked body over 64 KiB without Content-Length is refused while it is read', async () => {
  const m = await stripeMerchant();
  const chunk = new TextEncoder().encode(' '.repeat(16 * 1024));
  let sent = 0;
  const body = new ReadableStream({
    pull(c) {
      if (sent >= 80) { c.close(); return; }
      sent++;
      c.enqueue(chunk);
    },
  });
  const r = await fetch(`${WORKER}/v1/payment_intents`, {
    method: 'POST', duplex: 'half', body,
    headers: { authorization: `Bearer ${m.secret_key}`, 'content-type': 'application/json' },
  });
  const json = await r.json();
  assert.equal(r.status, 400, JSON.stringify(json));
  assert.equal(json.error.code, 'body_too_large');
});

test('a 405 names the allowed methods in Allow', async () => {
  const r = await fetch(`${WORKER}/v1/refunds`, { method: 'DELETE' });
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'POST, GET');
  assert.equal((await r.json()).error.type, 'invalid_request_error');
});

test('a stored answer never holds a secret key: a replayed key roll shows it masked', async () => {
  const m = await stripeMerchant();
  const key = randomUUID();
  const rolled = await api('POST', '/v1/merchants/me/keys/roll', { key: m.secret_key, body: {}, idem: key });
  assert.equal(rolled.status, 200, rolled.text);
  const fresh = rolled.json.secret_key;
  assert.match(fresh, /^sk_test_/);
  const replay = await api('POST', '/v1/merchants/me/keys/roll', { key: fresh, body: {}, idem: key });
  // The replay is the same merchant's same request, but the key itself is masked.
  assert.equal(replay.status, 200, replay.text);
  assert.ok(!replay.text.includes(fresh), replay.text);
  assert.equal(replay.json.secret_key, `sk_test_…${fresh.slice(-4)}`);
  assert.equal((await api('GET', '/v1/merchants/me', { key: fresh })).status, 200, 'the replay rolled nothing');
});

test('a confirm whose answer is lost after Stripe charged is pending (200), then succeeded once Stripe is asked', async () => {
  const m = await stripeMerchant();
  const pi = await intent(m, '64.00');
  const since = await lastSeq();
  // A first attempt is one Stripe call (create with confirm=true): its answer is lost.
  await fault({ method: 'POST', path_prefix: '/v1/payment_intents', path_suffix: '/payment_intents', kind: 'drop_after_forward', count: 1 });
  try {
    const lost = await confirm(m, pi, await paymentMethod('4242424242424242'));
    assert.equal(lost.status, 200, lost.text);
    assert.equal(lost.json.status, 'processing', 'not known yet: neither failed nor succeeded');
    // A second confirm does not confirm again: it asks Stripe what happened (or, if
    // the object's alarm asked first, it is refused as the payment has succeeded).
    const again = await confirm(m, pi, await paymentMethod('4242424242424242'));
    if (again.status === 200) assert.equal(again.json.status, 'succeeded', again.text);
    else assert.equal(errorOf(assert, again, 400).code, 'intent_unexpected_state');
    const now = (await read(m, pi)).json;
    assert.equal(now.status, 'succeeded');
    assert.equal(now.amount_received, '64.00');
    const sent = (await recorded(since)).filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents');
    assert.ok(sent.length >= 2, 'the same request was sent again');
    assert.equal(new Set(sent.map((r) => r.headers['idempotency-key'])).size, 1, 'under the same idempotency key');
    assert.equal(sent.filter((r) => r.upstream_status === 200).length, 1, 'and Stripe confirmed once');
  } finally {
    await clearFaults();
  }
});
