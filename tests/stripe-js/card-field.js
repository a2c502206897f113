// The card field inside its iframe. Talks to the page that framed it only through
// postMessage on a channel id, to the origin named in our URL; it sends that page events
// and PaymentMethod ids, never what was typed. Card data goes to our own server only.
(() => {
  const params = new URLSearchParams(location.hash.slice(1));
  const channel = params.get('channel');
  const parentOrigin = params.get('origin');
  if (!channel || !parentOrigin || window.parent === window) return;
  const $ = (id) => document.getElementById(id);
  const [number, exp, cvc, postal, errorBox] = ['number', 'exp', 'cvc', 'postal', 'error'].map($);
  if (params.get('hidePostalCode') === '1') {
    $('postal-field').hidden = true;
    $('card').classList.add('no-postal');
  }

  const t = window.standInText ?? ((x) => x);
  for (const label of document.querySelectorAll('label')) label.textContent = t(label.textContent);
  // Stripe's Card Element `style` option: {base: {color, fontFamily, fontSize, iconColor}, invalid: {color}},
  // applied through the CSSOM.
  let style = {};
  try { style = JSON.parse(params.get('style') || '{}'); } catch { /* the default look */ }
  const root = document.documentElement.style;
  if (style.base?.color) { root.setProperty('--base', style.base.color); document.body.style.color = style.base.color; }
  if (style.base?.fontFamily) document.body.style.fontFamily = style.base.fontFamily;
  if (style.base?.fontSize) document.body.style.fontSize = style.base.fontSize;
  if (style.invalid?.color) root.setProperty('--invalid', style.invalid.color);

  const post = (msg) => window.parent.postMessage({ channel, ...msg }, parentOrigin);
  const digits = (s) => s.replace(/\D/g, '');
  const brandOf = (n) => (/^4/.test(n) ? 'visa' : /^(5[1-5]|2[2-7])/.test(n) ? 'mastercard' : /^3[47]/.test(n) ? 'amex' : 'unknown');
  const luhn = (n) => {
    let sum = 0;
    for (let i = 0; i < n.length; i++) {
      let d = Number(n[n.length - 1 - i]);
      if (i % 2) { d *= 2; if (d > 9) d -= 9; }
      sum += d;
    }
    return sum % 10 === 0;
  };
  const verr = (code, message) => ({ type: 'validation_error', code, message });

  // Each check: null when fine, else an error; `incomplete` ones are only shown on blur/submit.
  function checkNumber(final) {
    const n = digits(number.value);
    const want = brandOf(n) === 'amex' ? 15 : 16;
    if (n.length < want) return final ? verr('incomplete_number', t('Your card number is incomplete.')) : null;
    if (!luhn(n)) return verr('invalid_number', t('Your card number is invalid.'));
    return null;
  }
  function checkExp(final) {
    const d = digits(exp.value);
    if (d.length >= 2 && !(Number(d.slice(0, 2)) >= 1 && Number(d.slice(0, 2)) <= 12)) {
      return verr('invalid_expiry_month', "Your card's expiration month is invalid.");
    }
    if (d.length < 4) return final ? verr('incomplete_expiry', "Your card's expiration date is incomplete.") : null;
    const month = Number(d.slice(0, 2));
    const year = 2000 + Number(d.slice(2, 4));
    const now = new Date();
    if (year < now.getFullYear()) return verr('invalid_expiry_year_past', "Your card's expiration year is in the past.");
    if (year === now.getFullYear() && month < now.getMonth() + 1) return verr('invalid_expiry_month_past', "Your card's expiration date is in the past.");
    return null;
  }
  function checkCvc(final) {
    const want = brandOf(digits(number.value)) === 'amex' ? 4 : 3;
    return digits(cvc.value).length < want && (final || digits(cvc.value).length > want)
      ? verr('incomplete_cvc', "Your card's security code is incomplete.") : null;
  }

  const shown = new Set(); // fields the customer has left once: show "incomplete" for them
  function state(final = false) {
    const checks = [[number, checkNumber], [exp, checkExp], [cvc, checkCvc]];
    let error = null;
    for (const [input, check] of checks) {
      const e = check(final || shown.has(input));
      input.setAttribute('aria-invalid', e ? 'true' : 'false');
      if (e && !error) error = e;
    }
    const complete = !error && checks.every(([, check]) => !check(true));
    const empty = !number.value && !exp.value && !cvc.value && !postal.value;
    errorBox.textContent = error ? error.message : '';
    return { complete, empty, error, brand: brandOf(digits(number.value)) };
  }
  let last = '';
  function report(final = false) {
    const s = state(final);
    const event = { elementType: 'card', complete: s.complete, empty: s.empty, brand: s.brand,
      value: { postalCode: postal.value.trim() } };
    if (s.error) event.error = s.error;
    const key = JSON.stringify(event);
    if (key !== last) { last = key; post({ type: 'change', event }); }
    return s;
  }

  // Formatting as the customer types: "4242 4242 4242 4242" and "MM / YY".
  number.addEventListener('input', () => {
    const n = digits(number.value).slice(0, 19);
    const atEnd = number.selectionStart === number.value.length;
    const grouped = brandOf(n) === 'amex' ? [n.slice(0, 4), n.slice(4, 10), n.slice(10, 15)].filter(Boolean).join(' ')
      : n.replace(/(\d{4})(?=\d)/g, '$1 ');
    if (atEnd) number.value = grouped;
    report();
  });
  exp.addEventListener('input', () => {
    let d = digits(exp.value).slice(0, 4);
    if (d.length === 1 && Number(d) > 1) d = `0${d}`;
    if (exp.selectionStart === exp.value.length) exp.value = d.length > 2 ? `${d.slice(0, 2)} / ${d.slice(2)}` : d;
    report();
  });
  cvc.addEventListener('input', () => { cvc.value = digits(cvc.value).slice(0, 4); report(); });
  postal.addEventListener('input', () => report());
  // One focus/blur per visit to the element, not per input inside it.
  const inputs = [number, exp, cvc, postal];
  let focused = false;
  for (const input of inputs) {
    input.addEventListener('focus', () => { if (!focused) { focused = true; post({ type: 'focus' }); } });
    input.addEventListener('blur', () => {
      if (input.value) shown.add(input);
      report();
      setTimeout(() => {
        if (focused && !inputs.includes(document.activeElement)) { focused = false; post({ type: 'blur' }); }
      }, 0);
    });
  }

  async function submit(billingDetails) {
    const s = report(true);
    if (s.error || !s.complete) return { error: s.error ?? verr('incomplete_number', t('Your card number is incomplete.')) };
    const d = digits(exp.value);
    const billing = { ...(billingDetails ?? {}) };
    if (postal.value.trim() && !$('postal-field').hidden) {
      billing.address = { ...(billing.address ?? {}), postal_code: postal.value.trim() };
    }
    try {
      const r = await fetch('/payment_methods', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ number: digits(number.value), exp_month: d.slice(0, 2), exp_year: `20${d.slice(2, 4)}`,
          cvc: digits(cvc.value), billing_details: Object.keys(billing).length ? billing : undefined }),
      });
      const body = await r.json();
      if (body.error) {
        errorBox.textContent = body.error.message;
        return { error: body.error };
      }
      return { paymentMethod: { id: body.id, object: 'payment_method', type: 'card', card: body.card, billing_details: billing } };
    } catch {
      return { error: { type: 'api_connection_error', code: 'network_error', message: 'The card could not be sent. Check the connection and try again.' } };
    }
  }

  window.addEventListener('message', async (e) => {
    if (e.source !== window.parent || e.origin !== parentOrigin || e.data?.channel !== channel) return;
    const msg = e.data;
    if (msg.type === 'submit') post({ type: 'result', id: msg.id, result: await submit(msg.billing_details) });
    else if (msg.type === 'focus') number.focus();
    else if (msg.type === 'blur') document.activeElement?.blur();
    else if (msg.type === 'clear') {
      for (const input of inputs) input.value = '';
      shown.clear();
      report();
    }
  });

  const resize = () => post({ type: 'resize', height: document.documentElement.scrollHeight });
  new ResizeObserver(resize).observe(document.body);
  last = JSON.stringify({ elementType: 'card', complete: false, empty: true, brand: 'unknown', value: { postalCode: '' } });
  post({ type: 'ready' });
})();
