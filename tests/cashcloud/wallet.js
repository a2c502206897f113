// Wallet page script (served by server.mjs at /wallet/wallet.js). Same-origin JSON API under
// /wallet/api/; the PIN is sent for sign-in and for each approval, never kept.
const $ = (id) => document.getElementById(id);
const eur = new Intl.NumberFormat('en-IE', { style: 'currency', currency: 'EUR' });
let token = null;
let deadlines = new Map(); // hash → ms deadline on this browser's clock
let shown = '';

const say = (text) => { $('status').textContent = text; };

async function api(method, path, body) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(`/wallet/api/${path}`, { method, headers, body: body && JSON.stringify(body) });
  const json = await r.json().catch(() => ({}));
  if (r.status === 401) signedOut('Your session ended. Please sign in again.');
  if (!r.ok) throw Object.assign(new Error(json.error ?? `HTTP ${r.status}`), { json, status: r.status });
  return json;
}

function left(hash) {
  const s = Math.max(0, Math.round((deadlines.get(hash) - Date.now()) / 1000));
  return s ? `Expires in ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}` : 'Expired';
}

function render(data) {
  $('who').textContent = data.username;
  $('balance').textContent = eur.format(data.balance_cents / 100);
  const key = data.requests.map((r) => r.hash).join();
  deadlines = new Map(data.requests.map((r) => [r.hash, Date.now() + r.expires_in * 1000]));
  $('empty').hidden = data.requests.length > 0;
  if (key === shown) return; // keep focus and typed PINs when nothing changed
  shown = key;
  const list = $('requests');
  list.replaceChildren(...data.requests.map((r) => {
    const li = document.createElement('li');
    const id = `req-${r.hash}`;
    const kind = r.type === 'refund' ? 'Refund from' : 'Payment request from';
    li.innerHTML = `<h3 id="${id}-h"></h3><p class="amount"></p><p class="remark"></p>
      <p><time id="${id}-t" class="left"></time></p>
      <form><label for="${id}-pin">PIN to confirm</label>
      <input id="${id}-pin" type="password" inputmode="numeric" autocomplete="off" pattern="[0-9]{4,8}" required>
      <button type="submit" data-act="approve">${r.type === 'refund' ? 'Accept refund' : 'Approve'}</button>
      <button type="submit" data-act="decline">Decline</button></form>`;
    li.querySelector('h3').textContent = `${kind} ${r.merchant}`;
    li.querySelector('.amount').textContent = eur.format(r.amount / 100);
    li.querySelector('.remark').textContent = r.remark || '(no remark)';
    li.querySelector('time').textContent = left(r.hash);
    li.querySelectorAll('button').forEach((b) => b.setAttribute('aria-describedby', `${id}-h`));
    li.querySelector('form').addEventListener('submit', (e) => {
      e.preventDefault();
      act(e.submitter?.dataset.act ?? 'approve', r, li.querySelector('input'));
    });
    return li;
  }));
}

async function load() {
  if (!token) return;
  try { render(await api('GET', 'requests')); } catch (e) { if (token) say(e.message); }
}

async function act(what, r, pinInput) {
  const pin = pinInput.value;
  pinInput.value = '';
  try {
    const out = await api('POST', what, { hash: r.hash, pin });
    const done = { 3: r.type === 'refund' ? 'Accepted' : 'Paid', 4: 'Declined', 7: 'Failed: not enough money' }[out.transaction.state] ?? `State ${out.transaction.state}`;
    say(`${done}: ${eur.format(r.amount / 100)} ${r.type === 'refund' ? 'refund from' : 'to'} ${r.merchant}.`);
    await load();
    $('refresh').focus();
  } catch (e) {
    say(e.status === 403 ? `Wrong PIN (${e.json.attempts_left} attempts left).` : e.message);
    pinInput.focus();
  }
}

function signedOut(message) {
  token = null;
  shown = '';
  $('account').hidden = true;
  $('signin').hidden = false;
  say(message);
  $('username').focus();
}

$('signin').addEventListener('submit', async (e) => {
  e.preventDefault();
  const pin = $('pin');
  try {
    const out = await api('POST', 'session', { username: $('username').value.trim(), pin: pin.value });
    token = out.token;
    $('signin').hidden = true;
    $('account').hidden = false;
    await load();
    say(`Signed in. ${$('requests').children.length} pending request(s).`);
    $('account-heading').setAttribute('tabindex', '-1');
    $('account-heading').focus();
  } catch (err) {
    say(err.status === 403 ? 'Wrong username or PIN.' : err.message);
    pin.focus();
  } finally {
    pin.value = '';
  }
});
$('refresh').addEventListener('click', async () => { await load(); say('Updated.'); });
$('signout').addEventListener('click', async () => {
  await api('DELETE', 'session').catch(() => {});
  signedOut('Signed out.');
});
setInterval(() => {
  document.querySelectorAll('#requests time').forEach((t) => { t.textContent = left(t.id.slice(4, -2)); });
}, 1000);
setInterval(load, 5000);
