//! Request builders: our values in, one [`HttpRequest`] out. Each POST carries an
//! `Idempotency-Key` from [`idempotency_key`], so resending the same description
//! after a timeout is always safe.

use crate::accounts::{StripeAccount, StripeMode};
use crate::intent::CaptureMethod;
use crate::money::Money;

use crate::http::{idempotency_key, Form, HttpRequest};

use super::{Auth, BuildError};

/// The metadata key under which Stripe objects carry our intent id, so webhooks
/// find their intent even before we stored Stripe's id.
pub const OUR_INTENT_ID: &str = "our_intent_id";
pub const OUR_REFUND_ID: &str = "our_refund_id";
pub const OUR_CUSTOMER_ID: &str = "our_customer_id";
pub const OUR_SETUP_INTENT_ID: &str = "our_setup_intent_id";
pub const OUR_MERCHANT_ID: &str = "our_merchant_id";

/// The form field that lets Stripe.js finish a server-side confirm in the page
/// (`stripe.handleNextAction`); every on-session confirm carries it as `true`.
pub const USE_STRIPE_SDK: &str = "use_stripe_sdk";

/// Where the money goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination<'a> {
    /// The merchant's own account; our platform fee is billed separately.
    Direct,
    /// A destination charge on the platform's key: the merchant's connected account
    /// gets the charge minus `application_fee`, our platform fee.
    Connect {
        account: &'a str,
        application_fee: Money,
    },
}

impl<'a> Destination<'a> {
    pub fn for_account(
        account: &'a StripeAccount,
        platform_fee: Money,
    ) -> Result<Destination<'a>, BuildError> {
        match account.mode {
            StripeMode::Direct => Ok(Destination::Direct),
            StripeMode::Connect => match account.connected_account_id.as_deref() {
                Some(id) => Ok(Destination::Connect {
                    account: id,
                    application_fee: platform_fee,
                }),
                None => Err(BuildError::MissingConnectedAccount),
            },
        }
    }
}

/// A payment to create at Stripe for one of our intents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge<'a> {
    pub our_intent_id: &'a str,
    pub amount: Money,
    pub capture_method: CaptureMethod,
    pub description: Option<&'a str>,
    pub destination: Destination<'a>,
    /// Stripe's customer the payment belongs to (saved cards, off-session charges).
    pub customer: Option<&'a str>,
    /// `setup_future_usage=off_session`: save the card to `customer` when it succeeds.
    pub save_card: bool,
}

/// `POST /v1/payment_intents` charging a saved card without the customer:
/// created and confirmed at once. If the bank insists on authentication Stripe
/// answers 402 `authentication_required` (see [`super::wire::parse_error`]).
/// No `use_stripe_sdk`: no page is open to finish an authentication, the customer
/// has to come back on-session instead.
pub fn charge_off_session(
    auth: &Auth,
    charge: &Charge,
    payment_method: &str,
    attempt: u32,
) -> Result<HttpRequest, BuildError> {
    check_id("pm_", payment_method)?;
    if charge.customer.is_none() {
        return Err(BuildError::InvalidId {
            expected_prefix: "cus_",
        });
    }
    let mut form = charge_form(charge)?;
    form.push("payment_method", payment_method)
        .push("off_session", "true")
        .push("confirm", "true");
    form.push_list("expand", FEE_EXPAND);
    // One key per attempt: a retry after a decline is a new try, a resend of the
    // same attempt (its answer was lost) is not.
    let key = idempotency_key(charge.our_intent_id, "charge_off_session", Some(attempt));
    Ok(post(auth, "/v1/payment_intents".to_owned(), &form, &key))
}

/// `POST /v1/payment_intents` with `confirm=true`: create and confirm an
/// on-session payment in one call, once the widget has its PaymentMethod. Carries
/// `use_stripe_sdk=true` like [`confirm_payment_intent`], so a 3DS card answers
/// `next_action.type = use_stripe_sdk` for Stripe.js to finish, and `return_url`
/// when given. Keyed `{our_intent_id}:create_and_confirm:{attempt}`: a second card
/// after a decline is a new payment, a resend of the same try is not.
/// Every answer that may carry a captured charge brings its balance transaction
/// (which expands the charge too): Stripe's fee, without another call.
pub const FEE_EXPAND: &str = "latest_charge.balance_transaction";

