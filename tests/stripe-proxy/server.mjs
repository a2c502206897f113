// Test-only recording proxy in front of localstripe.
//
// The Worker talks real Stripe REST (form bodies, `Authorization: Bearer sk_…`,
// `Idempotency-Key` on every POST) to a configurable base URL. Locally that is localstripe,
// which (a) answers 400 to the Connect fields `application_fee_amount`,
// `transfer_data[…]`, `on_behalf_of` and ignores `Stripe-Account`, and (b) ignores
// idempotency keys. Point the Worker at this proxy instead: it forwards everything to
// localstripe and adds exactly what localstripe lacks, nothing more:
//   - records every request (Authorization masked) so tests can check the exact form fields
//     the Worker sent, Connect fields and `Stripe-Account` included;
//   - strips those Connect fields / header before forwarding, and puts the fields back into
//     PaymentIntent answers so the Worker sees Stripe-shaped JSON;
//   - `amount_received` / `amount_capturable` on PaymentIntents (and `amount_captured` on
//     their latest charge), which localstripe leaves
//     out (after a partial capture it books the released rest as a refund instead);
//   - Stripe's fee on an expanded balance transaction (localstripe books fee 0);
//   - the `created` filter on the PaymentIntent list (localstripe refuses it);
//   - Stripe's idempotency (replay for 24 h, 400 on a changed body, 409 while in flight);
//   - a shape check localstripe cannot make: a PaymentIntent confirm (`POST …/confirm`, or a
//     create with `confirm=true` that is not `off_session=true`) must carry
//     `use_stripe_sdk=true`, without which real Stripe's 3-D Secure cannot be finished by
//     `stripe.handleNextAction` in the page (PROVIDERS.md). Refused with 400
//     invalid_request_error `parameter_missing`, before any idempotency record, as Stripe does
//     for a request that fails validation. `use_stripe_sdk` and `return_url`, which localstripe
//     refuses ("Unexpected …"), are recorded and then stripped before forwarding;
//   - Connect onboarding, which localstripe lacks: POST /v1/accounts (express),
//     GET /v1/accounts/{id}, POST /v1/account_links, answered by the proxy itself;
//   - injectable faults: before forwarding (nothing happens at Stripe) 429 with
//     Retry-After, 500, 503, a dropped connection, a final 400 refusal; after forwarding
//     (Stripe acted and its idempotency record holds the answer) a lost answer, a 500 that
//     stores nothing, an answer held back for `hold_ms` (past the Worker's timeout, or while
//     the caller is killed), an HTML body, half a body.
// Saved cards (issue 11), where localstripe is not Stripe:
//   - `setup_future_usage` on a PaymentIntent (localstripe: 400 "Unexpected"): recorded,
//     stripped, echoed on that intent's answers; once it succeeds (or is authorised) its
//     PaymentMethod is attached to its `customer` (`POST /v1/payment_methods/{pm}/attach`
//     upstream), as Stripe does. The attach happens when an answer through here shows the
//     success, or before the customer's cards are listed or charged, whichever is first
//     (the 3-D Secure of an on-session payment completes between Stripe.js and localstripe).
//   - SetupIntents: localstripe never attaches the PaymentMethod of a succeeded one to the
//     customer; here it is attached as soon as an answer shows it succeeded. A declined card
//     at confirm makes localstripe's SetupIntent `canceled` (final); Stripe answers 402
//     card_error with the SetupIntent in `error.setup_intent`, back in
//     `requires_payment_method` with `last_setup_error`, so the customer can try another
//     card: that is what this proxy answers and shows on later reads. A confirm must carry
//     `use_stripe_sdk=true` like a PaymentIntent's (stripe.handleNextAction finishes it).
//   - 3-D Secure at setup: localstripe has no `_authenticate` for SetupIntents. This proxy
//     answers `POST /v1/setup_intents/{id}/_authenticate?success=true|false` (body
//     `client_secret=…`; the Stripe.js stand-in calls it): success confirms upstream, so the
//     SetupIntent succeeds (and is attached); failure puts it back in
//     `requires_payment_method` with `last_setup_error` setup_intent_authentication_failure.
//   - Off-session charges (`POST /v1/payment_intents` with `off_session=true&confirm=true`):
//     localstripe answers `requires_action` for every 3-D Secure card, which Stripe never
//     does off session. Here the create is forwarded without `confirm`/`off_session`, then
//     confirmed upstream, and the outcome is Stripe's: 4000 0025 0000 3155 succeeds once set
//     up (a succeeded SetupIntent or `setup_future_usage` payment through this proxy; the
//     bank's challenge is completed upstream), other 3-D Secure cards (4000 0027 6000 3184)
//     → HTTP 402 card_error `authentication_required` with the intent in
//     `error.payment_intent` (`requires_payment_method`, the same `last_payment_error` on
//     later reads); a declined charge (4000 0000 0000 0341) → 402 card_error `card_declined`
//     with `error.payment_intent`, where localstripe names only the charge. The card is found
//     by retrieving the PaymentMethod upstream (its last4). Records show the Worker's one
//     request (with `emulated` saying which path it took); idempotency and faults apply to
//     the whole as to any request.
//   - `GET /v1/payment_methods?customer=…` without `type` (Stripe: every type; localstripe:
//     400) lists cards. Detach behaves as at Stripe already.
// Control API (JSON), never forwarded:
//   GET    /_recorder/requests?since=SEQ  → {data:[records with seq > SEQ], last_seq}
//   DELETE /_recorder/requests            clears records (seq keeps counting; idempotency kept)
//   POST   /_recorder/faults {method?, path_prefix?, path_suffix?, kind, count?, hold_ms?} → 201 the fault
//   GET    /_recorder/faults              → {data:[faults with remaining counts]}
//   DELETE /_recorder/faults              clears faults
//   DELETE /_recorder/idempotency         forgets every idempotency key
// Usage: `node server.mjs PORT UPSTREAM_URL`, or `startStripeProxy({port, upstream})`.
// Node 20 built-ins only.
import http from 'node:http';
import https from 'node:https';
import { createHash, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization',
  'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];
const CONNECT_FIELDS = new Set(['application_fee_amount', 'transfer_data[destination]',
  'transfer_data[amount]', 'on_behalf_of', 'reverse_transfer', 'refund_application_fee']);
// Real Stripe parameters localstripe answers 400 "Unexpected …" to on a PaymentIntent
// create or confirm: recorded, then removed before forwarding.
const SDK_FIELDS = new Set(['use_stripe_sdk', 'return_url']);
// …and on a PaymentIntent, `setup_future_usage` (recorded, echoed, acted on here) and
// `description`, which localstripe's PaymentIntent does not know (Stripe's does: the
// Worker sends it for subscription invoices).
const PI_STRIPPED = new Set([...SDK_FIELDS, 'setup_future_usage', 'description']);
const FORM_TYPE = 'application/x-www-form-urlencoded';
// When the proxy calls localstripe itself and the caller sent no key (localstripe takes any).
const FALLBACK_AUTH = 'Bearer sk_test_stripe_proxy';
const SETUP_AUTH_FAILED = 'The latest attempt to set up the payment method has failed because authentication failed.';
const AUTH_REQUIRED = 'Your card was declined. This transaction requires authentication.';
const CARD_DECLINED = 'Your card was declined.';
const FAULT_KINDS = new Set(['drop_after_forward', '500_after_forward', '503_before_forward', 'hold_after_forward', 'refuse_before_forward',
  '429_before_forward', '500_before_forward', 'drop_before_forward', 'malformed_after_forward', 'truncated_after_forward']);
const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const JSON_TYPE = { 'content-type': 'application/json' };

const sha256 = (...parts) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest('hex');
const errorBody = (type, message, extra = {}) => Buffer.from(JSON.stringify({ error: { type, ...extra, message } }));
const decode = (s) => { try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch { return s; } };

function readBody(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
    stream.on('close', () => reject(new Error('stream closed before its end'))); // no-op after 'end'
  });
}

