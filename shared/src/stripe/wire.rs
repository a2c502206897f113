//! Stripe's JSON, as far as we read it. Every field we can do without is optional
//! and unknown fields are ignored: Stripe adds fields without a version bump, and
//! localstripe leaves some out (`amount_capturable`, `amount_received`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::ApiError;
use crate::http::Outcome;
use crate::secrets::Secret;

/// A PaymentIntent's `status`. Unknown values (a future Stripe status) parse as
/// [`StripeIntentStatus::Unknown`] and map to no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StripeIntentStatus {
    // The pre-2019 names still appear on old API versions.
    #[serde(alias = "requires_source")]
    RequiresPaymentMethod,
    RequiresConfirmation,
    #[serde(alias = "requires_source_action")]
    RequiresAction,
    Processing,
    RequiresCapture,
    Succeeded,
    Canceled,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StripePaymentIntent {
    pub id: String,
    pub status: StripeIntentStatus,
    /// Lowercase ISO code, e.g. `"chf"`.
    pub currency: String,
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub amount_capturable: Option<i64>,
    #[serde(default)]
    pub amount_received: Option<i64>,
    /// Handed to the widget for Stripe.js's `handleNextAction`; a credential for
    /// this intent, so kept out of `Debug`.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    #[serde(default)]
    pub next_action: Option<StripeNextAction>,
    #[serde(default)]
    pub last_payment_error: Option<StripeError>,
    /// An id, or the charge itself when expanded (localstripe always expands it).
    #[serde(default)]
    pub latest_charge: Option<Expandable<StripeCharge>>,
    /// The pre-2022 list of charges (localstripe still sends it).
    #[serde(default)]
    pub charges: Option<StripeList<StripeCharge>>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StripeNextAction {
    /// `use_stripe_sdk` or `redirect_to_url`; Stripe.js handles both.
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StripeCharge {
    pub id: String,
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub amount_captured: Option<i64>,
    /// Stripe's running total of refunds on this charge.
    #[serde(default)]
    pub amount_refunded: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub payment_intent: Option<IdRef>,
    /// Where the charge's money and Stripe's fee are booked: an id, or the object
    /// when expanded (`expand[]=latest_charge.balance_transaction`).
    #[serde(default)]
    pub balance_transaction: Option<Expandable<StripeBalanceTransaction>>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: BTreeMap<String, Value>,
}

/// The part of a balance transaction we read: Stripe's fee, in the currency the
/// money settles in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StripeBalanceTransaction {
    pub id: String,
    pub fee: i64,
    /// Lowercase ISO code of the settlement currency.
    pub currency: String,
}

impl StripePaymentIntent {
    /// Stripe's fee on the payment, in minor units of `currency`, once the charge has
    /// a balance transaction and it was expanded.
    pub fn fee(&self) -> Option<(i64, &str)> {
        let Some(Expandable::Object(charge)) = &self.latest_charge else {
            return None;
        };
        match &charge.balance_transaction {
            Some(Expandable::Object(t)) => Some((t.fee, t.currency.as_str())),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StripeList<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
}

/// A field Stripe sends as an id or, when expanded, as the object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Expandable<T> {
    Id(String),
    Object(Box<T>),
}

/// Just the id of a field that may be an id or an expanded object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdRef(pub String);

impl<'de> Deserialize<'de> for IdRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<IdRef, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(IdRef(s)),
            Value::Object(o) => match o.get("id") {
                Some(Value::String(s)) => Ok(IdRef(s.clone())),
                _ => Err(serde::de::Error::custom("expanded object without an id")),
            },
            _ => Err(serde::de::Error::custom("expected an id or an object")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StripeRefundStatus {
    Pending,
    RequiresAction,
    Succeeded,
    Failed,
    Canceled,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StripeRefund {
    pub id: String,
    pub amount: i64,
    pub status: StripeRefundStatus,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub payment_intent: Option<IdRef>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: BTreeMap<String, Value>,
}

/// Text written by Stripe or a bank. It may quote what the customer typed, so it is
/// never shown to anyone, and `Debug` prints only its length.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ProviderText(String);

impl ProviderText {
    /// The raw text, for a deliberate, reviewed use only.
    pub fn raw(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ProviderText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProviderText({} bytes)", self.0.len())
    }
}

/// Stripe's `error` object, also the shape of `last_payment_error`.
#[derive(Debug, Clone, Deserialize)]
pub struct StripeError {
    /// `card_error`, `invalid_request_error`, `api_error`, `idempotency_error`, …
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub message: Option<ProviderText>,
    #[serde(default)]
    pub param: Option<String>,
    /// Set on card errors, e.g. an off-session `authentication_required`: the
    /// intent as it now stands.
    #[serde(default)]
    pub payment_intent: Option<Box<StripePaymentIntent>>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: StripeError,
}

pub use crate::wire::ParseError;

/// The name [`ParseError`]s give.
pub(crate) const PROVIDER: &str = "Stripe";

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &'static str,
) -> Result<T, ParseError> {
    crate::wire::parse_json(PROVIDER, body, what)
}

pub fn parse_payment_intent(body: &[u8]) -> Result<StripePaymentIntent, ParseError> {
    parse_json(body, "payment intent")
}

pub fn parse_refund(body: &[u8]) -> Result<StripeRefund, ParseError> {
    parse_json(body, "refund")
}

/// One page of a Stripe list, and whether more follow. serde would read a struct from
/// a JSON array too (`[[]]` as an empty page): a list is an object, or it is not Stripe's.
fn parse_page<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &'static str,
) -> Result<(Vec<T>, bool), ParseError> {
    #[derive(Deserialize)]
    struct Page<T> {
        data: Vec<T>,
        #[serde(default)]
        has_more: bool,
    }
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(ParseError::invalid(PROVIDER, what));
    }
    let page: Page<T> = parse_json(body, what)?;
    Ok((page.data, page.has_more))
}

/// `GET /v1/refunds?payment_intent=…`.
pub fn parse_refunds(body: &[u8]) -> Result<(Vec<StripeRefund>, bool), ParseError> {
    parse_page(body, "refund list")
}

/// `GET /v1/payment_intents?created[…]`.
pub fn parse_payment_intents(body: &[u8]) -> Result<(Vec<StripePaymentIntent>, bool), ParseError> {
    parse_page(body, "payment intent list")
}

/// A SetupIntent's `status`; unknown values parse as `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StripeSetupIntentStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    Succeeded,
    Canceled,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StripeSetupIntent {
    pub id: String,
    pub status: StripeSetupIntentStatus,
    /// For Stripe.js's `handleNextAction` in the customer's page; kept out of `Debug`.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    #[serde(default)]
    pub payment_method: Option<IdRef>,
    #[serde(default)]
    pub customer: Option<IdRef>,
    #[serde(default)]
    pub last_setup_error: Option<StripeError>,
}

pub fn parse_setup_intent(body: &[u8]) -> Result<StripeSetupIntent, ParseError> {
    parse_json(body, "setup intent")
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StripeCustomer {
    pub id: String,
}

pub fn parse_customer(body: &[u8]) -> Result<StripeCustomer, ParseError> {
    let c: StripeCustomer = parse_json(body, "customer")?;
    if !is_stripe_id("cus_", &c.id) {
        return Err(ParseError::invalid(PROVIDER, "customer id"));
    }
    Ok(c)
}

/// A saved card: the four fields a merchant may see, and whose customer it is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StripePaymentMethod {
    pub id: String,
    #[serde(default)]
    pub customer: Option<IdRef>,
    #[serde(default)]
    pub card: Option<StripeCard>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StripeCard {
    #[serde(default)]
    pub brand: String,
    #[serde(default)]
    pub last4: String,
    #[serde(default)]
    pub exp_month: u32,
    #[serde(default)]
    pub exp_year: u32,
}

pub fn parse_payment_method(body: &[u8]) -> Result<StripePaymentMethod, ParseError> {
    let pm: StripePaymentMethod = parse_json(body, "payment method")?;
    if !is_stripe_id("pm_", &pm.id) {
        return Err(ParseError::invalid(PROVIDER, "payment method id"));
    }
    Ok(pm)
}

pub fn parse_payment_methods(body: &[u8]) -> Result<Vec<StripePaymentMethod>, ParseError> {
    let list: StripeList<StripePaymentMethod> = parse_json(body, "payment method list")?;
    if list.data.iter().any(|pm| !is_stripe_id("pm_", &pm.id)) {
        return Err(ParseError::invalid(PROVIDER, "payment method id"));
    }
    Ok(list.data)
}

fn is_stripe_id(prefix: &str, id: &str) -> bool {
    id.len() <= 255
        && id.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

/// A connected account (`POST /v1/accounts`, `GET /v1/accounts/{id}`), as far as we read it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StripeConnectedAccount {
    pub id: String,
    #[serde(default)]
    pub charges_enabled: bool,
}

/// `POST /v1/account_links` → where the merchant completes onboarding.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StripeAccountLink {
    pub url: String,
}

pub fn parse_account(body: &[u8]) -> Result<StripeConnectedAccount, ParseError> {
    let a: StripeConnectedAccount = parse_json(body, "account")?;
    if !a.id.starts_with("acct_")
        || a.id.len() > 255
        || !a.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(ParseError::invalid(PROVIDER, "account id"));
    }
    Ok(a)
}

