//! The JSON bodies of API.md that exist so far: requests (which refuse unknown
//! fields, per the Conventions) with their validation, and responses, which both
//! the Worker (serde_json) and the widget (serde-wasm-bindgen) use.
//!
//! Response types accept unknown fields on purpose: the contract may be extended,
//! and an older widget must keep reading a newer Worker's answers.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::intent::{CaptureMethod, IntentState, IntentStatus, Provider, UnknownName};
use crate::money::{Currency, Money};

const MAX_DESCRIPTION_CHARS: usize = 1000;
const MAX_REFERENCE_CHARS: usize = 255;
const MAX_METADATA_KEYS: usize = 50;
const MAX_METADATA_KEY_CHARS: usize = 40;
const MAX_METADATA_VALUE_CHARS: usize = 500;
const MAX_NAME_CHARS: usize = 200;
const MAX_ALLOWED_ORIGINS: usize = 20;

fn invalid(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_request("parameter_invalid", message).with_param(param)
}

fn invalid_currency(param: &str, code: &str) -> ApiError {
    ApiError::invalid_request(
        "invalid_currency",
        format!(
            "{param} {code:?} is not supported: use an uppercase ISO 4217 code, one of {}.",
            Currency::codes_list()
        ),
    )
    .with_param(param)
}

fn check_chars(param: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().count() > max {
        return Err(invalid(
            param,
            format!("{param} must be at most {max} characters."),
        ));
    }
    Ok(())
}

