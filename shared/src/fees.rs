//! Who keeps what of a charge: our platform fee, the provider's fee, and Cashcloud's
//! published fees and limits (`../shared/PROVIDERS.md`, Cashcloud).

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::money::{Currency, Money, MoneyError};

/// 0.50 in major units of the charge currency, per customer transaction (API.md);
/// the admin may set another value per merchant.
pub const DEFAULT_PLATFORM_FEE: Decimal = Decimal::from_parts(50, 0, 0, false, 2);

/// The platform fee for one charge, in the charge's currency.
///
/// `per_transaction` is rounded to the currency's exponent half away from zero, so
/// 0.50 becomes 1 JPY (JPY has no half unit; rounding down would make the fee free).
/// A negative setting counts as zero. The fee never exceeds the charge itself.
pub fn platform_fee(charge: &Money, per_transaction: Decimal) -> Money {
    let currency = charge.currency();
    match Money::from_decimal_rounded(per_transaction, currency) {
        Ok(fee) => charge.try_min(&fee).unwrap_or(*charge),
        // Only `Overflow` is possible here: a fee beyond any amount caps at the charge.
        Err(_) => *charge,
    }
}

/// Why a fee breakdown cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeeError {
    CurrencyMismatch {
        gross: Currency,
        fee: Currency,
    },
    /// The provider kept more than was charged: the data is wrong, not the fee.
    ProviderFeeExceedsGross,
}

impl fmt::Display for FeeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeeError::CurrencyMismatch { gross, fee } => {
                write!(f, "a {fee} fee cannot apply to a {gross} charge")
            }
            FeeError::ProviderFeeExceedsGross => f.write_str("the provider fee exceeds the charge"),
        }
    }
}

impl std::error::Error for FeeError {}

/// One charge split into fees and what the merchant keeps.
/// Invariant: `gross == provider_fee + platform_fee + net`, all one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeBreakdown {
    gross: Money,
    provider_fee: Money,
    platform_fee: Money,
    net: Money,
}

impl FeeBreakdown {
    /// When provider and platform fees together exceed the gross, the platform fee is
    /// reduced to what is left, so the merchant's net is never negative: the
    /// provider is paid first because it has already taken its fee.
    pub fn new(
        gross: Money,
        provider_fee: Money,
        platform_fee: Money,
    ) -> Result<FeeBreakdown, FeeError> {
        let mismatch = |fee: &Money| FeeError::CurrencyMismatch {
            gross: gross.currency(),
            fee: fee.currency(),
        };
        let after_provider = gross.checked_sub(&provider_fee).map_err(|e| match e {
            MoneyError::CurrencyMismatch { .. } => mismatch(&provider_fee),
            MoneyError::Negative | MoneyError::Overflow => FeeError::ProviderFeeExceedsGross,
        })?;
        let platform_fee = after_provider
            .try_min(&platform_fee)
            .map_err(|_| mismatch(&platform_fee))?;
        let net = after_provider
            .checked_sub(&platform_fee)
            .expect("platform fee was capped at what is left");
        Ok(FeeBreakdown {
            gross,
            provider_fee,
            platform_fee,
            net,
        })
    }

    pub fn gross(&self) -> Money {
        self.gross
    }
    pub fn provider_fee(&self) -> Money {
        self.provider_fee
    }
    pub fn platform_fee(&self) -> Money {
        self.platform_fee
    }
    pub fn net(&self) -> Money {
        self.net
    }
}

/// A merchant's Cashcloud plan (API.md: `plan` when configuring Cashcloud).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CashcloudPlan {
    Corporate,
    CorporatePlus,
}

