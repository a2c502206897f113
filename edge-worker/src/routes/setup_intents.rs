//! `/v1/setup_intents`: saving a card for later, off-session charges (Stripe). The
//! widget's save-card mode reads `…/checkout`, confirms with the PaymentMethod from
//! Stripe's card field, completes 3-D Secure with Stripe.js, and reads the outcome
//! here, where it comes from Stripe, never from the browser's word. The same object
//! saves a merchant's own card for the platform's bill (`/v1/platform_billing`).

use serde::Deserialize;
use shared::api::ProviderSetup;
use shared::billing::{CreateSetupIntent, SetupCheckout, SetupIntentStatus};
use shared::error::ApiError;
use shared::keys::{client_secret, constant_time_eq, is_id, new_scoped_id};
use worker::{Request, Response, Result, RouteContext};

use crate::call::{serve, Call, Need};
use crate::ctx::random;
use crate::http::{ApiResult, Reply};
use crate::merchant::store::billing::{SetupIntentRow, PURPOSE_CUSTOMER, PURPOSE_PLATFORM};
use crate::merchant::Object;
use crate::providers::stripe::{self, Billing};

pub async fn create(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let input: CreateSetupIntent = call.json()?;
        input.validate()?;
        let m = call.merchant()?;
        let customer = crate::routes::customers::load(&call, &input.customer)
            .map_err(|_| ApiError::not_found("customer").with_param("customer"))?;
        let billing = Billing::merchant(&call.ctx, &m.id, call.livemode())?;
        let stripe_customer = match &customer.stripe_customer {
            Some(s) => s.clone(),
            None => {
                let s = billing
                    .customer(
                        &customer.id,
                        Some(&customer.email),
                        customer.name.as_deref(),
                    )
                    .await?;
                call.ctx.store.set_stripe_customer(&customer.id, &s)?;
                s
            }
        };
        let row = new_row(&call, Some(customer.id.clone()), PURPOSE_CUSTOMER);
        let (stripe_id, secret) = billing.setup_intent(&row.id, &stripe_customer).await?;
        store(&call, row, &stripe_id, &secret)
    })
    .await
}

/// `POST /v1/platform_billing/setup_intents`: the merchant saves the card the
/// platform charges its monthly bill to, on the platform's own Stripe account.
pub async fn create_for_platform(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let _: Empty = call.json()?;
        let m = call.merchant()?;
        let billing = Billing::platform(&call.ctx)?;
        let stripe_customer = match call.ctx.store.platform_billing(call.livemode())?.0 {
            Some(s) => s,
            None => {
                let s = billing.customer(&m.id, None, Some(&m.name)).await?;
                call.ctx.store.set_platform_customer(call.livemode(), &s)?;
                s
            }
        };
        let row = new_row(&call, None, PURPOSE_PLATFORM);
        let (stripe_id, secret) = billing.setup_intent(&row.id, &stripe_customer).await?;
        store(&call, row, &stripe_id, &secret)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

fn new_row(call: &Call, customer: Option<String>, purpose: &str) -> SetupIntentRow {
    let merchant = call.merchant().map(|m| m.id.clone()).unwrap_or_default();
    let id = new_scoped_id("seti_", &merchant, &random());
    SetupIntentRow {
        client_secret: client_secret(&id, &random()),
        id,
        customer,
        purpose: purpose.to_owned(),
        status: SetupIntentStatus::RequiresPaymentMethod.as_str().to_owned(),
        stripe_id: None,
        stripe_client_secret: None,
        payment_method: None,
        last_error: None,
        attempts: 0,
        livemode: i64::from(call.livemode()),
        created: call.ctx.now,
    }
}

fn store(call: &Call, mut row: SetupIntentRow, stripe_id: &str, secret: &str) -> ApiResult<Reply> {
    row.stripe_id = Some(stripe_id.to_owned());
    row.stripe_client_secret = Some(secret.to_owned());
    call.ctx.store.insert_setup_intent(&row)?;
    Reply::json(200, &row.to_api()?)
}

/// The caller's setup intent; with a publishable key only with its client secret.
fn load(call: &Call, secret: Option<&str>) -> ApiResult<SetupIntentRow> {
    let id = call.param("id");
    let missing = || ApiError::not_found("setup_intent").with_param("id");
    if !is_id("seti_", id) {
        return Err(missing().into());
    }
    let row = call.ctx.store.setup_intent(id, call.livemode())?;
    if call.is_publishable()
        && !constant_time_eq(
            secret.unwrap_or_default().as_bytes(),
            row.client_secret.as_bytes(),
        )
    {
        return Err(missing().into());
    }
    Ok(row)
}

fn billing_for(call: &Call, row: &SetupIntentRow) -> ApiResult<Billing> {
    if row.for_platform() {
        Billing::platform(&call.ctx)
    } else {
        Billing::merchant(&call.ctx, &call.merchant()?.id, row.livemode != 0)
    }
}

/// Reads an open outcome (3-D Secure under way, an answer that never came) back
/// from Stripe.
async fn sync(call: &Call, row: SetupIntentRow) -> ApiResult<SetupIntentRow> {
    let open = matches!(
        row.status()?,
        SetupIntentStatus::RequiresAction | SetupIntentStatus::Processing
    );
    let Some(stripe_id) = row.stripe_id.clone().filter(|_| open) else {
        return Ok(row);
    };
    match billing_for(call, &row)?.read_setup(&stripe_id).await? {
        Some(o) => settle(call, &row, o),
        None => Ok(row),
    }
}

fn settle(call: &Call, row: &SetupIntentRow, o: stripe::SetupOutcome) -> ApiResult<SetupIntentRow> {
    let after = call.ctx.store.set_setup_status(
        &row.id,
        o.status,
        o.payment_method.as_deref(),
        o.error.as_deref(),
        call.ctx.now,
    )?;
    Ok(after)
}

/// `GET /v1/setup_intents/{id}`: secret key, or publishable key plus client secret.
pub async fn retrieve(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::SecretOrPublishable, |call| async move {
        let secret = call.query("client_secret");
        let row = load(&call, secret.as_deref())?;
        let row = sync(&call, row).await?;
        Reply::json(200, &row.to_api()?)
    })
    .await
}