pub fn create_and_confirm_payment_intent(
    auth: &Auth,
    charge: &Charge,
    payment_method: &str,
    return_url: Option<&str>,
    attempt: u32,
) -> Result<HttpRequest, BuildError> {
    check_id("pm_", payment_method)?;
    let mut form = charge_form(charge)?;
    form.push("payment_method", payment_method)
        .push("confirm", "true")
        .push(USE_STRIPE_SDK, "true");
    if let Some(url) = return_url {
        form.push("return_url", url);
    }
    form.push_list("expand", FEE_EXPAND);
    let key = idempotency_key(charge.our_intent_id, "create_and_confirm", Some(attempt));
    Ok(post(auth, "/v1/payment_intents".to_owned(), &form, &key))
}

fn charge_form(charge: &Charge) -> Result<Form, BuildError> {
    let amount = minor_units(&charge.amount)?;
    let mut form = Form::new();
    form.push("amount", amount.to_string())
        .push(
            "currency",
            charge.amount.currency().code().to_ascii_lowercase(),
        )
        .push("capture_method", charge.capture_method.as_str())
        .push_list("payment_method_types", "card")
        .push_nested("metadata", OUR_INTENT_ID, charge.our_intent_id);
    if let Some(d) = charge.description {
        form.push("description", d);
    }
    if let Some(c) = charge.customer {
        check_id("cus_", c)?;
        form.push("customer", c);
        if charge.save_card {
            form.push("setup_future_usage", "off_session");
        }
    }
    match charge.destination {
        Destination::Direct => {}
        Destination::Connect {
            account,
            application_fee,
        } => {
            check_id("acct_", account)?;
            let fits = application_fee
                .try_cmp(&charge.amount)
                .is_ok_and(|o| o.is_le());
            if !fits {
                return Err(BuildError::FeeMismatch);
            }
            let fee = minor_units(&application_fee)?;
            // The connected account is the merchant of record (its name on the
            // statement, its disputes), not the platform.
            form.push_nested("transfer_data", "destination", account)
                .push("on_behalf_of", account)
                .push("application_fee_amount", fee.to_string());
        }
    }
    Ok(form)
}

/// `POST /v1/payment_intents/{id}` with `payment_method`: the form localstripe
/// accepts (it fails a confirm that carries the payment method). `attempt` counts
/// the customer's tries on this intent, so a second card after a decline is a new
/// operation while a resend of the same try is not.
pub fn attach_payment_method(
    auth: &Auth,
    our_intent_id: &str,
    stripe_intent_id: &str,
    payment_method: &str,
    attempt: u32,
) -> Result<HttpRequest, BuildError> {
    check_id("pi_", stripe_intent_id)?;
    check_id("pm_", payment_method)?;
    let mut form = Form::new();
    form.push("payment_method", payment_method);
    let key = idempotency_key(our_intent_id, "attach", Some(attempt));
    Ok(post(
        auth,
        format!("/v1/payment_intents/{stripe_intent_id}"),
        &form,
        &key,
    ))
}

/// `POST /v1/payment_intents/{id}/confirm` with `use_stripe_sdk=true`, and
/// `return_url` for redirect-based authentication if given. `attempt` as in
/// [`attach_payment_method`].
///
/// We confirm on the server and Stripe.js finishes 3-D Secure in the page
/// (`stripe.handleNextAction`), which real Stripe allows only when the confirm
/// carries `use_stripe_sdk=true`: then a 3DS card answers
/// `next_action.type = use_stripe_sdk` (PROVIDERS.md). localstripe accepts the
/// flow without it, so the recording stand-in refuses a confirm that lacks it.
pub fn confirm_payment_intent(
    auth: &Auth,
    our_intent_id: &str,
    stripe_intent_id: &str,
    return_url: Option<&str>,
    attempt: u32,
) -> Result<HttpRequest, BuildError> {
    check_id("pi_", stripe_intent_id)?;
    let mut form = Form::new();
    form.push(USE_STRIPE_SDK, "true");
    if let Some(url) = return_url {
        form.push("return_url", url);
    }
    form.push_list("expand", FEE_EXPAND);
    let key = idempotency_key(our_intent_id, "confirm", Some(attempt));
    Ok(post(
        auth,
        format!("/v1/payment_intents/{stripe_intent_id}/confirm"),
        &form,
        &key,
    ))
}

