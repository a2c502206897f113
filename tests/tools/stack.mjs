// Starts the local stack — localstripe and the Worker in `wrangler dev` (workerd, local
// Durable Objects) — on given ports, and stops it again. Used by `make dev` and by the test runner,
// which picks other ports and a throw-away state directory so both can run at once.
import { spawn } from 'node:child_process';
import { mkdirSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WRANGLER = path.join(ROOT, 'node_modules/.bin/wrangler');
const ENV = { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_D1_WARNING: 'true', CI: 'true' };

/** The demo shop's Cashcloud merchant account at the stand-in (local test values). */
/** The platform's Stripe endpoint secret (Connect destination charges' events): a local test value. */
export const PLATFORM_WEBHOOK_SECRET = 'whsec_platform_local_0000000000';

export const DEMO_CASHCLOUD = {
  username: 'shop@example.com', password: 'shop-pass-local', apiPassword: 'shop-api-local', name: 'Demo shop',
};

function child(name, cmd, args, opts, log, logFile) {
  const p = spawn(cmd, args, { cwd: ROOT, env: ENV, stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...opts });
  const lines = [];
  const take = (chunk) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      lines.push(line);
      if (logFile) appendFileSync(logFile, `[${name}] ${line}\n`);
      if (log) log(`[${name}] ${line}`);
    }
  };
  p.stdout.on('data', take);
  p.stderr.on('data', take);
  return { name, proc: p, lines };
}

