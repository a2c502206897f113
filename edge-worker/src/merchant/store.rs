//! Every SQL statement of a merchant's Durable Object. The object is the only writer
//! of its merchant's data, and SQLite calls here are synchronous: a check and the
//! write it guards run with no `await` between them, so they commit as one and no
//! other request can interleave (DESIGN.md, "One writer per merchant").

use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::str::FromStr;
use worker::{SqlStorage, SqlStorageValue as V};

use shared::api::{IntentRecord, NextAction, PaymentIntent, Refund, RefundObject, RefundStatus};
use shared::error::ApiError;
use shared::intent::{CaptureMethod, IntentState, IntentStatus, Provider, ProviderEvent};
use shared::ledger::{entries_for, Balances, Entry, EntryKind};
use shared::money::{Currency, Money};
use shared::webhooks::{intent_event, EventType};

use crate::http::{ApiResult, Fail};

pub mod billing;
pub mod reconcile;

/// The merchant object's tables. `IF NOT EXISTS`: run on every start, so a new
/// table appears in old objects too.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS merchant (
       id TEXT PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL,
       default_currency TEXT NOT NULL, platform_fee TEXT NOT NULL DEFAULT '0.50',
       allowed_origins TEXT NOT NULL DEFAULT '[]', livemode INTEGER NOT NULL, created INTEGER NOT NULL)",
    // Hashes only; the key is shown once and never stored.
    // `livemode`: the mode the key acts in (its prefix says it too).
    "CREATE TABLE IF NOT EXISTS api_keys (
       hash TEXT PRIMARY KEY, kind TEXT NOT NULL, last4 TEXT NOT NULL, created INTEGER NOT NULL,
       livemode INTEGER NOT NULL DEFAULT 0)",
    // AES-256-GCM ciphertext of the provider's settings, and the masked view.
    // One per provider and mode: test credentials never serve live payments.
    "CREATE TABLE IF NOT EXISTS provider_accounts (
       provider TEXT NOT NULL, sealed TEXT NOT NULL, masked TEXT NOT NULL,
       livemode INTEGER NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY (provider, livemode))",
    "CREATE UNIQUE INDEX IF NOT EXISTS provider_accounts_mode ON provider_accounts(provider, livemode)",
    // Amounts other than `amount` and the fee are not columns: they are ledger sums.
    "CREATE TABLE IF NOT EXISTS payment_intents (
       id TEXT PRIMARY KEY, client_secret TEXT NOT NULL, provider TEXT NOT NULL,
       provider_reference TEXT, status TEXT NOT NULL, currency TEXT NOT NULL,
       amount INTEGER NOT NULL, platform_fee INTEGER NOT NULL, capture_method TEXT NOT NULL,
       description TEXT, order_reference TEXT, customer TEXT, setup_future_usage TEXT,
       metadata TEXT, next_action TEXT, last_error TEXT, last_event_at INTEGER,
       attempts INTEGER NOT NULL DEFAULT 0, expires_at INTEGER,
       livemode INTEGER NOT NULL, created INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS payment_intents_list ON payment_intents(created DESC, id DESC)",
    "CREATE UNIQUE INDEX IF NOT EXISTS payment_intents_ref ON payment_intents(provider, provider_reference)
       WHERE provider_reference IS NOT NULL",
    // One row per call that may move money, written before the call: a call whose
    // answer never came is `unknown` until the provider is asked.
    // `payment_method`: what the attempt sent, so a call whose answer was lost can be
    // sent again exactly (same provider idempotency key, same body).
    "CREATE TABLE IF NOT EXISTS attempts (
       payment_intent TEXT NOT NULL, number INTEGER NOT NULL, outcome TEXT NOT NULL,
       payment_method TEXT, return_url TEXT, created INTEGER NOT NULL,
       PRIMARY KEY (payment_intent, number))",
    "CREATE TABLE IF NOT EXISTS refunds (
       id TEXT PRIMARY KEY, payment_intent TEXT NOT NULL, amount INTEGER NOT NULL,
       currency TEXT NOT NULL, status TEXT NOT NULL, provider_reference TEXT, created INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS refunds_intent ON refunds(payment_intent, created)",
    // Append-only: rows are inserted, never updated or deleted.
    "CREATE TABLE IF NOT EXISTS ledger (
       seq INTEGER PRIMARY KEY AUTOINCREMENT, payment_intent TEXT NOT NULL, refund TEXT,
       kind TEXT NOT NULL, amount INTEGER NOT NULL CHECK (amount > 0), currency TEXT NOT NULL,
       created INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ledger_intent ON ledger(payment_intent)",
    "CREATE TABLE IF NOT EXISTS idempotency (
       scope TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL, status INTEGER,
       body TEXT, created INTEGER NOT NULL, PRIMARY KEY (scope, key))",
    "CREATE TABLE IF NOT EXISTS provider_events (
       provider TEXT NOT NULL, event_id TEXT NOT NULL, object_id TEXT, type TEXT NOT NULL,
       outcome TEXT NOT NULL, received INTEGER NOT NULL, PRIMARY KEY (provider, event_id))",
    "CREATE TABLE IF NOT EXISTS cashcloud_daily (day TEXT PRIMARY KEY, count INTEGER NOT NULL)",
    // Events for the merchant (API.md "Telling the merchant"): written in the same
    // synchronous step as the change they report; `body` is the exact JSON every
    // delivery sends and GET returns. Kept 30 days.
    "CREATE TABLE IF NOT EXISTS events (
       id TEXT PRIMARY KEY, type TEXT NOT NULL, created INTEGER NOT NULL,
       livemode INTEGER NOT NULL, body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS events_list ON events(created DESC, id DESC)",
    // The merchant's endpoints: the signing secret sealed like provider credentials;
    // after a roll the previous one keeps signing until `previous_until`.
    "CREATE TABLE IF NOT EXISTS webhook_endpoints (
       id TEXT PRIMARY KEY, url TEXT NOT NULL, enabled_events TEXT NOT NULL,
       sealed TEXT NOT NULL, previous_sealed TEXT, previous_until INTEGER,
       livemode INTEGER NOT NULL, created INTEGER NOT NULL)",
    // The outbox: one row per event and endpoint, written with the event. `next_at`
    // is on the object's clock (see `clock_now`); a row being sent is leased by
    // moving `next_at` past the send's timeout.
    "CREATE TABLE IF NOT EXISTS deliveries (
       event TEXT NOT NULL, endpoint TEXT NOT NULL, status TEXT NOT NULL,
       attempts INTEGER NOT NULL, next_at INTEGER, PRIMARY KEY (event, endpoint))",
    "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(status, next_at)",
    "CREATE TABLE IF NOT EXISTS delivery_attempts (
       event TEXT NOT NULL, endpoint TEXT NOT NULL, number INTEGER NOT NULL, at INTEGER NOT NULL,
       status_code INTEGER, error TEXT, next_at INTEGER, PRIMARY KEY (event, endpoint, number))",
    // Test mode's clock: how far a test has moved the object's clock ahead of the
    // real one (`POST /v1/test_helpers/advance_clock`). Scheduling reads it; money
    // movements and signatures use real time.
    "CREATE TABLE IF NOT EXISTS test_clock (id INTEGER PRIMARY KEY CHECK (id = 1), offset INTEGER NOT NULL)",
    // Only in the platform's object: the admin's list of merchants.
    "CREATE TABLE IF NOT EXISTS registry (
       id TEXT PRIMARY KEY, name TEXT NOT NULL, livemode INTEGER NOT NULL, created INTEGER NOT NULL)",
];

