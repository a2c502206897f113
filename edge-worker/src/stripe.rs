//! Stripe, as the Worker executes it: `shared::stripe` describes every request and
//! reads every answer; this module only loads the keys, sends, and stores.

use shared::accounts::{ProviderAccount, StripeAccount};
use shared::error::ApiError;
use shared::intent::{Provider, ProviderEvent};
use shared::money::Money;
use shared::secrets::Secret;
use shared::stripe::events::{self, to_events};
use shared::stripe::requests::{self, Charge, Destination};
use shared::stripe::wire::{self, error_to_api_error, StripeError, StripePaymentIntent};
use shared::stripe::{Auth, HttpRequest};

use crate::accounts;
use crate::ctx::Ctx;
use crate::http::{ApiResult, Fail};
use crate::intents::IntentRow;
use crate::outbound::{self, Answer};

/// A merchant's Stripe set-up, opened for the length of one request.
pub struct StripeSetup {
    pub account: StripeAccount,
    platform_key: Secret,
    base: String,
}

impl StripeSetup {
    pub async fn load(ctx: &Ctx, merchant_id: &str) -> ApiResult<StripeSetup> {
        let Some(ProviderAccount::Stripe(account)) =
            accounts::load(ctx, merchant_id, Provider::Stripe).await?
        else {
            return Err(ApiError::invalid_request(
                "provider_not_configured",
                "Stripe is not set up for this merchant.",
            )
            .into());
        };
        Ok(StripeSetup {
            account,
            // Only connect mode uses it; a direct-mode deployment need not set it.
            platform_key: Secret::new(
                ctx.env
                    .secret("STRIPE_PLATFORM_SECRET_KEY")
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
            ),
            base: ctx.env.var("STRIPE_API_BASE")?.to_string(),
        })
    }

    pub fn auth(&self) -> Auth<'_> {
        Auth::for_account(&self.account, &self.platform_key)
    }

    /// The key Stripe.js runs with in the customer's browser: the platform's for
    /// destination charges (the intent lives on the platform account), the
    /// merchant's own otherwise.
    pub fn publishable_key(&self, ctx: &Ctx) -> ApiResult<String> {
        Ok(match self.account.mode {
            shared::accounts::StripeMode::Direct => self.account.publishable_key.clone(),
            shared::accounts::StripeMode::Connect => {
                ctx.env.var("STRIPE_PLATFORM_PUBLISHABLE_KEY")?.to_string()
            }
        })
    }

    /// Sends one described request. `Ok(Err(..))`: Stripe answered with an error.
    pub async fn send(&self, req: HttpRequest) -> ApiResult<Result<Vec<u8>, (u16, StripeError)>> {
        let answer = outbound::send_described(&self.base, &req).await?;
        match answer {
            Answer::Unreachable => Err(ApiError::provider(
                502,
                "provider_unavailable",
                "Stripe did not answer. Nothing was charged twice: retry with the same Idempotency-Key.",
            )
            .into()),
            Answer::Http { status, body } if (200..300).contains(&status) => Ok(Ok(body.into_bytes())),
            Answer::Http { status, body } => {
                let err = wire::parse_error(body.as_bytes()).map_err(|e| Fail::Api(e.to_api_error()))?;
                Ok(Err((status, err)))
            }
        }
    }

    /// Sends a request whose answer is a PaymentIntent; Stripe errors become ours.
    pub async fn intent(&self, req: HttpRequest) -> ApiResult<StripePaymentIntent> {
        match self.send(req).await? {
            Ok(body) => wire::parse_payment_intent(&body).map_err(|e| Fail::Api(e.to_api_error())),
            Err((status, e)) => Err(error_to_api_error(status, &e).into()),
        }
    }

    /// Creates the Stripe PaymentIntent for ours, once: the idempotency key is derived
    /// from our intent id, so every retry gets the same Stripe intent back.
    pub async fn create_for(&self, row: &IntentRow) -> ApiResult<StripePaymentIntent> {
        let state = row.state()?;
        let record = row.record()?;
        let destination = Destination::for_account(&self.account, record.platform_fee)
            .map_err(|e| Fail::Api(e.to_api_error()))?;
        let charge = Charge {
            our_intent_id: &row.id,
            amount: state.amount,
            capture_method: state.capture_method,
            description: row.description.as_deref(),
            destination,
        };
        let req = requests::create_payment_intent(&self.auth(), &charge)
            .map_err(|e| Fail::Api(e.to_api_error()))?;
        self.intent(req).await
    }
}

/// Our events for Stripe's view of an intent, at `now`.
pub fn events_of(
    pi: &StripePaymentIntent,
    row: &IntentRow,
    now: i64,
) -> ApiResult<Vec<ProviderEvent>> {
    Ok(to_events(pi, &row.state()?, now))
}

/// The amount in Stripe's terms, for building a request.
pub fn build<T>(r: Result<T, shared::stripe::BuildError>) -> ApiResult<T> {
    r.map_err(|e| Fail::Api(e.to_api_error()))
}

pub fn refund_amount(refund: &wire::StripeRefund, row: &IntentRow) -> ApiResult<Money> {
    let state = row.state()?;
    events::refund_amount(refund, state.amount.currency()).map_err(|_| {
        Fail::Internal(worker::Error::RustError(format!(
            "refund for {} in another currency",
            row.id
        )))
    })
}