/// A name a person reads: not blank, bounded, no control characters.
fn check_name(param: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() || value.chars().any(char::is_control) {
        return Err(invalid(
            param,
            format!("{param} must be non-empty text without control characters."),
        ));
    }
    check_chars(param, value, MAX_NAME_CHARS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetupFutureUsage {
    OffSession,
}

/// `POST /v1/payment_intents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePaymentIntent {
    pub amount: String,
    pub currency: String,
    pub provider: Provider,
    #[serde(default)]
    pub capture_method: Option<CaptureMethod>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub order_reference: Option<String>,
    #[serde(default)]
    pub customer: Option<String>,
    #[serde(default)]
    pub setup_future_usage: Option<SetupFutureUsage>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// A [`CreatePaymentIntent`] that passed validation, with its values typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPaymentIntent {
    pub amount: Money,
    pub provider: Provider,
    pub capture_method: CaptureMethod,
    pub description: Option<String>,
    pub order_reference: Option<String>,
    pub customer: Option<String>,
    pub setup_future_usage: Option<SetupFutureUsage>,
    /// Empty when none was sent.
    pub metadata: BTreeMap<String, String>,
}

impl CreatePaymentIntent {
    /// Checks every field the way API.md states; provider limits (Cashcloud's) are
    /// checked separately, by `fees::cashcloud_check`, because they need the plan.
    pub fn validate(&self) -> Result<NewPaymentIntent, ApiError> {
        let currency = Currency::parse(&self.currency)
            .map_err(|_| invalid_currency("currency", &self.currency))?;
        let amount = Money::parse(&self.amount, currency).map_err(|e| e.to_api_error("amount"))?;
        if let Some(d) = &self.description {
            check_chars("description", d, MAX_DESCRIPTION_CHARS)?;
        }
        if let Some(r) = &self.order_reference {
            if r.is_empty() || r.chars().any(char::is_control) {
                return Err(invalid(
                    "order_reference",
                    "order_reference must be non-empty text without control characters.",
                ));
            }
            check_chars("order_reference", r, MAX_REFERENCE_CHARS)?;
        }
        if let Some(c) = &self.customer {
            if !is_id(c, "cus_") {
                return Err(invalid(
                    "customer",
                    "customer must be a customer id (cus_…).",
                ));
            }
        }
        if self.setup_future_usage.is_some() {
            // Saved cards exist only through Stripe, and only for a customer.
            match self.provider {
                Provider::Stripe => {}
                Provider::Worldpay | Provider::Cashcloud => {
                    return Err(invalid(
                        "setup_future_usage",
                        format!(
                            "setup_future_usage is only available with provider stripe, not {}.",
                            self.provider
                        ),
                    ))
                }
            }
            if self.customer.is_none() {
                return Err(invalid(
                    "setup_future_usage",
                    "setup_future_usage needs a customer to save the card to.",
                ));
            }
        }
        let metadata = self.metadata.clone().unwrap_or_default();
        check_metadata(&metadata)?;
        Ok(NewPaymentIntent {
            amount,
            provider: self.provider,
            capture_method: self.capture_method.unwrap_or_default(),
            description: self.description.clone(),
            order_reference: self.order_reference.clone(),
            customer: self.customer.clone(),
            setup_future_usage: self.setup_future_usage,
            metadata,
        })
    }
}

/// `prefix` then 1–255 ASCII letters, digits or '_'.
fn is_id(value: &str, prefix: &str) -> bool {
    value.strip_prefix(prefix).is_some_and(|rest| {
        !rest.is_empty()
            && value.len() <= 255
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

/// Keys may not contain '[' or ']': providers form-encode metadata as
/// `metadata[key]=value`, where a bracket would change the key's meaning.
pub(crate) fn check_metadata(metadata: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if metadata.len() > MAX_METADATA_KEYS {
        return Err(invalid(
            "metadata",
            format!("metadata may have at most {MAX_METADATA_KEYS} keys."),
        ));
    }
    for (key, value) in metadata {
        if key.is_empty()
            || key.chars().count() > MAX_METADATA_KEY_CHARS
            || key.contains(['[', ']'])
        {
            return Err(invalid(
                "metadata",
                format!(
                    "metadata key {key:?} must be 1 to {MAX_METADATA_KEY_CHARS} characters, without '[' or ']'."
                ),
            ));
        }
        if value.chars().count() > MAX_METADATA_VALUE_CHARS {
            return Err(invalid(
                "metadata",
                format!(
                    "metadata value for {key:?} must be at most {MAX_METADATA_VALUE_CHARS} characters."
                ),
            ));
        }
    }
    Ok(())
}

/// `POST /v1/merchants` (admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateMerchant {
    pub name: String,
    /// ISO 3166-1 alpha-2, uppercase ("CH").
    pub country: String,
    pub default_currency: String,
}

impl CreateMerchant {
    /// Returns the parsed default currency.
    pub fn validate(&self) -> Result<Currency, ApiError> {
        check_name("name", &self.name)?;
        if !(self.country.len() == 2 && self.country.bytes().all(|b| b.is_ascii_uppercase())) {
            return Err(invalid(
                "country",
                "country must be a two-letter uppercase ISO 3166-1 code, such as \"CH\".",
            ));
        }
        Currency::parse(&self.default_currency)
            .map_err(|_| invalid_currency("default_currency", &self.default_currency))
    }
}

/// `PATCH /v1/merchants/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateMerchant {
    #[serde(default)]
    pub allowed_origins: Option<Vec<String>>,
    #[serde(default)]
    pub name: Option<String>,
}

/// `PATCH /v1/merchants/{id}` (admin): the platform's terms for one merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminUpdateMerchant {
    /// Per transaction, in the transaction's currency: `"0.50"`, from the next
    /// transaction on.
    #[serde(default)]
    pub platform_fee: Option<String>,
}

/// The largest per-transaction fee the admin may set.
pub const MAX_PLATFORM_FEE: &str = "100.00";

impl AdminUpdateMerchant {
    /// The fee, checked: a plain decimal from 0 to 100.00 with at most two places
    /// (rounded to each currency's own places when a charge is made).
    pub fn validate(&self) -> Result<Option<rust_decimal::Decimal>, ApiError> {
        let Some(fee) = &self.platform_fee else {
            return Ok(None);
        };
        let bad = || {
            invalid(
                "platform_fee",
                format!("platform_fee must be a decimal string from 0.00 to {MAX_PLATFORM_FEE} with at most two decimal places, like \"0.50\"."),
            )
        };
        let plain = !fee.is_empty()
            && fee.len() <= 8
            && fee.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && fee.matches('.').count() <= 1
            && !fee.starts_with('.')
            && !fee.ends_with('.');
        if !plain {
            return Err(bad());
        }
        let d = rust_decimal::Decimal::from_str_exact(fee).map_err(|_| bad())?;
        let max = rust_decimal::Decimal::from_str_exact(MAX_PLATFORM_FEE).expect("a decimal");
        if d.scale() > 2 || d > max {
            return Err(bad());
        }
        Ok(Some(d))
    }
}

impl UpdateMerchant {
    pub fn validate(&self) -> Result<(), ApiError> {
        if let Some(name) = &self.name {
            check_name("name", name)?;
        }
        if let Some(origins) = &self.allowed_origins {
            if origins.len() > MAX_ALLOWED_ORIGINS {
                return Err(invalid(
                    "allowed_origins",
                    format!("allowed_origins may list at most {MAX_ALLOWED_ORIGINS} origins."),
                ));
            }
            let mut seen = BTreeSet::new();
            for origin in origins {
                check_origin(origin).map_err(|why| {
                    invalid(
                        "allowed_origins",
                        format!("{origin:?} is not an origin: {why}"),
                    )
                })?;
                if !seen.insert(origin) {
                    return Err(invalid(
                        "allowed_origins",
                        format!("{origin:?} is listed twice."),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// An origin exactly as a browser sends it in `Origin`, since CORS compares the
/// strings: `http[s]://host[:port]`, lowercase, no path or trailing slash, no
/// default port (browsers omit it), no wildcard. IPv6 literals are not supported.
fn check_origin(origin: &str) -> Result<(), &'static str> {
    const FORM: &str = "write it as scheme://host[:port], such as \"https://shop.example\".";
    let (scheme, rest) = origin.split_once("://").ok_or(FORM)?;
    if scheme != "http" && scheme != "https" {
        return Err("the scheme must be http or https, in lowercase.");
    }
    if rest.contains('/') {
        return Err("an origin has no path, not even a trailing slash.");
    }
    let (host, port) = match rest.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err("write the host in lowercase, as browsers send it.");
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
        return Err("the host may hold only letters, digits, '-' and '.' (no wildcard).");
    }
    if let Some(port) = port {
        let n: u16 = port
            .parse()
            .ok()
            .filter(|n| *n > 0 && !port.starts_with('0'))
            .ok_or("the port must be a number from 1 to 65535.")?;
        if (scheme, n) == ("https", 443) || (scheme, n) == ("http", 80) {
            return Err("leave out the default port: browsers never send it.");
        }
    }
    Ok(())
}

/// What the widget must do next (`next_action.type`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NextAction {
    /// Complete the challenge with the provider's hosted script.
    #[serde(rename = "three_d_secure")]
    ThreeDSecure { provider_client_secret: String },
    /// Send the customer to the provider's hosted page.
    Redirect { url: String },
    /// Cashcloud: poll the intent until it leaves `processing`, until `expires_at`.
    AwaitWalletApproval { expires_at: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    pub code: String,
    pub message: String,
}

/// The intent as API.md lists its fields; amounts are strings with the currency's
/// fraction digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    pub client_secret: String,
    pub status: IntentStatus,
    pub amount: String,
    pub currency: Currency,
    pub amount_capturable: String,
    pub amount_received: String,
    pub amount_refunded: String,
    pub platform_fee: String,
    /// What the provider kept, once it is known (Cashcloud's fee schedule); absent
    /// where the provider does not report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_fee: Option<String>,
    /// What the merchant keeps: received, less refunds carried out and the fees
    /// charged so far (signed: a refunded payment's fees make it negative).
    #[serde(default)]
    pub net: String,
    pub provider: Provider,
    pub provider_reference: Option<String>,
    pub capture_method: CaptureMethod,
    pub next_action: Option<NextAction>,
    pub last_error: Option<LastError>,
    pub created: i64,
    pub livemode: bool,
}

/// What the Worker stores about an intent besides its [`IntentState`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentRecord {
    pub id: String,
    pub client_secret: String,
    pub provider: Provider,
    pub provider_reference: Option<String>,
    /// From `fees::platform_fee`, in the intent's currency.
    pub platform_fee: Money,
    pub next_action: Option<NextAction>,
    pub created: i64,
    pub livemode: bool,
}

/// `last_error.code` for a failed attempt: the state keeps only the reason text.
pub const PAYMENT_FAILED: &str = "payment_failed";

impl PaymentIntent {
    /// The response body for an intent. `next_action` is shown only while the
    /// customer can act on it (`requires_action`, `processing`), so a stored action
    /// never outlives its moment.
    pub fn from_state(record: &IntentRecord, state: &IntentState) -> PaymentIntent {
        debug_assert_eq!(record.platform_fee.currency(), state.amount.currency());
        let next_action = match state.status {
            IntentStatus::RequiresAction | IntentStatus::Processing => record.next_action.clone(),
            IntentStatus::RequiresPaymentMethod
            | IntentStatus::RequiresCapture
            | IntentStatus::Succeeded
            | IntentStatus::Canceled => None,
        };
        PaymentIntent {
            id: record.id.clone(),
            client_secret: record.client_secret.clone(),
            status: state.status,
            amount: state.amount.to_amount_string(),
            currency: state.amount.currency(),
            amount_capturable: state.amount_capturable.to_amount_string(),
            amount_received: state.amount_received.to_amount_string(),
            amount_refunded: state.amount_refunded.to_amount_string(),
            platform_fee: record.platform_fee.to_amount_string(),
            provider_fee: None,
            net: state.amount_received.to_amount_string(),
            provider: record.provider,
            provider_reference: record.provider_reference.clone(),
            capture_method: state.capture_method,
            next_action,
            last_error: state.last_error.as_ref().map(|reason| LastError {
                code: PAYMENT_FAILED.to_owned(),
                message: reason.clone(),
            }),
            created: record.created,
            livemode: record.livemode,
        }
    }
}

/// `GET /v1/merchants/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merchant {
    pub id: String,
    pub name: String,
    pub country: String,
    pub default_currency: Currency,
    /// Major units of the charge currency per transaction, e.g. "0.50"
    /// (`fees::DEFAULT_PLATFORM_FEE.to_string()`).
    pub platform_fee: String,
    pub allowed_origins: Vec<String>,
    pub created: i64,
    pub livemode: bool,
}

/// `POST /v1/merchants` → the only time the secret key is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedMerchant {
    pub id: String,
    pub secret_key: String,
    pub publishable_key: String,
}

/// The `object` of a list: always `"list"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ListObject {
    #[default]
    #[serde(rename = "list")]
    List,
}

/// `{"object": "list", "data": [...], "has_more": bool}`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct List<T> {
    pub object: ListObject,
    pub data: Vec<T>,
    pub has_more: bool,
}