pub fn parse_account_link(body: &[u8]) -> Result<StripeAccountLink, ParseError> {
    let l: StripeAccountLink = parse_json(body, "account link")?;
    if !(l.url.starts_with("https://") || l.url.starts_with("http://")) {
        return Err(ParseError::invalid(PROVIDER, "account link url"));
    }
    Ok(l)
}

/// `{"error": {…}}`, the body of any non-2xx answer.
pub fn parse_error(body: &[u8]) -> Result<StripeError, ParseError> {
    parse_json::<ErrorBody>(body, "error").map(|b| b.error)
}

/// Why a card payment failed, in words a customer understands. A fixed list, so
/// nothing a bank wrote reaches the page; unknown codes read as a plain decline
/// (fraud suspicions such as `stolen_card` deliberately too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclineReason {
    CardDeclined,
    InsufficientFunds,
    IncorrectCvc,
    ExpiredCard,
    /// 3D Secure was attempted and failed.
    AuthenticationFailed,
    /// Off-session: the bank wants the customer present.
    AuthenticationRequired,
}

impl DeclineReason {
    /// From Stripe's `decline_code` (more specific) or `code`.
    pub fn from_codes(code: Option<&str>, decline_code: Option<&str>) -> DeclineReason {
        let known = |c: &str| match c {
            "insufficient_funds" => Some(DeclineReason::InsufficientFunds),
            "incorrect_cvc" | "invalid_cvc" => Some(DeclineReason::IncorrectCvc),
            "expired_card" => Some(DeclineReason::ExpiredCard),
            "authentication_required" => Some(DeclineReason::AuthenticationRequired),
            "payment_intent_authentication_failure"
            | "authentication_failure"
            | "setup_intent_authentication_failure" => Some(DeclineReason::AuthenticationFailed),
            _ => None,
        };
        decline_code
            .and_then(known)
            .or_else(|| code.and_then(known))
            .unwrap_or(DeclineReason::CardDeclined)
    }

