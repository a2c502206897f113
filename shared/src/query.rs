//! Our API's query strings (`GET /v1/payment_intents?status=&limit=…` and the other
//! lists): read here, pure, so the Worker's routes and the fuzzer read them the same
//! way. Decoding is the URL standard's (`application/x-www-form-urlencoded`, lenient
//! about stray `%`), as the Worker's `Url::query_pairs` always was; a name given twice
//! counts once (the first). Each list's parameters have a `to_query` that writes them
//! back, so a fuzzer can check that what was accepted reads back the same.

use std::str::FromStr;

use crate::error::ApiError;
use crate::http::Form;
use crate::intent::{IntentStatus, Provider};
use crate::ledger::EntryKind;
use crate::webhooks::EventType;

/// A list's page size when none is asked for, and the largest one allowed.
pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 100;

/// The decoded `name=value` pairs of a query string (without the `?`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

fn bad(param: &str, msg: &str) -> ApiError {
    ApiError::invalid_request("parameter_invalid", msg).with_param(param)
}

impl Query {
    pub fn parse(raw: &str) -> Query {
        Query {
            pairs: url::form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `?limit=`: 1 to 100, default 10.
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.get("limit") {
            Some(l) => l
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| bad("limit", "limit must be a whole number from 1 to 100.")),
            None => Ok(DEFAULT_LIMIT),
        }
    }

    /// A unix time in seconds, or `msg` as the error.
    fn time(&self, name: &str, msg: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|t| t.parse::<i64>().map_err(|_| bad(name, msg)))
            .transpose()
    }

    fn named<T: FromStr>(&self, name: &str, msg: &str) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|v| T::from_str(v).map_err(|_| bad(name, msg)))
            .transpose()
    }
}

/// Writes `(name, value)` pairs whose value is set, in order.
fn write(pairs: &[(&str, Option<String>)]) -> String {
    let mut f = Form::new();
    for (k, v) in pairs {
        if let Some(v) = v {
            f.push(*k, v.clone());
        }
    }
    f.encode()
}

/// `GET /v1/payment_intents?status=&provider=&created_gte=&limit=&starting_after=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentListParams {
    pub status: Option<IntentStatus>,
    pub provider: Option<Provider>,
    pub created_gte: Option<i64>,
    /// An intent id; the Worker looks it up (an unknown one is a 400 there).
    pub starting_after: Option<String>,
    pub limit: u32,
}

impl IntentListParams {
    pub fn parse(q: &Query) -> Result<IntentListParams, ApiError> {
        Ok(IntentListParams {
            limit: q.limit()?,
            status: q.named("status", "Unknown status.")?,
            provider: q.named("provider", "Unknown provider.")?,
            created_gte: q.time("created_gte", "created_gte is a unix time in seconds.")?,
            starting_after: q.get("starting_after").map(str::to_owned),
        })
    }

    pub fn to_query(&self) -> String {
        write(&[
            ("status", self.status.map(|s| s.as_str().to_owned())),
            ("provider", self.provider.map(|p| p.as_str().to_owned())),
            ("created_gte", self.created_gte.map(|t| t.to_string())),
            ("starting_after", self.starting_after.clone()),
            ("limit", Some(self.limit.to_string())),
        ])
    }
}

/// `GET /v1/events?type=&created_gte=&limit=&starting_after=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventListParams {
    pub kind: Option<EventType>,
    pub created_gte: Option<i64>,
    pub starting_after: Option<String>,
    pub limit: u32,
}

impl EventListParams {
    pub fn parse(q: &Query) -> Result<EventListParams, ApiError> {
        Ok(EventListParams {
            limit: q.limit()?,
            kind: q.named("type", "Unknown event type.")?,
            created_gte: q.time("created_gte", "created_gte must be a unix time in seconds.")?,
            starting_after: q.get("starting_after").map(str::to_owned),
        })
    }

    pub fn to_query(&self) -> String {
        write(&[
            ("type", self.kind.map(|k| k.as_str().to_owned())),
            ("created_gte", self.created_gte.map(|t| t.to_string())),
            ("starting_after", self.starting_after.clone()),
            ("limit", Some(self.limit.to_string())),
        ])
    }
}

/// `GET /v1/refunds?payment_intent=&limit=&starting_after=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundListParams {
    pub payment_intent: Option<String>,
    pub starting_after: Option<String>,
    pub limit: u32,
}

impl RefundListParams {
    pub fn parse(q: &Query) -> Result<RefundListParams, ApiError> {
        Ok(RefundListParams {
            limit: q.limit()?,
            payment_intent: q.get("payment_intent").map(str::to_owned),
            starting_after: q.get("starting_after").map(str::to_owned),
        })
    }

    pub fn to_query(&self) -> String {
        write(&[
            ("payment_intent", self.payment_intent.clone()),
            ("starting_after", self.starting_after.clone()),
            ("limit", Some(self.limit.to_string())),
        ])
    }
}

