// Cashcloud stand-in for the tests and the local stack.
//
// Cashcloud has no public sandbox reachable from here, so the Worker's Cashcloud code is
// exercised against this server. It follows the merchant API of the 2014 SDK as written
// down in /work/shared/PROVIDERS.md: form-field requests, JSON replies, 403 auth,
// 412 `{"validationFailed": {field: [messages]}}`, 423 locked account; token auth with a
// salt; states 1 pending, 2 accepted, 3 completed, 4 declined, 6 expired, 7 money service
// failed, 8 refunded; callbacks with a `control` hash. It also plays the customer's wallet
// app (GET /wallet, an accessible page, and its JSON API), where a person or a test
// approves or declines with a PIN.
//
// Merchant API (base path `/`; every call except `salt` needs
// `Authorization: Token base64("username|device_id|md5_hex(sha1_raw(username+salt+passwordHash))")`):
//   POST salt {username, device_id}      → {"salt"}; fresh per call; the 8 newest salts of a
//                                           username+device stay valid for tokens
//   POST request {email, amount, currency_id=1, remark?, extern.id?, extern.reference?}
//                                         → {"hash"}; state 1; amount integer cents ≥ 20
//   GET  transactions?hash=H              → {"transaction": {hash, type: "request"|"refund",
//          amount, currency_id, transaction_state_id, remark, extern: {id, reference},
//          created_at, expires_at (unix s), and refunded_amount (requests) or
//          original_hash (refunds)}}
//   POST refund {hash, amount}            → {"hash": refund hash}; amount ≤ what is neither
//          refunded nor in a pending refund. The refund is a request to the wallet user:
//          1 until accepted, then 2 → 3 and the wallet is credited, the original's
//          refunded_amount grows, and the original moves to 8 once fully refunded.
//   POST settings {callback_url?, request_expiration? (seconds, default 300)}
//                                         → {callback_url, request_expiration}
//   GET  currency-rate?amount=12.50&currency=CHF   (shape not pinned by the notes; chosen:)
//          amount = decimal in the foreign currency's major units (≤ 2 decimals) →
//          {"amount": "13.13", "amount_cents": 1313, "rate": "1.05", "currency": "CHF",
//           "currency_id": 1}  (EUR, half-up to the cent; fixed table RATES below)
//   403/423 bodies (not pinned either): {"error": "<text>"}. Unknown routes 404, wrong
//   method 405, same body shape. An unknown or foreign hash is a 412 on field `hash`.
// Callbacks: every state change of a request or refund POSTs form fields
//   method ("request"|"refund"), status, time (unix s), hash, control
// to the merchant's callback_url, once, no retries, in order per transaction; a refund's
// callbacks carry the refund's hash (its original_hash is in GET transactions), and the
// original's move to 8 is its own `request` callback. Approving with too small a balance
// goes 1 → 2 → 7.
// Wallet app: GET /wallet (+ /wallet/wallet.js). JSON API, same origin:
//   POST   /wallet/api/session {username, pin} → {token, username, balance_cents}
//   DELETE /wallet/api/session                 (Authorization: Bearer token) signs out
//   GET    /wallet/api/requests                → {username, balance_cents, requests: [...]}
//   POST   /wallet/api/approve|decline {hash, pin}  → {transaction, balance_cents}
//   Wrong PIN → 403 {error, attempts_left}; after 5 wrong PINs in a row the wallet is
//   locked → 423 (POST /_standin/wallets for that user unlocks it). Not pending → 409.
// Test control API (JSON), /_standin/…:
//   POST merchants {username, password, apiPassword|api_password, deviceId|device_id?,
//        name?, callbackUrl|callback_url?, requestExpiration|request_expiration?} (upsert)
//   GET  merchants | wallets | transactions
//   POST wallets {username, pin, balance_cents?=100000} (upsert; resets the PIN lock)
//   POST lock {username, locked?=true}        merchant account lock → 423 on its calls
//   POST approve|decline {hash, pin?}         as the wallet app; pin checked when given
//   POST expire {hash}                        a pending transaction → 6 now
//   POST clock {advance_seconds}              moves this server's clock forward → {now}
//   GET  callbacks → {data: [deliveries]};  DELETE callbacks clears them
//   POST send-callback {hash, method, status, time?, control?, merchant?} posts a
//        hand-made callback to the registered URL, changes nothing → the delivery
//   POST reset                                back to the start options, nothing else kept
//   POST faults {method?, path_prefix?, path_suffix?, kind, count?, hold_ms?} → 201 the fault;
//        GET faults; DELETE faults. The next `count` merchant API calls that match fail
//        as `kind` says (tests/tools/faults.mjs: 429, 500, 503, drop_before before acting;
//        delay, drop_after, 500_after, malformed_after, truncated_after after acting).
//        The older shape {path, count?} is drop_after on exactly that path.
// Usage: node server.mjs PORT [MERCHANTS_JSON_OR_FILE]   (binds 127.0.0.1 only)
//   or startCashcloud({port, merchants, wallets, now}) → {url, close, settled, callbacks}.
// Node 20 built-ins only.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tokenHash, control, safeEqual } from './hashes.mjs';
import { faultTable, acts, answerBefore, answerAfter } from '../tools/faults.mjs';

