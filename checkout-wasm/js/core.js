// What the script tag and the ES module share: start the wasm, the intent's
// `…/checkout` fetch and (as soon as that answer names it) the provider's script all
// at once, then mount. The handle comes back at once, so a page can subscribe before
// anything fires.
import { initSync, mount as mountWasm } from 'checkout-glue';

// Filled in by the build: the content-hashed wasm and its SRI hash, so a pinned
// script pins the wasm too.
const WASM_PATH = __WASM_PATH__;
const WASM_INTEGRITY = __WASM_INTEGRITY__;
// {lang: [path, integrity]} of the string tables other than English (built in).
const TABLES = __TABLES__;
// A payment intent's, or (save-card mode) a setup intent's.
const CLIENT_SECRET = /^((pi|seti)_[0-9A-Za-z]+)_secret_[0-9A-Za-z]+$/;

let wasm; // the compiled module: one per page, however many widgets

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
  wasm ??= compile(new URL(WASM_PATH, base));
  // The language as the wasm will choose it (i18n.rs, Locale::choose): its table can
  // then load while the wasm compiles.
  const lang = [opts.locale, el.closest('[lang]')?.lang, ...(navigator.languages ?? [])]
    .map((tag) => String(tag ?? '').trim().split(/[-_]/)[0].toLowerCase())
    .find((l) => l === 'en' || TABLES[l]) ?? 'en';
  const strings = TABLES[lang] && fetch(new URL(TABLES[lang][0], base), { integrity: TABLES[lang][1] })
    .then((r) => (r.ok ? r.text() : Promise.reject(new Error(`${r.status}`))));
  strings?.catch((e) => console.error(`checkout: the ${lang} strings did not load; English instead`, e));
  // The wasm is compiled while it downloads, but instantiated (and mount() started)
  // only once `…/checkout` has been read or has failed: that read starts the
  // provider's script, which is the longer way to the card field, so it goes first on
  // the main thread instead of queuing behind the instantiation and mount()'s first
  // stretch (measured: 3–6 ms from the answer to the script's request when it goes
  // first, 40–90 ms when it waits).
  handle.ready = Promise.all([wasm, checkout?.catch(() => undefined)]).then(
    ([module, answer]) => {
      initSync({ module });
      return mountWasm(el, {
        ...opts, apiBase: base, checkout, providerScript: answer?.script, stringsLang: lang, strings,
      });
    },
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
    return { status: r.status, body, script: r.ok ? loadProvider(body?.provider) : undefined };
  });
}

// The provider's script, loaded (and run) while the wasm starts: Stripe.js as a
// script element, as Stripe asks it to be loaded, resolving once it has run. The wasm
// waits for this one instead of adding its own; when it fails (blocked, offline) the
// wasm says so and its "Try again" loads a fresh one.
function loadProvider(provider) {
  if (provider?.type !== 'stripe' || !provider.js_url || window.Stripe) return undefined;
  const loaded = new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = provider.js_url;
    script.addEventListener('load', resolve);
    script.addEventListener('error', () => {
      script.remove();
      reject(new Error(`checkout: ${provider.js_url} did not load`));
    });
    document.head.append(script);
  });
  loaded.catch(() => {}); // the wasm reports it, if it still needs the script
  return loaded;
}

// The widget's wasm, compiled as it arrives (SRI-checked by the fetch).
async function compile(url) {
  const r = await fetch(url, { integrity: WASM_INTEGRITY });
  if (!r.ok) throw new Error(`the widget's wasm: ${r.status} ${url}`);
  const module = r.headers.get('content-type') === 'application/wasm'
    ? WebAssembly.compileStreaming(r)
    : r.arrayBuffer().then((bytes) => WebAssembly.compile(bytes));
  return module.catch((e) => {
    wasm = undefined; // a later mount() on this page fetches it again
    throw e;
  });
}
