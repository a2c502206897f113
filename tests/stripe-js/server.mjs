// A small Stripe.js stand-in for the local/test stack: the subset of Stripe.js our widget
// uses (Stripe(), elements().create('card'), createPaymentMethod, handleNextAction /
// confirmCardPayment / confirmCardSetup, retrievePaymentIntent / retrieveSetupIntent),
// backed by localstripe. SetupIntents go through the recording proxy (PROXY_URL), which
// completes their 3-D Secure: localstripe cannot. Like Stripe.js, the
// card field and the 3-D Secure challenge are iframes on this server's origin, so card
// data never touches the merchant page; only this origin sends it on, to localstripe,
// with a test secret key that stays here. Nothing here logs request bodies.
//
//   usage: node server.mjs PORT LOCALSTRIPE_URL [PROXY_URL]    (binds 127.0.0.1 only)
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = path.dirname(fileURLToPath(import.meta.url));
const file = (name) => readFileSync(path.join(DIR, name), 'utf8');

const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'";
const AUTH_FAILED = 'We are unable to authenticate your payment method. Please choose a different payment method and try again.';
const CLIENT_SECRET = /^(pi_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/;
const SETUP_SECRET = /^(seti_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/;
const SETUP_AUTH_FAILED = 'We are unable to authenticate your payment method. Please choose a different payment method and try again.';

/** Stripe's nested form encoding: {card: {number: 1}} → card[number]=1. */
function form(obj, prefix = '', out = new URLSearchParams()) {
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined || v === null || v === '') continue;
    const key = prefix ? `${prefix}[${k}]` : k;
    if (typeof v === 'object') form(v, key, out);
    else out.append(key, String(v));
  }
  return out;
}

/** Only what a browser-side caller of Stripe.js gets to see of an intent. */
function publicIntent(pi) {
  const { id, object, amount, currency, status, capture_method, client_secret, next_action, last_payment_error } = pi;
  const payment_method = typeof pi.payment_method === 'string' ? pi.payment_method : pi.payment_method?.id ?? null;
  return { id, object, amount, currency, status, capture_method, client_secret, payment_method,
    next_action: next_action ?? null, last_payment_error: last_payment_error ?? null };
}

/** Only what a browser-side caller of Stripe.js gets to see of a SetupIntent. */
function publicSetupIntent(si) {
  const { id, object, status, usage, client_secret, next_action, last_setup_error } = si;
  const payment_method = typeof si.payment_method === 'string' ? si.payment_method : si.payment_method?.id ?? null;
  return { id, object, status, usage, client_secret, payment_method, next_action: next_action ?? null, last_setup_error: last_setup_error ?? null };
}

const cardError = (code, message, extra = {}) => ({ error: { type: 'card_error', code, message, ...extra } });
const requestError = (code, message) => ({ error: { type: 'invalid_request_error', code, message } });

