//! `GET /v1/balance_transactions`: the merchant's ledger, row by row, newest first —
//! the same rows every amount on an intent is summed from. `Accept: text/csv` (or
//! `?format=csv`) downloads the filtered rows, up to 10,000, for the books.

use std::str::FromStr;

use shared::api::{balance_transactions_csv, BalanceTransaction, BalanceTransactionObject, List};
use shared::error::ApiError;
use shared::ledger::{signed_amount, EntryKind};
use shared::money::{Currency, Money};
use worker::{Request, Response, Result, RouteContext};

use crate::call::{serve, Call, Need};
use crate::http::{ApiResult, Fail, Reply};
use crate::merchant::store::{LedgerFilter, LedgerRow};
use crate::merchant::Object;

const CSV_ROWS: u32 = 10_000;
const ID_PREFIX: &str = "txn_";

fn bad(param: &str, msg: &str) -> Fail {
    Fail::Api(ApiError::invalid_request("parameter_invalid", msg).with_param(param))
}

fn view(r: &LedgerRow) -> ApiResult<BalanceTransaction> {
    let corrupt = || Fail::Internal(worker::Error::RustError(format!("ledger row {}", r.seq)));
    let kind = EntryKind::from_str(&r.kind).map_err(|_| corrupt())?;
    let currency = Currency::from_str(&r.currency).map_err(|_| corrupt())?;
    let amount = Money::from_minor_units(r.amount, currency)
        .map_err(|_| corrupt())?
        .to_amount_string();
    let net = signed_amount(kind.balance_sign() * r.amount, currency).map_err(|_| corrupt())?;
    Ok(BalanceTransaction {
        id: format!("{ID_PREFIX}{:012}", r.seq),
        object: BalanceTransactionObject::BalanceTransaction,
        kind,
        amount,
        net,
        currency,
        payment_intent: r.payment_intent.clone(),
        refund: r.refund.clone(),
        created: r.created,
    })
}

fn time(call: &Call, name: &str) -> ApiResult<Option<i64>> {
    call.query(name)
        .map(|t| {
            t.parse::<i64>()
                .map_err(|_| bad(name, "Times are unix seconds."))
        })
        .transpose()
}

fn filter(call: &Call, csv: bool) -> ApiResult<LedgerFilter> {
    let kinds = match call.query("type").as_deref() {
        None => Vec::new(),
        // Every row a refund writes.
        Some("refund") => vec![
            EntryKind::RefundPending,
            EntryKind::RefundSucceeded,
            EntryKind::RefundFailed,
        ],
        Some(k) => vec![EntryKind::from_str(k).map_err(|_| {
            bad(
                "type",
                "type must be one of authorized, captured, released, refund, refund_pending, refund_succeeded, refund_failed, platform_fee, provider_fee.",
            )
        })?],
    };
    let before_seq = match call.query("starting_after") {
        Some(id) => Some(
            id.strip_prefix(ID_PREFIX)
                .and_then(|n| n.parse::<i64>().ok())
                .ok_or_else(|| bad("starting_after", "No such balance transaction."))?,
        ),
        None => None,
    };
    Ok(LedgerFilter {
        payment_intent: call.query("payment_intent"),
        kinds,
        created_gte: time(call, "created_gte")?,
        created_lt: time(call, "created_lt")?,
        before_seq,
        limit: if csv {
            CSV_ROWS
        } else {
            call.page_limit()? + 1
        },
    })
}

pub async fn list(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    let csv = req
        .headers()
        .get("accept")?
        .is_some_and(|a| a.contains("text/csv"))
        || req
            .url()?
            .query_pairs()
            .any(|(k, v)| k == "format" && v == "csv");
    serve(req, rc, Need::Secret, move |call| async move {
        let livemode = call.livemode();
        let f = filter(&call, csv)?;
        let rows = call.ctx.store.ledger(livemode, &f)?;
        let mut data = rows.iter().map(view).collect::<ApiResult<Vec<_>>>()?;
        if csv {
            return Ok(Reply::csv(
                "balance_transactions.csv",
                balance_transactions_csv(&data),
            ));
        }
        let has_more = data.len() as u32 == f.limit;
        data.truncate(f.limit as usize - 1);
        Reply::json(200, &List::new(data, has_more))
    })
    .await
}
