-- Cashcloud's per-merchant daily transaction count (corporate plan: at most 5 a day),
-- claimed with one conditional upsert so two confirms cannot both take the fifth slot.
CREATE TABLE cashcloud_daily (
  merchant_id TEXT NOT NULL REFERENCES merchants(id),
  day         TEXT NOT NULL,                    -- UTC date, YYYY-MM-DD
  count       INTEGER NOT NULL,
  PRIMARY KEY (merchant_id, day)
);
-- Open wallet requests the cron re-checks: processing intents by expiry.
ALTER TABLE payment_intents ADD COLUMN expires_at INTEGER;
CREATE INDEX payment_intents_open ON payment_intents(status, expires_at) WHERE status = 'processing';
