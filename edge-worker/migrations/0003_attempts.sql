-- Each confirm is one attempt at the provider; its number is part of the provider
-- idempotency key, so a new card after a decline is a new request, and a retried
-- request of the same attempt is a replay.
ALTER TABLE payment_intents ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
