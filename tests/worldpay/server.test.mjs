// Tests for the Worldpay stand-in (server.mjs): Basic auth, the hosted payment page as a
// browser would drive it (form posts and redirects, no JS), 3-D Secure, signed event
// notifications (received by a tiny HTTP server here, the HMAC recomputed independently),
// settlement, cancellation, expiry, refunds and idempotent replay.
// Run: node --test tests/worldpay/
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac } from 'node:crypto';
import { startWorldpay, eventSignature } from './server.mjs';

const SHOP = { username: 'shop-user', password: 'pa:ss', entity: 'default', webhookSecret: 'wp-secret', keyId: 'k1' };
const BASIC = `Basic ${Buffer.from(`${SHOP.username}:${SHOP.password}`).toString('base64')}`;
const HEADERS = { authorization: BASIC, 'wp-api-version': '2024-06-01', 'content-type': 'application/json' };
// The hosted-page API is versioned by its media type, sent both ways (PROVIDERS.md).
const HPP_TYPE = 'application/vnd.worldpay.payment_pages-v1.hal+json';
const PAGE_HEADERS = { authorization: BASIC, 'content-type': HPP_TYPE, accept: HPP_TYPE };
const SUCCESS = 'https://shop.example/return?order=42';
const FAILURE = 'https://shop.example/failed';

