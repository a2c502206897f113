// Stripe.js stand-in (local/test stack only), served at /v3/. Implements the subset our
// widget uses, with Stripe's signatures and result shapes:
//   Stripe(pk, {stripeAccount?, locale?}) → stripe
//   stripe.elements({locale?, appearance?}) → { create('card', {hidePostalCode?, style?}) → element, getElement('card') }
//   element.mount(selectorOrElement) / unmount() / destroy() / focus() / blur() / clear()
//   element.on|off('change'|'ready'|'focus'|'blur', cb)
//   stripe.createPaymentMethod({type:'card', card: element, billing_details?})
//     → Promise<{paymentMethod:{id, type:'card', card:{brand, last4, …}}} | {error}>
//   stripe.handleNextAction({clientSecret}) / stripe.confirmCardPayment(clientSecret)
//     → Promise<{paymentIntent:{id, status, …}} | {error:{type, code, message, payment_intent?}}>
//   the same for a SetupIntent's `seti_…_secret_…` (and stripe.confirmCardSetup(clientSecret))
//     → Promise<{setupIntent:{id, status, …}} | {error:{type, code, message, setup_intent?}}>
//   stripe.retrievePaymentIntent(clientSecret) / retrieveSetupIntent → Promise<{paymentIntent|setupIntent} | {error}>
// The card field and the 3-D Secure challenge are iframes on the stand-in's origin; this
// page only ever receives events, PaymentMethod ids and intent statuses.
(() => {
  if (window.Stripe) return;
  const ORIGIN = '__STANDIN_ORIGIN__'; // filled in by the server
  const SELF = window.location.origin;
  const newChannel = () => `ch_${crypto.randomUUID()}`;
  const integrationError = (m) => Object.assign(new Error(m), { name: 'IntegrationError' });

  /** Messages from one of our iframes: right window, right origin, right channel. */
  function listen(frame, channel, handler) {
    const onMessage = (e) => {
      if (e.source !== frame.contentWindow || e.origin !== ORIGIN || e.data?.channel !== channel) return;
      handler(e.data);
    };
    window.addEventListener('message', onMessage);
    return () => window.removeEventListener('message', onMessage);
  }
  const frameUrl = (page, params) => `${ORIGIN}/${page}#${new URLSearchParams({ ...params, origin: SELF })}`;

  class CardElement {
    constructor(options) {
      this._options = options;
      this._handlers = {};
      this._pending = new Map();
      this._frame = null;
      this._destroyed = false;
    }

    on(event, handler) { (this._handlers[event] ??= new Set()).add(handler); return this; }
    off(event, handler) { this._handlers[event]?.delete(handler); return this; }
    _emit(event, payload) {
      for (const h of this._handlers[event] ?? []) {
        try { h(payload); } catch (e) { setTimeout(() => { throw e; }); }
      }
    }

    mount(target) {
      if (this._destroyed) throw integrationError('This Element has been destroyed.');
      const el = typeof target === 'string' ? document.querySelector(target) : target;
      if (!(el instanceof Element)) throw integrationError(`The selector you specified (${target}) applies to no DOM elements.`);
      if (this._frame) throw integrationError('This Element is already mounted.');
      const channel = newChannel();
      const frame = document.createElement('iframe');
      frame.src = frameUrl('card-field.html', {
        channel, hidePostalCode: this._options.hidePostalCode ? '1' : '0',
        locale: this._locale ?? 'en', style: JSON.stringify(this._options.style ?? {}),
      });
      frame.title = 'Secure card payment input frame';
      frame.setAttribute('allow', 'payment');
      frame.setAttribute('referrerpolicy', 'no-referrer');
      frame.style.cssText = 'border:0;width:100%;height:80px;display:block;overflow:hidden;color-scheme:normal';
      this._channel = channel;
      this._ready = false;
      this._stopListening = listen(frame, channel, (m) => {
        if (m.type === 'ready') { this._ready = true; this._emit('ready', { elementType: 'card' }); }
        else if (m.type === 'change') this._emit('change', m.event);
        else if (m.type === 'focus' || m.type === 'blur') this._emit(m.type, { elementType: 'card' });
        else if (m.type === 'resize' && Number.isFinite(m.height)) frame.style.height = `${Math.min(Math.max(m.height, 40), 400)}px`;
        else if (m.type === 'result') { this._pending.get(m.id)?.(m.result); this._pending.delete(m.id); }
      });
      el.appendChild(frame);
      this._frame = frame;
      return this;
    }

    _post(msg) { this._frame?.contentWindow?.postMessage({ channel: this._channel, ...msg }, ORIGIN); }

    /** Asks the iframe to send the card to the stand-in server; resolves Stripe-shaped. */
    _submit(billingDetails) {
      if (!this._frame || !this._ready) {
        return Promise.resolve({ error: { type: 'validation_error', code: 'element_not_ready',
          message: 'The card field is not ready yet.' } });
      }
      const id = crypto.randomUUID();
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          this._pending.delete(id);
          resolve({ error: { type: 'api_connection_error', code: 'timeout', message: 'The card field did not answer.' } });
        }, 30000);
        this._pending.set(id, (r) => { clearTimeout(timer); resolve(r); });
        this._post({ type: 'submit', id, billing_details: billingDetails });
      });
    }

    focus() { this._frame?.focus(); this._post({ type: 'focus' }); }
    blur() { this._post({ type: 'blur' }); }
    clear() { this._post({ type: 'clear' }); }
    update() {}

    unmount() {
      this._stopListening?.();
      this._frame?.remove();
      this._frame = null;
      this._ready = false;
      for (const resolve of this._pending.values()) resolve({ error: { type: 'validation_error', code: 'element_unmounted', message: 'The card field was removed.' } });
      this._pending.clear();
    }

    destroy() { this.unmount(); this._destroyed = true; this._onDestroy?.(); }
  }

  let overlayOpen = false;
  /** The 3-D Secure challenge in an overlay iframe; resolves with the stand-in's result. */
  const DIALOG_LABEL = {
    en: 'Card authentication (3-D Secure test)', de: 'Kartenauthentifizierung (3-D-Secure-Test)',
    fr: 'Authentification de la carte (test 3-D Secure)', it: 'Autenticazione della carta (test 3-D Secure)',
    ru: 'Аутентификация карты (тест 3-D Secure)',
  };
  function challenge(clientSecret, key, locale = 'en') {
    const channel = newChannel();
    const previous = document.activeElement;
    const wrap = document.createElement('div');
    wrap.setAttribute('role', 'dialog');
    wrap.setAttribute('aria-modal', 'true');
    wrap.setAttribute('aria-label', DIALOG_LABEL[locale] ?? DIALOG_LABEL.en);
    wrap.style.cssText = 'position:fixed;inset:0;z-index:2147483647;background:rgba(0,0,0,.45);display:flex;align-items:center;justify-content:center';
    const frame = document.createElement('iframe');
    frame.title = '3-D Secure authentication challenge (test)';
    frame.src = frameUrl('three-d-secure.html', { channel, client_secret: clientSecret, key, locale });
    frame.setAttribute('referrerpolicy', 'no-referrer');
    frame.style.cssText = 'border:0;border-radius:8px;background:#fff;width:min(420px,92vw);height:260px;box-shadow:0 8px 32px rgba(0,0,0,.3)';
    wrap.appendChild(frame);
    overlayOpen = true;
    return new Promise((resolve) => {
      const onKey = (e) => { if (e.key === 'Escape') frame.contentWindow?.postMessage({ channel, type: 'cancel' }, ORIGIN); };
      // Keep focus in the dialog: anything focused outside it goes back to the frame.
      const onFocus = (e) => { if (!wrap.contains(e.target)) frame.focus(); };
      const stop = listen(frame, channel, (m) => {
        if (m.type === 'ready') { frame.focus(); frame.contentWindow.postMessage({ channel, type: 'focus' }, ORIGIN); }
        if (m.type !== 'result') return;
        stop();
        document.removeEventListener('keydown', onKey, true);
        document.removeEventListener('focusin', onFocus, true);
        wrap.remove();
        overlayOpen = false;
        if (previous instanceof HTMLElement) previous.focus();
        resolve(m.result);
      });
      document.addEventListener('keydown', onKey, true);
      document.addEventListener('focusin', onFocus, true);
      document.body.appendChild(wrap);
      frame.focus();
    });
  }

  function Stripe(publishableKey, options = {}) {
    if (!(this instanceof Stripe)) return new Stripe(publishableKey, options);
    if (typeof publishableKey !== 'string' || !publishableKey.startsWith('pk_')) {
      throw integrationError('Invalid API Key provided: Stripe() needs a publishable key (pk_…).');
    }
    const key = publishableKey;
    this._stripeAccount = options.stripeAccount; // accepted; localstripe has no Connect
    // `locale` (Stripe's two-letter codes, 'auto' = the browser's): the card field's
    // labels and errors and the 3-D Secure frame speak it.
    const pick = (l) => (l && l !== 'auto' ? l : navigator.language).slice(0, 2).toLowerCase();
    const locale = pick(options.locale);

    this.elements = (elementsOptions = {}) => {
      let card = null;
      const elementsLocale = elementsOptions.locale ? pick(elementsOptions.locale) : locale;
      return {
        create(type, opts = {}) {
          if (type !== 'card') throw integrationError(`The stand-in only implements the 'card' Element, not '${type}'.`);
          if (card) throw integrationError('Can only create one Element of type card.');
          card = new CardElement(opts);
          card._locale = elementsLocale;
          card._onDestroy = () => { card = null; };
          return card;
        },
        getElement: (type) => (type === 'card' ? card : null),
      };
    };

    this.createPaymentMethod = async (data, maybeElement, maybeData) => {
      if (typeof data === 'string') data = { type: data, card: maybeElement, ...(maybeData ?? {}) }; // legacy form
      if (data?.type !== 'card' || !(data.card instanceof CardElement)) {
        throw integrationError("createPaymentMethod needs {type: 'card', card: <card Element>}.");
      }
      return data.card._submit(data.billing_details);
    };

    const retrieve = (what) => async (clientSecret) => {
      try {
        const r = await fetch(`${ORIGIN}/${what}?${new URLSearchParams({ client_secret: clientSecret, key })}`);
        return await r.json();
      } catch {
        return { error: { type: 'api_connection_error', code: 'network_error', message: 'Could not reach the payment service.' } };
      }
    };
    this.retrievePaymentIntent = retrieve('payment_intent');
    this.retrieveSetupIntent = retrieve('setup_intent');

    this.handleNextAction = async ({ clientSecret } = {}) => {
      if (typeof clientSecret !== 'string') throw integrationError('handleNextAction needs {clientSecret}.');
      const setup = clientSecret.startsWith('seti_');
      const now = await (setup ? this.retrieveSetupIntent : this.retrievePaymentIntent)(clientSecret);
      if (now.error || (setup ? now.setupIntent : now.paymentIntent).status !== 'requires_action') return now;
      if (overlayOpen) {
        return { error: { type: 'invalid_request_error', code: 'authentication_in_progress', message: 'Another authentication is already open.' } };
      }
      return challenge(clientSecret, key, locale);
    };

    // Only the "already confirmed server-side, now needs 3DS" use: a payment_method in
    // `data` would need a confirm with a publishable key, which localstripe cannot do.
    this.confirmCardPayment = async (clientSecret, data) => {
      if (data?.payment_method) {
        return { error: { type: 'invalid_request_error', code: 'not_supported_by_stand_in',
          message: 'The local Stripe.js stand-in supports confirmCardPayment(clientSecret) only; confirm with the payment method server-side.' } };
      }
      return this.handleNextAction({ clientSecret });
    };
    // The same for a SetupIntent confirmed server-side (card saved, 3-D Secure at setup).
    this.confirmCardSetup = async (clientSecret, data) => {
      if (data?.payment_method) {
        return { error: { type: 'invalid_request_error', code: 'not_supported_by_stand_in',
          message: 'The local Stripe.js stand-in supports confirmCardSetup(clientSecret) only; confirm with the payment method server-side.' } };
      }
      return this.handleNextAction({ clientSecret });
    };
  }

  window.Stripe = Stripe;
  window.Stripe.standIn = true;
})();