export async function startStripeJs({ port, localstripeUrl, proxyUrl, secretKey = 'sk_test_standin' }) {
  const script = file('stripe.js');
  const pages = {
    '/card-field.html': ['text/html; charset=utf-8', file('card-field.html')],
    '/card-field.js': ['application/javascript; charset=utf-8', file('card-field.js')],
    '/three-d-secure.html': ['text/html; charset=utf-8', file('three-d-secure.html')],
    '/three-d-secure.js': ['application/javascript; charset=utf-8', file('three-d-secure.js')],
    '/i18n.js': ['application/javascript; charset=utf-8', file('i18n.js')],
  };
  const ls = localstripeUrl.replace(/\/$/, '');
  const lsAuth = { authorization: `Bearer ${secretKey}` };

  async function localstripe(method, p, { body, auth = true, base = ls } = {}) {
    const headers = auth ? { ...lsAuth } : {};
    if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const r = await fetch(base + p, { method, headers, body: body?.toString() });
    let json;
    try { json = await r.json(); } catch { json = {}; }
    return { status: r.status, json };
  }

  async function retrieveIntent(clientSecret) {
    const m = CLIENT_SECRET.exec(clientSecret ?? '');
    if (!m) return requestError('invalid_client_secret', 'That client secret is not a PaymentIntent client secret.');
    const r = await localstripe('GET', `/v1/payment_intents/${m[1]}`);
    // Same answer for "unknown intent" and "wrong secret": the secret is the credential.
    if (r.status !== 200 || r.json.client_secret !== clientSecret) {
      return requestError('resource_missing', 'No such payment_intent.');
    }
    return { paymentIntent: publicIntent(r.json) };
  }

  // SetupIntents: through the recording proxy, which keeps what localstripe cannot
  // (3-D Secure at setup, a declined setup that stays retryable).
  const proxy = proxyUrl?.replace(/\/$/, '');
  async function retrieveSetupIntent(clientSecret) {
    const m = SETUP_SECRET.exec(clientSecret ?? '');
    if (!m || !proxy) return requestError('invalid_client_secret', 'That client secret is not a SetupIntent client secret.');
    const r = await localstripe('GET', `/v1/setup_intents/${m[1]}`, { base: proxy });
    if (r.status !== 200 || r.json.client_secret !== clientSecret) return requestError('resource_missing', 'No such setup_intent.');
    return { setupIntent: publicSetupIntent(r.json) };
  }

  async function authenticateSetup(b) {
    const m = SETUP_SECRET.exec(b.client_secret);
    const r = await localstripe('POST', `/v1/setup_intents/${m[1]}/_authenticate?success=${b.success}`,
      { base: proxy, body: form({ client_secret: b.client_secret }) });
    const now = r.status === 200 ? { setupIntent: publicSetupIntent(r.json) } : await retrieveSetupIntent(b.client_secret);
    if (now.error) return now;
    const si = now.setupIntent;
    if (si.status === 'requires_payment_method' && si.last_setup_error) {
      return cardError('setup_intent_authentication_failure', SETUP_AUTH_FAILED, { setup_intent: si });
    }
    return now;
  }

  // Card data arrives here from the card-field iframe and goes nowhere but localstripe.
  async function createPaymentMethod(b) {
    const digits = (v) => typeof v === 'string' && /^\d+$/.test(v);
    if (!digits(b.number) || !digits(b.cvc) || !digits(b.exp_month) || !digits(b.exp_year)) {
      return cardError('invalid_number', 'Your card details are incomplete.');
    }
    const billing = b.billing_details && typeof b.billing_details === 'object' ? b.billing_details : undefined;
    const body = form({ type: 'card', card: { number: b.number, exp_month: b.exp_month, exp_year: b.exp_year, cvc: b.cvc },
      billing_details: billing });
    const r = await localstripe('POST', '/v1/payment_methods', { body });
    if (r.status !== 200) {
      const e = r.json.error ?? {};
      return cardError(e.code || 'processing_error', e.code ? e.message : 'Your card could not be used (the test processor refused it).');
    }
    const pm = r.json;
    return { id: pm.id, type: 'card', card: { brand: pm.card?.brand, last4: pm.card?.last4,
      exp_month: pm.card?.exp_month, exp_year: pm.card?.exp_year } };
  }

  async function authenticate(b) {
    const setup = SETUP_SECRET.test(b.client_secret ?? '') && proxy;
    const m = CLIENT_SECRET.exec(b.client_secret ?? '');
    if ((!m && !setup) || typeof b.key !== 'string' || !b.key.startsWith('pk_') || typeof b.success !== 'boolean') {
      return requestError('parameter_invalid', 'client_secret, key (pk_…) and success are required.');
    }
    if (setup) return authenticateSetup(b);
    const r = await localstripe('POST', `/v1/payment_intents/${m[1]}/_authenticate?success=${b.success}`,
      { auth: false, body: form({ key: b.key, client_secret: b.client_secret }) });
    // Not (or no longer) in requires_action: report what the intent is now.
    const now = r.status === 200 ? { paymentIntent: publicIntent(r.json) } : await retrieveIntent(b.client_secret);
    if (now.error) return now;
    const pi = now.paymentIntent;
    if (!b.success && pi.status === 'requires_payment_method') {
      return cardError('payment_intent_authentication_failure', AUTH_FAILED, { payment_intent: pi });
    }
    if (pi.status === 'requires_payment_method' && pi.last_payment_error) {
      const e = pi.last_payment_error;
      return cardError(e.code || 'card_declined', e.message || 'Your card was declined.', { payment_intent: pi });
    }
    return now;
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    // Our own origin as the browser sees it (127.0.0.1 or localhost, this port only).
    const host = req.headers.host ?? '';
    const self = /^(127\.0\.0\.1|localhost):\d+$/.test(host) && host.endsWith(`:${server.address().port}`)
      ? `http://${host}` : null;
    const send = (status, type, body, headers = {}) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
      res.end(body);
    };
    const json = (status, obj, headers) => send(status, 'application/json', JSON.stringify(obj), headers);
    try {
      if (!self) return json(421, requestError('wrong_host', 'Use http://127.0.0.1:<port> or http://localhost:<port>.'));

      if (req.method === 'GET' && (url.pathname === '/v3/' || url.pathname === '/v3')) {
        return send(200, 'application/javascript; charset=utf-8', script.replace('__STANDIN_ORIGIN__', self),
          { 'access-control-allow-origin': '*' });
      }
      if (req.method === 'GET' && pages[url.pathname]) {
        const [type, body] = pages[url.pathname];
        return send(200, type, body, type.startsWith('text/html') ? { 'content-security-policy': PAGE_CSP, 'referrer-policy': 'no-referrer' } : {});
      }
      // Stripe lets a page holding the client secret read its intent; so do we.
      if (req.method === 'GET' && url.pathname === '/payment_intent') {
        const cors = { 'access-control-allow-origin': '*' };
        if (!url.searchParams.get('key')?.startsWith('pk_')) return json(401, requestError('api_key_required', 'A publishable key is required.'), cors);
        const r = await retrieveIntent(url.searchParams.get('client_secret'));
        return json(r.error ? 404 : 200, r, cors);
      }
      if (req.method === 'GET' && url.pathname === '/setup_intent') {
        const cors = { 'access-control-allow-origin': '*' };
        if (!url.searchParams.get('key')?.startsWith('pk_')) return json(401, requestError('api_key_required', 'A publishable key is required.'), cors);
        const r = await retrieveSetupIntent(url.searchParams.get('client_secret'));
        return json(r.error ? 404 : 200, r, cors);
      }
      if (req.method === 'POST' && (url.pathname === '/payment_methods' || url.pathname === '/authenticate')) {
        // Only our own iframes may call these: same origin, no CORS headers ever.
        const site = req.headers['sec-fetch-site'];
        if (req.headers.origin !== self || (site && site !== 'same-origin')) {
          return json(403, requestError('forbidden_origin', 'Only the stand-in\'s own frames may call this.'));
        }
        if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) return json(415, requestError('unsupported_media_type', 'Send JSON.'));
        let raw = '';
        for await (const chunk of req) {
          raw += chunk;
          if (raw.length > 8192) return json(413, requestError('too_large', 'Request too large.'));
        }
        let body;
        try { body = JSON.parse(raw); } catch { return json(400, requestError('invalid_json', 'Malformed JSON.')); }
        if (!body || typeof body !== 'object') return json(400, requestError('invalid_json', 'Expected an object.'));
        const r = url.pathname === '/payment_methods' ? await createPaymentMethod(body) : await authenticate(body);
        return json(r.error ? 402 : 200, r);
      }
      return json(404, requestError('route_not_found', 'Not found.'));
    } catch (e) {
      // The message only: never the request, which may hold card data.
      console.error(`[stripe-js] ${req.method} ${url.pathname}: ${e.message}`);
      if (!res.headersSent) json(502, { error: { type: 'api_error', code: 'localstripe_unreachable', message: 'The test payment processor did not answer.' } });
      else res.destroy();
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [port, localstripeUrl, proxyUrl] = process.argv.slice(2);
  if (!port || !localstripeUrl) {
    console.error('usage: node server.mjs PORT LOCALSTRIPE_URL [PROXY_URL]');
    process.exit(2);
  }
  const s = await startStripeJs({ port: Number(port), localstripeUrl, proxyUrl });
  console.log(`Stripe.js stand-in: ${s.url}/v3/ (localstripe ${localstripeUrl})`);
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => s.close().then(() => process.exit(0)));
}
