// CPU per request of the Worker, two ways:
//  1. process CPU (/proc/<pid>/stat utime+stime) of the workerd that runs the Worker
//     (wrangler dev's "runtime" workerd, the one with --inspector-addr: the Worker's
//     isolate, its Durable Objects' SQLite and the assets router),
//     over N sequential requests, minus the same for N `GET /health`;
//  2. a V8 CPU profile of the Worker's own isolate through wrangler's inspector
//     (DevTools protocol, as `wrangler dev` DevTools does): non-idle samples per request,
//     and the part of them spent inside the Worker's wasm.
// wrangler dev also runs a proxy workerd and wrangler's own Node process; their CPU
// per request is reported too (tooling of the local stack, absent on Cloudflare).
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';

const TICK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function stat(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).split(' ');
}
/** utime + stime of one process, in ms. */
export function cpuMs(pid) {
  const f = stat(pid);
  return ((Number(f[11]) + Number(f[12])) * 1000) / TICK;
}

/** Our descendants, with their command lines. */
export function descendants(root = process.pid) {
  const all = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try { all.push({ pid: Number(d), ppid: Number(stat(d)[1]), cmd: readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean) }); } catch {}
  }
  const out = [];
  const walk = (p) => { for (const c of all.filter((q) => q.ppid === p)) { out.push(c); walk(c.pid); } };
  walk(root);
  return out;
}

/** The processes of wrangler dev for the Worker on `port`: {runtime, proxy, wrangler}. */
export function wranglerProcesses(port) {
  const tree = descendants();
  const top = tree.find((p) => p.cmd.some((a) => a.endsWith('wrangler-dist/cli.js')) && p.cmd.includes(String(port)));
  if (!top) throw new Error(`no wrangler dev for port ${port} among our children`);
  const mine = [top, ...descendants(top.pid)];
  const workerd = mine.filter((p) => p.cmd[0]?.endsWith('/workerd'));
  const runtime = workerd.find((p) => p.cmd.some((a) => a.startsWith('--inspector-addr')));
  const proxy = workerd.find((p) => p !== runtime);
  return { runtime, proxy, wrangler: top };
}

/** Sequential requests; CPU per request of each process, and wall time. */
export async function perRequestCpu(procs, n, op) {
  const entries = Object.entries(procs).filter(([, p]) => p);
  const before = entries.map(([, p]) => cpuMs(p.pid));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await op();
  const wall = (performance.now() - t0) / n;
  const out = { wall_ms: wall };
  entries.forEach(([k, p], i) => { out[k] = (cpuMs(p.pid) - before[i]) / n; });
  return out;
}

/** A DevTools-protocol session on wrangler's inspector port. */
export async function inspector(port) {
  const WebSocket = createRequire(import.meta.url)('ws'); // via miniflare/wrangler
  const list = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const ws = new WebSocket(list[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  let id = 0;
  const pending = new Map();
  ws.on('message', (d) => {
    const msg = JSON.parse(d);
    if (msg.id && pending.has(msg.id)) { pending.get(msg.id)(msg); pending.delete(msg.id); }
  });
  const send = (method, params = {}) => new Promise((resolve, reject) => {
    const i = ++id;
    const t = setTimeout(() => { pending.delete(i); reject(new Error(`inspector ${method}: no answer`)); }, 20000);
    pending.set(i, (m) => { clearTimeout(t); m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result); });
    ws.send(JSON.stringify({ id: i, method, params }));
  });
  return { send, close: () => ws.close() };
}

/**
 * Profiles the Worker's isolate during n sequential `op()`s. Per request: busy ms
 * (every sample but "(idle)"), of which in wasm (our Rust: the Worker's routing and the
 * merchant object's handlers), in the bundle's JS glue (wasm-bindgen, workers-rs), and
 * the rest (runtime builtins such as the objects' SQLite API, GC). Sampling every 250 µs
 * (each sample counted up to 500 µs) inflates what it measures a little; the Worker and
 * its Durable Objects share this isolate locally.
 */
export async function profileIsolate(session, n, op) {
  await session.send('Profiler.enable');
  await session.send('Profiler.setSamplingInterval', { interval: 250 });
  await session.send('Profiler.start');
  for (let i = 0; i < n; i++) await op();
  const { profile } = await session.send('Profiler.stop');
  await session.send('Profiler.disable');
  const kind = new Map(profile.nodes.map((nd) => {
    const { url, functionName } = nd.callFrame;
    if (functionName === '(idle)') return [nd.id, 'idle'];
    if (url.startsWith('wasm://')) return [nd.id, 'wasm'];
    if (url.includes('index.js') || url.includes('shim.mjs')) return [nd.id, 'glue'];
    return [nd.id, 'other'];
  }));
  const t = { idle: 0, wasm: 0, glue: 0, other: 0 };
  // A sample's delta also spans stretches when the isolate was not sampled at all
  // (nothing to run); capped at two intervals so those gaps are not booked as work.
  profile.samples.forEach((s, i) => { t[kind.get(s)] += Math.min(profile.timeDeltas[i] ?? 0, 500); });
  const per = (us) => us / 1000 / n;
  return { busy_ms: per(t.wasm + t.glue + t.other), wasm_ms: per(t.wasm), glue_ms: per(t.glue), other_ms: per(t.other) };
}