/// (table, column, declaration) of columns that tables got after they first shipped.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("api_keys", "livemode", "INTEGER NOT NULL DEFAULT 0"),
    // The publishable key itself (public by design), for pages the Worker serves.
    ("api_keys", "value", "TEXT"),
    // 'application_fee' when Stripe Connect took the platform fee at once.
    ("payment_intents", "fee_collection", "TEXT"),
    // The subscription invoice this payment pays.
    ("payment_intents", "invoice", "TEXT"),
    // An attempt that charged a saved card without the customer (resent as such).
    ("attempts", "off_session", "INTEGER NOT NULL DEFAULT 0"),
];

/// The merchant as every handler sees it.
#[derive(Debug, Clone, Deserialize)]
pub struct Merchant {
    pub id: String,
    pub name: String,
    pub country: String,
    pub default_currency: String,
    pub platform_fee: String,
    pub allowed_origins: String,
    pub livemode: i64,
    pub created: i64,
}

impl Merchant {
    pub fn origins(&self) -> Vec<String> {
        serde_json::from_str(&self.allowed_origins).unwrap_or_default()
    }

    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins().iter().any(|o| o == origin)
    }
}

/// One `payment_intents` row. Amounts are minor units.
#[derive(Debug, Clone, Deserialize)]
pub struct IntentRow {
    pub id: String,
    pub client_secret: String,
    pub provider: String,
    pub provider_reference: Option<String>,
    pub status: String,
    pub currency: String,
    pub amount: i64,
    pub platform_fee: i64,
    pub capture_method: String,
    pub next_action: Option<String>,
    pub last_error: Option<String>,
    pub last_event_at: Option<i64>,
    pub description: Option<String>,
    pub order_reference: Option<String>,
    pub customer: Option<String>,
    pub setup_future_usage: Option<String>,
    pub attempts: i64,
    pub expires_at: Option<i64>,
    pub livemode: i64,
    pub created: i64,
}

/// An intent with the sums of its ledger.
#[derive(Debug, Clone)]
pub struct Intent {
    pub row: IntentRow,
    pub balances: Balances,
}

fn corrupt(what: &str, id: &str) -> Fail {
    Fail::Internal(worker::Error::RustError(format!("stored {id}: bad {what}")))
}

impl Intent {
    pub fn id(&self) -> &str {
        &self.row.id
    }

    pub fn currency(&self) -> ApiResult<Currency> {
        Currency::from_str(&self.row.currency).map_err(|_| corrupt("currency", &self.row.id))
    }

    pub fn provider(&self) -> ApiResult<Provider> {
        Provider::from_str(&self.row.provider).map_err(|_| corrupt("provider", &self.row.id))
    }

    pub fn status(&self) -> ApiResult<IntentStatus> {
        IntentStatus::from_str(&self.row.status).map_err(|_| corrupt("status", &self.row.id))
    }

    pub fn money(&self, minor: i64) -> ApiResult<Money> {
        Money::from_minor_units(minor, self.currency()?)
            .map_err(|_| corrupt("amount", &self.row.id))
    }

    /// The domain's view: status from the row, amounts from the ledger.
    pub fn state(&self) -> ApiResult<IntentState> {
        let mut state = IntentState {
            last_event_at: self.row.last_event_at,
            last_error: self.row.last_error.clone(),
            status: self.status()?,
            ..IntentState::new(
                self.money(self.row.amount)?,
                CaptureMethod::from_str(&self.row.capture_method)
                    .map_err(|_| corrupt("capture_method", &self.row.id))?,
            )
        };
        self.balances
            .fill(&mut state)
            .map_err(|_| corrupt("ledger", &self.row.id))?;
        Ok(state)
    }

    pub fn record(&self) -> ApiResult<IntentRecord> {
        Ok(IntentRecord {
            id: self.row.id.clone(),
            client_secret: self.row.client_secret.clone(),
            provider: self.provider()?,
            provider_reference: self.row.provider_reference.clone(),
            platform_fee: self.money(self.row.platform_fee)?,
            next_action: match &self.row.next_action {
                Some(j) => Some(
                    serde_json::from_str::<NextAction>(j)
                        .map_err(|_| corrupt("next_action", &self.row.id))?,
                ),
                None => None,
            },
            created: self.row.created,
            livemode: self.row.livemode != 0,
        })
    }

    pub fn to_api(&self) -> ApiResult<PaymentIntent> {
        let mut pi = PaymentIntent::from_state(&self.record()?, &self.state()?);
        let currency = self.currency()?;
        let signed = |minor| {
            shared::ledger::signed_amount(minor, currency).map_err(|_| corrupt("ledger", self.id()))
        };
        if self.balances.provider_fee > 0 {
            pi.provider_fee = Some(signed(self.balances.provider_fee)?);
        }
        pi.net = signed(self.balances.net())?;
        Ok(pi)
    }
}

/// A new intent as `create` writes it.
pub struct NewIntent<'a> {
    pub id: &'a str,
    pub client_secret: &'a str,
    pub provider: Provider,
    pub amount: Money,
    pub platform_fee: Money,
    pub capture_method: CaptureMethod,
    pub description: Option<&'a str>,
    pub order_reference: Option<&'a str>,
    pub customer: Option<&'a str>,
    pub setup_future_usage: Option<&'a str>,
    pub metadata: Option<&'a str>,
    pub livemode: bool,
    pub now: i64,
}

/// How an attempt's provider call ended (an attempt is `open` while the call runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The provider answered; the intent shows what it said.
    Done,
    /// No answer (timeout, 5xx, 429, lost connection): only the provider can tell.
    Unknown,
}

impl AttemptOutcome {
    fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Done => "done",
            AttemptOutcome::Unknown => "unknown",
        }
    }
}

/// One `refunds` row; `status` is a [`RefundStatus`] name.
#[derive(Debug, Clone, Deserialize)]
pub struct RefundRow {
    pub id: String,
    pub payment_intent: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub provider_reference: Option<String>,
    pub created: i64,
}

impl RefundRow {
    pub fn status(&self) -> ApiResult<RefundStatus> {
        RefundStatus::from_str(&self.status).map_err(|_| corrupt("refund status", &self.id))
    }
}

