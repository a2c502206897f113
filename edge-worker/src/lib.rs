//! The edge Worker. The route table below is the whole API surface on one screen:
//! each line says who may call the route and which handler serves it. The Worker
//! itself only finds the Durable Object that owns the request — the merchant named
//! by the key, the callback path or the object id, or the platform for the admin —
//! and forwards it there in one hop; the object runs the handler.

use worker::{event, Context, Env, Method, Request, Response, Result, Router};

mod billing;
mod call;
mod ctx;
mod entropy;
mod http;
mod idempotency;
mod merchant;
mod meta;
mod outbound;
mod providers;
mod ratelimit;
mod reconcile;
mod routes;

use call::{api_key, preflight};
use merchant::Object;
use routes::{
    balance_transactions, checkout, customers, events, hosted_invoices, intents, invoices,
    merchants, platform_billing, providers as accounts, reconciliations, refunds, setup_intents,
    subscriptions, test_clocks, test_helpers, webhook_endpoints, webhooks,
};

/// Who may call a route.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Who {
    /// Anyone: answered by the Worker itself.
    Public,
    /// The platform admin's token (`ADMIN_TOKEN`).
    Admin,
    /// A merchant's secret key.
    Secret,
    /// The widget: a publishable key plus the intent's client secret (or a secret key).
    Widget,
    /// A provider's callback, verified by its signature.
    Signed,
    /// A CORS preflight for a widget route.
    Preflight,
    /// A page the Worker serves to a customer, by an unguessable token in its URL
    /// (an invoice's hosted page); forwarded to the object the id names.
    Hosted,
}

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub who: Who,
}

macro_rules! route_table {
    ($( $method:ident $path:literal $who:ident => $handler:path; )*) => {
        /// Every route: method, path, who may call it.
        pub const ROUTES: &[Route] = &[
            $( Route { method: stringify!($method), path: $path, who: Who::$who }, )*
        ];

        /// The router inside a merchant's or the platform's object.
        fn object_router(data: Object, admin: bool) -> Router<'static, Object> {
            let mut r = Router::with_data(data);
            $(
                if (Who::$who == Who::Admin) == admin && Who::$who != Who::Public {
                    r = route_table!(@add r, $method, $path, $handler);
                }
            )*
            r
        }
    };
    (@add $r:ident, GET, $p:literal, $h:path) => { $r.get_async($p, $h) };
    (@add $r:ident, POST, $p:literal, $h:path) => { $r.post_async($p, $h) };
    (@add $r:ident, PUT, $p:literal, $h:path) => { $r.put_async($p, $h) };
    (@add $r:ident, PATCH, $p:literal, $h:path) => { $r.patch_async($p, $h) };
    (@add $r:ident, DELETE, $p:literal, $h:path) => { $r.delete_async($p, $h) };
    (@add $r:ident, OPTIONS, $p:literal, $h:path) => { $r.options_async($p, $h) };
}