/// `POST /v1/payment_intents/{id}/capture`. One capture per intent, so one key:
/// a resend with another amount is refused by Stripe instead of capturing twice.
pub fn capture_payment_intent(
    auth: &Auth,
    our_intent_id: &str,
    stripe_intent_id: &str,
    amount: Money,
) -> Result<HttpRequest, BuildError> {
    check_id("pi_", stripe_intent_id)?;
    let mut form = Form::new();
    form.push("amount_to_capture", minor_units(&amount)?.to_string());
    form.push_list("expand", FEE_EXPAND);
    let key = idempotency_key(our_intent_id, "capture", None);
    Ok(post(
        auth,
        format!("/v1/payment_intents/{stripe_intent_id}/capture"),
        &form,
        &key,
    ))
}

/// `POST /v1/payment_intents/{id}/cancel`.
pub fn cancel_payment_intent(
    auth: &Auth,
    our_intent_id: &str,
    stripe_intent_id: &str,
) -> Result<HttpRequest, BuildError> {
    check_id("pi_", stripe_intent_id)?;
    let key = idempotency_key(our_intent_id, "cancel", None);
    Ok(post(
        auth,
        format!("/v1/payment_intents/{stripe_intent_id}/cancel"),
        &Form::new(),
        &key,
    ))
}

/// `GET /v1/payment_intents/{id}` with the latest charge expanded (its
/// `amount_refunded` is the refund total) and its balance transaction (Stripe's fee).
pub fn retrieve_payment_intent(
    auth: &Auth,
    stripe_intent_id: &str,
) -> Result<HttpRequest, BuildError> {
    check_id("pi_", stripe_intent_id)?;
    let mut query = Form::new();
    query.push_list("expand", FEE_EXPAND);
    Ok(HttpRequest::get(
        format!("/v1/payment_intents/{stripe_intent_id}?{}", query.encode()),
        base_headers(auth),
    ))
}

/// `GET /v1/payment_intents?created[gte]=…&created[lt]=…&limit=100`: the PaymentIntents
/// made in a time window, newest first, a page after `starting_after`.
pub fn list_payment_intents(
    auth: &Auth,
    created_gte: i64,
    created_lt: i64,
    starting_after: Option<&str>,
) -> Result<HttpRequest, BuildError> {
    let mut query = Form::new();
    query
        .push("created[gte]", created_gte.to_string())
        .push("created[lt]", created_lt.to_string())
        .push("limit", "100");
    if let Some(after) = starting_after {
        check_id("pi_", after)?;
        query.push("starting_after", after);
    }
    Ok(HttpRequest::get(
        format!("/v1/payment_intents?{}", query.encode()),
        base_headers(auth),
    ))
}

/// `GET /v1/refunds?payment_intent=…&limit=100`: a PaymentIntent's refunds.
pub fn list_refunds(auth: &Auth, stripe_intent_id: &str) -> Result<HttpRequest, BuildError> {
    check_id("pi_", stripe_intent_id)?;
    let mut query = Form::new();
    query
        .push("payment_intent", stripe_intent_id)
        .push("limit", "100");
    Ok(HttpRequest::get(
        format!("/v1/refunds?{}", query.encode()),
        base_headers(auth),
    ))
}

/// `POST /v1/refunds`. Keyed by our refund id: two partial refunds of the same
/// amount are two refunds, a resend of one is not. For a Connect destination charge
/// (`destination`), `reverse_transfer=true`: the connected account pays its share
/// back, instead of the refund coming out of the platform's balance.
pub fn create_refund(
    auth: &Auth,
    our_refund_id: &str,
    stripe_intent_id: &str,
    amount: Money,
    destination: &Destination,
) -> Result<HttpRequest, BuildError> {
    check_id("pi_", stripe_intent_id)?;
    let mut form = Form::new();
    form.push("payment_intent", stripe_intent_id)
        .push("amount", minor_units(&amount)?.to_string())
        .push_nested("metadata", OUR_REFUND_ID, our_refund_id);
    if let Destination::Connect { .. } = destination {
        form.push("reverse_transfer", "true");
    }
    let key = idempotency_key(our_refund_id, "refund", None);
    Ok(post(auth, "/v1/refunds".to_owned(), &form, &key))
}

/// `POST /v1/customers`.
pub fn create_customer(
    auth: &Auth,
    our_customer_id: &str,
    email: Option<&str>,
    name: Option<&str>,
) -> HttpRequest {
    let mut form = Form::new();
    if let Some(e) = email {
        form.push("email", e);
    }
    if let Some(n) = name {
        form.push("name", n);
    }
    form.push_nested("metadata", OUR_CUSTOMER_ID, our_customer_id);
    let key = idempotency_key(our_customer_id, "create", None);
    post(auth, "/v1/customers".to_owned(), &form, &key)
}