impl RefundRow {
    /// The contract's view, amounts in its intent's currency.
    pub fn to_api(&self, intent: &Intent) -> ApiResult<Refund> {
        Ok(Refund {
            id: self.id.clone(),
            object: RefundObject::Refund,
            payment_intent: self.payment_intent.clone(),
            amount: intent.money(self.amount)?.to_amount_string(),
            currency: intent.currency()?,
            status: self.status()?,
            created: self.created,
        })
    }
}

/// One `events` row.
#[derive(Debug, Clone, Deserialize)]
pub struct EventRow {
    pub id: String,
    pub created: i64,
    pub body: String,
}

/// One `webhook_endpoints` row.
#[derive(Debug, Clone, Deserialize)]
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub enabled_events: String,
    pub sealed: String,
    pub previous_sealed: Option<String>,
    pub previous_until: Option<i64>,
    pub livemode: i64,
    pub created: i64,
}

impl EndpointRow {
    pub fn enabled_events(&self) -> Vec<String> {
        serde_json::from_str(&self.enabled_events).unwrap_or_default()
    }
}

/// A delivery the alarm is about to send.
#[derive(Debug, Clone, Deserialize)]
pub struct DueDelivery {
    pub event: String,
    pub endpoint: String,
    pub attempts: i64,
}

/// One try at delivering an event to an endpoint.
#[derive(Debug, Clone, Deserialize)]
pub struct AttemptRow {
    pub endpoint: String,
    pub number: i64,
    pub at: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub next_at: Option<i64>,
}

/// How a delivery stands; `Pending` until a 2xx or the 3 days are over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// One `ledger` row.
#[derive(Debug, Clone, Deserialize)]
pub struct LedgerRow {
    pub seq: i64,
    pub payment_intent: String,
    pub refund: Option<String>,
    pub kind: String,
    pub amount: i64,
    pub currency: String,
    pub created: i64,
}

/// What the ledger's list may be filtered by.
#[derive(Default)]
pub struct LedgerFilter {
    pub payment_intent: Option<String>,
    pub kinds: Vec<EntryKind>,
    pub created_gte: Option<i64>,
    pub created_lt: Option<i64>,
    /// Continue strictly below this row.
    pub before_seq: Option<i64>,
    pub limit: u32,
}

/// What the intents list may be filtered by.
#[derive(Default)]
pub struct IntentFilter {
    pub livemode: bool,
    pub status: Option<IntentStatus>,
    pub provider: Option<Provider>,
    pub created_gte: Option<i64>,
    /// Continue strictly below this (created, id).
    pub before: Option<(i64, String)>,
    pub limit: u32,
}

pub struct Store {
    sql: SqlStorage,
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

fn opt(v: Option<&str>) -> V {
    v.map_or(V::Null, |s| V::String(s.to_owned()))
}

impl Store {
    /// The object's SQL, behind this store: the only way in (no SQL outside `merchant/`).
    pub fn of(storage: &worker::Storage) -> Store {
        Store { sql: storage.sql() }
    }

    pub fn migrate(&self) -> worker::Result<()> {
        for stmt in SCHEMA
            .iter()
            .chain(billing::SCHEMA)
            .chain(reconcile::SCHEMA)
        {
            self.sql.exec(stmt, None)?;
        }
        // Columns added after a table first shipped: objects made before get them here.
        for (table, column, decl) in ADDED_COLUMNS {
            let present = self
                .first::<Count>(
                    "SELECT COUNT(*) AS n FROM pragma_table_info(?) WHERE name = ?",
                    vec![(*table).into(), (*column).into()],
                )?
                .is_some_and(|c| c.n > 0);
            if !present {
                self.sql.exec(
                    &format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"),
                    None,
                )?;
            }
        }
        Ok(())
    }

    fn all<T: DeserializeOwned>(&self, q: &str, args: Vec<V>) -> worker::Result<Vec<T>> {
        self.sql.exec(q, args)?.to_array()
    }

    fn first<T: DeserializeOwned>(&self, q: &str, args: Vec<V>) -> worker::Result<Option<T>> {
        Ok(self.all(q, args)?.into_iter().next())
    }

    /// Runs a write; whether it wrote anything is `> 0` (SQLite's count includes
    /// index rows, so it is not the number of table rows).
    fn run(&self, q: &str, args: Vec<V>) -> worker::Result<usize> {
        let c = self.sql.exec(q, args)?;
        for _ in c.raw() {}
        Ok(c.rows_written())
    }

    // ---- the merchant and its keys -------------------------------------------------

    pub fn merchant(&self) -> worker::Result<Option<Merchant>> {
        self.first("SELECT * FROM merchant LIMIT 1", vec![])
    }

    /// Writes a new merchant with its first keys (from the platform's onboarding).
    pub fn init_merchant(
        &self,
        m: &Merchant,
        keys: &[(String, &str, String)],
    ) -> worker::Result<bool> {
        if self.merchant()?.is_some() {
            return Ok(false);
        }
        self.run(
            "INSERT INTO merchant (id, name, country, default_currency, platform_fee, allowed_origins, livemode, created) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                m.id.as_str().into(),
                m.name.as_str().into(),
                m.country.as_str().into(),
                m.default_currency.as_str().into(),
                m.platform_fee.as_str().into(),
                m.allowed_origins.as_str().into(),
                m.livemode.into(),
                m.created.into(),
            ],
        )?;
        for (hash, kind, last4) in keys {
            self.insert_key(hash, kind, last4, false, m.created)?;
        }
        Ok(true)
    }

    pub fn update_merchant(&self, name: &str, allowed_origins: &str) -> worker::Result<()> {
        self.run(
            "UPDATE merchant SET name = ?, allowed_origins = ?",
            vec![name.into(), allowed_origins.into()],
        )?;
        Ok(())
    }

    /// The platform's fee per transaction, for intents created from now on (each
    /// intent keeps the fee it was created with).
    /// The platform has issued this merchant live keys.
    pub fn set_live_enabled(&self) -> worker::Result<()> {
        self.run("UPDATE merchant SET livemode = 1", vec![])?;
        Ok(())
    }

    pub fn set_platform_fee(&self, fee: &str) -> worker::Result<()> {
        self.run("UPDATE merchant SET platform_fee = ?", vec![fee.into()])?;
        Ok(())
    }

    fn insert_key(
        &self,
        hash: &str,
        kind: &str,
        last4: &str,
        livemode: bool,
        now: i64,
    ) -> worker::Result<()> {
        self.run(
            "INSERT INTO api_keys (hash, kind, last4, livemode, created) VALUES (?, ?, ?, ?, ?)",
            vec![
                hash.into(),
                kind.into(),
                last4.into(),
                i64::from(livemode).into(),
                now.into(),
            ],
        )?;
        Ok(())
    }

    /// Whether a key of `kind` with this hash is one of the merchant's.
    pub fn key_exists(&self, hash: &str, kind: &str) -> worker::Result<bool> {
        Ok(self
            .first::<Count>(
                "SELECT COUNT(*) AS n FROM api_keys WHERE hash = ? AND kind = ?",
                vec![hash.into(), kind.into()],
            )?
            .is_some_and(|c| c.n > 0))
    }