route_table! {
    GET  "/health"                                   Public    => meta::never;
    GET  "/openapi.json"                             Public    => meta::never;
    // Onboarding and the registry of merchants.
    POST "/v1/merchants"                             Admin     => merchants::create;
    GET  "/v1/merchants"                             Admin     => merchants::list;
    // A merchant's own profile, keys and provider credentials.
    GET  "/v1/merchants/me"                          Secret    => merchants::me;
    PATCH "/v1/merchants/me"                         Secret    => merchants::update;
    POST "/v1/merchants/me/keys/roll"                Secret    => merchants::roll_key;
    GET  "/v1/merchants/me/providers"                Secret    => accounts::list;
    PUT  "/v1/merchants/me/providers/:provider"      Secret    => accounts::put;
    DELETE "/v1/merchants/me/providers/:provider"    Secret    => accounts::delete;
    POST "/v1/merchants/me/stripe_connect"           Secret    => merchants::stripe_connect;
    // The admin sets a merchant's terms (after the `me` routes, which it would match).
    PATCH "/v1/merchants/:id"                        Admin     => merchants::admin_update;
    POST "/v1/merchants/:id/live_keys"               Admin     => merchants::live_keys;
    GET  "/v1/merchants/:id/platform_invoices"       Admin     => platform_billing::admin_list;
    GET  "/v1/merchants/:id/reconciliations"         Admin     => reconciliations::admin_list;
    // Payment intents and refunds.
    POST "/v1/payment_intents"                       Secret    => intents::create;
    GET  "/v1/payment_intents"                       Secret    => intents::list;
    GET  "/v1/payment_intents/:id"                   Widget    => intents::retrieve;
    OPTIONS "/v1/payment_intents/:id"                Preflight => preflight;
    POST "/v1/payment_intents/:id/cancel"            Secret    => intents::cancel;
    POST "/v1/payment_intents/:id/capture"           Secret    => intents::capture;
    POST "/v1/refunds"                               Secret    => refunds::create;
    GET  "/v1/refunds"                               Secret    => refunds::list;
    GET  "/v1/refunds/:id"                           Secret    => refunds::retrieve;
    // Customers, saved cards, subscriptions and their invoices (Stripe).
    POST "/v1/customers"                             Secret    => customers::create;
    GET  "/v1/customers/:id"                         Secret    => customers::retrieve;
    GET  "/v1/customers/:id/payment_methods"         Secret    => customers::payment_methods;
    DELETE "/v1/customers/:id/payment_methods/:pm"   Secret    => customers::detach;
    POST "/v1/setup_intents"                         Secret    => setup_intents::create;
    GET  "/v1/setup_intents/:id"                     Widget    => setup_intents::retrieve;
    OPTIONS "/v1/setup_intents/:id"                  Preflight => preflight;
    POST "/v1/subscriptions"                         Secret    => subscriptions::create;
    GET  "/v1/subscriptions"                         Secret    => subscriptions::list;
    GET  "/v1/subscriptions/:id"                     Secret    => subscriptions::retrieve;
    POST "/v1/subscriptions/:id/cancel"              Secret    => subscriptions::cancel;
    GET  "/v1/invoices"                              Secret    => invoices::list;
    GET  "/v1/invoices/:id"                          Secret    => invoices::retrieve;
    GET  "/v1/hosted_invoices/:id"                   Hosted    => hosted_invoices::show;
    POST "/v1/test_clocks"                           Secret    => test_clocks::create;
    GET  "/v1/test_clocks/:id"                       Secret    => test_clocks::retrieve;
    POST "/v1/test_clocks/:id/advance"               Secret    => test_clocks::advance;
    // The platform's bill to the merchant, and the card it is charged to.
    GET  "/v1/platform_invoices"                     Secret    => platform_billing::list;
    GET  "/v1/platform_billing"                      Secret    => platform_billing::card;
    POST "/v1/platform_billing/setup_intents"        Secret    => setup_intents::create_for_platform;
    // Telling the merchant: its events and the endpoints they are delivered to.
    POST "/v1/webhook_endpoints"                     Secret    => webhook_endpoints::create;
    GET  "/v1/webhook_endpoints"                     Secret    => webhook_endpoints::list;
    GET  "/v1/webhook_endpoints/:id"                 Secret    => webhook_endpoints::retrieve;
    DELETE "/v1/webhook_endpoints/:id"               Secret    => webhook_endpoints::delete;
    POST "/v1/webhook_endpoints/:id/roll_secret"     Secret    => webhook_endpoints::roll_secret;
    GET  "/v1/events"                                Secret    => events::list;
    GET  "/v1/events/:id"                            Secret    => events::retrieve;
    GET  "/v1/events/:id/deliveries"                 Secret    => events::deliveries;
    GET  "/v1/balance_transactions"                  Secret    => balance_transactions::list;
    // The daily comparison of the ledger with the providers' records.
    POST "/v1/reconciliations"                       Secret    => reconciliations::create;
    GET  "/v1/reconciliations"                       Secret    => reconciliations::list;
    GET  "/v1/reconciliations/:id"                   Secret    => reconciliations::retrieve;
    // Test mode only: move the merchant object's clock ahead.
    POST "/v1/test_helpers/advance_clock"            Secret    => test_helpers::advance_clock;
    // The widget's routes, with their CORS preflights.
    GET  "/v1/payment_intents/:id/checkout"          Widget    => checkout::checkout;
    OPTIONS "/v1/payment_intents/:id/checkout"       Preflight => preflight;
    POST "/v1/payment_intents/:id/confirm"           Widget    => checkout::confirm;
    OPTIONS "/v1/payment_intents/:id/confirm"        Preflight => preflight;
    GET  "/v1/setup_intents/:id/checkout"            Widget    => setup_intents::checkout;
    OPTIONS "/v1/setup_intents/:id/checkout"         Preflight => preflight;
    POST "/v1/setup_intents/:id/confirm"             Widget    => setup_intents::confirm;
    OPTIONS "/v1/setup_intents/:id/confirm"          Preflight => preflight;
    // Signed provider callbacks.
    // The platform's own endpoint (Connect destination charges), before the
    // per-merchant pattern that would match it too; the Worker verifies it.
    POST "/v1/webhooks/stripe/platform"              Signed    => meta::never;
    POST "/v1/webhooks/stripe/:merchant_id"          Signed    => webhooks::stripe;
    POST "/v1/webhooks/cashcloud/:merchant_id"       Signed    => webhooks::cashcloud;
    POST "/v1/webhooks/worldpay/:merchant_id"        Signed    => webhooks::worldpay;
}

