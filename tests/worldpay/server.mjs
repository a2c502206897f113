// Worldpay stand-in for the tests and the local stack.
//
// Access Worldpay has no public sandbox reachable from here, so the Worker's Worldpay code
// is exercised against this server. It implements exactly what the domain crate's adapter
// (shared/src/worldpay/: requests.rs, wire.rs, webhook.rs) sends and reads, and otherwise
// /work/shared/PROVIDERS.md. It also plays Worldpay's hosted payment page (HPP), where a
// person or a test enters a test card and passes or fails 3-D Secure.
//
// API, under the base URL `<url>/`. Every call needs `Authorization: Basic
// base64(username:password)` of a merchant (else 401 {errorName: "unauthorized"}). The
// payments API (`api/…`) also needs `WP-Api-Version: 2024-06-01` (else 400 headerIsMissing /
// headerHasInvalidValue); the hosted-page API (`payment_pages`) is versioned by its media
// type instead, as Worldpay's HPP docs say: `Content-Type` and `Accept` both
// `application/vnd.worldpay.payment_pages-v1.hal+json` (else 415 / 406, errorName
// headerIsMissing or headerHasInvalidValue), and it answers in that media type.
// Errors: {errorName, message, validationErrors?: [{errorName, message, jsonPath}]};
// a bad or too high amount is 400 with jsonPath "$.value.amount"; an action the state does
// not allow is 400 actionNotAllowed (409 is kept for idempotency clashes); another
// merchant's or an unknown payment is 404 resourceNotFound.
//   POST payment_pages {transactionReference ([A-Za-z0-9_-]{1,64}), merchant: {entity}
//        (must be the account's), narrative: {line1 (≤ 24 chars)}, value: {amount, currency},
//        resultURLs: {successURL, failureURL, cancelURL?, errorURL?, pendingURL?},
//        settlement?: {auto}}      → 200 {url: "<url>/hpp/<token>", transactionReference}
//        (no paymentId: it comes with the redirect and every notification). auto=true
//        sends the whole amount for settlement right after Authorized.
//   GET  api/payments/{id} → {paymentId, transactionReference, lastEvent,
//        value: {amount, currency} (authorised/requested), settledValue? (once settlement
//        was requested), refundedValue? (completed refunds' total, once above 0),
//        _links: {self, payments:settle|partialSettle|cancel (Authorized),
//        payments:partialRefund (while something is refundable)}}
//   POST api/payments/{id}/settlements (no body)       the whole amount   → 202 status
//   POST api/payments/{id}/partialSettlements {value, reference}          → 202 status
//        only from Authorized, once; amount ≤ authorised, the rest is released;
//        → SentForSettlement now, Settled when the settlement batch runs (funds settle
//        weekly: POST /_standin/settle-batch, or the batch timer below).
//   POST api/payments/{id}/cancellations (no body)     only from Authorized → Cancelled
//   POST api/payments/{id}/partialRefunds {value, reference}              → 202 status
//        once settlement was requested (SentForSettlement or later); amount ≤ settled −
//        refunded − refunds pending; → SentForRefund now, Refunded when the refund batch
//        runs (chosen over "immediately", so tests see both; POST /_standin/refund-batch).
//   Idempotency-Key (any POST, per merchant): the same key with the same path and body
//   replays the first reply (status and bytes, header `idempotent-replayed: true`), errors
//   included; with another path or body → 409 idempotencyKeyReused.
// Hosted page (no JavaScript; labelled inputs, an aria-live status, errors marked
// aria-invalid): GET /hpp/<token> card form (number, expiry MM/YY, CVC, cardholder) →
// POST → 303 /hpp/<token>/3ds with "Pass authentication" / "Fail authentication" → POST →
// 303 to successURL (Authorized) or failureURL (Refused), the module being silent on
// result-URL parameters: `paymentId` and `transactionReference` are appended to the URL's
// own query. Cards (Luhn checked): 4000 0000 0000 0002 or cardholder "REFUSED" → Refused at
// once, without 3DS; any other valid number (4444 3333 2222 1111, the Visa test card) → 3DS;
// failed 3DS → Refused. "Cancel payment" → cancelURL (else failureURL) with
// ?transactionReference=…, no payment. A page is used once (then 410).
// Event notifications: every event (Authorized, Refused, SentForSettlement, Settled,
//   Cancelled, Expired, SentForRefund, Refunded) POSTs to the merchant's notificationUrl
//   {eventId (uuid), eventTimestamp (ISO, ms, Z), eventDetails: {classification: "payment",
//    transactionReference, type, date (YYYY-MM-DD of the payment), amount: {value,
//    currencyCode} (this event's amount), paymentId, reference? (of the settlement or
//    refund)}}
//   with `Event-Signature: {keyId}/SHA256/{hex(HMAC-SHA256(webhookSecret, raw body))}`,
//   keyId "1" unless the merchant sets another (webhook.rs KEY_ID). Once, no retries, in
//   order per payment; the reply status is recorded.
// Test control API (JSON), /_standin/…:
//   POST merchants {username, password, entity, webhookSecret, keyId?, notificationUrl?}
//        upsert → 201 the merchant without secrets;   GET merchants
//   GET  payments → {data: [status + merchant, entity, card, pendingRefunds, events]}
//   POST settle-batch → {settled: [paymentId]};  POST refund-batch → {refunded: [paymentId]}
//   POST expire {paymentId}                      Authorized → Expired
//   POST complete {token|url, card?, cardholder?, threeDS?: "pass"|"fail"} drives the
//        hosted page without a browser → {paymentId, lastEvent, redirect}
//   POST notify {paymentId?, type?, amount?, reference?, body?, signature?, merchant?}
//        posts a hand-made notification (body: object or raw string, default built from
//        the payment; signature: the whole header value, default correctly signed) to the
//        merchant's URL, changes nothing → the delivery record
//   GET  notifications → {data: [{seq, url, merchant, body (raw), signature, manual,
//        response_status, error, at}]};  DELETE notifications clears them
//   POST reset                                   back to the start options
//   POST faults {method?, path_prefix?, path_suffix?, kind, count?, hold_ms?} → 201 the fault;
//        GET faults; DELETE faults. The next `count` API calls (payments API and
//        payment_pages) that match fail as `kind` says (tests/tools/faults.mjs: 429, 500,
//        503, drop_before before acting; delay, drop_after, 500_after, malformed_after,
//        truncated_after after acting and recording the idempotency key).
// Usage: node server.mjs PORT [CONFIG_JSON_OR_FILE]   (binds 127.0.0.1 only); the config
//   is a merchant, an array of merchants, or {merchants, batchIntervalMs}.
//   startWorldpay({port, merchants, now, batchIntervalMs}) → {url, close, settled,
//   notifications}; batchIntervalMs > 0 runs both batches on a timer (the local stack).
// Node 20 built-ins only.
import http from 'node:http';
import { randomBytes, randomUUID, createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { faultTable, acts, answerBefore, answerAfter } from '../tools/faults.mjs';

const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action *; base-uri 'none'; frame-ancestors 'none'";
const REFUSED_CARDS = new Set(['4000000000000002']);
const IDEMPOTENCY_HEADER = 'idempotency-key';
const API_VERSION = '2024-06-01';
const HPP_MEDIA_TYPE = 'application/vnd.worldpay.payment_pages-v1.hal+json';

class HttpError extends Error {
  constructor(status, body) { super(`HTTP ${status}`); this.status = status; this.body = body; }
}
const fail = (status, errorName, message) => { throw new HttpError(status, { errorName, message }); };
// A validation error on one field: `{errorName, message, validationErrors: [{errorName, message, jsonPath}]}`.
const invalid = (jsonPath, errorName, message) => {
  throw new HttpError(400, { errorName: 'bodyDoesNotMatchSchema', message, validationErrors: [{ errorName, message, jsonPath }] });
};
// An action the payment's state does not allow (400: the Worker reads 409 as an idempotency clash).
const notAllowed = (p, action) => fail(400, 'actionNotAllowed', `cannot ${action} a payment whose lastEvent is ${p.lastEvent}`);
const id = (n = 16) => randomBytes(n).toString('base64url');

/** `{keyId}/SHA256/{hex}` of HMAC-SHA256(secret, raw body). */
export function eventSignature(keyId, secret, rawBody) {
  return `${keyId}/SHA256/${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

const luhn = (digits) => {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return digits.length >= 12 && sum % 10 === 0;
};
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const isMinor = (v) => Number.isSafeInteger(v) && v > 0;

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 65536) fail(413, 'bodyTooLarge', 'body too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startWorldpay({ port = 0, merchants = [], now = () => Date.now(), batchIntervalMs = 0 } = {}) {
  const state = {};
  const faults = faultTable();
  const notifications = [];
  const pending = new Set();
  let seq = 0;
  let url = '';

  function addMerchant(m) {
    const old = state.merchants.get(m.username);
    const merchant = {
      username: m.username, password: m.password ?? old?.password, entity: m.entity ?? old?.entity,
      webhookSecret: m.webhookSecret ?? m.webhook_secret ?? old?.webhookSecret,
      keyId: String(m.keyId ?? m.key_id ?? old?.keyId ?? '1'),
      notificationUrl: m.notificationUrl ?? m.notification_url ?? old?.notificationUrl ?? null,
    };
    if (!merchant.username || !merchant.password || !merchant.entity || !merchant.webhookSecret) {
      fail(400, 'bodyDoesNotMatchSchema', 'username, password, entity and webhookSecret are required');
    }
    state.merchants.set(merchant.username, merchant);
    return merchant;
  }
  function reset() {
    Object.assign(state, { merchants: new Map(), pages: new Map(), payments: new Map(), idempotency: new Map() });
    notifications.length = 0;
    faults.clear();
    merchants.forEach(addMerchant);
  }
  reset();
  const publicMerchant = ({ password, webhookSecret, ...m }) => m;

  // --- notifications ---------------------------------------------------------------------
  async function deliver(merchant, raw, signature, manual = false) {
    const record = { seq: ++seq, url: merchant?.notificationUrl ?? null, merchant: merchant?.username ?? null,
      body: raw, signature, manual, response_status: null, error: null, at: now() };
    notifications.push(record);
    if (!record.url) { record.error = 'no notificationUrl registered'; return record; }
    try {
      const r = await fetch(record.url, { method: 'POST', body: raw, signal: AbortSignal.timeout(5000),
        headers: { 'content-type': 'application/json', 'event-signature': signature } });
      record.response_status = r.status;
      await r.arrayBuffer().catch(() => {});
    } catch (e) {
      record.error = String(e?.cause?.message ?? e?.message ?? e);
    }
    return record;
  }
  function eventBody(p, type, amount, reference) {
    const eventDetails = { classification: 'payment', transactionReference: p.transactionReference, type,
      date: new Date(p.createdAt).toISOString().slice(0, 10), amount: { value: amount, currencyCode: p.currency }, paymentId: p.id };
    if (reference) eventDetails.reference = reference;
    return { eventId: randomUUID(), eventTimestamp: new Date(now()).toISOString(), eventDetails };
  }
  // Records the event, moves lastEvent, sends the signed notification after earlier ones.
  function emit(p, type, amount, { last = true, reference } = {}) {
    p.events.push({ type, amount, reference, at: now() });
    if (last) p.lastEvent = type;
    const merchant = state.merchants.get(p.merchant);
    const raw = JSON.stringify(eventBody(p, type, amount, reference));
    const sig = eventSignature(merchant.keyId, merchant.webhookSecret, raw);
    const job = (p.chain ?? Promise.resolve()).then(() => deliver(merchant, raw, sig));
    p.chain = job;
    pending.add(job);
    job.finally(() => pending.delete(job));
    return job;
  }
  const settled = async () => { while (pending.size) await Promise.allSettled([...pending]); };

  // --- payments --------------------------------------------------------------------------
  const refundable = (p) => p.settled - p.refunded - p.pendingRefunds.reduce((s, r) => s + r.amount, 0);
  function view(p) {
    const v = { paymentId: p.id, transactionReference: p.transactionReference, lastEvent: p.lastEvent,
      value: { amount: p.amount, currency: p.currency } };
    if (p.settled) v.settledValue = { amount: p.settled, currency: p.currency };
    if (p.refunded) v.refundedValue = { amount: p.refunded, currency: p.currency };
    const base = `${url}/api/payments/${p.id}`;
    const links = p.lastEvent === 'Authorized'
      ? { 'payments:settle': 'settlements', 'payments:partialSettle': 'partialSettlements', 'payments:cancel': 'cancellations' }
      : p.settled && refundable(p) > 0 ? { 'payments:partialRefund': 'partialRefunds' } : {};
    v._links = { self: { href: base }, ...Object.fromEntries(Object.entries(links).map(([k, a]) => [k, { href: `${base}/${a}` }])) };
    return v;
  }
  function ownPayment(merchant, paymentId) {
    const p = state.payments.get(paymentId);
    if (!p || p.merchant !== merchant.username) fail(404, 'resourceNotFound', 'no such payment');
    return p;
  }
  function amountOf(body, p) {
    const v = body?.value;
    if (!isMinor(v?.amount)) invalid('$.value.amount', 'integerIsTooSmall', 'value.amount must be a positive integer in minor units');
    if (v.currency !== p.currency) invalid('$.value.currency', 'currencyMismatch', `value.currency must be ${p.currency}`);
    if (body.reference !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(String(body.reference))) invalid('$.reference', 'fieldHasInvalidValue', 'reference: 1-64 of A-Z a-z 0-9 _ -');
    return v.amount;
  }
  function settle(p, amount, reference) {
    if (p.lastEvent !== 'Authorized') notAllowed(p, 'settle');
    if (amount > p.authorized) invalid('$.value.amount', 'amountIsTooHigh', `at most ${p.authorized} can be settled`);
    p.settled = amount;
    p.settlementReference = reference;
    p.settlementPending = true;
    emit(p, 'SentForSettlement', amount, { reference });
    return [202, view(p)];
  }
  function refund(p, amount, reference) {
    if (!p.settled) notAllowed(p, 'refund');
    const left = refundable(p);
    if (amount > left) invalid('$.value.amount', 'amountIsTooHigh', `at most ${left} can still be refunded`);
    p.pendingRefunds.push({ amount, reference });
    emit(p, 'SentForRefund', amount, { reference });
    return [202, view(p)];
  }

  // --- hosted payment page ---------------------------------------------------------------
  function createPayment(page, card, outcome) {
    const p = { id: `pay_${id(12)}`, merchant: page.merchant, entity: page.entity, transactionReference: page.transactionReference,
      amount: page.amount, currency: page.currency, authorized: 0, settled: 0, refunded: 0, pendingRefunds: [],
      settlementPending: false, lastEvent: null, events: [], card, createdAt: now(), chain: null };
    state.payments.set(p.id, p);
    page.paymentId = p.id;
    page.done = true;
    if (outcome === 'Authorized') p.authorized = p.amount;
    emit(p, outcome, p.amount);
    if (outcome === 'Authorized' && page.autoSettle) settle(p, p.amount);
    const target = new URL(outcome === 'Authorized' ? page.resultURLs.successURL : page.resultURLs.failureURL);
    target.searchParams.set('paymentId', p.id);
    target.searchParams.set('transactionReference', p.transactionReference);
    return { paymentId: p.id, lastEvent: p.lastEvent, redirect: target.href };
  }
  function openPage(token) {
    const page = state.pages.get(token);
    if (!page) fail(404, 'resourceNotFound', 'no such payment page');
    if (page.done) fail(409, 'paymentPageUsed', 'this payment page was already used');
    return page;
  }
  // Card step: returns an error text, or the next step ('3ds' or an outcome).
  function submitCard(page, { card, expiry, cvc, cardholder }) {
    const digits = String(card ?? '').replace(/[\s-]/g, '');
    if (!/^\d+$/.test(digits) || !luhn(digits)) return { error: 'Enter a valid card number.', field: 'card' };
    const m = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(String(expiry ?? ''));
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 12) return { error: 'Enter the expiry date as MM/YY.', field: 'expiry' };
    if (!/^\d{3,4}$/.test(String(cvc ?? '').trim())) return { error: 'Enter the 3 or 4 digit security code.', field: 'cvc' };
    if (!String(cardholder ?? '').trim()) return { error: "Enter the cardholder's name.", field: 'cardholder' };
    page.card = { last4: digits.slice(-4), brand: digits.startsWith('4') ? 'visa' : 'card' };
    if (REFUSED_CARDS.has(digits) || String(cardholder).trim().toUpperCase() === 'REFUSED') return { result: createPayment(page, page.card, 'Refused') };
    page.step = '3ds';
    return {};
  }
  const finish3ds = (page, pass) => createPayment(page, page.card, pass ? 'Authorized' : 'Refused');

  const money = (p) => { // minor units → "12.50 EUR", "500 JPY"
    const digits = new Intl.NumberFormat('en', { style: 'currency', currency: p.currency }).resolvedOptions().maximumFractionDigits;
    return `${(p.amount / 10 ** digits).toFixed(digits)} ${p.currency}`;
  };
  function html(title, body, status = '') {
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} – Worldpay (test stand-in)</title><style>
body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#111}
label{display:block;margin-top:.75rem;font-weight:600}input{font:inherit;padding:.4rem;width:100%;box-sizing:border-box}
button{font:inherit;margin:.75rem .5rem 0 0;padding:.4rem 1rem}:focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}
[aria-invalid=true]{border:2px solid #a51d2d}.error{color:#a51d2d;font-weight:600}.amount{font-size:1.4rem;font-weight:700}
</style></head><body><main><h1>${esc(title)}</h1>
<p id="status" role="status" aria-live="polite" class="${status ? 'error' : ''}">${esc(status)}</p>
${body}</main></body></html>`;
  }
  function cardPage(token, page, error = null, values = {}) {
    const field = (name, label, attrs) => `<label for="${name}">${label}</label>
<input id="${name}" name="${name}" ${attrs} value="${esc(values[name])}"${error?.field === name ? ' aria-invalid="true" aria-describedby="status"' : ''}>`;
    return html('Pay by card', `<p>Pay <span class="amount">${esc(money(page))}</span> for ${esc(page.description || page.transactionReference)}.</p>
<p>Test cards: 4444 3333 2222 1111 (authorised after 3-D Secure), 4000 0000 0000 0002 (refused).</p>
<form method="post" action="/hpp/${esc(token)}">
${field('card', 'Card number', 'inputmode="numeric" autocomplete="cc-number" required autofocus')}
${field('expiry', 'Expiry date (MM/YY)', 'autocomplete="cc-exp" placeholder="MM/YY" required')}
${field('cvc', 'Security code (CVC)', 'inputmode="numeric" autocomplete="cc-csc" required')}
${field('cardholder', 'Cardholder name', 'autocomplete="cc-name" required')}
<button type="submit">Pay ${esc(money(page))}</button>
</form><form method="post" action="/hpp/${esc(token)}/cancel"><button type="submit">Cancel payment</button></form>`, error?.error ?? '');
  }
  const threeDsPage = (token, page) => html('3-D Secure check', `<p>Your bank asks you to confirm the payment of
<span class="amount">${esc(money(page))}</span> with the card ending ${esc(page.card.last4)}.</p>
<form method="post" action="/hpp/${esc(token)}/3ds">
<button type="submit" name="outcome" value="pass" autofocus>Pass authentication</button>
<button type="submit" name="outcome" value="fail">Fail authentication</button></form>`);

  async function hpp(req, res, parts) {
    const [token, step] = parts;
    const sendHtml = (status, body) => send(res, status, body, 'text/html; charset=utf-8', { 'content-security-policy': PAGE_CSP });
    const redirect = (to) => send(res, 303, '', 'text/plain', { location: to });
    const page = state.pages.get(token);
    if (!page) return sendHtml(404, html('Payment page not found', '<p>This link is not valid.</p>'));
    if (page.done) return sendHtml(410, html('Payment finished', '<p>This payment page was already used. You can close it.</p>'));
    const form = req.method === 'POST' ? Object.fromEntries(new URLSearchParams(await readBody(req))) : {};
    if (req.method === 'GET' && !step) return sendHtml(200, page.step === '3ds' ? threeDsPage(token, page) : cardPage(token, page));
    if (req.method === 'GET' && step === '3ds' && page.step === '3ds') return sendHtml(200, threeDsPage(token, page));
    if (req.method === 'POST' && !step && page.step !== '3ds') {
      const out = submitCard(page, form);
      if (out.error) return sendHtml(422, cardPage(token, page, out, { ...form, card: '', cvc: '' }));
      return redirect(out.result ? out.result.redirect : `/hpp/${token}/3ds`);
    }
    if (req.method === 'POST' && step === '3ds' && page.step === '3ds') return redirect(finish3ds(page, form.outcome === 'pass').redirect);
    if (req.method === 'POST' && step === 'cancel') {
      page.done = true;
      const to = new URL(page.resultURLs.cancelURL ?? page.resultURLs.failureURL);
      to.searchParams.set('transactionReference', page.transactionReference);
      return redirect(to.href);
    }
    return redirect(`/hpp/${token}`);
  }

  // --- API ---------------------------------------------------------------------------------
  function authenticate(req) {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(req.headers.authorization ?? '');
    const text = m ? Buffer.from(m[1], 'base64').toString('utf8') : '';
    const colon = text.indexOf(':');
    const merchant = colon > 0 ? state.merchants.get(text.slice(0, colon)) : undefined;
    const given = Buffer.from(colon > 0 ? text.slice(colon + 1) : '');
    const want = Buffer.from(merchant?.password ?? '\0');
    const ok = given.length === want.length && timingSafeEqual(given, want);
    if (!merchant || !ok) fail(401, 'unauthorized', 'missing or wrong Basic credentials');
    return merchant;
  }
  function createPage(body, merchant) {
    const { transactionReference: ref, value, resultURLs: urls = {}, narrative = {}, settlement = {} } = body;
    if (typeof ref !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(ref)) invalid('$.transactionReference', 'fieldHasInvalidValue', 'transactionReference: 1-64 of A-Z a-z 0-9 _ -');
    if (typeof narrative.line1 !== 'string' || !narrative.line1.trim() || [...narrative.line1].length > 24) invalid('$.narrative.line1', 'fieldHasInvalidValue', 'narrative.line1: 1-24 characters');
    if (settlement.auto !== undefined && typeof settlement.auto !== 'boolean') invalid('$.settlement.auto', 'fieldMustBeBoolean', 'settlement.auto must be a boolean');
    if (body.merchant?.entity !== merchant.entity) fail(400, 'entityIsNotConfigured', 'merchant.entity is not configured for these credentials');
    if (!isMinor(value?.amount)) invalid('$.value.amount', 'integerIsTooSmall', 'value.amount must be a positive integer in minor units');
    if (!/^[A-Z]{3}$/.test(value?.currency ?? '')) invalid('$.value.currency', 'fieldHasInvalidValue', 'value.currency must be an ISO 4217 code');
    for (const k of ['successURL', 'failureURL', 'cancelURL', 'errorURL', 'pendingURL']) {
      if (urls[k] === undefined && !['successURL', 'failureURL'].includes(k)) continue;
      try { if (!/^https?:$/.test(new URL(urls[k]).protocol)) throw new Error(); } catch { invalid(`$.resultURLs.${k}`, 'fieldHasInvalidValue', `resultURLs.${k} must be an http(s) URL`); }
    }
    const token = id();
    state.pages.set(token, { merchant: merchant.username, entity: merchant.entity, transactionReference: ref, amount: value.amount,
      currency: value.currency, description: narrative.line1, autoSettle: settlement.auto === true, resultURLs: { ...urls }, step: 'card', done: false, createdAt: now() });
    return { url: `${url}/hpp/${token}`, transactionReference: ref };
  }
  async function api(req, pathname, merchant, raw) {
    let body = {};
    if (req.method === 'POST') {
      try { body = raw ? JSON.parse(raw) : {}; } catch { fail(400, 'bodyIsNotJson', 'body must be JSON'); }
    }
    if (pathname === '/payment_pages') {
      if (req.method !== 'POST') fail(405, 'methodNotAllowed', 'method not allowed');
      return [200, createPage(body, merchant)];
    }
    const m = /^\/api\/payments\/([^/]+)(?:\/([A-Za-z]+))?$/.exec(pathname);
    if (!m) fail(404, 'resourceNotFound', 'not found');
    const p = ownPayment(merchant, decodeURIComponent(m[1]));
    const action = m[2];
    if (!action) {
      if (req.method !== 'GET') fail(405, 'methodNotAllowed', 'method not allowed');
      return [200, view(p)];
    }
    if (req.method !== 'POST') fail(405, 'methodNotAllowed', 'method not allowed');
    switch (action) {
      case 'settlements': return settle(p, p.authorized);
      case 'partialSettlements': return settle(p, amountOf(body, p), body.reference);
      case 'cancellations':
        if (p.lastEvent !== 'Authorized') notAllowed(p, 'cancel');
        emit(p, 'Cancelled', p.authorized);
        return [202, view(p)];
      case 'partialRefunds': return refund(p, amountOf(body, p), body.reference);
      default: fail(404, 'resourceNotFound', 'not found');
    }
  }

  // --- batches: settlement requests → Settled, pending refunds → Refunded ------------------
  function settleBatch() {
    const done = [];
    for (const p of state.payments.values()) {
      if (!p.settlementPending) continue;
      p.settlementPending = false;
      // A refund requested before the batch keeps lastEvent at the refund's event.
      emit(p, 'Settled', p.settled, { last: p.lastEvent === 'SentForSettlement', reference: p.settlementReference });
      done.push(p.id);
    }
    return { settled: done };
  }
  function refundBatch() {
    const done = [];
    for (const p of state.payments.values()) {
      for (const r of p.pendingRefunds.splice(0)) {
        p.refunded += r.amount;
        emit(p, 'Refunded', r.amount, { reference: r.reference });
        done.push(p.id);
      }
    }
    return { refunded: done };
  }
  const timer = batchIntervalMs > 0 ? setInterval(() => { settleBatch(); refundBatch(); }, batchIntervalMs) : null;
  timer?.unref();

  // --- test control API --------------------------------------------------------------------
  const paymentFor = (paymentId) => state.payments.get(String(paymentId ?? '')) ?? fail(404, 'resourceNotFound', 'no such payment');
  const standinRoutes = {
    'POST /_standin/merchants': (b) => [201, publicMerchant(addMerchant(b))],
    'GET /_standin/merchants': () => ({ data: [...state.merchants.values()].map(publicMerchant) }),
    'GET /_standin/payments': () => ({ data: [...state.payments.values()].map((p) => ({ ...view(p), merchant: p.merchant,
      entity: p.entity, card: p.card, pendingRefunds: p.pendingRefunds, events: p.events })) }),
    'POST /_standin/settle-batch': () => settleBatch(),
    'POST /_standin/refund-batch': () => refundBatch(),
    'POST /_standin/expire': (b) => {
      const p = paymentFor(b.paymentId);
      if (p.lastEvent !== 'Authorized') notAllowed(p, 'expire');
      emit(p, 'Expired', p.authorized);
      return view(p);
    },
    'POST /_standin/complete': (b) => {
      const page = openPage(String(b.token ?? b.url ?? '').replace(/^.*\/hpp\//, ''));
      const out = submitCard(page, { card: b.card ?? '4444 3333 2222 1111', expiry: b.expiry ?? '12/30', cvc: b.cvc ?? '123', cardholder: b.cardholder ?? 'Test Person' });
      if (out.error) fail(400, 'bodyDoesNotMatchSchema', out.error);
      return out.result ?? finish3ds(page, (b.threeDS ?? 'pass') === 'pass');
    },
    'POST /_standin/notify': (b) => {
      const p = b.paymentId ? paymentFor(b.paymentId) : null;
      const merchant = state.merchants.get(b.merchant ?? p?.merchant)
        ?? (state.merchants.size === 1 ? [...state.merchants.values()][0] : fail(400, 'bodyDoesNotMatchSchema', 'name the merchant'));
      let raw = typeof b.body === 'string' ? b.body : b.body ? JSON.stringify(b.body) : null;
      if (raw === null) {
        if (!p) fail(400, 'bodyDoesNotMatchSchema', 'paymentId or body is required');
        raw = JSON.stringify(eventBody(p, b.type ?? p.lastEvent, b.amount ?? p.amount, b.reference));
      }
      return deliver(merchant, raw, b.signature ?? eventSignature(merchant.keyId, merchant.webhookSecret, raw), true);
    },
    'GET /_standin/notifications': () => ({ data: notifications }),
    'DELETE /_standin/notifications': () => { notifications.length = 0; return {}; },
    'POST /_standin/reset': () => { reset(); return {}; },
    // Injected faults on the API (tests/tools/faults.mjs): {method?, path_prefix?, path_suffix?, kind, count?, hold_ms?}.
    'POST /_standin/faults': (b) => {
      try { return [201, faults.add(b)]; } catch (e) { return fail(400, 'bodyDoesNotMatchSchema', e.message); }
    },
    'GET /_standin/faults': () => ({ data: faults.list() }),
    'DELETE /_standin/faults': () => { faults.clear(); return {}; },
  };

  // --- HTTP --------------------------------------------------------------------------------
  const send = (res, status, body, type = 'application/json; charset=utf-8', headers = {}) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

  // The hosted-page API's version is its media type: both headers must name it (parameters
  // such as `; charset=utf-8` aside, compared case-insensitively).
  function checkHppMediaTypes(req) {
    const bare = (v) => String(v).split(';')[0].trim().toLowerCase();
    const contentType = req.headers['content-type'];
    if (req.method === 'POST') {
      if (!contentType) fail(415, 'headerIsMissing', `Content-Type must be ${HPP_MEDIA_TYPE}`);
      if (bare(contentType) !== HPP_MEDIA_TYPE) {
        fail(415, 'headerHasInvalidValue', `Content-Type must be ${HPP_MEDIA_TYPE}, not ${bare(contentType)}`);
      }
    }
    const accept = req.headers.accept;
    if (!accept) fail(406, 'headerIsMissing', `Accept must be ${HPP_MEDIA_TYPE}`);
    if (!accept.split(',').some((a) => bare(a) === HPP_MEDIA_TYPE)) {
      fail(406, 'headerHasInvalidValue', `Accept must be ${HPP_MEDIA_TYPE}`);
    }
  }

  async function handle(req, res) {
    const { pathname } = new URL(req.url, 'http://x');
    if (pathname.startsWith('/hpp/')) return hpp(req, res, pathname.slice(5).split('/'));
    if (pathname.startsWith('/_standin/')) {
      const fn = standinRoutes[`${req.method} ${pathname}`] ?? fail(404, 'resourceNotFound', 'not found');
      const raw = await readBody(req);
      let body = {};
      try { body = raw ? JSON.parse(raw) : {}; } catch { fail(400, 'bodyIsNotJson', 'body must be JSON'); }
      const out = await fn(body ?? {});
      return Array.isArray(out) ? send(res, out[0], out[1]) : send(res, 200, out);
    }
    const raw = await readBody(req);
    const merchant = authenticate(req);
    const hostedPage = pathname === '/payment_pages';
    if (hostedPage) checkHppMediaTypes(req);
    else {
      const version = req.headers['wp-api-version'];
      if (!version) fail(400, 'headerIsMissing', 'WP-Api-Version is required');
      if (version !== API_VERSION) fail(400, 'headerHasInvalidValue', `WP-Api-Version must be ${API_VERSION}`);
    }
    const type = hostedPage ? HPP_MEDIA_TYPE : undefined;
    const fault = faults.take(req.method, pathname);
    if (!acts(fault)) return answerBefore(fault, res, () => ({ errorName: 'internalErrorOccurred', message: 'injected fault' }));
    const reply = (status, body, headers) => answerAfter(fault, res, (r, st, b) => send(r, st, b, type, headers), status, body, headers);
    const key = req.method === 'POST' ? req.headers[IDEMPOTENCY_HEADER] : undefined;
    const slot = key && `${merchant.username}\n${key}`;
    const prev = slot && state.idempotency.get(slot);
    if (prev) {
      if (prev.request !== `${pathname}\n${raw}`) fail(409, 'idempotencyKeyReused', 'this Idempotency-Key was used with another request');
      return reply(prev.status, prev.body, { 'idempotent-replayed': 'true' });
    }
    let status;
    let out;
    try {
      [status, out] = await api(req, pathname, merchant, raw);
    } catch (e) {
      if (!(e instanceof HttpError) || e.status >= 500) throw e;
      [status, out] = [e.status, e.body];
    }
    if (slot) state.idempotency.set(slot, { request: `${pathname}\n${raw}`, status, body: JSON.stringify(out) });
    return reply(status, out);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (res.headersSent) return res.destroy();
      if (e instanceof HttpError) return send(res, e.status, e.body);
      console.error('worldpay stand-in:', e);
      send(res, 500, { errorName: 'internalErrorOccurred', message: 'internal error' });
    });
  });
  // Providers keep idle connections open for a minute or more; Node's 5 s default
  // closes them while the Worker's pool is about to reuse them, and under load (make
  // load) those requests die as "Network connection lost": outcomes nobody sees in production.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    notifications,
    settled,
    close: async () => {
      if (timer) clearInterval(timer);
      await settled();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [port, merchantsArg] = process.argv.slice(2);
  if (!port) {
    console.error('usage: node server.mjs PORT [CONFIG_JSON_OR_FILE]');
    process.exit(2);
  }
  const json = merchantsArg && (existsSync(merchantsArg) ? readFileSync(merchantsArg, 'utf8') : merchantsArg);
  const config = json ? JSON.parse(json) : [];
  const merchants = Array.isArray(config) ? config : config.merchants ?? [config];
  const s = await startWorldpay({ port: Number(port), merchants, batchIntervalMs: Number(config.batchIntervalMs ?? 0) });
  console.log(`Worldpay stand-in: ${s.url}/ (hosted pages under ${s.url}/hpp/, ${merchants.length} merchant(s))`);
  for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => s.close().then(() => process.exit(0)));
}
