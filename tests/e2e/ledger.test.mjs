// The ledger readable (issue 12): every row the intent's amounts are summed from,
// as JSON pages and as a CSV download with the same rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, errorOf, stripeMerchant, WORKER } from './lib.mjs';
import { refund, partlyCaptured } from './payments.mjs';

const rows = (m, q = '') => api('GET', `/v1/balance_transactions${q}`, { key: m.secret_key });

test('capture 247.35 of 300.00, refund 47.35: the rows, their net, and the same rows in the CSV', async () => {
  const m = await stripeMerchant();
  const { pi } = await partlyCaptured(m);
  const re = await refund(m, pi, '47.35');
  assert.equal(re.json.status, 'succeeded', re.text);

  const r = await rows(m, `?payment_intent=${pi.id}&limit=100`);
  assert.equal(r.status, 200, r.text);
  const got = r.json.data.map((t) => [t.type, t.amount, t.net]).sort();
  assert.deepEqual(got, [
    ['authorized', '300.00', '0.00'],
    ['captured', '247.35', '247.35'],
    ['platform_fee', '0.50', '-0.50'],
    // Stripe's fee on the capture (the recording proxy books 2.9 % + 0.30).
    ['provider_fee', '7.47', '-7.47'],
    ['refund_pending', '47.35', '0.00'],
    ['refund_succeeded', '47.35', '-47.35'],
    ['released', '52.65', '0.00'],
  ].sort());
  assert.ok(r.json.data.every((t) => t.payment_intent === pi.id && t.currency === 'CHF' && /^txn_\d+$/.test(t.id)));
  assert.equal(r.json.data.find((t) => t.type === 'refund_succeeded').refund, re.json.id);
  // The intent's own amounts are these rows' sums.
  const net = r.json.data.reduce((s, t) => s + Math.round(Number(t.net) * 100), 0);
  assert.equal(net, 24735 - 4735 - 50 - 747);
  const intent = (await api('GET', `/v1/payment_intents/${pi.id}`, { key: m.secret_key })).json;
  assert.equal(intent.amount_received, '247.35');
  assert.equal(intent.amount_refunded, '47.35');
  assert.equal(intent.net, '192.03');

  // The day's CSV: the same rows.
  const day = Math.floor(Date.now() / 1000 / 86400) * 86400;
  const csv = await fetch(`${WORKER}/v1/balance_transactions?created_gte=${day}&created_lt=${day + 86400}`, {
    headers: { authorization: `Bearer ${m.secret_key}`, accept: 'text/csv' },
  });
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get('content-type'), /^text\/csv/);
  assert.match(csv.headers.get('content-disposition'), /attachment; filename="balance_transactions.csv"/);
  const lines = (await csv.text()).trim().split('\r\n');
  assert.equal(lines[0], 'id,created_utc,type,amount,net,currency,payment_intent,refund');
  const fromCsv = lines.slice(1).map((l) => l.split(',')).map(([id, at, type, amount, netv, cur, p]) => {
    assert.match(at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(cur, 'CHF');
    assert.equal(p, pi.id);
    return [id, type, amount, netv];
  });
  assert.deepEqual(fromCsv.sort(), r.json.data.map((t) => [t.id, t.type, t.amount, t.net]).sort());
});

test('filters and pages: type, refund rows together, starting_after; bad filters refused; another merchant sees nothing', async () => {
  const m = await stripeMerchant();
  const { pi } = await partlyCaptured(m);
  await refund(m, pi, '10.00');
  const captured = await rows(m, '?type=captured');
  assert.deepEqual(captured.json.data.map((t) => t.amount), ['247.35']);
  const refunds = await rows(m, '?type=refund');
  assert.deepEqual(refunds.json.data.map((t) => t.type).sort(), ['refund_pending', 'refund_succeeded']);
  const first = await rows(m, '?limit=2');
  assert.equal(first.json.data.length, 2);
  assert.equal(first.json.has_more, true);
  const next = await rows(m, `?limit=100&starting_after=${first.json.data[1].id}`);
  assert.equal(next.json.has_more, false);
  assert.equal(first.json.data.length + next.json.data.length, 7);
  assert.ok(next.json.data.every((t) => t.id < first.json.data[1].id));
  errorOf(assert, await rows(m, '?type=captures'), 400);
  errorOf(assert, await rows(m, '?created_gte=yesterday'), 400);
  errorOf(assert, await rows(m, '?starting_after=pi_1'), 400);
  errorOf(assert, await api('GET', '/v1/balance_transactions', { key: m.publishable_key }), 403);
  const other = await stripeMerchant();
  assert.deepEqual((await rows(other, `?payment_intent=${pi.id}`)).json.data, []);
});
