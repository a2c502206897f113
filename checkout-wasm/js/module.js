// `import { mount } from "{worker}/v1/checkout.mjs"` (or the npm package, which needs
// `apiBase`: bundled, it no longer knows which Worker it came from).
import { start } from './core.js';

export function mount(target, options = {}) {
  return start(target, options, new URL(import.meta.url).origin);
}