/// Internal: the platform's object writes a new merchant into its own object.
const INIT_PATH: &str = "/_internal/merchants/init";

pub(crate) fn merchant_router(data: Object) -> Router<'static, Object> {
    object_router(data, false)
        .post_async(INIT_PATH, merchants::init)
        .post_async(merchants::PLATFORM_FEE_PATH, merchants::set_platform_fee)
        .post_async(merchants::LIVE_KEYS_PATH, merchants::set_live_keys)
        .get_async(
            platform_billing::INVOICES_PATH,
            platform_billing::internal_list,
        )
        .get_async(reconciliations::RUNS_PATH, reconciliations::internal_list)
        .post_async(
            webhooks::PLATFORM_EVENT_PATH,
            webhooks::stripe_platform_event,
        )
}

pub(crate) fn platform_router(data: Object) -> Router<'static, Object> {
    object_router(data, true)
}

/// `pattern`'s `:name` segments bound to `path`'s, if the path matches.
fn match_path<'a>(pattern: &str, path: &'a str) -> Option<Vec<(&'static str, &'a str)>>
where
{
    let (mut p, mut s) = (pattern.split('/'), path.split('/'));
    let mut params = Vec::new();
    loop {
        match (p.next(), s.next()) {
            (None, None) => return Some(params),
            (Some(a), Some(b)) if a.starts_with(':') && !b.is_empty() => {
                // Patterns are 'static literals of ROUTES; leak-free: keep the name slice.
                params.push((
                    ROUTE_PARAM_NAMES.iter().find(|n| **n == &a[1..]).copied()?,
                    b,
                ));
            }
            (Some(a), Some(b)) if a == b => {}
            _ => return None,
        }
    }
}

const ROUTE_PARAM_NAMES: &[&str] = &["id", "provider", "merchant_id", "pm"];

fn param<'a>(params: &[(&str, &'a str)], name: &str) -> &'a str {
    params
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, v)| v)
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let method = req.method();
    let path = req.path();
    let resp = dispatch(req, &env, &method, &path).await;
    http::finish(resp, method.as_ref(), &path)
}

async fn dispatch(req: Request, env: &Env, method: &Method, path: &str) -> Result<Response> {
    let candidates: Vec<_> = ROUTES
        .iter()
        .filter_map(|r| match_path(r.path, path).map(|p| (r, p)))
        .collect();
    let Some((route, params)) = candidates.iter().find(|(r, _)| r.method == method.as_ref()) else {
        if candidates.is_empty() {
            return http::error(&shared::error::ApiError::no_route(method.as_ref(), path));
        }
        let allow: Vec<&str> = candidates.iter().map(|(r, _)| r.method).collect();
        return http::method_not_allowed(method.as_ref(), path, &allow);
    };
    if let Some(retry_after) = over_limit(&req, env, route.who, params).await? {
        return ratelimit::too_many(retry_after);
    }
    match route.who {
        Who::Public => match route.path {
            "/health" => meta::health(),
            _ => meta::openapi(),
        },
        Who::Admin => forward(req, merchant::platform_stub(env)?).await,
        Who::Secret | Who::Widget => {
            // The key names its merchant; whether it is valid, that object decides.
            let key = match api_key(&req) {
                Ok(key) => key,
                Err(fail) => return http::error(&fail.into_api(method.as_ref(), path)),
            };
            let merchant = key
                .and_then(|k| shared::keys::parse_api_key(&k))
                .map(|info| info.merchant_id);
            match merchant {
                Some(m) => forward(req, merchant::merchant_stub(env, &m)?).await,
                None => http::error(&shared::error::ApiError::authentication(
                    "Invalid API key provided. Send `Authorization: Bearer <key>`.",
                )),
            }
        }
        Who::Signed if route.path == "/v1/webhooks/stripe/platform" => {
            webhooks::stripe_platform(req, env).await
        }
        Who::Signed => {
            // An id not of our shape names no merchant: its object is one that never
            // holds a merchant, which answers as for a bad signature.
            let m = param(params, "merchant_id");
            let name = if shared::keys::is_id("acct_", m) {
                m
            } else {
                "acct_none"
            };
            forward(req, merchant::merchant_stub(env, name)?).await
        }
        Who::Hosted => match shared::keys::scoped_id_merchant("in_", param(params, "id")) {
            Some(m) => forward(req, merchant::merchant_stub(env, &m)?).await,
            None => hosted_invoices::not_found(),
        },
        Who::Preflight => match widget_object_merchant(param(params, "id")) {
            Some(m) => forward(req, merchant::merchant_stub(env, &m)?).await,
            None => http::error(&shared::error::ApiError::permission(
                "This origin may not call this endpoint.",
            )),
        },
    }
}