/// `POST /v1/setup_intents` to save a card for later off-session charges; the
/// widget confirms it with Stripe.js.
pub fn create_setup_intent(
    auth: &Auth,
    our_setup_intent_id: &str,
    stripe_customer_id: &str,
) -> Result<HttpRequest, BuildError> {
    check_id("cus_", stripe_customer_id)?;
    let mut form = Form::new();
    form.push("usage", "off_session")
        .push("customer", stripe_customer_id)
        .push_list("payment_method_types", "card")
        .push_nested("metadata", OUR_SETUP_INTENT_ID, our_setup_intent_id);
    let key = idempotency_key(our_setup_intent_id, "create", None);
    Ok(post(auth, "/v1/setup_intents".to_owned(), &form, &key))
}

/// `POST /v1/setup_intents/{id}/confirm` with the PaymentMethod from the widget's
/// card field; `use_stripe_sdk` so Stripe.js can finish 3-D Secure in the page.
pub fn confirm_setup_intent(
    auth: &Auth,
    our_setup_intent_id: &str,
    stripe_setup_intent_id: &str,
    payment_method: &str,
    attempt: u32,
) -> Result<HttpRequest, BuildError> {
    check_id("seti_", stripe_setup_intent_id)?;
    check_id("pm_", payment_method)?;
    let mut form = Form::new();
    form.push("payment_method", payment_method)
        .push(USE_STRIPE_SDK, "true");
    let key = idempotency_key(our_setup_intent_id, "confirm", Some(attempt));
    Ok(post(
        auth,
        format!("/v1/setup_intents/{stripe_setup_intent_id}/confirm"),
        &form,
        &key,
    ))
}

pub fn retrieve_setup_intent(
    auth: &Auth,
    stripe_setup_intent_id: &str,
) -> Result<HttpRequest, BuildError> {
    check_id("seti_", stripe_setup_intent_id)?;
    Ok(HttpRequest::get(
        format!("/v1/setup_intents/{stripe_setup_intent_id}"),
        base_headers(auth),
    ))
}

/// `GET /v1/payment_methods?customer=…&type=card`: a customer's saved cards.
pub fn list_payment_methods(
    auth: &Auth,
    stripe_customer_id: &str,
) -> Result<HttpRequest, BuildError> {
    check_id("cus_", stripe_customer_id)?;
    let mut query = Form::new();
    query
        .push("customer", stripe_customer_id)
        .push("type", "card")
        .push("limit", "100");
    Ok(HttpRequest::get(
        format!("/v1/payment_methods?{}", query.encode()),
        base_headers(auth),
    ))
}

pub fn retrieve_payment_method(
    auth: &Auth,
    payment_method: &str,
) -> Result<HttpRequest, BuildError> {
    check_id("pm_", payment_method)?;
    Ok(HttpRequest::get(
        format!("/v1/payment_methods/{payment_method}"),
        base_headers(auth),
    ))
}

/// `POST /v1/payment_methods/{pm}/detach`: the card can no longer be charged.
pub fn detach_payment_method(auth: &Auth, payment_method: &str) -> Result<HttpRequest, BuildError> {
    check_id("pm_", payment_method)?;
    let key = idempotency_key(payment_method, "detach", None);
    Ok(post(
        auth,
        format!("/v1/payment_methods/{payment_method}/detach"),
        &Form::new(),
        &key,
    ))
}

/// Money → Stripe's integer amount. Three-decimal currencies must end in 0.
pub fn minor_units(amount: &Money) -> Result<i64, BuildError> {
    let minor = amount.to_minor_units();
    if amount.currency().exponent() == 3 && minor % 10 != 0 {
        return Err(BuildError::UnsupportedPrecision { amount: *amount });
    }
    Ok(minor)
}

/// Ids go into paths and bodies: only `prefix` + ASCII alphanumerics and `_`, so a
/// crafted id cannot change which endpoint is called.
fn check_id(prefix: &'static str, id: &str) -> Result<(), BuildError> {
    let ok = id.len() <= 255
        && id.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(BuildError::InvalidId {
            expected_prefix: prefix,
        })
    }
}

fn base_headers(auth: &Auth) -> Vec<(String, String)> {
    // The one place a Stripe key leaves its `Secret`.
    let mut headers = vec![(
        "Authorization".to_owned(),
        format!("Bearer {}", auth.secret_key.expose()),
    )];
    if let Some(v) = auth.stripe_version {
        headers.push(("Stripe-Version".to_owned(), v.to_owned()));
    }
    headers
}

