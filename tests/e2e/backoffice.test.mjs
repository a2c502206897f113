// The back office (issue 12): www/transactions.html lists a merchant's payments,
// shows one with its ledger rows, refunds and events, and captures, cancels and refunds
// behind a confirmation dialog. Driven in Debian's Chromium with the merchant's key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { api, launchBrowser, paymentMethod, stripe, stripeMerchant, WORKER } from './lib.mjs';
import { intent, confirm, read, partlyCaptured, refund } from './payments.mjs';

const today = () => new Date().toISOString().slice(0, 10);

/** Authorise 300.00 (capture_method manual) with a 4242 card: requires_capture. */
async function held(m) {
  const pi = await intent(m, '300.00', 'manual');
  const r = await confirm(m, pi, await paymentMethod('4242424242424242'));
  assert.equal(r.json.status, 'requires_capture', r.text);
  return pi;
}

/**
 * The transactions page in a fresh context, the key typed into its form. Collects page
 * errors, console errors and every POST the page sends.
 */
async function openPage(browser, m, { bypassCSP = false } = {}) {
  const context = await browser.newContext({ acceptDownloads: true, bypassCSP });
  const page = await context.newPage();
  const errors = [];
  const posts = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push({ text: msg.text(), url: msg.location().url });
  });
  page.on('request', (req) => {
    if (req.method() === 'POST') posts.push({ url: req.url(), headers: req.headers(), body: req.postData() });
  });
  const res = await page.goto(`${WORKER}/transactions.html`);
  assert.equal(res.status(), 200);
  await page.locator('#secret-key').fill(m.secret_key);
  await page.locator('#secret-key').press('Enter');
  await page.locator('#key-status').filter({ hasText: 'A secret key is stored' }).waitFor();
  await page.locator('#list-status').filter({ hasText: /^(\d+ payments?\b|No payments)/ }).waitFor();
  return { page, errors, posts, response: res };
}

/** Waits until the detail of `id` is loaded (the section drops aria-busy when it is). */
const shown = (page, id) => page.locator('#detail:not([aria-busy]) #d-id').filter({ hasText: id }).waitFor();

/** The text of each row's cells. */
const rowsOf = (page, sel) => page.locator(`${sel} tbody tr`).evaluateAll(
  (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent.trim())),
);
const ledgerOf = async (page) => (await rowsOf(page, '#d-ledger')).map(([type, amount, net]) => [type, amount, net]).sort();

/** Presses Tab until `selector` has the focus (at most `max` times). */
async function tabTo(page, selector, max = 60) {
  for (let i = 0; i < max; i += 1) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
    await page.keyboard.press('Tab');
  }
  assert.fail(`Tab never reached ${selector}`);
}
const focused = (page) => page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);

