//! The platform's bill to the merchant: `GET /v1/platform_invoices` (its own),
//! `GET /v1/merchants/{id}/platform_invoices` (the admin, through the platform's
//! object), and the card it is charged to (`/v1/platform_billing`).

use shared::api::List;
use shared::billing::PlatformBilling;
use shared::error::ApiError;
use worker::{Method, Request, Response, Result, RouteContext};

use crate::call::{serve, Need};
use crate::ctx::Ctx;
use crate::http::{ApiResult, Fail, Reply};
use crate::merchant::{admin_forward, Object};
use crate::providers::stripe::Billing;

/// Internal path: the platform's object asks the merchant's for its invoices.
pub const INVOICES_PATH: &str = "/_internal/platform_invoices";

fn invoices_json(ctx: &Ctx, livemode: bool) -> ApiResult<String> {
    let Some(m) = ctx.store.merchant()? else {
        return Err(ApiError::not_found("merchant").into());
    };
    let data = ctx
        .store
        .platform_invoices(livemode)?
        .iter()
        .map(|r| r.to_api(&m.id))
        .collect::<ApiResult<Vec<_>>>()?;
    serde_json::to_string(&List::new(data, false))
        .map_err(|e| Fail::Internal(worker::Error::RustError(e.to_string())))
}

pub async fn list(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        call.merchant()?;
        Ok(Reply::json_text(
            200,
            invoices_json(&call.ctx, call.livemode())?,
        ))
    })
    .await
}

/// Internal (never routed from outside): both modes' invoices for the admin.
pub async fn internal_list(_req: Request, rc: RouteContext<Object>) -> Result<Response> {
    let ctx = Ctx::new(rc.data.storage(), rc.env.clone());
    let mut all = Vec::new();
    for livemode in [false, true] {
        let Some(m) = ctx.store.merchant()? else {
            return Ok(Response::empty()?.with_status(404));
        };
        for r in ctx.store.platform_invoices(livemode)? {
            match r.to_api(&m.id) {
                Ok(i) => all.push(i),
                Err(_) => return Ok(Response::empty()?.with_status(500)),
            }
        }
    }
    Response::from_json(&List::new(all, false))
}

/// `GET /v1/merchants/{id}/platform_invoices` (admin).
pub async fn admin_list(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Admin, |call| async move {
        let id = call.param("id").to_owned();
        let body = admin_forward(&call.ctx, &id, Method::Get, INVOICES_PATH, None).await?;
        Ok(Reply::json_text(200, body))
    })
    .await
}

/// `GET /v1/platform_billing`: the card the platform's bill is charged to.
pub async fn card(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        call.merchant()?;
        let (customer, pm) = call.ctx.store.platform_billing(call.livemode())?;
        let payment_method = match (customer, pm) {
            (Some(c), Some(pm)) => Billing::platform(&call.ctx)?.saved_card(&c, &pm).await?,
            _ => None,
        };
        Reply::json(200, &PlatformBilling { payment_method })
    })
    .await
}
