// An example of a merchant's server receiving Edge Checkout events: Node, no
// dependencies. It checks `Edge-Checkout-Signature` (t={unix},v1={hex HMAC-SHA256 of
// "{t}.{raw body}"} under the endpoint's secret; several v1 while a rolled secret
// overlaps) against the raw body, refuses stale timestamps, and prints each event.
//
//   WEBHOOK_SECRET=whsec_… node tests/webhook-receiver/receiver.mjs 9000
//
// The end-to-end tests import `startReceiver` and use it as the merchant's server.
import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { fileURLToPath } from 'node:url';

/** Tolerance for the signed timestamp, as Stripe's libraries default to. */
const TOLERANCE_SECONDS = 300;

/** Whether `header` signs `rawBody` under `secret`, made within the tolerance. */
export function verify(header, rawBody, secret, now = Math.floor(Date.now() / 1000)) {
  if (!header) return false;
  const parts = header.split(',').map((p) => p.split('='));
  const t = parts.find(([k]) => k === 't')?.[1];
  if (!t || !/^\d+$/.test(t) || Math.abs(now - Number(t)) > TOLERANCE_SECONDS) return false;
  const expected = createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
  return parts.filter(([k]) => k === 'v1').some(([, v]) => {
    const got = Buffer.from(v ?? '', 'hex');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

/**
 * A receiver on loopback. `respond(event, n)` picks the status for the n-th delivery
 * (default 200). Every delivery is kept in `received`, verified or not.
 */
export async function startReceiver({ secret, respond = () => 200, port = 0, log } = {}) {
  const received = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const signature = req.headers['edge-checkout-signature'];
      const ok = typeof secret === 'function' ? secret(signature, raw) : verify(signature, raw, secret);
      let event;
      try { event = JSON.parse(raw.toString('utf8')); } catch { event = undefined; }
      received.push({ at: Date.now(), signature, raw: raw.toString('utf8'), event, verified: ok });
      if (!ok) { res.writeHead(400); res.end('bad signature'); return; }
      log?.(`${event.type} ${event.id} (${event.data.object.id})`);
      const status = respond(event, received.filter((r) => r.event?.id === event.id).length);
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status < 300 ? 'ok' : 'not now');
    });
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/hooks`,
    received,
    close: () => new Promise((r) => server.close(r)),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const secret = process.env.WEBHOOK_SECRET;
  if (!secret) {
    console.error('set WEBHOOK_SECRET to the whsec_… shown when the endpoint was created');
    process.exit(2);
  }
  const r = await startReceiver({ secret, port: Number(process.argv[2] || 9000), log: console.log });
  console.log(`listening on ${r.url}`);
}
