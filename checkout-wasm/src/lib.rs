//! The checkout widget. One classic `<script>` tag loads it (see `bootstrap.js`);
//! `mount` renders into the merchant's target element. Card data never passes
//! through here: the provider's hosted fields own it.

use wasm_bindgen::prelude::*;

mod api;
mod format;
mod view;

pub use format::format_amount;

/// Mounts the checkout for one payment intent into `target`.
///
/// `api_base` is the Worker's origin (the script's own origin when loaded by tag).
/// Resolves once the widget shows the intent; rejects with a message otherwise,
/// after dispatching `checkout:failed` on the target.
#[wasm_bindgen]
pub async fn mount(
    target: web_sys::Element,
    publishable_key: String,
    client_secret: String,
    api_base: String,
) -> Result<(), JsValue> {
    let started = js_sys::Date::now();
    let view = view::View::new(&target)?;
    view.status("Loading the payment…");
    let client = api::Client::new(api_base, publishable_key, client_secret);
    match client.fetch_intent().await {
        Ok(intent) => {
            view.show_intent(&intent)?;
            view.mounted_in(js_sys::Date::now() - started);
            Ok(())
        }
        Err(message) => {
            view.error(&message);
            view.dispatch("checkout:failed", &message)?;
            Err(JsValue::from_str(&message))
        }
    }
}
