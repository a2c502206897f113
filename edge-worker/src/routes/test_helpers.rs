//! `/v1/test_helpers`: test mode only. `advance_clock` moves the merchant object's
//! clock ahead and runs everything that falls due by then (webhook retries, an
//! endpoint secret's overlap, the platform's monthly bill, the daily reconciliation),
//! so tests see days pass in a second without sleeping.

use serde::Deserialize;
use shared::error::ApiError;
use worker::{Request, Response, Result, RouteContext};

use crate::call::{serve, Need};
use crate::http::{Fail, Reply};
use crate::merchant::{outbox, Object};

/// At most a year per call.
const MAX_ADVANCE_SECONDS: i64 = 366 * 24 * 3600;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: i64,
}

pub async fn advance_clock(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let input: Advance = call.json()?;
        if call.livemode() {
            return Err(Fail::Api(ApiError::invalid_request(
                "livemode_not_allowed",
                "Test clocks exist in test mode only.",
            )));
        }
        if !(1..=MAX_ADVANCE_SECONDS).contains(&input.seconds) {
            return Err(Fail::Api(
                ApiError::invalid_request(
                    "parameter_invalid",
                    format!("seconds must be from 1 to {MAX_ADVANCE_SECONDS}."),
                )
                .with_param("seconds"),
            ));
        }
        call.ctx.store.advance_clock(input.seconds)?;
        // What the alarm would run by then: the platform's monthly bill and the
        // reconciliation of the days that ended included.
        let m = call.merchant()?.clone();
        crate::billing::bill_platform(&call.ctx, &m).await?;
        crate::reconcile::run_due(&call.ctx, &m).await?;
        outbox::deliver_due(&call.ctx).await?;
        let clock = call.ctx.store.clock_now(call.ctx.now)?;
        Reply::json(
            200,
            &serde_json::json!({ "object": "test_clock", "now": call.ctx.now, "frozen_time": clock }),
        )
    })
    .await
}