impl CashcloudPlan {
    pub fn as_str(&self) -> &'static str {
        match self {
            CashcloudPlan::Corporate => "corporate",
            CashcloudPlan::CorporatePlus => "corporate_plus",
        }
    }

    /// (percentage, fixed cents) per PROVIDERS.md.
    fn fee_terms(&self) -> (Decimal, i64) {
        match self {
            CashcloudPlan::Corporate => (Decimal::new(15, 3), 20),
            CashcloudPlan::CorporatePlus => (Decimal::new(10, 3), 15),
        }
    }

    /// Transactions a merchant may make in a day on this plan; None: no cap.
    pub fn daily_limit(&self) -> Option<u32> {
        self.limits().map(|(_, per_day)| per_day)
    }

    /// (max cents per transaction, max transactions a day); None where the notes
    /// state no limit (Corporate+).
    fn limits(&self) -> Option<(i64, u32)> {
        match self {
            CashcloudPlan::Corporate => Some((20_000, 5)),
            CashcloudPlan::CorporatePlus => None,
        }
    }
}

/// Payments of at most this are free of Cashcloud fees: the notes say fees apply
/// "above 1 €", so exactly 1.00 € is free.
const CASHCLOUD_FREE_UP_TO_CENTS: i64 = 100;
const CASHCLOUD_MINIMUM_CENTS: i64 = 20;

fn eur(cents: i64) -> Money {
    Money::from_minor_units(cents, Currency::EUR).expect("small constant")
}

/// Why a provider refuses an amount before we even ask it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitError {
    /// `eur_equivalent` is None from [`cashcloud_check`]; the Worker may fill it
    /// with [`LimitError::with_eur_equivalent`] after asking Cashcloud's rate
    /// (API.md: "other currencies → 400 with the EUR equivalent quoted").
    CurrencyNotSupported {
        currency: Currency,
        eur_equivalent: Option<Money>,
    },
    BelowMinimum {
        minimum: Money,
    },
    AboveMaximum {
        maximum: Money,
    },
    DailyCountExceeded {
        limit: u32,
    },
}

impl LimitError {
    /// Adds the quote to a `CurrencyNotSupported`; other variants are unchanged.
    pub fn with_eur_equivalent(self, quote: Money) -> LimitError {
        match self {
            LimitError::CurrencyNotSupported { currency, .. } => LimitError::CurrencyNotSupported {
                currency,
                eur_equivalent: Some(quote),
            },
            other @ (LimitError::BelowMinimum { .. }
            | LimitError::AboveMaximum { .. }
            | LimitError::DailyCountExceeded { .. }) => other,
        }
    }

    /// 400 `invalid_request_error`. The daily limit names `provider`: neither the
    /// amount nor the currency is at fault, the choice of provider (plan) is.
    pub fn to_api_error(&self) -> ApiError {
        let (code, param, message) = match self {
            LimitError::CurrencyNotSupported {
                currency,
                eur_equivalent,
            } => {
                let quote = eur_equivalent
                    .map(|q| format!(" The amount is about {q} EUR."))
                    .unwrap_or_default();
                (
                    "currency_not_supported",
                    "currency",
                    format!("Cashcloud accepts only EUR, not {currency}.{quote}"),
                )
            }
            LimitError::BelowMinimum { minimum } => (
                "amount_too_small",
                "amount",
                format!(
                    "The amount is below this provider's minimum of {minimum} {}.",
                    minimum.currency()
                ),
            ),
            LimitError::AboveMaximum { maximum } => (
                "amount_too_large",
                "amount",
                format!(
                    "The amount is above this provider's maximum of {maximum} {} per transaction.",
                    maximum.currency()
                ),
            ),
            LimitError::DailyCountExceeded { limit } => (
                "daily_limit_exceeded",
                "provider",
                format!(
                    "This merchant's provider plan allows {limit} transactions a day, and they have been made today."
                ),
            ),
        };
        ApiError::invalid_request(code, message).with_param(param)
    }
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_api_error().message)
    }
}

impl std::error::Error for LimitError {}

