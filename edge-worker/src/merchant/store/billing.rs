//! The SQL of recurring billing: customers, setup intents, test clocks,
//! subscriptions, their invoices, and the platform's bill to this merchant. Like the
//! rest of the store, every check and the write it guards run in one synchronous
//! step of the merchant's object.

use serde::Deserialize;
use std::str::FromStr;

use shared::api::{LastError, NextAction};
use shared::billing::{
    self, after_attempt, AttemptResult, Collection, Interval, InvoiceStatus, SetupIntentStatus,
    SubscriptionStatus,
};
use shared::error::ApiError;
use shared::ledger::EntryKind;
use shared::money::{Currency, Money};
use shared::webhooks::EventType;

use super::{corrupt, opt, Store};
use crate::http::{ApiResult, Fail};

/// The tables, appended to the store's schema.
pub const SCHEMA: &[&str] = &[
    // `stripe_customer`: the customer made at Stripe on the merchant's account.
    "CREATE TABLE IF NOT EXISTS customers (
       id TEXT PRIMARY KEY, email TEXT NOT NULL, name TEXT, metadata TEXT, test_clock TEXT,
       stripe_customer TEXT, livemode INTEGER NOT NULL, created INTEGER NOT NULL)",
    // `purpose`: 'customer' (a merchant's customer, on its Stripe account) or
    // 'platform' (the merchant's own card for the platform's bill, on the platform's).
    "CREATE TABLE IF NOT EXISTS setup_intents (
       id TEXT PRIMARY KEY, client_secret TEXT NOT NULL, customer TEXT, purpose TEXT NOT NULL,
       status TEXT NOT NULL, stripe_id TEXT, stripe_client_secret TEXT, payment_method TEXT,
       last_error TEXT, attempts INTEGER NOT NULL DEFAULT 0, livemode INTEGER NOT NULL,
       created INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS test_clocks (
       id TEXT PRIMARY KEY, name TEXT, frozen_time INTEGER NOT NULL, livemode INTEGER NOT NULL,
       created INTEGER NOT NULL)",
    // `period_index`: which period of the anchor's schedule is the current one;
    // `test_clock`: the customer's, whose time the subscription runs on.
    "CREATE TABLE IF NOT EXISTS subscriptions (
       id TEXT PRIMARY KEY, customer TEXT NOT NULL, status TEXT NOT NULL, amount INTEGER NOT NULL,
       currency TEXT NOT NULL, interval TEXT NOT NULL, interval_count INTEGER NOT NULL,
       payment_method TEXT, description TEXT, anchor INTEGER NOT NULL, period_index INTEGER NOT NULL,
       current_period_start INTEGER NOT NULL, current_period_end INTEGER NOT NULL, trial_end INTEGER,
       cancel_at_period_end INTEGER NOT NULL DEFAULT 0, canceled_at INTEGER, latest_invoice TEXT,
       test_clock TEXT, livemode INTEGER NOT NULL, created INTEGER NOT NULL)",
    // One invoice per subscription period (the UNIQUE makes a second one impossible).
    // `pending_attempt`: an attempt whose outcome is not known yet; `lease_until`:
    // a runner is charging it now (the alarm beside a clock advance skips it).
    "CREATE TABLE IF NOT EXISTS invoices (
       id TEXT PRIMARY KEY, subscription TEXT NOT NULL, customer TEXT NOT NULL,
       amount INTEGER NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL,
       attempt_count INTEGER NOT NULL DEFAULT 0, first_attempt_at INTEGER, next_payment_attempt INTEGER,
       pending_attempt INTEGER, lease_until INTEGER, payment_intent TEXT NOT NULL,
       hosted_token TEXT NOT NULL, hosted_url TEXT NOT NULL, period_start INTEGER NOT NULL, period_end INTEGER NOT NULL,
       test_clock TEXT, livemode INTEGER NOT NULL, created INTEGER NOT NULL,
       UNIQUE (subscription, period_start))",
    "CREATE INDEX IF NOT EXISTS invoices_subscription ON invoices(subscription, created)",
    // The card the platform charges this merchant's bill to, per mode.
    "CREATE TABLE IF NOT EXISTS platform_billing (
       livemode INTEGER PRIMARY KEY, stripe_customer TEXT, payment_method TEXT)",
    "CREATE TABLE IF NOT EXISTS platform_invoices (
       id TEXT PRIMARY KEY, month TEXT NOT NULL, currency TEXT NOT NULL,
       period_start INTEGER NOT NULL, period_end INTEGER NOT NULL, count INTEGER NOT NULL,
       amount INTEGER NOT NULL, status TEXT NOT NULL, attempt_count INTEGER NOT NULL DEFAULT 0,
       first_attempt_at INTEGER, next_payment_attempt INTEGER, lease_until INTEGER,
       last_error TEXT, livemode INTEGER NOT NULL, created INTEGER NOT NULL,
       UNIQUE (month, currency, livemode))",
];

#[derive(Debug, Clone, Deserialize)]
pub struct CustomerRow {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub metadata: Option<String>,
    pub test_clock: Option<String>,
    pub stripe_customer: Option<String>,
    pub livemode: i64,
    pub created: i64,
}