    pub fn from_error(e: &StripeError) -> DeclineReason {
        DeclineReason::from_codes(e.code.as_deref(), e.decline_code.as_deref())
    }

    /// Our error code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            DeclineReason::CardDeclined => "card_declined",
            DeclineReason::InsufficientFunds => "insufficient_funds",
            DeclineReason::IncorrectCvc => "incorrect_cvc",
            DeclineReason::ExpiredCard => "expired_card",
            DeclineReason::AuthenticationFailed => "authentication_failed",
            DeclineReason::AuthenticationRequired => "authentication_required",
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            DeclineReason::CardDeclined => "Your card was declined.",
            DeclineReason::InsufficientFunds => "Your card has insufficient funds.",
            DeclineReason::IncorrectCvc => "Your card's security code is incorrect.",
            DeclineReason::ExpiredCard => "Your card has expired.",
            DeclineReason::AuthenticationFailed | DeclineReason::AuthenticationRequired => {
                "Authentication failed. Try again or use another card."
            }
        }
    }
}

/// Our answer for a Stripe error response (`http_status` is Stripe's). Card errors
/// become 402 with a customer message; anything else is the provider's problem or
/// ours, reported without Stripe's text.
pub fn error_to_api_error(http_status: u16, e: &StripeError) -> ApiError {
    match (e.kind.as_deref(), http_status) {
        (Some("card_error"), _) | (_, 402) => {
            let reason = DeclineReason::from_error(e);
            ApiError::provider(402, reason.code(), reason.message())
        }
        (Some("idempotency_error"), _) => crate::http::provider_idempotency_conflict(),
        (Some("rate_limit_error"), _) | (_, 429) => ApiError::provider(
            503,
            "provider_unavailable",
            "The payment provider is busy. Try again shortly.",
        ),
        (_, s) if s >= 500 => crate::http::provider_unavailable(502),
        _ => crate::http::provider_refused(),
    }
}

