//! The widget's DOM. Text from the server goes in through `text_content` only,
//! never as HTML, so nothing an intent holds can script the merchant's page.

use shared::api::PaymentIntent;
use wasm_bindgen::JsValue;
use web_sys::{CustomEvent, CustomEventInit, Document, Element, HtmlElement};

const STYLE_ID: &str = "ec-checkout-style";
const STYLE: &str = ".ec-checkout{font:16px/1.4 system-ui,sans-serif;max-width:28rem;padding:1rem;border:1px solid #d0d4da;border-radius:.5rem}\
.ec-amount{font-size:1.5rem;font-weight:600;margin:0 0 .75rem}\
.ec-fields{margin:0 0 .75rem;min-height:2.5rem}.ec-fields:empty{display:none}\
.ec-pay{font:inherit;font-weight:600;padding:.6rem 1rem;border:0;border-radius:.4rem;background:#1d4ed8;color:#fff;cursor:pointer}\
.ec-pay:disabled{opacity:.6;cursor:progress}.ec-pay:focus-visible{outline:3px solid #93c5fd;outline-offset:2px}\
.ec-status{margin:.5rem 0 0;color:#374151}.ec-checkout[data-state=error] .ec-status,.ec-status[data-tone=error]{color:#b42318}\
.ec-field{display:block;margin:0 0 .75rem}.ec-field label{display:block;font-size:.9rem;margin:0 0 .25rem}\
.ec-field input{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #9aa3ae;border-radius:.4rem}\
.ec-countdown{font-variant-numeric:tabular-nums;margin:.25rem 0 0;color:#374151}.ec-countdown:empty{display:none}\
.ec-checkout[data-state=succeeded] .ec-status,.ec-checkout[data-state=requires_capture] .ec-status{color:#067647}";

pub struct View {
    doc: Document,
    target: Element,
    root: Element,
    amount: Element,
    pub fields: Element,
    pay: HtmlElement,
    status: Element,
    countdown: Element,
}

impl View {
    pub fn new(target: &Element) -> Result<View, JsValue> {
        let doc = target
            .owner_document()
            .ok_or_else(|| JsValue::from_str("target is not in a document"))?;
        ensure_style(&doc)?;
        let el = |tag: &str, class: &str| -> Result<Element, JsValue> {
            let e = doc.create_element(tag)?;
            e.set_class_name(class);
            Ok(e)
        };
        let root = el("div", "ec-checkout")?;
        root.set_attribute("data-state", "loading")?;
        root.set_attribute("role", "group")?;
        root.set_attribute("aria-label", "Payment")?;
        let amount = el("p", "ec-amount")?;
        let fields = el("div", "ec-fields")?;
        let pay: HtmlElement = wasm_bindgen::JsCast::unchecked_into(el("button", "ec-pay")?);
        pay.set_attribute("type", "button")?;
        pay.set_hidden(true);
        let status = el("p", "ec-status")?;
        // Announced to screen readers as it changes, without stealing focus.
        status.set_attribute("role", "status")?;
        status.set_attribute("aria-live", "polite")?;
        // Not live: a ticking clock would be read out every second; the status
        // line announces the state changes instead.
        let countdown = el("p", "ec-countdown")?;
        for child in [&amount, &fields, pay.as_ref(), &status, &countdown] {
            root.append_child(child)?;
        }
        target.replace_children_with_node_1(&root);
        Ok(View {
            doc,
            target: target.clone(),
            root,
            amount,
            fields,
            pay,
            status,
            countdown,
        })
    }

    pub fn status(&self, text: &str) {
        let _ = self.status.remove_attribute("data-tone");
        self.status.set_text_content(Some(text));
    }

    /// A problem the customer can fix and retry (declined card, failed 3DS).
    pub fn problem(&self, text: &str) {
        let _ = self.status.set_attribute("data-tone", "error");
        self.status.set_text_content(Some(text));
    }

    /// A problem that ends this checkout (bad link, unreachable service).
    pub fn error(&self, text: &str) {
        let _ = self.root.set_attribute("data-state", "error");
        self.problem(text);
    }

    fn locale(&self) -> String {
        self.doc
            .default_view()
            .map(|w| w.navigator().language().unwrap_or_default())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "en".to_owned())
    }

    pub fn formatted_amount(&self, intent: &PaymentIntent) -> String {
        crate::format::format_amount(&intent.amount, intent.currency.code(), &self.locale())
    }

    pub fn show_intent(&self, intent: &PaymentIntent) -> Result<(), JsValue> {
        self.amount
            .set_text_content(Some(&self.formatted_amount(intent)));
        self.root
            .set_attribute("data-state", intent.status.as_str())?;
        self.root.set_attribute("data-amount", &intent.amount)?;
        self.root
            .set_attribute("data-currency", intent.currency.code())?;
        Ok(())
    }

    /// Shows the pay button with its label, enabled.
    pub fn offer_pay(&self, label: &str) {
        self.pay.set_text_content(Some(label));
        self.pay.set_hidden(false);
        let _ = self.pay.remove_attribute("disabled");
        let _ = self.pay.remove_attribute("aria-busy");
    }

    pub fn busy(&self, text: &str) {
        let _ = self.pay.set_attribute("disabled", "");
        let _ = self.pay.set_attribute("aria-busy", "true");
        self.status(text);
    }

    /// The payment is settled one way or another: no more input.
    pub fn finished(&self) {
        self.pay.set_hidden(true);
        self.fields.replace_children_with_node_0();
        self.countdown("");
    }

    /// A labelled text input in the fields area (replacing what was there).
    pub fn text_input(
        &self,
        id: &str,
        label: &str,
        kind: &str,
        autocomplete: &str,
    ) -> Result<web_sys::HtmlInputElement, JsValue> {
        let wrap = self.doc.create_element("div")?;
        wrap.set_class_name("ec-field");
        let lab = self.doc.create_element("label")?;
        lab.set_attribute("for", id)?;
        lab.set_text_content(Some(label));
        let input: web_sys::HtmlInputElement =
            wasm_bindgen::JsCast::unchecked_into(self.doc.create_element("input")?);
        input.set_id(id);
        input.set_type(kind);
        input.set_attribute("autocomplete", autocomplete)?;
        input.set_required(true);
        wrap.append_child(&lab)?;
        wrap.append_child(&input)?;
        self.fields.replace_children_with_node_1(&wrap);
        Ok(input)
    }

    pub fn countdown(&self, text: &str) {
        self.countdown.set_text_content(Some(text));
    }

    pub fn pay_button(&self) -> &HtmlElement {
        &self.pay
    }

    /// Records how long `mount()` took, for the start-up benchmark, and tells the page.
    pub fn mounted_in(&self, ms: f64) {
        let _ = self
            .root
            .set_attribute("data-mount-ms", &format!("{ms:.2}"));
    }

    /// Dispatches one of the contract's DOM events on the merchant's target, with
    /// `{payment_intent, status}` as detail.
    pub fn dispatch(&self, name: &str, intent_id: &str, status: &str) -> Result<(), JsValue> {
        let detail = js_sys::Object::new();
        js_sys::Reflect::set(&detail, &"payment_intent".into(), &intent_id.into())?;
        js_sys::Reflect::set(&detail, &"status".into(), &status.into())?;
        let init = CustomEventInit::new();
        init.set_bubbles(true);
        init.set_detail(&detail);
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