pub(crate) fn cashcloud_currency(amount: &Money) -> Result<(), LimitError> {
    match amount.currency() {
        Currency::EUR => Ok(()),
        other @ (Currency::CHF
        | Currency::GBP
        | Currency::USD
        | Currency::SEK
        | Currency::NOK
        | Currency::DKK
        | Currency::PLN
        | Currency::CZK
        | Currency::JPY
        | Currency::KWD
        | Currency::BHD) => Err(LimitError::CurrencyNotSupported {
            currency: other,
            eur_equivalent: None,
        }),
    }
}

/// Cashcloud's fee on one payment: Corporate 1.5 % + 0.20 €, Corporate+ 1.0 % +
/// 0.15 €, nothing at or below 1.00 €. The percentage is rounded half-up to the cent.
pub fn cashcloud_fee(plan: CashcloudPlan, amount: &Money) -> Result<Money, LimitError> {
    cashcloud_currency(amount)?;
    if amount.to_minor_units() <= CASHCLOUD_FREE_UP_TO_CENTS {
        return Ok(Money::zero(Currency::EUR));
    }
    let (rate, fixed_cents) = plan.fee_terms();
    let percent =
        (amount.amount() * rate).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    let percent = Money::from_decimal(percent, Currency::EUR)
        .expect("a percentage of a bounded amount is bounded");
    // The sum can only overflow for amounts far beyond any Cashcloud limit.
    Ok(percent.checked_add(&eur(fixed_cents)).unwrap_or(*amount))
}

