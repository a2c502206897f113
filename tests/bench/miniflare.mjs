// The built Worker served by Miniflare directly (workerd without wrangler's dev
// proxy in front), with its Durable Objects on SQLite storage: how the Worker's own
// overhead is measured apart from the local tooling. Loopback only.
import path from 'node:path';
import { Miniflare } from 'miniflare';

/**
 * @param {object} o
 * @param {string} o.root   the repository root
 * @param {number} o.port   where Miniflare listens (127.0.0.1)
 * @param {object} o.vars   the Worker's vars and secrets (as tests/tools/stack.mjs passes them)
 * @returns {Promise<{url: string, stop: () => Promise<void>}>}
 */
export async function startMiniflare({ root, port, vars }) {
  const mf = new Miniflare({
    modules: true,
    scriptPath: path.join(root, 'edge-worker/build/index.js'),
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true }],
    compatibilityDate: '2026-05-01',
    durableObjects: {
      MERCHANT: { className: 'MerchantObject', useSQLite: true },
      PLATFORM: { className: 'PlatformObject', useSQLite: true },
    },
    bindings: vars,
    host: '127.0.0.1',
    port,
  });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  return { url, stop: () => mf.dispose() };
}
