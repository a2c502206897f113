// `make load`: LOAD_CUSTOMERS (default 200) concurrent customers — Stripe with and without
// 3-D Secure, Worldpay, Cashcloud — pay, are captured and refunded, beside 20 refunds
// racing on one intent, against a stack of its own (Worker 8837, localstripe 8460, the
// other stand-ins 8461–8464; LOAD_PORT, LOAD_STRIPE_PORT; throw-away state). Prints
// throughput, p50/p99 and our books beside the stand-ins'; fails if they differ by a
// centime, or a payment was lost or made twice (tests/load/customers.mjs).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startStack, ROOT } from './stack.mjs';
import { runLoad, report, problems } from '../load/customers.mjs';

const customers = Number(process.env.LOAD_CUSTOMERS || 200);
const port = Number(process.env.LOAD_PORT || 8837);
const stripePort = Number(process.env.LOAD_STRIPE_PORT || 8460);
mkdirSync(path.join(ROOT, 'tests/out'), { recursive: true });
const stateDir = mkdtempSync(path.join(ROOT, 'tests/out/load-'));
const admin = `adm_load_${randomBytes(16).toString('hex')}`;
const stack = await startStack({
  port, stripePort, stateDir,
  vars: { ADMIN_TOKEN: admin, MASTER_KEY: randomBytes(32).toString('base64') },
  logFile: `${stateDir}.log`,
});
let status = 1;
try {
  const r = await runLoad({
    worker: stack.url, stripe: stack.stripeUrl, proxy: stack.stripeProxyUrl,
    worldpay: stack.worldpayUrl, cashcloud: stack.cashcloudUrl, admin,
  }, { customers, log: console.log });
  console.log(report(r));
  writeFileSync(path.join(ROOT, 'tests/out/load.json'), JSON.stringify(r, null, 2) + '\n');
  const wrong = problems(r);
  if (wrong.length) console.error(`\nFAILED:\n  ${wrong.join('\n  ')}`);
  else console.log('\nbooks agree: 0 lost, 0 duplicated');
  status = wrong.length ? 1 : 0;
} finally {
  await stack.stop();
  if (!process.env.KEEP_STATE) rmSync(stateDir, { recursive: true, force: true });
}
process.exit(status);
