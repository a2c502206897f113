// Widget start-up in Debian's Chromium: a merchant page on another origin with the one
// script tag; each load in a fresh browser context (empty cache). Records
// performance.now() at the widget's `checkout:ready` event (navigation start → widget
// interactive) and the widget's own time in mount(): the sum of its
// `performance.measure('checkout:mount')` entries, network waits excluded. Beside it,
// apart: the provider's synchronous calls inside mount() (`checkout:provider`, Stripe
// building its card field's iframe); mount_total is mount + provider, the pre-split
// figure. And the start-up in two: navigation start → checkout.js received (the
// merchant's page, the browser and the first request to our origin; nothing of ours
// has run yet) and checkout.js received → `checkout:ready` (ours: the bootstrap, the
// wasm and `…/checkout` on the wire, mount, Stripe.js).
import http from 'node:http';
import { createIntent, api } from './http.mjs';
import { percentile } from './load.mjs';

function shopPage(worker, pk, cs) {
  return `<!doctype html><html lang="en"><title>Shop</title><main><h1>Checkout</h1><div id="checkout"></div></main>
<script>document.addEventListener('checkout:ready', function () { window.__ready = performance.now(); });
window.__long = []; new PerformanceObserver(function (l) { l.getEntries().forEach(function (e) { window.__long.push([e.startTime, e.duration]); }); }).observe({ type: 'longtask', buffered: true });</script>
<script src="${worker}/v1/checkout.js" data-publishable-key="${pk}" data-client-secret="${cs}" data-target="#checkout" async></script>`;
}

export async function widgetStartup({ worker, merchant, loads = 20 }) {
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname !== '/') { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(shopPage(worker, merchant.publishable_key, u.searchParams.get('cs')));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const r = await api(worker, 'PATCH', '/v1/merchants/me', { key: merchant.secret_key, body: { allowed_origins: [origin] } });
  if (r.status !== 200) throw new Error(`allowed_origins: ${r.status} ${r.text}`);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const startup = [];
  const mount = [];
  const provider = [];
  const mountTotal = [];
  const script = [];
  const long = [];
  const afterScript = [];
  try {
    // One load first, not counted: the Worker's isolate and Chromium's processes warm up.
    for (let i = 0; i <= loads; i++) {
      const pi = await createIntent(worker, merchant);
      const context = await browser.newContext({ locale: 'en-US' });
      try {
        const page = await context.newPage();
        const errors = [];
        page.on('pageerror', (e) => errors.push(e.message));
        await page.goto(`${origin}/?cs=${encodeURIComponent(pi.client_secret)}`);
        await page.waitForFunction(() => window.__ready !== undefined, null, { timeout: 15000 });
        const m = await page.evaluate(() => ({
          ready: window.__ready,
          mount: performance.getEntriesByName('checkout:mount', 'measure').reduce((a, e) => a + e.duration, 0),
          provider: performance.getEntriesByName('checkout:provider', 'measure').reduce((a, e) => a + e.duration, 0),
          // Main-thread tasks over 50 ms that started before the widget was ready.
          long: window.__long.filter(([start]) => start < window.__ready).reduce((a, [, d]) => a + d, 0),
          script: performance.getEntriesByType('resource').find((e) => /\/v1\/checkout\.js$/.test(e.name))?.responseEnd,
          parts: performance.getEntriesByName('checkout:mount', 'measure').map((e) => [Math.round(e.startTime), Math.round(e.duration * 10) / 10]),
          marks: Object.fromEntries(performance.getEntriesByType('resource').map((e) => [e.name.split('/').pop().slice(0, 24), [Math.round(e.startTime), Math.round(e.responseEnd)]])),
        }));
        if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
        if (i > 0) {
          startup.push(m.ready);
          mount.push(m.mount);
          provider.push(m.provider);
          mountTotal.push(m.mount + m.provider);
          script.push(m.script);
          long.push(m.long);
          afterScript.push(m.ready - m.script);
        }
        if (process.env.BENCH_VERBOSE) {
          console.log(JSON.stringify({ ready: Math.round(m.ready), parts: m.parts, provider: Math.round(m.provider * 10) / 10, long: Math.round(m.long), resources: m.marks }));
        }
      } finally {
        await context.close();
      }
    }
  } finally {
    await browser.close();
    await new Promise((r) => server.close(r));
  }
  const stats = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const mid = s.length / 2;
    return { median: s.length % 2 ? s[Math.floor(mid)] : (s[mid - 1] + s[mid]) / 2, p90: percentile(s, 90), min: s[0], max: s.at(-1), samples: xs.map((x) => Math.round(x * 100) / 100) };
  };
  return { startup: stats(startup), mount: stats(mount), provider: stats(provider), mountTotal: stats(mountTotal), script: stats(script), afterScript: stats(afterScript), long: stats(long) };
}
