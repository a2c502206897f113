//! The edge Worker. The route table below is the whole API surface on one screen;
//! each handler lives in the module named for what it serves.

use worker::{event, Context, Env, Request, Response, Result, Router};

mod accounts;
mod auth;
mod call;
mod cashcloud;
mod cashcloud_flow;
mod checkout;
mod cron;
mod ctx;
mod http;
mod idempotency;
mod intents;
mod merchants;
mod meta;
mod outbound;
mod payments;
mod refunds;
mod stripe;
mod webhooks;
mod worldpay;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let method = req.method().to_string();
    let path = req.path();
    let router = Router::new()
        .get_async("/health", meta::health)
        .get_async("/openapi.json", meta::openapi)
        // Merchants and their provider credentials.
        .post_async("/v1/merchants", merchants::create)
        .get_async("/v1/merchants/me", merchants::me)
        .patch_async("/v1/merchants/me", merchants::update)
        .post_async("/v1/merchants/me/keys/roll", merchants::roll_key)
        .get_async("/v1/merchants/me/providers", accounts::list)
        .put_async("/v1/merchants/me/providers/:provider", accounts::put)
        .delete_async("/v1/merchants/me/providers/:provider", accounts::delete)
        // Payment intents.
        .post_async("/v1/payment_intents", intents::create)
        .get_async("/v1/payment_intents", intents::list)
        .get_async("/v1/payment_intents/:id", intents::retrieve)
        .options_async("/v1/payment_intents/:id", call::preflight)
        .post_async("/v1/payment_intents/:id/cancel", intents::cancel)
        .post_async("/v1/payment_intents/:id/capture", intents::capture)
        .post_async("/v1/refunds", refunds::create)
        // The widget's routes (publishable key + client secret), with CORS preflights.
        .get_async("/v1/payment_intents/:id/checkout", checkout::checkout)
        .options_async("/v1/payment_intents/:id/checkout", call::preflight)
        .post_async("/v1/payment_intents/:id/confirm", checkout::confirm)
        .options_async("/v1/payment_intents/:id/confirm", call::preflight)
        // Signed provider callbacks.
        .post_async("/v1/webhooks/stripe/:merchant_id", webhooks::stripe)
        .post_async("/v1/webhooks/cashcloud/:merchant_id", webhooks::cashcloud)
        .post_async("/v1/webhooks/worldpay/:merchant_id", webhooks::worldpay);
    let resp = router.run(req, env).await;
    http::finish(resp, &method, &path)
}
