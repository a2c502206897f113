// The merchant's transactions page (www/transactions.html): payment intents, one
// intent's ledger rows, refunds and events, capture / cancel / refund behind a
// confirmation, and the reconciliation runs (run one now, read the differences). Same-origin calls to /v1/ with the secret key kept in sessionStorage
// (the settings page's key). Money stays a decimal string or a BigInt of minor units:
// never a float.
'use strict';
(() => {
  const SK = 'ec_secret_key';
  const PAGE = 25;
  const $ = (id) => document.getElementById(id);
  const store = {
    get() { try { return sessionStorage.getItem(SK); } catch { return null; } },
    set(v) { try { sessionStorage.setItem(SK, v); } catch { /* storage disabled */ } },
    del() { try { sessionStorage.removeItem(SK); } catch { /* storage disabled */ } },
  };

  function uuid() {
    if (window.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function apiError(res, data) {
    const err = data && data.error ? data.error : { message: `The API answered HTTP ${res.status}.` };
    return Object.assign(new Error(err.message || `HTTP ${res.status}`), { api: err, status: res.status });
  }

  // Same-origin call with the stored secret key. Errors: {error:{type,code,message,param?}}.
  async function call(method, path, { body, idempotencyKey, accept = 'application/json' } = {}) {
    const key = store.get();
    if (!key) throw Object.assign(new Error('Enter your secret key first.'), { api: null, status: 0 });
    const headers = { Accept: accept, Authorization: `Bearer ${key}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
    } catch (e) {
      throw Object.assign(new Error(`Could not reach the API (${e.message}).`), { api: null, status: 0 });
    }
    return res;
  }
  async function api(method, path, opts) {
    const res = await call(method, path, opts);
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    if (!res.ok) throw apiError(res, data);
    return data;
  }
  const q = (params) => {
    const s = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') s.set(k, String(v));
    const t = s.toString();
    return t ? `?${t}` : '';
  };

  function say(el, text, kind) {
    el.textContent = text;
    el.className = `status${kind ? ` ${kind}` : ''}`;
  }
  // "Refund refused: amount 300.00 CHF is more than … (amount_too_large)".
  function describe(e) {
    const code = e.api && e.api.code ? ` (${e.api.code})` : '';
    return `${e.message}${code}`;
  }
  function keyRefused(e) {
    if (e.status === 401) say($('key-status'), 'The API did not accept this key. Enter a current secret key.', 'error');
  }

  // ---- money: decimal strings and BigInt minor units --------------------------------
  const decimalsOf = (amount) => { const i = amount.indexOf('.'); return i < 0 ? 0 : amount.length - i - 1; };
  const toMinor = (amount, decimals) => {
    const neg = amount.startsWith('-');
    const [i, f = ''] = (neg ? amount.slice(1) : amount).split('.');
    const n = BigInt(i + f.padEnd(decimals, '0'));
    return neg ? -n : n;
  };
  const fromMinor = (n, decimals) => {
    const neg = n < 0n;
    const s = (neg ? -n : n).toString().padStart(decimals + 1, '0');
    const out = decimals ? `${s.slice(0, -decimals)}.${s.slice(-decimals)}` : s;
    return neg ? `-${out}` : out;
  };
  const money = (currency, amount) => `${currency} ${amount}`;
  // What the merchant typed, as the currency's decimal string, or an error message.
  function parseAmount(text, decimals, currency) {
    const t = text.trim();
    if (!/^\d+(\.\d+)?$/.test(t)) return { error: `Write the amount with digits${decimals ? ' and a point, like 12.50' : ', like 500'}.` };
    const frac = t.includes('.') ? t.length - t.indexOf('.') - 1 : 0;
    if (frac > decimals) return { error: `${currency} amounts have ${decimals ? `at most ${decimals} decimals` : 'no decimals'}.` };
    const minor = toMinor(t, decimals);
    if (minor <= 0n) return { error: 'The amount must be more than zero.' };
    return { value: fromMinor(minor, decimals), minor };
  }

  // ---- time: unix seconds, shown and chosen as UTC days -------------------------------
  const utc = (s) => new Date(s * 1000).toISOString().replace('T', ' ').slice(0, 19);
  // "2026-12-02" → unix seconds at that day's 00:00 UTC (null when empty or invalid).
  function dayStart(value) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || '');
    if (!m) return null;
    return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 1000;
  }

  // ---- secret key -------------------------------------------------------------------
  function keyStateChanged() {
    const has = Boolean(store.get());
    document.querySelectorAll('.needs-key button, #detail button').forEach((b) => { b.disabled = !has; });
    $('forget-key').disabled = !has;
    if (has) say($('key-status'), 'A secret key is stored for this tab.', 'ok');
    else say($('key-status'), 'No secret key stored. Enter one to see this merchant\'s payments.');
  }

  $('key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = $('secret-key');
    input.removeAttribute('aria-invalid');
    $('secret-key-error').textContent = '';
    const v = input.value.trim();
    input.value = '';
    if (!/^sk_(test|live)_\S+$/.test(v)) {
      input.setAttribute('aria-invalid', 'true');
      $('secret-key-error').textContent = 'That is not a secret key: it starts with sk_test_ or sk_live_.';
      input.focus();
      return;
    }
    store.set(v);
    keyStateChanged();
    resetList();
    loadList();
    route();
  });

  $('forget-key').addEventListener('click', () => {
    store.del();
    $('intents').tBodies[0].replaceChildren();
    $('intents-wrap').hidden = true;
    $('pager').hidden = true;
    $('rec-table').tBodies[0].replaceChildren();
    $('rec-wrap').hidden = true;
    say($('rec-status'), '');
    closeDetail();
    say($('list-status'), '');
    keyStateChanged();
    say($('key-status'), 'Key forgotten. Nothing is stored in this tab any more.', 'ok');
    $('secret-key').focus();
  });

  // ---- the list -----------------------------------------------------------------------
  // Cursors of the pages shown so far: [undefined, id of the first page's last row, …].
  let cursors = [undefined];
  let nextCursor = null;
  let filters = {};

  function cell(tr, text, cls) {
    const td = document.createElement('td');
    if (cls) td.className = cls;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function readFilters() {
    const from = $('f-from').value;
    const to = $('f-to').value;
    for (const id of ['f-from', 'f-to']) { $(id).removeAttribute('aria-invalid'); $(`${id}-error`).textContent = ''; }
    const gte = dayStart(from);
    const toStart = dayStart(to);
    if (from && gte === null) return { field: 'f-from', message: 'Choose a day, like 2026-12-02.' };
    if (to && toStart === null) return { field: 'f-to', message: 'Choose a day, like 2026-12-02.' };
    if (gte !== null && toStart !== null && toStart < gte) return { field: 'f-to', message: 'The To day is before the From day.' };
    return {
      status: $('f-status').value,
      provider: $('f-provider').value,
      from, to,
      created_gte: gte,
      created_lt: toStart === null ? null : toStart + 86400,
    };
  }
  function fieldError(f) {
    $(f.field).setAttribute('aria-invalid', 'true');
    $(`${f.field}-error`).textContent = f.message;
    $(f.field).focus();
  }

  function resetList() { cursors = [undefined]; nextCursor = null; }

  // The API filters by status, provider and created_gte; the To day is applied here
  // (the list is newest first, so pages of newer rows are skipped until older ones come).
  async function loadList(index = 0) {
    const status = $('list-status');
    say(status, 'Loading payments…');
    try {
      let after = cursors[index];
      let rows = [];
      let more = false;
      for (let pages = 0; pages < 20; pages += 1) {
        const page = await api('GET', `/v1/payment_intents${q({
          status: filters.status, provider: filters.provider, created_gte: filters.created_gte, limit: PAGE, starting_after: after,
        })}`);
        const data = Array.isArray(page.data) ? page.data : [];
        rows = rows.concat(data.filter((pi) => filters.created_lt == null || pi.created < filters.created_lt));
        more = Boolean(page.has_more);
        if (data.length) after = data[data.length - 1].id;
        if (rows.length || !more) break;
      }
      cursors = cursors.slice(0, index + 1);
      nextCursor = more ? after : null;
      renderList(rows);
      const which = index ? `Page ${index + 1}: ` : '';
      say(status, rows.length ? `${which}${rows.length} payment${rows.length === 1 ? '' : 's'}${more ? '; more on the next page' : ''}.` : 'No payments match these filters.');
      return true;
    } catch (e) {
      say(status, describe(e), 'error');
      keyRefused(e);
      return false;
    }
  }

  function renderList(rows) {
    const tbody = $('intents').tBodies[0];
    tbody.replaceChildren();
    for (const pi of rows) {
      const tr = document.createElement('tr');
      tr.dataset.id = pi.id;
      cell(tr, utc(pi.created));
      const td = cell(tr, '');
      const a = document.createElement('a');
      a.href = `#${pi.id}`;
      a.className = 'mono';
      a.textContent = pi.id;
      // The payment already shown: the hash does not change, so open it here.
      a.addEventListener('click', (ev) => {
        if (location.hash === a.hash) { ev.preventDefault(); openDetail(pi.id); }
      });
      td.appendChild(a);
      cell(tr, money(pi.currency, pi.amount), 'num');
      cell(tr, pi.status);
      cell(tr, pi.provider);
      cell(tr, pi.amount_received, 'num');
      cell(tr, pi.amount_refunded, 'num');
      tbody.appendChild(tr);
    }
    $('intents-wrap').hidden = rows.length === 0;
    $('pager').hidden = cursors.length === 1 && !nextCursor;
    $('prev-page').disabled = cursors.length === 1;
    $('next-page').disabled = !nextCursor;
  }

  $('filters').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = readFilters();
    if (f.field) { fieldError(f); return; }
    filters = f;
    resetList();
    await loadList();
  });
  $('next-page').addEventListener('click', async () => {
    if (!nextCursor) return;
    cursors.push(nextCursor);
    if (await loadList(cursors.length - 1)) ($('next-page').disabled ? $('prev-page') : $('next-page')).focus();
  });
  $('prev-page').addEventListener('click', async () => {
    if (cursors.length < 2) return;
    if (await loadList(cursors.length - 2)) ($('prev-page').disabled ? $('next-page') : $('prev-page')).focus();
  });

  // ---- the ledger CSV for the chosen days --------------------------------------------
  $('csv-btn').addEventListener('click', async () => {
    const status = $('list-status');
    const f = readFilters();
    if (f.field) { fieldError(f); return; }
    const name = `ledger_${f.from || 'start'}${f.to === f.from && f.from ? '' : `_${f.to || 'now'}`}.csv`;
    try {
      say(status, 'Preparing the ledger CSV…');
      const res = await call('GET', `/v1/balance_transactions${q({ created_gte: f.created_gte, created_lt: f.created_lt, format: 'csv' })}`, { accept: 'text/csv' });
      if (!res.ok) {
        let data = null;
        try { data = await res.json(); } catch { /* not JSON */ }
        throw apiError(res, data);
      }
      const blob = await res.blob();
      const text = await blob.text();
      const rows = Math.max(0, text.split('\r\n').filter(Boolean).length - 1);
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      a.hidden = true;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      say(status, `Downloaded ${name}: ${rows} ledger row${rows === 1 ? '' : 's'}.`, 'ok');
    } catch (e) {
      say(status, `The CSV could not be downloaded: ${describe(e)}`, 'error');
      keyRefused(e);
    }
  });

  // ---- one intent --------------------------------------------------------------------
  const FIELDS = [
    ['id', 'Id'], ['status', 'Status'], ['amount', 'Amount'], ['currency', 'Currency'],
    ['amount_capturable', 'Capturable'], ['amount_received', 'Received'], ['amount_refunded', 'Refunded'],
    ['platform_fee', 'Platform fee'], ['provider_fee', 'Provider fee'], ['net', 'Net'], ['provider', 'Provider'], ['provider_reference', 'Provider reference'],
    ['capture_method', 'Capture method'], ['capture_before', 'Capture before'], ['created', 'Created (UTC)'],
    ['livemode', 'Mode'], ['description', 'Description'], ['order_reference', 'Order reference'],
    ['customer', 'Customer'], ['payment_method', 'Payment method'], ['last_error', 'Last error'],
    ['next_action', 'Next action'], ['metadata', 'Metadata'],
  ];
  const CANCELABLE = ['requires_payment_method', 'requires_action', 'requires_capture'];
  let current = null; // the intent shown

  function showValue(k, v) {
    if (k === 'created' || k === 'capture_before') return typeof v === 'number' ? utc(v) : String(v);
    if (k === 'livemode') return v ? 'live' : 'test';
    if (typeof v === 'object') return k === 'last_error' && v.message ? `${v.message}${v.code ? ` (${v.code})` : ''}` : JSON.stringify(v);
    return String(v);
  }

  function renderIntent(pi) {
    current = pi;
    $('d-id').textContent = pi.id;
    const dl = $('d-fields');
    dl.replaceChildren();
    const known = new Set(FIELDS.map(([k]) => k).concat(['client_secret', 'object']));
    const extra = Object.keys(pi).filter((k) => !known.has(k)).map((k) => [k, k]);
    for (const [k, label] of FIELDS.concat(extra)) {
      const v = pi[k];
      if (v === null || v === undefined || v === '') continue;
      if (typeof v === 'object' && !Object.keys(v).length) continue;
      const dt = document.createElement('dt');
      dt.textContent = label;
      const dd = document.createElement('dd');
      if (['id', 'provider_reference', 'customer', 'payment_method'].includes(k)) dd.className = 'mono';
      dd.textContent = showValue(k, v);
      dl.append(dt, dd);
    }
    const d = decimalsOf(pi.amount);
    const cur = pi.currency;
    const capturable = toMinor(pi.amount_capturable || '0', d);
    const refundable = toMinor(pi.amount_received || '0', d) - toMinor(pi.amount_refunded || '0', d);
    const canCapture = pi.status === 'requires_capture' && capturable > 0n;
    const canRefund = refundable > 0n;
    const canCancel = CANCELABLE.includes(pi.status);
    $('capture-form').hidden = !canCapture;
    $('capture-hint').textContent = `(${cur}; leave empty to capture all ${pi.amount_capturable})`;
    $('refund-form').hidden = !canRefund;
    $('refund-hint').textContent = `(${cur}; leave empty to refund all that is left, ${fromMinor(refundable, d)})`;
    $('cancel-row').hidden = !canCancel;
    $('no-actions').hidden = canCapture || canRefund || canCancel;
  }

  function renderLedger(rows) {
    const tbody = $('d-ledger').tBodies[0];
    tbody.replaceChildren();
    for (const t of rows) {
      const tr = document.createElement('tr');
      tr.dataset.type = t.type;
      cell(tr, t.type);
      cell(tr, money(t.currency, t.amount), 'num');
      cell(tr, money(t.currency, t.net), 'num');
      cell(tr, t.refund || '', 'mono');
      cell(tr, utc(t.created));
      cell(tr, t.id, 'mono');
      tbody.appendChild(tr);
    }
    if (!rows.length) {
      const tr = document.createElement('tr');
      const td = cell(tr, 'No ledger rows yet.');
      td.colSpan = 6;
      tbody.appendChild(tr);
    }
  }

  function renderRefunds(rows) {
    const tbody = $('d-refunds').tBodies[0];
    tbody.replaceChildren();
    for (const r of rows) {
      const tr = document.createElement('tr');
      cell(tr, r.id, 'mono');
      cell(tr, money(r.currency, r.amount), 'num');
      cell(tr, r.status);
      cell(tr, utc(r.created));
      tbody.appendChild(tr);
    }
    $('d-refunds').closest('.table-wrap').hidden = !rows.length;
    $('d-refunds-none').hidden = Boolean(rows.length);
  }

  function renderEvents(events) {
    const ol = $('d-events');
    ol.replaceChildren();
    for (const ev of events) {
      const li = document.createElement('li');
      const details = document.createElement('details');
      const summary = document.createElement('summary');
      summary.textContent = `${ev.type} — ${utc(ev.created)} UTC — ${ev.id}`;
      const pre = document.createElement('pre');
      pre.textContent = JSON.stringify(ev.data && ev.data.object, null, 2);
      details.append(summary, pre);
      li.appendChild(details);
      ol.appendChild(li);
    }
    ol.hidden = !events.length;
    $('d-events-none').hidden = Boolean(events.length);
  }

  // Every page of a list (at most `max` pages of 100).
  async function all(path, params, max = 10) {
    let out = [];
    let after;
    for (let i = 0; i < max; i += 1) {
      const page = await api('GET', `${path}${q({ ...params, limit: 100, starting_after: after })}`);
      const data = Array.isArray(page.data) ? page.data : [];
      out = out.concat(data);
      if (!page.has_more || !data.length) break;
      after = data[data.length - 1].id;
    }
    return out;
  }

  // The events list has no intent filter: read those since the intent was made and keep
  // the ones about it (the intent itself, or a refund of it).
  async function eventsOf(pi) {
    const events = await all('/v1/events', { created_gte: pi.created });
    return events.filter((ev) => {
      const o = ev.data && ev.data.object;
      return o && (o.id === pi.id || o.payment_intent === pi.id);
    });
  }

  let loading = 0; // answers for an older request than the latest are dropped
  async function loadDetail(id) {
    const status = $('detail-status');
    const seq = ++loading;
    $('detail').setAttribute('aria-busy', 'true');
    say(status, 'Loading the payment…');
    try {
      const pi = await api('GET', `/v1/payment_intents/${encodeURIComponent(id)}`);
      const [ledger, refunds, events] = await Promise.all([
        all('/v1/balance_transactions', { payment_intent: pi.id }),
        all('/v1/refunds', { payment_intent: pi.id }),
        eventsOf(pi),
      ]);
      if (seq !== loading) return false;
      renderIntent(pi);
      renderLedger(ledger);
      renderRefunds(refunds);
      renderEvents(events);
      say(status, '');
      updateListRow(pi);
      return true;
    } catch (e) {
      if (seq !== loading) return false;
      say(status, `The payment could not be loaded: ${describe(e)}`, 'error');
      keyRefused(e);
      return false;
    } finally {
      if (seq === loading) $('detail').removeAttribute('aria-busy');
    }
  }

  function updateListRow(pi) {
    const tr = $('intents').querySelector(`tr[data-id="${CSS.escape(pi.id)}"]`);
    if (!tr) return;
    tr.cells[3].textContent = pi.status;
    tr.cells[5].textContent = pi.amount_received;
    tr.cells[6].textContent = pi.amount_refunded;
  }

  function clearActionMessages() {
    say($('action-status'), '', 'ok');
    $('action-error').textContent = '';
    for (const id of ['capture-amount', 'refund-amount']) {
      $(id).removeAttribute('aria-invalid');
      $(`${id}-error`).textContent = '';
    }
  }

  async function openDetail(id) {
    $('detail').hidden = false;
    clearActionMessages();
    $('capture-amount').value = '';
    $('refund-amount').value = '';
    $('d-id').textContent = id;
    if (current && current.id !== id) {
      current = null;
      $('d-fields').replaceChildren();
      $('d-ledger').tBodies[0].replaceChildren();
      $('d-refunds').tBodies[0].replaceChildren();
      $('d-events').replaceChildren();
      for (const f of ['capture-form', 'refund-form', 'cancel-row', 'no-actions']) $(f).hidden = true;
    }
    const ok = await loadDetail(id);
    $('detail-h').focus();
    if (ok) $('detail').scrollIntoView({ block: 'start' });
  }
  function closeDetail() {
    current = null;
    $('detail').hidden = true;
  }

  // #pi_… opens that payment; any other hash shows the list alone.
  function route() {
    const id = decodeURIComponent(location.hash.slice(1));
    if (/^pi_[A-Za-z0-9_]+$/.test(id) && store.get()) {
      openDetail(id);
    } else if (!$('detail').hidden) {
      closeDetail();
      $('list-h').focus();
    }
  }
  window.addEventListener('hashchange', route);

  // ---- actions behind a confirmation --------------------------------------------------
  const dialog = $('confirm');
  let pending = null; // {run, opener, field, verb}
  let busy = false;

  function ask({ title, text, more, yes, run, opener, field, verb }) {
    // Where the merchant was (the amount field after Enter, or the button): the dialog
    // gives the focus back there when it closes unconfirmed.
    const from = document.activeElement && document.activeElement !== document.body ? document.activeElement : opener;
    pending = { run, opener: from, field, verb };
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    $('confirm-more').textContent = more || '';
    $('confirm-yes').textContent = yes;
    say($('confirm-status'), '');
    $('confirm-yes').disabled = false;
    $('confirm-no').disabled = false;
    dialog.showModal();
    $('confirm-no').focus();
  }

  dialog.addEventListener('cancel', (ev) => { if (busy) ev.preventDefault(); });
  // Closed without confirming (Escape or "Go back"): nothing was sent.
  dialog.addEventListener('close', () => {
    const p = pending;
    pending = null;
    if (!p || p.result) return;
    say($('action-status'), `Nothing was done: the ${p.verb} was not confirmed.`, 'ok');
    if (p.opener.isConnected && !p.opener.closest('[hidden]')) p.opener.focus();
    else $('actions-h').focus();
  });
  // After a confirmed action: to the amount to correct, or to the actions as they are now.
  function settleFocus(p) {
    if (p.result === 'error' && p.field && !$(p.field).closest('[hidden]')) $(p.field).focus();
    else $('actions-h').focus();
  }
  $('confirm-no').addEventListener('click', () => { if (!busy) dialog.close(); });
  $('confirm-yes').addEventListener('click', async () => {
    if (busy || !pending) return;
    const p = pending;
    busy = true;
    $('confirm-yes').disabled = true;
    $('confirm-no').disabled = true;
    say($('confirm-status'), 'Working…');
    try {
      // One Idempotency-Key per confirmed action: a repeat of this request replays its answer.
      const message = await p.run(uuid());
      p.result = 'done';
      await loadDetail(current.id);
      say($('action-status'), message, 'ok');
    } catch (e) {
      p.result = 'error';
      const what = p.verb.charAt(0).toUpperCase() + p.verb.slice(1);
      $('action-error').textContent = `${what} refused: ${describe(e)}`;
      if (p.field && e.api && e.api.param === 'amount') {
        $(p.field).setAttribute('aria-invalid', 'true');
        $(`${p.field}-error`).textContent = e.message;
      } else {
        p.field = null;
      }
      keyRefused(e);
      await loadDetail(current.id);
    } finally {
      busy = false;
      dialog.close();
      settleFocus(p);
    }
  });

  function amountFrom(input) {
    clearActionMessages();
    const pi = current;
    if (!pi) return null;
    const d = decimalsOf(pi.amount);
    const text = $(input).value;
    if (!text.trim()) return { all: true, d, pi };
    const r = parseAmount(text, d, pi.currency);
    if (r.error) {
      $(input).setAttribute('aria-invalid', 'true');
      $(`${input}-error`).textContent = r.error;
      $(input).focus();
      return null;
    }
    return { value: r.value, minor: r.minor, d, pi };
  }

  $('capture-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const a = amountFrom('capture-amount');
    if (!a) return;
    const { pi, d } = a;
    const cur = pi.currency;
    const capturable = toMinor(pi.amount_capturable, d);
    const amount = a.all ? pi.amount_capturable : a.value;
    const rest = capturable - toMinor(amount, d);
    ask({
      title: 'Capture this payment?',
      text: `Capture ${money(cur, amount)} of ${money(cur, pi.amount_capturable)}?`,
      more: rest > 0n
        ? `The remaining ${money(cur, fromMinor(rest, d))} is released to the customer and cannot be captured later.`
        : 'The whole reservation is captured.',
      yes: `Capture ${money(cur, amount)}`,
      verb: 'capture',
      opener: $('capture-btn'),
      field: 'capture-amount',
      run: async (idem) => {
        const body = a.all ? {} : { amount };
        const r = await api('POST', `/v1/payment_intents/${encodeURIComponent(pi.id)}/capture`, { body, idempotencyKey: idem });
        $('capture-amount').value = '';
        return `Captured ${money(r.currency, r.amount_received)}; the payment is ${r.status}.`;
      },
    });
  });

  $('refund-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const a = amountFrom('refund-amount');
    if (!a) return;
    const { pi, d } = a;
    const cur = pi.currency;
    const refundable = fromMinor(toMinor(pi.amount_received, d) - toMinor(pi.amount_refunded, d), d);
    const amount = a.all ? refundable : a.value;
    ask({
      title: 'Refund this payment?',
      text: `Refund ${money(cur, amount)} of ${money(cur, pi.amount_received)} received?`,
      more: `It goes back to the customer through ${pi.provider}. Refunded so far: ${money(cur, pi.amount_refunded)}. A refund cannot be undone.`,
      yes: `Refund ${money(cur, amount)}`,
      verb: 'refund',
      opener: $('refund-btn'),
      field: 'refund-amount',
      run: async (idem) => {
        const body = a.all ? { payment_intent: pi.id } : { payment_intent: pi.id, amount };
        const r = await api('POST', '/v1/refunds', { body, idempotencyKey: idem });
        $('refund-amount').value = '';
        return `Refund ${r.id} of ${money(r.currency, r.amount)}: ${r.status}.`;
      },
    });
  });

  $('cancel-btn').addEventListener('click', () => {
    clearActionMessages();
    const pi = current;
    if (!pi) return;
    const held = pi.status === 'requires_capture';
    ask({
      title: 'Cancel this payment?',
      text: held
        ? `Cancel this payment and release the ${money(pi.currency, pi.amount_capturable)} reserved on the customer's card?`
        : `Cancel this payment of ${money(pi.currency, pi.amount)}? The customer can no longer pay it.`,
      more: 'Nothing can be captured afterwards; this cannot be undone.',
      yes: 'Cancel the payment',
      verb: 'cancellation',
      opener: $('cancel-btn'),
      field: null,
      run: async (idem) => {
        const r = await api('POST', `/v1/payment_intents/${encodeURIComponent(pi.id)}/cancel`, { body: {}, idempotencyKey: idem });
        return `The payment is ${r.status}.`;
      },
    });
  });

  // ---- reconciliation ---------------------------------------------------------------
  const FIELD = { capturable: 'reserved', captured: 'received', refunded: 'refunded' };
  // One difference in words: "pi_… (stripe pi_…): refunded — ours CHF 20.00, stripe's CHF 25.00".
  function difference(x) {
    const amount = (v) => (v === null ? '—' : money(x.currency || '', v));
    const where = `${x.provider} ${x.provider_reference || '(no reference)'}`;
    switch (x.kind) {
      case 'amount_differs':
        return `${x.payment_intent} (${where}): ${FIELD[x.field] || x.field} — ours ${amount(x.ours)}, ${x.provider}'s ${amount(x.theirs)}`;
      case 'unknown_to_us':
        return `${where} holds ${amount(x.theirs)}${x.payment_intent ? ` for ${x.payment_intent}` : ''}, which our ledger does not know`;
      case 'missing_at_provider':
        return `${x.payment_intent}: ${x.provider} has no record of it (ours ${amount(x.ours)} received)`;
      default:
        return `${x.payment_intent} (${where}): ${x.kind.replace(/_/g, ' ')}`;
    }
  }
  function renderRuns(runs) {
    const tbody = $('rec-table').tBodies[0];
    tbody.replaceChildren();
    for (const r of runs) {
      const tr = document.createElement('tr');
      cell(tr, utc(r.created));
      cell(tr, r.day);
      cell(tr, String(r.checked), 'num');
      cell(tr, String(r.in_flight), 'num');
      const td = cell(tr, '');
      const lines = r.mismatches.map(difference);
      for (const p of r.unreadable) lines.push(`${p} could not be read: its payments were not compared`);
      if (!lines.length) td.textContent = 'None';
      else {
        const ul = document.createElement('ul');
        for (const line of lines) { const li = document.createElement('li'); li.textContent = line; ul.appendChild(li); }
        td.appendChild(ul);
      }
      tbody.appendChild(tr);
    }
    $('rec-wrap').hidden = !runs.length;
  }
  async function loadRuns() {
    const runs = await api('GET', '/v1/reconciliations?limit=30');
    renderRuns(runs.data);
    return runs.data;
  }
  $('rec-load').addEventListener('click', async () => {
    say($('rec-status'), 'Loading runs…');
    try {
      const runs = await loadRuns();
      say($('rec-status'), runs.length ? `${runs.length} runs, newest first.` : 'No runs yet.', 'ok');
    } catch (e) { keyRefused(e); say($('rec-status'), describe(e), 'error'); }
  });
  $('rec-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = $('rec-day');
    input.removeAttribute('aria-invalid');
    $('rec-day-error').textContent = '';
    const day = input.value;
    if (day && dayStart(day) === null) {
      input.setAttribute('aria-invalid', 'true');
      $('rec-day-error').textContent = 'Choose a day, like 2026-12-02.';
      input.focus();
      return;
    }
    $('rec-run').disabled = true;
    say($('rec-status'), 'Asking the providers…');
    try {
      const run = await api('POST', '/v1/reconciliations', { body: day ? { day } : {} });
      await loadRuns();
      const n = run.mismatches.length;
      say($('rec-status'), n
        ? `${run.day}: ${n} difference${n === 1 ? '' : 's'} found in ${run.checked} payments. See the first row below.`
        : `${run.day}: ${run.checked} payments compared, no difference${run.in_flight ? ` (${run.in_flight} still in flight, compared next time)` : ''}.`, n ? 'error' : 'ok');
    } catch (e) {
      keyRefused(e);
      if (e.api && e.api.param === 'day') { input.setAttribute('aria-invalid', 'true'); $('rec-day-error').textContent = e.api.message; input.focus(); }
      say($('rec-status'), describe(e), 'error');
    } finally {
      $('rec-run').disabled = !store.get();
    }
  });

  // ---- start ------------------------------------------------------------------------
  keyStateChanged();
  if (store.get()) {
    filters = readFilters();
    loadList();
    route();
  }
})();
