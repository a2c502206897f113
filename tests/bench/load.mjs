// Bounded load on loopback. Single-request operations go through wrk (Lua for the
// POSTs); two-request operations (create + confirm) through a small closed-loop Node
// generator that times the pair, since wrk times single requests only.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { randomUUID } from 'node:crypto';

export const CONNECTIONS = 10;

export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const luaString = (s) => JSON.stringify(s); // a JSON string literal is a valid Lua string here (ASCII, no \u)

/**
 * Runs wrk for `seconds` against `url` with 10 connections. `post`: {path, headers,
 * body, uniqueIdempotency} — every request then carries its own Idempotency-Key;
 * `get`: {headers} for a GET.
 */
export function wrk({ url, seconds, post, get, dir, name }) {
  const u = new URL(url);
  const lua = [];
  if (get) {
    for (const [k, v] of Object.entries(get.headers)) lua.push(`wrk.headers[${luaString(k)}] = ${luaString(v)}`);
  }
  if (post) {
    lua.push(`local body = ${luaString(post.body)}`);
    lua.push('local headers = {}');
    for (const [k, v] of Object.entries(post.headers)) lua.push(`headers[${luaString(k)}] = ${luaString(v)}`);
    lua.push('local n = 0');
    lua.push('local threads = {}');
    lua.push('function setup(thread) thread:set("tid", #threads + 1); table.insert(threads, thread) end');
    lua.push('function request()');
    lua.push('  n = n + 1');
    if (post.uniqueIdempotency) lua.push(`  headers["Idempotency-Key"] = string.format("bench-%s-%d-%d", ${luaString(randomUUID())}, tid or 0, n)`);
    lua.push(`  return wrk.format("POST", ${luaString(u.pathname)}, headers, body)`);
    lua.push('end');
  }
  lua.push(`function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCHJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end`);
  const script = path.join(dir, `wrk-${name}.lua`);
  writeFileSync(script, lua.join('\n') + '\n');
  return new Promise((resolve, reject) => {
    const p = spawn('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${seconds}s`, '--timeout', '10s', '-s', script, url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const guard = setTimeout(() => p.kill('SIGKILL'), (seconds + 15) * 1000);
    p.on('error', (e) => { clearTimeout(guard); reject(e); });
    p.on('exit', () => {
      clearTimeout(guard);
      const line = out.split('\n').find((l) => l.startsWith('BENCHJSON '));
      if (!line) return reject(new Error(`wrk ${name}: no summary\n${out}`));
      const j = JSON.parse(line.slice(10));
      const failed = j.errors.status + j.errors.connect + j.errors.read + j.errors.write + j.errors.timeout;
      resolve({
        tool: 'wrk -t2 -c10',
        requests: j.requests,
        failed,
        seconds: j.duration_us / 1e6,
        rps: j.requests / (j.duration_us / 1e6),
        p50_ms: j.p50_us / 1000, p90_ms: j.p90_us / 1000, p99_ms: j.p99_us / 1000, max_ms: j.max_us / 1000,
      });
    });
  });
}

/** One HTTP/1.1 request over a keep-alive agent; resolves {status, body}. */
function request(agent, url, method, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: body ? { ...headers, 'content-length': Buffer.byteLength(body) } : headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

/**
 * Closed loop: 10 concurrent callers repeat `op(send)` for `seconds`; each op's time
 * (all its requests) is one latency sample. `op` returns true when it succeeded.
 */
export async function closedLoop({ seconds, op }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const send = (url, method, headers, body) => request(agent, url, method, headers, body);
  const samples = [];
  let failed = 0;
  const start = performance.now();
  const until = start + seconds * 1000;
  const loop = async () => {
    while (performance.now() < until) {
      const t0 = performance.now();
      let ok = false;
      try { ok = await op(send); } catch { ok = false; }
      if (ok) samples.push(performance.now() - t0); else failed++;
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, loop));
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  samples.sort((a, b) => a - b);
  return {
    tool: 'node closed loop, 10 callers',
    requests: samples.length,
    failed,
    seconds: elapsed,
    rps: samples.length / elapsed,
    p50_ms: percentile(samples, 50), p90_ms: percentile(samples, 90), p99_ms: percentile(samples, 99), max_ms: samples.at(-1),
  };
}

/** Our create + confirm: POST /v1/payment_intents, then …/confirm with the publishable key. */
export function workerCreateConfirm(worker, merchant, pms) {
  let i = 0;
  return async (send) => {
    const pm = pms[i++ % pms.length];
    const c = await send(`${worker}/v1/payment_intents`, 'POST', {
      authorization: `Bearer ${merchant.secret_key}`, 'content-type': 'application/json', 'idempotency-key': randomUUID(),
    }, JSON.stringify({ amount: '10.00', currency: 'CHF', provider: 'stripe' }));
    if (c.status !== 200) return false;
    const pi = JSON.parse(c.body);
    const r = await send(`${worker}/v1/payment_intents/${pi.id}/confirm`, 'POST', {
      authorization: `Bearer ${merchant.publishable_key}`, 'content-type': 'application/json',
    }, JSON.stringify({ client_secret: pi.client_secret, payment_method: pm }));
    return r.status === 200 && JSON.parse(r.body).status === 'succeeded';
  };
}

/** The same straight at Stripe (the bench's `stripeUrl`): create with the
 * PaymentMethod, then confirm with `use_stripe_sdk=true`, as a merchant's own
 * integration for Stripe.js's 3-D Secure would. */
export function directCreateConfirm(stripeUrl, key, pms) {
  let i = 0;
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/x-www-form-urlencoded' };
  return async (send) => {
    const pm = pms[i++ % pms.length];
    const c = await send(`${stripeUrl}/v1/payment_intents`, 'POST', headers,
      `amount=1000&currency=chf&payment_method_types[]=card&payment_method=${pm}`);
    if (c.status !== 200) return false;
    const pi = JSON.parse(c.body);
    const r = await send(`${stripeUrl}/v1/payment_intents/${pi.id}/confirm`, 'POST', headers, 'use_stripe_sdk=true');
    return r.status === 200 && JSON.parse(r.body).status === 'succeeded';
  };
}
