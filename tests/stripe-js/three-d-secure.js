// The 3-D Secure test challenge inside its overlay iframe. The outcome goes to our own
// server (/authenticate → localstripe _authenticate); the result goes back to the page
// that opened us, by postMessage on its channel, to the origin named in our URL.
(() => {
  const params = new URLSearchParams(location.hash.slice(1));
  const channel = params.get('channel');
  const parentOrigin = params.get('origin');
  if (!channel || !parentOrigin || window.parent === window) return;
  const post = (msg) => window.parent.postMessage({ channel, ...msg }, parentOrigin);
  const buttons = [document.getElementById('complete'), document.getElementById('fail')];
  const t = window.standInText ?? ((x) => x);
  for (const id of ['title', 'desc', 'complete', 'fail']) {
    const el = document.getElementById(id);
    el.textContent = t(el.textContent);
  }
  let done = false;

  async function finish(success) {
    if (done) return;
    done = true;
    for (const b of buttons) b.disabled = true;
    document.getElementById('status').textContent = success ? 'Completing…' : 'Failing…';
    let result;
    try {
      const r = await fetch('/authenticate', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_secret: params.get('client_secret'), key: params.get('key'), success }),
      });
      result = await r.json();
    } catch {
      result = { error: { type: 'api_connection_error', code: 'network_error', message: 'Authentication could not be sent. Try again.' } };
    }
    post({ type: 'result', result });
  }

  buttons[0].addEventListener('click', () => finish(true));
  buttons[1].addEventListener('click', () => finish(false));
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') finish(false); });
  window.addEventListener('message', (e) => {
    if (e.source !== window.parent || e.origin !== parentOrigin || e.data?.channel !== channel) return;
    if (e.data.type === 'cancel') finish(false);
    if (e.data.type === 'focus') buttons[0].focus();
  });
  buttons[0].focus();
  post({ type: 'ready' });
})();
