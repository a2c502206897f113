//! Money as a type (`../shared/DESIGN.md`): a non-negative decimal amount that always
//! travels with its currency, parsed from the API's strict decimal strings
//! (`../shared/API.md`, Conventions) and never through a float.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The currencies the API accepts. Serialised as the uppercase ISO 4217 code.
#[allow(clippy::upper_case_acronyms)] // ISO codes are the names people search for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Currency {
    CHF,
    EUR,
    GBP,
    USD,
    SEK,
    NOK,
    DKK,
    PLN,
    CZK,
    JPY,
    KWD,
    BHD,
}

/// A currency code that is not (exactly) one of [`Currency::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCurrency(pub String);

impl fmt::Display for UnknownCurrency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown currency {:?}; expected one of ", self.0)?;
        f.write_str(&Currency::codes_list())
    }
}

impl std::error::Error for UnknownCurrency {}

impl Currency {
    pub const ALL: [Currency; 12] = [
        Currency::CHF,
        Currency::EUR,
        Currency::GBP,
        Currency::USD,
        Currency::SEK,
        Currency::NOK,
        Currency::DKK,
        Currency::PLN,
        Currency::CZK,
        Currency::JPY,
        Currency::KWD,
        Currency::BHD,
    ];

    pub fn code(&self) -> &'static str {
        match self {
            Currency::CHF => "CHF",
            Currency::EUR => "EUR",
            Currency::GBP => "GBP",
            Currency::USD => "USD",
            Currency::SEK => "SEK",
            Currency::NOK => "NOK",
            Currency::DKK => "DKK",
            Currency::PLN => "PLN",
            Currency::CZK => "CZK",
            Currency::JPY => "JPY",
            Currency::KWD => "KWD",
            Currency::BHD => "BHD",
        }
    }

    /// Same as [`Currency::code`], for symmetry with the other enums' `as_str`.
    pub fn as_str(&self) -> &'static str {
        self.code()
    }

    /// Fraction digits of the currency's minor unit (ISO 4217).
    pub fn exponent(&self) -> u32 {
        match self {
            Currency::JPY => 0,
            Currency::KWD | Currency::BHD => 3,
            Currency::CHF
            | Currency::EUR
            | Currency::GBP
            | Currency::USD
            | Currency::SEK
            | Currency::NOK
            | Currency::DKK
            | Currency::PLN
            | Currency::CZK => 2,
        }
    }

    /// Only the exact uppercase code: "chf" or " CHF" are refused rather than guessed.
    pub fn parse(code: &str) -> Result<Currency, UnknownCurrency> {
        Currency::ALL
            .into_iter()
            .find(|c| c.code() == code)
            .ok_or_else(|| UnknownCurrency(code.to_owned()))
    }

    /// "CHF, EUR, …" for error messages.
    pub fn codes_list() -> String {
        Currency::ALL.map(|c| c.code()).join(", ")
    }
}

impl FromStr for Currency {
    type Err = UnknownCurrency;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The largest amount in minor units: JavaScript's `Number.MAX_SAFE_INTEGER`, so the
/// widget and every provider's JSON can carry any amount exactly.
pub const MAX_MINOR_UNITS: i64 = 9_007_199_254_740_991;

/// Why an amount (string or minor units) is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountError {
    Empty,
    /// Anything outside `digits[.digits]`: spaces, signs other than a leading '-',
    /// letters, several dots, ".5", "5.".
    Malformed,
    /// "1e3": valid elsewhere, refused here so there is one spelling per amount.
    ExponentNotation,
    Zero,
    Negative,
    /// Includes trailing zeros: "12.500" CHF is refused like "12.345", because the
    /// contract counts fraction digits, and one amount should have one spelling.
    TooManyFractionDigits {
        currency: Currency,
        max: u32,
    },
    /// More than [`MAX_MINOR_UNITS`] minor units.
    Overflow,
}