    /// Replaces every key of `kind` in one mode with one new key, in one synchronous
    /// step: a roll in test mode leaves live keys alone.
    pub fn replace_keys(
        &self,
        kind: &str,
        hash: &str,
        last4: &str,
        livemode: bool,
        now: i64,
    ) -> worker::Result<()> {
        self.run(
            "DELETE FROM api_keys WHERE kind = ? AND livemode = ?",
            vec![kind.into(), i64::from(livemode).into()],
        )?;
        self.insert_key(hash, kind, last4, livemode, now)
    }

    // ---- provider accounts ---------------------------------------------------------

    pub fn put_account(
        &self,
        provider: Provider,
        sealed: &str,
        masked: &str,
        livemode: i64,
        now: i64,
    ) -> worker::Result<()> {
        self.run(
            "INSERT INTO provider_accounts (provider, sealed, masked, livemode, updated) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (provider, livemode) DO UPDATE SET sealed = excluded.sealed, masked = excluded.masked, \
             updated = excluded.updated",
            vec![provider.as_str().into(), sealed.into(), masked.into(), livemode.into(), now.into()],
        )?;
        Ok(())
    }

    pub fn sealed_account(
        &self,
        provider: Provider,
        livemode: bool,
    ) -> worker::Result<Option<String>> {
        #[derive(Deserialize)]
        struct Row {
            sealed: String,
        }
        Ok(self
            .first::<Row>(
                "SELECT sealed FROM provider_accounts WHERE provider = ? AND livemode = ?",
                vec![provider.as_str().into(), i64::from(livemode).into()],
            )?
            .map(|r| r.sealed))
    }

