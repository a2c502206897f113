//! The widget in a real browser (headless Chromium through wasm-bindgen-test-runner).
#![cfg(target_arch = "wasm32")]

use checkout_wasm::format::{format_amount, CURRENCIES, REGIONS};
use checkout_wasm::mount;
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
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
        format_amount("1234.50", "CHF", "de", "CH"),
        "CHF\u{a0}1'234.50"
    );
    assert_eq!(
        format_amount("1234.50", "EUR", "de", "DE"),
        "1.234,50\u{a0}€"
    );
    assert_eq!(format_amount("1.250", "KWD", "en", "US"), "KWD\u{a0}1.250");
    // Beyond float precision: formatted from the decimal string, not a float.
    assert_eq!(
        format_amount("90071992547409.93", "USD", "en", "US"),
        "$90,071,992,547,409.93"
    );
}

/// The widget's table (format/cldr.rs) says what this browser's Intl.NumberFormat
/// says, for every language × region × currency it covers and amounts of every
/// length that grouping treats differently.
#[wasm_bindgen_test]
fn the_amount_table_matches_intl_in_this_browser() {
    use js_sys::{Array, Intl::NumberFormat, Object, Reflect};
    let mut checked = 0;
    let mut wrong = Vec::new();
    for lang in ["en", "de", "fr", "it", "ru"] {
        for region in std::iter::once("").chain(REGIONS) {
            let locale = if region.is_empty() {
                lang.to_owned()
            } else {
                format!("{lang}-{region}")
            };
            for code in CURRENCIES {
                let digits = shared::money::Currency::parse(code).unwrap().exponent() as usize;
                let opts = Object::new();
                Reflect::set(&opts, &"style".into(), &"currency".into()).unwrap();
                Reflect::set(&opts, &"currency".into(), &code.into()).unwrap();
                let nf = NumberFormat::new(&Array::of1(&locale.as_str().into()), &opts);
                for int in [
                    "0",
                    "7",
                    "999",
                    "1234",
                    "12345",
                    "123456",
                    "1234567",
                    "90071992547409",
                ] {
                    let amount = if digits == 0 {
                        int.to_owned()
                    } else {
                        format!("{int}.{}", &"505"[..digits])
                    };
                    let intl = nf
                        .format()
                        .call1(&JsValue::UNDEFINED, &amount.as_str().into())
                        .unwrap()
                        .as_string()
                        .unwrap();
                    let ours = format_amount(&amount, code, lang, region);
                    if ours != intl {
                        wrong.push(format!(
                            "{locale} {code} {amount}: {ours:?} != Intl {intl:?}"
                        ));
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 5 * 11 * 12 * 8);
    assert!(
        wrong.is_empty(),
        "{} of {checked} differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

fn table(text: &str) -> JsValue {
    let p: js_sys::Promise = js_sys::Promise::resolve(&JsValue::from_str(text));
    p.into()
}

fn options(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        js_sys::Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o.into()
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
        options(&[
            ("publishableKey", "pk_test_x".into()),
            ("clientSecret", "not-a-secret<script>".into()),
            ("apiBase", "http://127.0.0.1:1".into()),
            ("locale", "en".into()),
        ]),
    )
    .await;
    assert!(result.is_err());
    assert!(failed.get(), "checkout:failed was dispatched");
    let root = el.query_selector(".ec-checkout").unwrap().unwrap();
    assert_eq!(root.get_attribute("data-state").as_deref(), Some("error"));
    // A problem is an alert (announced at once); the status line is empty.
    let alert = el.query_selector("[role=alert]").unwrap().unwrap();
    assert!(alert.text_content().unwrap().contains("not valid"));
    let status = el.query_selector("[role=status]").unwrap().unwrap();
    assert_eq!(status.text_content().unwrap(), "");
    // Nothing from the input became markup.
    assert!(el.query_selector("script").unwrap().is_none());
}

#[wasm_bindgen_test]
async fn an_unreachable_worker_is_reported_in_the_language_of_the_page() {
    let el = target("t-unreachable");
    el.set_attribute("lang", "de-CH").unwrap();
    let result = mount(
        el.clone(),
        options(&[
            ("publishableKey", "pk_test_x".into()),
            (
                "clientSecret",
                format!("pi_{}1_secret_{}1", "0".repeat(21), "0".repeat(32)).into(),
            ),
            ("apiBase", "http://127.0.0.1:9".into()),
            // As the bootstrap hands it over: the table, fetched in parallel.
            ("stringsLang", "de".into()),
            ("strings", table(include_str!("../src/i18n/de.txt"))),
        ]),
    )
    .await;
    assert!(result.is_err());
    let root = el.query_selector(".ec-checkout").unwrap().unwrap();
    assert_eq!(root.get_attribute("lang").as_deref(), Some("de"));
    assert_eq!(root.get_attribute("aria-label").as_deref(), Some("Zahlung"));
    let alert = el.query_selector("[role=alert]").unwrap().unwrap();
    assert_eq!(
        alert.text_content().unwrap(),
        "Der Zahlungsdienst ist nicht erreichbar. Prüfen Sie Ihre Verbindung und versuchen Sie es erneut."
    );
}

#[wasm_bindgen_test]
async fn a_setup_intents_secret_speaks_save_card_words_and_names_the_setup_intent() {
    let el = target("t-setup");
    el.set_attribute("lang", "de").unwrap();
    let detail = std::rc::Rc::new(std::cell::RefCell::new(JsValue::UNDEFINED));
    let seen = detail.clone();
    let on_failed =
        Closure::<dyn FnMut(web_sys::CustomEvent)>::new(move |e: web_sys::CustomEvent| {
            *seen.borrow_mut() = e.detail();
        });
    el.add_event_listener_with_callback("checkout:failed", on_failed.as_ref().unchecked_ref())
        .unwrap();
    let result = mount(
        el.clone(),
        options(&[
            ("publishableKey", "pk_test_x".into()),
            (
                "clientSecret",
                format!("seti_{}1_secret_{}1", "0".repeat(21), "0".repeat(32)).into(),
            ),
            ("apiBase", "http://127.0.0.1:9".into()),
            ("stringsLang", "de".into()),
            ("strings", table(include_str!("../src/i18n/de.txt"))),
        ]),
    )
    .await;
    assert!(result.is_err());
    let root = el.query_selector(".ec-checkout").unwrap().unwrap();
    assert_eq!(
        root.get_attribute("aria-label").as_deref(),
        Some("Karte speichern")
    );
    let detail = detail.borrow();
    let field = |k: &str| js_sys::Reflect::get(&detail, &k.into()).unwrap();
    assert_eq!(field("setup_intent").as_string().as_deref(), Some(""));
    assert!(field("payment_intent").is_undefined());
    assert_eq!(field("status").as_string().as_deref(), Some("error"));
}

#[wasm_bindgen_test]
async fn without_its_table_a_language_falls_back_to_english() {
    let el = target("t-no-table");
    el.set_attribute("lang", "ru").unwrap();
    let _ = mount(
        el.clone(),
        options(&[
            ("clientSecret", "bad".into()),
            ("stringsLang", "ru".into()),
            ("strings", {
                let p: js_sys::Promise = js_sys::Promise::reject(&"offline".into());
                p.into()
            }),
        ]),
    )
    .await;
    let alert = el.query_selector("[role=alert]").unwrap().unwrap();
    assert_eq!(
        alert.text_content().unwrap(),
        "This payment link is not valid."
    );
}

#[wasm_bindgen_test]
async fn styles_come_from_an_adopted_sheet_and_appearance_sets_theme_and_variables() {
    let doc = web_sys::window().unwrap().document().unwrap();
    let el = target("t-theme");
    let appearance = js_sys::JSON::parse(
        r##"{"theme":"night","variables":{"colorPrimary":"#ff0000","borderRadius":"0px","colorText":"not a colour;x"}}"##,
    )
    .unwrap();
    let _ = mount(
        el.clone(),
        options(&[
            ("clientSecret", "bad".into()),
            ("locale", "fr".into()),
            ("stringsLang", "fr".into()),
            ("strings", table(include_str!("../src/i18n/fr.txt"))),
            ("appearance", appearance),
        ]),
    )
    .await;
    // No <style> element and no style="" markup: a strict CSP would block both.
    assert!(doc.query_selector("style").unwrap().is_none());
    let sheets =
        js_sys::Array::from(&js_sys::Reflect::get(&doc, &"adoptedStyleSheets".into()).unwrap());
    assert_eq!(
        sheets.length(),
        1,
        "one adopted sheet, however many widgets"
    );
    let root: web_sys::HtmlElement = el
        .query_selector(".ec-checkout")
        .unwrap()
        .unwrap()
        .dyn_into()
        .unwrap();
    assert_eq!(root.get_attribute("data-theme").as_deref(), Some("night"));
    let computed = web_sys::window()
        .unwrap()
        .get_computed_style(&root)
        .unwrap()
        .unwrap();
    // The merchant's variable wins over the theme's default ...
    assert_eq!(
        computed.get_property_value("--ec-primary").unwrap().trim(),
        "#ff0000"
    );
    assert_eq!(
        computed
            .get_property_value("border-top-left-radius")
            .unwrap(),
        "0px"
    );
    // ... the night theme's background applies ...
    assert_eq!(
        computed.get_property_value("background-color").unwrap(),
        "rgb(31, 36, 48)"
    );
    // ... and a value that is no CSS is dropped, not injected.
    assert_eq!(
        computed.get_property_value("--ec-text").unwrap().trim(),
        "#e8eaed"
    );
    let alert = el.query_selector("[role=alert]").unwrap().unwrap();
    assert_eq!(
        alert.text_content().unwrap(),
        "Ce lien de paiement n’est pas valide."
    );
}
