//! `/v1/refunds`: part or all of what was captured, never more. The amount is
//! reserved in the merchant's object (a pending refund and its ledger entry, checked
//! and written in one synchronous step) before the provider is asked, so refunds
//! racing each other cannot together pass the captured amount. An unknown outcome
//! leaves the refund pending until the provider says.

use sha2::{Digest, Sha256};
use shared::api::{CreateRefund, Refund, RefundStatus};
use shared::error::ApiError;
use shared::keys::{is_id, new_scoped_id};
use shared::money::Money;
use shared::query::RefundListParams;
use worker::{Request, Response, Result, RouteContext};

use crate::call::{serve, Call, Need};
use crate::ctx::random;
use crate::http::{ApiResult, Fail, Reply};
use crate::merchant::store::RefundRow;
use crate::merchant::Object;
use crate::providers;

fn view(call: &Call, r: &RefundRow) -> ApiResult<Refund> {
    r.to_api(&call.ctx.store.intent(&r.payment_intent)?)
}

pub async fn create(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, create_refund).await
}

/// A retry with the same Idempotency-Key must reach the provider as the same refund,
/// even after our own first answer was lost: derive the id from the key.
fn refund_id(call: &Call, merchant_id: &str) -> String {
    match &call.idempotency_key {
        Some(k) => {
            let d = Sha256::digest(format!("{merchant_id}\0{k}").as_bytes());
            let mut b = [0u8; 16];
            b.copy_from_slice(&d[..16]);
            new_scoped_id("re_", merchant_id, &b)
        }
        None => new_scoped_id("re_", merchant_id, &random()),
    }
}

async fn create_refund(call: Call) -> ApiResult<Reply> {
    let input: CreateRefund = call.json()?;
    let m = call.merchant()?;
    let ctx = &call.ctx;
    let not_found =
        || Fail::Api(ApiError::not_found("payment_intent").with_param("payment_intent"));
    if !is_id("pi_", &input.payment_intent) {
        return Err(not_found());
    }
    let intent = ctx
        .store
        .find_intent(&input.payment_intent)?
        .filter(|i| (i.row.livemode != 0) == call.livemode())
        .ok_or_else(not_found)?;
    let amount = match &input.amount {
        Some(a) => Some(
            Money::parse(a, intent.currency()?).map_err(|e| Fail::Api(e.to_api_error("amount")))?,
        ),
        None => None,
    };
    let id = refund_id(&call, &m.id);
    let (refund, fresh) = ctx
        .store
        .reserve_refund(intent.id(), &id, amount, ctx.now)?;
    let refund = if fresh || refund.status()? == RefundStatus::Pending {
        providers::refund(ctx, &m.id, &ctx.store.intent(intent.id())?, &refund).await?
    } else {
        refund
    };
    Reply::json(200, &view(&call, &refund)?)
}

/// `GET /v1/refunds/{id}`: a pending refund is asked about at the provider first.
pub async fn retrieve(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let m = call.merchant()?;
        let id = call.param("id").to_owned();
        let missing = || Fail::Api(ApiError::not_found("refund").with_param("id"));
        if !is_id("re_", &id) {
            return Err(missing());
        }
        let refund = call.ctx.store.refund(&id)?.ok_or_else(missing)?;
        let intent = call.ctx.store.intent(&refund.payment_intent)?;
        // The other mode's refunds are as missing as another merchant's.
        if (intent.row.livemode != 0) != call.livemode() {
            return Err(missing());
        }
        if refund.status()? == RefundStatus::Pending {
            providers::sync(&call.ctx, &m.id, intent).await?;
        }
        let refund = call.ctx.store.refund(&id)?.ok_or_else(missing)?;
        Reply::json(200, &view(&call, &refund)?)
    })
    .await
}

/// `GET /v1/refunds?payment_intent=&limit=&starting_after=`, newest first.
pub async fn list(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        call.merchant()?;
        let bad = |param: &str, msg: &str| {
            Fail::Api(ApiError::invalid_request("parameter_invalid", msg).with_param(param))
        };
        let p = RefundListParams::parse(&call.query_string())?;
        let (limit, intent) = (p.limit, p.payment_intent);
        let before = match p.starting_after {
            Some(after) => {
                let r = call
                    .ctx
                    .store
                    .refund(&after)?
                    .ok_or_else(|| bad("starting_after", "No such refund."))?;
                Some((r.created, r.id))
            }
            None => None,
        };
        let mut rows =
            call.ctx
                .store
                .refunds(call.livemode(), intent.as_deref(), before, limit + 1)?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let data = rows
            .iter()
            .map(|r| view(&call, r))
            .collect::<ApiResult<Vec<_>>>()?;
        Reply::json(200, &shared::api::List::new(data, has_more))
    })
    .await
}
