-- Provider flows: an optimistic-concurrency version on intents, and refunds.

-- Every state write is `… WHERE version = <read>`: a lost race re-reads and re-applies.
ALTER TABLE payment_intents ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX payment_intents_provider_ref ON payment_intents(provider, provider_reference)
  WHERE provider_reference IS NOT NULL;

CREATE TABLE refunds (
  id                 TEXT PRIMARY KEY,          -- re_…
  merchant_id        TEXT NOT NULL REFERENCES merchants(id),
  payment_intent     TEXT NOT NULL REFERENCES payment_intents(id),
  amount             INTEGER NOT NULL,          -- minor units of the intent's currency
  currency           TEXT NOT NULL,
  status             TEXT NOT NULL,             -- pending | succeeded | failed
  provider_reference TEXT,
  created            INTEGER NOT NULL
);
CREATE INDEX refunds_intent ON refunds(payment_intent, created);