/// `GET /v1/setup_intents/{id}/checkout`: what the widget's save-card mode needs.
pub async fn checkout(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::SecretOrPublishable, |call| async move {
        let secret = call.query("client_secret");
        let row = load(&call, secret.as_deref())?;
        let row = sync(&call, row).await?;
        let m = call.merchant()?;
        let provider = if row.for_platform() {
            ProviderSetup::Stripe {
                js_url: call.ctx.env.var("STRIPE_JS_URL")?.to_string(),
                publishable_key: call
                    .ctx
                    .env
                    .var("STRIPE_PLATFORM_PUBLISHABLE_KEY")?
                    .to_string(),
                account: None,
            }
        } else {
            stripe::browser_setup(&call.ctx, &m.id, row.livemode != 0)?
        };
        Reply::json(
            200,
            &SetupCheckout {
                setup_intent: row.to_api()?,
                provider,
            },
        )
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Confirm {
    #[serde(default)]
    client_secret: Option<String>,
    payment_method: String,
}

/// `POST /v1/setup_intents/{id}/confirm` `{client_secret, payment_method}`.
pub async fn confirm(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::SecretOrPublishable, |call| async move {
        let body: Confirm = call.json()?;
        let row = load(&call, body.client_secret.as_deref())?;
        if !shared::billing::is_id(&body.payment_method, "pm_") {
            return Err(ApiError::invalid_request(
                "parameter_missing",
                "payment_method must be the PaymentMethod id (pm_…) from Stripe's card field.",
            )
            .with_param("payment_method")
            .into());
        }
        let row = sync(&call, row).await?;
        let n = call.ctx.store.claim_setup_attempt(&row.id)?;
        let stripe_id = row.stripe_id.clone().unwrap_or_default();
        let outcome = billing_for(&call, &row)?
            .confirm_setup(&row.id, &stripe_id, &body.payment_method, n)
            .await?;
        let after = match outcome {
            Some(o) => settle(&call, &row, o)?,
            // No answer: `processing` until Stripe is asked (the next GET).
            None => call.ctx.store.setup_intent(&row.id, call.livemode())?,
        };
        if after.for_platform() && after.status()? == SetupIntentStatus::Succeeded {
            // Platform invoices that waited for a card are due now.
            call.ctx.wake_at(call.ctx.now + 1).await?;
        }
        Reply::json(200, &after.to_api()?)
    })
    .await
}