impl AmountError {
    fn message(&self, param: &str) -> String {
        match self {
            AmountError::Empty => {
                format!("{param} is empty: send the amount as a decimal string, such as \"12.50\".")
            }
            AmountError::Malformed => format!(
                "{param} must be a decimal string of digits with an optional fraction, such as \"12.50\": \
                 no spaces, signs, letters or separators other than one '.'."
            ),
            AmountError::ExponentNotation => format!(
                "{param} must be written out in full, such as \"1000.00\": exponent notation (\"1e3\") is not accepted."
            ),
            AmountError::Zero => format!("{param} must be greater than zero."),
            AmountError::Negative => {
                format!("{param} must be greater than zero: negative amounts are not accepted.")
            }
            AmountError::TooManyFractionDigits { currency, max: 0 } => format!(
                "{currency} has no minor unit: send {param} in whole {currency}, such as \"500\", without a fraction."
            ),
            AmountError::TooManyFractionDigits { currency, max } => {
                let mut example = Decimal::new(1250, 2);
                example.rescale(*max);
                format!(
                    "{param} has more fraction digits than {currency} has: at most {max}, such as \"{example}\"."
                )
            }
            AmountError::Overflow => format!(
                "{param} is too large: at most {MAX_MINOR_UNITS} minor units (e.g. cents) are accepted."
            ),
        }
    }

    /// The 400 the API answers for this amount, naming the offending field.
    pub fn to_api_error(&self, param: &str) -> ApiError {
        ApiError::invalid_request("invalid_amount", self.message(param)).with_param(param)
    }
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message("amount"))
    }
}

impl std::error::Error for AmountError {}

/// Why arithmetic on two amounts has no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoneyError {
    CurrencyMismatch {
        left: Currency,
        right: Currency,
    },
    /// The result would be below zero; `Money` is never negative.
    Negative,
    Overflow,
}

impl fmt::Display for MoneyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoneyError::CurrencyMismatch { left, right } => {
                write!(f, "cannot combine amounts in {left} and {right}")
            }
            MoneyError::Negative => f.write_str("the result would be negative"),
            MoneyError::Overflow => write!(f, "the result exceeds {MAX_MINOR_UNITS} minor units"),
        }
    }
}

impl std::error::Error for MoneyError {}