async function waitFor(url, ms, what) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = e.cause?.code || e.message;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${what} did not come up at ${url} within ${ms} ms (${last})`);
}

function kill(c) {
  if (c.proc.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    c.proc.once('exit', resolve);
    try { process.kill(-c.proc.pid, 'SIGTERM'); } catch { resolve(); }
    setTimeout(() => { try { process.kill(-c.proc.pid, 'SIGKILL'); } catch {} }, 3000).unref();
  });
}

/** The Worker's configuration in the local stack: the stand-ins' URLs and test values. */
export function workerVars({ stripeProxyUrl, stripeJsUrl, cashcloudUrl, worldpayUrl }) {
  return {
    STRIPE_API_BASE: stripeProxyUrl,
    STRIPE_JS_URL: stripeJsUrl,
    // Connect mode's platform account; localstripe takes any key.
    STRIPE_PLATFORM_SECRET_KEY: 'sk_test_platform_local',
    STRIPE_PLATFORM_PUBLISHABLE_KEY: 'pk_test_platform_local',
    STRIPE_PLATFORM_WEBHOOK_SECRET: PLATFORM_WEBHOOK_SECRET,
    // The objects' alarms ask providers about unknown outcomes after this long
    // (30 s in production): short here, so tests see them without sleeping long.
    RESOLVE_AFTER_SECONDS: '2',
    CASHCLOUD_API_BASE: cashcloudUrl,
    WORLDPAY_API_BASE: `${worldpayUrl}/`,
    // Live mode's endpoints: the same stand-ins locally (production: the providers' live hosts).
    CASHCLOUD_API_BASE_LIVE: cashcloudUrl,
    WORLDPAY_API_BASE_LIVE: `${worldpayUrl}/`,
    // Tests' webhook receivers listen on loopback; production allows only public https.
    WEBHOOKS_ALLOW_LOOPBACK: 'true',
    // Every test and the load test come from 127.0.0.1: the abuse limits of
    // wrangler.toml would count them all as one caller. Generous here;
    // tests/e2e/ratelimit.test.mjs proves the 429 on a Worker of its own.
    RATE_LIMIT_WIDGET_PER_IP: '100000/60',
    RATE_LIMIT_WIDGET_PER_KEY: '100000/60',
    RATE_LIMIT_WEBHOOK_PER_IP: '100000/60',
    RATE_LIMIT_WEBHOOK_PER_MERCHANT: '100000/60',
  };
}

function workerChild({ port, stateDir, vars, script, log, logFile, name = 'worker' }) {
  const args = ['dev', ...(script ? [script] : []), '--ip', '127.0.0.1', '--port', String(port), '--persist-to', stateDir,
    '--show-interactive-dev-session=false', '--inspector-port', String(port + 10000)];
  for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
  return child(name, WRANGLER, args, {}, log, logFile);
}

/**
 * One more Worker in `wrangler dev`, beside a running stack: for tests that restart it
 * on purpose. `script` is its own copy of the bundle (wrangler reloads when that file
 * changes, so changing it restarts this Worker and no other), `stateDir` its own
 * Durable Object state (two workerd processes never share SQLite files).
 */
export async function startWorker({ port, stateDir, vars, script, log, logFile }) {
  mkdirSync(stateDir, { recursive: true });
  const c = workerChild({ port, stateDir, vars, script, log, logFile, name: `worker:${port}` });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`${url}/health`, 60000, `the Worker on ${port} (wrangler dev)`);
  } catch (e) {
    await kill(c);
    console.error(c.lines.slice(-40).join('\n'));
    throw e;
  }
  return { url, lines: c.lines, stop: () => kill(c) };
}

/**
 * @param {object} o
 * @param {number} o.port         the Worker's port
 * @param {number} o.stripePort   localstripe's port
 * @param {number} [o.stripeJsPort] the Stripe.js stand-in's port (default stripePort + 1)
 * @param {number} [o.stripeProxyPort] the recording proxy in front of localstripe (default stripePort + 2)
 * @param {number} [o.cashcloudPort] the Cashcloud stand-in (default stripePort + 3)
 * @param {number} [o.worldpayPort] the Worldpay stand-in (default stripePort + 4)
 * @param {string} o.stateDir     wrangler's --persist-to (the Durable Objects' SQLite files)
 * @param {object} [o.vars]       extra Worker vars (override wrangler.toml and .dev.vars)
 * @param {(line: string) => void} [o.log]
 * @param {string} [o.logFile]     every line the processes print, appended here
 * @param {string} [o.stripeState] localstripe's state file (none: memory only)
 * @param {number} [o.batchMs]      Worldpay stand-in's settlement/refund batch interval (0: on request)
 */
export async function startStack({ port, stripePort, stripeJsPort = stripePort + 1, stripeProxyPort = stripePort + 2, cashcloudPort = stripePort + 3, worldpayPort = stripePort + 4, stateDir, vars = {}, log, logFile, stripeState, batchMs = 0 }) {
  mkdirSync(stateDir, { recursive: true });
  const children = [];
  const stop = async () => { await Promise.all(children.map(kill)); };
  // The children run in their own process groups (so a stop reaches workerd too); if
  // this process ends without calling stop(), take them down with it.
  process.once('exit', () => {
    for (const c of children) { try { process.kill(-c.proc.pid, 'SIGTERM'); } catch {} }
  });
  try {
    // The Worker reaches localstripe through tests/stripe-proxy, which records what it
    // sends and adds what localstripe lacks (Connect fields, idempotency keys, saved cards).
    const stripeProxyUrl = `http://127.0.0.1:${stripeProxyPort}`;
    // The Stripe.js stand-in (tests/stripe-js): a child, since e2e.mjs blocks its own
    // event loop while the tests run. SetupIntents' 3-D Secure goes through the proxy.
    const stripeJsUrl = `http://127.0.0.1:${stripeJsPort}/v3/`;
    children.push(child('stripe-js', process.execPath,
      [path.join(ROOT, 'tests/stripe-js/server.mjs'), String(stripeJsPort), `http://127.0.0.1:${stripePort}`, stripeProxyUrl], {}, log, logFile));
    children.push(child('stripe-proxy', process.execPath,
      [path.join(ROOT, 'tests/stripe-proxy/server.mjs'), String(stripeProxyPort), `http://127.0.0.1:${stripePort}`], {}, log, logFile));
    // The Cashcloud stand-in (tests/cashcloud) with the demo shop's account; tests add
    // their own merchants through its control API.
    const cashcloudUrl = `http://127.0.0.1:${cashcloudPort}`;
    children.push(child('cashcloud', process.execPath,
      [path.join(ROOT, 'tests/cashcloud/server.mjs'), String(cashcloudPort), JSON.stringify([DEMO_CASHCLOUD])], {}, log, logFile));
    // The Worldpay stand-in (tests/worldpay): API, hosted payment page, signed event
    // notifications. Settlement and refund batches run every few seconds, as funds
    // would settle (weekly) at Worldpay; merchants are added through its control API.
    const worldpayUrl = `http://127.0.0.1:${worldpayPort}`;
    children.push(child('worldpay', process.execPath,
      [path.join(ROOT, 'tests/worldpay/server.mjs'), String(worldpayPort), JSON.stringify({ merchants: [], batchIntervalMs: batchMs })], {}, log, logFile));
    const py = path.join(ROOT, '.venv/bin/python');
    const lsArgs = [path.join(ROOT, 'tests/tools/localstripe_loopback.py'), String(stripePort)];
    if (stripeState) lsArgs.push(stripeState);
    children.push(child('localstripe', py, lsArgs, {}, log, logFile));

    // PUBLIC_URL: where the Worker is reached (an invoice's hosted_url starts with it).
    const allVars = { ...workerVars({ stripeProxyUrl, stripeJsUrl, cashcloudUrl, worldpayUrl }), PUBLIC_URL: `http://127.0.0.1:${port}`, ...vars };
    const worker = workerChild({ port, stateDir, vars: allVars, log, logFile });
    children.push(worker);

    const url = `http://127.0.0.1:${port}`;
    await Promise.all([
      waitFor(`http://127.0.0.1:${stripePort}/v1/customers`, 30000, 'localstripe'),
      waitFor(stripeJsUrl, 10000, 'the Stripe.js stand-in'),
      waitFor(`${stripeProxyUrl}/_recorder/requests`, 10000, 'the Stripe recording proxy'),
      waitFor(`${cashcloudUrl}/_standin/merchants`, 10000, 'the Cashcloud stand-in'),
      waitFor(`${worldpayUrl}/_standin/merchants`, 10000, 'the Worldpay stand-in'),
      waitFor(`${url}/health`, 60000, 'the Worker (wrangler dev)'),
    ]);
    return { url, stripeUrl: `http://127.0.0.1:${stripePort}`, stripeJsUrl, stripeProxyUrl, cashcloudUrl, worldpayUrl, stateDir, workerLog: worker.lines, stop };
  } catch (e) {
    await stop();
    for (const c of children) if (c.lines.length) console.error(`--- ${c.name}:\n${c.lines.slice(-40).join('\n')}`);
    throw e;
  }
}