    pub fn masked_accounts(&self, livemode: bool) -> worker::Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Row {
            masked: String,
        }
        Ok(self
            .all::<Row>(
                "SELECT masked FROM provider_accounts WHERE livemode = ? ORDER BY provider",
                vec![i64::from(livemode).into()],
            )?
            .into_iter()
            .map(|r| r.masked)
            .collect())
    }

    pub fn delete_account(&self, provider: Provider, livemode: bool) -> worker::Result<bool> {
        Ok(self.run(
            "DELETE FROM provider_accounts WHERE provider = ? AND livemode = ?",
            vec![provider.as_str().into(), i64::from(livemode).into()],
        )? > 0)
    }

    // ---- intents and their ledger --------------------------------------------------

    pub fn insert_intent(&self, n: &NewIntent) -> worker::Result<()> {
        self.run(
            "INSERT INTO payment_intents (id, client_secret, provider, status, currency, amount, platform_fee, \
             capture_method, description, order_reference, customer, setup_future_usage, metadata, livemode, created) \
             VALUES (?, ?, ?, 'requires_payment_method', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                n.id.into(),
                n.client_secret.into(),
                n.provider.as_str().into(),
                n.amount.currency().code().into(),
                n.amount.to_minor_units().into(),
                n.platform_fee.to_minor_units().into(),
                n.capture_method.as_str().into(),
                opt(n.description),
                opt(n.order_reference),
                opt(n.customer),
                opt(n.setup_future_usage),
                opt(n.metadata),
                i64::from(n.livemode).into(),
                n.now.into(),
            ],
        )?;
        Ok(())
    }

    fn balances(&self, intent_id: &str) -> ApiResult<Balances> {
        #[derive(Deserialize)]
        struct Row {
            kind: String,
            amount: i64,
        }
        let rows: Vec<Row> = self.all(
            "SELECT kind, amount FROM ledger WHERE payment_intent = ?",
            vec![intent_id.into()],
        )?;
        let entries = rows
            .into_iter()
            .map(|r| {
                Ok(Entry {
                    kind: EntryKind::from_str(&r.kind)
                        .map_err(|_| corrupt("ledger kind", intent_id))?,
                    amount: r.amount,
                })
            })
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(Balances::of(&entries))
    }

    fn with_balances(&self, row: IntentRow) -> ApiResult<Intent> {
        let balances = self.balances(&row.id)?;
        Ok(Intent { row, balances })
    }

    /// This merchant's intent, or `None`: another merchant's id is as missing as none.
    pub fn find_intent(&self, id: &str) -> ApiResult<Option<Intent>> {
        match self.first::<IntentRow>(
            "SELECT * FROM payment_intents WHERE id = ?",
            vec![id.into()],
        )? {
            Some(row) => Ok(Some(self.with_balances(row)?)),
            None => Ok(None),
        }
    }

    pub fn intent(&self, id: &str) -> ApiResult<Intent> {
        self.find_intent(id)?
            .ok_or_else(|| Fail::Api(ApiError::not_found("payment_intent").with_param("id")))
    }

    pub fn intent_by_reference(
        &self,
        provider: Provider,
        reference: &str,
    ) -> ApiResult<Option<Intent>> {
        match self.first::<IntentRow>(
            "SELECT * FROM payment_intents WHERE provider = ? AND provider_reference = ?",
            vec![provider.as_str().into(), reference.into()],
        )? {
            Some(row) => Ok(Some(self.with_balances(row)?)),
            None => Ok(None),
        }
    }

    pub fn list_intents(&self, f: &IntentFilter) -> ApiResult<Vec<Intent>> {
        let mut sql = String::from("SELECT * FROM payment_intents WHERE livemode = ?");
        let mut args: Vec<V> = vec![i64::from(f.livemode).into()];
        if let Some(s) = f.status {
            sql += " AND status = ?";
            args.push(s.as_str().into());
        }
        if let Some(p) = f.provider {
            sql += " AND provider = ?";
            args.push(p.as_str().into());
        }
        if let Some(t) = f.created_gte {
            sql += " AND created >= ?";
            args.push(t.into());
        }
        if let Some((created, id)) = &f.before {
            sql += " AND (created < ? OR (created = ? AND id < ?))";
            args.extend([(*created).into(), (*created).into(), id.as_str().into()]);
        }
        sql += " ORDER BY created DESC, id DESC LIMIT ?";
        args.push(i64::from(f.limit).into());
        self.all::<IntentRow>(&sql, args)?
            .into_iter()
            .map(|r| self.with_balances(r))
            .collect()
    }

    /// Feeds provider events through the one state machine; stores the new status
    /// and appends the ledger entries the move implies, in one synchronous step.
    pub fn apply_events(
        &self,
        id: &str,
        events: &[ProviderEvent],
        now: i64,
    ) -> ApiResult<(Intent, bool)> {
        let intent = self.intent(id)?;
        let start = intent.state()?;
        let mut state = start.clone();
        for ev in events {
            if let Some(next) = shared::intent::apply(&state, ev).applied() {
                state = next;
            }
        }
        if state == start {
            return Ok((intent, false));
        }
        self.run(
            "UPDATE payment_intents SET status = ?, last_event_at = ?, last_error = ? WHERE id = ?",
            vec![
                state.status.as_str().into(),
                state.last_event_at.into(),
                opt(state.last_error.as_deref()),
                id.into(),
            ],
        )?;
        let currency = intent.currency()?;
        for e in entries_for(&start, &state) {
            self.append(id, None, e, currency, now)?;
        }
        if state.status == IntentStatus::Succeeded && start.status != IntentStatus::Succeeded {
            let fee = intent.row.platform_fee;
            if fee > 0 {
                self.append(
                    id,
                    None,
                    Entry {
                        kind: EntryKind::PlatformFee,
                        amount: fee,
                    },
                    currency,
                    now,
                )?;
            }
        }
        let after = self.intent(id)?;
        if let Some(kind) = intent_event(&start, &state) {
            self.emit(kind, &after.to_api()?, after.row.livemode != 0, now)?;
        }
        if state.status == IntentStatus::Succeeded && start.status != IntentStatus::Succeeded {
            // The invoice it pays, in the same step: paid exactly when the money is.
            self.invoice_paid_by(id, now)?;
        }
        Ok((after, true))
    }

    fn append(
        &self,
        intent_id: &str,
        refund: Option<&str>,
        e: Entry,
        currency: Currency,
        now: i64,
    ) -> worker::Result<()> {
        self.run(
            "INSERT INTO ledger (payment_intent, refund, kind, amount, currency, created) VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                intent_id.into(),
                opt(refund),
                e.kind.as_str().into(),
                e.amount.into(),
                currency.code().into(),
                now.into(),
            ],
        )?;
        Ok(())
    }

    /// The provider's fee on a payment, once: a second report changes nothing.
    pub fn record_provider_fee(&self, intent_id: &str, minor: i64, now: i64) -> ApiResult<()> {
        let intent = self.intent(intent_id)?;
        if minor <= 0 || intent.balances.provider_fee > 0 {
            return Ok(());
        }
        self.append(
            intent_id,
            None,
            Entry {
                kind: EntryKind::ProviderFee,
                amount: minor,
            },
            intent.currency()?,
            now,
        )?;
        Ok(())
    }

    pub fn set_reference(&self, id: &str, reference: &str) -> worker::Result<()> {
        self.run(
            "UPDATE payment_intents SET provider_reference = ? WHERE id = ?",
            vec![reference.into(), id.into()],
        )?;
        Ok(())
    }

    pub fn set_next_action(&self, id: &str, next: Option<&NextAction>) -> ApiResult<()> {
        let json = match next {
            Some(n) => Some(
                serde_json::to_string(n).map_err(|e| worker::Error::RustError(e.to_string()))?,
            ),
            None => None,
        };
        self.run(
            "UPDATE payment_intents SET next_action = ? WHERE id = ?",
            vec![opt(json.as_deref()), id.into()],
        )?;
        Ok(())
    }

    pub fn set_expiry(&self, id: &str, expires_at: i64) -> worker::Result<()> {
        self.run(
            "UPDATE payment_intents SET expires_at = ? WHERE id = ?",
            vec![expires_at.into(), id.into()],
        )?;
        Ok(())
    }

    /// Opens the next attempt at the provider, if the intent can take one: waiting
    /// for a payment method and no attempt whose outcome is still unknown. The check
    /// and the claim are one step, so a second confirm (or a cancel) cannot slip in.
    pub fn open_attempt(
        &self,
        id: &str,
        payment_method: Option<&str>,
        return_url: Option<&str>,
        now: i64,
    ) -> ApiResult<i64> {
        let intent = self.intent(id)?;
        let status = intent.status()?;
        if status != IntentStatus::RequiresPaymentMethod {
            return Err(ApiError::invalid_request(
                "intent_unexpected_state",
                format!(
                    "This payment is {}; it cannot be confirmed again.",
                    status.as_str().replace('_', " ")
                ),
            )
            .into());
        }
        if self.open_attempt_number(id)?.is_some() {
            return Err(ApiError::idempotency("This payment is already being confirmed.").into());
        }
        let number = intent.row.attempts + 1;
        self.run(
            "UPDATE payment_intents SET attempts = ? WHERE id = ?",
            vec![number.into(), id.into()],
        )?;
        self.run(
            "INSERT INTO attempts (payment_intent, number, outcome, payment_method, return_url, created) \
             VALUES (?, ?, 'open', ?, ?, ?)",
            vec![id.into(), number.into(), opt(payment_method), opt(return_url), now.into()],
        )?;
        Ok(number)
    }

    /// The attempt whose provider call has not been settled yet, if any.
    pub fn open_attempt_number(&self, id: &str) -> worker::Result<Option<i64>> {
        #[derive(Deserialize)]
        struct Row {
            number: i64,
        }
        Ok(self
            .first::<Row>(
                "SELECT number FROM attempts WHERE payment_intent = ? AND outcome IN ('open', 'unknown') ORDER BY number DESC",
                vec![id.into()],
            )?
            .map(|r| r.number))
    }

    /// The payment method and return URL an attempt sent: `None` if it sent no
    /// payment method.
    pub fn attempt_request(
        &self,
        id: &str,
        number: i64,
    ) -> worker::Result<Option<(String, Option<String>)>> {
        #[derive(Deserialize)]
        struct Row {
            payment_method: Option<String>,
            return_url: Option<String>,
        }
        Ok(self
            .first::<Row>(
                "SELECT payment_method, return_url FROM attempts WHERE payment_intent = ? AND number = ?",
                vec![id.into(), number.into()],
            )?
            .and_then(|r| r.payment_method.map(|pm| (pm, r.return_url))))
    }

    /// `outcome`: `Done` (the provider answered), or `Unknown` (no answer: resolved
    /// later by asking the provider).
    pub fn close_attempt(
        &self,
        id: &str,
        number: i64,
        outcome: AttemptOutcome,
    ) -> worker::Result<()> {
        self.run(
            "UPDATE attempts SET outcome = ? WHERE payment_intent = ? AND number = ?",
            vec![outcome.as_str().into(), id.into(), number.into()],
        )?;
        Ok(())
    }

    /// Intents with an attempt whose outcome is unknown, or a wallet request past its
    /// expiry: what the object's alarm asks the providers about.
    pub fn unresolved_intents(&self, now: i64, limit: i64) -> worker::Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Row {
            id: String,
        }
        Ok(self
            .all::<Row>(
                "SELECT DISTINCT p.id AS id FROM payment_intents p LEFT JOIN attempts a ON a.payment_intent = p.id \
                 WHERE (a.outcome = 'unknown' AND p.status IN ('requires_payment_method', 'requires_action', 'processing')) \
                 OR (p.status = 'processing' AND p.expires_at IS NOT NULL AND p.expires_at < ?) LIMIT ?",
                vec![now.into(), limit.into()],
            )?
            .into_iter()
            .map(|r| r.id)
            .collect())
    }

    // ---- refunds -------------------------------------------------------------------

    pub fn refund(&self, id: &str) -> worker::Result<Option<RefundRow>> {
        self.first("SELECT * FROM refunds WHERE id = ?", vec![id.into()])
    }

    pub fn refunds(
        &self,
        livemode: bool,
        intent_id: Option<&str>,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> worker::Result<Vec<RefundRow>> {
        let mut sql = String::from(
            "SELECT r.* FROM refunds r JOIN payment_intents p ON p.id = r.payment_intent WHERE p.livemode = ?",
        );
        let mut args: Vec<V> = vec![i64::from(livemode).into()];
        if let Some(i) = intent_id {
            sql += " AND r.payment_intent = ?";
            args.push(i.into());
        }
        if let Some((created, id)) = before {
            sql += " AND (r.created < ? OR (r.created = ? AND r.id < ?))";
            args.extend([created.into(), created.into(), id.into()]);
        }
        sql += " ORDER BY r.created DESC, r.id DESC LIMIT ?";
        args.push(i64::from(limit).into());
        self.all(&sql, args)
    }

    pub fn pending_refunds(&self, intent_id: &str) -> worker::Result<Vec<RefundRow>> {
        self.all(
            "SELECT * FROM refunds WHERE payment_intent = ? AND status = 'pending' ORDER BY created, id",
            vec![intent_id.into()],
        )
    }

    /// Intents with refunds still pending at the provider (for the alarm).
    pub fn intents_with_pending_refunds(&self, limit: i64) -> worker::Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Row {
            payment_intent: String,
        }
        Ok(self
            .all::<Row>(
                "SELECT DISTINCT payment_intent FROM refunds WHERE status = 'pending' LIMIT ?",
                vec![limit.into()],
            )?
            .into_iter()
            .map(|r| r.payment_intent)
            .collect())
    }

    /// Reserves a refund: if the intent still has `amount` (default: all) refundable,
    /// counting refunds still pending, writes the refund as `pending` with its ledger
    /// entry. A refund id seen before is returned as it is (a retried request), and
    /// must belong to the same intent.
    pub fn reserve_refund(
        &self,
        intent_id: &str,
        id: &str,
        amount: Option<Money>,
        now: i64,
    ) -> ApiResult<(RefundRow, bool)> {
        if let Some(existing) = self.refund(id)? {
            if existing.payment_intent != intent_id {
                return Err(ApiError::idempotency(
                    "This Idempotency-Key was already used for a refund of another payment intent.",
                )
                .into());
            }
            return Ok((existing, false));
        }
        let intent = self.intent(intent_id)?;
        let mut state = intent.state()?;
        // `check_refund` limits to received − refunded; pending refunds count as refunded.
        state.amount_refunded =
            intent.money(intent.balances.refunded + intent.balances.refund_pending())?;
        let amount = shared::intent::check_refund(&state, amount)?;
        let currency = intent.currency()?;
        self.run(
            "INSERT INTO refunds (id, payment_intent, amount, currency, status, created) VALUES (?, ?, ?, ?, 'pending', ?)",
            vec![id.into(), intent_id.into(), amount.to_minor_units().into(), currency.code().into(), now.into()],
        )?;
        self.append(
            intent_id,
            Some(id),
            Entry {
                kind: EntryKind::RefundPending,
                amount: amount.to_minor_units(),
            },
            currency,
            now,
        )?;
        Ok((self.refund(id)?.ok_or_else(|| corrupt("refund", id))?, true))
    }

    pub fn set_refund_reference(&self, id: &str, reference: &str) -> worker::Result<()> {
        self.run(
            "UPDATE refunds SET provider_reference = ? WHERE id = ?",
            vec![reference.into(), id.into()],
        )?;
        Ok(())
    }

    pub fn refund_by_reference(&self, reference: &str) -> worker::Result<Option<RefundRow>> {
        self.first(
            "SELECT * FROM refunds WHERE provider_reference = ?",
            vec![reference.into()],
        )
    }

    /// Settles a pending refund once: `succeeded` or `failed`, with its ledger entry.
    /// Returns whether anything changed (a settled refund stays as it is).
    pub fn settle_refund(&self, id: &str, succeeded: bool, now: i64) -> ApiResult<bool> {
        let Some(r) = self.refund(id)? else {
            return Ok(false);
        };
        if r.status()? != RefundStatus::Pending {
            return Ok(false);
        }
        let (status, kind) = if succeeded {
            (RefundStatus::Succeeded, EntryKind::RefundSucceeded)
        } else {
            (RefundStatus::Failed, EntryKind::RefundFailed)
        };
        self.run(
            "UPDATE refunds SET status = ? WHERE id = ? AND status = 'pending'",
            vec![status.as_str().into(), id.into()],
        )?;
        let currency = Currency::from_str(&r.currency).map_err(|_| corrupt("currency", id))?;
        self.append(
            &r.payment_intent,
            Some(id),
            Entry {
                kind,
                amount: r.amount,
            },
            currency,
            now,
        )?;
        let intent = self.intent(&r.payment_intent)?;
        let settled = self.refund(id)?.ok_or_else(|| corrupt("refund", id))?;
        let kind = if succeeded {
            EventType::RefundSucceeded
        } else {
            EventType::RefundFailed
        };
        self.emit(
            kind,
            &settled.to_api(&intent)?,
            intent.row.livemode != 0,
            now,
        )?;
        Ok(true)
    }

    /// Ledger rows of the caller's mode, newest first.
    pub fn ledger(&self, livemode: bool, f: &LedgerFilter) -> worker::Result<Vec<LedgerRow>> {
        let mut sql = String::from(
            "SELECT l.* FROM ledger l JOIN payment_intents p ON p.id = l.payment_intent WHERE p.livemode = ?",
        );
        let mut args: Vec<V> = vec![i64::from(livemode).into()];
        if let Some(pi) = &f.payment_intent {
            sql += " AND l.payment_intent = ?";
            args.push(pi.as_str().into());
        }
        if !f.kinds.is_empty() {
            sql += &format!(" AND l.kind IN ({})", vec!["?"; f.kinds.len()].join(", "));
            args.extend(f.kinds.iter().map(|k| V::from(k.as_str())));
        }
        if let Some(t) = f.created_gte {
            sql += " AND l.created >= ?";
            args.push(t.into());
        }
        if let Some(t) = f.created_lt {
            sql += " AND l.created < ?";
            args.push(t.into());
        }
        if let Some(seq) = f.before_seq {
            sql += " AND l.seq < ?";
            args.push(seq.into());
        }
        sql += " ORDER BY l.seq DESC LIMIT ?";
        args.push(i64::from(f.limit).into());
        self.all(&sql, args)
    }

    // ---- events and the outbox ------------------------------------------------------

    /// Writes an event about `object` and queues it for every endpoint of its mode
    /// that wants its type, in the caller's synchronous step: the change and its event
    /// commit together or not at all.
    pub fn emit<T: serde::Serialize>(
        &self,
        kind: EventType,
        object: &T,
        livemode: bool,
        now: i64,
    ) -> ApiResult<String> {
        let merchant = self
            .merchant()?
            .ok_or_else(|| corrupt("merchant", "object"))?;
        let id = shared::keys::new_scoped_id("evt_", &merchant.id, &crate::entropy::random());
        let body = serde_json::json!({
            "id": id,
            "object": "event",
            "type": kind.as_str(),
            "created": now,
            "livemode": livemode,
            "data": { "object": object },
        })
        .to_string();
        self.run(
            "INSERT INTO events (id, type, created, livemode, body) VALUES (?, ?, ?, ?, ?)",
            vec![
                id.as_str().into(),
                kind.as_str().into(),
                now.into(),
                i64::from(livemode).into(),
                body.into(),
            ],
        )?;
        let due = self.clock_now(now)?;
        self.run(
            "INSERT INTO deliveries (event, endpoint, status, attempts, next_at) \
             SELECT ?, id, 'pending', 0, ? FROM webhook_endpoints WHERE livemode = ? \
             AND (enabled_events = '[]' OR EXISTS (SELECT 1 FROM json_each(enabled_events) WHERE value IN (?, '*')))",
            vec![
                id.as_str().into(),
                due.into(),
                i64::from(livemode).into(),
                kind.as_str().into(),
            ],
        )?;
        Ok(id)
    }

    pub fn event(&self, id: &str, livemode: bool) -> worker::Result<Option<EventRow>> {
        self.first(
            "SELECT * FROM events WHERE id = ? AND livemode = ?",
            vec![id.into(), i64::from(livemode).into()],
        )
    }

    /// For delivery, which already knows the event's mode.
    pub fn event_any_mode(&self, id: &str) -> worker::Result<Option<EventRow>> {
        self.first("SELECT * FROM events WHERE id = ?", vec![id.into()])
    }

    pub fn endpoint_any_mode(&self, id: &str) -> worker::Result<Option<EndpointRow>> {
        self.first(
            "SELECT * FROM webhook_endpoints WHERE id = ?",
            vec![id.into()],
        )
    }

    pub fn events(
        &self,
        livemode: bool,
        kind: Option<EventType>,
        created_gte: Option<i64>,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> worker::Result<Vec<EventRow>> {
        let mut sql = String::from("SELECT * FROM events WHERE livemode = ?");
        let mut args: Vec<V> = vec![i64::from(livemode).into()];
        if let Some(k) = kind {
            sql += " AND type = ?";
            args.push(k.as_str().into());
        }
        if let Some(t) = created_gte {
            sql += " AND created >= ?";
            args.push(t.into());
        }
        if let Some((created, id)) = before {
            sql += " AND (created < ? OR (created = ? AND id < ?))";
            args.extend([created.into(), created.into(), id.into()]);
        }
        sql += " ORDER BY created DESC, id DESC LIMIT ?";
        args.push(i64::from(limit).into());
        self.all(&sql, args)
    }

    pub fn insert_endpoint(&self, e: &EndpointRow) -> worker::Result<()> {
        self.run(
            "INSERT INTO webhook_endpoints (id, url, enabled_events, sealed, livemode, created) VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                e.id.as_str().into(),
                e.url.as_str().into(),
                e.enabled_events.as_str().into(),
                e.sealed.as_str().into(),
                e.livemode.into(),
                e.created.into(),
            ],
        )?;
        Ok(())
    }

    pub fn endpoint(&self, id: &str, livemode: bool) -> worker::Result<Option<EndpointRow>> {
        self.first(
            "SELECT * FROM webhook_endpoints WHERE id = ? AND livemode = ?",
            vec![id.into(), i64::from(livemode).into()],
        )
    }

    pub fn endpoints(&self, livemode: bool) -> worker::Result<Vec<EndpointRow>> {
        self.all(
            "SELECT * FROM webhook_endpoints WHERE livemode = ? ORDER BY created DESC, id DESC",
            vec![i64::from(livemode).into()],
        )
    }

    /// Replaces the signing secret; the current one becomes the previous one, valid
    /// until `previous_until`.
    pub fn roll_endpoint_secret(
        &self,
        id: &str,
        sealed: &str,
        previous_until: i64,
    ) -> worker::Result<bool> {
        Ok(self.run(
            "UPDATE webhook_endpoints SET previous_sealed = sealed, previous_until = ?, sealed = ? WHERE id = ?",
            vec![previous_until.into(), sealed.into(), id.into()],
        )? > 0)
    }

    /// Deletes an endpoint and what was still queued for it.
    pub fn delete_endpoint(&self, id: &str) -> worker::Result<bool> {
        let gone = self.run(
            "DELETE FROM webhook_endpoints WHERE id = ?",
            vec![id.into()],
        )? > 0;
        self.run(
            "DELETE FROM deliveries WHERE endpoint = ? AND status = 'pending'",
            vec![id.into()],
        )?;
        Ok(gone)
    }

    /// The object's clock: real time plus what test mode has advanced it by.
    pub fn clock_now(&self, now: i64) -> worker::Result<i64> {
        #[derive(Deserialize)]
        struct Row {
            offset: i64,
        }
        let row: Option<Row> = self.first("SELECT offset FROM test_clock WHERE id = 1", vec![])?;
        Ok(now + row.map_or(0, |r| r.offset))
    }

    pub fn advance_clock(&self, seconds: i64) -> worker::Result<()> {
        self.run(
            "INSERT INTO test_clock (id, offset) VALUES (1, ?) \
             ON CONFLICT (id) DO UPDATE SET offset = offset + excluded.offset",
            vec![seconds.into()],
        )?;
        Ok(())
    }

    /// Takes up to `limit` deliveries due at `clock` and leases them until
    /// `lease_until`, so a second runner (the alarm beside a clock advance) skips them.
    pub fn take_due_deliveries(
        &self,
        clock: i64,
        lease_until: i64,
        limit: i64,
    ) -> worker::Result<Vec<DueDelivery>> {
        let due: Vec<DueDelivery> = self.all(
            "SELECT event, endpoint, attempts FROM deliveries WHERE status = 'pending' AND next_at <= ? \
             ORDER BY next_at LIMIT ?",
            vec![clock.into(), limit.into()],
        )?;
        for d in &due {
            self.run(
                "UPDATE deliveries SET next_at = ? WHERE event = ? AND endpoint = ?",
                vec![
                    lease_until.into(),
                    d.event.as_str().into(),
                    d.endpoint.as_str().into(),
                ],
            )?;
        }
        Ok(due)
    }

    /// Records one try and where the delivery stands after it.
    #[allow(clippy::too_many_arguments)]
    pub fn record_delivery(
        &self,
        d: &DueDelivery,
        at: i64,
        status_code: Option<u16>,
        error: Option<&str>,
        status: DeliveryStatus,
        next_at: Option<i64>,
    ) -> worker::Result<()> {
        let number = d.attempts + 1;
        self.run(
            "INSERT OR IGNORE INTO delivery_attempts (event, endpoint, number, at, status_code, error, next_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![
                d.event.as_str().into(),
                d.endpoint.as_str().into(),
                number.into(),
                at.into(),
                status_code.map_or(V::Null, |c| i64::from(c).into()),
                opt(error),
                next_at.map_or(V::Null, V::from),
            ],
        )?;
        self.run(
            "UPDATE deliveries SET status = ?, attempts = ?, next_at = ? WHERE event = ? AND endpoint = ?",
            vec![
                status.as_str().into(),
                number.into(),
                next_at.map_or(V::Null, V::from),
                d.event.as_str().into(),
                d.endpoint.as_str().into(),
            ],
        )?;
        Ok(())
    }

    pub fn delivery_attempts(&self, event: &str) -> worker::Result<Vec<AttemptRow>> {
        self.all(
            "SELECT endpoint, number, at, status_code, error, next_at FROM delivery_attempts \
             WHERE event = ? ORDER BY number, endpoint",
            vec![event.into()],
        )
    }

    /// The earliest pending delivery on the object's clock, if any.
    pub fn next_delivery_at(&self) -> worker::Result<Option<i64>> {
        #[derive(Deserialize)]
        struct Row {
            at: Option<i64>,
        }
        let row: Option<Row> = self.first(
            "SELECT MIN(next_at) AS at FROM deliveries WHERE status = 'pending'",
            vec![],
        )?;
        Ok(row.and_then(|r| r.at))
    }

    /// Forgets events older than `cutoff` with their deliveries (API.md: 30 days).
    pub fn purge_events(&self, cutoff: i64) -> worker::Result<()> {
        self.run(
            "DELETE FROM deliveries WHERE event IN (SELECT id FROM events WHERE created < ?)",
            vec![cutoff.into()],
        )?;
        self.run(
            "DELETE FROM delivery_attempts WHERE event IN (SELECT id FROM events WHERE created < ?)",
            vec![cutoff.into()],
        )?;
        self.run("DELETE FROM events WHERE created < ?", vec![cutoff.into()])?;
        Ok(())
    }

    // ---- idempotency ---------------------------------------------------------------

    pub fn idempotency_record(&self, scope: &str, key: &str) -> worker::Result<Option<IdemRow>> {
        self.first(
            "SELECT request_hash, status, body, created FROM idempotency WHERE scope = ? AND key = ?",
            vec![scope.into(), key.into()],
        )
    }

    /// Claims `key` for this request unless a live record holds it. Records older
    /// than `ttl` are purged first; an unfinished claim older than `stale` (its
    /// request died) is released.
    pub fn claim_idempotency(
        &self,
        scope: &str,
        key: &str,
        hash: &str,
        now: i64,
        ttl: i64,
        stale: i64,
    ) -> worker::Result<bool> {
        self.run(
            "DELETE FROM idempotency WHERE created < ?",
            vec![(now - ttl).into()],
        )?;
        self.run(
            "DELETE FROM idempotency WHERE scope = ? AND key = ? AND status IS NULL AND created < ?",
            vec![scope.into(), key.into(), (now - stale).into()],
        )?;
        Ok(self.run(
            "INSERT INTO idempotency (scope, key, request_hash, created) VALUES (?, ?, ?, ?) \
             ON CONFLICT (scope, key) DO NOTHING",
            vec![scope.into(), key.into(), hash.into(), now.into()],
        )? > 0)
    }

    pub fn finish_idempotency(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> worker::Result<()> {
        self.run(
            "UPDATE idempotency SET status = ?, body = ? WHERE scope = ? AND key = ?",
            vec![
                i64::from(status).into(),
                body.into(),
                scope.into(),
                key.into(),
            ],
        )?;
        Ok(())
    }

    // ---- the platform's registry of merchants ---------------------------------------

    pub fn register_merchant(
        &self,
        id: &str,
        name: &str,
        livemode: i64,
        now: i64,
    ) -> worker::Result<()> {
        self.run(
            "INSERT INTO registry (id, name, livemode, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            vec![id.into(), name.into(), livemode.into(), now.into()],
        )?;
        Ok(())
    }

    /// The registry's mark that a merchant may take real money.
    pub fn mark_live(&self, id: &str) -> worker::Result<()> {
        self.run(
            "UPDATE registry SET livemode = 1 WHERE id = ?",
            vec![id.into()],
        )?;
        Ok(())
    }

    pub fn is_registered(&self, id: &str) -> worker::Result<bool> {
        Ok(self
            .first::<Count>(
                "SELECT COUNT(*) AS n FROM registry WHERE id = ?",
                vec![id.into()],
            )?
            .is_some_and(|c| c.n > 0))
    }

    pub fn registry(&self, limit: i64) -> worker::Result<Vec<RegistryRow>> {
        self.all(
            "SELECT * FROM registry ORDER BY created DESC, id DESC LIMIT ?",
            vec![limit.into()],
        )
    }

    // ---- provider events -----------------------------------------------------------

    pub fn event_seen(&self, provider: &str, event_id: &str) -> worker::Result<bool> {
        Ok(self
            .first::<Count>(
                "SELECT COUNT(*) AS n FROM provider_events WHERE provider = ? AND event_id = ?",
                vec![provider.into(), event_id.into()],
            )?
            .is_some_and(|c| c.n > 0))
    }

    pub fn record_event(
        &self,
        provider: &str,
        event_id: &str,
        object_id: Option<&str>,
        kind: &str,
        outcome: &str,
        now: i64,
    ) -> worker::Result<()> {
        self.run(
            "INSERT INTO provider_events (provider, event_id, object_id, type, outcome, received) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            vec![
                provider.into(),
                event_id.into(),
                opt(object_id),
                kind.into(),
                outcome.into(),
                now.into(),
            ],
        )?;
        Ok(())
    }

    // ---- Cashcloud's daily slots ---------------------------------------------------

    pub fn daily_count(&self, day: &str) -> worker::Result<i64> {
        Ok(self
            .first::<Count>(
                "SELECT count AS n FROM cashcloud_daily WHERE day = ?",
                vec![day.into()],
            )?
            .map_or(0, |c| c.n))
    }

    /// Takes one of the day's slots if fewer than `limit` are taken.
    pub fn claim_daily_slot(&self, day: &str, limit: i64) -> worker::Result<bool> {
        Ok(self.run(
            "INSERT INTO cashcloud_daily (day, count) VALUES (?, 1) \
             ON CONFLICT (day) DO UPDATE SET count = count + 1 WHERE count < ?",
            vec![day.into(), limit.into()],
        )? > 0)
    }

    pub fn release_daily_slot(&self, day: &str) -> worker::Result<()> {
        self.run(
            "UPDATE cashcloud_daily SET count = count - 1 WHERE day = ? AND count > 0",
            vec![day.into()],
        )?;
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
pub struct IdemRow {
    pub request_hash: String,
    pub status: Option<i64>,
    pub body: Option<String>,
    pub created: i64,
}

#[derive(Debug, Deserialize)]
pub struct RegistryRow {
    pub id: String,
    pub name: String,
    pub livemode: i64,
    pub created: i64,
}
