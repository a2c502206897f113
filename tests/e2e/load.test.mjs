// The short form of `make load` (tests/load/customers.mjs): 50 concurrent customers over
// the four ways to pay, and 20 refunds racing on one intent, against the test stack; our
// ledger and intents must equal the stand-ins' records to the centime, every payment
// made exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runLoad, report, problems } from '../load/customers.mjs';
import { WORKER, STRIPE, PROXY, ADMIN } from './lib.mjs';

test('50 concurrent customers pay, are captured and refunded; the books equal the providers\' to the centime', async () => {
  const r = await runLoad({
    worker: WORKER, stripe: STRIPE, proxy: PROXY,
    worldpay: process.env.WORLDPAY_URL, cashcloud: process.env.CASHCLOUD_URL, admin: ADMIN,
  }, { customers: Number(process.env.LOAD_TEST_CUSTOMERS || 50) });
  console.log(report(r));
  assert.deepEqual(problems(r), []);
});
