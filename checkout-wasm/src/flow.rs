//! `mount` and the dispatch: load the intent, then hand it to the one module that
//! knows its way to pay (card fields, redirect, wallet). Those modules never import
//! from here.

use std::rc::Rc;

use shared::intent::IntentStatus;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::api::Client;
use crate::dom::OwnTime;
use crate::i18n::{Key, Lang, Locale, Strings};
use crate::model::{Json, Setup};
use crate::view::View;

/// Mounts the checkout for one payment intent into `target` — or, for a setup
/// intent's `seti_…_secret_…`, the card field with "Save card" (nothing is charged;
/// `checkout:setup_succeeded` tells the page the card is saved).
///
/// `options`: `{publishableKey, clientSecret, apiBase, locale?, appearance?,
/// checkout?, stringsLang?, strings?, providerScript?}` — `apiBase` is the Worker's
/// origin; `checkout` is the bootstrap's fetch of `…/checkout` (a promise of
/// `{status, body}`) and `strings` its fetch of the table for `stringsLang`, both
/// started in parallel with the wasm; `providerScript` the bootstrap's load of the
/// provider's script that answer named (a promise, resolved once it has run). Resolves once the widget
/// is interactive (the provider's fields are up, or the outcome is shown); rejects
/// with a message otherwise, after dispatching `checkout:failed` on the target.
#[wasm_bindgen]
pub async fn mount(target: web_sys::Element, options: JsValue) -> Result<(), JsValue> {
    let clock = OwnTime::start();
    let opt = |k: &str| options.text_at(k).unwrap_or_default();
    let locale = choose_locale(&target, &opt("locale"));
    let mut table = None;
    if locale.lang != Lang::En && Lang::from_code(&opt("stringsLang")) == Some(locale.lang) {
        if let Some(p) = options
            .field("strings")
            .and_then(|p| p.dyn_into::<js_sys::Promise>().ok())
        {
            clock.pause();
            // A table that cannot load leaves the customer with English, not nothing.
            table = wasm_bindgen_futures::JsFuture::from(p)
                .await
                .ok()
                .and_then(|t| t.as_string());
            clock.resume();
        }
    }
    // A SetupIntent's secret: save-card mode (the same card field, nothing charged).
    let setup = opt("clientSecret").starts_with("seti_");
    let view = Rc::new(View::new(
        &target,
        locale,
        Strings::new(table.as_deref()).for_setup(setup),
        &options.field("appearance").unwrap_or(JsValue::UNDEFINED),
    )?);
    view.say(Key::Loading);
    let fail = |view: &View, message: String| {
        view.error(&message);
        view.dispatch("checkout:failed", "", "error", None);
        Err(JsValue::from_str(&message))
    };
    let Some(client) = Client::new(&opt("apiBase"), opt("publishableKey"), opt("clientSecret"))
    else {
        clock.pause();
        return fail(&view, view.t.get(Key::InvalidLink).to_owned());
    };
    let client = Rc::new(client);
    let prefetched = options
        .field("checkout")
        .and_then(|p| p.dyn_into::<js_sys::Promise>().ok());
    clock.pause();
    let checkout = client.checkout(prefetched).await;
    clock.resume();
    let (intent, setup) = match checkout {
        Ok(c) => c,
        Err(e) => {
            clock.pause();
            return fail(&view, e.say(&view.t));
        }
    };
    view.show_intent(&intent)?;
    use IntentStatus::*;
    match (setup, intent.status) {
        (
            Setup::Stripe {
                js_url,
                publishable_key,
                account,
            },
            RequiresPaymentMethod | RequiresAction,
        ) => {
            let setup = crate::card::Setup {
                js_url,
                publishable_key,
                account,
                loading: options
                    .field("providerScript")
                    .and_then(|p| p.dyn_into::<js_sys::Promise>().ok()),
            };
            crate::card::start(&view, &client, setup, intent.clone(), &clock).await
        }
        (Setup::Cashcloud, RequiresPaymentMethod | Processing) => {
            crate::wallet::start(&view, &client, intent.clone())
        }
        (Setup::Worldpay, RequiresPaymentMethod | RequiresAction) => {
            crate::redirect::start(&view, &client, intent.clone())
        }
        _ => {
            crate::outcome::show(&view, &intent);
        }
    }
    clock.pause();
    view.dispatch("checkout:ready", &intent.id, intent.status.as_str(), None);
    Ok(())
}

/// The `locale` option, else the nearest `lang` around the target (the page's), else
/// the browser's languages.
fn choose_locale(target: &web_sys::Element, option: &str) -> Locale {
    let page = target
        .closest("[lang]")
        .ok()
        .flatten()
        .and_then(|e| e.get_attribute("lang"))
        .unwrap_or_default();
    let browser: Vec<String> = web_sys::window()
        .map(|w| {
            w.navigator()
                .languages()
                .iter()
                .filter_map(|l| l.as_string())
                .collect()
        })
        .unwrap_or_default();
    Locale::choose(
        [option, page.as_str()]
            .into_iter()
            .chain(browser.iter().map(String::as_str)),
    )
}

#[cfg(test)]
mod tests {
    /// The dispatch goes one way: `flow` calls the ways to pay and their helpers; none
    /// of them reaches back into `flow` (which would tie them to `mount`'s state).
    #[test]
    fn no_module_imports_back_from_flow() {
        let modules = [
            ("api.rs", include_str!("api.rs")),
            ("card.rs", include_str!("card.rs")),
            ("dom.rs", include_str!("dom.rs")),
            ("format/mod.rs", include_str!("format/mod.rs")),
            ("i18n.rs", include_str!("i18n.rs")),
            ("model.rs", include_str!("model.rs")),
            ("outcome.rs", include_str!("outcome.rs")),
            ("poll.rs", include_str!("poll.rs")),
            ("redirect.rs", include_str!("redirect.rs")),
            ("stripe_js.rs", include_str!("stripe_js.rs")),
            ("style.rs", include_str!("style.rs")),
            ("view.rs", include_str!("view.rs")),
            ("wallet.rs", include_str!("wallet.rs")),
        ];
        for (name, source) in modules {
            assert!(
                !source.contains("crate::flow") && !source.contains("super::flow"),
                "{name} imports from flow.rs"
            );
        }
        // Every module file is listed above: a new one cannot slip past.
        let listed: Vec<&str> = modules.iter().map(|(n, _)| *n).collect();
        for line in include_str!("lib.rs").lines() {
            let Some(m) = line.trim_start_matches("pub ").strip_prefix("mod ") else {
                continue;
            };
            let m = m.trim_end_matches(';');
            if m != "flow" {
                assert!(
                    listed.contains(&format!("{m}.rs").as_str())
                        || listed.contains(&format!("{m}/mod.rs").as_str()),
                    "{m} is not checked"
                );
            }
        }
    }
}
