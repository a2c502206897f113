//! Request builders: our values in, one [`HttpRequest`] out. Bodies are form fields
//! (`application/x-www-form-urlencoded`, through the shared [`Form`]);
//! paths start with `/` and the Worker prepends the configured base URL
//! (`https://merchant-api.cashcloud.com`, trailing slash trimmed).
//!
//! Cashcloud has no idempotency keys: a `POST request` sent twice asks the customer
//! twice. The Worker therefore records the returned hash before anything else and
//! never resends a request whose outcome it does not know; it asks
//! [`transaction`] instead.
//!
//! That needs the hash. No way to find a request or refund by *our* reference
//! (`extern.id`, `extern.reference`) is known: PROVIDERS.md names only
//! `GET transactions?hash=`, so no builder for such a lookup exists here. A
//! `POST request` or `POST refund` whose answer was lost (no hash) stays unknown
//! until Cashcloud's callback names it (its `hash`, then re-checked with
//! [`transaction`]) or the request expires; it is never sent again meanwhile.

use crate::http::{Form, HttpRequest};
use crate::money::Money;

use super::auth::Auth;
use super::{BuildError, CURRENCY_ID_EUR};

/// Longest wallet username we pass on (an email address is at most 254).
const MAX_USERNAME: usize = 254;
const MAX_FIELD: usize = 1000;

/// `POST /salt` (`username`, `device_id`) → `{"salt"}`; no `Authorization`.
pub fn salt(username: &str, device_id: &str) -> HttpRequest {
    let mut form = Form::new();
    form.push("username", username).push("device_id", device_id);
    HttpRequest::post_form("/salt", Vec::new(), &form)
}

/// `POST /request`: asks `customer_username`'s wallet for `amount` (EUR only, sent
/// in cents with `currency_id=1`). `extern_id` is our intent id and
/// `extern_reference` the merchant's order reference (omitted when there is none),
/// so Cashcloud's own records name our objects. → `{hash}`.
pub fn money_request(
    auth: &Auth,
    customer_username: &str,
    amount: &Money,
    remark: &str,
    extern_id: &str,
    extern_reference: Option<&str>,
) -> Result<HttpRequest, BuildError> {
    let username = customer_username.trim();
    if username.is_empty()
        || username.chars().count() > MAX_USERNAME
        || username.chars().any(char::is_control)
    {
        return Err(BuildError::InvalidUsername);
    }
    let cents = eur_cents(amount)?;
    check_field("remark", remark, true)?;
    check_field("extern.id", extern_id, false)?;
    let mut form = Form::new();
    form.push("email", username)
        .push("amount", cents.to_string())
        .push("currency_id", CURRENCY_ID_EUR.to_string())
        .push("remark", remark)
        .push("extern.id", extern_id);
    if let Some(reference) = extern_reference {
        check_field("extern.reference", reference, false)?;
        form.push("extern.reference", reference);
    }
    Ok(post(auth, "/request", &form))
}

/// `POST /refund` (`hash` of the payment, `amount` in cents; partial refunds
/// allowed). The customer accepts a refund in the app too, so its outcome arrives
/// later: see [`super::events::refund_outcome`].
pub fn refund(auth: &Auth, hash: &str, amount: &Money) -> Result<HttpRequest, BuildError> {
    check_hash(hash)?;
    let cents = eur_cents(amount)?;
    let mut form = Form::new();
    form.push("hash", hash).push("amount", cents.to_string());
    Ok(post(auth, "/refund", &form))
}

/// `GET /transactions?hash=…`: the transaction as it stands. The only source of
/// truth: callbacks are re-checked with it before anything changes.
pub fn transaction(auth: &Auth, hash: &str) -> Result<HttpRequest, BuildError> {
    check_hash(hash)?;
    let mut query = Form::new();
    query.push("hash", hash);
    Ok(get(auth, format!("/transactions?{}", query.encode())))
}

/// `POST /settings` (`callback_url`, `request_expiration` in seconds): where
/// Cashcloud posts callbacks, and how long a customer has to approve.
pub fn settings(
    auth: &Auth,
    callback_url: &str,
    request_expiration_seconds: u32,
) -> Result<HttpRequest, BuildError> {
    check_field("callback_url", callback_url, false)?;
    if !(callback_url.starts_with("https://") || callback_url.starts_with("http://")) {
        return Err(BuildError::InvalidField {
            field: "callback_url",
        });
    }
    if request_expiration_seconds == 0 {
        return Err(BuildError::InvalidField {
            field: "request_expiration",
        });
    }
    let mut form = Form::new();
    form.push("callback_url", callback_url)
        .push("request_expiration", request_expiration_seconds.to_string());
    Ok(post(auth, "/settings", &form))
}

