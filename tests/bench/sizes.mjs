// Byte sizes: what a customer downloads from us before the card field shows, the
// provider's script (counted apart), and the Worker's wasm. Plus a section/function
// breakdown of a wasm file, for saying what costs the bytes.
import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';
import path from 'node:path';

export const sizes = (buf) => ({
  raw: buf.length,
  gzip: gzipSync(buf, { level: 9 }).length,
  brotli: brotliCompressSync(buf, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: buf.length },
  }).length,
});

/** The release build's files (build/assets/v1, edge-worker/build). */
export function buildFiles(root) {
  const v1 = path.join(root, 'build/assets/v1');
  const names = readdirSync(v1);
  const wasmName = names.find((f) => /^checkout-[0-9a-f]+\.wasm$/.test(f));
  if (!wasmName) throw new Error(`no checkout-<hash>.wasm in ${v1}: run make build`);
  const css = names.filter((f) => f.endsWith('.css'));
  const i18n = path.join(v1, 'i18n');
  return {
    // The string tables loaded beside the wasm for a non-English customer.
    tables: readdirSync(i18n).map((f) => ({ name: f, bytes: readFileSync(path.join(i18n, f)) })),
    wasmName,
    script: readFileSync(path.join(v1, 'checkout.js')),
    wasm: readFileSync(path.join(v1, wasmName)),
    css: css.map((f) => readFileSync(path.join(v1, f))),
    worker: readFileSync(path.join(root, 'edge-worker/build/index_bg.wasm')),
    workerJs: readFileSync(path.join(root, 'edge-worker/build/index.js')),
  };
}

export function widgetSizes(files) {
  const script = sizes(files.script);
  const wasm = sizes(files.wasm);
  const css = files.css.map(sizes).reduce((a, s) => ({ raw: a.raw + s.raw, gzip: a.gzip + s.gzip, brotli: a.brotli + s.brotli }),
    { raw: 0, gzip: 0, brotli: 0 });
  const sum = (k) => script[k] + wasm[k] + css[k];
  const tables = files.tables.map((t) => ({ name: t.name, ...sizes(t.bytes) }));
  const largest = tables.reduce((a, t) => (t.brotli > a.brotli ? t : a), { raw: 0, gzip: 0, brotli: 0 });
  return {
    script, wasm, css, tables,
    critical: { raw: sum('raw'), gzip: sum('gzip'), brotli: sum('brotli') },
    // The worst language: English is built in, the others add their table.
    critical_largest_language: { raw: sum('raw') + largest.raw, gzip: sum('gzip') + largest.gzip, brotli: sum('brotli') + largest.brotli, table: largest.name },
  };
}

// --- a minimal wasm reader: section sizes, and the largest function bodies --------
function leb(buf, pos) {
  let result = 0, shift = 0, b;
  do { b = buf[pos++]; result += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
  return [result, pos];
}
const SECTION = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'datacount'];

/** {sections: [{name, bytes}], functions: [{index, bytes, name?}] (largest first), imports} */
export function wasmAnatomy(buf) {
  let pos = 8;
  const sections = [];
  let importedFuncs = 0;
  const bodies = [];
  const names = new Map();
  const exports = new Map();
  while (pos < buf.length) {
    const id = buf[pos++];
    let size; [size, pos] = leb(buf, pos);
    const start = pos, end = pos + size;
    let name = SECTION[id] ?? `id${id}`;
    if (id === 0) {
      let n; [n, pos] = leb(buf, pos);
      name = `custom:${buf.subarray(pos, pos + n).toString()}`;
      pos += n;
      if (name === 'custom:name') {
        while (pos < end) {
          const sub = buf[pos++]; let len; [len, pos] = leb(buf, pos);
          const subEnd = pos + len;
          if (sub === 1) {
            let count; [count, pos] = leb(buf, pos);
            for (let i = 0; i < count; i++) {
              let idx, l; [idx, pos] = leb(buf, pos); [l, pos] = leb(buf, pos);
              names.set(idx, buf.subarray(pos, pos + l).toString()); pos += l;
            }
          }
          pos = subEnd;
        }
      }
    } else if (id === 2) {
      let count; [count, pos] = leb(buf, pos);
      for (let i = 0; i < count; i++) {
        for (let k = 0; k < 2; k++) { let l; [l, pos] = leb(buf, pos); pos += l; }
        const kind = buf[pos++];
        if (kind === 0) { importedFuncs++; [, pos] = leb(buf, pos); }
        else if (kind === 1) { pos++; const f = buf[pos++]; [, pos] = leb(buf, pos); if (f & 1) [, pos] = leb(buf, pos); }
        else if (kind === 2) { const f = buf[pos++]; [, pos] = leb(buf, pos); if (f & 1) [, pos] = leb(buf, pos); }
        else if (kind === 3) { pos += 2; }
        else { pos++; [, pos] = leb(buf, pos); }
      }
    } else if (id === 7) {
      let count; [count, pos] = leb(buf, pos);
      for (let i = 0; i < count; i++) {
        let l; [l, pos] = leb(buf, pos); const n = buf.subarray(pos, pos + l).toString(); pos += l;
        const kind = buf[pos++]; let idx; [idx, pos] = leb(buf, pos);
        if (kind === 0) exports.set(idx, n);
      }
    } else if (id === 10) {
      let count; [count, pos] = leb(buf, pos);
      for (let i = 0; i < count; i++) {
        let l; [l, pos] = leb(buf, pos);
        bodies.push({ index: importedFuncs + i, bytes: l });
        pos += l;
      }
    }
    sections.push({ name, bytes: size });
    pos = end;
  }
  for (const f of bodies) f.name = names.get(f.index) ?? exports.get(f.index);
  bodies.sort((a, b) => b.bytes - a.bytes);
  return { sections, functions: bodies, importedFuncs, named: names.size > 0 };
}
