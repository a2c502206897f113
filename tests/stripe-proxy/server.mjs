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
//   - `amount_received` / `amount_capturable` on PaymentIntents, which localstripe leaves
//     out (after a partial capture it books the released rest as a refund instead);
//   - Stripe's fee on an expanded balance transaction (localstripe books fee 0);
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
//   - injectable faults (lost answer after the charge happened, 500, 503, an answer held
//     back for `hold_ms` while the caller is killed, a final 400 refusal).
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
const FAULT_KINDS = new Set(['drop_after_forward', '500_after_forward', '503_before_forward', 'hold_after_forward', 'refuse_before_forward']);
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
  const confirm = /^\/v1\/payment_intents\/[^/]+\/confirm$/.test(pathname);
  const createConfirm = pathname === '/v1/payment_intents' && form.get('confirm') === 'true'
    && form.get('off_session') !== 'true';
  if (!confirm && !createConfirm) return null;
  if (form.get('use_stripe_sdk') === 'true') return null;
  return `stripe-proxy: a PaymentIntent ${confirm ? 'confirm' : 'create with confirm=true'} must carry `
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
      status: null, upstream_status: null, replayed: false, fault: null,
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
    if (fault === '503_before_forward') {
      release();
      return send(res, record, 503, JSON_TYPE, errorBody('api_error',
        'The service is temporarily unavailable (stripe-proxy fault 503_before_forward).'));
    }

    const isIntent = url.pathname.startsWith('/v1/payment_intents');
    const sent = isForm && isIntent && req.method === 'POST' ? without(body.toString(), SDK_FIELDS) : body;
    const { body: fwdBody, removed } = isForm ? splitConnect(sent.toString()) : { body: sent, removed: null };
    const headers = withoutHopByHop(req.headers);
    delete headers.host;
    delete headers['stripe-account'];
    if (isIntent) headers['accept-encoding'] = 'identity'; // we may rewrite the JSON answer
    if (removed || body.length || 'content-length' in req.headers || 'transfer-encoding' in req.headers) {
      headers['content-length'] = Buffer.byteLength(fwdBody);
    }

    let up;
    try {
      up = await forward(req.method, req.url, headers, fwdBody);
    } catch (e) {
      release();
      return send(res, record, 502, JSON_TYPE, errorBody('api_error', `stripe-proxy: upstream failed: ${e.code || e.message}`));
    }
    record.upstream_status = up.statusCode;
    const outHeaders = withoutHopByHop(up.headers);
    const isJson = /json/i.test(up.headers['content-type'] ?? '') && !up.headers['content-encoding'];

    if (!slot && !fault && !(isIntent && isJson)) { // plain pass-through: stream it
      record.status = up.statusCode;
      res.writeHead(up.statusCode, outHeaders);
      res.on('close', () => up.destroy());
      up.on('error', () => res.destroy());
      up.pipe(res);
      return;
    }

    let out = await readBody(up);
    if (isIntent && isJson) {
      let obj;
      try { obj = JSON.parse(out.toString()); } catch { obj = null; }
      if (obj && typeof obj === 'object' && !Array.isArray(obj) && obj.object === 'payment_intent') {
        if (removed && req.method === 'POST' && typeof obj.id === 'string') {
          const prev = connectById.get(obj.id) ?? {};
          const next = connectShape(removed);
          if (prev.transfer_data && next.transfer_data) next.transfer_data = { ...prev.transfer_data, ...next.transfer_data };
          connectById.set(obj.id, { ...prev, ...next });
        }
        const extra = connectById.get(obj.id);
        if (req.method === 'POST' && url.pathname.endsWith('/capture') && up.statusCode === 200) {
          const form = new URLSearchParams(body.toString());
          captured.set(obj.id, Number(form.get('amount_to_capture') ?? obj.amount));
        }
        out = Buffer.from(JSON.stringify({ ...obj, ...amounts(obj, captured.get(obj.id)), ...withFee(obj, captured.get(obj.id)), ...(extra ?? {}) }));
      }
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
    if (slot) Object.assign(slot, { done: true, response: { status: up.statusCode, headers: outHeaders, body: out } });
    if (fault === 'hold_after_forward') { // Stripe acted; the answer waits (the caller may die meanwhile)
      await new Promise((r) => setTimeout(r, taken.hold_ms));
      if (req.socket.destroyed) return;
    }
    if (fault === 'drop_after_forward') { // the charge happened and is stored; the caller gets nothing
      req.socket.destroy();
      return;
    }
    send(res, record, up.statusCode, outHeaders, out);
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
