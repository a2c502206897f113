//! Recurring billing: customers, saved cards, setup intents, subscriptions, invoices,
//! test clocks and the platform's bill to its merchants (API.md, "Customers, saved
//! cards and subscriptions"). Pure: calendar arithmetic, the retry schedule, the
//! subscription and invoice state machine, and the request and response types.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::api::{LastError, NextAction};
use crate::error::ApiError;
use crate::intent::UnknownName;
use crate::money::{Currency, Money};

const DAY: i64 = 86_400;

/// Declines are tried again this many days after the first attempt (API.md: +1, +3,
/// +7, +14); after the last one fails the subscription is `unpaid`.
pub const RETRY_DAYS: [i64; 4] = [1, 3, 7, 14];

fn invalid(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_request("parameter_invalid", message).with_param(param)
}

/// `prefix` then 1–255 ASCII letters, digits or '_' (ours or a provider's, such as
/// Stripe's `pm_…`).
pub fn is_id(value: &str, prefix: &str) -> bool {
    value.strip_prefix(prefix).is_some_and(|rest| {
        !rest.is_empty()
            && value.len() <= 255
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

// ---------------------------------------------------------------- calendar

/// Days since 1970-01-01 of a proleptic Gregorian date (the well-known
/// era-based conversion; exact for every i64 day that fits a year of i32).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// `t` moved `months` calendar months on, keeping its time of day; a day the
/// target month lacks becomes its last day (Jan 31 + 1 month = Feb 28/29), as
/// Stripe bills. Always counted from the same anchor, so Mar 31 follows Feb 28.
pub fn add_months(t: i64, months: i64) -> i64 {
    let (days, secs) = (t.div_euclid(DAY), t.rem_euclid(DAY));
    let (y, m, d) = civil_from_days(days);
    let total = y * 12 + (m as i64 - 1) + months;
    let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    let nd = d.min(days_in_month(ny, nm));
    days_from_civil(ny, nm, nd) * DAY + secs
}

/// The first instant (UTC) of the month `t` falls in.
pub fn month_start(t: i64) -> i64 {
    let (y, m, _) = civil_from_days(t.div_euclid(DAY));
    days_from_civil(y, m, 1) * DAY
}

/// `YYYY-MM` of `t` (UTC).
pub fn month_label(t: i64) -> String {
    let (y, m, _) = civil_from_days(t.div_euclid(DAY));
    format!("{y:04}-{m:02}")
}

/// `YYYY-MM-DD` of `t` (UTC): the day a daily limit or a reconciliation counts in.
pub fn day_label(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The first instant (UTC) of a `YYYY-MM-DD` day, if `label` is one.
pub fn day_start(label: &str) -> Option<i64> {
    let b = label.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |s: &str| -> Option<i64> {
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, m, d) = (num(&label[..4])?, num(&label[5..7])?, num(&label[8..])?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 {
        return None;
    }
    let start = days_from_civil(y, m as u32, d as u32) * DAY;
    (day_label(start) == label).then_some(start)
}

// ---------------------------------------------------------------- subscriptions

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Month,
    Year,
}

crate::wire_names!(Interval, "interval", { Month => "month", Year => "year" });

impl Interval {
    pub fn months(self) -> i64 {
        match self {
            Interval::Month => 1,
            Interval::Year => 12,
        }
    }
}

/// When period `index` (0 = the first) of a subscription anchored at `anchor` ends.
pub fn period_end(anchor: i64, interval: Interval, count: u32, index: u32) -> i64 {
    add_months(
        anchor,
        interval.months() * i64::from(count) * (i64::from(index) + 1),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// Its first invoice is not paid yet.
    Incomplete,
    Trialing,
    Active,
    /// An invoice failed and is being retried.
    PastDue,
    /// Every retry failed: no more invoices are made until it is paid.
    Unpaid,
    Canceled,
}

crate::wire_names!(SubscriptionStatus, "subscription status", {
    Incomplete => "incomplete",
    Trialing => "trialing",
    Active => "active",
    PastDue => "past_due",
    Unpaid => "unpaid",
    Canceled => "canceled",
});

impl SubscriptionStatus {
    /// Whether the end of its period makes a new invoice.
    pub fn bills_next_period(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Trialing | SubscriptionStatus::Active | SubscriptionStatus::PastDue
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Draft,
    Open,
    Paid,
    Uncollectible,
    Void,
}

crate::wire_names!(InvoiceStatus, "invoice status", {
    Draft => "draft",
    Open => "open",
    Paid => "paid",
    Uncollectible => "uncollectible",
    Void => "void",
});

/// What one attempt to charge an invoice's saved card gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    Paid,
    /// The bank declined: retried on the schedule.
    Declined,
    /// The bank wants the customer (3-D Secure off session): the invoice waits
    /// open for its hosted page; no automatic retry would succeed.
    ActionRequired,
    /// No answer: the same attempt is asked again, under the same key.
    Unknown,
}

/// An invoice's collection state: enough to decide what an attempt changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub status: InvoiceStatus,
    pub attempt_count: u32,
    /// When the first attempt was made (the retry schedule counts from it).
    pub first_attempt_at: Option<i64>,
    pub next_payment_attempt: Option<i64>,
}

/// What an attempt's result does to the invoice and to its subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterAttempt {
    pub invoice: Collection,
    /// `None`: the subscription's status stays as it is.
    pub subscription: Option<SubscriptionStatus>,
}

/// The invoice and subscription after attempt number `attempt_count + 1`, made at `at`.
/// Paid is final; a decline schedules the next retry or, after the last,
/// makes the subscription unpaid (the invoice stays open: paying it later, on its
/// page, makes the subscription active again).
pub fn after_attempt(c: &Collection, result: AttemptResult, at: i64) -> AfterAttempt {
    let first = c.first_attempt_at.unwrap_or(at);
    let attempts = c.attempt_count + 1;
    match result {
        AttemptResult::Paid => AfterAttempt {
            invoice: Collection {
                status: InvoiceStatus::Paid,
                attempt_count: attempts,
                first_attempt_at: Some(first),
                next_payment_attempt: None,
            },
            subscription: Some(SubscriptionStatus::Active),
        },
        AttemptResult::Declined => {
            let next = RETRY_DAYS
                .get(attempts as usize - 1)
                .map(|days| first + days * DAY);
            AfterAttempt {
                invoice: Collection {
                    status: InvoiceStatus::Open,
                    attempt_count: attempts,
                    first_attempt_at: Some(first),
                    next_payment_attempt: next,
                },
                subscription: Some(if next.is_some() {
                    SubscriptionStatus::PastDue
                } else {
                    SubscriptionStatus::Unpaid
                }),
            }
        }
        AttemptResult::ActionRequired => AfterAttempt {
            invoice: Collection {
                status: InvoiceStatus::Open,
                attempt_count: attempts,
                first_attempt_at: Some(first),
                next_payment_attempt: None,
            },
            subscription: Some(SubscriptionStatus::PastDue),
        },
        AttemptResult::Unknown => AfterAttempt {
            invoice: c.clone(),
            subscription: None,
        },
    }
}

/// A subscription's state for deciding what its period's end does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub status: SubscriptionStatus,
    pub current_period_end: i64,
    pub cancel_at_period_end: bool,
}

/// What is due for a subscription at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    Nothing,
    /// Invoice the period that starts at the current period's end.
    Invoice,
    /// The period ended with `cancel_at_period_end`: cancel, bill nothing.
    Cancel,
}

pub fn due(s: &Schedule, now: i64) -> Due {
    if now < s.current_period_end || !s.status.bills_next_period() {
        return Due::Nothing;
    }
    if s.cancel_at_period_end {
        Due::Cancel
    } else {
        Due::Invoice
    }
}

// ---------------------------------------------------------------- API types

/// `POST /v1/customers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub test_clock: Option<String>,
}