// "Bearer sk_test_51Hx…4242" → "Bearer sk_test_…4242". Short secrets lose their tail too.
function maskAuthorization(value) {
  const m = /^(\S+)\s+(\S+)$/.exec(value.trim());
  const [scheme, token] = m ? [`${m[1]} `, m[2]] : ['', value.trim()];
  const prefix = /^[a-z]+_(?:test_|live_)?/.exec(token)?.[0] ?? '';
  return `${scheme}${prefix}…${token.length - prefix.length > 8 ? token.slice(-4) : ''}`;
}

// Copy of a header object without hop-by-hop headers (and those named in `Connection`).
function withoutHopByHop(headers) {
  const drop = new Set([...HOP_BY_HOP, ...String(headers.connection ?? '').toLowerCase()
    .split(',').map((s) => s.trim()).filter(Boolean)]);
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !drop.has(k)));
}

// Removes Connect fields from a form body, keeping the other fields' bytes as sent.
function splitConnect(raw) {
  const kept = [];
  const removed = [];
  for (const seg of raw.split('&')) {
    const eq = seg.indexOf('=');
    (CONNECT_FIELDS.has(decode(eq < 0 ? seg : seg.slice(0, eq))) ? removed : kept).push(seg);
  }
  return { body: kept.filter(Boolean).join('&'), removed: removed.length ? new URLSearchParams(removed.join('&')) : null };
}

// Form fields named in `names` removed from a raw form body, other fields' bytes kept.
function without(raw, names) {
  return raw.split('&').filter((seg) => {
    const eq = seg.indexOf('=');
    return seg && !names.has(decode(eq < 0 ? seg : seg.slice(0, eq)));
  }).join('&');
}

// Why a PaymentIntent confirm (or create with confirm=true) would not let Stripe.js finish
// 3-D Secure with real Stripe, or null when it is well formed / not a confirm at all.
function missingUseStripeSdk(method, pathname, form) {
  if (method !== 'POST') return null;
  const confirm = /^\/v1\/(payment|setup)_intents\/[^/]+\/confirm$/.test(pathname);
  const createConfirm = pathname === '/v1/payment_intents' && form.get('confirm') === 'true'
    && form.get('off_session') !== 'true';
  if (!confirm && !createConfirm) return null;
  if (form.get('use_stripe_sdk') === 'true') return null;
  const what = pathname.startsWith('/v1/setup_intents') ? 'SetupIntent confirm' : `PaymentIntent ${confirm ? 'confirm' : 'create with confirm=true'}`;
  return `stripe-proxy: a ${what} must carry `
    + 'use_stripe_sdk=true: without it real Stripe answers a 3-D Secure card in a way '
    + 'stripe.handleNextAction cannot finish (localstripe would accept it, this proxy does not).';
}

