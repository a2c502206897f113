//! The checkout widget. One classic `<script>` tag loads it (see `bootstrap.js`);
//! `mount` renders into the merchant's target element. Card data never passes
//! through here: the provider's hosted fields own it.

use wasm_bindgen::prelude::*;

mod api;
mod dom;
mod flow;
mod format;
mod stripe_js;
mod view;

pub use format::format_amount;

/// Mounts the checkout for one payment intent into `target`.
///
/// `api_base` is the Worker's origin (the script's own origin when loaded by tag).
/// Resolves once the widget is interactive (the provider's fields are up, or the
/// outcome is shown); rejects with a message otherwise, after dispatching
/// `checkout:failed` on the target.
#[wasm_bindgen]
pub async fn mount(
    target: web_sys::Element,
    publishable_key: String,
    client_secret: String,
    api_base: String,
) -> Result<(), JsValue> {
    flow::mount(target, publishable_key, client_secret, api_base).await
}
