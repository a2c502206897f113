//! `/v1/test_clocks` (test mode only): a clock that test customers live on.
//! Advancing it runs, in time order, every period end, charge and retry due up to
//! its new time, so a test sees months pass in a second and never sleeps.

use shared::billing::{AdvanceTestClock, CreateTestClock};
use shared::error::ApiError;
use shared::keys::{is_id, new_scoped_id};
use worker::{Request, Response, Result, RouteContext};

use crate::call::{serve, Call, Need};
use crate::ctx::random;
use crate::http::{ApiResult, Reply};
use crate::merchant::store::billing::ClockRow;
use crate::merchant::Object;

/// Clocks start at most this far from now, and move at most this far per call.
const MAX_SPAN: i64 = 5 * 366 * 86_400;

fn test_mode_only(call: &Call) -> ApiResult<()> {
    if call.livemode() {
        return Err(ApiError::invalid_request(
            "livemode_not_allowed",
            "Test clocks exist in test mode only.",
        )
        .into());
    }
    Ok(())
}

pub async fn create(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let input: CreateTestClock = call.json()?;
        let m = call.merchant()?;
        test_mode_only(&call)?;
        if (input.frozen_time - call.ctx.now).abs() > MAX_SPAN {
            return Err(ApiError::invalid_request(
                "parameter_invalid",
                "frozen_time must be within five years of now.",
            )
            .with_param("frozen_time")
            .into());
        }
        if input.name.as_ref().is_some_and(|n| n.chars().count() > 300) {
            return Err(ApiError::invalid_request(
                "parameter_invalid",
                "name must be at most 300 characters.",
            )
            .with_param("name")
            .into());
        }
        let row = ClockRow {
            id: new_scoped_id("clock_", &m.id, &random()),
            name: input.name.clone(),
            frozen_time: input.frozen_time,
            created: call.ctx.now,
        };
        call.ctx.store.insert_clock(&row)?;
        Reply::json(200, &row.to_api())
    })
    .await
}

fn load(call: &Call) -> ApiResult<ClockRow> {
    let id = call.param("id");
    if !is_id("clock_", id) || call.livemode() {
        return Err(ApiError::not_found("test_clock").with_param("id").into());
    }
    call.ctx.store.clock(id)
}

pub async fn retrieve(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        call.merchant()?;
        Reply::json(200, &load(&call)?.to_api())
    })
    .await
}

/// `POST /v1/test_clocks/{id}/advance {frozen_time}`: forward only.
pub async fn advance(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let input: AdvanceTestClock = call.json()?;
        let m = call.merchant()?.clone();
        let clock = load(&call)?;
        if input.frozen_time - clock.frozen_time > MAX_SPAN {
            return Err(ApiError::invalid_request(
                "parameter_invalid",
                "A clock moves at most five years per call.",
            )
            .with_param("frozen_time")
            .into());
        }
        call.ctx.store.move_clock(&clock.id, input.frozen_time)?;
        crate::billing::run_due(&call.ctx, &m, Some(&clock.id)).await?;
        Reply::json(200, &call.ctx.store.clock(&clock.id)?.to_api())
    })
    .await
}