/// What Stripe's answer says about the operation ([`crate::http::Outcome`]): by
/// status as for every provider (2xx success; a 4xx such as 402 `card_declined` a
/// final answer; 5xx, 429 and no answer unknown), and, from the body, an
/// `idempotency_error` or a `lock_timeout` is unknown too: it means a request
/// under the same key exists (in flight, or sent earlier with other values) whose
/// outcome this answer does not tell.
pub fn classify(status: Option<u16>, body: &[u8]) -> Outcome<'_> {
    match crate::http::classify(status, body) {
        Outcome::Final { status: s, body } => match parse_error(body) {
            Ok(e)
                if e.kind.as_deref() == Some("idempotency_error")
                    || e.code.as_deref() == Some("lock_timeout") =>
            {
                Outcome::Unknown { status: Some(s) }
            }
            _ => Outcome::Final { status: s, body },
        },
        other => other,
    }
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A metadata value as text (Stripe sends strings; anything else is ignored).
pub fn metadata_str<'a>(metadata: &'a BTreeMap<String, Value>, key: &str) -> Option<&'a str> {
    metadata.get(key).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    /// Found by the stripe_wire fuzz target: `[[]]` was read as an empty refund list.
    #[test]
    fn a_refund_list_is_an_object() {
        for bad in [&b"[[]]"[..], b"[[], true]", b" [ [] ]", b"null"] {
            assert!(
                parse_refunds(bad).is_err(),
                "{:?}",
                std::str::from_utf8(bad)
            );
        }
        let (list, more) = parse_refunds(
            br#" {"object":"list","data":[{"id":"re_1","amount":500,"status":"succeeded"}],"has_more":true}"#,
        )
        .unwrap();
        assert_eq!((list.len(), list[0].amount, more), (1, 500, true));
    }

    use super::*;

    #[test]
    fn reads_setup_intents_and_saved_cards_and_nothing_more_of_a_card() {
        let si = parse_setup_intent(
            br#"{"id":"seti_1","object":"setup_intent","status":"requires_action",
                "client_secret":"seti_1_secret_x","payment_method":"pm_1","customer":"cus_1",
                "next_action":{"type":"use_stripe_sdk"},"usage":"off_session"}"#,
        )
        .unwrap();
        assert_eq!(si.status, StripeSetupIntentStatus::RequiresAction);
        assert_eq!(si.payment_method, Some(IdRef("pm_1".into())));
        assert!(!format!("{si:?}").contains("seti_1_secret_x"));
        let s2 = parse_setup_intent(br#"{"id":"seti_2","status":"brand_new"}"#).unwrap();
        assert_eq!(s2.status, StripeSetupIntentStatus::Unknown);
        let pms = parse_payment_methods(
            br#"{"object":"list","data":[{"id":"pm_1","customer":"cus_1","type":"card",
                "card":{"brand":"visa","last4":"3155","exp_month":12,"exp_year":2034,
                "fingerprint":"f","country":"US"},"billing_details":{"name":"A"}}]}"#,
        )
        .unwrap();
        assert_eq!(pms[0].card.as_ref().unwrap().last4, "3155");
        assert!(parse_payment_methods(br#"{"data":[{"id":"../pm"}]}"#).is_err());
        assert!(parse_customer(br#"{"id":"cus_1/x"}"#).is_err());
        assert_eq!(parse_customer(br#"{"id":"cus_9"}"#).unwrap().id, "cus_9");
    }

    #[test]
    fn reads_a_payment_intent_and_tolerates_extra_and_missing_fields() {
        let pi = parse_payment_intent(
            br#"{"id":"pi_3A","object":"payment_intent","status":"requires_action",
                "amount":1250,"amount_capturable":0,"amount_received":0,"currency":"chf",
                "client_secret":"pi_3A_secret_x","next_action":{"type":"use_stripe_sdk","use_stripe_sdk":{}},
                "last_payment_error":null,"latest_charge":"ch_1","metadata":{"our_intent_id":"pi_ours"},
                "brand_new_field":{"x":[1,2]}}"#,
        )
        .unwrap();
        assert_eq!(pi.status, StripeIntentStatus::RequiresAction);
        assert_eq!(pi.amount, Some(1250));
        assert_eq!(pi.next_action.as_ref().unwrap().kind, "use_stripe_sdk");
        assert_eq!(pi.latest_charge, Some(Expandable::Id("ch_1".into())));
        assert_eq!(metadata_str(&pi.metadata, "our_intent_id"), Some("pi_ours"));
        assert!(!format!("{pi:?}").contains("secret_x"));

        let minimal = parse_payment_intent(
            br#"{"id":"pi_1","status":"some_future_status","currency":"eur","metadata":null}"#,
        )
        .unwrap();
        assert_eq!(minimal.status, StripeIntentStatus::Unknown);
        assert_eq!(
            (minimal.amount, minimal.client_secret.is_none()),
            (None, true)
        );
        assert!(parse_payment_intent(br#"{"status":"succeeded"}"#).is_err());
        let old =
            parse_payment_intent(br#"{"id":"pi_1","status":"requires_source","currency":"eur"}"#)
                .unwrap();
        assert_eq!(old.status, StripeIntentStatus::RequiresPaymentMethod);
    }

    #[test]
    fn reads_refunds() {
        let r = parse_refund(
            br#"{"id":"re_1","object":"refund","amount":500,"status":"succeeded","currency":"chf",
                "payment_intent":"pi_3A","metadata":{"our_refund_id":"re_ours"}}"#,
        )
        .unwrap();
        assert_eq!(
            (r.id.as_str(), r.amount, r.status),
            ("re_1", 500, StripeRefundStatus::Succeeded)
        );
        assert_eq!(r.payment_intent, Some(IdRef("pi_3A".into())));
        let r = parse_refund(
            br#"{"id":"re_2","amount":1,"status":"pending","payment_intent":{"id":"pi_9"}}"#,
        )
        .unwrap();
        assert_eq!(r.status, StripeRefundStatus::Pending);
        assert_eq!(r.payment_intent, Some(IdRef("pi_9".into())));
    }

    #[test]
    fn reads_errors_without_repeating_their_text() {
        let body = br#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds",
            "message":"Card 4000 0000 0000 9995 has insufficient funds.","charge":"ch_1",
            "payment_intent":{"id":"pi_3A","status":"requires_payment_method","currency":"chf"}}}"#;
        let e = parse_error(body).unwrap();
        assert_eq!(e.payment_intent.as_ref().unwrap().id, "pi_3A");
        assert!(!format!("{e:?}").contains("9995"));
        let api = error_to_api_error(402, &e);
        assert_eq!(
            (api.status, api.code.as_str(), api.message.as_str()),
            (
                402,
                "insufficient_funds",
                "Your card has insufficient funds."
            )
        );
        assert_eq!(api.kind, crate::error::ErrorType::ProviderError);
        assert!(!api.message.contains("9995"));

        let off = parse_error(
            br#"{"error":{"type":"card_error","code":"authentication_required","decline_code":"authentication_required",
                "payment_intent":{"id":"pi_3B","status":"requires_payment_method","currency":"eur"}}}"#,
        )
        .unwrap();
        assert_eq!(
            DeclineReason::from_error(&off),
            DeclineReason::AuthenticationRequired
        );

        let cases: [(u16, &str, u16, &str); 5] = [
            (
                400,
                r#"{"type":"invalid_request_error","message":"No such payment_intent: 'pi_x'"}"#,
                502,
                "provider_error",
            ),
            (
                401,
                r#"{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_***"}"#,
                502,
                "provider_error",
            ),
            (
                400,
                r#"{"type":"idempotency_error","message":"Keys for idempotent requests ..."}"#,
                409,
                "idempotency_key_in_use",
            ),
            (
                429,
                r#"{"type":"rate_limit_error"}"#,
                503,
                "provider_unavailable",
            ),
            (500, r#"{"type":"api_error"}"#, 502, "provider_unavailable"),
        ];
        for (status, inner, want, code) in cases {
            let e = parse_error(format!(r#"{{"error":{inner}}}"#).as_bytes()).unwrap();
            let api = error_to_api_error(status, &e);
            assert_eq!((api.status, api.code.as_str()), (want, code), "{inner}");
            assert!(!api.message.contains("pi_x") && !api.message.contains("sk_"));
        }
        let p = parse_error(b"<html>502</html>").unwrap_err();
        assert_eq!(p.to_api_error().status, 502);
    }

    #[test]
    fn classifies_declines_as_final_and_outages_as_unknown() {
        let declined = br#"{"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline","message":"Your card was declined.","payment_intent":{"id":"pi_1"}}}"#;
        assert_eq!(
            classify(Some(402), declined),
            Outcome::Final {
                status: 402,
                body: declined.as_slice()
            }
        );
        let auth = br#"{"error":{"type":"card_error","code":"authentication_required"}}"#;
        assert!(matches!(
            classify(Some(402), auth),
            Outcome::Final { status: 402, .. }
        ));
        let invalid = br#"{"error":{"type":"invalid_request_error","code":"parameter_missing"}}"#;
        assert!(matches!(
            classify(Some(400), invalid),
            Outcome::Final { status: 400, .. }
        ));
        // Unreadable 4xx bodies are still final answers.
        assert!(matches!(
            classify(Some(404), b"<html>"),
            Outcome::Final { status: 404, .. }
        ));
        let api_error = br#"{"error":{"type":"api_error","message":"An unknown error occurred"}}"#;
        assert_eq!(
            classify(Some(500), api_error),
            Outcome::Unknown { status: Some(500) }
        );
        let busy = br#"{"error":{"type":"rate_limit_error"}}"#;
        assert_eq!(
            classify(Some(429), busy),
            Outcome::Unknown { status: Some(429) }
        );
        assert_eq!(classify(None, b""), Outcome::Unknown { status: None });
        // A key used with other values: the first request's outcome is not in it.
        let reused = br#"{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters they were first used with."}}"#;
        assert_eq!(
            classify(Some(400), reused),
            Outcome::Unknown { status: Some(400) }
        );
        let locked = br#"{"error":{"type":"invalid_request_error","code":"lock_timeout"}}"#;
        assert!(classify(Some(409), locked).is_unknown());
        let ok = br#"{"id":"pi_1","object":"payment_intent"}"#;
        assert_eq!(classify(Some(200), ok), Outcome::Success(ok.as_slice()));
    }

    #[test]
    fn decline_codes_become_customer_messages() {
        let m = |code: Option<&str>, decline: Option<&str>| {
            DeclineReason::from_codes(code, decline).message()
        };
        assert_eq!(
            m(Some("card_declined"), Some("generic_decline")),
            "Your card was declined."
        );
        assert_eq!(
            m(Some("card_declined"), Some("insufficient_funds")),
            "Your card has insufficient funds."
        );
        assert_eq!(
            m(Some("incorrect_cvc"), None),
            "Your card's security code is incorrect."
        );
        assert_eq!(
            m(Some("card_declined"), Some("expired_card")),
            "Your card has expired."
        );
        assert_eq!(m(Some("expired_card"), None), "Your card has expired.");
        assert_eq!(
            m(Some("payment_intent_authentication_failure"), None),
            "Authentication failed. Try again or use another card."
        );
        assert_eq!(
            m(Some("card_declined"), Some("stolen_card")),
            "Your card was declined."
        );
        assert_eq!(m(None, None), "Your card was declined.");
        assert_eq!(m(Some("Card 4242 is bad"), None), "Your card was declined.");
    }

    #[test]
    fn connected_accounts_and_links_are_read_strictly() {
        let a = parse_account(
            br#"{"id":"acct_1New","object":"account","charges_enabled":false,"type":"express"}"#,
        )
        .unwrap();
        assert_eq!((a.id.as_str(), a.charges_enabled), ("acct_1New", false));
        assert!(parse_account(br#"{"id":"cus_1"}"#).is_err());
        assert!(parse_account(br#"{"id":"acct_1/../x"}"#).is_err());
        let l = parse_account_link(br#"{"object":"account_link","url":"https://connect.stripe.com/setup/e/acct_1/x","expires_at":1}"#).unwrap();
        assert!(l.url.starts_with("https://connect.stripe.com/"));
        assert!(parse_account_link(br#"{"url":"javascript:alert(1)"}"#).is_err());
    }
}