/// `POST /v1/accounts` on the platform's key: the Express account Connect
/// onboarding makes for one of our merchants. Keyed by our merchant id, so a
/// merchant gets one account however often onboarding is started.
pub fn create_connected_account(
    auth: &Auth,
    our_merchant_id: &str,
    country: &str,
) -> Result<HttpRequest, BuildError> {
    check_id("acct_", our_merchant_id)?;
    let mut form = Form::new();
    form.push("type", "express")
        .push("country", country)
        .push_nested("capabilities[card_payments]", "requested", "true")
        .push_nested("capabilities[transfers]", "requested", "true")
        .push_nested("metadata", OUR_MERCHANT_ID, our_merchant_id);
    let key = idempotency_key(our_merchant_id, "connect_account", None);
    Ok(post(auth, "/v1/accounts".to_owned(), &form, &key))
}

/// `POST /v1/account_links`: the onboarding page for a connected account. Each is
/// single-use, so no idempotency key: a new link per request is what is wanted.
pub fn create_account_link(
    auth: &Auth,
    account: &str,
    refresh_url: &str,
    return_url: &str,
) -> Result<HttpRequest, BuildError> {
    check_id("acct_", account)?;
    let mut form = Form::new();
    form.push("account", account)
        .push("refresh_url", refresh_url)
        .push("return_url", return_url)
        .push("type", "account_onboarding");
    Ok(HttpRequest::post_form(
        "/v1/account_links".to_owned(),
        base_headers(auth),
        &form,
    ))
}

