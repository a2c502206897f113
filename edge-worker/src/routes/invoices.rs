//! `/v1/invoices`: what each subscription period asked for and how it was paid.

use shared::api::List;
use shared::error::ApiError;
use shared::keys::is_id;
use worker::{Request, Response, Result, RouteContext};

use crate::call::{serve, Need};
use crate::http::{ApiResult, Reply};
use crate::merchant::Object;

pub async fn retrieve(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        call.merchant()?;
        let id = call.param("id");
        if !is_id("in_", id) {
            return Err(ApiError::not_found("invoice").with_param("id").into());
        }
        Reply::json(200, &call.ctx.store.invoice(id, call.livemode())?.to_api()?)
    })
    .await
}

pub async fn list(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        call.merchant()?;
        let limit = i64::from(call.page_limit()?);
        let sub = call.query("subscription");
        let rows = call
            .ctx
            .store
            .invoices(call.livemode(), sub.as_deref(), limit + 1)?;
        let has_more = rows.len() as i64 > limit;
        let data = rows
            .iter()
            .take(limit as usize)
            .map(|r| r.to_api())
            .collect::<ApiResult<Vec<_>>>()?;
        Reply::json(200, &List::new(data, has_more))
    })
    .await
}
