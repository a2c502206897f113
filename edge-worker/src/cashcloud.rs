//! Cashcloud, as the Worker executes it: `shared::cashcloud` describes every request,
//! reads every reply and verifies callbacks; this module gets tokens, sends, stores.

use shared::accounts::{CashcloudAccount, ProviderAccount};
use shared::cashcloud::auth::{device_id, Auth};
use shared::cashcloud::wire::{self, CashcloudError, Transaction};
use shared::cashcloud::{requests, BuildError, HttpRequest};
use shared::error::ApiError;
use shared::intent::Provider;
use shared::money::Money;

use crate::accounts;
use crate::ctx::Ctx;
use crate::http::{ApiResult, Fail};
use crate::outbound::{self, Answer};

/// How long a wallet user has to approve a money request.
pub const REQUEST_EXPIRATION_SECONDS: u32 = 300;

pub struct CashcloudSetup {
    pub account: CashcloudAccount,
    base: String,
}

pub fn build<T>(r: Result<T, BuildError>) -> ApiResult<T> {
    r.map_err(|e| Fail::Api(e.to_api_error()))
}

impl CashcloudSetup {
    pub async fn load(ctx: &Ctx, merchant_id: &str) -> ApiResult<CashcloudSetup> {
        let Some(ProviderAccount::Cashcloud(account)) =
            accounts::load(ctx, merchant_id, Provider::Cashcloud).await?
        else {
            return Err(ApiError::invalid_request(
                "provider_not_configured",
                "Cashcloud is not set up for this merchant.",
            )
            .into());
        };
        Ok(CashcloudSetup {
            account,
            base: ctx.env.var("CASHCLOUD_API_BASE")?.to_string(),
        })
    }

    async fn send(&self, req: &HttpRequest) -> ApiResult<Result<Vec<u8>, CashcloudError>> {
        let answer = outbound::send_described(&self.base, req).await?;
        Ok(match answer {
            Answer::Unreachable => Err(CashcloudError::Unavailable { status: 0 }),
            Answer::Http { status, body } if (200..300).contains(&status) => Ok(body.into_bytes()),
            Answer::Http { status, body } => Err(wire::parse_error(status, body.as_bytes())),
        })
    }

    /// A fresh token: Cashcloud has no API key; each token is made from a new salt.
    async fn auth(&self) -> ApiResult<Auth> {
        let req = requests::salt(&self.account.username, device_id(&self.account));
        match self.send(&req).await? {
            Ok(body) => {
                let salt = wire::parse_salt(&body).map_err(|e| Fail::Api(e.to_api_error()))?;
                Ok(Auth::for_account(&self.account, &salt))
            }
            Err(e) => Err(e.to_api_error().into()),
        }
    }

    /// Sends an authenticated request; a refused token is renewed once.
    pub async fn call(
        &self,
        make: impl Fn(&Auth) -> Result<HttpRequest, BuildError>,
    ) -> ApiResult<Vec<u8>> {
        let mut auth = self.auth().await?;
        for first in [true, false] {
            match self.send(&build(make(&auth))?).await? {
                Ok(body) => return Ok(body),
                Err(e) if first && e.needs_new_token() => auth = self.auth().await?,
                Err(e) => return Err(e.to_api_error().into()),
            }
        }
        unreachable!("the loop returns on its second pass")
    }

    /// `GET transactions?hash=`: Cashcloud's own word on a transaction. Callbacks are
    /// only ever a prompt to ask this.
    pub async fn transaction(&self, hash: &str) -> ApiResult<Transaction> {
        let body = self.call(|a| requests::transaction(a, hash)).await?;
        wire::parse_transaction(&body, hash).map_err(|e| Fail::Api(e.to_api_error()))
    }

    /// The EUR equivalent of an amount in another currency, for the refusal message.
    pub async fn eur_quote(&self, amount: &Money) -> ApiResult<Money> {
        let body = self
            .call(|a| Ok(requests::currency_rate(a, amount)))
            .await?;
        wire::parse_currency_rate(&body).map_err(|e| Fail::Api(e.to_api_error()))
    }
}

/// The UTC date of `now`, for the daily transaction count.
pub fn day(now: i64) -> String {
    chrono::DateTime::from_timestamp(now, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::day;

    #[test]
    fn days_are_utc_calendar_dates() {
        assert_eq!(day(0), "1970-01-01");
        assert_eq!(day(1_700_000_000), "2023-11-14");
        assert_eq!(day(951_782_400), "2000-02-29");
        assert_eq!(day(1_798_761_599), "2026-12-31");
        assert_eq!(day(1_798_761_600), "2027-01-01");
    }
}
