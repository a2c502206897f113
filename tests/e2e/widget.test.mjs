// The widget customers meet (issue 13), in Debian's Chromium on a merchant's origin:
// its languages, a strict Content-Security-Policy with theming, the ES module and
// pinned (SRI) scripts, keyboard-only payment, accessibility (axe-core, every state),
// and what it does when the provider's script is blocked or a confirm's answer is lost.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { api, serveOrigin, launchBrowser, stripeMerchant, axeViolations, WORKER } from './lib.mjs';

const STRIPE_JS = process.env.STRIPE_JS_URL;
const EVENTS = ['checkout:ready', 'checkout:succeeded', 'checkout:failed', 'checkout:requires_capture'];
// Collects the contract's events and any CSP violation; an external file, so it runs
// under the strict policy too.
const EVENTS_JS = `window.events = []; window.violations = [];
for (const t of ${JSON.stringify(EVENTS)}) document.addEventListener(t, (e) => events.push({ type: t, detail: e.detail }));
document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));`;

let shop, browser, merchant;
before(async () => {
  merchant = await stripeMerchant();
  const tag = (q, attrs = '') => `<script src="${WORKER}/v1/checkout.js" data-publishable-key="${merchant.publishable_key}" data-client-secret="${q.get('cs')}" data-target="#checkout"${attrs} async></script>`;
  const page = (lang, body) => `<!doctype html><html lang="${lang}"><meta charset="utf-8"><title>Shop</title><main><h1>Checkout</h1><div id="checkout"></div></main>
<script src="/events.js"></script>${body}`;
  const q = (req) => new URL(req.url, 'http://x').searchParams;
  shop = await serveOrigin({
    '/events.js': () => ({ body: EVENTS_JS, headers: { 'content-type': 'text/javascript' } }),
    // The page's language picks the widget's; `locale=` overrides it.
    '/': (req) => page(q(req).get('lang') ?? 'en', tag(q(req), q(req).get('locale') ? ` data-locale="${q(req).get('locale')}"` : '')),
    // No 'unsafe-inline', no 'unsafe-eval'; wasm needs 'wasm-unsafe-eval'.
    '/strict': (req) => ({
      headers: {
        'content-security-policy': [
          "default-src 'none'", `script-src 'self' ${WORKER} ${new URL(STRIPE_JS).origin} 'wasm-unsafe-eval'`,
          `connect-src ${WORKER} ${new URL(STRIPE_JS).origin}`, `frame-src ${new URL(STRIPE_JS).origin}`, "style-src 'self'", "base-uri 'none'",
        ].join('; '),
      },
      body: page('en', `<script src="/canary.js"></script>${tag(q(req), ` data-appearance='${q(req).get('appearance') ?? ''}'`)}`),
    }),
    // Proves the policy is enforced and seen: this inline style must be reported.
    '/canary.js': () => ({
      body: "const s = document.createElement('style'); s.textContent = 'h1{color:red}'; document.head.append(s);",
      headers: { 'content-type': 'text/javascript' },
    }),
    '/pinned': (req) => page('en', `<script src="${WORKER}${q(req).get('url')}" integrity="${q(req).get('integrity')}" crossorigin="anonymous"
  data-publishable-key="${merchant.publishable_key}" data-client-secret="${q(req).get('cs')}" data-target="#checkout" async
  onerror="window.refused = true"></script>`),
    '/module': (req) => page('it', `<script type="module">
import { mount } from '${WORKER}/v1/checkout.mjs';
window.handle = mount('#checkout', { publishableKey: '${merchant.publishable_key}', clientSecret: '${q(req).get('cs')}' });
window.heard = [];
handle.on('ready', (d) => heard.push(['ready', d])).on('succeeded', (d) => heard.push(['succeeded', d]));
</script>`),
  });
  const r = await api('PATCH', '/v1/merchants/me', { key: merchant.secret_key, body: { allowed_origins: [shop.origin] } });
  assert.equal(r.status, 200, r.text);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await shop?.close();
});

