//! `/v1/reconciliations` (an extension of API.md): the daily comparison of the
//! merchant's ledger with the providers' records, its runs and what they found; the
//! admin reads every merchant's through `GET /v1/merchants/{id}/reconciliations`.
//! Each difference is also a `reconciliation.mismatch` event.

use serde::Deserialize;
use shared::billing::{day_label, day_start};
use shared::error::ApiError;
use shared::keys::is_id;
use worker::{Method, Request, Response, Result, RouteContext};

use crate::call::{serve, Need};
use crate::ctx::Ctx;
use crate::http::{Fail, Reply};
use crate::merchant::store::reconcile::ReconciliationRow;
use crate::merchant::{admin_forward, Object};

/// Internal path: the platform's object asks the merchant's for its runs.
pub const RUNS_PATH: &str = "/_internal/reconciliations";

fn list_json(rows: Vec<ReconciliationRow>) -> String {
    // The stored bodies are JSON already: splice them in.
    let data: Vec<&str> = rows.iter().map(|r| r.body.as_str()).collect();
    format!(
        r#"{{"object":"list","data":[{}],"has_more":false}}"#,
        data.join(",")
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunRequest {
    /// `YYYY-MM-DD` (UTC); today so far when absent.
    #[serde(default)]
    day: Option<String>,
}

/// `POST /v1/reconciliations {day?}`: reconciles a day now and answers with the run.
pub async fn create(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let input: RunRequest = call.json()?;
        let merchant = call.merchant()?.clone();
        let today = day_label(call.ctx.store.clock_now(call.ctx.now)?);
        let day = input.day.unwrap_or_else(|| today.clone());
        if day_start(&day).is_none() || day > today {
            return Err(Fail::Api(
                ApiError::invalid_request(
                    "parameter_invalid",
                    "day must be a date (YYYY-MM-DD, UTC) no later than today.",
                )
                .with_param("day"),
            ));
        }
        let run = crate::reconcile::run(&call.ctx, &merchant, &day, call.livemode(), false)
            .await?
            .ok_or_else(|| {
                Fail::Internal(worker::Error::RustError(
                    "a requested reconciliation was not kept".into(),
                ))
            })?;
        Reply::json(200, &run)
    })
    .await
}

/// `GET /v1/reconciliations?limit=`: the caller's mode's runs, newest first.
pub async fn list(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let limit = call.query_string().limit()?;
        let rows = call
            .ctx
            .store
            .reconciliations(Some(call.livemode()), i64::from(limit))?;
        Ok(Reply::json_text(200, list_json(rows)))
    })
    .await
}

pub async fn retrieve(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let missing = || Fail::Api(ApiError::not_found("reconciliation").with_param("id"));
        let id = call.param("id");
        if !is_id("rec_", id) {
            return Err(missing());
        }
        let row = call
            .ctx
            .store
            .reconciliation(id, call.livemode())?
            .ok_or_else(missing)?;
        Ok(Reply::json_text(200, row.body))
    })
    .await
}

/// Internal (never routed from outside): both modes' runs, for the admin.
pub async fn internal_list(_req: Request, rc: RouteContext<Object>) -> Result<Response> {
    let ctx = Ctx::new(rc.data.storage(), rc.env.clone());
    if ctx.store.merchant()?.is_none() {
        return Ok(Response::empty()?.with_status(404));
    }
    let rows = ctx.store.reconciliations(None, 100)?;
    let mut resp = Response::ok(list_json(rows))?;
    resp.headers_mut().set("content-type", "application/json")?;
    Ok(resp)
}

/// `GET /v1/merchants/{id}/reconciliations` (admin): a merchant's runs, both modes.
pub async fn admin_list(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Admin, |call| async move {
        let id = call.param("id").to_owned();
        let body = admin_forward(&call.ctx, &id, Method::Get, RUNS_PATH, None).await?;
        Ok(Reply::json_text(200, body))
    })
    .await
}
