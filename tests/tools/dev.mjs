// `make dev`: the whole local stack on its usual ports until Ctrl-C.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startStack, ROOT } from './stack.mjs';

const port = Number(process.env.PORT || 8787);
const stripePort = Number(process.env.STRIPE_PORT || 8420);
const stack = await startStack({
  port,
  stripePort,
  stateDir: path.join(ROOT, '.wrangler/state'),
  stripeState: path.join(ROOT, '.wrangler/localstripe.pickle'),
  batchMs: 5000,
  log: process.env.VERBOSE ? console.log : undefined,
});
// For the demo shop only: where localstripe is, to register merchants' webhooks there.
writeFileSync(path.join(ROOT, 'build/assets/dev-config.json'), JSON.stringify({ localstripe: stack.stripeUrl }) + '\n');
const vars = Object.fromEntries(readFileSync(path.join(ROOT, '.dev.vars'), 'utf8')
  .split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

console.log(`
  Edge checkout is running (Ctrl-C stops everything):
    Demo shop        ${stack.url}/
    Merchant settings ${stack.url}/settings.html
    API              ${stack.url}/v1/…   (${stack.url}/openapi.json)
    localstripe      ${stack.stripeUrl}
    Stripe.js stand-in ${stack.stripeJsUrl}
    Cashcloud wallet app ${stack.cashcloudUrl}/wallet   (alice@example.com, PIN 1234)
    Worldpay stand-in ${stack.worldpayUrl}   (hosted page; test card 4444 3333 2222 1111)
    Admin token      ${vars.ADMIN_TOKEN}
`);
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping…');
    await stack.stop();
    process.exit(0);
  });
}
setInterval(() => {}, 1 << 30);