const DIR = path.dirname(fileURLToPath(import.meta.url));
const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const RATES = { EUR: '1', CHF: '1.05', USD: '0.92', GBP: '1.17' }; // 1 unit → EUR
export const DEMO_WALLETS = [
  { username: 'alice@example.com', pin: '1234', balance_cents: 100000 },
  { username: 'bob@example.com', pin: '4321', balance_cents: 50000 },
  { username: 'carol@example.com', pin: '0000', balance_cents: 500 }, // too poor for most: → 7
];
const MIN_AMOUNT = 20;
const MAX_PIN_FAILURES = 5;
const SALTS_KEPT = 8;
const SESSION_MS = 30 * 60 * 1000;

class HttpError extends Error {
  constructor(status, body) { super(`HTTP ${status}`); this.status = status; this.body = body; }
}
const fail = (status, error, extra = {}) => { throw new HttpError(status, { error, ...extra }); };
const invalid = (field, message) => { throw new HttpError(412, { validationFailed: { [field]: [message] } }); };
const newHash = () => randomBytes(16).toString('hex');
const isCents = (v) => typeof v === 'string' && /^\d{1,12}$/.test(v);

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 65536) fail(413, 'body too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startCashcloud({ port = 0, merchants = [], wallets = DEMO_WALLETS, now = () => Date.now() } = {}) {
  let offsetMs = 0;
  const clock = () => now() + offsetMs;
  const unix = () => Math.floor(clock() / 1000);
  const state = {};
  const callbacks = [];
  let seq = 0;
  let pending = new Set();

  function addMerchant(m) {
    const username = m.username;
    const password = m.password;
    const apiPassword = m.apiPassword ?? m.api_password;
    if (!username || !password || !apiPassword) fail(400, 'username, password and apiPassword are required');
    const old = state.merchants.get(username);
    const merchant = {
      username, password, apiPassword,
      deviceId: m.deviceId ?? m.device_id ?? null,
      name: m.name ?? old?.name ?? username,
      callbackUrl: m.callbackUrl ?? m.callback_url ?? old?.callbackUrl ?? null,
      requestExpiration: Number(m.requestExpiration ?? m.request_expiration ?? old?.requestExpiration ?? 300),
      locked: Boolean(m.locked ?? old?.locked ?? false),
    };
    state.merchants.set(username, merchant);
    return merchant;
  }
  function addWallet(w) {
    if (!w.username || !/^\d{4,8}$/.test(String(w.pin ?? ''))) fail(400, 'username and a 4-8 digit pin are required');
    const old = state.wallets.get(w.username);
    const wallet = { username: w.username, pin: String(w.pin), balance: Number(w.balance_cents ?? old?.balance ?? 100000), failures: 0, locked: false };
    state.wallets.set(w.username, wallet);
    return wallet;
  }
  const faults = faultTable();
  function reset() {
    Object.assign(state, { merchants: new Map(), wallets: new Map(), salts: new Map(), txs: new Map(), sessions: new Map() });
    callbacks.length = 0;
    offsetMs = 0;
    faults.clear();
    merchants.forEach(addMerchant);
    wallets.forEach(addWallet);
  }
  reset();

  const publicMerchant = ({ password, apiPassword, ...m }) => m;
  const publicWallet = (w) => ({ username: w.username, balance_cents: w.balance, locked: w.locked });
  function merchantView(tx) {
    const view = { hash: tx.hash, type: tx.type, amount: tx.amount, currency_id: 1,
      transaction_state_id: tx.state, remark: tx.remark, extern: { id: tx.externId, reference: tx.externRef },
      created_at: Math.floor(tx.createdAt / 1000), expires_at: Math.floor(tx.expiresAt / 1000) };
    if (tx.type === 'request') view.refunded_amount = tx.refunded;
    else view.original_hash = tx.original;
    return view;
  }
  function walletView(tx) {
    return { hash: tx.hash, type: tx.type, merchant: state.merchants.get(tx.merchant)?.name ?? tx.merchant,
      remark: tx.remark, amount: tx.amount, currency: 'EUR', state: tx.state,
      expires_in: Math.max(0, Math.ceil((tx.expiresAt - clock()) / 1000)) };
  }

  // --- callbacks -------------------------------------------------------------------------
  async function deliver(merchant, fields, manual = false) {
    const record = { seq: ++seq, url: merchant?.callbackUrl ?? null, merchant: merchant?.username ?? null,
      fields, manual, response_status: null, error: null, at: clock() };
    callbacks.push(record);
    if (!record.url) { record.error = 'no callback_url registered'; return record; }
    try {
      const r = await fetch(record.url, { method: 'POST', body: new URLSearchParams(fields),
        headers: { 'content-type': 'application/x-www-form-urlencoded' }, signal: AbortSignal.timeout(5000) });
      record.response_status = r.status;
      await r.arrayBuffer().catch(() => {});
    } catch (e) {
      record.error = String(e?.cause?.message ?? e?.message ?? e);
    }
    return record;
  }
  // Sets the state and sends its callback; per transaction, callbacks leave in order.
  function transition(tx, status) {
    tx.state = status;
    const merchant = state.merchants.get(tx.merchant);
    const time = unix();
    const fields = { method: tx.type, status: String(status), time: String(time), hash: tx.hash,
      control: control(tx.type, status, time, merchant.apiPassword) };
    const p = (tx.chain ?? Promise.resolve()).then(() => deliver(merchant, fields));
    tx.chain = p;
    pending.add(p);
    p.finally(() => pending.delete(p));
    return p;
  }
  const settled = async () => { while (pending.size) await Promise.allSettled([...pending]); };

  function sweep() {
    const t = clock();
    for (const tx of state.txs.values()) if (tx.state === 1 && t >= tx.expiresAt) transition(tx, 6);
  }
  const timer = setInterval(sweep, 1000);
  timer.unref();

  // --- wallet actions (shared by the wallet app and /_standin) -----------------------------
  function checkPin(wallet, pin) {
    const ok = safeEqual(wallet ? wallet.pin : '\0no wallet', String(pin ?? ''));
    if (wallet?.locked) fail(423, 'wallet locked');
    if (!wallet) fail(403, 'wrong username or PIN');
    if (!ok) {
      wallet.failures += 1;
      if (wallet.failures >= MAX_PIN_FAILURES) wallet.locked = true;
      fail(403, 'wrong PIN', { attempts_left: Math.max(0, MAX_PIN_FAILURES - wallet.failures) });
    }
    wallet.failures = 0;
  }
  function pendingTx(hash, walletName) {
    sweep();
    const tx = state.txs.get(String(hash ?? ''));
    if (!tx || (walletName && tx.wallet !== walletName)) fail(404, 'no such request');
    if (tx.state !== 1) fail(409, 'request is not pending', { transaction_state_id: tx.state });
    return tx;
  }
  async function approve(tx) {
    const wallet = state.wallets.get(tx.wallet);
    await transition(tx, 2);
    if (tx.type === 'request') {
      if (wallet.balance < tx.amount) { await transition(tx, 7); return; }
      wallet.balance -= tx.amount;
      await transition(tx, 3);
    } else {
      wallet.balance += tx.amount;
      const original = state.txs.get(tx.original);
      original.refunded += tx.amount;
      await transition(tx, 3);
      if (original.refunded >= original.amount) await transition(original, 8);
    }
  }
  const decline = (tx) => transition(tx, 4);

  // --- merchant API ----------------------------------------------------------------------
  function authenticate(req) {
    const m = /^Token\s+([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? '');
    const text = m ? Buffer.from(m[1], 'base64').toString('utf8') : '';
    const first = text.indexOf('|');
    const last = text.lastIndexOf('|');
    if (first < 0 || last === first) fail(403, 'missing or malformed Authorization: Token header');
    const [username, deviceId, hash] = [text.slice(0, first), text.slice(first + 1, last), text.slice(last + 1)];
    const merchant = state.merchants.get(username);
    const salts = state.salts.get(`${username}|${deviceId}`) ?? [];
    let ok = false;
    for (const salt of merchant ? salts : []) ok = safeEqual(tokenHash(username, salt, merchant.password), hash) || ok;
    if (!ok) fail(403, 'authentication failed');
    if (merchant.locked) fail(423, 'merchant account locked');
    return merchant;
  }
  function ownTx(merchant, hash) {
    const tx = state.txs.get(String(hash ?? ''));
    if (!tx || tx.merchant !== merchant.username) invalid('hash', 'unknown transaction');
    return tx;
  }
  function createTx(merchant, fields) {
    const t = clock();
    const tx = { hash: newHash(), merchant: merchant.username, createdAt: t,
      expiresAt: t + merchant.requestExpiration * 1000, state: 1, chain: null, ...fields };
    state.txs.set(tx.hash, tx);
    return tx;
  }

  const merchantRoutes = {
    'POST /salt': (f) => {
      const username = f.get('username');
      const deviceId = f.get('device_id');
      if (!username) invalid('username', 'required');
      if (!deviceId) invalid('device_id', 'required');
      const merchant = state.merchants.get(username);
      if (!merchant || (merchant.deviceId && merchant.deviceId !== deviceId)) fail(403, 'unknown username or device');
      if (merchant.locked) fail(423, 'merchant account locked');
      const salt = randomBytes(16).toString('hex');
      const key = `${username}|${deviceId}`;
      state.salts.set(key, [salt, ...(state.salts.get(key) ?? [])].slice(0, SALTS_KEPT));
      return { salt };
    },
    'POST /request': (f, merchant) => {
      const email = f.get('email') ?? '';
      const amount = f.get('amount');
      const errors = {};
      if (!email) errors.email = ['required'];
      else if (!state.wallets.has(email)) errors.email = ['no Cashcloud wallet with this username'];
      if (!isCents(amount)) errors.amount = ['must be an integer amount in cents'];
      else if (Number(amount) < MIN_AMOUNT) errors.amount = [`must be at least ${MIN_AMOUNT} cents`];
      if (f.get('currency_id') !== '1') errors.currency_id = ['only 1 (EUR) is supported'];
      if ((f.get('remark') ?? '').length > 255) errors.remark = ['at most 255 characters'];
      if (Object.keys(errors).length) throw new HttpError(412, { validationFailed: errors });
      const tx = createTx(merchant, { type: 'request', wallet: email, amount: Number(amount), refunded: 0,
        remark: f.get('remark') ?? '', externId: f.get('extern.id') ?? '', externRef: f.get('extern.reference') ?? '' });
      return { hash: tx.hash };
    },
    'GET /transactions': (f, merchant) => ({ transaction: merchantView(ownTx(merchant, f.get('hash'))) }),
    'POST /refund': (f, merchant) => {
      const original = ownTx(merchant, f.get('hash'));
      if (original.type !== 'request') invalid('hash', 'a refund cannot be refunded');
      if (original.state !== 3) invalid('hash', 'only completed transactions can be refunded');
      const amount = f.get('amount');
      const inFlight = [...state.txs.values()].filter((t) => t.original === original.hash && t.state <= 2)
        .reduce((sum, t) => sum + t.amount, 0);
      const remaining = original.amount - original.refunded - inFlight;
      if (!isCents(amount) || Number(amount) < 1) invalid('amount', 'must be a positive integer amount in cents');
      if (Number(amount) > remaining) invalid('amount', `at most ${remaining} cents can still be refunded`);
      const tx = createTx(merchant, { type: 'refund', wallet: original.wallet, amount: Number(amount),
        original: original.hash, remark: original.remark, externId: original.externId, externRef: original.externRef });
      return { hash: tx.hash };
    },
    'POST /settings': (f, merchant) => {
      const url = f.get('callback_url');
      const exp = f.get('request_expiration');
      if (url !== null) {
        try { if (!/^https?:$/.test(new URL(url).protocol)) throw new Error(); } catch { invalid('callback_url', 'must be an http(s) URL'); }
      }
      if (exp !== null && (!/^\d{1,7}$/.test(exp) || Number(exp) < 1)) invalid('request_expiration', 'must be a positive number of seconds');
      if (url !== null) merchant.callbackUrl = url;
      if (exp !== null) merchant.requestExpiration = Number(exp);
      return { callback_url: merchant.callbackUrl, request_expiration: merchant.requestExpiration };
    },
    'GET /currency-rate': (f) => {
      const currency = (f.get('currency') ?? '').toUpperCase();
      const amount = f.get('amount') ?? '';
      if (!Object.hasOwn(RATES, currency)) invalid('currency', `one of ${Object.keys(RATES).join(', ')}`);
      if (!/^\d{1,10}(\.\d{1,2})?$/.test(amount)) invalid('amount', 'a decimal amount with at most 2 decimals');
      const [whole, frac = ''] = amount.split('.');
      const cents = Number(whole) * 100 + Number(frac.padEnd(2, '0'));
      const [rw, rf = ''] = RATES[currency].split('.');
      const rate4 = Number(rw) * 10000 + Number(rf.padEnd(4, '0')); // rate × 10⁴, exact
      const eur = Math.floor((cents * rate4 + 5000) / 10000);
      return { amount: `${Math.floor(eur / 100)}.${String(eur % 100).padStart(2, '0')}`, amount_cents: eur,
        rate: RATES[currency], currency, currency_id: 1 };
    },
  };

  // --- wallet app API ----------------------------------------------------------------------
  function session(req) {
    const token = /^Bearer\s+(\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const s = token && state.sessions.get(token);
    if (!s || s.expires < Date.now()) fail(401, 'signed out');
    const wallet = state.wallets.get(s.username);
    if (!wallet) fail(401, 'signed out');
    if (wallet.locked) fail(423, 'wallet locked');
    return { token, wallet };
  }
  const walletRoutes = {
    'POST /wallet/api/session': (body) => {
      const wallet = state.wallets.get(String(body.username ?? ''));
      checkPin(wallet, body.pin);
      const token = randomBytes(24).toString('base64url');
      state.sessions.set(token, { username: wallet.username, expires: Date.now() + SESSION_MS });
      return { token, ...publicWallet(wallet) };
    },
    'DELETE /wallet/api/session': (body, req) => { state.sessions.delete(session(req).token); return {}; },
    'GET /wallet/api/requests': (body, req) => {
      const { wallet } = session(req);
      sweep();
      const requests = [...state.txs.values()].filter((t) => t.wallet === wallet.username && t.state === 1)
        .sort((a, b) => a.createdAt - b.createdAt).map(walletView);
      return { ...publicWallet(wallet), requests };
    },
    'POST /wallet/api/approve': async (body, req) => {
      const { wallet } = session(req);
      const tx = pendingTx(body.hash, wallet.username);
      checkPin(wallet, body.pin);
      await approve(tx);
      return { transaction: walletView(tx), balance_cents: wallet.balance };
    },
    'POST /wallet/api/decline': async (body, req) => {
      const { wallet } = session(req);
      const tx = pendingTx(body.hash, wallet.username);
      checkPin(wallet, body.pin);
      await decline(tx);
      return { transaction: walletView(tx), balance_cents: wallet.balance };
    },
  };

  // --- test control API ------------------------------------------------------------------
  async function standinAct(body, act) {
    const tx = pendingTx(body.hash);
    const wallet = state.wallets.get(tx.wallet);
    if (wallet.locked) fail(423, 'wallet locked');
    if (body.pin !== undefined) checkPin(wallet, body.pin);
    await act(tx);
    return { transaction: merchantView(tx), wallet: publicWallet(wallet) };
  }
  const standinRoutes = {
    'POST /_standin/merchants': (b) => [201, publicMerchant(addMerchant(b))],
    'GET /_standin/merchants': () => ({ data: [...state.merchants.values()].map(publicMerchant) }),
    'POST /_standin/wallets': (b) => [201, publicWallet(addWallet(b))],
    'GET /_standin/wallets': () => ({ data: [...state.wallets.values()].map(publicWallet) }),
    'GET /_standin/transactions': () => ({ data: [...state.txs.values()].map((t) => ({ ...merchantView(t), merchant: t.merchant, wallet: t.wallet })) }),
    'POST /_standin/lock': (b) => {
      const m = state.merchants.get(b.username) ?? fail(404, 'no such merchant');
      m.locked = Boolean(b.locked ?? true);
      return publicMerchant(m);
    },
    'POST /_standin/approve': (b) => standinAct(b, approve),
    'POST /_standin/decline': (b) => standinAct(b, decline),
    'POST /_standin/expire': async (b) => { const tx = pendingTx(b.hash); await transition(tx, 6); return { transaction: merchantView(tx) }; },
    'POST /_standin/clock': (b) => { offsetMs += Number(b.advance_seconds ?? 0) * 1000; sweep(); return { now: clock() }; },
    'GET /_standin/callbacks': () => ({ data: callbacks }),
    'DELETE /_standin/callbacks': () => { callbacks.length = 0; return {}; },
    'POST /_standin/send-callback': (b) => {
      const tx = state.txs.get(String(b.hash ?? ''));
      const merchant = state.merchants.get(b.merchant ?? tx?.merchant)
        ?? (state.merchants.size === 1 ? [...state.merchants.values()][0] : fail(400, 'unknown hash: name the merchant'));
      if (!b.method || b.status === undefined) fail(400, 'method and status are required');
      const time = String(b.time ?? unix());
      const fields = { method: String(b.method), status: String(b.status), time, hash: String(b.hash ?? ''),
        control: b.control ?? control(b.method, b.status, time, merchant.apiPassword) };
      return deliver(merchant, fields, true);
    },
    'POST /_standin/reset': () => { reset(); return {}; },
    'POST /_standin/faults': (b) => {
      const spec = typeof b.path === 'string' && b.kind === undefined
        ? { path_prefix: b.path, path_suffix: b.path, kind: 'drop_after', count: b.count } : b;
      try { return [201, faults.add(spec)]; } catch (e) { return fail(400, e.message); }
    },
    'GET /_standin/faults': () => ({ data: faults.list() }),
    'DELETE /_standin/faults': () => { faults.clear(); return {}; },
  };

  // --- HTTP --------------------------------------------------------------------------------
  const send = (res, status, body, type = 'application/json; charset=utf-8', headers = {}) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const pathsOf = (routes) => new Set(Object.keys(routes).map((k) => k.split(' ')[1]));
  const routeSets = [merchantRoutes, walletRoutes, standinRoutes].map((r) => [r, pathsOf(r)]);

  async function handle(req, res) {
    const url = new URL(req.url, 'http://x');
    const key = `${req.method} ${url.pathname}`;
    if (req.method === 'GET' && (url.pathname === '/wallet' || url.pathname === '/wallet/')) {
      return send(res, 200, readFileSync(path.join(DIR, 'wallet.html'), 'utf8'), 'text/html; charset=utf-8', { 'content-security-policy': PAGE_CSP });
    }
    if (req.method === 'GET' && url.pathname === '/wallet/wallet.js') {
      return send(res, 200, readFileSync(path.join(DIR, 'wallet.js'), 'utf8'), 'text/javascript; charset=utf-8');
    }
    const set = routeSets.find(([, paths]) => paths.has(url.pathname));
    if (!set) fail(404, 'not found');
    const fn = set[0][key] ?? fail(405, 'method not allowed');
    const raw = await readBody(req);
    sweep();
    if (set[0] === merchantRoutes) {
      const form = req.method === 'GET' ? url.searchParams : new URLSearchParams(raw);
      const merchant = key === 'POST /salt' ? null : authenticate(req);
      const fault = faults.take(req.method, url.pathname);
      if (!acts(fault)) return answerBefore(fault, res, () => ({ error: 'injected fault' }));
      const out = await fn(form, merchant);
      return answerAfter(fault, res, send, 200, out);
    }
    let body = {};
    try { body = raw ? JSON.parse(raw) : {}; } catch { fail(400, 'body must be JSON'); }
    if (typeof body !== 'object' || body === null) fail(400, 'body must be a JSON object');
    const out = await fn(body, req);
    return Array.isArray(out) ? send(res, out[0], out[1]) : send(res, 200, out);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (res.headersSent) return res.destroy();
      if (e instanceof HttpError) return send(res, e.status, e.body);
      console.error('cashcloud stand-in:', e);
      send(res, 500, { error: 'internal error' });
    });
  });
  // Providers keep idle connections open for a minute or more; Node's 5 s default
  // closes them while the Worker's pool is about to reuse them, and under load (make
  // load) those requests die as "Network connection lost": outcomes nobody sees in production.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    callbacks,
    settled,
    close: async () => {
      clearInterval(timer);
      await settled();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [port, merchantsArg] = process.argv.slice(2);
  if (!port) {
    console.error('usage: node server.mjs PORT [MERCHANTS_JSON_OR_FILE]');
    process.exit(2);
  }
  const json = merchantsArg && (existsSync(merchantsArg) ? readFileSync(merchantsArg, 'utf8') : merchantsArg);
  const merchants = json ? [JSON.parse(json)].flat() : [];
  const s = await startCashcloud({ port: Number(port), merchants });
  console.log(`Cashcloud stand-in: ${s.url}/ (wallet app ${s.url}/wallet, ${merchants.length} merchant(s))`);
  for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => s.close().then(() => process.exit(0)));
}
