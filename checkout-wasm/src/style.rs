//! The widget's look, without a `<style>` element or a `style=""` attribute, so it
//! runs under a Content-Security-Policy without `'unsafe-inline'`: one constructed
//! stylesheet adopted by the document, and the merchant's `appearance` variables set
//! through the CSSOM (`element.style.setProperty`), which CSP does not block.

use wasm_bindgen::prelude::*;
use web_sys::{Document, Element, HtmlElement};

use crate::model::Json;

/// Each API.md `appearance.variables` name and the custom property it sets.
pub const VARIABLES: [(&str, &str); 8] = [
    ("colorPrimary", "--ec-primary"),
    ("colorBackground", "--ec-bg"),
    ("colorText", "--ec-text"),
    ("colorDanger", "--ec-danger"),
    ("fontFamily", "--ec-font"),
    ("fontSizeBase", "--ec-size"),
    ("borderRadius", "--ec-radius"),
    ("spacingUnit", "--ec-space"),
];

/// Themes change only the defaults of the variables (and flat drops the frame).
const CSS: &str = "\
.ec-checkout{--ec-primary:#1d4ed8;--ec-on-primary:#fff;--ec-bg:#fff;--ec-text:#1f2937;--ec-muted:#374151;\
--ec-danger:#b42318;--ec-ok:#067647;--ec-line:#8a94a3;--ec-font:system-ui,sans-serif;--ec-size:16px;\
--ec-radius:8px;--ec-space:16px;\
font-family:var(--ec-font);font-size:var(--ec-size);line-height:1.4;color:var(--ec-text);background:var(--ec-bg);\
max-width:28rem;padding:var(--ec-space);border:1px solid var(--ec-line);border-radius:var(--ec-radius)}\
.ec-checkout[data-theme=night]{--ec-primary:#8ab4f8;--ec-on-primary:#0b1220;--ec-bg:#1f2430;--ec-text:#e8eaed;\
--ec-muted:#c4c7cc;--ec-danger:#ffb4ab;--ec-ok:#7ee2a8;--ec-line:#5f6b7a}\
.ec-checkout[data-theme=flat]{--ec-bg:#f3f4f6;border-color:transparent}\
.ec-amount{font-size:1.5em;font-weight:600;margin:0 0 calc(var(--ec-space)*.75)}.ec-amount:empty{display:none}\
.ec-fields{margin:0 0 calc(var(--ec-space)*.75);min-height:2.5rem}.ec-fields:empty{display:none}\
.ec-pay{font:inherit;font-weight:600;min-height:44px;min-width:44px;padding:.6em 1em;border:2px solid transparent;\
border-radius:calc(var(--ec-radius)*.75);background:var(--ec-primary);color:var(--ec-on-primary);cursor:pointer}\
.ec-pay[aria-disabled=true]{opacity:.7;cursor:progress}\
.ec-pay:focus-visible{outline:3px solid var(--ec-text);outline-offset:2px}\
.ec-status,.ec-alert{margin:.5em 0 0;color:var(--ec-muted)}.ec-status:empty,.ec-alert:empty{display:none}\
.ec-alert{color:var(--ec-danger);font-weight:600}\
.ec-checkout[data-state=succeeded] .ec-status,.ec-checkout[data-state=requires_capture] .ec-status{color:var(--ec-ok)}\
.ec-field{display:block;margin:0 0 calc(var(--ec-space)*.75)}.ec-field label{display:block;font-size:.9em;margin:0 0 .25em}\
.ec-field input{font:inherit;color:inherit;background:var(--ec-bg);width:100%;min-height:44px;box-sizing:border-box;\
padding:.5em;border:1px solid var(--ec-line);border-radius:calc(var(--ec-radius)*.5)}\
.ec-countdown{font-variant-numeric:tabular-nums;margin:.25em 0 0;color:var(--ec-muted)}.ec-countdown:empty{display:none}\
@media (forced-colors:active){.ec-pay{border-color:ButtonText}.ec-alert{color:CanvasText}}";

#[wasm_bindgen]
extern "C" {
    type Sheet;
    #[wasm_bindgen(constructor, js_class = "CSSStyleSheet")]
    fn new() -> Sheet;
    #[wasm_bindgen(method, js_name = replaceSync)]
    fn replace_sync(this: &Sheet, css: &str);
}

const MARK: &str = "__ecCheckoutSheet";

/// Adopts the widget's stylesheet into `doc`, once per document.
pub fn adopt(doc: &Document) -> Result<(), JsValue> {
    use js_sys::{Array, Reflect};
    if Reflect::get(doc, &MARK.into())?.is_truthy() {
        return Ok(());
    }
    let sheet = Sheet::new();
    sheet.replace_sync(CSS);
    // Keep the page's own adopted sheets: append ours.
    let adopted = Array::from(&Reflect::get(doc, &"adoptedStyleSheets".into())?);
    adopted.push(&sheet);
    Reflect::set(doc, &"adoptedStyleSheets".into(), &adopted)?;
    Reflect::set(doc, &MARK.into(), &JsValue::TRUE)?;
    Ok(())
}

/// Applies `appearance` (`{theme, variables}`) to the widget's root.
pub fn apply(root: &Element, appearance: &JsValue) {
    let theme = match appearance.text_at("theme").as_deref() {
        Some("night") => "night",
        Some("flat") => "flat",
        _ => "default",
    };
    let _ = root.set_attribute("data-theme", theme);
    let (Some(vars), Some(el)) = (
        appearance.field("variables"),
        wasm_bindgen::JsCast::dyn_ref::<HtmlElement>(root),
    ) else {
        return;
    };
    for (name, property) in VARIABLES {
        if let Some(value) = vars.text_at(name) {
            // An invalid value is dropped by the CSS parser, as in a stylesheet.
            let _ = el.style().set_property(property, &value);
        }
    }
}

/// The resolved values of our custom properties on `root` (theme default or the
/// merchant's variable), to hand the provider's fields the same look.
pub struct Resolved(web_sys::CssStyleDeclaration);

impl Resolved {
    pub fn of(root: &Element) -> Option<Resolved> {
        let window = web_sys::window()?;
        Some(Resolved(window.get_computed_style(root).ok()??))
    }

    /// One property's value; `None` when it is empty.
    pub fn get(&self, property: &str) -> Option<String> {
        let v = self.0.get_property_value(property).ok()?;
        let v = v.trim();
        (!v.is_empty()).then(|| v.to_owned())
    }
}