async function intent(amount = '19.90') {
  const pi = await api('POST', '/v1/payment_intents', {
    key: merchant.secret_key, body: { amount, currency: 'CHF', provider: 'stripe' }, idem: randomUUID(),
  });
  assert.equal(pi.status, 200, pi.text);
  return pi.json;
}

/** Opens `path` for a fresh intent; waits for checkout:ready unless told not to. */
async function open(path, { amount, params = {}, ready = true, route, contextOptions = {} } = {}) {
  const pi = await intent(amount);
  const context = await browser.newContext({ locale: 'en-US', ...contextOptions });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  if (route) await route(page);
  await page.goto(`${shop.origin}${path}?${new URLSearchParams({ cs: pi.client_secret, ...params })}`);
  if (ready) await page.waitForFunction(() => window.events?.some((e) => e.type === 'checkout:ready'), null, { timeout: 15000 });
  return { page, pi, errors, field: page.frameLocator('#checkout iframe').first() };
}

async function typeCard(field, number, labels = ['Card number', 'Expiry (MM / YY)', 'CVC']) {
  await field.getByLabel(labels[0]).pressSequentially(number);
  await field.getByLabel(labels[1]).pressSequentially('12 / 34');
  await field.getByLabel(labels[2]).pressSequentially('123');
}

const heard = (page, type, timeout = 15000) => page.waitForFunction((t) => events.find((e) => e.type === t), type, { timeout });
const statusOf = async (pi) => (await api('GET', `/v1/payment_intents/${pi.id}`, { key: merchant.secret_key })).json.status;
const dialog = (page) => page.frameLocator('[role="dialog"] iframe');

/** axe-core on the widget (and the 3-D Secure dialog when open): no violation. */
async function accessible(t, page, state) {
  const violations = await axeViolations(page, ['#checkout', '[role="dialog"]']);
  t.diagnostic(`axe, widget ${state}: ${violations.length} violations`);
  assert.deepEqual(violations, [], `axe in state ${state}`);
}