/// The ledger's `?type=`: one kind, or `refund` for every row a refund writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerType {
    Refund,
    Kind(EntryKind),
}

impl LedgerType {
    pub fn kinds(&self) -> Vec<EntryKind> {
        match self {
            LedgerType::Refund => vec![
                EntryKind::RefundPending,
                EntryKind::RefundSucceeded,
                EntryKind::RefundFailed,
            ],
            LedgerType::Kind(k) => vec![*k],
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            LedgerType::Refund => "refund",
            LedgerType::Kind(k) => k.as_str(),
        }
    }
}

/// A balance transaction's id: `txn_` and its ledger sequence number.
pub const LEDGER_ID_PREFIX: &str = "txn_";

/// `GET /v1/balance_transactions?payment_intent=&type=&created_gte=&created_lt=&limit=&starting_after=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerListParams {
    pub payment_intent: Option<String>,
    pub kind: Option<LedgerType>,
    pub created_gte: Option<i64>,
    pub created_lt: Option<i64>,
    /// The ledger sequence number of `starting_after=txn_…`.
    pub before_seq: Option<i64>,
    pub limit: u32,
}

impl LedgerListParams {
    pub fn parse(q: &Query) -> Result<LedgerListParams, ApiError> {
        let kind = match q.get("type") {
            None => None,
            Some("refund") => Some(LedgerType::Refund),
            Some(k) => Some(LedgerType::Kind(EntryKind::from_str(k).map_err(|_| {
                bad(
                    "type",
                    "type must be one of authorized, captured, released, refund, refund_pending, refund_succeeded, refund_failed, platform_fee, provider_fee.",
                )
            })?)),
        };
        let before_seq = match q.get("starting_after") {
            Some(id) => Some(
                id.strip_prefix(LEDGER_ID_PREFIX)
                    .and_then(|n| n.parse::<i64>().ok())
                    .ok_or_else(|| bad("starting_after", "No such balance transaction."))?,
            ),
            None => None,
        };
        Ok(LedgerListParams {
            payment_intent: q.get("payment_intent").map(str::to_owned),
            kind,
            created_gte: q.time("created_gte", "Times are unix seconds.")?,
            created_lt: q.time("created_lt", "Times are unix seconds.")?,
            before_seq,
            limit: q.limit()?,
        })
    }

    pub fn to_query(&self) -> String {
        write(&[
            ("payment_intent", self.payment_intent.clone()),
            ("type", self.kind.map(|k| k.as_str().to_owned())),
            ("created_gte", self.created_gte.map(|t| t.to_string())),
            ("created_lt", self.created_lt.map(|t| t.to_string())),
            (
                "starting_after",
                self.before_seq.map(|s| format!("{LEDGER_ID_PREFIX}{s}")),
            ),
            ("limit", Some(self.limit.to_string())),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lists_filters_and_refuses_bad_ones() {
        let p = IntentListParams::parse(&Query::parse(
            "status=succeeded&provider=stripe&created_gte=1700000000&limit=3&starting_after=pi_1&status=canceled",
        ))
        .unwrap();
        assert_eq!(p.status, Some(IntentStatus::Succeeded));
        assert_eq!(p.provider, Some(Provider::Stripe));
        assert_eq!(
            (p.created_gte, p.limit, p.starting_after.as_deref()),
            (Some(1_700_000_000), 3, Some("pi_1"))
        );
        for (q, param) in [
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("limit=-1", "limit"),
            ("status=paid", "status"),
            ("created_gte=1.5", "created_gte"),
        ] {
            let e = IntentListParams::parse(&Query::parse(q)).unwrap_err();
            assert_eq!((e.status, e.param.as_deref()), (400, Some(param)), "{q}");
        }
        assert_eq!(
            IntentListParams::parse(&Query::parse("")).unwrap().limit,
            10
        );
        let l = LedgerListParams::parse(&Query::parse(
            "type=refund&starting_after=txn_000000000042&payment_intent=pi%5F1+x",
        ))
        .unwrap();
        assert_eq!(l.kind.unwrap().kinds().len(), 3);
        assert_eq!(l.before_seq, Some(42));
        assert_eq!(l.payment_intent.as_deref(), Some("pi_1 x"));
        assert!(LedgerListParams::parse(&Query::parse("starting_after=re_1")).is_err());
        assert!(EventListParams::parse(&Query::parse("type=payment_intent.created")).is_err());
    }

    #[test]
    fn accepted_parameters_write_back_to_themselves() {
        let q = Query::parse("type=refund_failed&created_lt=-5&starting_after=txn_7&limit=100");
        let l = LedgerListParams::parse(&q).unwrap();
        assert_eq!(
            LedgerListParams::parse(&Query::parse(&l.to_query())).unwrap(),
            l
        );
        let e = EventListParams::parse(&Query::parse("type=refund.failed&starting_after=evt_%26"))
            .unwrap();
        assert_eq!(
            EventListParams::parse(&Query::parse(&e.to_query())).unwrap(),
            e
        );
    }
}
