// What the script tag and the ES module share: start the wasm, the intent's
// `…/checkout` fetch and (as soon as that answer names it) the provider's script all
// at once, then mount. The handle comes back at once, so a page can subscribe before
// anything fires.
import init, { mount as mountWasm } from 'checkout-glue';

// Filled in by the build: the content-hashed wasm and its SRI hash, so a pinned
// script pins the wasm too.
const WASM_PATH = __WASM_PATH__;
const WASM_INTEGRITY = __WASM_INTEGRITY__;
// {lang: [path, integrity]} of the string tables other than English (built in).
const TABLES = __TABLES__;
// A payment intent's, or (save-card mode) a setup intent's.
const CLIENT_SECRET = /^((pi|seti)_[0-9A-Za-z]+)_secret_[0-9A-Za-z]+$/;

let wasm; // one instance per page, however many widgets

export function start(target, options, defaultBase) {
  const el = typeof target === 'string' ? document.querySelector(target) : target;
  if (!(el instanceof Element)) throw new TypeError(`checkout: no element matches ${target}`);
  const opts = { ...options };
  const base = String(opts.apiBase || defaultBase).replace(/\/+$/, '');
  const listeners = [];
  const handle = {
    on(event, fn) {
      const type = `checkout:${event}`;
      const listener = (e) => fn(e.detail);
      el.addEventListener(type, listener);
      listeners.push([type, listener]);
      return handle;
    },
    // The wasm stops polling once its root has left the document.
    destroy() {
      for (const [type, listener] of listeners.splice(0)) el.removeEventListener(type, listener);
      el.replaceChildren();
    },
  };
  const checkout = prefetch(base, opts);
  wasm ??= init({ module_or_path: fetch(new URL(WASM_PATH, base), { integrity: WASM_INTEGRITY }) });
  // The language as the wasm will choose it (i18n.rs, Locale::choose): its table can
  // then load while the wasm compiles.
  const lang = [opts.locale, el.closest('[lang]')?.lang, ...(navigator.languages ?? [])]
    .map((tag) => String(tag ?? '').trim().split(/[-_]/)[0].toLowerCase())
    .find((l) => l === 'en' || TABLES[l]) ?? 'en';
  const strings = TABLES[lang] && fetch(new URL(TABLES[lang][0], base), { integrity: TABLES[lang][1] })
    .then((r) => (r.ok ? r.text() : Promise.reject(new Error(`${r.status}`))));
  strings?.catch((e) => console.error(`checkout: the ${lang} strings did not load; English instead`, e));
  handle.ready = wasm.then(
    () => mountWasm(el, { ...opts, apiBase: base, checkout, stringsLang: lang, strings }),
    (e) => {
      // No wasm, no words: the page hears it and the console says why.
      console.error('checkout: the widget could not start', e);
      el.dispatchEvent(new CustomEvent('checkout:failed', { bubbles: true, detail: { payment_intent: '', status: 'error' } }));
      throw e;
    },
  );
  // Failures are shown in the widget and dispatched as checkout:failed; a page that
  // awaits `ready` still sees the rejection.
  handle.ready.catch(() => {});
  return handle;
}

function prefetch(base, { publishableKey, clientSecret }) {
  const m = CLIENT_SECRET.exec(clientSecret ?? '');
  if (!m) return undefined; // the wasm says what is wrong with it
  const url = `${base}/v1/${m[2] === 'pi' ? 'payment' : 'setup'}_intents/${m[1]}/checkout`
    + `?client_secret=${encodeURIComponent(clientSecret)}&key=${encodeURIComponent(publishableKey ?? '')}`;
  // Read here, once: the provider's script then starts loading as soon as the answer
  // is in, not after the wasm has started and read it. The wasm gets {status, body}.
  // The key rides in `?key=`, not a header: a GET with no header of its own is a
  // CORS "simple" request, sent without a preflight (one round trip less).
  return fetch(url).then(async (r) => {
    const body = await r.json().catch(() => undefined);
    if (r.ok) preloadProvider(body?.provider);
    return { status: r.status, body };
  });
}

function preloadProvider(provider) {
  if (provider?.type !== 'stripe' || !provider.js_url || window.Stripe) return;
  const link = document.createElement('link');
  link.rel = 'preload';
  link.as = 'script';
  link.href = provider.js_url;
  document.head.append(link);
}
