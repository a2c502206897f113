// Telling the merchant (issue 12): events written with the change they report, and
// delivered to the merchant's server at least once, signed. The merchant's server is
// tests/webhook-receiver, which verifies signatures with its own code. Retries run on
// the merchant object's clock, which test mode advances (no test sleeps for them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { api, errorOf, paymentMethod, stripeMerchant } from './lib.mjs';
import { intent, confirm, refund, fault, clearFaults } from './payments.mjs';
import { startReceiver, verify } from '../webhook-receiver/receiver.mjs';

const endpoint = (m, body, idem = randomUUID()) => api('POST', '/v1/webhook_endpoints', { key: m.secret_key, body, idem });
const advance = (m, seconds) => api('POST', '/v1/test_helpers/advance_clock', { key: m.secret_key, body: { seconds } });
const deliveries = async (m, evt) => (await api('GET', `/v1/events/${evt}/deliveries`, { key: m.secret_key })).json.data;

/** Waits (on real time) until `cond()` holds: deliveries due now are sent by the object's alarm. */
async function until(cond, what, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    assert.ok(Date.now() < end, `waited for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A merchant with a receiver registered as its endpoint. */
async function withReceiver(respond, enabled_events) {
  const m = await stripeMerchant();
  let secret;
  const rx = await startReceiver({ secret: (sig, raw) => verify(sig, raw, secret), respond });
  const r = await endpoint(m, { url: rx.url, ...(enabled_events ? { enabled_events } : {}) });
  assert.equal(r.status, 200, r.text);
  secret = r.json.secret;
  return { m, rx, we: r.json, secret: () => secret };
}

async function pay(m, amount = '19.90') {
  const pi = await intent(m, amount);
  const r = await confirm(m, pi, await paymentMethod('4242424242424242'));
  assert.equal(r.json.status, 'succeeded', r.text);
  return pi;
}

test('endpoints: only public https URLs (loopback in the local stack); the secret is shown once and masked in a replay', async () => {
  const m = await stripeMerchant();
  for (const url of ['http://10.0.0.1/', 'http://169.254.169.254/latest/meta-data', 'file:///etc/passwd', 'https://192.168.0.10/hooks',
    'https://[::ffff:10.0.0.1]/', 'https://metadata.google.internal/', 'http://shop.example.com/hooks', 'https://u:p@shop.example.com/']) {
    const e = errorOf(assert, await endpoint(m, { url }), 400, 'invalid_request_error');
    assert.equal(e.param, 'url', url);
  }
  errorOf(assert, await endpoint(m, { url: 'https://shop.example.com/hooks', enabled_events: ['payment_intent.created'] }), 400);
  errorOf(assert, await endpoint(m, { url: 'https://shop.example.com/hooks', extra: 1 }), 400);
  assert.equal((await api('GET', '/v1/webhook_endpoints', { key: m.secret_key })).json.data.length, 0, 'refusals wrote nothing');

  const idem = randomUUID();
  const created = await endpoint(m, { url: 'https://shop.example.com/hooks', enabled_events: ['payment_intent.succeeded'] }, idem);
  assert.equal(created.status, 200, created.text);
  assert.match(created.json.id, /^we_/);
  assert.match(created.json.secret, /^whsec_[0-9a-f]{48}$/);
  assert.deepEqual(created.json.enabled_events, ['payment_intent.succeeded']);
  const replay = await endpoint(m, { url: 'https://shop.example.com/hooks', enabled_events: ['payment_intent.succeeded'] }, idem);
  assert.equal(replay.json.id, created.json.id);
  assert.ok(!replay.text.includes(created.json.secret), 'a stored answer never holds the secret');
  assert.equal(replay.json.secret, `whsec_…${created.json.secret.slice(-4)}`);
  const read = await api('GET', `/v1/webhook_endpoints/${created.json.id}`, { key: m.secret_key });
  assert.equal(read.status, 200);
  assert.equal(read.json.secret, undefined);
  // Another merchant's key cannot see it.
  const other = await stripeMerchant();
  errorOf(assert, await api('GET', `/v1/webhook_endpoints/${created.json.id}`, { key: other.secret_key }), 404);
  const del = await api('DELETE', `/v1/webhook_endpoints/${created.json.id}`, { key: m.secret_key });
  assert.equal(del.json.deleted, true);
  errorOf(assert, await api('GET', `/v1/webhook_endpoints/${created.json.id}`, { key: m.secret_key }), 404);
});

test('a 4242 payment: the receiver gets payment_intent.succeeded, signed, byte for byte the event the API shows', async () => {
  const { m, rx } = await withReceiver();
  try {
    const pi = await pay(m);
    const got = await until(() => rx.received.find((r) => r.event?.type === 'payment_intent.succeeded'), 'the event');
    assert.equal(got.verified, true, 'the receiver verified the signature with its own code');
    assert.equal(got.event.data.object.id, pi.id);
    assert.equal(got.event.data.object.status, 'succeeded');
    assert.equal(got.event.data.object.amount_received, '19.90');
    assert.equal(got.event.livemode, false);
    assert.match(got.signature, /^t=\d+,v1=[0-9a-f]{64}$/);
    const shown = await api('GET', `/v1/events/${got.event.id}`, { key: m.secret_key });
    assert.equal(shown.text, got.raw);
    const listed = await api('GET', '/v1/events?type=payment_intent.succeeded', { key: m.secret_key });
    assert.deepEqual(listed.json.data.map((e) => e.id), [got.event.id]);
    errorOf(assert, await api('GET', '/v1/events?type=nonsense', { key: m.secret_key }), 400);
    const [attempt] = await deliveries(m, got.event.id);
    assert.equal(attempt.status_code, 200);
    assert.equal(attempt.next_attempt_at, null);
    // A refund tells too.
    const re = await refund(m, pi, '5.00');
    assert.equal(re.json.status, 'succeeded', re.text);
    const rev = await until(() => rx.received.find((r) => r.event?.type === 'refund.succeeded'), 'refund.succeeded');
    assert.equal(rev.event.data.object.id, re.json.id);
    assert.equal(rev.event.data.object.amount, '5.00');
  } finally {
    await rx.close();
  }
});

test('an endpoint answering 500 twice then 200 gets the event three times, with growing gaps on the object clock', async () => {
  const { m, rx } = await withReceiver((_e, n) => (n <= 2 ? 500 : 200));
  try {
    await pay(m);
    const first = await until(() => rx.received.find((r) => r.event?.type === 'payment_intent.succeeded'), 'the first try');
    const evt = first.event.id;
    const tries = () => rx.received.filter((r) => r.event?.id === evt).length;
    let [a1] = await until(async () => ((await deliveries(m, evt)).length === 1 ? deliveries(m, evt) : null), 'the first try recorded');
    assert.equal(a1.status_code, 500);
    const gap1 = a1.next_attempt_at - a1.attempted_at;
    // Before the gap is over, nothing is sent again.
    assert.equal((await advance(m, gap1 - 5)).status, 200);
    assert.equal(tries(), 1);
    await advance(m, 5);
    assert.equal(tries(), 2, 'the second try, when its time came');
    const a2 = (await deliveries(m, evt))[1];
    assert.equal(a2.status_code, 500);
    const gap2 = a2.next_attempt_at - a2.attempted_at;
    assert.ok(gap2 > gap1, `gaps grow: ${gap1} s, then ${gap2} s`);
    await advance(m, gap2);
    assert.equal(tries(), 3);
    const a3 = (await deliveries(m, evt))[2];
    assert.equal(a3.status_code, 200);
    assert.equal(a3.next_attempt_at, null, 'delivered: no more tries');
    await advance(m, 24 * 3600);
    assert.equal(tries(), 3);
    assert.deepEqual([gap1, gap2], [60, 120]);
  } finally {
    await rx.close();
  }
});

test('a rolled secret: the old one still signs beside the new for 24 h, then only the new', async () => {
  const { m, rx, we, secret } = await withReceiver();
  try {
    const old = secret();
    const rolled = await api('POST', `/v1/webhook_endpoints/${we.id}/roll_secret`, { key: m.secret_key, idem: randomUUID() });
    assert.equal(rolled.status, 200, rolled.text);
    const fresh = rolled.json.secret;
    assert.notEqual(fresh, old);
    assert.ok(rolled.json.previous_secret_expires > 0);
    const pi = await pay(m);
    const during = await until(() => rx.received.find((r) => r.event?.data.object.id === pi.id), 'an event during the overlap');
    assert.equal(during.signature.split(',').filter((p) => p.startsWith('v1=')).length, 2);
    assert.ok(verify(during.signature, during.raw, old), 'the old secret still verifies');
    assert.ok(verify(during.signature, during.raw, fresh), 'the new one too');
    await advance(m, 24 * 3600 + 1);
    const pi2 = await pay(m);
    const after = await until(() => rx.received.find((r) => r.event?.data.object.id === pi2.id), 'an event after the overlap');
    assert.ok(!verify(after.signature, after.raw, old), 'the old secret no longer signs');
    assert.ok(verify(after.signature, after.raw, fresh));
    assert.equal((await api('GET', `/v1/webhook_endpoints/${we.id}`, { key: m.secret_key })).json.previous_secret_expires, undefined);
  } finally {
    await rx.close();
  }
});

test('enabled_events filters; a deleted endpoint gets nothing more', async () => {
  const { m, rx, we } = await withReceiver(undefined, ['refund.succeeded']);
  try {
    const pi = await pay(m);
    const re = await refund(m, pi, '1.00');
    const got = await until(() => rx.received.find((r) => r.event?.type === 'refund.succeeded'), 'refund.succeeded');
    assert.equal(got.event.data.object.id, re.json.id);
    assert.deepEqual(rx.received.map((r) => r.event.type), ['refund.succeeded'], 'payment_intent.succeeded was not wanted');
    await api('DELETE', `/v1/webhook_endpoints/${we.id}`, { key: m.secret_key });
    const re2 = await refund(m, pi, '1.00');
    // The event exists, with no delivery for the deleted endpoint.
    const events = (await api('GET', '/v1/events?type=refund.succeeded', { key: m.secret_key })).json.data;
    assert.equal(events.length, 2);
    const second = events.find((e) => e.data.object.id === re2.json.id);
    assert.deepEqual(await deliveries(m, second.id), []);
    await advance(m, 3600);
    assert.equal(rx.received.length, 1);
  } finally {
    await rx.close();
  }
});

test('test clocks are refused a bad advance, and events of another merchant are not found', async () => {
  const { m, rx } = await withReceiver();
  try {
    errorOf(assert, await advance(m, 0), 400);
    errorOf(assert, await advance(m, 400 * 24 * 3600), 400);
    errorOf(assert, await api('POST', '/v1/test_helpers/advance_clock', { key: m.secret_key, body: { seconds: 1, extra: true } }), 400);
    await pay(m);
    const got = await until(() => rx.received[0], 'an event');
    const other = await stripeMerchant();
    errorOf(assert, await api('GET', `/v1/events/${got.event.id}`, { key: other.secret_key }), 404);
    errorOf(assert, await api('GET', `/v1/events/${got.event.id}`, { key: m.publishable_key }), 403);
  } finally {
    await rx.close();
  }
});

test('a slow endpoint never holds up a payment: the next payment completes while a delivery still hangs', async () => {
  const m = await stripeMerchant();
  const http = await import('node:http');
  const hanging = [];
  // The merchant's server takes each delivery and does not answer (until the test ends).
  const server = http.createServer((req, res) => {
    const h = { res, closed: false };
    // Closed from the other side only when the Worker gives up on it (its 10 s timeout).
    res.on('close', () => { h.closed = true; });
    req.resume();
    hanging.push(h);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const we = await endpoint(m, { url: `http://127.0.0.1:${server.address().port}/hooks` });
    assert.equal(we.status, 200, we.text);
    await pay(m, '10.00');
    await until(() => hanging.length > 0, 'the first delivery to start');
    // While that delivery hangs in the merchant object's alarm, a payment goes through.
    const second = await pay(m, '11.00');
    assert.equal(hanging[0].closed, false, 'the first delivery was still waiting for its answer');
    assert.equal((await api('GET', `/v1/payment_intents/${second.id}`, { key: m.secret_key })).json.status, 'succeeded');
  } finally {
    for (const h of hanging) h.res.destroy();
    await new Promise((r) => server.close(r));
  }
});

test('a refund Stripe refuses: the merchant hears refund.failed, and the amount is refundable again', async () => {
  const { m, rx } = await withReceiver(undefined, ['refund.failed', 'refund.succeeded']);
  try {
    const pi = await pay(m, '40.00');
    await fault({ method: 'POST', path_prefix: '/v1/refunds', kind: 'refuse_before_forward' });
    let refused;
    try {
      refused = await refund(m, pi, '15.00');
    } finally {
      await clearFaults();
    }
    assert.ok(refused.status >= 400, refused.text);
    const got = await until(() => rx.received.find((r) => r.event?.type === 'refund.failed'), 'refund.failed');
    assert.equal(got.verified, true);
    assert.equal(got.event.data.object.status, 'failed');
    assert.equal(got.event.data.object.amount, '15.00');
    assert.equal(got.event.data.object.payment_intent, pi.id);
    // Nothing was refunded, and all of it can still be.
    assert.equal((await api('GET', `/v1/payment_intents/${pi.id}`, { key: m.secret_key })).json.amount_refunded, '0.00');
    const again = await refund(m, pi, '40.00');
    assert.equal(again.json.status, 'succeeded', again.text);
  } finally {
    await rx.close();
  }
});
