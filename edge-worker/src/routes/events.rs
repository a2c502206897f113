//! `/v1/events`: what happened to the merchant's objects, newest first, for 30 days.
//! An event's body is stored once and returned byte for byte as it was delivered.

use shared::api::DeliveryAttempt;
use shared::error::ApiError;
use shared::keys::is_id;
use shared::query::EventListParams;
use worker::{Request, Response, Result, RouteContext};

use crate::call::{serve, Call, Need};
use crate::http::{ApiResult, Fail, Reply};
use crate::merchant::store::EventRow;
use crate::merchant::Object;

fn bad(param: &str, msg: &str) -> Fail {
    Fail::Api(ApiError::invalid_request("parameter_invalid", msg).with_param(param))
}

fn event(call: &Call) -> ApiResult<EventRow> {
    let missing = || Fail::Api(ApiError::not_found("event").with_param("id"));
    let id = call.param("id");
    if !is_id("evt_", id) {
        return Err(missing());
    }
    let livemode = call.livemode();
    call.ctx.store.event(id, livemode)?.ok_or_else(missing)
}

pub async fn retrieve(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let e = event(&call)?;
        Ok(Reply::json_text(200, e.body))
    })
    .await
}

/// `GET /v1/events?type=&created_gte=&limit=&starting_after=`.
pub async fn list(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let livemode = call.livemode();
        let p = EventListParams::parse(&call.query_string())?;
        let (limit, kind, created_gte) = (p.limit, p.kind, p.created_gte);
        let before = match p.starting_after {
            Some(after) => {
                let e = call
                    .ctx
                    .store
                    .event(&after, livemode)?
                    .ok_or_else(|| bad("starting_after", "No such event."))?;
                Some((e.created, e.id))
            }
            None => None,
        };
        let mut rows = call
            .ctx
            .store
            .events(livemode, kind, created_gte, before, limit + 1)?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        // The stored bodies are JSON already: splice them in, byte for byte.
        let data: Vec<&str> = rows.iter().map(|r| r.body.as_str()).collect();
        Ok(Reply::json_text(
            200,
            format!(
                r#"{{"object":"list","data":[{}],"has_more":{has_more}}}"#,
                data.join(",")
            ),
        ))
    })
    .await
}

/// `GET /v1/events/{id}/deliveries` (an extension): every try at sending the event to
/// each endpoint, with the endpoint's status and when the next try is due.
pub async fn deliveries(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let e = event(&call)?;
        let data: Vec<DeliveryAttempt> = call
            .ctx
            .store
            .delivery_attempts(&e.id)?
            .into_iter()
            .map(|a| DeliveryAttempt {
                webhook_endpoint: a.endpoint,
                attempt: a.number,
                attempted_at: a.at,
                status_code: a.status_code,
                error: a.error,
                next_attempt_at: a.next_at,
            })
            .collect();
        Reply::json(200, &shared::api::List::new(data, false))
    })
    .await
}