// What Stripe would echo on the PaymentIntent for the removed form fields.
function connectShape(removed) {
  const out = {};
  const fee = removed.get('application_fee_amount');
  if (fee !== null) out.application_fee_amount = /^\d+$/.test(fee) ? Number(fee) : fee;
  if (removed.has('on_behalf_of')) out.on_behalf_of = removed.get('on_behalf_of');
  const dest = removed.get('transfer_data[destination]');
  const amount = removed.get('transfer_data[amount]');
  if (dest !== null || amount !== null) {
    out.transfer_data = {};
    if (dest !== null) out.transfer_data.destination = dest;
    if (amount !== null) out.transfer_data.amount = /^\d+$/.test(amount) ? Number(amount) : amount;
  }
  return out;
}

// Stripe's fee on a charge's balance transaction: localstripe books every charge with
// fee 0, real Stripe never does. The stand-in books Stripe's standard card rate,
// 2.9 % + 0.30 (rounded half up to the minor unit), on an expanded balance transaction
// (`expand[]=latest_charge.balance_transaction`), and the net to match.
export const FEE_PERCENT = 2.9;
export const FEE_FIXED = 30;
export function stripeFee(amount) {
  return Math.floor((amount * FEE_PERCENT) / 100 + 0.5) + FEE_FIXED;
}
function withFee(pi, captured) {
  const txn = pi.latest_charge?.balance_transaction;
  if (!txn || typeof txn !== 'object' || txn.fee !== 0 || !(txn.amount > 0)) return {};
  // Stripe books what was captured (localstripe books the whole authorisation).
  const amount = captured ?? txn.amount;
  const fee = stripeFee(amount);
  return {
    latest_charge: {
      ...pi.latest_charge,
      balance_transaction: { ...txn, amount, fee, net: amount - fee, fee_details: [{ amount: fee, currency: txn.currency, type: 'stripe_fee' }] },
    },
  };
}

// Stripe's amounts on a PaymentIntent, as localstripe's status implies them.
function amounts(pi, captured) {
  if (typeof pi.amount !== 'number') return {};
  const out = {};
  if (!('amount_capturable' in pi)) out.amount_capturable = pi.status === 'requires_capture' ? pi.amount : 0;
  if (!('amount_received' in pi)) out.amount_received = pi.status === 'succeeded' ? (captured ?? pi.amount) : 0;
  return out;
}

function send(res, record, status, headers, body) {
  record.status = status;
  res.writeHead(status, { ...headers, 'content-length': body.length });
  res.end(body);
}

/**
 * @param {object} o
 * @param {number} [o.port]   0 (default) picks a free port; binds 127.0.0.1 only
 * @param {string} o.upstream localstripe's base URL, e.g. http://127.0.0.1:8420
 * @param {() => number} [o.now] clock in ms, for idempotency-key expiry (tests)
 * @returns {Promise<{url: string, close: () => Promise<void>}>}
 */
