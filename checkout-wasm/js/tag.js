// The one-tag embed (API.md, Widget):
//   <script src="{worker}/v1/checkout.js" data-publishable-key data-client-secret
//           data-target [data-locale] [data-appearance='{"theme":"night"}'] async>
// Also `window.EdgeCheckout.mount(target, options)` for pages without modules.
import { start } from './core.js';

(() => {
  const script = document.currentScript;
  const base = script ? new URL(script.src).origin : location.origin;
  window.EdgeCheckout ??= { mount: (target, options) => start(target, options, base) };
  const d = script?.dataset;
  if (!d?.target) return; // loaded as a library, not as the tag
  const target = document.querySelector(d.target);
  if (!target) {
    console.error(`checkout: no element matches data-target ${d.target}`);
    return;
  }
  let appearance;
  try {
    appearance = d.appearance ? JSON.parse(d.appearance) : undefined;
  } catch {
    console.error('checkout: data-appearance is not JSON; using the default look');
  }
  start(target, {
    publishableKey: d.publishableKey || '',
    clientSecret: d.clientSecret || '',
    locale: d.locale,
    appearance,
  }, base);
})();
