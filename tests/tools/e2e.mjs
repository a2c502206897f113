// Runs tests/e2e/*.test.mjs with node's test runner against a stack of its own:
// other ports than `make dev`, and a fresh state directory each run.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startStack, ROOT } from './stack.mjs';

const port = Number(process.env.E2E_PORT || 8797);
const stripePort = Number(process.env.E2E_STRIPE_PORT || 8430);
mkdirSync(path.join(ROOT, 'tests/out'), { recursive: true });
const stateDir = mkdtempSync(path.join(ROOT, 'tests/out/state-'));
const adminToken = `adm_test_${randomBytes(16).toString('hex')}`;
const masterKey = randomBytes(32).toString('base64');
const logFile = path.join(stateDir, '..', `${path.basename(stateDir)}.log`);

const stack = await startStack({
  port, stripePort, stateDir,
  vars: { ADMIN_TOKEN: adminToken, MASTER_KEY: masterKey },
  logFile,
  log: process.env.VERBOSE ? console.log : undefined,
});
let status = 1;
try {
  const dir = path.join(ROOT, 'tests/e2e');
  // E2E_FILES=stripe,merchants runs only those files (for a quick loop while working).
  const only = process.env.E2E_FILES?.split(',');
  const files = readdirSync(dir).filter((f) => f.endsWith('.test.mjs'))
    .filter((f) => !only || only.includes(f.replace('.test.mjs', ''))).sort().map((f) => path.join(dir, f));
  const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], {
    stdio: 'inherit',
    env: {
      ...process.env,
      WORKER_URL: stack.url,
      STRIPE_URL: stack.stripeUrl,
      STRIPE_JS_URL: stack.stripeJsUrl,
      STRIPE_PROXY_URL: stack.stripeProxyUrl,
      CASHCLOUD_URL: stack.cashcloudUrl,
      WORLDPAY_URL: stack.worldpayUrl,
      ADMIN_TOKEN: adminToken,
      MASTER_KEY: masterKey,
      STATE_DIR: stateDir,
      WORKER_LOG: logFile,
    },
  });
  status = r.status ?? 1;
} finally {
  await stack.stop();
  if (!process.env.KEEP_STATE) {
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(logFile, { force: true });
  }
}
process.exit(status);