test('a German page pays through 3-D Secure in German: "Bezahlen CHF 1\'234.50", the field, the challenge, the outcome', async (t) => {
  const { page, pi, errors, field } = await open('/', { amount: '1234.50', params: { lang: 'de-CH' } });
  const pay = page.getByRole('button', { name: /^Bezahlen / });
  assert.match(await pay.textContent(), /^Bezahlen CHF\s1['’]234\.50$/);
  assert.equal(await page.locator('#checkout .ec-checkout').getAttribute('lang'), 'de');
  await accessible(t, page, 'ready (de)');
  await typeCard(field, '4000 0025 0000 3155', ['Kartennummer', 'Ablaufdatum (MM / JJ)', 'CVC']);
  await pay.click();
  // Stripe.js was started in German: its challenge speaks German.
  await dialog(page).getByRole('button', { name: 'Authentifizierung abschließen' }).waitFor();
  assert.equal(await page.locator('[role="dialog"]').getAttribute('aria-label'), 'Kartenauthentifizierung (3-D-Secure-Test)');
  assert.equal(await page.getByRole('status').textContent(), 'Bestätigen Sie die Zahlung bei Ihrer Bank…');
  await accessible(t, page, '3-D Secure open (de)');
  await dialog(page).getByRole('button', { name: 'Authentifizierung abschließen' }).click();
  await heard(page, 'checkout:succeeded');
  assert.equal(await page.getByRole('status').textContent(), 'Zahlung erhalten. Vielen Dank!');
  assert.equal(await statusOf(pi), 'succeeded');
  await accessible(t, page, 'succeeded (de)');
  assert.deepEqual(errors, []);
});

test('a Russian page pays through 3-D Secure in Russian; a failed challenge is said in Russian too', async (t) => {
  const ko = await open('/', { amount: '30.00', params: { lang: 'ru' } });
  await typeCard(ko.field, '4000 0000 0000 3220', ['Номер карты', 'Срок действия (ММ / ГГ)', 'CVC']);
  await ko.page.getByRole('button', { name: /^Оплатить / }).click();
  await dialog(ko.page).getByRole('button', { name: 'Провалить аутентификацию' }).click();
  await heard(ko.page, 'checkout:failed');
  assert.equal(await ko.page.getByRole('alert').textContent(), 'Платёж не прошёл. Можно попробовать ещё раз.');
  await accessible(t, ko.page, 'error: declined (ru)');

  const ok = await open('/', { amount: '30.00', params: { lang: 'ru' } });
  // ru-CH: the Russian way, with the Swiss currency code.
  assert.match(await ok.page.getByRole('button', { name: /^Оплатить / }).textContent(), /^Оплатить 30,00\sCHF$/);
  await typeCard(ok.field, '4000 0025 0000 3155', ['Номер карты', 'Срок действия (ММ / ГГ)', 'CVC']);
  await ok.page.getByRole('button', { name: /^Оплатить / }).click();
  await dialog(ok.page).getByRole('button', { name: 'Завершить аутентификацию' }).click();
  await heard(ok.page, 'checkout:succeeded');
  assert.equal(await ok.page.getByRole('status').textContent(), 'Платёж получен. Спасибо!');
  assert.equal(await statusOf(ok.pi), 'succeeded');
});

test('the locale option wins over the page; French and Italian are spoken too', async () => {
  const fr = await open('/', { amount: '12.50', params: { lang: 'de', locale: 'fr' } });
  assert.match(await fr.page.getByRole('button', { name: /^Payer / }).textContent(), /^Payer 12[.,]50\sCHF$|^Payer CHF\s12\.50$/);
  const it = await open('/', { amount: '12.50', params: { lang: 'it-CH' } });
  assert.match(await it.page.getByRole('button', { name: /^Paga / }).textContent(), /CHF\s12\.50/);
});

test('keyboard only: Tab into the hosted field, type, Tab to pay, Enter; focus goes into the 3-D Secure dialog and back', async () => {
  const { page, pi } = await open('/', { amount: '45.00' });
  await page.locator('body').focus();
  // The page has nothing focusable before the widget: the first Tab lands in the card field.
  await page.keyboard.press('Tab');
  await page.waitForFunction(() => document.activeElement?.tagName === 'IFRAME');
  for (const part of ['4000002500003155', '1234', '123']) {
    await page.keyboard.type(part);
    await page.keyboard.press('Tab');
  }
  const focused = () => page.evaluate(() => document.activeElement?.className ?? '');
  assert.equal(await focused(), 'ec-pay', 'Tab from the CVC reaches the pay button');
  const target = await page.locator('.ec-pay').boundingBox();
  assert.ok(target.height >= 24 && target.width >= 24, `pay button is ${target.width}×${target.height}`);
  await page.keyboard.press('Enter');
  await dialog(page).getByRole('button', { name: 'Complete authentication' }).waitFor();
  await page.waitForFunction(() => document.activeElement?.closest('[role="dialog"]'));
  await page.keyboard.press('Enter'); // the challenge's first button has focus
  await heard(page, 'checkout:succeeded');
  assert.equal(await statusOf(pi), 'succeeded');
  // Back on the widget, not lost on <body>: the pay button kept focus while busy; when
  // it is hidden at the end, the outcome's message takes focus.
  assert.equal(await page.evaluate(() => document.activeElement?.className), 'ec-status');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Payment received. Thank you!');
});

test('focus returns to the pay button when the 3-D Secure dialog closes', async () => {
  const { page, field } = await open('/', { amount: '46.00' });
  await typeCard(field, '4000 0000 0000 3220');
  await page.getByRole('button', { name: /^Pay / }).focus();
  await page.keyboard.press('Enter');
  await dialog(page).getByRole('button', { name: 'Fail authentication' }).waitFor();
  await page.waitForFunction(() => document.activeElement?.closest('[role="dialog"]'));
  await page.keyboard.press('Escape');
  await heard(page, 'checkout:failed');
  assert.equal(await page.evaluate(() => document.activeElement?.className), 'ec-pay');
  assert.equal(await page.locator('.ec-pay').getAttribute('aria-disabled'), null, 'ready for another card');
});

test('under a CSP without unsafe-inline or unsafe-eval the widget pays, themed night, and its look reaches the card field', async () => {
  const appearance = JSON.stringify({ theme: 'night', variables: { colorPrimary: '#ffb000', borderRadius: '2px' } });
  const { page, pi, errors, field } = await open('/strict', { params: { appearance } });
  const root = page.locator('#checkout .ec-checkout');
  assert.equal(await root.getAttribute('data-theme'), 'night');
  const look = await root.evaluate((el) => ({ bg: getComputedStyle(el).backgroundColor, radius: getComputedStyle(el).borderTopLeftRadius,
    button: getComputedStyle(el.querySelector('.ec-pay')).backgroundColor }));
  assert.deepEqual(look, { bg: 'rgb(31, 36, 48)', radius: '2px', button: 'rgb(255, 176, 0)' });
  // The night theme's text colour was handed to Stripe's field (Card Element `style`).
  assert.equal(await field.getByLabel('Card number').evaluate((i) => getComputedStyle(i).color), 'rgb(232, 234, 237)');
  await typeCard(field, '4242 4242 4242 4242');
  await page.getByRole('button', { name: /^Pay / }).click();
  await heard(page, 'checkout:succeeded');
  assert.equal(await statusOf(pi), 'succeeded');
  const violations = await page.evaluate(() => violations);
  assert.deepEqual(violations, ['style-src-elem inline'], 'only the canary was blocked: the policy holds and the widget needs nothing it forbids');
  assert.deepEqual(errors, []);
});

test('pinned: checkout.json names an immutable versioned script whose integrity the browser checks; it pays; one changed byte is refused', async () => {
  const manifest = await (await fetch(`${WORKER}/v1/checkout.json`)).json();
  assert.match(manifest.version, /^\d+\.\d+\.\d+-[0-9a-f]{10}$/);
  assert.equal(manifest.url, `/v1/r/${manifest.version}/checkout.js`);
  assert.equal(manifest.module_url, `/v1/r/${manifest.version}/checkout.mjs`);
  for (const [url, integrity] of [[manifest.url, manifest.integrity], [manifest.module_url, manifest.module_integrity]]) {
    const r = await fetch(`${WORKER}${url}`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('cache-control'), /immutable/);
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.equal(integrity, `sha384-${createHash('sha384').update(Buffer.from(await r.arrayBuffer())).digest('base64')}`);
  }

  const ok = await open('/pinned', { params: { url: manifest.url, integrity: manifest.integrity } });
  await typeCard(ok.field, '4242 4242 4242 4242');
  await ok.page.getByRole('button', { name: /^Pay / }).click();
  await heard(ok.page, 'checkout:succeeded');
  assert.equal(await statusOf(ok.pi), 'succeeded');

  // The same URL answering one byte changed (a compromised CDN): the browser refuses it.
  const tampered = await open('/pinned', {
    ready: false,
    params: { url: manifest.url, integrity: manifest.integrity },
    route: (page) => page.route(`${WORKER}${manifest.url}`, async (route) => {
      const body = Buffer.from(await (await route.fetch()).body());
      body[body.length - 2] ^= 1;
      await route.fulfill({ body, headers: { 'content-type': 'text/javascript', 'access-control-allow-origin': '*' } });
    }),
  });
  await tampered.page.waitForFunction(() => window.refused === true, null, { timeout: 10000 });
  assert.equal(await tampered.page.locator('#checkout .ec-checkout').count(), 0, 'nothing of the widget ran');

  // The script pins its wasm too: a changed wasm is refused and the page hears it.
  const wasmTampered = await open('/pinned', {
    ready: false,
    params: { url: manifest.url, integrity: manifest.integrity },
    route: (page) => page.route(/checkout-[0-9a-f]{16}\.wasm$/, async (route) => {
      const body = Buffer.from(await (await route.fetch()).body());
      body[body.length - 1] ^= 1;
      await route.fulfill({ body, headers: { 'content-type': 'application/wasm', 'access-control-allow-origin': '*' } });
    }),
  });
  await heard(wasmTampered.page, 'checkout:failed');
  assert.equal(await wasmTampered.page.locator('#checkout .ec-checkout').count(), 0);
});

test('the ES module: mount(target, options) returns a handle whose on() hears the events and destroy() removes the widget', async () => {
  const { page, pi, errors, field } = await open('/module', { ready: false });
  await page.waitForFunction(() => window.heard?.some(([e]) => e === 'ready'), null, { timeout: 15000 });
  // The page's lang="it" chose Italian.
  const pay = page.getByRole('button', { name: /^Paga / });
  await typeCard(field, '4242 4242 4242 4242', ['Numero della carta', 'Scadenza (MM / AA)', 'CVC']);
  await pay.click();
  await page.waitForFunction(() => window.heard.some(([e]) => e === 'succeeded'), null, { timeout: 15000 });
  assert.deepEqual(await page.evaluate(() => heard.find(([e]) => e === 'succeeded')[1]), { payment_intent: pi.id, status: 'succeeded' });
  assert.equal(await page.getByRole('status').textContent(), 'Pagamento ricevuto. Grazie!');
  await page.evaluate(() => handle.destroy());
  assert.equal(await page.locator('#checkout').evaluate((el) => el.childElementCount), 0);
  assert.deepEqual(errors, []);
});

// WCAG 1.4.4 and 1.4.10: 200% zoom of a 1280 px window is a 640 CSS px viewport at
// twice the pixels; 400% (320 CSS px) is where content must reflow into one column.
for (const [zoom, width, height] of [[200, 640, 360], [400, 320, 180]]) {
  test(`at ${zoom}% zoom (${width} CSS px wide): nothing scrolls sideways or is cut off, targets stay ≥ 24 px, and it pays`, async (t) => {
    const { page, pi, field, errors } = await open('/', {
      amount: '1234.50', contextOptions: { viewport: { width, height }, deviceScaleFactor: zoom / 100 },
    });
    const box = await page.evaluate(() => {
      const r = (el) => { const b = el.getBoundingClientRect(); return { left: b.left, right: b.right, width: b.width, height: b.height }; };
      return {
        viewport: innerWidth,
        scrollWidth: document.documentElement.scrollWidth,
        root: r(document.querySelector('#checkout .ec-checkout')),
        field: r(document.querySelector('#checkout iframe')),
        pay: r(document.querySelector('#checkout .ec-pay')),
        amount: document.querySelector('#checkout .ec-amount').scrollWidth <= document.querySelector('#checkout .ec-amount').clientWidth,
      };
    });
    assert.equal(box.viewport, width);
    assert.ok(box.scrollWidth <= width, `the page scrolls sideways: ${box.scrollWidth} > ${width}`);
    for (const part of ['root', 'field', 'pay']) {
      assert.ok(box[part].left >= 0 && box[part].right <= width, `${part} is cut off: ${JSON.stringify(box[part])}`);
    }
    assert.ok(box.pay.width >= 24 && box.pay.height >= 24, `pay button ${box.pay.width}×${box.pay.height}`);
    assert.ok(box.amount, 'the amount is cut off');
    await accessible(t, page, `ready at ${zoom}% zoom`);
    await typeCard(field, '4242 4242 4242 4242');
    await page.getByRole('button', { name: /^Pay / }).click();
    await heard(page, 'checkout:succeeded');
    assert.equal(await statusOf(pi), 'succeeded');
    assert.deepEqual(errors, []);
  });
}

test('in forced colours (Windows High Contrast) the pay button keeps a visible border, axe finds nothing, and it pays', async (t) => {
  const { page, pi, field, errors } = await open('/', { contextOptions: { forcedColors: 'active' } });
  assert.equal(await page.evaluate(() => matchMedia('(forced-colors: active)').matches), true);
  const border = await page.locator('#checkout .ec-pay').evaluate((b) => {
    const s = getComputedStyle(b);
    return { style: s.borderTopStyle, width: s.borderTopWidth, color: s.borderTopColor, text: s.color };
  });
  // The button's edge is its border: forced colours replace its background with the
  // system's, so a button drawn by its background alone (`border: none`) would vanish
  // into the page. Chromium forces the border's colour; the 2 px solid border is ours.
  assert.equal(border.style, 'solid');
  assert.equal(border.width, '2px');
  assert.notEqual(border.color, 'rgba(0, 0, 0, 0)', JSON.stringify(border));
  await accessible(t, page, 'ready in forced colours');
  await typeCard(field, '4242 4242 4242 4242');
  await page.getByRole('button', { name: /^Pay / }).click();
  await heard(page, 'checkout:succeeded');
  assert.equal(await statusOf(pi), 'succeeded');
  assert.deepEqual(errors, []);
});

test('the provider\'s script blocked: the customer reads why in their language and can retry', async (t) => {
  let blocked = true;
  const { page, pi, errors } = await open('/', {
    params: { lang: 'de' },
    route: (p) => p.route((url) => url.href.startsWith(STRIPE_JS), (route) => (blocked ? route.abort('blockedbyclient') : route.continue())),
  });
  const alert = page.getByRole('alert');
  assert.match(await alert.textContent(), /^Das sichere Kartenformular konnte nicht geladen werden\./);
  await accessible(t, page, 'error: provider script blocked (de)');
  blocked = false;
  await page.getByRole('button', { name: 'Erneut versuchen' }).click();
  const field = page.frameLocator('#checkout iframe').first();
  await typeCard(field, '4242 4242 4242 4242', ['Kartennummer', 'Ablaufdatum (MM / JJ)', 'CVC']);
  await page.getByRole('button', { name: /^Bezahlen / }).click();
  await heard(page, 'checkout:succeeded');
  assert.equal(await statusOf(pi), 'succeeded');
  assert.deepEqual(errors, []);
});

test('the confirm\'s answer is lost: the widget never says "failed", asks the Worker, and shows the payment went through', async () => {
  const { page, pi, field } = await open('/', {
    // The confirm reaches the Worker (and Stripe); its answer never reaches the page.
    route: (p) => p.route(/\/confirm$/, async (route) => {
      await route.fetch();
      await route.abort('connectionreset');
    }),
  });
  await typeCard(field, '4242 4242 4242 4242');
  await page.getByRole('button', { name: /^Pay / }).click();
  await heard(page, 'checkout:succeeded');
  assert.equal(await page.getByRole('status').textContent(), 'Payment received. Thank you!');
  assert.equal(await page.evaluate(() => events.some((e) => e.type === 'checkout:failed')), false);
  assert.equal(await statusOf(pi), 'succeeded');
});

test('axe: a broken payment link is an accessible error state', async (t) => {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${shop.origin}/?cs=not-a-secret`);
  await page.waitForFunction(() => events.some((e) => e.type === 'checkout:failed'));
  assert.equal(await page.getByRole('alert').textContent(), 'This payment link is not valid.');
  await accessible(t, page, 'error: invalid link');
});

for (const path of ['/', '/settings.html']) {
  test(`axe: the Worker's ${path} page has no WCAG 2.2 AA violation`, async (t) => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${WORKER}${path}`);
    const violations = await axeViolations(page);
    t.diagnostic(`axe, www ${path}: ${violations.length} violations`);
    assert.deepEqual(violations, []);
  });
}
