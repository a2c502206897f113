//! The widget's DOM. Text from the server goes in through `text_content` only,
//! never as HTML, so nothing an intent holds can script the merchant's page.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CustomEvent, CustomEventInit, Document, Element, HtmlElement};

use crate::i18n::{Key, Locale, Strings};
use crate::model::Intent;

pub struct View {
    doc: Document,
    target: Element,
    root: Element,
    amount: Element,
    pub fields: Element,
    pay: HtmlElement,
    status: Element,
    alert: Element,
    countdown: Element,
    pub t: Strings,
    pub locale: Locale,
    /// The merchant's `appearance` option, handed on to the provider's fields.
    pub appearance: JsValue,
    /// The pay button had focus when it was hidden: the next message takes it, so a
    /// keyboard user is not dropped onto the page's `<body>`.
    focus_next_message: std::cell::Cell<bool>,
}

impl View {
    pub fn new(
        target: &Element,
        locale: Locale,
        t: Strings,
        appearance: &JsValue,
    ) -> Result<View, JsValue> {
        let doc = target
            .owner_document()
            .ok_or_else(|| JsValue::from_str("target is not in a document"))?;
        crate::style::adopt(&doc)?;
        let el = |tag: &str, class: &str| -> Result<Element, JsValue> {
            let e = doc.create_element(tag)?;
            e.set_class_name(class);
            Ok(e)
        };
        let root = el("div", "ec-checkout")?;
        root.set_attribute("data-state", "loading")?;
        root.set_attribute("role", "group")?;
        root.set_attribute("aria-label", t.get(Key::Payment))?;
        root.set_attribute("lang", locale.lang.code())?;
        crate::style::apply(&root, appearance);
        let amount = el("p", "ec-amount")?;
        let fields = el("div", "ec-fields")?;
        let pay: HtmlElement = wasm_bindgen::JsCast::unchecked_into(el("button", "ec-pay")?);
        pay.set_attribute("type", "button")?;
        pay.set_hidden(true);
        // Progress and outcomes are announced politely, problems at once; neither
        // steals focus.
        let status = el("p", "ec-status")?;
        status.set_attribute("role", "status")?;
        let alert = el("p", "ec-alert")?;
        alert.set_attribute("role", "alert")?;
        // Not live: a ticking clock would be read out every second; the status
        // line announces the state changes instead.
        let countdown = el("p", "ec-countdown")?;
        for child in [&amount, &fields, pay.as_ref(), &status, &alert, &countdown] {
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
            alert,
            countdown,
            t,
            locale,
            appearance: appearance.clone(),
            focus_next_message: std::cell::Cell::new(false),
        })
    }

    /// The merchant removed the widget (or called `destroy()`): stop working.
    pub fn gone(&self) -> bool {
        !self.root.is_connected()
    }

    pub fn status(&self, text: &str) {
        self.alert.set_text_content(None);
        self.status.set_text_content(Some(text));
        self.take_focus(&self.status, text);
    }

    fn take_focus(&self, message: &Element, text: &str) {
        if text.is_empty() || !self.focus_next_message.replace(false) {
            return;
        }
        let _ = message.set_attribute("tabindex", "-1");
        let _ = message.unchecked_ref::<HtmlElement>().focus();
    }

    pub fn say(&self, key: Key) {
        self.status(self.t.get(key));
    }

    /// A problem the customer can fix and retry (declined card, failed 3DS).
    pub fn problem(&self, text: &str) {
        self.status.set_text_content(None);
        self.alert.set_text_content(Some(text));
        self.take_focus(&self.alert, text);
    }

    /// A problem that ends this checkout (bad link, unreachable service).
    pub fn error(&self, text: &str) {
        let _ = self.root.set_attribute("data-state", "error");
        self.problem(text);
    }

    pub fn formatted_amount(&self, intent: &Intent) -> String {
        crate::format::format_amount(
            &intent.amount,
            &intent.currency,
            self.locale.lang.code(),
            self.locale.number_region(&intent.currency),
        )
    }

    /// "Pay CHF 12.50" in the customer's language (`key` has an `{amount}` blank);
    /// "Save card" in save-card mode.
    pub fn pay_label(&self, key: Key, intent: &Intent) -> String {
        if self.t.setup {
            return self.t.get(key).to_owned();
        }
        self.t.fill(key, "amount", &self.formatted_amount(intent))
    }

    pub fn show_intent(&self, intent: &Intent) -> Result<(), JsValue> {
        self.root
            .set_attribute("data-state", intent.status.as_str())?;
        // Saving a card charges nothing: no amount to show.
        if !self.t.setup {
            self.amount
                .set_text_content(Some(&self.formatted_amount(intent)));
            self.root.set_attribute("data-amount", &intent.amount)?;
            self.root.set_attribute("data-currency", &intent.currency)?;
        }
        Ok(())
    }

    /// Shows the pay button with its label, ready.
    pub fn offer_pay(&self, label: &str) {
        self.pay.set_text_content(Some(label));
        self.pay.set_hidden(false);
        let _ = self.pay.remove_attribute("aria-disabled");
        let _ = self.pay.remove_attribute("aria-busy");
    }

    /// Work under way: the button stays focusable (a disabled button would drop the
    /// keyboard user's focus to the page, also on return from 3-D Secure) but
    /// announces that it does nothing now; [`View::on_pay`] ignores clicks meanwhile.
    pub fn busy(&self, key: Key) {
        let _ = self.pay.set_attribute("aria-disabled", "true");
        let _ = self.pay.set_attribute("aria-busy", "true");
        self.say(key);
    }

    /// The payment is settled one way or another: no more input.
    pub fn finished(&self) {
        let pay: &Element = self.pay.as_ref();
        let focused = self.doc.active_element();
        self.focus_next_message
            .set(focused.is_some_and(|a| a.is_same_node(Some(pay))));
        self.pay.set_hidden(true);
        self.fields.replace_children_with_node_0();
        self.countdown("");
    }

    /// A labelled text input in the fields area (replacing what was there).
    pub fn text_input(
        &self,
        id: &str,
        label: Key,
        kind: &str,
        autocomplete: &str,
    ) -> Result<web_sys::HtmlInputElement, JsValue> {
        let wrap = self.doc.create_element("div")?;
        wrap.set_class_name("ec-field");
        let lab = self.doc.create_element("label")?;
        lab.set_attribute("for", id)?;
        lab.set_text_content(Some(self.t.get(label)));
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

    /// The pay button's one click handler (replacing any earlier one), ignored while
    /// busy.
    pub fn on_pay(&self, f: impl Fn() + 'static) {
        let pay = self.pay.clone();
        let on_click = Closure::<dyn FnMut()>::new(move || {
            if pay.get_attribute("aria-disabled").as_deref() != Some("true") {
                f();
            }
        });
        self.pay
            .set_onclick(Some(on_click.as_ref().unchecked_ref()));
        // The button lives as long as the widget; so does its handler.
        on_click.forget();
    }

    pub fn root(&self) -> &Element {
        &self.root
    }

    /// Dispatches one of the contract's DOM events on the merchant's target, with
    /// `{payment_intent, status}` as detail (save-card mode: `{setup_intent, status}`,
    /// and the saved `payment_method` once there is one).
    pub fn dispatch(
        &self,
        name: &str,
        intent_id: &str,
        status: &str,
        payment_method: Option<&str>,
    ) {
        if self.gone() {
            return;
        }
        let detail = js_sys::Object::new();
        let set = |k: &str, v: &str| js_sys::Reflect::set(&detail, &k.into(), &v.into());
        let _ = set(
            if self.t.setup {
                "setup_intent"
            } else {
                "payment_intent"
            },
            intent_id,
        );
        let _ = set("status", status);
        if let Some(pm) = payment_method {
            let _ = set("payment_method", pm);
        }
        let init = CustomEventInit::new();
        init.set_bubbles(true);
        init.set_detail(&detail);
        if let Ok(ev) = CustomEvent::new_with_event_init_dict(name, &init) {
            let _ = self.target.dispatch_event(&ev);
        }
    }
}