fn post(auth: &Auth, path: String, form: &Form, idempotency_key: &str) -> HttpRequest {
    HttpRequest::post_form(path, base_headers(auth), form).with_idempotency_key(idempotency_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::tests::decode;
    use crate::money::Currency;
    use crate::secrets::Secret;

    fn key() -> Secret {
        Secret::new("sk_test_123")
    }

    fn chf(s: &str) -> Money {
        Money::parse_non_negative(s, Currency::CHF).unwrap()
    }

    fn fields(r: &HttpRequest) -> Vec<(String, String)> {
        decode(&r.body)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn charge(destination: Destination) -> Charge {
        Charge {
            our_intent_id: "pi_ours1",
            amount: chf("12.50"),
            capture_method: CaptureMethod::Manual,
            description: Some("Order 42"),
            destination,
            customer: None,
            save_card: false,
        }
    }

    fn create(auth: &Auth, c: &Charge) -> Result<HttpRequest, BuildError> {
        create_and_confirm_payment_intent(auth, c, "pm_1", None, 1)
    }

    #[test]
    fn create_in_direct_mode() {
        let k = key();
        let r = create(&Auth::new(&k), &charge(Destination::Direct)).unwrap();
        assert_eq!((r.method, r.path.as_str()), ("POST", "/v1/payment_intents"));
        assert_eq!(r.header("authorization"), Some("Bearer sk_test_123"));
        assert_eq!(
            r.header("Content-Type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            r.header("Idempotency-Key"),
            Some("pi_ours1:create_and_confirm:1")
        );
        assert_eq!(r.header("Stripe-Version"), None);
        assert_eq!(
            fields(&r),
            pairs(&[
                ("amount", "1250"),
                ("currency", "chf"),
                ("capture_method", "manual"),
                ("payment_method_types[]", "card"),
                ("metadata[our_intent_id]", "pi_ours1"),
                ("description", "Order 42"),
                ("payment_method", "pm_1"),
                ("confirm", "true"),
                ("use_stripe_sdk", "true"),
                ("expand[]", "latest_charge.balance_transaction"),
            ])
        );
        // The key never shows in Debug output.
        let dbg = format!("{r:?}");
        assert!(
            !dbg.contains("sk_test_123") && dbg.contains("Bearer …"),
            "{dbg}"
        );
    }

    #[test]
    fn create_in_connect_mode_takes_the_platform_fee() {
        let k = key();
        let auth = Auth::new(&k).with_version("2024-06-20");
        let dest = Destination::Connect {
            account: "acct_merchant1",
            application_fee: chf("0.50"),
        };
        let r = create(&auth, &charge(dest)).unwrap();
        assert_eq!(r.header("Stripe-Version"), Some("2024-06-20"));
        let f = fields(&r);
        let connect = pairs(&[
            ("transfer_data[destination]", "acct_merchant1"),
            ("on_behalf_of", "acct_merchant1"),
            ("application_fee_amount", "50"),
        ]);
        assert!(f.windows(3).any(|w| w == connect.as_slice()), "{f:?}");
        for fee in [Money::parse("0.50", Currency::EUR).unwrap(), chf("12.51")] {
            let dest = Destination::Connect {
                account: "acct_merchant1",
                application_fee: fee,
            };
            assert_eq!(create(&auth, &charge(dest)), Err(BuildError::FeeMismatch));
        }
        let dest = Destination::Connect {
            account: "acct_../x",
            application_fee: chf("0.50"),
        };
        assert!(matches!(
            create(&auth, &charge(dest)),
            Err(BuildError::InvalidId { .. })
        ));
    }

    #[test]
    fn key_and_destination_follow_the_account_mode() {
        let platform = Secret::new("sk_test_platform");
        let account = |mode: &str, acct: Option<&str>| -> StripeAccount {
            serde_json::from_value(serde_json::json!({
                "mode": mode,
                "secret_key": "sk_test_merchant",
                "publishable_key": "pk_test_merchant",
                "webhook_secret": "whsec_x",
                "connected_account_id": acct,
            }))
            .unwrap()
        };
        let direct = account("direct", None);
        assert_eq!(
            Auth::for_account(&direct, &platform).secret_key.expose(),
            "sk_test_merchant"
        );
        assert_eq!(
            Destination::for_account(&direct, chf("0.50")),
            Ok(Destination::Direct)
        );
        let connect = account("connect", Some("acct_m"));
        assert_eq!(
            Auth::for_account(&connect, &platform).secret_key.expose(),
            "sk_test_platform"
        );
        assert_eq!(
            Destination::for_account(&connect, chf("0.50")),
            Ok(Destination::Connect {
                account: "acct_m",
                application_fee: chf("0.50")
            })
        );
        assert_eq!(
            Destination::for_account(&account("connect", None), chf("0.50")),
            Err(BuildError::MissingConnectedAccount)
        );
    }

    #[test]
    fn intent_operations() {
        let k = key();
        let a = Auth::new(&k);
        let r = attach_payment_method(&a, "pi_ours1", "pi_3Abc", "pm_card1", 2).unwrap();
        assert_eq!(r.path, "/v1/payment_intents/pi_3Abc");
        assert_eq!(fields(&r), pairs(&[("payment_method", "pm_card1")]));
        assert_eq!(r.header("Idempotency-Key"), Some("pi_ours1:attach:2"));

        let r = confirm_payment_intent(&a, "pi_ours1", "pi_3Abc", None, 2).unwrap();
        assert_eq!(r.path, "/v1/payment_intents/pi_3Abc/confirm");
        assert_eq!(
            r.body,
            "use_stripe_sdk=true&expand%5B%5D=latest_charge.balance_transaction"
        );
        assert_eq!(r.header("Idempotency-Key"), Some("pi_ours1:confirm:2"));
        let r =
            confirm_payment_intent(&a, "pi_ours1", "pi_3Abc", Some("https://s/x?a=1"), 3).unwrap();
        assert_eq!(
            fields(&r),
            pairs(&[
                ("use_stripe_sdk", "true"),
                ("return_url", "https://s/x?a=1"),
                ("expand[]", "latest_charge.balance_transaction")
            ])
        );
        assert_eq!(r.header("Idempotency-Key"), Some("pi_ours1:confirm:3"));

        let r = capture_payment_intent(&a, "pi_ours1", "pi_3Abc", chf("30.00")).unwrap();
        assert_eq!(r.path, "/v1/payment_intents/pi_3Abc/capture");
        assert_eq!(
            fields(&r),
            pairs(&[
                ("amount_to_capture", "3000"),
                ("expand[]", "latest_charge.balance_transaction")
            ])
        );
        assert_eq!(r.header("Idempotency-Key"), Some("pi_ours1:capture"));

        let r = cancel_payment_intent(&a, "pi_ours1", "pi_3Abc").unwrap();
        assert_eq!(
            (r.method, r.path.as_str(), r.body.as_str()),
            ("POST", "/v1/payment_intents/pi_3Abc/cancel", "")
        );
        assert_eq!(r.header("Idempotency-Key"), Some("pi_ours1:cancel"));

        let r = retrieve_payment_intent(&a, "pi_3Abc").unwrap();
        assert_eq!(
            (r.method, r.path.as_str(), r.body.as_str()),
            (
                "GET",
                "/v1/payment_intents/pi_3Abc?expand%5B%5D=latest_charge.balance_transaction",
                ""
            )
        );
        assert_eq!(r.header("Idempotency-Key"), None);
        assert_eq!(r.header("Content-Type"), None);
        assert_eq!(r.header("Authorization"), Some("Bearer sk_test_123"));

        for bad in ["", "pi_", "pi_a/b", "pi_..", "cus_1", "pi_a?x=1"] {
            assert!(retrieve_payment_intent(&a, bad).is_err(), "{bad}");
            assert!(cancel_payment_intent(&a, "pi_ours1", bad).is_err(), "{bad}");
        }
        assert!(attach_payment_method(&a, "pi_ours1", "pi_1", "tok_1", 1).is_err());
    }

    #[test]
    fn refunds_are_keyed_by_our_refund_id() {
        let k = key();
        let a = Auth::new(&k);
        let r1 =
            create_refund(&a, "re_ours1", "pi_3Abc", chf("5.00"), &Destination::Direct).unwrap();
        let r2 =
            create_refund(&a, "re_ours2", "pi_3Abc", chf("5.00"), &Destination::Direct).unwrap();
        assert_eq!(r1.path, "/v1/refunds");
        assert_eq!(
            fields(&r1),
            pairs(&[
                ("payment_intent", "pi_3Abc"),
                ("amount", "500"),
                ("metadata[our_refund_id]", "re_ours1"),
            ])
        );
        assert_eq!(r1.header("Idempotency-Key"), Some("re_ours1:refund"));
        assert_eq!(r2.header("Idempotency-Key"), Some("re_ours2:refund"));
        // Same description, same bytes: a resend is recognised as one.
        assert_eq!(
            r1,
            create_refund(&a, "re_ours1", "pi_3Abc", chf("5.00"), &Destination::Direct).unwrap()
        );
        // A destination charge's refund takes the connected account's share back.
        let connect = Destination::Connect {
            account: "acct_merchant1",
            application_fee: chf("0.50"),
        };
        let rc = create_refund(&a, "re_ours3", "pi_3Abc", chf("5.00"), &connect).unwrap();
        assert!(fields(&rc).contains(&("reverse_transfer".to_owned(), "true".to_owned())));
        assert!(!fields(&r1).iter().any(|(k, _)| k == "reverse_transfer"));
    }

    #[test]
    fn connect_onboarding_requests() {
        let k = key();
        let a = Auth::new(&k);
        let acct = create_connected_account(&a, "acct_OURS1", "CH").unwrap();
        assert_eq!((acct.method, acct.path.as_str()), ("POST", "/v1/accounts"));
        assert_eq!(
            fields(&acct),
            pairs(&[
                ("type", "express"),
                ("country", "CH"),
                ("capabilities[card_payments][requested]", "true"),
                ("capabilities[transfers][requested]", "true"),
                ("metadata[our_merchant_id]", "acct_OURS1"),
            ])
        );
        assert_eq!(
            acct.header("Idempotency-Key"),
            Some("acct_OURS1:connect_account")
        );
        let link = create_account_link(
            &a,
            "acct_1New",
            "https://p.example/r",
            "https://p.example/done",
        )
        .unwrap();
        assert_eq!(link.path, "/v1/account_links");
        assert_eq!(
            fields(&link),
            pairs(&[
                ("account", "acct_1New"),
                ("refresh_url", "https://p.example/r"),
                ("return_url", "https://p.example/done"),
                ("type", "account_onboarding"),
            ])
        );
        assert!(create_account_link(&a, "acct_1/../x", "u", "u").is_err());
    }

    #[test]
    fn customers_setup_intents_and_off_session_charges() {
        let k = key();
        let a = Auth::new(&k);
        let r = create_customer(&a, "cus_ours1", Some("a+b@example.com"), Some("Ann Lee"));
        assert_eq!(r.path, "/v1/customers");
        assert_eq!(
            fields(&r),
            pairs(&[
                ("email", "a+b@example.com"),
                ("name", "Ann Lee"),
                ("metadata[our_customer_id]", "cus_ours1"),
            ])
        );
        assert!(r
            .body
            .starts_with("email=a%2Bb%40example.com&name=Ann+Lee&"));
        assert_eq!(r.header("Idempotency-Key"), Some("cus_ours1:create"));

        let r = create_setup_intent(&a, "seti_ours1", "cus_S1").unwrap();
        assert_eq!(r.path, "/v1/setup_intents");
        assert_eq!(
            fields(&r),
            pairs(&[
                ("usage", "off_session"),
                ("customer", "cus_S1"),
                ("payment_method_types[]", "card"),
                ("metadata[our_setup_intent_id]", "seti_ours1"),
            ])
        );
        assert_eq!(r.header("Idempotency-Key"), Some("seti_ours1:create"));

        let mut c = charge(Destination::Direct);
        c.capture_method = CaptureMethod::Automatic;
        c.description = None;
        assert!(
            charge_off_session(&a, &c, "pm_S1", 1).is_err(),
            "no customer"
        );
        c.customer = Some("cus_S1");
        let r = charge_off_session(&a, &c, "pm_S1", 2).unwrap();
        assert_eq!(r.path, "/v1/payment_intents");
        assert_eq!(
            fields(&r),
            pairs(&[
                ("amount", "1250"),
                ("currency", "chf"),
                ("capture_method", "automatic"),
                ("payment_method_types[]", "card"),
                ("metadata[our_intent_id]", "pi_ours1"),
                ("customer", "cus_S1"),
                ("payment_method", "pm_S1"),
                ("off_session", "true"),
                ("confirm", "true"),
                ("expand[]", "latest_charge.balance_transaction"),
            ])
        );
        assert_eq!(
            r.header("Idempotency-Key"),
            Some("pi_ours1:charge_off_session:2")
        );
        // Saving the card on an on-session payment.
        c.save_card = true;
        let r = create_and_confirm_payment_intent(&a, &c, "pm_S1", None, 1).unwrap();
        let f = fields(&r);
        assert!(f.contains(&("customer".into(), "cus_S1".into())));
        assert!(f.contains(&("setup_future_usage".into(), "off_session".into())));
        let r = confirm_setup_intent(&a, "seti_ours1", "seti_S1", "pm_S1", 3).unwrap();
        assert_eq!(r.path, "/v1/setup_intents/seti_S1/confirm");
        assert_eq!(
            fields(&r),
            pairs(&[("payment_method", "pm_S1"), ("use_stripe_sdk", "true")])
        );
        assert_eq!(r.header("Idempotency-Key"), Some("seti_ours1:confirm:3"));
        assert!(confirm_setup_intent(&a, "seti_ours1", "seti_1/../x", "pm_S1", 1).is_err());
        let r = list_payment_methods(&a, "cus_S1").unwrap();
        assert_eq!(
            r.path,
            "/v1/payment_methods?customer=cus_S1&type=card&limit=100"
        );
        let r = detach_payment_method(&a, "pm_S1").unwrap();
        assert_eq!(r.path, "/v1/payment_methods/pm_S1/detach");
        assert!(detach_payment_method(&a, "pm_S1?x=1").is_err());
    }

    #[test]
    fn create_and_confirm_carries_use_stripe_sdk() {
        let k = key();
        let a = Auth::new(&k);
        let mut c = charge(Destination::Direct);
        c.description = None;
        let r =
            create_and_confirm_payment_intent(&a, &c, "pm_card1", Some("https://s/r"), 1).unwrap();
        assert_eq!((r.method, r.path.as_str()), ("POST", "/v1/payment_intents"));
        assert_eq!(
            fields(&r),
            pairs(&[
                ("amount", "1250"),
                ("currency", "chf"),
                ("capture_method", "manual"),
                ("payment_method_types[]", "card"),
                ("metadata[our_intent_id]", "pi_ours1"),
                ("payment_method", "pm_card1"),
                ("confirm", "true"),
                ("use_stripe_sdk", "true"),
                ("return_url", "https://s/r"),
                ("expand[]", "latest_charge.balance_transaction"),
            ])
        );
        assert_eq!(
            r.header("Idempotency-Key"),
            Some("pi_ours1:create_and_confirm:1")
        );
        let r = create_and_confirm_payment_intent(&a, &c, "pm_card1", None, 2).unwrap();
        assert!(
            r.body.contains("&confirm=true&use_stripe_sdk=true&"),
            "{}",
            r.body
        );
        assert!(matches!(
            create_and_confirm_payment_intent(&a, &c, "tok_1", None, 1),
            Err(BuildError::InvalidId { .. })
        ));
    }

    #[test]
    fn minor_units_per_currency() {
        let m = |s: &str, c: Currency| minor_units(&Money::parse(s, c).unwrap());
        assert_eq!(m("500", Currency::JPY), Ok(500));
        assert_eq!(m("12.34", Currency::EUR), Ok(1234));
        assert_eq!(m("1.230", Currency::KWD), Ok(1230));
        let e = m("1.234", Currency::KWD).unwrap_err();
        assert!(matches!(e, BuildError::UnsupportedPrecision { .. }));
        assert_eq!(e.to_api_error().code, "invalid_amount");
        assert_eq!(BuildError::FeeMismatch.to_api_error().status, 500);
    }
}
