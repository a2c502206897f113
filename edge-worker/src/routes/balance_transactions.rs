//! `GET /v1/balance_transactions`: the merchant's ledger, row by row, newest first —
//! the same rows every amount on an intent is summed from. `Accept: text/csv` (or
//! `?format=csv`) downloads the filtered rows, up to 10,000, for the books.

use std::str::FromStr;

use shared::api::{balance_transactions_csv, BalanceTransaction, BalanceTransactionObject, List};
use shared::ledger::{signed_amount, EntryKind};
use shared::money::{Currency, Money};
use shared::query::{LedgerListParams, LEDGER_ID_PREFIX as ID_PREFIX};
use worker::{Request, Response, Result, RouteContext};

use crate::call::{serve, Call, Need};
use crate::http::{ApiResult, Fail, Reply};
use crate::merchant::store::{LedgerFilter, LedgerRow};
use crate::merchant::Object;

const CSV_ROWS: u32 = 10_000;

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

fn filter(call: &Call, csv: bool) -> ApiResult<LedgerFilter> {
    let p = LedgerListParams::parse(&call.query_string())?;
    Ok(LedgerFilter {
        payment_intent: p.payment_intent,
        kinds: p.kind.map(|k| k.kinds()).unwrap_or_default(),
        created_gte: p.created_gte,
        created_lt: p.created_lt,
        before_seq: p.before_seq,
        limit: if csv { CSV_ROWS } else { p.limit + 1 },
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