impl CreateCustomer {
    pub fn validate(&self) -> Result<(), ApiError> {
        let e = &self.email;
        let at = e.find('@');
        if e.len() > 254
            || e.chars().any(|c| c.is_control() || c.is_whitespace())
            || !at.is_some_and(|i| i > 0 && i + 1 < e.len())
        {
            return Err(invalid("email", "email must be an email address."));
        }
        if let Some(n) = &self.name {
            if n.trim().is_empty() || n.chars().count() > 200 || n.chars().any(char::is_control) {
                return Err(invalid(
                    "name",
                    "name must be 1 to 200 characters without control characters.",
                ));
            }
        }
        if let Some(m) = &self.metadata {
            crate::api::check_metadata(m)?;
        }
        if let Some(c) = &self.test_clock {
            if !is_id(c, "clock_") {
                return Err(invalid(
                    "test_clock",
                    "test_clock must be a test clock id (clock_…).",
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub object: String,
    pub email: String,
    pub name: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub test_clock: Option<String>,
    pub created: i64,
    pub livemode: bool,
}

/// A saved card as the merchant sees it: never more than this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedCard {
    pub id: String,
    pub card: CardSummary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSummary {
    pub brand: String,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
}

/// `POST /v1/setup_intents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSetupIntent {
    pub customer: String,
    #[serde(default)]
    pub provider: Option<crate::intent::Provider>,
}

impl CreateSetupIntent {
    pub fn validate(&self) -> Result<(), ApiError> {
        if !is_id(&self.customer, "cus_") {
            return Err(invalid(
                "customer",
                "customer must be a customer id (cus_…).",
            ));
        }
        match self.provider {
            None | Some(crate::intent::Provider::Stripe) => Ok(()),
            Some(p) => Err(invalid(
                "provider",
                format!("Cards are saved with provider stripe only, not {p}."),
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetupIntentStatus {
    RequiresPaymentMethod,
    RequiresAction,
    Processing,
    Succeeded,
    Canceled,
}

crate::wire_names!(SetupIntentStatus, "setup intent status", {
    RequiresPaymentMethod => "requires_payment_method",
    RequiresAction => "requires_action",
    Processing => "processing",
    Succeeded => "succeeded",
    Canceled => "canceled",
});

impl SetupIntentStatus {
    /// Statuses only move forward: a late answer never undoes a saved card.
    pub fn may_become(self, next: SetupIntentStatus) -> bool {
        use SetupIntentStatus as S;
        match self {
            S::Succeeded | S::Canceled => false,
            S::RequiresPaymentMethod | S::RequiresAction | S::Processing => self != next,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupIntent {
    pub id: String,
    pub object: String,
    pub client_secret: String,
    pub status: SetupIntentStatus,
    pub customer: Option<String>,
    pub payment_method: Option<String>,
    pub usage: String,
    pub next_action: Option<NextAction>,
    pub last_error: Option<LastError>,
    pub created: i64,
    pub livemode: bool,
}

/// `GET /v1/setup_intents/{id}/checkout` (the widget's save-card mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupCheckout {
    pub setup_intent: SetupIntent,
    pub provider: crate::api::ProviderSetup,
}

/// `POST /v1/subscriptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    pub customer: String,
    pub amount: String,
    pub currency: String,
    pub interval: Interval,
    #[serde(default)]
    pub interval_count: Option<u32>,
    #[serde(default)]
    pub payment_method: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub trial_end: Option<i64>,
}

/// A [`CreateSubscription`] that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    pub amount: Money,
    pub interval: Interval,
    pub interval_count: u32,
}

impl CreateSubscription {
    /// `now`: the customer's clock, which `trial_end` must lie after.
    pub fn validate(&self, now: i64) -> Result<NewSubscription, ApiError> {
        if !is_id(&self.customer, "cus_") {
            return Err(invalid(
                "customer",
                "customer must be a customer id (cus_…).",
            ));
        }
        let currency = Currency::parse(&self.currency).map_err(|_| {
            ApiError::invalid_request(
                "invalid_currency",
                format!("currency {:?} is not supported.", self.currency),
            )
            .with_param("currency")
        })?;
        let amount = Money::parse(&self.amount, currency).map_err(|e| e.to_api_error("amount"))?;
        let interval_count = self.interval_count.unwrap_or(1);
        let max = match self.interval {
            Interval::Month => 36,
            Interval::Year => 3,
        };
        if !(1..=max).contains(&interval_count) {
            return Err(invalid(
                "interval_count",
                format!(
                    "interval_count must be 1 to {max} for interval {}.",
                    self.interval
                ),
            ));
        }
        if let Some(pm) = &self.payment_method {
            if !is_id(pm, "pm_") {
                return Err(invalid(
                    "payment_method",
                    "payment_method must be a saved card's id (pm_…).",
                ));
            }
        }
        if let Some(d) = &self.description {
            if d.chars().count() > 1000 {
                return Err(invalid(
                    "description",
                    "description must be at most 1000 characters.",
                ));
            }
        }
        if let Some(t) = self.trial_end {
            if t <= now || t > add_months(now, 24) {
                return Err(invalid(
                    "trial_end",
                    "trial_end must be a unix time in the future, at most two years ahead.",
                ));
            }
        }
        Ok(NewSubscription {
            amount,
            interval: self.interval,
            interval_count,
        })
    }
}

/// `POST /v1/subscriptions/{id}/cancel`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelSubscription {
    #[serde(default)]
    pub at_period_end: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub object: String,
    pub customer: String,
    pub status: SubscriptionStatus,
    pub amount: String,
    pub currency: Currency,
    pub interval: Interval,
    pub interval_count: u32,
    pub payment_method: Option<String>,
    pub description: Option<String>,
    pub current_period_start: i64,
    pub current_period_end: i64,
    pub trial_end: Option<i64>,
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<i64>,
    pub latest_invoice: Option<String>,
    pub created: i64,
    pub livemode: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub id: String,
    pub object: String,
    pub subscription: String,
    pub customer: String,
    pub amount_due: String,
    pub amount_paid: String,
    pub currency: Currency,
    pub status: InvoiceStatus,
    pub attempt_count: u32,
    pub next_payment_attempt: Option<i64>,
    pub payment_intent: Option<String>,
    pub hosted_url: Option<String>,
    pub period_start: i64,
    pub period_end: i64,
    pub created: i64,
    pub livemode: bool,
}

/// `POST /v1/test_clocks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTestClock {
    pub frozen_time: i64,
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /v1/test_clocks/{id}/advance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvanceTestClock {
    pub frozen_time: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestClock {
    pub id: String,
    pub object: String,
    pub frozen_time: i64,
    pub name: Option<String>,
    pub status: String,
    pub created: i64,
    pub livemode: bool,
}

/// The platform's monthly bill to one merchant, in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformInvoice {
    pub id: String,
    pub object: String,
    pub merchant: String,
    /// `YYYY-MM` (UTC) of the transactions it counts.
    pub month: String,
    pub period_start: i64,
    pub period_end: i64,
    pub currency: Currency,
    /// Qualifying transactions: succeeded, and not collected as a Connect
    /// application fee.
    pub count: u32,
    /// The platform fees of those transactions, summed from the ledger.
    pub amount_due: String,
    pub amount_paid: String,
    pub status: InvoiceStatus,
    pub attempt_count: u32,
    pub next_payment_attempt: Option<i64>,
    pub last_error: Option<String>,
    pub created: i64,
    pub livemode: bool,
}

/// `GET /v1/platform_billing`: the card the platform's bill is charged to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformBilling {
    pub payment_method: Option<SavedCard>,
}

impl fmt::Display for AttemptResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttemptResult::Paid => "paid",
            AttemptResult::Declined => "declined",
            AttemptResult::ActionRequired => "action_required",
            AttemptResult::Unknown => "unknown",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(y: i64, m: u32, d: u32) -> i64 {
        days_from_civil(y, m, d) * DAY
    }

    #[test]
    fn months_keep_the_anchor_day_or_the_month_end() {
        assert_eq!(t(1970, 1, 1), 0);
        assert_eq!(add_months(t(2026, 1, 31), 1), t(2026, 2, 28));
        assert_eq!(add_months(t(2028, 1, 31), 1), t(2028, 2, 29));
        assert_eq!(add_months(t(2026, 1, 31), 2), t(2026, 3, 31));
        assert_eq!(add_months(t(2026, 12, 3) + 3600, 1), t(2027, 1, 3) + 3600);
        assert_eq!(add_months(t(2024, 2, 29), 12), t(2025, 2, 28));
        assert_eq!(
            period_end(t(2026, 1, 31), Interval::Month, 1, 2),
            t(2026, 4, 30)
        );
        assert_eq!(
            period_end(t(2026, 1, 31), Interval::Year, 1, 0),
            t(2027, 1, 31)
        );
        assert_eq!(month_start(t(2026, 12, 3) + 7), t(2026, 12, 1));
        assert_eq!(month_label(t(2026, 12, 3)), "2026-12");
    }

    #[test]
    fn a_decline_is_retried_at_one_three_seven_fourteen_days_then_unpaid() {
        let mut c = Collection {
            status: InvoiceStatus::Open,
            attempt_count: 0,
            first_attempt_at: None,
            next_payment_attempt: None,
        };
        let start = 1_000_000;
        let mut at = start;
        let mut seen = Vec::new();
        loop {
            let a = after_attempt(&c, AttemptResult::Declined, at);
            c = a.invoice;
            match c.next_payment_attempt {
                Some(n) => {
                    seen.push((n - start) / DAY);
                    assert_eq!(a.subscription, Some(SubscriptionStatus::PastDue));
                    at = n;
                }
                None => {
                    assert_eq!(a.subscription, Some(SubscriptionStatus::Unpaid));
                    break;
                }
            }
        }
        assert_eq!(seen, vec![1, 3, 7, 14]);
        assert_eq!(c.attempt_count, 5);
        assert_eq!(c.status, InvoiceStatus::Open);
        let paid = after_attempt(&c, AttemptResult::Paid, at + DAY);
        assert_eq!(paid.invoice.status, InvoiceStatus::Paid);
        assert_eq!(paid.subscription, Some(SubscriptionStatus::Active));
    }

    #[test]
    fn an_unknown_attempt_changes_nothing_and_action_required_waits_for_the_customer() {
        let c = Collection {
            status: InvoiceStatus::Open,
            attempt_count: 2,
            first_attempt_at: Some(5),
            next_payment_attempt: Some(9),
        };
        assert_eq!(after_attempt(&c, AttemptResult::Unknown, 9).invoice, c);
        let a = after_attempt(&c, AttemptResult::ActionRequired, 9);
        assert_eq!(a.invoice.next_payment_attempt, None);
        assert_eq!(a.invoice.status, InvoiceStatus::Open);
        assert_eq!(a.subscription, Some(SubscriptionStatus::PastDue));
    }

    #[test]
    fn period_end_cancels_or_bills_only_live_subscriptions() {
        let s = Schedule {
            status: SubscriptionStatus::Active,
            current_period_end: 100,
            cancel_at_period_end: false,
        };
        assert_eq!(due(&s, 99), Due::Nothing);
        assert_eq!(due(&s, 100), Due::Invoice);
        let ending = Schedule {
            cancel_at_period_end: true,
            ..s.clone()
        };
        assert_eq!(due(&ending, 100), Due::Cancel);
        for st in [
            SubscriptionStatus::Canceled,
            SubscriptionStatus::Unpaid,
            SubscriptionStatus::Incomplete,
        ] {
            let s = Schedule {
                status: st,
                ..s.clone()
            };
            assert_eq!(due(&s, 1_000), Due::Nothing, "{st}");
        }
    }

    #[test]
    fn requests_refuse_bad_values() {
        let sub = |f: &dyn Fn(&mut CreateSubscription)| {
            let mut c = CreateSubscription {
                customer: "cus_1".into(),
                amount: "19.90".into(),
                currency: "CHF".into(),
                interval: Interval::Month,
                interval_count: None,
                payment_method: None,
                description: None,
                trial_end: None,
            };
            f(&mut c);
            c.validate(1_000)
                .map(|_| ())
                .map_err(|e| e.param.unwrap_or_default())
        };
        assert_eq!(sub(&|_| {}), Ok(()));
        assert_eq!(sub(&|c| c.amount = "0".into()), Err("amount".into()));
        assert_eq!(sub(&|c| c.amount = "1.234".into()), Err("amount".into()));
        assert_eq!(
            sub(&|c| c.customer = "acct_1".into()),
            Err("customer".into())
        );
        assert_eq!(
            sub(&|c| c.interval_count = Some(0)),
            Err("interval_count".into())
        );
        assert_eq!(sub(&|c| c.trial_end = Some(999)), Err("trial_end".into()));
        assert_eq!(
            sub(&|c| c.payment_method = Some("card_1".into())),
            Err("payment_method".into())
        );
        assert!(serde_json::from_str::<CreateSubscription>(
            r#"{"customer":"cus_1","amount":"1.00","currency":"CHF","interval":"week"}"#
        )
        .is_err());
        assert!(serde_json::from_str::<CreateCustomer>(r#"{"email":"a@b.c","x":1}"#).is_err());
        let cust = |e: &str| {
            CreateCustomer {
                email: e.into(),
                name: None,
                metadata: None,
                test_clock: None,
            }
            .validate()
            .is_ok()
        };
        assert!(cust("anna@example.ch"));
        assert!(!cust("anna"));
        assert!(!cust("@example.ch"));
        assert!(!cust("an na@example.ch"));
        assert!(CreateSetupIntent {
            customer: "cus_1".into(),
            provider: Some(crate::intent::Provider::Worldpay)
        }
        .validate()
        .is_err());
    }

    #[test]
    fn setup_intents_never_move_back() {
        use SetupIntentStatus as S;
        assert!(!S::Succeeded.may_become(S::RequiresAction));
        assert!(!S::Canceled.may_become(S::Succeeded));
        assert!(S::RequiresAction.may_become(S::Succeeded));
        assert!(!S::RequiresAction.may_become(S::RequiresAction));
    }

    proptest! {
        #[test]
        fn civil_dates_round_trip(days in -1_000_000i64..1_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
            prop_assert!((1..=days_in_month(y, m)).contains(&d));
        }

        #[test]
        fn periods_are_ordered_and_a_month_is_28_to_31_days(
            anchor in 0i64..4_000_000_000, index in 0u32..120
        ) {
            let a = period_end(anchor, Interval::Month, 1, index);
            let b = period_end(anchor, Interval::Month, 1, index + 1);
            prop_assert!(b > a);
            prop_assert!((28 * DAY..=31 * DAY).contains(&(b - a)));
            // Anchored: the day of month never drifts below the anchor's (clamped).
            let (_, _, da) = civil_from_days(anchor.div_euclid(DAY));
            let (y, m, db) = civil_from_days(b.div_euclid(DAY));
            prop_assert_eq!(db, da.min(days_in_month(y, m)));
        }

        #[test]
        fn an_invoice_is_never_attempted_more_than_five_times(
            results in proptest::collection::vec(0u8..4, 0..20)
        ) {
            let mut c = Collection {
                status: InvoiceStatus::Open, attempt_count: 0,
                first_attempt_at: None, next_payment_attempt: None,
            };
            let mut at = 0;
            for r in results {
                // The engine attempts only open invoices that have a next attempt
                // (the first attempt has none yet).
                if c.status != InvoiceStatus::Open
                    || (c.attempt_count > 0 && c.next_payment_attempt.is_none()) {
                    break;
                }
                at = c.next_payment_attempt.unwrap_or(at);
                let r = [AttemptResult::Paid, AttemptResult::Declined,
                         AttemptResult::ActionRequired, AttemptResult::Unknown][r as usize];
                c = after_attempt(&c, r, at).invoice;
                prop_assert!(c.attempt_count <= 1 + RETRY_DAYS.len() as u32);
            }
        }
    }

    #[test]
    fn unknown_names_are_refused() {
        assert!(Interval::from_str("week").is_err());
        let _: Option<UnknownName> = SubscriptionStatus::from_str("late").err();
    }

    #[test]
    fn days() {
        // Cashcloud's daily count uses the same days (these were its test).
        assert_eq!(day_label(1_700_000_000), "2023-11-14");
        assert_eq!(day_label(951_782_400), "2000-02-29");
        assert_eq!(day_label(1_798_761_599), "2026-12-31");
        assert_eq!(day_label(1_798_761_600), "2027-01-01");
        assert_eq!(day_label(0), "1970-01-01");
        assert_eq!(day_start("1970-01-02"), Some(86_400));
        let t = day_start("2026-12-04").unwrap();
        assert_eq!(day_label(t), "2026-12-04");
        assert_eq!(day_label(t + 86_399), "2026-12-04");
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "2026-1-01",
            "abcd-ef-gh",
            "",
            "2026-12-4 ",
        ] {
            assert_eq!(day_start(bad), None, "{bad}");
        }
    }
}