/// A non-negative amount of one currency, at most [`MAX_MINOR_UNITS`] minor units.
///
/// Invariant: `amount`'s scale is always the currency's exponent, so equal values
/// print alike and `to_minor_units` is the mantissa.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    pub fn zero(currency: Currency) -> Money {
        Money::from_minor_unchecked(0, currency)
    }

    fn from_minor_unchecked(minor: i64, currency: Currency) -> Money {
        debug_assert!((0..=MAX_MINOR_UNITS).contains(&minor));
        Money {
            amount: Decimal::new(minor, currency.exponent()),
            currency,
        }
    }

    /// An amount a customer is charged: strict `digits[.digits]`, greater than zero,
    /// at most the currency's fraction digits.
    pub fn parse(s: &str, currency: Currency) -> Result<Money, AmountError> {
        let m = Money::parse_non_negative(s, currency)?;
        if m.is_zero() {
            return Err(AmountError::Zero);
        }
        Ok(m)
    }

    /// [`Money::parse`] that also accepts zero ("0.00"), for stored running totals
    /// such as `amount_received`.
    pub fn parse_non_negative(s: &str, currency: Currency) -> Result<Money, AmountError> {
        if s.is_empty() {
            return Err(AmountError::Empty);
        }
        if let Some(rest) = s.strip_prefix('-') {
            // Only call it negative if it is otherwise a number; "-x" is just malformed.
            return Err(match split_plain(rest) {
                Some(_) => AmountError::Negative,
                None if is_exponent_notation(rest) => AmountError::ExponentNotation,
                None => AmountError::Malformed,
            });
        }
        let Some((int, frac)) = split_plain(s) else {
            return Err(if is_exponent_notation(s) {
                AmountError::ExponentNotation
            } else {
                AmountError::Malformed
            });
        };
        let exp = currency.exponent();
        if frac.len() > exp as usize {
            return Err(AmountError::TooManyFractionDigits { currency, max: exp });
        }
        // Accumulate minor units digit by digit: the bound check also catches
        // absurdly long inputs before any big-number arithmetic.
        let padding = std::iter::repeat_n(b'0', exp as usize - frac.len());
        let mut minor: i64 = 0;
        for d in int.bytes().chain(frac.bytes()).chain(padding) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(d - b'0')))
                .filter(|m| *m <= MAX_MINOR_UNITS)
                .ok_or(AmountError::Overflow)?;
        }
        Ok(Money::from_minor_unchecked(minor, currency))
    }

    /// Zero is allowed here (running totals start at zero).
    pub fn from_minor_units(minor: i64, currency: Currency) -> Result<Money, AmountError> {
        if minor < 0 {
            return Err(AmountError::Negative);
        }
        if minor > MAX_MINOR_UNITS {
            return Err(AmountError::Overflow);
        }
        Ok(Money::from_minor_unchecked(minor, currency))
    }

    /// A computed decimal (not a customer's string): trailing zeros are insignificant
    /// here, so `12.500` is 12.50 CHF, but `12.505` CHF is refused — round first.
    /// Zero is allowed.
    pub fn from_decimal(amount: Decimal, currency: Currency) -> Result<Money, AmountError> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(AmountError::Negative);
        }
        let exp = currency.exponent();
        let normal = amount.normalize();
        if normal.scale() > exp {
            return Err(AmountError::TooManyFractionDigits { currency, max: exp });
        }
        // Fewer than 29 integer digits always fit the rescale; anything that does
        // not fit is far beyond the bound anyway.
        let mut scaled = normal;
        scaled.rescale(exp);
        if scaled.scale() != exp {
            return Err(AmountError::Overflow);
        }
        let minor = i64::try_from(scaled.mantissa()).map_err(|_| AmountError::Overflow)?;
        Money::from_minor_units(minor, currency)
    }

    /// `amount` rounded to the currency's exponent, half away from zero; negative
    /// values count as zero and values beyond the bound are an error.
    pub(crate) fn from_decimal_rounded(
        amount: Decimal,
        currency: Currency,
    ) -> Result<Money, AmountError> {
        let rounded = amount
            .round_dp_with_strategy(currency.exponent(), RoundingStrategy::MidpointAwayFromZero);
        Money::from_decimal(rounded.max(Decimal::ZERO), currency)
    }

    pub fn to_minor_units(&self) -> i64 {
        // The scale invariant makes the mantissa the minor units, bounded by MAX.
        self.amount.mantissa() as i64
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let sum = self.to_minor_units() + other.to_minor_units(); // both ≤ 2^53: no i64 overflow
        Money::from_minor_units(sum, self.currency).map_err(|_| MoneyError::Overflow)
    }

    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let diff = self.to_minor_units() - other.to_minor_units();
        Money::from_minor_units(diff, self.currency).map_err(|_| MoneyError::Negative)
    }

    /// Ordering within one currency. There is deliberately no `PartialOrd`: `a < b`
    /// across currencies would quietly be `false` instead of an error.
    pub fn try_cmp(&self, other: &Money) -> Result<Ordering, MoneyError> {
        self.same_currency(other)?;
        Ok(self.to_minor_units().cmp(&other.to_minor_units()))
    }

    /// The smaller of two amounts of one currency.
    pub fn try_min(&self, other: &Money) -> Result<Money, MoneyError> {
        Ok(match self.try_cmp(other)? {
            Ordering::Greater => *other,
            Ordering::Less | Ordering::Equal => *self,
        })
    }

    /// The larger of two amounts of one currency.
    pub fn try_max(&self, other: &Money) -> Result<Money, MoneyError> {
        Ok(match self.try_cmp(other)? {
            Ordering::Less => *other,
            Ordering::Greater | Ordering::Equal => *self,
        })
    }

    /// The API's spelling: exactly the currency's fraction digits ("12.50", "500",
    /// "1.000", "0.00"), no code.
    pub fn to_amount_string(&self) -> String {
        self.amount.to_string()
    }
}

/// Same as [`Money::to_amount_string`] (no currency code).
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.amount, f)
    }
}

/// `digits[.digits]` → (integer digits, fraction digits); None for anything else.
fn split_plain(s: &str) -> Option<(&str, &str)> {
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    match s.split_once('.') {
        None => all_digits(s).then_some((s, "")),
        Some((int, frac)) => (all_digits(int) && all_digits(frac)).then_some((int, frac)),
    }
}

