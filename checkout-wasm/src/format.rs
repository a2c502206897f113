//! What the widget shows, computed without the DOM where it can be.

/// The amount as the customer reads it in their own locale, e.g. `CHF 12.50`,
/// `12,50 €`, `￥5`. `amount` is the API's exact decimal string: Intl formats
/// strings without passing through a float.
pub fn format_amount(amount: &str, currency: &str, locale: &str) -> String {
    use js_sys::{Array, Intl::NumberFormat, Object, Reflect};
    use wasm_bindgen::JsValue;
    let opts = Object::new();
    let _ = Reflect::set(&opts, &"style".into(), &"currency".into());
    let _ = Reflect::set(&opts, &"currency".into(), &currency.into());
    let locales = Array::of1(&JsValue::from_str(locale));
    let nf = NumberFormat::new(&locales, &opts);
    let format = nf.format();
    format
        .call1(&JsValue::UNDEFINED, &JsValue::from_str(amount))
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_else(|| [currency, " ", amount].concat())
}
