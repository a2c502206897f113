//! The widget's DOM. Text from the server goes in through `text_content` only,
//! never as HTML, so nothing an intent holds can script the merchant's page.

use shared::api::PaymentIntent;
use wasm_bindgen::JsValue;
use web_sys::{CustomEvent, CustomEventInit, Document, Element};

const STYLE_ID: &str = "ec-checkout-style";
const STYLE: &str = ".ec-checkout{font:16px/1.4 system-ui,sans-serif;max-width:28rem;padding:1rem;border:1px solid #d0d4da;border-radius:.5rem}\
.ec-amount{font-size:1.5rem;font-weight:600;margin:0 0 .5rem}\
.ec-status{margin:.5rem 0 0;color:#374151}.ec-checkout[data-state=error] .ec-status{color:#b42318}";

pub struct View {
    doc: Document,
    target: Element,
    root: Element,
    amount: Element,
    status: Element,
}

impl View {
    pub fn new(target: &Element) -> Result<View, JsValue> {
        let doc = target
            .owner_document()
            .ok_or_else(|| JsValue::from_str("target is not in a document"))?;
        ensure_style(&doc)?;
        let root = doc.create_element("div")?;
        root.set_class_name("ec-checkout");
        root.set_attribute("data-state", "loading")?;
        let amount = doc.create_element("p")?;
        amount.set_class_name("ec-amount");
        let status = doc.create_element("p")?;
        status.set_class_name("ec-status");
        // Announced to screen readers as it changes, without stealing focus.
        status.set_attribute("role", "status")?;
        status.set_attribute("aria-live", "polite")?;
        root.append_child(&amount)?;
        root.append_child(&status)?;
        target.replace_children_with_node_1(&root);
        Ok(View {
            doc,
            target: target.clone(),
            root,
            amount,
            status,
        })
    }

    pub fn status(&self, text: &str) {
        self.status.set_text_content(Some(text));
    }

    pub fn error(&self, text: &str) {
        let _ = self.root.set_attribute("data-state", "error");
        self.status(text);
    }

    pub fn show_intent(&self, intent: &PaymentIntent) -> Result<(), JsValue> {
        let locale = self
            .doc
            .default_view()
            .map(|w| w.navigator().language().unwrap_or_default())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "en".to_owned());
        let text = crate::format::format_amount(&intent.amount, intent.currency.code(), &locale);
        self.amount.set_text_content(Some(&text));
        self.root
            .set_attribute("data-state", intent.status.as_str())?;
        self.root.set_attribute("data-amount", &intent.amount)?;
        self.root
            .set_attribute("data-currency", intent.currency.code())?;
        self.status("");
        Ok(())
    }

    /// Records how long `mount()` took, for the start-up benchmark, and tells the page.
    pub fn mounted_in(&self, ms: f64) {
        let _ = self
            .root
            .set_attribute("data-mount-ms", &format!("{ms:.2}"));
        let _ = self.dispatch("checkout:ready", &format!("{ms:.2}"));
    }

    /// Dispatches one of the contract's DOM events on the merchant's target.
    pub fn dispatch(&self, name: &str, detail: &str) -> Result<(), JsValue> {
        let init = CustomEventInit::new();
        init.set_bubbles(true);
        init.set_detail(&JsValue::from_str(detail));
        let ev = CustomEvent::new_with_event_init_dict(name, &init)?;
        self.target.dispatch_event(&ev)?;
        Ok(())
    }
}

fn ensure_style(doc: &Document) -> Result<(), JsValue> {
    if doc.get_element_by_id(STYLE_ID).is_some() {
        return Ok(());
    }
    let style = doc.create_element("style")?;
    style.set_id(STYLE_ID);
    style.set_text_content(Some(STYLE));
    if let Some(head) = doc.head() {
        head.append_child(&style)?;
    }
    Ok(())
}