/// `digits[.digits](e|E)[+|-]digits`: a number, but in a spelling we refuse.
fn is_exponent_notation(s: &str) -> bool {
    let Some(at) = s.find(['e', 'E']) else {
        return false;
    };
    let (mantissa, exp) = (&s[..at], &s[at + 1..]);
    let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
    split_plain(mantissa).is_some() && !exp.is_empty() && exp.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chf(s: &str) -> Result<Money, AmountError> {
        Money::parse(s, Currency::CHF)
    }

    #[test]
    fn currency_codes_parse_exactly_and_serialise_as_codes() {
        for c in Currency::ALL {
            assert_eq!(Currency::parse(c.code()), Ok(c));
            assert_eq!(c.code().parse::<Currency>(), Ok(c));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.code()));
            assert_eq!(serde_json::from_str::<Currency>(&json).unwrap(), c);
        }
        for bad in ["chf", "Chf", " CHF", "CHF ", "", "XXX", "EURO"] {
            assert_eq!(Currency::parse(bad), Err(UnknownCurrency(bad.to_owned())));
        }
        assert!(serde_json::from_str::<Currency>("\"chf\"").is_err());
        assert_eq!(Currency::JPY.exponent(), 0);
        assert_eq!(Currency::KWD.exponent(), 3);
        assert_eq!(Currency::BHD.exponent(), 3);
        assert_eq!(Currency::EUR.exponent(), 2);
    }

    #[test]
    fn valid_amounts_parse_to_minor_units() {
        assert_eq!(chf("12.50").unwrap().to_minor_units(), 1250);
        assert_eq!(chf("12.5").unwrap().to_minor_units(), 1250);
        assert_eq!(chf("12").unwrap().to_minor_units(), 1200);
        assert_eq!(chf("0.01").unwrap().to_minor_units(), 1);
        assert_eq!(chf("007.00").unwrap().to_minor_units(), 700);
        assert_eq!(
            Money::parse("500", Currency::JPY).unwrap().to_minor_units(),
            500
        );
        assert_eq!(
            Money::parse("1.234", Currency::KWD)
                .unwrap()
                .to_minor_units(),
            1234
        );
        assert_eq!(chf("12.5").unwrap(), chf("12.50").unwrap());
    }

    #[test]
    fn malformed_amounts_have_distinct_errors() {
        use AmountError::*;
        let cases: &[(&str, AmountError)] = &[
            ("", Empty),
            (" ", Malformed),
            (" 12.50", Malformed),
            ("12.50 ", Malformed),
            ("+1", Malformed),
            ("1,00", Malformed),
            ("abc", Malformed),
            ("12.3.4", Malformed),
            (".5", Malformed),
            ("5.", Malformed),
            ("-", Malformed),
            ("-abc", Malformed),
            ("１２", Malformed),
            ("NaN", Malformed),
            ("e3", Malformed),
            ("1e", Malformed),
            ("1e3", ExponentNotation),
            ("1E3", ExponentNotation),
            ("1.5e-2", ExponentNotation),
            ("2E+4", ExponentNotation),
            ("-1e3", ExponentNotation),
            ("0", Zero),
            ("0.00", Zero),
            ("000", Zero),
            ("-1", Negative),
            ("-0.50", Negative),
            (
                "12.345",
                TooManyFractionDigits {
                    currency: Currency::CHF,
                    max: 2,
                },
            ),
            (
                "12.500",
                TooManyFractionDigits {
                    currency: Currency::CHF,
                    max: 2,
                },
            ),
            ("90071992547409.92", Overflow),
            ("99999999999999999999999999999999999999999", Overflow),
        ];
        for (s, want) in cases {
            assert_eq!(chf(s), Err(*want), "{s:?}");
        }
        assert_eq!(
            Money::parse("5.5", Currency::JPY),
            Err(TooManyFractionDigits {
                currency: Currency::JPY,
                max: 0
            })
        );
        assert_eq!(Money::parse("5.", Currency::JPY), Err(Malformed));
        assert_eq!(
            chf("90071992547409.91").unwrap().to_minor_units(),
            MAX_MINOR_UNITS
        );
        assert_eq!(
            Money::parse("9007199254740991", Currency::JPY)
                .unwrap()
                .to_minor_units(),
            MAX_MINOR_UNITS
        );
    }

    #[test]
    fn parse_non_negative_accepts_zero_only_as_extra() {
        assert!(Money::parse_non_negative("0.00", Currency::CHF)
            .unwrap()
            .is_zero());
        assert_eq!(
            Money::parse_non_negative("-1", Currency::CHF),
            Err(AmountError::Negative)
        );
        assert_eq!(
            Money::parse_non_negative("0.000", Currency::CHF),
            Err(AmountError::TooManyFractionDigits {
                currency: Currency::CHF,
                max: 2
            })
        );
    }

    #[test]
    fn api_errors_name_the_param_and_differ_per_variant() {
        use AmountError::*;
        let all = [
            Empty,
            Malformed,
            ExponentNotation,
            Zero,
            Negative,
            TooManyFractionDigits {
                currency: Currency::CHF,
                max: 2,
            },
            TooManyFractionDigits {
                currency: Currency::JPY,
                max: 0,
            },
            Overflow,
        ];
        let mut messages = std::collections::BTreeSet::new();
        for e in all {
            let api = e.to_api_error("amount");
            assert_eq!(api.status, 400);
            assert_eq!(api.code, "invalid_amount");
            assert_eq!(api.param.as_deref(), Some("amount"));
            assert!(api.message.contains("amount"), "{}", api.message);
            messages.insert(api.message);
        }
        assert_eq!(messages.len(), all.len());
        let chf = TooManyFractionDigits {
            currency: Currency::CHF,
            max: 2,
        };
        assert!(chf.to_api_error("amount").message.contains("CHF"));
        assert_eq!(
            chf.to_api_error("capture").param.as_deref(),
            Some("capture")
        );
    }

    #[test]
    fn amount_strings_have_exactly_the_exponent_digits() {
        assert_eq!(chf("12.5").unwrap().to_amount_string(), "12.50");
        assert_eq!(Money::parse("5", Currency::JPY).unwrap().to_string(), "5");
        assert_eq!(
            Money::parse("1", Currency::KWD).unwrap().to_amount_string(),
            "1.000"
        );
        assert_eq!(Money::zero(Currency::EUR).to_amount_string(), "0.00");
        assert_eq!(Money::zero(Currency::JPY).to_amount_string(), "0");
        assert_eq!(
            Money::from_minor_units(MAX_MINOR_UNITS, Currency::BHD)
                .unwrap()
                .to_string(),
            "9007199254740.991"
        );
    }

    #[test]
    fn minor_units_bounds() {
        assert_eq!(
            Money::from_minor_units(-1, Currency::CHF),
            Err(AmountError::Negative)
        );
        assert_eq!(
            Money::from_minor_units(MAX_MINOR_UNITS + 1, Currency::CHF),
            Err(AmountError::Overflow)
        );
        assert!(Money::from_minor_units(0, Currency::CHF).unwrap().is_zero());
    }

    #[test]
    fn from_decimal_ignores_trailing_zeros_but_not_precision() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(
            Money::from_decimal(d("12.500"), Currency::CHF)
                .unwrap()
                .to_minor_units(),
            1250
        );
        assert_eq!(
            Money::from_decimal(d("12.505"), Currency::CHF),
            Err(AmountError::TooManyFractionDigits {
                currency: Currency::CHF,
                max: 2
            })
        );
        assert_eq!(
            Money::from_decimal(d("-0.01"), Currency::CHF),
            Err(AmountError::Negative)
        );
        assert!(Money::from_decimal(d("-0.00"), Currency::CHF)
            .unwrap()
            .is_zero());
        assert_eq!(
            Money::from_decimal(Decimal::MAX, Currency::CHF),
            Err(AmountError::Overflow)
        );
        assert_eq!(
            Money::from_decimal(d("90071992547409.92"), Currency::CHF),
            Err(AmountError::Overflow)
        );
        assert_eq!(
            Money::from_decimal_rounded(d("0.5"), Currency::JPY)
                .unwrap()
                .to_minor_units(),
            1
        );
        assert!(Money::from_decimal_rounded(d("-3"), Currency::JPY)
            .unwrap()
            .is_zero());
    }

    #[test]
    fn arithmetic_checks_currency_sign_and_bound() {
        let a = chf("10.00").unwrap();
        let b = chf("2.50").unwrap();
        assert_eq!(a.checked_add(&b).unwrap().to_amount_string(), "12.50");
        assert_eq!(a.checked_sub(&b).unwrap().to_amount_string(), "7.50");
        assert_eq!(b.checked_sub(&a), Err(MoneyError::Negative));
        let eur = Money::parse("1", Currency::EUR).unwrap();
        assert_eq!(
            a.checked_add(&eur),
            Err(MoneyError::CurrencyMismatch {
                left: Currency::CHF,
                right: Currency::EUR
            })
        );
        assert!(a.try_cmp(&eur).is_err());
        let max = Money::from_minor_units(MAX_MINOR_UNITS, Currency::CHF).unwrap();
        assert_eq!(
            max.checked_add(&chf("0.01").unwrap()),
            Err(MoneyError::Overflow)
        );
        assert_eq!(a.try_cmp(&b), Ok(Ordering::Greater));
        assert_eq!(a.try_min(&b), Ok(b));
        assert_eq!(b.try_max(&a), Ok(a));
    }

    fn currency() -> impl Strategy<Value = Currency> {
        proptest::sample::select(Currency::ALL.to_vec())
    }

    fn money() -> impl Strategy<Value = Money> {
        (currency(), 0..=MAX_MINOR_UNITS).prop_map(|(c, m)| Money::from_minor_units(m, c).unwrap())
    }

    proptest! {
        #[test]
        fn string_round_trip(m in money()) {
            let s = m.to_amount_string();
            let frac = s.split_once('.').map_or(0, |(_, f)| f.len());
            prop_assert_eq!(frac as u32, m.currency().exponent());
            prop_assert_eq!(Money::parse_non_negative(&s, m.currency()), Ok(m));
            if !m.is_zero() {
                prop_assert_eq!(Money::parse(&s, m.currency()), Ok(m));
            }
        }

        #[test]
        fn minor_units_round_trip(m in money()) {
            prop_assert_eq!(Money::from_minor_units(m.to_minor_units(), m.currency()), Ok(m));
            prop_assert_eq!(Money::from_decimal(m.amount(), m.currency()), Ok(m));
        }

        #[test]
        fn too_many_fraction_digits_always_rejected(
            c in currency(), int in "[0-9]{1,10}", extra in "[0-9]{1,4}"
        ) {
            let frac: String = "0".repeat(c.exponent() as usize) + &extra;
            let s = format!("{int}.{frac}");
            let want = AmountError::TooManyFractionDigits { currency: c, max: c.exponent() };
            prop_assert_eq!(Money::parse(&s, c), Err(want));
        }

        #[test]
        fn arbitrary_strings_never_panic_and_accepted_ones_are_canonical(s in "\\PC{0,24}", c in currency()) {
            if let Ok(m) = Money::parse(&s, c) {
                prop_assert!(s.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
                prop_assert!(!m.is_zero());
                prop_assert_eq!(Money::parse(&m.to_amount_string(), c), Ok(m));
            }
        }

        #[test]
        fn add_sub_round_trip(a in money(), b_minor in 0..=MAX_MINOR_UNITS) {
            let b = Money::from_minor_units(b_minor, a.currency()).unwrap();
            match a.checked_add(&b) {
                Ok(sum) => {
                    prop_assert_eq!(sum.checked_sub(&b), Ok(a));
                    prop_assert_eq!(sum.checked_sub(&a), Ok(b));
                }
                Err(e) => {
                    prop_assert_eq!(e, MoneyError::Overflow);
                    prop_assert!(a.to_minor_units() + b.to_minor_units() > MAX_MINOR_UNITS);
                }
            }
            match a.checked_sub(&b) {
                Ok(diff) => prop_assert_eq!(diff.checked_add(&b), Ok(a)),
                Err(e) => {
                    prop_assert_eq!(e, MoneyError::Negative);
                    prop_assert_eq!(a.try_cmp(&b), Ok(Ordering::Less));
                }
            }
        }
    }
}