// Receives notifications; `next(n)` resolves once n have arrived in total.
async function startReceiver() {
  const got = [];
  let waiters = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => { raw += c; });
    req.on('end', () => {
      got.push({ raw, signature: req.headers['event-signature'], body: JSON.parse(raw) });
      res.end('ok');
      waiters = waiters.filter((w) => (got.length >= w.n ? (w.resolve(), false) : true));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    got,
    url: `http://127.0.0.1:${server.address().port}/wp`,
    next: (n) => (got.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}

// A POST with exactly these headers (and Content-Length).
function rawPost(url, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('Worldpay stand-in', () => {
  let wp;
  let rx;
  const api = (method, p, body, headers = HEADERS) => fetch(wp.url + p, { method, headers, body: body && JSON.stringify(body) });
  const control = (p, body) => fetch(`${wp.url}/_standin/${p}`, { method: 'POST', body: JSON.stringify(body ?? {}) });
  const form = (p, fields) => fetch(wp.url + p, { method: 'POST', redirect: 'manual', body: new URLSearchParams(fields) });
  const types = () => rx.got.map((n) => n.body.eventDetails.type);

  async function page(amount = 5000, ref = `order-${Math.random().toString(36).slice(2, 8)}`) {
    const r = await api('POST', '/payment_pages', { transactionReference: ref, merchant: { entity: 'default' },
      narrative: { line1: 'Order 42' }, value: { amount, currency: 'EUR' },
      resultURLs: { successURL: SUCCESS, failureURL: FAILURE, cancelURL: FAILURE }, settlement: { auto: false } }, PAGE_HEADERS);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), HPP_TYPE);
    const { url, transactionReference } = await r.json();
    assert.ok(url.startsWith(`${wp.url}/hpp/`), url);
    assert.equal(transactionReference, ref);
    return { url, path: new URL(url).pathname, ref };
  }
  // As a browser: card form → (3DS form) → redirect back to the shop.
  async function pay({ card = '4444 3333 2222 1111', cardholder = 'Ada Lovelace', threeDS = 'pass', amount } = {}) {
    const p = await page(amount);
    let r = await form(p.path, { card, expiry: '12/30', cvc: '123', cardholder });
    assert.equal(r.status, 303);
    let to = r.headers.get('location');
    if (to === `${p.path}/3ds`) {
      const html = await (await fetch(wp.url + to)).text();
      assert.match(html, /Pass authentication/);
      assert.match(html, /Fail authentication/);
      r = await form(to, { outcome: threeDS });
      assert.equal(r.status, 303);
      to = r.headers.get('location');
    }
    const back = new URL(to);
    return { ...p, back, paymentId: back.searchParams.get('paymentId') };
  }
  async function status(paymentId) {
    const r = await api('GET', `/api/payments/${paymentId}`);
    assert.equal(r.status, 200);
    return r.json();
  }
  function assertSigned(n) {
    const hex = createHmac('sha256', SHOP.webhookSecret).update(n.raw).digest('hex');
    assert.equal(n.signature, `${SHOP.keyId}/SHA256/${hex}`);
  }

  before(async () => {
    rx = await startReceiver();
    wp = await startWorldpay({ merchants: [{ ...SHOP, notificationUrl: rx.url }] });
  });
  after(async () => { await wp.close(); await rx.close(); });
  beforeEach(async () => { await wp.settled(); rx.got.length = 0; });

  it('Basic auth on every API call → 401 JSON otherwise', async () => {
    const wrong = `Basic ${Buffer.from(`${SHOP.username}:nope`).toString('base64')}`;
    for (const authorization of [undefined, wrong, 'Bearer x', `Basic ${Buffer.from('nobody:pa:ss').toString('base64')}`]) {
      const headers = { ...HEADERS, authorization };
      if (!authorization) delete headers.authorization;
      for (const [m, p] of [['POST', '/payment_pages'], ['GET', '/api/payments/x']]) {
        const r = await api(m, p, m === 'POST' ? {} : undefined, headers);
        assert.equal(r.status, 401, `${m} ${p} ${authorization}`);
        assert.ok((await r.json()).errorName);
      }
    }
    assert.equal((await api('GET', '/api/payments/unknown')).status, 404);
    const noVersion = { ...HEADERS };
    delete noVersion['wp-api-version'];
    const r = await api('GET', '/api/payments/unknown', undefined, noVersion);
    assert.deepEqual([r.status, (await r.json()).errorName], [400, 'headerIsMissing']);
    assert.equal((await api('GET', '/api/payments/x', undefined, { ...HEADERS, 'wp-api-version': '2019-01-01' })).status, 400);
  });

  it('hosted page → test card → 3DS pass → Authorized, signed notification, redirect to successURL', async () => {
    const p = await page(5000);
    const html = await (await fetch(p.url)).text();
    for (const f of ['card', 'expiry', 'cvc', 'cardholder']) {
      assert.match(html, new RegExp(`<label for="${f}">`));
      assert.match(html, new RegExp(`<input id="${f}"`));
    }
    assert.match(html, /aria-live="polite"/);
    assert.match(html, /50\.00 EUR/);
    const bad = await form(p.path, { card: '4444 3333 2222 1112', expiry: '12/30', cvc: '123', cardholder: 'A' });
    assert.equal(bad.status, 422);
    assert.match(await bad.text(), /id="card"[^>]*aria-invalid="true"/);
    let r = await form(p.path, { card: '4444 3333 2222 1111', expiry: '12/30', cvc: '123', cardholder: 'Ada' });
    assert.equal(r.headers.get('location'), `${p.path}/3ds`);
    r = await form(`${p.path}/3ds`, { outcome: 'pass' });
    const back = new URL(r.headers.get('location'));
    assert.equal(`${back.origin}${back.pathname}`, 'https://shop.example/return');
    assert.equal(back.searchParams.get('order'), '42');
    assert.equal(back.searchParams.get('transactionReference'), p.ref);
    const paymentId = back.searchParams.get('paymentId');
    const s = await status(paymentId);
    assert.deepEqual([s.lastEvent, s.value, s.transactionReference], ['Authorized', { amount: 5000, currency: 'EUR' }, p.ref]);
    await rx.next(1);
    assertSigned(rx.got[0]);
    assert.deepEqual(rx.got[0].body.eventDetails, { ...rx.got[0].body.eventDetails, type: 'Authorized', paymentId,
      transactionReference: p.ref, amount: { value: 5000, currencyCode: 'EUR' } });
    assert.equal((await fetch(p.url)).status, 410, 'a page is used once');
  });

  it('refused card (number or cardholder REFUSED) → Refused at once, redirect to failureURL', async () => {
    for (const args of [{ card: '4000 0000 0000 0002' }, { cardholder: 'refused' }]) {
      const out = await pay(args);
      assert.equal(`${out.back.origin}${out.back.pathname}`, FAILURE);
      assert.equal(out.back.searchParams.get('transactionReference'), out.ref);
      assert.equal((await status(out.paymentId)).lastEvent, 'Refused');
    }
    await rx.next(2);
    assert.deepEqual(types(), ['Refused', 'Refused']);
    // A fresh page for the same transactionReference (the next attempt) can still succeed.
    const retry = await page(5000, rx.got[1].body.eventDetails.transactionReference);
    const out = await (await control('complete', { url: retry.url })).json();
    assert.notEqual(out.paymentId, rx.got[1].body.eventDetails.paymentId);
    assert.equal(out.lastEvent, 'Authorized');
  });

  it('3DS fail → Refused', async () => {
    const out = await pay({ threeDS: 'fail' });
    assert.equal(`${out.back.origin}${out.back.pathname}`, FAILURE);
    assert.equal((await status(out.paymentId)).lastEvent, 'Refused');
    await rx.next(1);
    assert.deepEqual(types(), ['Refused']);
  });

  it('partial settlement (rest released) → Settled by the batch → partial refunds → Refunded', async () => {
    const { paymentId } = await pay({ amount: 5000 });
    const id = `/api/payments/${paymentId}`;
    assert.equal((await api('POST', `${id}/partialRefunds`, { value: { amount: 100, currency: 'EUR' } })).status, 400);
    const over = await api('POST', `${id}/partialSettlements`, { value: { amount: 5001, currency: 'EUR' } });
    assert.equal(over.status, 400);
    assert.equal((await over.json()).validationErrors[0].jsonPath, '$.value.amount');
    let r = await api('POST', `${id}/partialSettlements`, { value: { amount: 3000, currency: 'EUR' }, reference: 'pi_1' });
    assert.equal(r.status, 202);
    let s = await r.json();
    assert.deepEqual([s.lastEvent, s.value.amount, s.settledValue.amount], ['SentForSettlement', 5000, 3000]);
    assert.deepEqual(Object.keys(s._links), ['self', 'payments:partialRefund']);
    assert.equal((await api('POST', `${id}/cancellations`)).status, 400, 'no cancel after settlement');
    assert.deepEqual((await (await control('settle-batch')).json()).settled, [paymentId]);
    assert.equal((await status(paymentId)).lastEvent, 'Settled');
    assert.equal((await api('POST', `${id}/partialRefunds`, { value: { amount: 3001, currency: 'EUR' } })).status, 400);
    r = await api('POST', `${id}/partialRefunds`, { value: { amount: 1000, currency: 'EUR' }, reference: 're_1' });
    assert.equal(r.status, 202);
    assert.equal((await r.json()).lastEvent, 'SentForRefund');
    assert.equal((await api('POST', `${id}/partialRefunds`, { value: { amount: 2001, currency: 'EUR' } })).status, 400, 'pending refunds count');
    await control('refund-batch');
    s = await status(paymentId);
    assert.deepEqual([s.lastEvent, s.settledValue.amount, s.refundedValue.amount], ['Refunded', 3000, 1000]);
    await rx.next(5);
    assert.deepEqual(types(), ['Authorized', 'SentForSettlement', 'Settled', 'SentForRefund', 'Refunded']);
    rx.got.forEach(assertSigned);
    assert.deepEqual(rx.got.map((n) => n.body.eventDetails.amount.value), [5000, 3000, 3000, 1000, 1000]);
    assert.deepEqual(rx.got.map((n) => n.body.eventDetails.reference), [undefined, 'pi_1', 'pi_1', 're_1', 're_1']);
  });

  it('refund before the settlement batch keeps lastEvent; settlement.auto; the page cancel button', async () => {
    const { paymentId } = await pay({ amount: 900 });
    const id = `/api/payments/${paymentId}`;
    assert.equal((await api('POST', `${id}/settlements`)).status, 202);
    assert.equal((await api('POST', `${id}/partialRefunds`, { value: { amount: 900, currency: 'EUR' }, reference: 're_2' })).status, 202);
    await control('settle-batch');
    assert.equal((await status(paymentId)).lastEvent, 'SentForRefund', 'never backwards');
    await control('refund-batch');
    const s = await status(paymentId);
    assert.deepEqual([s.lastEvent, s.refundedValue.amount, s._links['payments:partialRefund']], ['Refunded', 900, undefined]);
    await rx.next(5);
    assert.deepEqual(types(), ['Authorized', 'SentForSettlement', 'SentForRefund', 'Settled', 'Refunded']);

    const auto = await api('POST', '/payment_pages', { transactionReference: 'pi_auto', merchant: { entity: 'default' },
      narrative: { line1: 'x' }, value: { amount: 100, currency: 'EUR' }, resultURLs: { successURL: SUCCESS, failureURL: FAILURE },
      settlement: { auto: true } }, PAGE_HEADERS);
    const done = await (await control('complete', { url: (await auto.json()).url })).json();
    assert.equal((await status(done.paymentId)).lastEvent, 'SentForSettlement');

    const p = await page();
    const r = await form(`${p.path}/cancel`, {});
    assert.equal(r.headers.get('location'), `${FAILURE}?transactionReference=${p.ref}`);
    assert.equal((await fetch(p.url)).status, 410);
  });

  it('full settlement settles the authorised amount', async () => {
    const { paymentId } = await pay({ amount: 1234 });
    const s = await (await api('POST', `/api/payments/${paymentId}/settlements`)).json();
    assert.deepEqual([s.lastEvent, s.settledValue], ['SentForSettlement', { amount: 1234, currency: 'EUR' }]);
  });

  it('cancel only from Authorized', async () => {
    const { paymentId } = await pay();
    const r = await api('POST', `/api/payments/${paymentId}/cancellations`);
    assert.equal(r.status, 202);
    assert.equal((await r.json()).lastEvent, 'Cancelled');
    const again = await api('POST', `/api/payments/${paymentId}/cancellations`);
    assert.equal(again.status, 400);
    assert.ok((await again.json()).errorName);
    await rx.next(2);
    assert.deepEqual(types(), ['Authorized', 'Cancelled']);
  });

  it('expire: Authorized → Expired with a notification', async () => {
    const { paymentId } = await pay();
    assert.equal((await (await control('expire', { paymentId })).json()).lastEvent, 'Expired');
    assert.equal((await control('expire', { paymentId })).status, 400);
    await rx.next(2);
    assert.deepEqual(types(), ['Authorized', 'Expired']);
    assertSigned(rx.got[1]);
  });

  it('Idempotency-Key replays the first reply; another body with the key → 409', async () => {
    const { paymentId } = await pay({ amount: 5000 });
    const headers = { ...HEADERS, 'idempotency-key': 'pi_1:capture' };
    const p = `/api/payments/${paymentId}/partialSettlements`;
    const body = { value: { amount: 2000, currency: 'EUR' } };
    const first = await api('POST', p, body, headers);
    const text = await first.text();
    const again = await api('POST', p, body, headers);
    assert.deepEqual([again.status, await again.text(), again.headers.get('idempotent-replayed')], [first.status, text, 'true']);
    assert.equal((await api('POST', p, { value: { amount: 1000, currency: 'EUR' } }, headers)).status, 409);
    assert.equal((await api('POST', p, body)).status, 400, 'without the key it is a second settlement');
    const pageBody = { transactionReference: 'pi_idem', merchant: { entity: 'default' }, narrative: { line1: 'x' },
      value: { amount: 100, currency: 'EUR' }, resultURLs: { successURL: SUCCESS, failureURL: FAILURE } };
    const pageHeaders = { ...PAGE_HEADERS, 'idempotency-key': 'pi_idem:payment_page' };
    const a = await api('POST', '/payment_pages', pageBody, pageHeaders);
    const b = await api('POST', '/payment_pages', pageBody, pageHeaders);
    assert.deepEqual([b.headers.get('idempotent-replayed'), b.headers.get('content-type')], ['true', HPP_TYPE]);
    assert.equal((await a.json()).url, (await b.json()).url);
    await wp.settled();
    assert.deepEqual(types(), ['Authorized', 'SentForSettlement']);
  });

  it('faults: before the provider acts nothing happens; after, the idempotent replay tells what did', async () => {
    const { paymentId } = await pay({ amount: 5000 });
    const p = `/api/payments/${paymentId}/partialSettlements`;
    const body = { value: { amount: 2000, currency: 'EUR' }, reference: 'pi_f' };
    const headers = { ...HEADERS, 'idempotency-key': 'pi_f:settle' };
    const fault = (f) => fetch(`${wp.url}/_standin/faults`, { method: 'POST', body: JSON.stringify(f) });
    assert.equal((await fault({ kind: 'nope' })).status, 400);
    assert.equal((await fault({ kind: 'delay', hold_ms: 60001 })).status, 400);
    // 503 before: nothing settled; the retry with the key acts.
    assert.equal((await fault({ method: 'POST', path_suffix: '/partialSettlements', kind: '503' })).status, 201);
    assert.equal((await api('POST', p, body, headers)).status, 503);
    assert.equal((await status(paymentId)).settledValue?.amount ?? 0, 0);
    // drop_after: settled, the caller gets no answer; the retry is the replay.
    await fault({ method: 'POST', path_suffix: '/partialSettlements', kind: 'drop_after' });
    const headers2 = { ...HEADERS, 'idempotency-key': 'pi_f:settle2' };
    await assert.rejects(api('POST', p, body, headers2));
    assert.equal((await status(paymentId)).settledValue.amount, 2000);
    const again = await api('POST', p, body, headers2);
    assert.deepEqual([again.status, again.headers.get('idempotent-replayed')], [202, 'true']);
    assert.equal((await status(paymentId)).settledValue.amount, 2000, 'the replay settles nothing more');
    // malformed_after: a 200 that is not JSON; used up after one call.
    await fault({ method: 'GET', path_prefix: '/api/payments/', kind: 'malformed_after' });
    const bad = await api('GET', `/api/payments/${paymentId}`);
    assert.equal(bad.status, 200);
    const text = await bad.text();
    assert.throws(() => JSON.parse(text), SyntaxError);
    const listed = (await (await fetch(`${wp.url}/_standin/faults`)).json()).data;
    assert.deepEqual(listed.map((f) => [f.kind, f.remaining, f.hits.length]), [['503', 0, 1], ['drop_after', 0, 1], ['malformed_after', 0, 1]]);
  });

  it('hosted page: POST /payment_pages only with the HPP media type as Content-Type and Accept; no /api/payment_pages', async () => {
    const body = { transactionReference: 'pi_media', merchant: { entity: 'default' }, narrative: { line1: 'x' },
      value: { amount: 100, currency: 'EUR' }, resultURLs: { successURL: SUCCESS, failureURL: FAILURE } };
    const cases = [
      [{ ...PAGE_HEADERS, 'content-type': 'application/json' }, 415, 'headerHasInvalidValue', /Content-Type/],
      [{ authorization: BASIC, accept: HPP_TYPE }, 415, 'headerIsMissing', /Content-Type/],
      [{ ...PAGE_HEADERS, accept: 'application/json' }, 406, 'headerHasInvalidValue', /Accept/],
      [{ authorization: BASIC, 'content-type': HPP_TYPE }, 406, 'headerIsMissing', /Accept/],
      // `*/*` names no version of the API.
      [{ ...PAGE_HEADERS, accept: '*/*' }, 406, 'headerHasInvalidValue', /Accept/],
      // What the adapter used to send: plain JSON with the payments API's version header.
      [HEADERS, 415, 'headerHasInvalidValue', /application\/vnd\.worldpay\.payment_pages-v1\.hal\+json/],
    ];
    for (const [headers, status, errorName, message] of cases) {
      // node:http, not fetch, which adds `Accept: */*` and a text/plain Content-Type of its own.
      const r = await rawPost(`${wp.url}/payment_pages`, headers, JSON.stringify(body));
      const json = JSON.parse(r.text);
      assert.deepEqual([r.status, json.errorName], [status, errorName], JSON.stringify(headers));
      assert.match(json.message, message);
    }
    // The old path of ours is not Worldpay's: nothing is served there.
    for (const headers of [HEADERS, { ...PAGE_HEADERS, 'wp-api-version': '2024-06-01' }]) {
      const old = await api('POST', '/api/payment_pages', body, headers);
      assert.deepEqual([old.status, (await old.json()).errorName], [404, 'resourceNotFound']);
    }
    // Parameters and case do not matter; a list of types is fine if it names this one.
    const ok = await api('POST', '/payment_pages', body, { ...PAGE_HEADERS,
      'content-type': `${HPP_TYPE.toUpperCase()}; charset=utf-8`, accept: `application/json, ${HPP_TYPE}` });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('content-type'), HPP_TYPE);
    assert.ok((await ok.json()).url.startsWith(`${wp.url}/hpp/`));
  });

  it('Event-Signature is {keyId}/SHA256/{hex}; notify sends hand-made and forged notifications', async () => {
    const { paymentId } = await pay();
    await rx.next(1);
    assert.match(rx.got[0].signature, /^k1\/SHA256\/[0-9a-f]{64}$/);
    assert.equal(eventSignature('k1', SHOP.webhookSecret, rx.got[0].raw), rx.got[0].signature);
    const dup = await (await control('notify', { paymentId })).json();
    assert.equal(dup.response_status, 200);
    assert.equal(rx.got[1].body.eventDetails.type, 'Authorized');
    assertSigned(rx.got[1]);
    await control('notify', { paymentId, body: '{"eventId":"x"}', signature: 'k1/SHA256/00' });
    assert.deepEqual([rx.got[2].raw, rx.got[2].signature], ['{"eventId":"x"}', 'k1/SHA256/00']);
    const log = (await (await fetch(`${wp.url}/_standin/notifications`)).json()).data;
    assert.deepEqual(log.slice(-3).map((n) => n.manual), [false, true, true]);
    assert.equal((await status(paymentId)).lastEvent, 'Authorized', 'notify changes nothing');
  });

  it('control API: merchants upsert (no secrets shown), complete without a browser, reset', async () => {
    const r = await control('merchants', { username: 'm2', password: 'p', entity: 'e2', webhookSecret: 's', notificationUrl: rx.url });
    assert.equal(r.status, 201);
    const m = await r.json();
    assert.deepEqual(m, { username: 'm2', entity: 'e2', keyId: '1', notificationUrl: rx.url });
    const m2 = { ...HEADERS, authorization: `Basic ${Buffer.from('m2:p').toString('base64')}` };
    const m2Page = { ...PAGE_HEADERS, authorization: m2.authorization };
    const created = await api('POST', '/payment_pages', { transactionReference: 'pi_m2', merchant: { entity: 'e2' },
      narrative: { line1: 'x' }, value: { amount: 700, currency: 'CHF' }, resultURLs: { successURL: SUCCESS, failureURL: FAILURE } }, m2Page);
    const out = await (await control('complete', { url: (await created.json()).url, threeDS: 'pass' })).json();
    assert.equal(out.lastEvent, 'Authorized');
    assert.ok(out.redirect.startsWith(`${SUCCESS}&paymentId=`));
    assert.equal((await api('GET', `/api/payments/${out.paymentId}`)).status, 404, "another merchant's payment");
    await rx.next(1);
    const hex = createHmac('sha256', 's').update(rx.got[0].raw).digest('hex');
    assert.equal(rx.got[0].signature, `1/SHA256/${hex}`, 'keyId defaults to 1');
    const wrongEntity = await api('POST', '/payment_pages', { transactionReference: 'pi_m2', merchant: { entity: 'default' },
      narrative: { line1: 'x' }, value: { amount: 700, currency: 'CHF' }, resultURLs: { successURL: SUCCESS, failureURL: FAILURE } }, m2Page);
    assert.deepEqual([wrongEntity.status, (await wrongEntity.json()).errorName], [400, 'entityIsNotConfigured']);
    const list = (await (await fetch(`${wp.url}/_standin/payments`)).json()).data;
    assert.ok(list.some((x) => x.paymentId === out.paymentId));
    await wp.settled();
    await control('reset');
    assert.deepEqual((await (await fetch(`${wp.url}/_standin/payments`)).json()).data, []);
    assert.deepEqual((await (await fetch(`${wp.url}/_standin/merchants`)).json()).data.map((x) => x.username), [SHOP.username]);
  });
});
