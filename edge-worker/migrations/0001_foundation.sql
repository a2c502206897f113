-- Merchants, their API keys (hashes only), encrypted provider credentials,
-- payment intents, idempotent POSTs and received provider events.

CREATE TABLE merchants (
  id               TEXT PRIMARY KEY,            -- acct_…
  name             TEXT NOT NULL,
  country          TEXT NOT NULL,
  default_currency TEXT NOT NULL,
  platform_fee     TEXT NOT NULL DEFAULT '0.50', -- major units of the charge currency
  allowed_origins  TEXT NOT NULL DEFAULT '[]',   -- JSON array of origins
  livemode         INTEGER NOT NULL DEFAULT 0,
  created          INTEGER NOT NULL
);

-- Keys are looked up by a keyed hash; the key itself is shown once and never stored.
CREATE TABLE api_keys (
  hash        TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL REFERENCES merchants(id),
  kind        TEXT NOT NULL CHECK (kind IN ('secret', 'publishable')),
  last4       TEXT NOT NULL,
  created     INTEGER NOT NULL
);
CREATE INDEX api_keys_merchant ON api_keys(merchant_id, kind);

-- One row per merchant and provider: the config as AES-256-GCM ciphertext
-- (version byte ‖ nonce ‖ ciphertext+tag, AAD = merchant id and provider), and
-- the masked view that is safe to show.
CREATE TABLE provider_accounts (
  merchant_id TEXT NOT NULL REFERENCES merchants(id),
  provider    TEXT NOT NULL CHECK (provider IN ('stripe', 'worldpay', 'cashcloud')),
  sealed      TEXT NOT NULL,                    -- base64
  masked      TEXT NOT NULL,
  livemode    INTEGER NOT NULL,
  updated     INTEGER NOT NULL,
  PRIMARY KEY (merchant_id, provider)
);

CREATE TABLE payment_intents (
  id                 TEXT PRIMARY KEY,          -- pi_…
  merchant_id        TEXT NOT NULL REFERENCES merchants(id),
  client_secret      TEXT NOT NULL,
  provider           TEXT NOT NULL,
  provider_reference TEXT,
  status             TEXT NOT NULL,
  currency           TEXT NOT NULL,
  amount             INTEGER NOT NULL,          -- minor units of currency, exact
  amount_capturable  INTEGER NOT NULL,
  amount_received    INTEGER NOT NULL,
  amount_refunded    INTEGER NOT NULL,
  platform_fee       INTEGER NOT NULL,
  capture_method     TEXT NOT NULL,
  description        TEXT,
  order_reference    TEXT,
  customer           TEXT,
  setup_future_usage TEXT,
  metadata           TEXT,                      -- JSON object
  next_action        TEXT,                      -- JSON
  last_error         TEXT,                      -- JSON
  last_event_at      INTEGER,
  livemode           INTEGER NOT NULL,
  created            INTEGER NOT NULL
);
CREATE INDEX payment_intents_list ON payment_intents(merchant_id, created DESC, id DESC);

-- Idempotency-Key: the first response, byte for byte, for 24 h. A row with
-- status NULL is a request in flight: its twin waits or gets 409.
CREATE TABLE idempotency_keys (
  scope        TEXT NOT NULL,                   -- merchant id (and key kind)
  key          TEXT NOT NULL,
  request_hash TEXT NOT NULL,                   -- method, path and body
  status       INTEGER,
  body         TEXT,
  created      INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
);

-- Provider callbacks seen, for dedupe and audit.
CREATE TABLE provider_events (
  provider    TEXT NOT NULL,
  merchant_id TEXT NOT NULL,
  event_id    TEXT NOT NULL,
  object_id   TEXT,
  type        TEXT NOT NULL,
  outcome     TEXT NOT NULL,                    -- applied | ignored | unknown_object
  received    INTEGER NOT NULL,
  PRIMARY KEY (provider, merchant_id, event_id)
);