test('the back office captures 247.35 of 300.00, refunds 47.35, shows both ledger rows; the day\'s CSV has the same rows', async () => {
  const m = await stripeMerchant();
  const pi = await held(m);
  const other = await intent(m, '12.00'); // requires_payment_method: filtered out below
  const browser = await launchBrowser();
  try {
    const { page, errors, posts, response } = await openPage(browser, m);
    // Served by the assets layer with its own headers (www/_headers).
    const csp = await response.headerValue('content-security-policy');
    assert.match(csp ?? '', /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);

    // The unfiltered list holds both; the filters leave the reservation.
    const all = await rowsOf(page, '#intents');
    assert.deepEqual(all.map((r) => r[1]).sort(), [pi.id, other.id].sort());
    await page.locator('#f-status').selectOption('requires_capture');
    await page.locator('#f-provider').selectOption('stripe');
    await page.locator('#f-from').fill(today());
    await page.locator('#f-to').fill(today());
    await page.getByRole('button', { name: 'Show payments' }).click();
    await page.locator('#list-status').filter({ hasText: '1 payment.' }).waitFor();
    const [row] = await rowsOf(page, '#intents');
    assert.deepEqual(row.slice(1), [pi.id, 'CHF 300.00', 'requires_capture', 'stripe', '0.00', '0.00']);

    // Open it.
    await page.getByRole('link', { name: pi.id }).click();
    await shown(page, pi.id);
    assert.deepEqual(await ledgerOf(page), [['authorized', 'CHF 300.00', 'CHF 0.00']]);
    assert.equal(await page.locator('#refund-form').isVisible(), false, 'nothing to refund before the capture');

    // Capture 247.35 through the dialog.
    await page.getByLabel('Amount to capture').fill('247.35');
    await page.getByRole('button', { name: 'Capture…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.equal(await page.locator('#confirm-text').textContent(), 'Capture CHF 247.35 of CHF 300.00?');
    assert.match(await page.locator('#confirm-more').textContent(), /remaining CHF 52\.65 is released/);
    await dialog.getByRole('button', { name: 'Capture CHF 247.35' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.locator('#action-status').filter({ hasText: 'Captured CHF 247.35' }).waitFor();
    const captured = (await read(m, pi)).json;
    assert.equal(captured.status, 'succeeded');
    assert.equal(captured.amount_received, '247.35');

    // Refund 47.35 through the dialog.
    await page.getByLabel('Amount to refund').fill('47.35');
    await page.getByRole('button', { name: 'Refund…' }).click();
    await dialog.waitFor();
    assert.equal(await page.locator('#confirm-text').textContent(), 'Refund CHF 47.35 of CHF 247.35 received?');
    await dialog.getByRole('button', { name: 'Refund CHF 47.35' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.locator('#action-status').filter({ hasText: /Refund re_\w+ of CHF 47\.35: succeeded/ }).waitFor();

    // Both ledger rows on the page, with the rest of the intent's rows.
    const ledger = await ledgerOf(page);
    assert.deepEqual(ledger, [
      ['authorized', 'CHF 300.00', 'CHF 0.00'],
      ['captured', 'CHF 247.35', 'CHF 247.35'],
      ['platform_fee', 'CHF 0.50', 'CHF -0.50'],
      // Stripe's fee on the capture, as the recording proxy books it.
      ['provider_fee', 'CHF 7.47', 'CHF -7.47'],
      ['refund_pending', 'CHF 47.35', 'CHF 0.00'],
      ['refund_succeeded', 'CHF 47.35', 'CHF -47.35'],
      ['released', 'CHF 52.65', 'CHF 0.00'],
    ]);
    const refunds = await rowsOf(page, '#d-refunds');
    assert.equal(refunds.length, 1);
    assert.deepEqual(refunds[0].slice(1, 3), ['CHF 47.35', 'succeeded']);
    const fields = await page.locator('#d-fields').textContent();
    assert.match(fields, /Received247\.35/);
    assert.match(fields, /Refunded47\.35/);
    assert.match(fields, /Provider fee7\.47/);
    assert.match(fields, /Net192\.03/);
    const events = await page.locator('#d-events summary').allTextContents();
    for (const type of ['payment_intent.requires_capture', 'payment_intent.succeeded', 'refund.succeeded']) {
      assert.ok(events.some((e) => e.startsWith(`${type} `)), `${type} in ${events}`);
    }
    // The list row follows.
    const [after] = await rowsOf(page, '#intents');
    assert.deepEqual(after.slice(3), ['succeeded', 'stripe', '247.35', '47.35']);

    // One Idempotency-Key per confirmed action, a UUID each.
    assert.equal(posts.length, 2, JSON.stringify(posts));
    const keys = posts.map((p) => p.headers['idempotency-key']);
    for (const k of keys) assert.match(k ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(keys[0], keys[1]);
    assert.deepEqual(JSON.parse(posts[0].body), { amount: '247.35' });
    assert.deepEqual(JSON.parse(posts[1].body), { payment_intent: pi.id, amount: '47.35' });

    // The day's CSV, downloaded through the page (fetch with the key, then a Blob).
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download ledger CSV' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), `ledger_${today()}.csv`);
    const lines = (await readFile(await download.path(), 'utf8')).trim().split('\r\n');
    assert.equal(lines[0], 'id,created_utc,type,amount,net,currency,payment_intent,refund');
    const fromCsv = lines.slice(1).map((l) => l.split(','))
      .filter((c) => c[6] === pi.id)
      .map(([, , type, amount, net, cur]) => [type, `${cur} ${amount}`, `${cur} ${net}`]).sort();
    assert.deepEqual(fromCsv, ledger);
    await page.locator('#list-status').filter({ hasText: `Downloaded ledger_${today()}.csv: 7 ledger rows.` }).waitFor();

    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('a refund of more than is refundable shows the API\'s message, and nothing changes', async () => {
  const m = await stripeMerchant();
  const { pi } = await partlyCaptured(m); // 247.35 of 300.00 captured
  const before = (await api('GET', `/v1/balance_transactions?payment_intent=${pi.id}&limit=100`, { key: m.secret_key })).json.data;
  const browser = await launchBrowser();
  try {
    const { page, errors } = await openPage(browser, m);
    // A link straight to the payment.
    await page.goto(`${WORKER}/transactions.html#${pi.id}`);
    await shown(page, pi.id);
    await page.locator('#refund-form').waitFor();
    const ledgerBefore = await ledgerOf(page);
    assert.equal(ledgerBefore.length, before.length);

    // A malformed amount never reaches the API.
    await page.getByLabel('Amount to refund').fill('12.345');
    await page.getByRole('button', { name: 'Refund…' }).click();
    assert.equal(await page.locator('#refund-amount-error').textContent(), 'CHF amounts have at most 2 decimals.');
    assert.equal(await page.getByRole('dialog').isVisible(), false);

    await page.getByLabel('Amount to refund').fill('300.00');
    await page.getByRole('button', { name: 'Refund…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.equal(await page.locator('#confirm-text').textContent(), 'Refund CHF 300.00 of CHF 247.35 received?');
    const answered = page.waitForResponse((r) => r.url().endsWith('/v1/refunds') && r.request().method() === 'POST');
    await dialog.getByRole('button', { name: 'Refund CHF 300.00' }).click();
    const res = await answered;
    assert.equal(res.status(), 400);
    const { error } = await res.json();
    assert.equal(error.code, 'amount_too_large');
    await dialog.waitFor({ state: 'hidden' });
    const alert = page.getByRole('alert');
    await alert.filter({ hasText: error.message }).waitFor();
    assert.equal(await page.locator('#action-error').textContent(), `Refund refused: ${error.message} (amount_too_large)`);
    assert.equal(await page.locator('#refund-amount').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('#refund-amount-error').textContent(), error.message);
    assert.equal(await focused(page), 'refund-amount');

    // Nothing changed: the same ledger rows, no refund, the same amounts.
    assert.deepEqual(await ledgerOf(page), ledgerBefore);
    const afterRows = (await api('GET', `/v1/balance_transactions?payment_intent=${pi.id}&limit=100`, { key: m.secret_key })).json.data;
    assert.deepEqual(afterRows, before);
    assert.deepEqual((await api('GET', `/v1/refunds?payment_intent=${pi.id}`, { key: m.secret_key })).json.data, []);
    const now = (await read(m, pi)).json;
    assert.equal(now.amount_received, '247.35');
    assert.equal(now.amount_refunded, '0.00');

    // The browser logs the refused request itself ("Failed to load resource: … 400"):
    // that one line is expected; nothing else.
    const unexpected = errors.filter((e) => !(typeof e === 'object' && e.url === `${WORKER}/v1/refunds`
      && /status of 400/.test(e.text)));
    assert.deepEqual(unexpected, []);
  } finally {
    await browser.close();
  }
});

test('keyboard only: open a payment, back out of the capture with Escape, then capture with Tab and Enter', async () => {
  const m = await stripeMerchant();
  const pi = await held(m);
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
    await page.goto(`${WORKER}/transactions.html`);
    await tabTo(page, '#secret-key');
    await page.keyboard.type(m.secret_key);
    await page.keyboard.press('Enter');
    await page.locator('#list-status').filter({ hasText: '1 payment.' }).waitFor();

    await tabTo(page, `a[href="#${pi.id}"]`);
    await page.keyboard.press('Enter');
    await shown(page, pi.id);
    await page.waitForFunction(() => document.activeElement?.id === 'detail-h');

    await tabTo(page, '#capture-amount');
    await page.keyboard.type('247.35');
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.equal(await focused(page), 'confirm-no', 'the dialog opens on its safe button');
    assert.equal(await page.locator('#confirm-text').textContent(), 'Capture CHF 247.35 of CHF 300.00?');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await page.locator('#action-status').filter({ hasText: 'Nothing was done' }).waitFor();
    assert.equal(await focused(page), 'capture-amount', 'focus goes back to where the merchant was');
    assert.equal((await read(m, pi)).json.status, 'requires_capture', 'Escape captured nothing');

    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await focused(page), 'confirm-yes');
    assert.equal(await page.locator('#confirm-yes').textContent(), 'Capture CHF 247.35');
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'hidden' });
    await page.locator('#action-status').filter({ hasText: 'Captured CHF 247.35' }).waitFor();
    assert.equal(await focused(page), 'actions-h', 'focus stays in the actions after the capture');
    const now = (await read(m, pi)).json;
    assert.equal(now.status, 'succeeded');
    assert.equal(now.amount_received, '247.35');
    // The refund form is next in the tab order.
    await page.keyboard.press('Tab');
    assert.equal(await focused(page), 'refund-amount');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('axe-core finds no accessibility violations on the transactions page (list, detail, dialog)', async () => {
  const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  const m = await stripeMerchant();
  const pi = await held(m);
  const browser = await launchBrowser();
  try {
    // bypassCSP: axe is injected as an inline script, which the page's CSP refuses.
    const { page, errors } = await openPage(browser, m, { bypassCSP: true });
    await page.addScriptTag({ content: axeSource });
    const check = async (what) => {
      const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
      const found = r.violations.map((v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      assert.deepEqual(found, [], `${what}: ${found.join('\n')}`);
    };
    await check('list');
    await page.getByRole('link', { name: pi.id }).click();
    await shown(page, pi.id);
    await page.locator('#d-ledger tbody tr').first().waitFor();
    await check('detail');
    await page.getByRole('button', { name: 'Capture…' }).click();
    await page.getByRole('dialog').waitFor();
    await check('dialog');
    await page.keyboard.press('Escape');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('pages of 25, the To day, and a cancel through the dialog that releases the reservation', async () => {
  const m = await stripeMerchant();
  const pi = await held(m);
  for (let i = 0; i < 26; i += 1) await intent(m, `${i + 1}.00`);
  const browser = await launchBrowser();
  try {
    const { page, errors } = await openPage(browser, m);
    await page.locator('#list-status').filter({ hasText: '25 payments; more on the next page.' }).waitFor();
    const first = (await rowsOf(page, '#intents')).map((r) => r[1]);
    assert.equal(await page.locator('#prev-page').isDisabled(), true);
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.locator('#list-status').filter({ hasText: 'Page 2: 2 payments.' }).waitFor();
    const second = (await rowsOf(page, '#intents')).map((r) => r[1]);
    // Newest first by (created, id): seconds, then the random id; each intent once.
    assert.equal(new Set([...first, ...second]).size, 27, 'every intent once over the two pages');
    assert.ok([...first, ...second].includes(pi.id));
    assert.equal(await page.locator('#next-page').isDisabled(), true);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.locator('#list-status').filter({ hasText: '25 payments; more on the next page.' }).waitFor();
    assert.deepEqual((await rowsOf(page, '#intents')).map((r) => r[1]), first);

    // Up to yesterday: nothing. A To day before the From day is refused on the page.
    const yesterday = new Date(Date.now() - 86400000).toISOString().slice(0, 10);
    await page.locator('#f-to').fill(yesterday);
    await page.getByRole('button', { name: 'Show payments' }).click();
    await page.locator('#list-status').filter({ hasText: 'No payments match these filters.' }).waitFor();
    await page.locator('#f-from').fill(today());
    await page.getByRole('button', { name: 'Show payments' }).click();
    assert.equal(await page.locator('#f-to-error').textContent(), 'The To day is before the From day.');

    // Cancel the reservation.
    await page.goto(`${WORKER}/transactions.html#${pi.id}`);
    await shown(page, pi.id);
    await page.getByRole('button', { name: 'Cancel payment…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.equal(await page.locator('#confirm-text').textContent(),
      'Cancel this payment and release the CHF 300.00 reserved on the customer\'s card?');
    await dialog.getByRole('button', { name: 'Cancel the payment' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.locator('#action-status').filter({ hasText: 'The payment is canceled.' }).waitFor();
    assert.deepEqual(await ledgerOf(page), [['authorized', 'CHF 300.00', 'CHF 0.00'], ['released', 'CHF 300.00', 'CHF 0.00']]);
    assert.equal(await page.locator('#no-actions').isVisible(), true);
    assert.equal((await read(m, pi)).json.status, 'canceled');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the reconciliation part runs today\'s reconciliation and names the refund made at Stripe behind our back; axe finds nothing', async () => {
  const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  const m = await stripeMerchant();
  const { pi } = await partlyCaptured(m);
  assert.equal((await refund(m, pi, '20.00')).json.status, 'succeeded');
  const ref = (await read(m, pi)).json.provider_reference;
  assert.equal((await stripe('POST', '/v1/refunds', { payment_intent: ref, amount: '500' })).status, 'succeeded');
  const browser = await launchBrowser();
  try {
    const { page, errors } = await openPage(browser, m, { bypassCSP: true });
    // Keyboard only: to the button, Enter.
    await tabTo(page, '#rec-run');
    await page.keyboard.press('Enter');
    await page.locator('#rec-status').filter({ hasText: `${today()}: 1 difference found in 1 payments` }).waitFor();
    const rows = await rowsOf(page, '#rec-table');
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0].slice(1, 4), [today(), '1', '0']);
    assert.equal(rows[0][4], `${pi.id} (stripe ${ref}): refunded — ours CHF 20.00, stripe's CHF 25.00`);
    await page.addScriptTag({ content: axeSource });
    const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    assert.deepEqual(r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), []);
    // The same run is what the API lists, and its event is the merchant's to read.
    const runs = (await api('GET', '/v1/reconciliations', { key: m.secret_key })).json.data;
    assert.equal(runs.length, 1);
    const events = (await api('GET', '/v1/events?type=reconciliation.mismatch', { key: m.secret_key })).json.data;
    assert.deepEqual(events.map((e) => e.data.object.reconciliation), [runs[0].id]);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