/// Whether Cashcloud will take this payment. `transactions_today` counts the
/// merchant's Cashcloud transactions already made today (the Worker decides what
/// "today" is); the one being checked is not included.
pub fn cashcloud_check(
    plan: CashcloudPlan,
    amount: &Money,
    transactions_today: u32,
) -> Result<(), LimitError> {
    cashcloud_currency(amount)?;
    let minor = amount.to_minor_units();
    if minor < CASHCLOUD_MINIMUM_CENTS {
        return Err(LimitError::BelowMinimum {
            minimum: eur(CASHCLOUD_MINIMUM_CENTS),
        });
    }
    if let Some((max_cents, per_day)) = plan.limits() {
        if minor > max_cents {
            return Err(LimitError::AboveMaximum {
                maximum: eur(max_cents),
            });
        }
        if transactions_today >= per_day {
            return Err(LimitError::DailyCountExceeded { limit: per_day });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    fn cmp(a: &Money, b: &Money) -> Ordering {
        a.try_cmp(b).unwrap()
    }

    fn m(s: &str, c: Currency) -> Money {
        Money::parse_non_negative(s, c).unwrap()
    }

    #[test]
    fn platform_fee_in_the_charge_currency() {
        let fee = |s: &str, c: Currency| platform_fee(&m(s, c), DEFAULT_PLATFORM_FEE);
        assert_eq!(DEFAULT_PLATFORM_FEE.to_string(), "0.50");
        assert_eq!(fee("12.00", Currency::CHF), m("0.50", Currency::CHF));
        assert_eq!(fee("100", Currency::JPY), m("1", Currency::JPY));
        assert_eq!(fee("10", Currency::KWD), m("0.500", Currency::KWD));
        // Never more than the charge.
        assert_eq!(fee("0.30", Currency::EUR), m("0.30", Currency::EUR));
        assert_eq!(
            platform_fee(&m("5.00", Currency::EUR), Decimal::new(-1, 0)),
            Money::zero(Currency::EUR)
        );
        assert_eq!(
            platform_fee(&m("5.00", Currency::EUR), Decimal::MAX),
            m("5.00", Currency::EUR)
        );
        assert_eq!(
            platform_fee(&m("5.00", Currency::EUR), Decimal::new(1234, 3)),
            m("1.23", Currency::EUR)
        );
        assert_eq!(
            platform_fee(&m("5.00", Currency::EUR), Decimal::new(1235, 3)),
            m("1.24", Currency::EUR)
        );
    }

    #[test]
    fn breakdown_reduces_platform_fee_before_net_goes_negative() {
        let eur = |s| m(s, Currency::EUR);
        let b = FeeBreakdown::new(eur("10.00"), eur("0.35"), eur("0.50")).unwrap();
        assert_eq!(b.net(), eur("9.15"));
        let b = FeeBreakdown::new(eur("0.60"), eur("0.30"), eur("0.50")).unwrap();
        assert_eq!(b.platform_fee(), eur("0.30"));
        assert!(b.net().is_zero());
        assert_eq!(
            FeeBreakdown::new(eur("0.20"), eur("0.30"), eur("0.00")),
            Err(FeeError::ProviderFeeExceedsGross)
        );
        assert_eq!(
            FeeBreakdown::new(eur("1.00"), m("0.10", Currency::CHF), eur("0.00")),
            Err(FeeError::CurrencyMismatch {
                gross: Currency::EUR,
                fee: Currency::CHF
            })
        );
        assert_eq!(
            FeeBreakdown::new(eur("1.00"), eur("0.10"), m("0.10", Currency::CHF)),
            Err(FeeError::CurrencyMismatch {
                gross: Currency::EUR,
                fee: Currency::CHF
            })
        );
    }

    #[test]
    fn cashcloud_fees_follow_the_published_terms() {
        use CashcloudPlan::*;
        let fee = |plan, s| cashcloud_fee(plan, &m(s, Currency::EUR)).unwrap();
        assert!(fee(Corporate, "0.50").is_zero());
        assert!(fee(Corporate, "1.00").is_zero(), "exactly 1 € is free");
        // 1.01 × 1.5 % = 0.01515 → 0.02, + 0.20
        assert_eq!(fee(Corporate, "1.01"), m("0.22", Currency::EUR));
        assert_eq!(fee(Corporate, "100.00"), m("1.70", Currency::EUR));
        assert_eq!(fee(CorporatePlus, "100.00"), m("1.15", Currency::EUR));
        // 10.50 × 1.0 % = 0.105 → half-up 0.11, + 0.15
        assert_eq!(fee(CorporatePlus, "10.50"), m("0.26", Currency::EUR));
        // 3.30 × 1.5 % = 0.0495 → 0.05, + 0.20
        assert_eq!(fee(Corporate, "3.30"), m("0.25", Currency::EUR));
        assert_eq!(
            cashcloud_fee(Corporate, &m("10.00", Currency::CHF)),
            Err(LimitError::CurrencyNotSupported {
                currency: Currency::CHF,
                eur_equivalent: None
            })
        );
    }

    #[test]
    fn cashcloud_limits() {
        use CashcloudPlan::*;
        let check = |plan, s, n| cashcloud_check(plan, &m(s, Currency::EUR), n);
        assert_eq!(
            check(Corporate, "0.19", 0),
            Err(LimitError::BelowMinimum {
                minimum: m("0.20", Currency::EUR)
            })
        );
        assert_eq!(check(Corporate, "0.20", 0), Ok(()));
        assert_eq!(check(Corporate, "200.00", 0), Ok(()));
        assert_eq!(
            check(Corporate, "200.01", 0),
            Err(LimitError::AboveMaximum {
                maximum: m("200.00", Currency::EUR)
            })
        );
        assert_eq!(check(Corporate, "10.00", 4), Ok(()), "the fifth is allowed");
        assert_eq!(
            check(Corporate, "10.00", 5),
            Err(LimitError::DailyCountExceeded { limit: 5 }),
            "the sixth is refused"
        );
        assert_eq!(check(CorporatePlus, "5000.00", 50), Ok(()));
        assert_eq!(
            check(CorporatePlus, "0.19", 0),
            Err(LimitError::BelowMinimum {
                minimum: m("0.20", Currency::EUR)
            })
        );
        assert!(matches!(
            cashcloud_check(Corporate, &m("10", Currency::JPY), 0),
            Err(LimitError::CurrencyNotSupported {
                currency: Currency::JPY,
                ..
            })
        ));
    }

    #[test]
    fn limit_errors_map_to_distinct_codes_and_params() {
        let cases = [
            (
                LimitError::CurrencyNotSupported {
                    currency: Currency::CHF,
                    eur_equivalent: None,
                },
                "currency_not_supported",
                "currency",
            ),
            (
                LimitError::BelowMinimum {
                    minimum: m("0.20", Currency::EUR),
                },
                "amount_too_small",
                "amount",
            ),
            (
                LimitError::AboveMaximum {
                    maximum: m("200.00", Currency::EUR),
                },
                "amount_too_large",
                "amount",
            ),
            (
                LimitError::DailyCountExceeded { limit: 5 },
                "daily_limit_exceeded",
                "provider",
            ),
        ];
        for (err, code, param) in cases {
            let api = err.to_api_error();
            assert_eq!(api.status, 400);
            assert_eq!(api.kind, crate::error::ErrorType::InvalidRequestError);
            assert_eq!(api.code, code);
            assert_eq!(api.param.as_deref(), Some(param));
        }
        let quoted = LimitError::CurrencyNotSupported {
            currency: Currency::CHF,
            eur_equivalent: None,
        }
        .with_eur_equivalent(m("10.64", Currency::EUR));
        assert!(quoted.to_api_error().message.contains("10.64 EUR"));
        assert!(LimitError::BelowMinimum {
            minimum: m("0.20", Currency::EUR)
        }
        .to_api_error()
        .message
        .contains("0.20 EUR"));
    }

    #[test]
    fn plan_serde_is_snake_case() {
        assert_eq!(
            serde_json::to_string(&CashcloudPlan::CorporatePlus).unwrap(),
            "\"corporate_plus\""
        );
        assert_eq!(
            serde_json::from_str::<CashcloudPlan>("\"corporate\"").unwrap(),
            CashcloudPlan::Corporate
        );
        assert!(serde_json::from_str::<CashcloudPlan>("\"Corporate\"").is_err());
        assert_eq!(CashcloudPlan::CorporatePlus.as_str(), "corporate_plus");
    }

    fn currency() -> impl Strategy<Value = Currency> {
        proptest::sample::select(Currency::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn breakdown_always_adds_up(
            c in currency(),
            gross in 0i64..10_000_000,
            provider_share in 0i64..=100,
            platform in 0i64..10_000_000,
        ) {
            let money = |x| Money::from_minor_units(x, c).unwrap();
            let provider = gross * provider_share / 100;
            let b = FeeBreakdown::new(money(gross), money(provider), money(platform)).unwrap();
            let total = b.provider_fee().checked_add(&b.platform_fee()).unwrap().checked_add(&b.net()).unwrap();
            prop_assert_eq!(total, b.gross());
            prop_assert_eq!(b.provider_fee(), money(provider));
            prop_assert_ne!(cmp(&b.platform_fee(), &money(platform)), Ordering::Greater);
            // The platform fee is only reduced when it had to be.
            if provider + platform <= gross {
                prop_assert_eq!(b.platform_fee(), money(platform));
            } else {
                prop_assert!(b.net().is_zero());
            }
        }

        #[test]
        fn platform_fee_never_exceeds_the_charge(
            c in currency(), charge in 0i64..1_000_000, fee_cents in -1000i64..100_000, scale in 0u32..5
        ) {
            let charge = Money::from_minor_units(charge, c).unwrap();
            let fee = platform_fee(&charge, Decimal::new(fee_cents, scale));
            prop_assert_eq!(fee.currency(), c);
            prop_assert_ne!(cmp(&fee, &charge), Ordering::Greater);
        }

        #[test]
        fn cashcloud_fee_is_below_the_amount(cents in 1i64..=2_000_000) {
            let amount = Money::from_minor_units(cents, Currency::EUR).unwrap();
            for plan in [CashcloudPlan::Corporate, CashcloudPlan::CorporatePlus] {
                let fee = cashcloud_fee(plan, &amount).unwrap();
                prop_assert_eq!(cmp(&fee, &amount), Ordering::Less);
                prop_assert_eq!(fee.is_zero(), cents <= 100);
            }
        }
    }
}
