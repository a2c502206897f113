//! Small DOM helpers the views share.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// Appends `<script src=url>` to the document head and waits for it to load.
pub async fn load_script(url: &str) -> Result<(), JsValue> {
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let script = doc.create_element("script")?;
    script.set_attribute("src", url)?;
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        let _ = script.add_event_listener_with_callback("load", &resolve);
        let _ = script.add_event_listener_with_callback("error", &reject);
    });
    doc.head().ok_or("no head")?.append_child(&script)?;
    JsFuture::from(promise)
        .await
        .map_err(|_| JsValue::from_str("The payment provider's script did not load."))?;
    Ok(())
}

/// Waits `ms` milliseconds without blocking the page.
pub async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// `document.hidden`: the customer is on another tab, so polling would be wasted.
pub fn tab_hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| js_sys::Reflect::get(&d, &"hidden".into()).ok())
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// Resolves when the tab becomes visible again.
pub async fn wait_until_visible() {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    while tab_hidden() {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            let opts = web_sys::AddEventListenerOptions::new();
            opts.set_once(true);
            let _ = doc.add_event_listener_with_callback_and_add_event_listener_options(
                "visibilitychange",
                &resolve,
                &opts,
            );
        });
        let _ = JsFuture::from(promise).await;
    }
}
