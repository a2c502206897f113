//! `GET /v1/hosted_invoices/{id}?token=…`: the page an invoice's `hosted_url` opens
//! when the bank wanted the customer present (3-D Secure off session). It mounts the
//! widget on the invoice's payment intent; paying there pays the invoice and makes
//! the subscription active again. No key: the unguessable token is the capability,
//! and it only lets the customer pay that invoice.

use shared::billing::InvoiceStatus;
use shared::keys::{constant_time_eq, is_id};
use shared::money::Money;
use worker::{Request, Response, Result, RouteContext};

use crate::ctx::Ctx;
use crate::merchant::Object;

fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn page(status: u16, csp: &str, title: &str, body: &str) -> Result<Response> {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><link rel=\"stylesheet\" href=\"/site.css\"></head>\
         <body><main class=\"hosted\">{body}</main></body></html>",
        escape(title)
    );
    let mut resp = Response::from_html(html)?.with_status(status);
    let h = resp.headers_mut();
    h.set("content-security-policy", csp)?;
    h.set("cache-control", "no-store")?;
    h.set("referrer-policy", "no-referrer")?;
    h.set("x-content-type-options", "nosniff")?;
    Ok(resp)
}

const PLAIN_CSP: &str =
    "default-src 'none'; style-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/// An id that names no merchant: answered by the Worker itself.
pub fn not_found() -> Result<Response> {
    page(
        404,
        PLAIN_CSP,
        "Invoice not found",
        "<h1>Invoice not found</h1><p>This link is not valid. Ask the shop for a new one.</p>",
    )
}

pub async fn show(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    let url = req.url()?;
    let token = url
        .query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let id = rc.param("id").cloned().unwrap_or_default();
    let ctx = Ctx::new(rc.data.storage(), rc.env.clone());
    if !is_id("in_", &id) {
        return not_found();
    }
    let Ok(inv) = ctx.store.invoice_any(&id) else {
        return not_found();
    };
    if !constant_time_eq(token.as_bytes(), inv.hosted_token.as_bytes()) {
        return not_found();
    }
    let (Some(m), Ok(intent)) = (ctx.store.merchant()?, ctx.store.intent(&inv.payment_intent))
    else {
        return not_found();
    };
    let amount = Money::from_minor_units(inv.amount, intent.currency().map_err(err)?)
        .map_err(|_| worker::Error::RustError("invoice amount".into()))?;
    let heading = format!(
        "<h1>{}</h1><p>Invoice {} · {} {}</p>",
        escape(&m.name),
        escape(&inv.id),
        amount.currency().code(),
        amount.to_amount_string()
    );
    match inv.status().map_err(err)? {
        InvoiceStatus::Paid => {
            return page(
                200,
                PLAIN_CSP,
                "Invoice paid",
                &format!("{heading}<p role=\"status\">This invoice is paid. Thank you.</p>"),
            )
        }
        InvoiceStatus::Open => {}
        InvoiceStatus::Draft | InvoiceStatus::Void | InvoiceStatus::Uncollectible => {
            return page(
                410,
                PLAIN_CSP,
                "Invoice closed",
                &format!("{heading}<p>This invoice can no longer be paid here.</p>"),
            )
        }
    }
    let Some(pk) = ctx.store.publishable_key(intent.row.livemode != 0)? else {
        return page(
            503,
            PLAIN_CSP,
            "Not available",
            "<h1>Not available</h1><p>Online payment is not available for this shop yet.</p>",
        );
    };
    let js = ctx.env.var("STRIPE_JS_URL")?.to_string();
    let stripe = worker::Url::parse(&js)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    // The widget's own policy (README): no 'unsafe-inline', no 'unsafe-eval'.
    let csp = format!(
        "default-src 'none'; script-src 'self' {stripe} 'wasm-unsafe-eval'; \
         connect-src 'self' {stripe}; frame-src {stripe}; style-src 'self'; img-src 'self' data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    page(
        200,
        &csp,
        &format!("Pay invoice {}", inv.id),
        &format!(
            "{heading}<p>Your bank asks you to confirm this payment.</p>\
             <div id=\"checkout\"></div>\
             <script src=\"/v1/checkout.js\" data-publishable-key=\"{}\" \
             data-client-secret=\"{}\" data-target=\"#checkout\" async></script>",
            escape(&pk),
            escape(&intent.row.client_secret)
        ),
    )
}

fn err(f: crate::http::Fail) -> worker::Error {
    worker::Error::RustError(f.into_api("GET", "hosted_invoice").message)
}
