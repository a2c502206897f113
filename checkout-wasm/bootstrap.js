// Start-up for the one-tag embed. Appended by the build to wasm-bindgen's
// `--target no-modules` output; `__WASM_FILE__` becomes the content-hashed wasm name.
;(function () {
  var script = document.currentScript;
  if (!script || !script.dataset.target) return; // loaded as a library, not as the tag
  var d = script.dataset;
  var base = new URL('.', script.src);
  var target = document.querySelector(d.target);
  if (!target) {
    console.error('checkout: no element matches data-target ' + d.target);
    return;
  }
  __edgeCheckout({ module_or_path: new URL('__WASM_FILE__', base) })
    .then(function () {
      return __edgeCheckout.mount(target, d.publishableKey || '', d.clientSecret || '', base.origin);
    })
    .catch(function (e) {
      console.error('checkout:', e);
    });
})();