/// `GET /currency-rate?amount=…&currency=…`: what `amount` is in EUR, to quote it
/// when Cashcloud refuses the currency (API.md;
/// [`crate::fees::LimitError::with_eur_equivalent`]). PROVIDERS.md pins only
/// `amount`; we send it as a decimal in the currency's major units with the
/// currency's own fraction digits (`12.50`, `500` JPY), plus `currency` (ISO code),
/// since an amount without its currency cannot be converted (the local stand-in
/// reads the same two fields).
pub fn currency_rate(auth: &Auth, amount: &Money) -> HttpRequest {
    let mut query = Form::new();
    query
        .push("amount", amount.to_amount_string())
        .push("currency", amount.currency().code());
    get(auth, format!("/currency-rate?{}", query.encode()))
}

/// EUR cents above zero; any other currency is refused as the limit check would.
fn eur_cents(amount: &Money) -> Result<i64, BuildError> {
    crate::fees::cashcloud_currency(amount).map_err(BuildError::Limit)?;
    if amount.is_zero() {
        return Err(BuildError::ZeroAmount);
    }
    Ok(amount.to_minor_units())
}

/// Transaction hashes come from Cashcloud and are form-encoded, so any text is safe
/// on the wire; an empty or absurd one means our stored data is wrong.
fn check_hash(hash: &str) -> Result<(), BuildError> {
    if hash.is_empty() || hash.len() > 255 || hash.chars().any(|c| c.is_control() || c == ' ') {
        return Err(BuildError::InvalidHash);
    }
    Ok(())
}

fn check_field(field: &'static str, value: &str, may_be_empty: bool) -> Result<(), BuildError> {
    let bad = (!may_be_empty && value.trim().is_empty())
        || value.chars().count() > MAX_FIELD
        || value.chars().any(char::is_control);
    if bad {
        Err(BuildError::InvalidField { field })
    } else {
        Ok(())
    }
}

fn authorization(auth: &Auth) -> (String, String) {
    // The one place the token leaves its `Secret`.
    (
        "Authorization".to_owned(),
        auth.header().expose().to_owned(),
    )
}

fn post(auth: &Auth, path: &str, form: &Form) -> HttpRequest {
    HttpRequest::post_form(path, vec![authorization(auth)], form)
}