/// The merchant of an object the widget works on (a payment or setup intent).
fn widget_object_merchant(id: &str) -> Option<String> {
    shared::keys::scoped_id_merchant("pi_", id)
        .or_else(|| shared::keys::scoped_id_merchant("seti_", id))
}

/// The public routes' abuse limits (ratelimit.rs): the caller's IP first, then its
/// key — the merchant and kind a widget key claims (or the merchant of the intent a
/// preflight names), the merchant of a callback's path. `Some(seconds)` when over.
async fn over_limit(
    req: &Request,
    env: &Env,
    who: Who,
    params: &[(&'static str, &str)],
) -> Result<Option<u32>> {
    let (per_ip, per_key, key) = match who {
        Who::Widget | Who::Preflight => {
            // A key the object will refuse still counts against its IP.
            let key = api_key(req)
                .ok()
                .flatten()
                .and_then(|k| shared::keys::parse_api_key(&k))
                .map(|i| format!("{}:{:?}:{:?}", i.merchant_id, i.mode, i.kind))
                .or_else(|| widget_object_merchant(param(params, "id")));
            (&ratelimit::WIDGET_PER_IP, &ratelimit::WIDGET_PER_KEY, key)
        }
        Who::Signed => {
            let m = param(params, "merchant_id");
            let key = if m.is_empty() { "platform" } else { m };
            (
                &ratelimit::WEBHOOK_PER_IP,
                &ratelimit::WEBHOOK_PER_MERCHANT,
                Some(key.to_owned()),
            )
        }
        // A customer's page: per IP, and per merchant of the invoice it shows.
        Who::Hosted => (
            &ratelimit::WIDGET_PER_IP,
            &ratelimit::WIDGET_PER_KEY,
            shared::keys::scoped_id_merchant("in_", param(params, "id")),
        ),
        Who::Public | Who::Admin | Who::Secret => return Ok(None),
    };
    let ip = ratelimit::client_ip(req.headers());
    if let Some(wait) = ratelimit::check(env, per_ip, &ip).await? {
        return Ok(Some(wait));
    }
    match key {
        Some(k) => ratelimit::check(env, per_key, &k).await,
        None => Ok(None),
    }
}

/// Hands the request to the object that owns it. The body is read here first,
/// within the size limit: the object may answer (a refused key, say) without reading
/// it, and a stream left half-read across the hop would fail the request.
async fn forward(mut req: Request, stub: worker::Stub) -> Result<Response> {
    let body = match req.method() {
        Method::Post | Method::Put | Method::Patch => match http::read_body(&mut req).await {
            Ok(b) => Some(b),
            Err(f) => return http::error(&f.into_api(req.method().as_ref(), &req.path())),
        },
        _ => None,
    };
    let mut init = worker::RequestInit::new();
    init.with_method(req.method())
        .with_headers(req.headers().clone());
    if let Some(b) = body {
        init.with_body(Some(js_sys::Uint8Array::from(b.as_slice()).into()));
    }
    let inner = Request::new_with_init(req.url()?.as_str(), &init)?;
    stub.fetch_with_request(inner).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn paths_match_with_their_parameters() {
        let p = match_path(
            "/v1/payment_intents/:id/confirm",
            "/v1/payment_intents/pi_1/confirm",
        );
        assert_eq!(p, Some(vec![("id", "pi_1")]));
        assert_eq!(
            match_path("/v1/payment_intents/:id", "/v1/payment_intents/"),
            None
        );
        assert_eq!(
            match_path("/v1/payment_intents/:id", "/v1/payment_intents/a/b"),
            None
        );
        assert_eq!(
            match_path("/v1/merchants/me", "/v1/merchants/me"),
            Some(vec![])
        );
    }

    /// Every route is documented in openapi.json and every documented operation is
    /// routed, in both directions (preflights are CORS, not API operations).
    #[test]
    fn openapi_documents_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(include_str!("../openapi.json")).unwrap();
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    let p = path.replace('{', ":").replace('}', "");
                    documented.insert((method.to_uppercase(), p));
                }
            }
        }
        let routed: BTreeSet<_> = ROUTES
            .iter()
            .filter(|r| r.who != Who::Preflight)
            .map(|r| (r.method.to_owned(), r.path.to_owned()))
            .collect();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty(),
            "routed but not in openapi.json: {undocumented:?}"
        );
        assert!(
            unrouted.is_empty(),
            "in openapi.json but not routed: {unrouted:?}"
        );
    }

    #[test]
    fn param_names_cover_the_table() {
        for r in ROUTES {
            for seg in r.path.split('/').filter(|s| s.starts_with(':')) {
                assert!(ROUTE_PARAM_NAMES.contains(&&seg[1..]), "{}", r.path);
            }
        }
    }
}