impl CustomerRow {
    pub fn to_api(&self) -> billing::Customer {
        billing::Customer {
            id: self.id.clone(),
            object: "customer".into(),
            email: self.email.clone(),
            name: self.name.clone(),
            metadata: self
                .metadata
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok())
                .unwrap_or_default(),
            test_clock: self.test_clock.clone(),
            created: self.created,
            livemode: self.livemode != 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SetupIntentRow {
    pub id: String,
    pub client_secret: String,
    pub customer: Option<String>,
    pub purpose: String,
    pub status: String,
    pub stripe_id: Option<String>,
    pub stripe_client_secret: Option<String>,
    pub payment_method: Option<String>,
    pub last_error: Option<String>,
    pub attempts: i64,
    pub livemode: i64,
    pub created: i64,
}

pub const PURPOSE_CUSTOMER: &str = "customer";
pub const PURPOSE_PLATFORM: &str = "platform";

impl SetupIntentRow {
    pub fn status(&self) -> ApiResult<SetupIntentStatus> {
        SetupIntentStatus::from_str(&self.status).map_err(|_| corrupt("status", &self.id))
    }

    pub fn for_platform(&self) -> bool {
        self.purpose == PURPOSE_PLATFORM
    }

    pub fn to_api(&self) -> ApiResult<billing::SetupIntent> {
        let status = self.status()?;
        Ok(billing::SetupIntent {
            id: self.id.clone(),
            object: "setup_intent".into(),
            client_secret: self.client_secret.clone(),
            status,
            customer: self.customer.clone(),
            payment_method: self.payment_method.clone(),
            usage: "off_session".into(),
            next_action: match (status, &self.stripe_client_secret) {
                (SetupIntentStatus::RequiresAction, Some(s)) => Some(NextAction::ThreeDSecure {
                    provider_client_secret: s.clone(),
                }),
                _ => None,
            },
            last_error: self.last_error.as_ref().map(|m| LastError {
                code: "setup_failed".into(),
                message: m.clone(),
            }),
            created: self.created,
            livemode: self.livemode != 0,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ClockRow {
    pub id: String,
    pub name: Option<String>,
    pub frozen_time: i64,
    pub created: i64,
}

impl ClockRow {
    pub fn to_api(&self) -> billing::TestClock {
        billing::TestClock {
            id: self.id.clone(),
            object: "test_helpers.test_clock".into(),
            frozen_time: self.frozen_time,
            name: self.name.clone(),
            status: "ready".into(),
            created: self.created,
            livemode: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionRow {
    pub id: String,
    pub customer: String,
    pub status: String,
    pub amount: i64,
    pub currency: String,
    pub interval: String,
    pub interval_count: i64,
    pub payment_method: Option<String>,
    pub description: Option<String>,
    pub anchor: i64,
    pub period_index: i64,
    pub current_period_start: i64,
    pub current_period_end: i64,
    pub trial_end: Option<i64>,
    pub cancel_at_period_end: i64,
    pub canceled_at: Option<i64>,
    pub latest_invoice: Option<String>,
    pub test_clock: Option<String>,
    pub livemode: i64,
    pub created: i64,
}

impl SubscriptionRow {
    pub fn status(&self) -> ApiResult<SubscriptionStatus> {
        SubscriptionStatus::from_str(&self.status).map_err(|_| corrupt("status", &self.id))
    }

    pub fn interval(&self) -> ApiResult<Interval> {
        Interval::from_str(&self.interval).map_err(|_| corrupt("interval", &self.id))
    }

    pub fn money(&self, minor: i64) -> ApiResult<Money> {
        let c = Currency::parse(&self.currency).map_err(|_| corrupt("currency", &self.id))?;
        Money::from_minor_units(minor, c).map_err(|_| corrupt("amount", &self.id))
    }

    pub fn to_api(&self) -> ApiResult<billing::Subscription> {
        let amount = self.money(self.amount)?;
        Ok(billing::Subscription {
            id: self.id.clone(),
            object: "subscription".into(),
            customer: self.customer.clone(),
            status: self.status()?,
            amount: amount.to_amount_string(),
            currency: amount.currency(),
            interval: self.interval()?,
            interval_count: self.interval_count as u32,
            payment_method: self.payment_method.clone(),
            description: self.description.clone(),
            current_period_start: self.current_period_start,
            current_period_end: self.current_period_end,
            trial_end: self.trial_end,
            cancel_at_period_end: self.cancel_at_period_end != 0,
            canceled_at: self.canceled_at,
            latest_invoice: self.latest_invoice.clone(),
            created: self.created,
            livemode: self.livemode != 0,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceRow {
    pub id: String,
    pub subscription: String,
    pub customer: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub attempt_count: i64,
    pub first_attempt_at: Option<i64>,
    pub next_payment_attempt: Option<i64>,
    pub lease_until: Option<i64>,
    pub payment_intent: String,
    pub hosted_token: String,
    pub hosted_url: String,
    pub period_start: i64,
    pub period_end: i64,
    pub test_clock: Option<String>,
    pub livemode: i64,
    pub created: i64,
}

impl InvoiceRow {
    pub fn status(&self) -> ApiResult<InvoiceStatus> {
        InvoiceStatus::from_str(&self.status).map_err(|_| corrupt("status", &self.id))
    }

    pub fn collection(&self) -> ApiResult<Collection> {
        Ok(Collection {
            status: self.status()?,
            attempt_count: self.attempt_count as u32,
            first_attempt_at: self.first_attempt_at,
            next_payment_attempt: self.next_payment_attempt,
        })
    }

    pub fn to_api(&self) -> ApiResult<billing::Invoice> {
        let c = Currency::parse(&self.currency).map_err(|_| corrupt("currency", &self.id))?;
        let money = |m| Money::from_minor_units(m, c).map_err(|_| corrupt("amount", &self.id));
        let status = self.status()?;
        let paid = if status == InvoiceStatus::Paid {
            self.amount
        } else {
            0
        };
        Ok(billing::Invoice {
            id: self.id.clone(),
            object: "invoice".into(),
            subscription: self.subscription.clone(),
            customer: self.customer.clone(),
            amount_due: money(self.amount)?.to_amount_string(),
            amount_paid: money(paid)?.to_amount_string(),
            currency: c,
            status,
            attempt_count: self.attempt_count as u32,
            next_payment_attempt: self.next_payment_attempt,
            payment_intent: Some(self.payment_intent.clone()),
            hosted_url: (status == InvoiceStatus::Open).then(|| self.hosted_url.clone()),
            period_start: self.period_start,
            period_end: self.period_end,
            created: self.created,
            livemode: self.livemode != 0,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct PlatformInvoiceRow {
    pub id: String,
    pub month: String,
    pub currency: String,
    pub period_start: i64,
    pub period_end: i64,
    pub count: i64,
    pub amount: i64,
    pub status: String,
    pub attempt_count: i64,
    pub first_attempt_at: Option<i64>,
    pub next_payment_attempt: Option<i64>,
    pub last_error: Option<String>,
    pub livemode: i64,
    pub created: i64,
}

impl PlatformInvoiceRow {
    pub fn status(&self) -> ApiResult<InvoiceStatus> {
        InvoiceStatus::from_str(&self.status).map_err(|_| corrupt("status", &self.id))
    }

    pub fn money(&self) -> ApiResult<Money> {
        let c = Currency::parse(&self.currency).map_err(|_| corrupt("currency", &self.id))?;
        Money::from_minor_units(self.amount, c).map_err(|_| corrupt("amount", &self.id))
    }

    pub fn collection(&self) -> ApiResult<Collection> {
        Ok(Collection {
            status: self.status()?,
            attempt_count: self.attempt_count as u32,
            first_attempt_at: self.first_attempt_at,
            next_payment_attempt: self.next_payment_attempt,
        })
    }

    pub fn to_api(&self, merchant: &str) -> ApiResult<billing::PlatformInvoice> {
        let amount = self.money()?;
        let status = self.status()?;
        Ok(billing::PlatformInvoice {
            id: self.id.clone(),
            object: "platform_invoice".into(),
            merchant: merchant.to_owned(),
            month: self.month.clone(),
            period_start: self.period_start,
            period_end: self.period_end,
            currency: amount.currency(),
            count: self.count as u32,
            amount_due: amount.to_amount_string(),
            amount_paid: if status == InvoiceStatus::Paid {
                amount.to_amount_string()
            } else {
                Money::zero(amount.currency()).to_amount_string()
            },
            status,
            attempt_count: self.attempt_count as u32,
            next_payment_attempt: self.next_payment_attempt,
            last_error: self.last_error.clone(),
            created: self.created,
            livemode: self.livemode != 0,
        })
    }
}

/// One currency's qualifying transactions in a month.
#[derive(Debug, Clone, Deserialize)]
pub struct FeeTotal {
    pub currency: String,
    pub count: i64,
    pub amount: i64,
}

/// A new subscription, validated.
pub struct NewSubscriptionRow<'a> {
    pub id: &'a str,
    pub customer: &'a CustomerRow,
    pub status: SubscriptionStatus,
    pub amount: Money,
    pub interval: Interval,
    pub interval_count: u32,
    pub payment_method: Option<&'a str>,
    pub description: Option<&'a str>,
    pub anchor: i64,
    /// -1 while in a trial (the trial is the period before the first paid one).
    pub period_index: i64,
    pub period_start: i64,
    pub period_end: i64,
    pub trial_end: Option<i64>,
    pub now: i64,
}

const LEASE_SECONDS: i64 = 120;

impl Store {
    // ---- customers --------------------------------------------------------------

    pub fn insert_customer(&self, c: &CustomerRow) -> worker::Result<()> {
        self.run(
            "INSERT INTO customers (id, email, name, metadata, test_clock, stripe_customer, livemode, created) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                c.id.as_str().into(),
                c.email.as_str().into(),
                opt(c.name.as_deref()),
                opt(c.metadata.as_deref()),
                opt(c.test_clock.as_deref()),
                opt(c.stripe_customer.as_deref()),
                c.livemode.into(),
                c.created.into(),
            ],
        )?;
        Ok(())
    }

    pub fn set_stripe_customer(&self, id: &str, stripe_customer: &str) -> worker::Result<()> {
        self.run(
            "UPDATE customers SET stripe_customer = ? WHERE id = ?",
            vec![stripe_customer.into(), id.into()],
        )?;
        Ok(())
    }

    /// The customer in `livemode`; another mode's or merchant's is as missing as none.
    pub fn customer(&self, id: &str, livemode: bool) -> ApiResult<CustomerRow> {
        self.first::<CustomerRow>(
            "SELECT * FROM customers WHERE id = ? AND livemode = ?",
            vec![id.into(), i64::from(livemode).into()],
        )?
        .ok_or_else(|| Fail::Api(ApiError::not_found("customer").with_param("customer")))
    }

    // ---- setup intents ----------------------------------------------------------

    pub fn insert_setup_intent(&self, s: &SetupIntentRow) -> worker::Result<()> {
        self.run(
            "INSERT INTO setup_intents (id, client_secret, customer, purpose, status, stripe_id, \
             stripe_client_secret, livemode, created) VALUES (?, ?, ?, ?, 'requires_payment_method', ?, ?, ?, ?)",
            vec![
                s.id.as_str().into(),
                s.client_secret.as_str().into(),
                opt(s.customer.as_deref()),
                s.purpose.as_str().into(),
                opt(s.stripe_id.as_deref()),
                opt(s.stripe_client_secret.as_deref()),
                s.livemode.into(),
                s.created.into(),
            ],
        )?;
        Ok(())
    }

    pub fn setup_intent(&self, id: &str, livemode: bool) -> ApiResult<SetupIntentRow> {
        self.first::<SetupIntentRow>(
            "SELECT * FROM setup_intents WHERE id = ? AND livemode = ?",
            vec![id.into(), i64::from(livemode).into()],
        )?
        .ok_or_else(|| Fail::Api(ApiError::not_found("setup_intent").with_param("id")))
    }

    pub fn setup_intent_exists(&self, id: &str) -> worker::Result<bool> {
        Ok(self
            .first::<super::Count>(
                "SELECT COUNT(*) AS n FROM setup_intents WHERE id = ?",
                vec![id.into()],
            )?
            .is_some_and(|c| c.n > 0))
    }

    /// Counts a confirm of the setup intent; refused unless it waits for a card.
    pub fn claim_setup_attempt(&self, id: &str) -> ApiResult<i64> {
        let row: SetupIntentRow = self
            .first("SELECT * FROM setup_intents WHERE id = ?", vec![id.into()])?
            .ok_or_else(|| Fail::Api(ApiError::not_found("setup_intent").with_param("id")))?;
        if row.status()? != SetupIntentStatus::RequiresPaymentMethod {
            return Err(ApiError::invalid_request(
                "setup_intent_unexpected_state",
                format!(
                    "This setup intent is {}; it cannot be confirmed again.",
                    row.status.replace('_', " ")
                ),
            )
            .into());
        }
        let n = row.attempts + 1;
        self.run(
            "UPDATE setup_intents SET attempts = ?, status = 'processing' WHERE id = ?",
            vec![n.into(), id.into()],
        )?;
        Ok(n)
    }

    /// Moves a setup intent forward (never back) and, when it succeeds, tells the
    /// merchant and, for the platform's bill, remembers the card.
    pub fn set_setup_status(
        &self,
        id: &str,
        status: SetupIntentStatus,
        payment_method: Option<&str>,
        last_error: Option<&str>,
        now: i64,
    ) -> ApiResult<SetupIntentRow> {
        let row: SetupIntentRow = self
            .first("SELECT * FROM setup_intents WHERE id = ?", vec![id.into()])?
            .ok_or_else(|| corrupt("setup intent", id))?;
        let from = row.status()?;
        // `processing` is our own mark for a confirm in flight; Stripe's answer replaces it.
        if from != status && (from.may_become(status) || from == SetupIntentStatus::Processing) {
            self.run(
                "UPDATE setup_intents SET status = ?, payment_method = COALESCE(?, payment_method), \
                 last_error = ? WHERE id = ?",
                vec![
                    status.as_str().into(),
                    opt(payment_method),
                    opt(last_error),
                    id.into(),
                ],
            )?;
            let after: SetupIntentRow = self
                .first("SELECT * FROM setup_intents WHERE id = ?", vec![id.into()])?
                .ok_or_else(|| corrupt("setup intent", id))?;
            if status == SetupIntentStatus::Succeeded {
                if after.for_platform() {
                    if let Some(pm) = &after.payment_method {
                        self.set_platform_payment_method(after.livemode != 0, pm)?;
                    }
                } else {
                    self.emit(
                        EventType::SetupIntentSucceeded,
                        &after.to_api()?,
                        after.livemode != 0,
                        now,
                    )?;
                }
            }
            return Ok(after);
        }
        Ok(row)
    }

    // ---- test clocks ------------------------------------------------------------

    pub fn insert_clock(&self, c: &ClockRow) -> worker::Result<()> {
        self.run(
            "INSERT INTO test_clocks (id, name, frozen_time, livemode, created) VALUES (?, ?, ?, 0, ?)",
            vec![
                c.id.as_str().into(),
                opt(c.name.as_deref()),
                c.frozen_time.into(),
                c.created.into(),
            ],
        )?;
        Ok(())
    }

    pub fn clock(&self, id: &str) -> ApiResult<ClockRow> {
        self.first::<ClockRow>("SELECT * FROM test_clocks WHERE id = ?", vec![id.into()])?
            .ok_or_else(|| Fail::Api(ApiError::not_found("test_clock").with_param("id")))
    }

    /// Moves a clock to `to`; never backwards (as at Stripe).
    pub fn move_clock(&self, id: &str, to: i64) -> ApiResult<ClockRow> {
        let c = self.clock(id)?;
        if to <= c.frozen_time {
            return Err(ApiError::invalid_request(
                "parameter_invalid",
                "frozen_time must be later than the clock's current time.",
            )
            .with_param("frozen_time")
            .into());
        }
        self.run(
            "UPDATE test_clocks SET frozen_time = ? WHERE id = ?",
            vec![to.into(), id.into()],
        )?;
        self.clock(id)
    }

    /// The time a customer's things run on: its test clock's, else `now`.
    pub fn time_of(&self, test_clock: Option<&str>, now: i64) -> ApiResult<i64> {
        match test_clock {
            Some(c) => Ok(self.clock(c)?.frozen_time),
            None => Ok(now),
        }
    }

    // ---- subscriptions ----------------------------------------------------------

    pub fn insert_subscription(&self, s: &NewSubscriptionRow) -> ApiResult<SubscriptionRow> {
        self.run(
            "INSERT INTO subscriptions (id, customer, status, amount, currency, interval, interval_count, \
             payment_method, description, anchor, period_index, current_period_start, current_period_end, \
             trial_end, test_clock, livemode, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                s.id.into(),
                s.customer.id.as_str().into(),
                s.status.as_str().into(),
                s.amount.to_minor_units().into(),
                s.amount.currency().code().into(),
                s.interval.as_str().into(),
                i64::from(s.interval_count).into(),
                opt(s.payment_method),
                opt(s.description),
                s.anchor.into(),
                s.period_index.into(),
                s.period_start.into(),
                s.period_end.into(),
                s.trial_end.map_or(worker::SqlStorageValue::Null, Into::into),
                opt(s.customer.test_clock.as_deref()),
                s.customer.livemode.into(),
                s.now.into(),
            ],
        )?;
        let row = self.subscription_any(s.id)?;
        self.emit(
            EventType::SubscriptionCreated,
            &row.to_api()?,
            row.livemode != 0,
            s.now,
        )?;
        Ok(row)
    }

    fn subscription_any(&self, id: &str) -> ApiResult<SubscriptionRow> {
        self.first::<SubscriptionRow>("SELECT * FROM subscriptions WHERE id = ?", vec![id.into()])?
            .ok_or_else(|| Fail::Api(ApiError::not_found("subscription").with_param("id")))
    }

    pub fn subscription(&self, id: &str, livemode: bool) -> ApiResult<SubscriptionRow> {
        let s = self.subscription_any(id)?;
        if (s.livemode != 0) != livemode {
            return Err(ApiError::not_found("subscription").with_param("id").into());
        }
        Ok(s)
    }

    pub fn subscriptions(
        &self,
        livemode: bool,
        customer: Option<&str>,
        limit: i64,
    ) -> worker::Result<Vec<SubscriptionRow>> {
        self.all(
            "SELECT * FROM subscriptions WHERE livemode = ? AND (? IS NULL OR customer = ?) \
             ORDER BY created DESC, id DESC LIMIT ?",
            vec![
                i64::from(livemode).into(),
                opt(customer),
                opt(customer),
                limit.into(),
            ],
        )
    }

    /// Cancels now, or marks it to end with its period. A canceled subscription
    /// makes no invoice again; its open invoices are voided so no retry charges them.
    pub fn cancel_subscription(
        &self,
        id: &str,
        at_period_end: bool,
        now: i64,
    ) -> ApiResult<SubscriptionRow> {
        let s = self.subscription_any(id)?;
        if s.status()? == SubscriptionStatus::Canceled {
            return Err(ApiError::invalid_request(
                "subscription_unexpected_state",
                "This subscription is already canceled.",
            )
            .into());
        }
        if at_period_end {
            self.run(
                "UPDATE subscriptions SET cancel_at_period_end = 1 WHERE id = ?",
                vec![id.into()],
            )?;
            let after = self.subscription_any(id)?;
            self.emit(
                EventType::SubscriptionUpdated,
                &after.to_api()?,
                after.livemode != 0,
                now,
            )?;
            return Ok(after);
        }
        self.end_subscription(id, now)
    }

    /// A subscription whose period ended with `cancel_at_period_end`.
    pub fn end_period_canceled(&self, id: &str, now: i64) -> ApiResult<SubscriptionRow> {
        self.end_subscription(id, now)
    }

    fn end_subscription(&self, id: &str, now: i64) -> ApiResult<SubscriptionRow> {
        self.run(
            "UPDATE subscriptions SET status = 'canceled', canceled_at = ? WHERE id = ?",
            vec![now.into(), id.into()],
        )?;
        self.run(
            "UPDATE invoices SET status = 'void', next_payment_attempt = NULL \
             WHERE subscription = ? AND status IN ('draft', 'open')",
            vec![id.into()],
        )?;
        let after = self.subscription_any(id)?;
        self.emit(
            EventType::SubscriptionDeleted,
            &after.to_api()?,
            after.livemode != 0,
            now,
        )?;
        Ok(after)
    }

    fn set_subscription_status(
        &self,
        id: &str,
        status: SubscriptionStatus,
        now: i64,
    ) -> ApiResult<()> {
        let s = self.subscription_any(id)?;
        let from = s.status()?;
        if from == status || from == SubscriptionStatus::Canceled {
            return Ok(());
        }
        self.run(
            "UPDATE subscriptions SET status = ? WHERE id = ?",
            vec![status.as_str().into(), id.into()],
        )?;
        let after = self.subscription_any(id)?;
        self.emit(
            EventType::SubscriptionUpdated,
            &after.to_api()?,
            after.livemode != 0,
            now,
        )?;
        Ok(())
    }

    /// Subscriptions on `clock` (`None`: on real time) whose period has ended by `at`.
    pub fn subscriptions_due(
        &self,
        clock: Option<&str>,
        at: i64,
        limit: i64,
    ) -> worker::Result<Vec<SubscriptionRow>> {
        self.all(
            "SELECT * FROM subscriptions WHERE test_clock IS ? AND current_period_end <= ? \
             AND status IN ('trialing', 'active', 'past_due') ORDER BY current_period_end LIMIT ?",
            vec![opt(clock), at.into(), limit.into()],
        )
    }

    /// The period that starts at the current one's end: its invoice (with the intent
    /// that pays it, made by the caller with id `intent_id`) and the subscription
    /// moved on, in one step. `None` if that period was invoiced already — a second
    /// runner for the same period makes nothing.
    pub fn open_next_period(
        &self,
        s: &SubscriptionRow,
        invoice_id: &str,
        intent_id: &str,
        hosted: (&str, &str),
        now: i64,
    ) -> ApiResult<Option<InvoiceRow>> {
        let fresh = self.subscription_any(&s.id)?;
        if fresh.period_index != s.period_index || fresh.current_period_end != s.current_period_end
        {
            return Ok(None);
        }
        let interval = s.interval()?;
        let index = s.period_index + 1;
        let (start, end) = (
            s.current_period_end,
            billing::period_end(s.anchor, interval, s.interval_count as u32, index as u32),
        );
        self.run(
            "UPDATE subscriptions SET period_index = ?, current_period_start = ?, current_period_end = ?, \
             latest_invoice = ? WHERE id = ?",
            vec![
                index.into(),
                start.into(),
                end.into(),
                invoice_id.into(),
                s.id.as_str().into(),
            ],
        )?;
        self.insert_invoice(s, invoice_id, intent_id, hosted, start, end, now)
            .map(Some)
    }

    /// The first invoice of a subscription without a trial: the period that starts now.
    pub fn open_first_period(
        &self,
        s: &SubscriptionRow,
        invoice_id: &str,
        intent_id: &str,
        hosted: (&str, &str),
        now: i64,
    ) -> ApiResult<InvoiceRow> {
        self.run(
            "UPDATE subscriptions SET latest_invoice = ? WHERE id = ?",
            vec![invoice_id.into(), s.id.as_str().into()],
        )?;
        self.insert_invoice(
            s,
            invoice_id,
            intent_id,
            hosted,
            s.current_period_start,
            s.current_period_end,
            now,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn insert_invoice(
        &self,
        s: &SubscriptionRow,
        id: &str,
        intent_id: &str,
        hosted: (&str, &str),
        start: i64,
        end: i64,
        now: i64,
    ) -> ApiResult<InvoiceRow> {
        self.run(
            "INSERT INTO invoices (id, subscription, customer, amount, currency, status, payment_intent, \
             hosted_token, hosted_url, period_start, period_end, test_clock, livemode, created) \
             VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                id.into(),
                s.id.as_str().into(),
                s.customer.as_str().into(),
                s.amount.into(),
                s.currency.as_str().into(),
                intent_id.into(),
                hosted.0.into(),
                hosted.1.into(),
                start.into(),
                end.into(),
                opt(s.test_clock.as_deref()),
                s.livemode.into(),
                now.into(),
            ],
        )?;
        self.invoice_any(id)
    }

    pub fn invoice_any(&self, id: &str) -> ApiResult<InvoiceRow> {
        self.first::<InvoiceRow>("SELECT * FROM invoices WHERE id = ?", vec![id.into()])?
            .ok_or_else(|| Fail::Api(ApiError::not_found("invoice").with_param("id")))
    }

    pub fn invoice(&self, id: &str, livemode: bool) -> ApiResult<InvoiceRow> {
        let i = self.invoice_any(id)?;
        if (i.livemode != 0) != livemode {
            return Err(ApiError::not_found("invoice").with_param("id").into());
        }
        Ok(i)
    }

    pub fn invoices(
        &self,
        livemode: bool,
        subscription: Option<&str>,
        limit: i64,
    ) -> worker::Result<Vec<InvoiceRow>> {
        self.all(
            "SELECT * FROM invoices WHERE livemode = ? AND (? IS NULL OR subscription = ?) \
             ORDER BY created DESC, id DESC LIMIT ?",
            vec![
                i64::from(livemode).into(),
                opt(subscription),
                opt(subscription),
                limit.into(),
            ],
        )
    }

    /// Open invoices on `clock` whose next attempt is due by `at`, first attempts
    /// included, and those with an attempt whose outcome is not known yet.
    pub fn invoices_due(
        &self,
        clock: Option<&str>,
        at: i64,
        limit: i64,
    ) -> worker::Result<Vec<InvoiceRow>> {
        self.all(
            "SELECT * FROM invoices WHERE test_clock IS ? AND status = 'open' AND \
             (pending_attempt IS NOT NULL OR (attempt_count = 0 AND created <= ?) OR next_payment_attempt <= ?) \
             ORDER BY COALESCE(next_payment_attempt, created) LIMIT ?",
            vec![opt(clock), at.into(), at.into(), limit.into()],
        )
    }

    /// Takes the invoice for one attempt: it must still be open, at the same attempt
    /// count, and not leased by another runner. `None`: someone else has it.
    pub fn lease_invoice(&self, id: &str, attempt_count: i64, now: i64) -> ApiResult<bool> {
        let n = self.run(
            "UPDATE invoices SET lease_until = ?, pending_attempt = COALESCE(pending_attempt, attempt_count + 1) \
             WHERE id = ? AND status = 'open' AND attempt_count = ? AND (lease_until IS NULL OR lease_until < ?)",
            vec![
                (now + LEASE_SECONDS).into(),
                id.into(),
                attempt_count.into(),
                now.into(),
            ],
        )?;
        Ok(n > 0)
    }

    /// Writes what an attempt gave (at the invoice's time `at`), ends the lease, and
    /// tells the merchant.
    pub fn settle_invoice_attempt(
        &self,
        id: &str,
        result: AttemptResult,
        at: i64,
        now: i64,
    ) -> ApiResult<InvoiceRow> {
        let inv = self.invoice_any(id)?;
        if result == AttemptResult::Unknown {
            self.run(
                "UPDATE invoices SET lease_until = NULL WHERE id = ?",
                vec![id.into()],
            )?;
            return self.invoice_any(id);
        }
        if inv.status()? != InvoiceStatus::Open {
            // Paid meanwhile (the payment's own success marks it) or voided.
            self.run(
                "UPDATE invoices SET lease_until = NULL, pending_attempt = NULL WHERE id = ?",
                vec![id.into()],
            )?;
            return self.invoice_any(id);
        }
        let after = after_attempt(&inv.collection()?, result, at);
        self.run(
            "UPDATE invoices SET status = ?, attempt_count = ?, first_attempt_at = ?, next_payment_attempt = ?, \
             pending_attempt = NULL, lease_until = NULL WHERE id = ?",
            vec![
                after.invoice.status.as_str().into(),
                i64::from(after.invoice.attempt_count).into(),
                after
                    .invoice
                    .first_attempt_at
                    .map_or(worker::SqlStorageValue::Null, Into::into),
                after
                    .invoice
                    .next_payment_attempt
                    .map_or(worker::SqlStorageValue::Null, Into::into),
                id.into(),
            ],
        )?;
        let row = self.invoice_any(id)?;
        let kind = match (result, after.invoice.status) {
            (_, InvoiceStatus::Paid) => EventType::InvoicePaid,
            (AttemptResult::ActionRequired, _) => EventType::InvoicePaymentActionRequired,
            _ => EventType::InvoicePaymentFailed,
        };
        self.emit(kind, &row.to_api()?, row.livemode != 0, now)?;
        if let Some(s) = after.subscription {
            self.set_subscription_status(&row.subscription, s, now)?;
        }
        Ok(row)
    }

    /// Called in the same step as a payment's success: the invoice it pays is paid
    /// and its subscription active again (also after the hosted page, or a late
    /// answer to an attempt whose outcome was unknown).
    pub fn invoice_paid_by(&self, intent_id: &str, now: i64) -> ApiResult<()> {
        let Some(inv) = self.first::<InvoiceRow>(
            "SELECT * FROM invoices WHERE payment_intent = ?",
            vec![intent_id.into()],
        )?
        else {
            return Ok(());
        };
        if inv.status()? != InvoiceStatus::Open {
            return Ok(());
        }
        let at = self.time_of(inv.test_clock.as_deref(), now)?;
        self.settle_invoice_attempt(&inv.id, AttemptResult::Paid, at, now)?;
        Ok(())
    }

    // ---- the platform's bill ------------------------------------------------------

    pub fn platform_billing(
        &self,
        livemode: bool,
    ) -> worker::Result<(Option<String>, Option<String>)> {
        #[derive(Deserialize)]
        struct Row {
            stripe_customer: Option<String>,
            payment_method: Option<String>,
        }
        Ok(self
            .first::<Row>(
                "SELECT stripe_customer, payment_method FROM platform_billing WHERE livemode = ?",
                vec![i64::from(livemode).into()],
            )?
            .map_or((None, None), |r| (r.stripe_customer, r.payment_method)))
    }

    pub fn set_platform_customer(&self, livemode: bool, customer: &str) -> worker::Result<()> {
        self.run(
            "INSERT INTO platform_billing (livemode, stripe_customer) VALUES (?, ?) \
             ON CONFLICT (livemode) DO UPDATE SET stripe_customer = excluded.stripe_customer",
            vec![i64::from(livemode).into(), customer.into()],
        )?;
        Ok(())
    }

    fn set_platform_payment_method(&self, livemode: bool, pm: &str) -> worker::Result<()> {
        self.run(
            "UPDATE platform_billing SET payment_method = ? WHERE livemode = ?",
            vec![pm.into(), i64::from(livemode).into()],
        )?;
        // A new card is worth trying on an invoice that gave up on the old one.
        self.run(
            "UPDATE platform_invoices SET next_payment_attempt = first_attempt_at \
             WHERE livemode = ? AND status = 'open' AND next_payment_attempt IS NULL",
            vec![i64::from(livemode).into()],
        )?;
        Ok(())
    }

    /// Per currency, the platform fees of the payments that succeeded in
    /// `[start, end)` — the ledger's `platform_fee` rows — except those collected at
    /// once as a Connect application fee. A payment refunded later still counts.
    pub fn qualifying_fees(
        &self,
        livemode: bool,
        start: i64,
        end: i64,
    ) -> worker::Result<Vec<FeeTotal>> {
        self.all(
            "SELECT l.currency AS currency, COUNT(*) AS count, SUM(l.amount) AS amount \
             FROM ledger l JOIN payment_intents p ON p.id = l.payment_intent \
             WHERE l.kind = ? AND l.created >= ? AND l.created < ? AND p.livemode = ? \
             AND p.fee_collection IS NULL GROUP BY l.currency ORDER BY l.currency",
            vec![
                EntryKind::PlatformFee.as_str().into(),
                start.into(),
                end.into(),
                i64::from(livemode).into(),
            ],
        )
    }

    /// The platform invoice for one month and currency, once: a second run for the
    /// same month makes nothing.
    #[allow(clippy::too_many_arguments)]
    pub fn insert_platform_invoice(
        &self,
        id: &str,
        month: &str,
        total: &FeeTotal,
        start: i64,
        end: i64,
        livemode: bool,
        now: i64,
    ) -> worker::Result<bool> {
        let n = self.run(
            "INSERT INTO platform_invoices (id, month, currency, period_start, period_end, count, amount, \
             status, livemode, created) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?) \
             ON CONFLICT (month, currency, livemode) DO NOTHING",
            vec![
                id.into(),
                month.into(),
                total.currency.as_str().into(),
                start.into(),
                end.into(),
                total.count.into(),
                total.amount.into(),
                i64::from(livemode).into(),
                now.into(),
            ],
        )?;
        Ok(n > 0)
    }

    pub fn platform_invoices(&self, livemode: bool) -> worker::Result<Vec<PlatformInvoiceRow>> {
        self.all(
            "SELECT * FROM platform_invoices WHERE livemode = ? ORDER BY period_start DESC, currency",
            vec![i64::from(livemode).into()],
        )
    }

    pub fn platform_invoices_due(&self, at: i64) -> worker::Result<Vec<PlatformInvoiceRow>> {
        self.all(
            "SELECT * FROM platform_invoices WHERE status = 'open' AND \
             (attempt_count = 0 OR next_payment_attempt <= ?) AND (lease_until IS NULL OR lease_until < ?)",
            vec![at.into(), at.into()],
        )
    }

    pub fn lease_platform_invoice(
        &self,
        id: &str,
        attempt_count: i64,
        now: i64,
    ) -> ApiResult<bool> {
        let n = self.run(
            "UPDATE platform_invoices SET lease_until = ? WHERE id = ? AND status = 'open' \
             AND attempt_count = ? AND (lease_until IS NULL OR lease_until < ?)",
            vec![
                (now + LEASE_SECONDS).into(),
                id.into(),
                attempt_count.into(),
                now.into(),
            ],
        )?;
        Ok(n > 0)
    }

    pub fn settle_platform_attempt(
        &self,
        id: &str,
        result: AttemptResult,
        error: Option<&str>,
        at: i64,
    ) -> ApiResult<()> {
        let row: PlatformInvoiceRow = self
            .first(
                "SELECT * FROM platform_invoices WHERE id = ?",
                vec![id.into()],
            )?
            .ok_or_else(|| corrupt("platform invoice", id))?;
        if result == AttemptResult::Unknown {
            self.run(
                "UPDATE platform_invoices SET lease_until = NULL WHERE id = ?",
                vec![id.into()],
            )?;
            return Ok(());
        }
        let after = after_attempt(&row.collection()?, result, at);
        self.run(
            "UPDATE platform_invoices SET status = ?, attempt_count = ?, first_attempt_at = ?, \
             next_payment_attempt = ?, lease_until = NULL, last_error = ? WHERE id = ?",
            vec![
                after.invoice.status.as_str().into(),
                i64::from(after.invoice.attempt_count).into(),
                after
                    .invoice
                    .first_attempt_at
                    .map_or(worker::SqlStorageValue::Null, Into::into),
                after
                    .invoice
                    .next_payment_attempt
                    .map_or(worker::SqlStorageValue::Null, Into::into),
                opt(error),
                id.into(),
            ],
        )?;
        Ok(())
    }

    /// The earliest time (on real time) anything of billing is due: what the alarm
    /// must wake for. Clock-bound things wait for their clock.
    pub fn next_billing_at(&self) -> worker::Result<Option<i64>> {
        #[derive(Deserialize)]
        struct Row {
            at: Option<i64>,
        }
        Ok(self
            .first::<Row>(
                "SELECT MIN(at) AS at FROM ( \
                   SELECT current_period_end AS at FROM subscriptions WHERE test_clock IS NULL \
                     AND status IN ('trialing', 'active', 'past_due') \
                   UNION ALL SELECT next_payment_attempt FROM invoices WHERE test_clock IS NULL \
                     AND status = 'open' AND next_payment_attempt IS NOT NULL \
                   UNION ALL SELECT next_payment_attempt FROM platform_invoices \
                     WHERE status = 'open' AND next_payment_attempt IS NOT NULL)",
                vec![],
            )?
            .and_then(|r| r.at))
    }

    /// Marks an intent's platform fee as collected at once by Stripe Connect (an
    /// application fee), so the platform's bill does not count it again.
    pub fn set_fee_collection(&self, intent_id: &str, how: &str) -> worker::Result<()> {
        self.run(
            "UPDATE payment_intents SET fee_collection = ? WHERE id = ?",
            vec![how.into(), intent_id.into()],
        )?;
        Ok(())
    }

    /// An attempt that charges a saved card without the customer: opened like any
    /// attempt (the same one-at-a-time check), marked so a resend is off session too.
    pub fn open_off_session_attempt(&self, id: &str, pm: &str, now: i64) -> ApiResult<i64> {
        let n = self.open_attempt(id, Some(pm), None, now)?;
        self.run(
            "UPDATE attempts SET off_session = 1 WHERE payment_intent = ? AND number = ?",
            vec![id.into(), n.into()],
        )?;
        Ok(n)
    }

    pub fn attempt_off_session(&self, id: &str, number: i64) -> worker::Result<bool> {
        #[derive(Deserialize)]
        struct Row {
            off_session: i64,
        }
        Ok(self
            .first::<Row>(
                "SELECT off_session FROM attempts WHERE payment_intent = ? AND number = ?",
                vec![id.into(), number.into()],
            )?
            .is_some_and(|r| r.off_session != 0))
    }

    pub fn set_intent_invoice(&self, intent_id: &str, invoice: &str) -> worker::Result<()> {
        self.run(
            "UPDATE payment_intents SET invoice = ? WHERE id = ?",
            vec![invoice.into(), intent_id.into()],
        )?;
        Ok(())
    }

    /// The publishable key of a mode, kept for the pages the Worker serves itself
    /// (an invoice's hosted page): publishable keys are public by design.
    pub fn publishable_key(&self, livemode: bool) -> worker::Result<Option<String>> {
        #[derive(Deserialize)]
        struct Row {
            value: Option<String>,
        }
        Ok(self
            .first::<Row>(
                "SELECT value FROM api_keys WHERE kind = 'publishable' AND livemode = ? AND value IS NOT NULL",
                vec![i64::from(livemode).into()],
            )?
            .and_then(|r| r.value))
    }

    pub fn set_publishable_value(&self, hash: &str, value: &str) -> worker::Result<()> {
        self.run(
            "UPDATE api_keys SET value = ? WHERE hash = ? AND kind = 'publishable'",
            vec![value.into(), hash.into()],
        )?;
        Ok(())
    }
}
