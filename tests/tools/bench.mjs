// `make bench`: figures, not pass/fail. Sizes of what a customer downloads for the
// widget and of the Worker, from the release build that `make build` just made.
// Writes bench-results.json at the repository root.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';
import path from 'node:path';
import { ROOT } from './stack.mjs';

const sizes = (buf) => ({
  raw: buf.length,
  gzip: gzipSync(buf, { level: 9 }).length,
  brotli: brotliCompressSync(buf, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: buf.length },
  }).length,
});

const v1 = path.join(ROOT, 'build/assets/v1');
const wasmName = readdirSync(v1).find((f) => /^checkout-[0-9a-f]+\.wasm$/.test(f));
const script = sizes(readFileSync(path.join(v1, 'checkout.js')));
const wasm = sizes(readFileSync(path.join(v1, wasmName)));
const worker = sizes(readFileSync(path.join(ROOT, 'edge-worker/build/index_bg.wasm')));
const workerJs = sizes(readFileSync(path.join(ROOT, 'edge-worker/build/index.js')));

const results = {
  widget_script_bytes: script,
  widget_wasm_bytes: wasm,
  widget_critical_path_raw_bytes: script.raw + wasm.raw,
  widget_critical_path_gzip_bytes: script.gzip + wasm.gzip,
  widget_critical_path_brotli_bytes: script.brotli + wasm.brotli,
  worker_wasm_raw_bytes: worker.raw,
  worker_wasm_gzip_bytes: worker.gzip,
  worker_js_gzip_bytes: workerJs.gzip,
  measured_at: new Date().toISOString(),
};
writeFileSync(path.join(ROOT, 'bench-results.json'), JSON.stringify(results, null, 2) + '\n');

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`.padStart(10);
console.log('\n  what                          raw        gzip -9    brotli -q11');
for (const [name, s] of [['widget checkout.js', script], [`widget ${wasmName}`, wasm]]) {
  console.log(`  ${name.padEnd(28)}${kb(s.raw)} ${kb(s.gzip)} ${kb(s.brotli)}`);
}
console.log(`  ${'widget, both (critical path)'.padEnd(28)}${kb(results.widget_critical_path_raw_bytes)} ${kb(results.widget_critical_path_gzip_bytes)} ${kb(results.widget_critical_path_brotli_bytes)}`);
console.log(`  ${'worker index_bg.wasm'.padEnd(28)}${kb(worker.raw)} ${kb(worker.gzip)}`);
console.log(`  ${'worker index.js (glue)'.padEnd(28)}${kb(workerJs.raw)} ${kb(workerJs.gzip)}`);
console.log('\n  written to bench-results.json');