export async function startStripeProxy({ port = 0, upstream, now = Date.now }) {
  const base = new URL(upstream);
  const client = base.protocol === 'https:' ? https : http;
  const agent = new client.Agent({ keepAlive: true });
  const basePath = base.pathname.replace(/\/$/, '');

  let seq = 0;
  const records = [];
  let faults = [];
  let faultId = 0;
  const idempotency = new Map(); // sha256(Authorization, key) → {fingerprint, expires, done, response}
  const connectById = new Map(); // PaymentIntent id → Connect fields to show on it
  const captured = new Map(); // PaymentIntent id → amount captured (localstripe does not say)

  const accounts = new Map(); // acct_… → the Express account made here

  // Saved cards (see the header): what Stripe would have done that localstripe does not.
  const setupFutureUsage = new Map(); // pi_… → {value, customer, attached}
  const setUp = new Set(); // pm_… set up for off-session use (attached through a setup here)
  const setupAttached = new Set(); // seti_… whose PaymentMethod is attached
  const setupOverlay = new Map(); // seti_… → Stripe's fields over localstripe's (after a decline or failed 3DS)
  const authRequired = new Map(); // pi_… → the last_payment_error of an off-session authentication_required

  /** A call of the proxy's own to localstripe: {status, json}. */
  async function callUpstream(method, path, { body = '', auth = FALLBACK_AUTH } = {}) {
    const headers = { authorization: auth, 'accept-encoding': 'identity' };
    if (method === 'POST') Object.assign(headers, { 'content-type': FORM_TYPE, 'content-length': Buffer.byteLength(body) });
    const res = await forward(method, path, headers, method === 'POST' ? body : undefined);
    const buf = await readBody(res);
    let json = null;
    try { json = JSON.parse(buf.toString()); } catch { /* not JSON */ }
    return { status: res.statusCode, json };
  }
  const answer = (status, obj) => ({ status, headers: { ...JSON_TYPE }, body: Buffer.from(JSON.stringify(obj)) });
  const idOf = (v) => (typeof v === 'string' ? v : v?.id ?? null);

  /** Attaches `pm` to `customer` upstream, as Stripe does when a setup succeeds. */
  async function attach(pm, customer, auth) {
    if (!pm || !customer) return false;
    const r = await callUpstream('POST', `/v1/payment_methods/${encodeURIComponent(pm)}/attach`,
      { body: new URLSearchParams({ customer }).toString(), auth });
    if (r.status === 200) setUp.add(pm);
    return r.status === 200;
  }

  /** Payments with setup_future_usage that succeeded out of our sight (3-D Secure between Stripe.js and localstripe): attach their cards now. */
  async function settleSaved(customer, auth) {
    for (const [id, s] of setupFutureUsage) {
      if (s.attached || s.customer !== customer) continue;
      const r = await callUpstream('GET', `/v1/payment_intents/${id}`, { auth });
      if (['succeeded', 'requires_capture'].includes(r.json?.status)) s.attached = await attach(idOf(r.json.payment_method), customer, auth);
    }
  }

  async function shapePaymentIntent(obj, ctx, status) {
    if (ctx.method === 'POST' && typeof obj.id === 'string') {
      if (ctx.removed) {
        const prev = connectById.get(obj.id) ?? {};
        const next = connectShape(ctx.removed);
        if (prev.transfer_data && next.transfer_data) next.transfer_data = { ...prev.transfer_data, ...next.transfer_data };
        connectById.set(obj.id, { ...prev, ...next });
      }
      const sfu = ctx.form.get('setup_future_usage');
      if (sfu) setupFutureUsage.set(obj.id, { value: sfu, customer: obj.customer ?? ctx.form.get('customer'), attached: false });
      // Anything the Worker does to the intent afterwards ends the off-session failure.
      if (ctx.path !== '/v1/payment_intents') authRequired.delete(obj.id);
      if (ctx.path.endsWith('/capture') && status === 200) {
        captured.set(obj.id, Number(ctx.form.get('amount_to_capture') ?? obj.amount));
      }
    }
    const saved = setupFutureUsage.get(obj.id);
    if (saved && !saved.attached && ['succeeded', 'requires_capture'].includes(obj.status)) {
      saved.attached = await attach(idOf(obj.payment_method), saved.customer, ctx.auth);
    }
    const out = { ...obj, ...amounts(obj, captured.get(obj.id)), ...withFee(obj, captured.get(obj.id)), ...(connectById.get(obj.id) ?? {}) };
    // Stripe's charge says what it captured (`amount_captured`); localstripe's does not.
    const charge = out.latest_charge;
    if (charge && typeof charge === 'object' && typeof charge.amount === 'number' && !('amount_captured' in charge)) {
      out.latest_charge = { ...charge, amount_captured: charge.captured ? (captured.get(obj.id) ?? charge.amount) : 0 };
    }
    if (saved) out.setup_future_usage = saved.value;
    const failed = authRequired.get(obj.id);
    if (failed && obj.status === 'requires_payment_method') Object.assign(out, { last_payment_error: failed, payment_method: null });
    return out;
  }

  async function shapeSetupIntent(obj, ctx) {
    const over = setupOverlay.get(obj.id);
    if (over && obj.status !== 'succeeded') return { ...obj, ...over };
    if (obj.status === 'succeeded' && !setupAttached.has(obj.id)
      && await attach(idOf(obj.payment_method), obj.customer, ctx.auth)) setupAttached.add(obj.id);
    return obj;
  }

  /** An answer's JSON as Stripe would have written it. */
  async function reshape(buf, ctx, status) {
    let obj;
    try { obj = JSON.parse(buf.toString()); } catch { return buf; }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return buf;
    const one = (o) => (o?.object === 'payment_intent' ? shapePaymentIntent(o, ctx, status)
      : o?.object === 'setup_intent' ? shapeSetupIntent(o, ctx) : null);
    const shaped = await one(obj);
    if (shaped) return Buffer.from(JSON.stringify(shaped));
    const e = obj.error;
    if (e && typeof e === 'object' && (e.payment_intent || e.setup_intent)) {
      const inner = await one(e.payment_intent ?? e.setup_intent);
      return Buffer.from(JSON.stringify({ ...obj, error: { ...e, [e.payment_intent ? 'payment_intent' : 'setup_intent']: inner } }));
    }
    return buf;
  }

  // The requests this proxy answers by more than one call upstream; null: forward as usual.
  function emulate(ctx, fwdBody, url) {
    const { method, path, form, auth, record } = ctx;
    const finish = async (status, obj) => answer(status, JSON.parse((await reshape(Buffer.from(JSON.stringify(obj)), ctx, status)).toString()));

    if (method === 'POST' && path === '/v1/payment_intents' && form.get('off_session') === 'true' && form.get('confirm') === 'true') {
      return async () => {
        const pm = form.get('payment_method');
        const customer = form.get('customer');
        if (customer) await settleSaved(customer, auth);
        const expand = form.getAll('expand[]').map((e) => `expand[]=${encodeURIComponent(e)}`).join('&');
        const created = await callUpstream('POST', path, { body: without(fwdBody, new Set(['confirm', 'off_session'])), auth });
        if (created.status !== 200) return finish(created.status, created.json);
        const id = created.json.id;
        const confirmed = await callUpstream('POST', `/v1/payment_intents/${id}/confirm`, { body: expand, auth });
        if (confirmed.status === 402) {
          record.emulated = 'off_session_declined';
          const now = await callUpstream('GET', `/v1/payment_intents/${id}${expand ? `?${expand}` : ''}`, { auth });
          const e = confirmed.json?.error ?? {};
          return finish(402, { error: { type: 'card_error', code: e.code ?? 'card_declined', decline_code: 'generic_decline',
            message: e.message ?? CARD_DECLINED, charge: e.charge, payment_method: { id: pm, object: 'payment_method' }, payment_intent: now.json } });
        }
        if (confirmed.status !== 200 || confirmed.json?.status !== 'requires_action') return finish(confirmed.status, confirmed.json);
        // The bank asked for 3-D Secure: off session Stripe decides at once, by the card.
        const card = await callUpstream('GET', `/v1/payment_methods/${encodeURIComponent(pm)}`, { auth });
        const frictionless = card.json?.card?.last4 === '3155' && setUp.has(pm);
        const done = await callUpstream('POST', `/v1/payment_intents/${id}/_authenticate?success=${frictionless}${expand ? `&${expand}` : ''}`,
          { body: new URLSearchParams({ client_secret: confirmed.json.client_secret }).toString(), auth });
        if (frictionless) {
          record.emulated = 'off_session_set_up';
          return finish(done.status, done.json);
        }
        record.emulated = 'off_session_authentication_required';
        const error = { type: 'card_error', code: 'authentication_required', decline_code: 'authentication_required', message: AUTH_REQUIRED };
        authRequired.set(id, { ...error, payment_method: card.json });
        return finish(402, { error: { ...error, payment_method: card.json, payment_intent: done.json } });
      };
    }

    // `GET /v1/payment_intents?created[gte]=…&created[lt]=…`: localstripe refuses `created`
    // on this list (400 "Unexpected created"); Stripe filters by it. Reconciliation lists a
    // day's PaymentIntents: every page is read here, filtered, then paged as Stripe pages
    // (newest first, `limit`, `starting_after`). Each item is shaped like a single one.
    const created = [...url.searchParams.keys()].filter((k) => /^created\[(gt|gte|lt|lte)\]$/.test(k));
    if (method === 'GET' && path === '/v1/payment_intents' && created.length) {
      return async () => {
        record.emulated = 'list_created';
        const bound = (op) => (url.searchParams.has(`created[${op}]`) ? Number(url.searchParams.get(`created[${op}]`)) : null);
        const [gt, gte, lt, lte] = ['gt', 'gte', 'lt', 'lte'].map(bound);
        if ([gt, gte, lt, lte].some((b) => b !== null && !Number.isInteger(b))) {
          return answer(400, { error: { type: 'invalid_request_error', code: 'parameter_invalid_integer', param: 'created', message: 'created must be a unix time.' } });
        }
        const limit = Math.min(Math.max(Number(url.searchParams.get('limit') ?? 10) || 10, 1), 100);
        const all = [];
        for (let after = null; ;) {
          const page = await callUpstream('GET', `/v1/payment_intents?limit=100${after ? `&starting_after=${after}` : ''}`, { auth });
          if (page.status !== 200) return answer(page.status, page.json);
          all.push(...page.json.data);
          if (!page.json.has_more || !page.json.data.length) break;
          after = page.json.data.at(-1).id;
        }
        const within = all.filter((pi) => (gt === null || pi.created > gt) && (gte === null || pi.created >= gte)
          && (lt === null || pi.created < lt) && (lte === null || pi.created <= lte)).reverse();
        const after = url.searchParams.get('starting_after');
        const from = after ? within.findIndex((pi) => pi.id === after) + 1 : 0;
        const data = [];
        for (const pi of within.slice(from, from + limit)) data.push(await shapePaymentIntent(pi, ctx, 200));
        return answer(200, { object: 'list', url: '/v1/payment_intents', data, has_more: from + limit < within.length });
      };
    }

    const confirm = /^\/v1\/setup_intents\/(seti_[A-Za-z0-9]+)\/confirm$/.exec(path);
    if (method === 'POST' && confirm) {
      return async () => {
        const id = confirm[1];
        setupOverlay.delete(id); // a new attempt
        const r = await callUpstream('POST', path + url.search, { body: fwdBody, auth });
        if (r.status !== 402) return finish(r.status, r.json);
        // localstripe cancels the SetupIntent; Stripe lets the customer try another card.
        record.emulated = 'setup_declined';
        const now = await callUpstream('GET', `/v1/setup_intents/${id}`, { auth });
        const e = r.json?.error ?? {};
        const error = { type: 'card_error', code: e.code ?? 'card_declined', decline_code: 'generic_decline', message: e.message ?? CARD_DECLINED };
        const pm = idOf(now.json?.payment_method) ?? form.get('payment_method');
        setupOverlay.set(id, { status: 'requires_payment_method', payment_method: null, next_action: null,
          last_setup_error: { ...error, payment_method: pm ? { id: pm, object: 'payment_method' } : null } });
        return finish(402, { error: { ...error, setup_intent: now.json } });
      };
    }

    const authenticate = /^\/v1\/setup_intents\/(seti_[A-Za-z0-9]+)\/_authenticate$/.exec(path);
    if (method === 'POST' && authenticate) {
      return async () => {
        const id = authenticate[1];
        record.emulated = 'setup_authenticate';
        const success = url.searchParams.get('success');
        if (!['true', 'false'].includes(success)) return answer(400, { error: { type: 'invalid_request_error', code: 'parameter_invalid', param: 'success', message: 'success must be true or false.' } });
        const r = await callUpstream('GET', `/v1/setup_intents/${id}`, { auth });
        if (r.status !== 200) return answer(r.status, r.json);
        const seti = await shapeSetupIntent(r.json, ctx);
        if (form.get('client_secret') !== seti.client_secret) return answer(401, { error: { type: 'invalid_request_error', message: 'Unauthorized' } });
        if (seti.status !== 'requires_action') {
          return answer(400, { error: { type: 'invalid_request_error', code: 'setup_intent_unexpected_state', message: `This SetupIntent is ${seti.status}, not requires_action.`, setup_intent: seti } });
        }
        if (success === 'true') {
          const done = await callUpstream('POST', `/v1/setup_intents/${id}/confirm`, { body: new URLSearchParams({ client_secret: seti.client_secret }).toString(), auth });
          return finish(done.status, done.json);
        }
        setupOverlay.set(id, { status: 'requires_payment_method', payment_method: null, next_action: null,
          last_setup_error: { type: 'invalid_request_error', code: 'setup_intent_authentication_failure', message: SETUP_AUTH_FAILED,
            payment_method: seti.payment_method ? { id: idOf(seti.payment_method), object: 'payment_method' } : null } });
        return finish(200, seti);
      };
    }

    if (method === 'GET' && path === '/v1/payment_methods' && url.searchParams.get('customer')) {
      return async () => {
        await settleSaved(url.searchParams.get('customer'), auth);
        const q = new URLSearchParams(url.search);
        if (!q.has('type')) q.set('type', 'card'); // Stripe: every type; ours are cards
        const r = await callUpstream('GET', `${path}?${q}`, { auth });
        return answer(r.status, r.json);
      };
    }
    return null;
  }

  // POST /v1/accounts, GET /v1/accounts/{id}, POST /v1/account_links; null: not ours.
  function connectRoute(method, path, form) {
    const bad = (param, message) => [400, { error: { type: 'invalid_request_error', code: 'parameter_invalid', param, message } }];
    if (method === 'POST' && path === '/v1/accounts') {
      if (form.get('type') !== 'express') return bad('type', 'type must be express');
      if (!/^[A-Z]{2}$/.test(form.get('country') ?? '')) return bad('country', 'country must be a two-letter code');
      const id = `acct_1${randomBytes(8).toString('hex')}`;
      const account = { id, object: 'account', type: 'express', country: form.get('country'),
        charges_enabled: false, payouts_enabled: false, details_submitted: false,
        capabilities: { card_payments: form.get('capabilities[card_payments][requested]') === 'true' ? 'inactive' : undefined,
          transfers: form.get('capabilities[transfers][requested]') === 'true' ? 'inactive' : undefined },
        metadata: Object.fromEntries([...form].filter(([k]) => k.startsWith('metadata[')).map(([k, v]) => [k.slice(9, -1), v])) };
      accounts.set(id, account);
      return [200, account];
    }
    const one = /^\/v1\/accounts\/(acct_[A-Za-z0-9]+)$/.exec(path);
    if (method === 'GET' && one) {
      const a = accounts.get(one[1]);
      return a ? [200, a] : [404, { error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such account: '${one[1]}'` } }];
    }
    if (method === 'POST' && path === '/v1/account_links') {
      const account = form.get('account');
      if (!accounts.has(account)) return bad('account', `No such account: '${account}'`);
      if (form.get('type') !== 'account_onboarding') return bad('type', 'type must be account_onboarding');
      for (const p of ['refresh_url', 'return_url']) if (!/^https?:\/\//.test(form.get(p) ?? '')) return bad(p, `${p} must be a URL`);
      return [200, { object: 'account_link', created: Math.floor(now() / 1000), expires_at: Math.floor(now() / 1000) + 300,
        url: `https://connect.stripe.com/setup/e/${account}/${randomBytes(6).toString('hex')}` }];
    }
    return null;
  }

  function takeFault(method, path) {
    const f = faults.find((x) => (!x.method || x.method === method) && path.startsWith(x.path_prefix)
      && (!x.path_suffix || path.endsWith(x.path_suffix)));
    if (!f) return null;
    if (--f.remaining === 0) faults = faults.filter((x) => x !== f);
    return f;
  }

  function forward(method, url, headers, body) {
    return new Promise((resolve, reject) => {
      const up = client.request(new URL(basePath + url, base), { method, headers, agent }, resolve);
      up.on('error', reject);
      up.end(body);
    });
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'http://proxy');
    if (url.pathname.startsWith('/_recorder/')) return control(req, res, url);

    const body = await readBody(req);
    const isForm = /^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '');
    const recordedHeaders = { ...req.headers };
    if (recordedHeaders.authorization) recordedHeaders.authorization = maskAuthorization(recordedHeaders.authorization);
    const record = {
      seq: ++seq, method: req.method, path: url.pathname, query: [...url.searchParams],
      headers: recordedHeaders,
      form: isForm ? [...new URLSearchParams(body.toString())] : body.length ? null : [],
      status: null, upstream_status: null, replayed: false, fault: null, emulated: null,
    };
    records.push(record);

    const form = isForm ? new URLSearchParams(body.toString()) : new URLSearchParams();
    const sdkProblem = missingUseStripeSdk(req.method, url.pathname, form);
    if (sdkProblem) {
      return send(res, record, 400, JSON_TYPE, errorBody('invalid_request_error', sdkProblem,
        { code: 'parameter_missing', param: 'use_stripe_sdk' }));
    }

    // Idempotency, as Stripe: POST only, scoped by (Authorization, Idempotency-Key); the
    // fingerprint is method + path + query + raw body. The Authorization is kept hashed only.
    const key = req.method === 'POST' ? req.headers['idempotency-key'] : undefined;
    let slot = null;
    const release = () => { if (slot && idempotency.get(slot.id) === slot) idempotency.delete(slot.id); };
    if (key !== undefined) {
      const id = sha256(req.headers.authorization ?? '', '\n', key);
      const fingerprint = sha256(`${req.method} ${req.url}\n`, body);
      const t = now();
      for (const [k, v] of idempotency) if (v.done && v.expires <= t) idempotency.delete(k);
      const prev = idempotency.get(id);
      if (prev && !prev.done) {
        return send(res, record, 409, JSON_TYPE, errorBody('idempotency_error',
          'There is a concurrent request in progress with the same idempotency key; retry after it has completed.'));
      }
      if (prev && prev.fingerprint !== fingerprint) {
        return send(res, record, 400, JSON_TYPE, errorBody('idempotency_error',
          'Keys for idempotent requests can only be used with the same parameters they were first used with.'));
      }
      if (prev) {
        record.replayed = true;
        const r = prev.response;
        return send(res, record, r.status, { ...r.headers, 'idempotent-replayed': 'true' }, r.body);
      }
      slot = { id, fingerprint, expires: t + IDEMPOTENCY_TTL_MS, done: false, response: null };
      idempotency.set(id, slot);
    }

    // Connect onboarding, which localstripe lacks: Express accounts and their
    // onboarding links, answered here (kept like idempotent answers).
    const connect = connectRoute(req.method, url.pathname, form);
    if (connect) {
      const [status, obj] = connect;
      const out = Buffer.from(JSON.stringify(obj));
      if (slot) Object.assign(slot, { done: true, response: { status, headers: JSON_TYPE, body: out } });
      return send(res, record, status, JSON_TYPE, out);
    }

    // Faults apply only to requests about to be forwarded (not to replays or key errors).
    const taken = takeFault(req.method, url.pathname);
    const fault = taken?.kind ?? null;
    record.fault = fault;
    if (fault === 'refuse_before_forward') {
      // Stripe's final word against the request (a 400 it would give a refund of a
      // disputed charge), without localstripe ever seeing it.
      release();
      return send(res, record, 400, JSON_TYPE, errorBody('invalid_request_error',
        'The charge has been disputed and cannot be refunded (stripe-proxy fault refuse_before_forward).',
        { code: 'charge_disputed' }));
    }
    if (fault === '503_before_forward' || fault === '500_before_forward') {
      release();
      return send(res, record, Number(fault.slice(0, 3)), JSON_TYPE, errorBody('api_error',
        `The service is temporarily unavailable (stripe-proxy fault ${fault}).`));
    }
    if (fault === '429_before_forward') { // Stripe's rate limit: nothing done, retry later
      release();
      return send(res, record, 429, { ...JSON_TYPE, 'retry-after': '1' }, errorBody('invalid_request_error',
        'Too many requests hit the API too quickly (stripe-proxy fault 429_before_forward).', { code: 'rate_limit' }));
    }
    if (fault === 'drop_before_forward') { // the connection dies before Stripe saw anything
      release();
      record.status = null;
      req.socket.destroy();
      return;
    }

    const isIntent = url.pathname.startsWith('/v1/payment_intents');
    const isSetup = url.pathname.startsWith('/v1/setup_intents');
    // Answers whose JSON this proxy may rewrite (so never compressed).
    const reshapes = isIntent || isSetup || url.pathname.startsWith('/v1/payment_methods');
    const strip = isIntent ? PI_STRIPPED : isSetup && url.pathname.endsWith('/confirm') ? SDK_FIELDS : null;
    const sent = isForm && strip && req.method === 'POST' ? without(body.toString(), strip) : body;
    const { body: fwdBody, removed } = isForm ? splitConnect(sent.toString()) : { body: sent, removed: null };
    const auth = req.headers.authorization ?? FALLBACK_AUTH;
    const ctx = { method: req.method, path: url.pathname, form, removed, auth, record };
    const emulation = emulate(ctx, fwdBody.toString(), url);

    let status;
    let outHeaders;
    let out;
    try {
      if (emulation) {
        ({ status, headers: outHeaders, body: out } = await emulation());
        record.upstream_status = status;
      } else {
        const headers = withoutHopByHop(req.headers);
        delete headers.host;
        delete headers['stripe-account'];
        if (reshapes) headers['accept-encoding'] = 'identity'; // we may rewrite the JSON answer
        if (removed || body.length || 'content-length' in req.headers || 'transfer-encoding' in req.headers) {
          headers['content-length'] = Buffer.byteLength(fwdBody);
        }
        const up = await forward(req.method, req.url, headers, fwdBody);
        record.upstream_status = up.statusCode;
        const isJson = /json/i.test(up.headers['content-type'] ?? '') && !up.headers['content-encoding'];
        if (!slot && !fault && !(reshapes && isJson)) { // plain pass-through: stream it
          record.status = up.statusCode;
          res.writeHead(up.statusCode, withoutHopByHop(up.headers));
          res.on('close', () => up.destroy());
          up.on('error', () => res.destroy());
          up.pipe(res);
          return;
        }
        status = up.statusCode;
        outHeaders = withoutHopByHop(up.headers);
        out = await readBody(up);
        if (reshapes && isJson) out = await reshape(out, ctx, status);
      }
    } catch (e) {
      release();
      return send(res, record, 502, JSON_TYPE, errorBody('api_error', `stripe-proxy: upstream failed: ${e.code || e.message}`));
    }
    if ('content-length' in outHeaders) outHeaders['content-length'] = out.length;

    if (fault === '500_after_forward') {
      // Choice: store NOTHING under the key. Real Stripe stores (and replays) the outcome
      // it produced, 500s included, and so does this proxy when localstripe itself answers
      // 500. This fault instead models a 500 whose outcome never reached Stripe's
      // idempotency record: a retry with the same key is forwarded again even though
      // localstripe's state already changed, so tests can see what such a retry does.
      release();
      return send(res, record, 500, JSON_TYPE, errorBody('api_error', 'An unknown error occurred'));
    }
    if (slot) Object.assign(slot, { done: true, response: { status, headers: outHeaders, body: out } });
    if (fault === 'hold_after_forward') { // Stripe acted; the answer waits (the caller may die meanwhile)
      await new Promise((r) => setTimeout(r, taken.hold_ms));
      if (req.socket.destroyed) return;
    }
    if (fault === 'drop_after_forward') { // the charge happened and is stored; the caller gets nothing
      req.socket.destroy();
      return;
    }
    if (fault === 'malformed_after_forward') { // Stripe acted (and stored it); something between sent HTML
      return send(res, record, 200, JSON_TYPE, Buffer.from('<html><body>502 Bad Gateway</body></html>'));
    }
    if (fault === 'truncated_after_forward') { // Stripe acted; half the answer arrives, then the connection ends
      record.status = status;
      res.writeHead(status, { ...outHeaders, 'content-type': 'application/json', 'content-length': out.length });
      res.write(out.subarray(0, Math.floor(out.length / 2)));
      setTimeout(() => req.socket.destroy(), 20);
      return;
    }
    send(res, record, status, outHeaders, out);
  }

  async function control(req, res, url) {
    const reply = (status, obj) => { res.writeHead(status, JSON_TYPE); res.end(JSON.stringify(obj)); };
    const route = `${req.method} ${url.pathname}`;
    if (route === 'GET /_recorder/requests') {
      const since = Number(url.searchParams.get('since') ?? 0);
      if (!Number.isFinite(since)) return reply(400, { error: { type: 'invalid_request_error', message: 'since must be a number' } });
      return reply(200, { data: records.filter((r) => r.seq > since), last_seq: seq });
    }
    if (route === 'DELETE /_recorder/requests') { records.length = 0; return reply(200, { deleted: true, last_seq: seq }); }
    if (route === 'GET /_recorder/faults') return reply(200, { data: faults });
    if (route === 'DELETE /_recorder/faults') { faults = []; return reply(200, { deleted: true }); }
    if (route === 'DELETE /_recorder/idempotency') { idempotency.clear(); return reply(200, { deleted: true }); }
    if (route === 'POST /_recorder/faults') {
      let f;
      try { f = JSON.parse((await readBody(req)).toString()); } catch { f = null; }
      const count = f?.count ?? 1;
      const holdMs = f?.hold_ms ?? 0;
      if (!f || !FAULT_KINDS.has(f.kind) || !Number.isInteger(count) || count < 1
        || (f.method != null && typeof f.method !== 'string') || (f.path_prefix != null && typeof f.path_prefix !== 'string')
        || (f.path_suffix != null && typeof f.path_suffix !== 'string')
        || !Number.isInteger(holdMs) || holdMs < 0 || holdMs > 60000) {
        return reply(400, { error: { type: 'invalid_request_error',
          message: `expected {method?, path_prefix?, path_suffix?, kind: ${[...FAULT_KINDS].join('|')}, count?: integer ≥ 1, hold_ms?: 0–60000}` } });
      }
      const fault = { id: ++faultId, method: f.method ? f.method.toUpperCase() : null,
        path_prefix: f.path_prefix ?? '/', path_suffix: f.path_suffix ?? null, kind: f.kind, count, remaining: count, hold_ms: holdMs };
      faults.push(fault);
      return reply(201, fault);
    }
    return reply(404, { error: { type: 'invalid_request_error', message: `stripe-proxy: no control route ${route}` } });
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (res.headersSent) res.destroy();
      else { res.writeHead(500, JSON_TYPE); res.end(errorBody('api_error', `stripe-proxy: ${e.message}`)); }
    });
  });
  // Providers keep idle connections open for a minute or more; Node's 5 s default
  // closes them while the Worker's pool is about to reuse them, and under load (make
  // load) those requests die as "Network connection lost": outcomes nobody sees in production.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      agent.destroy();
    }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [port, upstream] = process.argv.slice(2);
  if (!port || !upstream) {
    console.error('usage: node server.mjs PORT UPSTREAM_URL');
    process.exit(2);
  }
  const proxy = await startStripeProxy({ port: Number(port), upstream });
  console.log(`stripe-proxy listening on ${proxy.url}, forwarding to ${upstream}`);
  for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => proxy.close().then(() => process.exit(0)));
}