fn get(auth: &Auth, path: String) -> HttpRequest {
    HttpRequest::get(path, vec![authorization(auth)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::tests::decode;
    use crate::money::Currency;
    use crate::secrets::Secret;

    const TOKEN: &str = "Token ZW1haWx8ZGV2SWR8M2E0ZmZhOTE3NWE2OTJjMWZmNWVkZDNkOTAyYzdkMDY=";

    fn auth() -> Auth {
        Auth::new("email", "devId", &Secret::new("pass"), "salt")
    }

    fn eur(s: &str) -> Money {
        Money::parse(s, Currency::EUR).unwrap()
    }

    fn fields(req: &HttpRequest) -> Vec<(String, String)> {
        decode(&req.body)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn salt_has_no_authorization() {
        let req = salt("shop@example.com", "devId");
        assert_eq!((req.method, req.path.as_str()), ("POST", "/salt"));
        assert_eq!(req.header("authorization"), None);
        assert_eq!(
            req.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            fields(&req),
            pairs(&[("username", "shop@example.com"), ("device_id", "devId")])
        );
        assert_eq!(req.body, "username=shop%40example.com&device_id=devId");
    }

    #[test]
    fn money_request_fields() {
        let req = money_request(
            &auth(),
            " anna@example.com ",
            &eur("12.50"),
            "Order SO-42 at Hotel Alpina",
            "pi_4f0Xb",
            Some("SO-42"),
        )
        .unwrap();
        assert_eq!((req.method, req.path.as_str()), ("POST", "/request"));
        assert_eq!(req.header("Authorization"), Some(TOKEN));
        assert_eq!(
            fields(&req),
            pairs(&[
                ("email", "anna@example.com"),
                ("amount", "1250"),
                ("currency_id", "1"),
                ("remark", "Order SO-42 at Hotel Alpina"),
                ("extern.id", "pi_4f0Xb"),
                ("extern.reference", "SO-42"),
            ])
        );
        assert!(!format!("{req:?}").contains("ZW1haWx8"));

        let no_ref =
            money_request(&auth(), "anna@example.com", &eur("0.20"), "", "pi_1", None).unwrap();
        assert_eq!(
            fields(&no_ref),
            pairs(&[
                ("email", "anna@example.com"),
                ("amount", "20"),
                ("currency_id", "1"),
                ("remark", ""),
                ("extern.id", "pi_1"),
            ])
        );
    }

    #[test]
    fn money_request_refusals() {
        let chf = Money::parse("12.50", Currency::CHF).unwrap();
        let build = |user: &str, amount: &Money, id: &str| {
            money_request(&auth(), user, amount, "remark", id, None)
        };
        assert!(matches!(
            build("a@example.com", &chf, "pi_1"),
            Err(BuildError::Limit(
                crate::fees::LimitError::CurrencyNotSupported {
                    currency: Currency::CHF,
                    ..
                }
            ))
        ));
        assert_eq!(
            build("a@example.com", &Money::zero(Currency::EUR), "pi_1"),
            Err(BuildError::ZeroAmount)
        );
        for user in ["", "   ", "a\n@example.com", &"a".repeat(255)] {
            assert_eq!(
                build(user, &eur("1.00"), "pi_1"),
                Err(BuildError::InvalidUsername),
                "{user:?}"
            );
        }
        assert_eq!(
            build("a@example.com", &eur("1.00"), ""),
            Err(BuildError::InvalidField { field: "extern.id" })
        );
        assert_eq!(
            money_request(&auth(), "a@x.io", &eur("1.00"), "a\tb", "pi_1", None),
            Err(BuildError::InvalidField { field: "remark" })
        );
        assert_eq!(
            money_request(&auth(), "a@x.io", &eur("1.00"), "", "pi_1", Some("")),
            Err(BuildError::InvalidField {
                field: "extern.reference"
            })
        );
    }

    #[test]
    fn refund_fields() {
        let req = refund(&auth(), "a1b2c3", &eur("5.05")).unwrap();
        assert_eq!((req.method, req.path.as_str()), ("POST", "/refund"));
        assert_eq!(req.header("Authorization"), Some(TOKEN));
        assert_eq!(
            fields(&req),
            pairs(&[("hash", "a1b2c3"), ("amount", "505")])
        );
        assert_eq!(
            refund(&auth(), "", &eur("1.00")),
            Err(BuildError::InvalidHash)
        );
        assert_eq!(
            refund(&auth(), "h", &Money::zero(Currency::EUR)),
            Err(BuildError::ZeroAmount)
        );
        assert!(matches!(
            refund(&auth(), "h", &Money::parse("1", Currency::JPY).unwrap()),
            Err(BuildError::Limit(_))
        ));
    }

    #[test]
    fn transaction_is_a_get_with_the_hash_encoded() {
        let req = transaction(&auth(), "a1b2c3").unwrap();
        assert_eq!(
            (req.method, req.path.as_str(), req.body.as_str()),
            ("GET", "/transactions?hash=a1b2c3", "")
        );
        assert_eq!(req.header("Authorization"), Some(TOKEN));
        assert_eq!(req.header("Content-Type"), None);
        let odd = transaction(&auth(), "a/b&c=d").unwrap();
        assert_eq!(odd.path, "/transactions?hash=a%2Fb%26c%3Dd");
        for bad in ["", "a b", "a\nb"] {
            assert_eq!(transaction(&auth(), bad), Err(BuildError::InvalidHash));
        }
        assert_eq!(
            transaction(&auth(), &"h".repeat(256)),
            Err(BuildError::InvalidHash)
        );
    }

    #[test]
    fn settings_fields() {
        let url = "https://checkout.example/v1/webhooks/cashcloud/acct_1";
        let req = settings(&auth(), url, 600).unwrap();
        assert_eq!((req.method, req.path.as_str()), ("POST", "/settings"));
        assert_eq!(
            fields(&req),
            pairs(&[("callback_url", url), ("request_expiration", "600")])
        );
        assert_eq!(
            settings(&auth(), "ftp://x", 600),
            Err(BuildError::InvalidField {
                field: "callback_url"
            })
        );
        assert_eq!(
            settings(&auth(), url, 0),
            Err(BuildError::InvalidField {
                field: "request_expiration"
            })
        );
    }

    #[test]
    fn currency_rate_query() {
        let chf = Money::parse("12.50", Currency::CHF).unwrap();
        let req = currency_rate(&auth(), &chf);
        assert_eq!(
            (req.method, req.path.as_str()),
            ("GET", "/currency-rate?amount=12.50&currency=CHF")
        );
        assert_eq!(req.header("Authorization"), Some(TOKEN));
        let jpy = Money::parse("500", Currency::JPY).unwrap();
        assert_eq!(
            currency_rate(&auth(), &jpy).path,
            "/currency-rate?amount=500&currency=JPY"
        );
        let kwd = Money::parse("1.5", Currency::KWD).unwrap();
        assert_eq!(
            currency_rate(&auth(), &kwd).path,
            "/currency-rate?amount=1.500&currency=KWD"
        );
    }
}