impl<T> List<T> {
    pub fn new(data: Vec<T>, has_more: bool) -> List<T> {
        List {
            object: ListObject::List,
            data,
            has_more,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn confirm_capture_refund_bodies_round_trip_and_refuse_unknown_fields() {
        let c = ConfirmRequest {
            client_secret: Some("pi_1_secret_2".into()),
            payment_method: Some("pm_1".into()),
            ..ConfirmRequest::default()
        };
        let json = serde_json::to_string(&c).unwrap();
        // What the widget sends carries only the fields it has.
        assert_eq!(
            json,
            r#"{"client_secret":"pi_1_secret_2","payment_method":"pm_1"}"#
        );
        assert_eq!(serde_json::from_str::<ConfirmRequest>(&json).unwrap(), c);
        assert!(serde_json::from_str::<ConfirmRequest>(r#"{"card_number":"4242"}"#).is_err());
        assert!(serde_json::from_str::<CaptureRequest>(r#"{"amount":"1.00","x":1}"#).is_err());
        assert_eq!(
            serde_json::from_str::<CaptureRequest>("{}").unwrap(),
            CaptureRequest::default()
        );
        let r: CreateRefund = serde_json::from_str(r#"{"payment_intent":"pi_1"}"#).unwrap();
        assert_eq!(r.amount, None);
        assert!(serde_json::from_str::<CreateRefund>(r#"{"amount":"1.00"}"#).is_err());
        for s in RefundStatus::ALL {
            assert_eq!(serde_json::to_string(s).unwrap(), format!("\"{s}\""));
            assert_eq!(s.as_str().parse::<RefundStatus>(), Ok(*s));
        }
    }

    use super::*;

    #[test]
    fn the_csv_has_one_line_per_row_with_signed_net() {
        use crate::ledger::EntryKind;
        let row = |kind, amount: &str, net: &str, refund: Option<&str>| BalanceTransaction {
            id: "txn_1".into(),
            object: BalanceTransactionObject::BalanceTransaction,
            kind,
            amount: amount.into(),
            net: net.into(),
            currency: crate::money::Currency::from_str("CHF").unwrap(),
            payment_intent: "pi_1".into(),
            refund: refund.map(str::to_owned),
            created: 1_796_279_158,
        };
        let csv = balance_transactions_csv(&[
            row(EntryKind::Captured, "247.35", "247.35", None),
            row(
                EntryKind::RefundSucceeded,
                "47.35",
                "-47.35",
                Some("re_\"x,y"),
            ),
        ]);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "id,created_utc,type,amount,net,currency,payment_intent,refund"
        );
        assert_eq!(
            lines[1],
            "txn_1,2026-12-03T06:25:58Z,captured,247.35,247.35,CHF,pi_1,"
        );
        assert_eq!(
            lines[2],
            "txn_1,2026-12-03T06:25:58Z,refund_succeeded,47.35,-47.35,CHF,pi_1,\"re_\"\"x,y\""
        );
        assert_eq!(lines[3], "");
    }

    #[test]
    fn admin_platform_fee() {
        let v = |f: &str| {
            AdminUpdateMerchant {
                platform_fee: Some(f.to_owned()),
            }
            .validate()
        };
        assert_eq!(v("0.50").unwrap().unwrap().to_string(), "0.50");
        assert_eq!(v("0").unwrap().unwrap().to_string(), "0");
        assert_eq!(v("100.00").unwrap().unwrap().to_string(), "100.00");
        for bad in [
            "-0.50", "0.505", "100.01", "", ".5", "5.", "1e2", " 0.5", "0,50", "NaN", "1.2.3",
        ] {
            assert!(v(bad).is_err(), "{bad}");
        }
        assert_eq!(
            AdminUpdateMerchant { platform_fee: None }
                .validate()
                .unwrap(),
            None
        );
    }
    use crate::intent::{apply, IntentEvent, ProviderEvent, Transition};
    use serde_json::{json, Value};

    fn create_body() -> Value {
        json!({"amount": "12.50", "currency": "CHF", "provider": "stripe"})
    }

    fn create(body: Value) -> Result<NewPaymentIntent, ApiError> {
        serde_json::from_value::<CreatePaymentIntent>(body)
            .expect("parses")
            .validate()
    }

    fn err(body: Value) -> (u16, String, Option<String>) {
        let e = create(body).unwrap_err();
        (e.status, e.code, e.param)
    }

    #[test]
    fn create_payment_intent_defaults_and_validates() {
        let ok = create(create_body()).unwrap();
        assert_eq!(ok.amount.to_minor_units(), 1250);
        assert_eq!(ok.amount.currency(), Currency::CHF);
        assert_eq!(ok.capture_method, CaptureMethod::Automatic);
        assert!(ok.metadata.is_empty());

        let mut body = create_body();
        body["capture_method"] = json!("manual");
        body["metadata"] = json!({"order": "42"});
        body["description"] = json!("Room 12, minibar");
        let ok = create(body).unwrap();
        assert_eq!(ok.capture_method, CaptureMethod::Manual);
        assert_eq!(ok.metadata["order"], "42");
    }

    #[test]
    fn create_payment_intent_errors() {
        let bad = |field: &str, value: Value| {
            let mut body = create_body();
            body[field] = value;
            err(body)
        };
        let p = |s: &str| Some(s.to_owned());
        assert_eq!(
            bad("currency", json!("chf")),
            (400, "invalid_currency".into(), p("currency"))
        );
        assert_eq!(
            bad("currency", json!("XXX")),
            (400, "invalid_currency".into(), p("currency"))
        );
        assert_eq!(
            bad("amount", json!("12.345")),
            (400, "invalid_amount".into(), p("amount"))
        );
        assert_eq!(
            bad("amount", json!("0")),
            (400, "invalid_amount".into(), p("amount"))
        );
        assert_eq!(
            bad("amount", json!("-5")),
            (400, "invalid_amount".into(), p("amount"))
        );
        assert_eq!(
            bad("description", json!("x".repeat(1001))),
            (400, "parameter_invalid".into(), p("description"))
        );
        assert!(create({
            let mut b = create_body();
            b["description"] = json!("é".repeat(1000));
            b
        })
        .is_ok());
        assert_eq!(
            bad("customer", json!("acct_1")),
            (400, "parameter_invalid".into(), p("customer"))
        );
        let many: BTreeMap<String, String> =
            (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
        assert_eq!(
            bad("metadata", json!(many)),
            (400, "parameter_invalid".into(), p("metadata"))
        );
        for m in [
            json!({"k".repeat(41): "v"}),
            json!({"": "v"}),
            json!({"a[b]": "v"}),
            json!({"k": "v".repeat(501)}),
        ] {
            assert_eq!(
                bad("metadata", m),
                (400, "parameter_invalid".into(), p("metadata"))
            );
        }
        // Saved cards: Stripe with a customer only.
        let mut body = create_body();
        body["setup_future_usage"] = json!("off_session");
        assert_eq!(err(body.clone()).2, p("setup_future_usage"));
        body["customer"] = json!("cus_123");
        assert!(create(body.clone()).is_ok());
        body["provider"] = json!("cashcloud");
        body["currency"] = json!("EUR");
        assert_eq!(err(body).2, p("setup_future_usage"));
    }

    #[test]
    fn requests_refuse_unknown_fields_and_floats() {
        let mut body = create_body();
        body["amount_cents"] = json!(1250);
        assert!(serde_json::from_value::<CreatePaymentIntent>(body).is_err());
        let mut body = create_body();
        body["amount"] = json!(12.5);
        assert!(serde_json::from_value::<CreatePaymentIntent>(body).is_err());
        let mut body = create_body();
        body["provider"] = json!("paypal");
        assert!(serde_json::from_value::<CreatePaymentIntent>(body).is_err());
        assert!(serde_json::from_value::<CreateMerchant>(
            json!({"name": "Shop", "country": "CH", "default_currency": "CHF", "platform_fee": "0"})
        )
        .is_err());
        assert!(serde_json::from_value::<UpdateMerchant>(json!({"livemode": true})).is_err());
        assert!(serde_json::from_value::<UpdateMerchant>(json!({})).is_ok());
    }

    #[test]
    fn create_merchant_validation() {
        let m = |name: &str, country: &str, cur: &str| CreateMerchant {
            name: name.into(),
            country: country.into(),
            default_currency: cur.into(),
        };
        assert_eq!(m("Hotel Alpina", "CH", "CHF").validate(), Ok(Currency::CHF));
        let param = |c: CreateMerchant| c.validate().unwrap_err().param.unwrap();
        assert_eq!(param(m("  ", "CH", "CHF")), "name");
        assert_eq!(param(m("Shop", "ch", "CHF")), "country");
        assert_eq!(param(m("Shop", "CHE", "CHF")), "country");
        assert_eq!(param(m("Shop", "CH", "chf")), "default_currency");
        assert_eq!(
            m("Shop", "CH", "ABC").validate().unwrap_err().code,
            "invalid_currency"
        );
    }

    #[test]
    fn allowed_origins_are_exact_browser_origins() {
        let check = |origins: &[&str]| {
            UpdateMerchant {
                allowed_origins: Some(origins.iter().map(|s| s.to_string()).collect()),
                name: None,
            }
            .validate()
        };
        assert_eq!(
            check(&[
                "https://shop.example",
                "http://localhost:8787",
                "http://127.0.0.1:3000",
                "https://xn--bcher-kva.example"
            ]),
            Ok(())
        );
        for bad in [
            "https://shop.example/",
            "https://shop.example/checkout",
            "shop.example",
            "ftp://shop.example",
            "HTTPS://shop.example",
            "https://Shop.example",
            "https://*.shop.example",
            "https://user@shop.example",
            "https://shop.example:443",
            "http://shop.example:80",
            "https://shop.example:0",
            "https://shop.example:65536",
            "https://shop.example:",
            "https://",
            "https://shop..example",
            "https://-shop.example",
            "https://shop.example?x=1",
            " https://shop.example",
        ] {
            let e = check(&[bad]).unwrap_err();
            assert_eq!(
                (e.status, e.param.as_deref()),
                (400, Some("allowed_origins")),
                "{bad}"
            );
        }
        assert!(check(&["https://a.example", "https://a.example"]).is_err());
        let twenty: Vec<String> = (0..20).map(|i| format!("https://s{i}.example")).collect();
        let refs: Vec<&str> = twenty.iter().map(String::as_str).collect();
        assert_eq!(check(&refs), Ok(()));
        let mut more = refs.clone();
        more.push("https://s20.example");
        assert!(check(&more).is_err());
        let rename = UpdateMerchant {
            allowed_origins: None,
            name: Some("\n".into()),
        };
        assert_eq!(
            rename.validate().unwrap_err().param.as_deref(),
            Some("name")
        );
    }

    fn record(next_action: Option<NextAction>) -> IntentRecord {
        IntentRecord {
            id: "pi_123".into(),
            client_secret: "pi_123_secret_abc".into(),
            provider: Provider::Cashcloud,
            provider_reference: Some("hash123".into()),
            platform_fee: Money::parse("0.50", Currency::EUR).unwrap(),
            next_action,
            created: 1_700_000_000,
            livemode: false,
        }
    }

    #[test]
    fn payment_intent_has_exactly_the_contract_fields() {
        let state = IntentState::new(
            Money::parse("12.5", Currency::EUR).unwrap(),
            CaptureMethod::Automatic,
        );
        let pi = PaymentIntent::from_state(&record(None), &state);
        let v = serde_json::to_value(&pi).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = vec![
            "id",
            "client_secret",
            "status",
            "amount",
            "currency",
            "amount_capturable",
            "amount_received",
            "amount_refunded",
            "platform_fee",
            // Extensions (API.md lets the contract grow): what the merchant keeps;
            // `provider_fee` only once the provider's fee is known.
            "net",
            "provider",
            "provider_reference",
            "capture_method",
            "next_action",
            "last_error",
            "created",
            "livemode",
        ];
        want.sort();
        assert_eq!(keys, want);
        assert_eq!(v["amount"], "12.50");
        assert_eq!(v["amount_received"], "0.00");
        assert_eq!(v["platform_fee"], "0.50");
        assert_eq!(v["currency"], "EUR");
        assert_eq!(v["status"], "requires_payment_method");
        assert_eq!(v["provider"], "cashcloud");
        assert_eq!(v["capture_method"], "automatic");
        assert_eq!(v["next_action"], Value::Null);
        assert_eq!(v["created"], 1_700_000_000);
    }

    #[test]
    fn payment_intent_round_trips_and_shows_next_action_only_when_actionable() {
        let mut state = IntentState::new(
            Money::parse("5", Currency::EUR).unwrap(),
            CaptureMethod::Automatic,
        );
        let wallet = NextAction::AwaitWalletApproval {
            expires_at: 1_700_000_600,
        };
        state = apply(
            &state,
            &ProviderEvent {
                at: 1,
                event: IntentEvent::Processing,
            },
        )
        .applied()
        .unwrap();
        let pi = PaymentIntent::from_state(&record(Some(wallet.clone())), &state);
        assert_eq!(pi.next_action, Some(wallet.clone()));
        let json = serde_json::to_string(&pi).unwrap();
        assert!(
            json.contains(
                r#""next_action":{"type":"await_wallet_approval","expires_at":1700000600}"#
            ),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<PaymentIntent>(&json).unwrap(), pi);

        let failed = apply(
            &state,
            &ProviderEvent {
                at: 2,
                event: IntentEvent::Failed {
                    reason: "The customer declined in the app.".into(),
                },
            },
        );
        let Transition::Applied(failed) = failed else {
            panic!("{failed:?}")
        };
        let pi = PaymentIntent::from_state(&record(Some(wallet)), &failed);
        assert_eq!(pi.next_action, None);
        assert_eq!(
            pi.last_error,
            Some(LastError {
                code: PAYMENT_FAILED.into(),
                message: "The customer declined in the app.".into()
            })
        );
        let json = serde_json::to_string(&pi).unwrap();
        assert_eq!(serde_json::from_str::<PaymentIntent>(&json).unwrap(), pi);
        // A newer Worker may add fields; the widget keeps reading.
        let mut v: Value = serde_json::from_str(&json).unwrap();
        v["object"] = json!("payment_intent");
        assert_eq!(serde_json::from_value::<PaymentIntent>(v).unwrap(), pi);
    }

    #[test]
    fn next_action_wire_shapes() {
        let cases = [
            (
                NextAction::ThreeDSecure {
                    provider_client_secret: "pi_x_secret_y".into(),
                },
                json!({"type": "three_d_secure", "provider_client_secret": "pi_x_secret_y"}),
            ),
            (
                NextAction::Redirect {
                    url: "https://hpp.worldpay.example/p/1".into(),
                },
                json!({"type": "redirect", "url": "https://hpp.worldpay.example/p/1"}),
            ),
            (
                NextAction::AwaitWalletApproval { expires_at: 5 },
                json!({"type": "await_wallet_approval", "expires_at": 5}),
            ),
        ];
        for (action, wire) in cases {
            assert_eq!(serde_json::to_value(&action).unwrap(), wire);
            assert_eq!(serde_json::from_value::<NextAction>(wire).unwrap(), action);
        }
    }

    #[test]
    fn merchant_list_and_created_round_trip() {
        let merchant = Merchant {
            id: "acct_1".into(),
            name: "Hotel Alpina".into(),
            country: "CH".into(),
            default_currency: Currency::CHF,
            platform_fee: crate::fees::DEFAULT_PLATFORM_FEE.to_string(),
            allowed_origins: vec!["https://alpina.example".into()],
            created: 1_700_000_000,
            livemode: false,
        };
        let list = List::new(vec![merchant.clone()], true);
        let v = serde_json::to_value(&list).unwrap();
        assert_eq!(v["object"], "list");
        assert_eq!(v["has_more"], true);
        assert_eq!(v["data"][0]["platform_fee"], "0.50");
        assert_eq!(v["data"][0]["default_currency"], "CHF");
        assert_eq!(serde_json::from_value::<List<Merchant>>(v).unwrap(), list);
        assert!(serde_json::from_value::<List<Merchant>>(
            json!({"object": "merchant", "data": [], "has_more": false})
        )
        .is_err());

        let created = CreatedMerchant {
            id: "acct_1".into(),
            secret_key: "sk_test_abc".into(),
            publishable_key: "pk_test_abc".into(),
        };
        let json = serde_json::to_string(&created).unwrap();
        assert_eq!(
            serde_json::from_str::<CreatedMerchant>(&json).unwrap(),
            created
        );

        let req = CreatePaymentIntent {
            amount: "1.000".into(),
            currency: "KWD".into(),
            provider: Provider::Worldpay,
            capture_method: Some(CaptureMethod::Manual),
            description: None,
            order_reference: Some("SO-1".into()),
            customer: None,
            setup_future_usage: None,
            metadata: None,
        };
        let json = serde_json::to_string(&req).unwrap();
        assert_eq!(
            serde_json::from_str::<CreatePaymentIntent>(&json).unwrap(),
            req
        );
    }
}

/// `POST /v1/payment_intents/{id}/confirm`: the fields of the intent's provider
/// (stripe `payment_method` from the hosted field and maybe `return_url`; worldpay
/// `return_url`; cashcloud `cashcloud_username`), and the widget's `client_secret`.
/// Unknown fields are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cashcloud_username: Option<String>,
    /// Server side, with the secret key: charge the intent's customer's saved card
    /// (`payment_method`) without the customer present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub off_session: Option<bool>,
}

/// `POST /v1/payment_intents/{id}/capture`: all that is authorised, or `amount` of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
}

/// `POST /v1/refunds`: all that is left to refund, or `amount` of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRefund {
    pub payment_intent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Asked of the provider; its outcome is not known yet. Its amount is held.
    Pending,
    Succeeded,
    /// The provider refused it: the amount is refundable again.
    Failed,
    Canceled,
}

crate::wire_names!(RefundStatus, "refund status", {
    Pending => "pending",
    Succeeded => "succeeded",
    Failed => "failed",
    Canceled => "canceled",
});

/// The `object` of a refund: always `"refund"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RefundObject {
    #[default]
    #[serde(rename = "refund")]
    Refund,
}

/// A refund as API.md shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    pub object: RefundObject,
    pub payment_intent: String,
    pub amount: String,
    pub currency: Currency,
    pub status: RefundStatus,
    pub created: i64,
}

/// One ledger row as a merchant reads it (`GET /v1/balance_transactions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceTransaction {
    pub id: String,
    pub object: BalanceTransactionObject,
    #[serde(rename = "type")]
    pub kind: crate::ledger::EntryKind,
    /// Always positive; `type` says which way it goes.
    pub amount: String,
    /// The effect on the merchant's balance: `amount` with its sign, or zero for
    /// holds and open claims (see `EntryKind::balance_sign`).
    pub net: String,
    pub currency: Currency,
    pub payment_intent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<String>,
    pub created: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum BalanceTransactionObject {
    #[default]
    #[serde(rename = "balance_transaction")]
    BalanceTransaction,
}

/// The ledger as a merchant downloads it (`Accept: text/csv`): one line per row,
/// times in UTC (ISO 8601), amounts as decimal strings, `net` signed.
pub fn balance_transactions_csv(rows: &[BalanceTransaction]) -> String {
    let mut out = String::from("id,created_utc,type,amount,net,currency,payment_intent,refund\r\n");
    for r in rows {
        let fields = [
            r.id.as_str(),
            &crate::ledger::utc_timestamp(r.created),
            r.kind.as_str(),
            &r.amount,
            &r.net,
            r.currency.code(),
            &r.payment_intent,
            r.refund.as_deref().unwrap_or(""),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// RFC 4180 quoting where a field needs it.
fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_owned()
    }
}

/// `POST /v1/webhook_endpoints`: where to send which events (none listed: all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpoint {
    pub url: String,
    #[serde(default)]
    pub enabled_events: Vec<String>,
}

/// A merchant's webhook endpoint. `secret` only in the answers that create or roll
/// it: it is shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub object: WebhookEndpointObject,
    pub url: String,
    pub enabled_events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Until when (unix seconds) the previous secret still signs beside the new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires: Option<i64>,
    pub livemode: bool,
    pub created: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum WebhookEndpointObject {
    #[default]
    #[serde(rename = "webhook_endpoint")]
    WebhookEndpoint,
}

/// One try at delivering an event (`GET /v1/events/{id}/deliveries`, an extension):
/// times are on the merchant object's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub webhook_endpoint: String,
    pub attempt: i64,
    pub attempted_at: i64,
    /// The endpoint's HTTP status; none when it did not answer.
    pub status_code: Option<i64>,
    pub error: Option<String>,
    /// When the next try is due; none once delivered or given up.
    pub next_attempt_at: Option<i64>,
}

/// `GET /v1/payment_intents/{id}/checkout` (an extension for the widget): the intent
/// and what the widget needs to start the provider's hosted fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkout {
    pub payment_intent: PaymentIntent,
    pub provider: ProviderSetup,
}

/// The provider's browser-side set-up. Nothing here is secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProviderSetup {
    Stripe {
        /// Stripe.js: `https://js.stripe.com/v3/` in production, a stand-in locally.
        js_url: String,
        publishable_key: String,
        /// `stripeAccount` for Stripe.js, when the intent lives on a connected account.
        account: Option<String>,
    },
    Worldpay,
    Cashcloud,
}
