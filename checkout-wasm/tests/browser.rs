//! The widget in a real browser (headless Chromium through wasm-bindgen-test-runner).
#![cfg(target_arch = "wasm32")]

use checkout_wasm::{format_amount, mount};
use wasm_bindgen::{closure::Closure, JsCast};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn target(id: &str) -> web_sys::Element {
    let doc = web_sys::window().unwrap().document().unwrap();
    let el = doc.create_element("div").unwrap();
    el.set_id(id);
    doc.body().unwrap().append_child(&el).unwrap();
    el
}

#[wasm_bindgen_test]
fn amounts_are_formatted_exactly_for_the_locale() {
    assert_eq!(
        format_amount("1234.50", "CHF", "de-CH"),
        "CHF\u{a0}1'234.50"
    );
    assert_eq!(format_amount("1234.50", "EUR", "de-DE"), "1.234,50\u{a0}€");
    assert_eq!(format_amount("5", "JPY", "ja-JP"), "￥5");
    assert_eq!(format_amount("1.250", "KWD", "en-US"), "KWD\u{a0}1.250");
    // Beyond float precision: formatted from the decimal string, not a float.
    assert_eq!(
        format_amount("90071992547409.93", "USD", "en-US"),
        "$90,071,992,547,409.93"
    );
}

#[wasm_bindgen_test]
async fn a_malformed_client_secret_shows_an_error_and_dispatches_checkout_failed() {
    let el = target("t-bad-secret");
    let failed = std::rc::Rc::new(std::cell::Cell::new(false));
    let seen = failed.clone();
    let on_failed = Closure::<dyn FnMut()>::new(move || seen.set(true));
    el.add_event_listener_with_callback("checkout:failed", on_failed.as_ref().unchecked_ref())
        .unwrap();
    let result = mount(
        el.clone(),
        "pk_test_x".into(),
        "not-a-secret<script>".into(),
        "http://127.0.0.1:1".into(),
    )
    .await;
    assert!(result.is_err());
    assert!(failed.get(), "checkout:failed was dispatched");
    let root = el.query_selector(".ec-checkout").unwrap().unwrap();
    assert_eq!(root.get_attribute("data-state").as_deref(), Some("error"));
    let status = el.query_selector(".ec-status").unwrap().unwrap();
    assert_eq!(status.get_attribute("role").as_deref(), Some("status"));
    assert!(status.text_content().unwrap().contains("not valid"));
    // Nothing from the input became markup.
    assert!(el.query_selector("script").unwrap().is_none());
}

#[wasm_bindgen_test]
async fn an_unreachable_worker_is_reported_to_the_customer() {
    let el = target("t-unreachable");
    let result = mount(
        el.clone(),
        "pk_test_x".into(),
        format!("pi_{}1_secret_{}1", "0".repeat(21), "0".repeat(32)),
        "http://127.0.0.1:9".into(),
    )
    .await;
    assert!(result.is_err());
    let status = el.query_selector(".ec-status").unwrap().unwrap();
    assert!(status
        .text_content()
        .unwrap()
        .contains("could not reach the payment service"));
}
