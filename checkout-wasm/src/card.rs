//! Card payments through Stripe's hosted field: card → PaymentMethod (in Stripe's
//! iframe) → confirm at the Worker → 3-D Secure if the bank asks → the outcome as the
//! Worker reads it from Stripe.

use std::rc::Rc;

use shared::intent::IntentStatus;
use wasm_bindgen::JsValue;

use crate::api::Client;
use crate::dom::OwnTime;
use crate::i18n::Key;
use crate::model::{Intent, NextAction};
use crate::stripe_js::{CardElement, Look, Stripe};
use crate::view::View;

/// Where Stripe.js comes from and which account it speaks for.
#[derive(Clone)]
pub struct Setup {
    pub js_url: String,
    pub publishable_key: String,
    pub account: Option<String>,
    /// The bootstrap's load of `js_url`, already under way: waited for instead of a
    /// second script element. A retry after it failed loads afresh (`None`).
    pub loading: Option<js_sys::Promise>,
}

/// Loads Stripe.js and offers the card field. When the script cannot load (blocked
/// by an extension, offline) the customer reads why and gets a button to try again.
/// Returns once the widget is interactive.
pub async fn start(
    view: &Rc<View>,
    client: &Rc<Client>,
    setup: Setup,
    intent: Intent,
    clock: &OwnTime,
) {
    clock.pause();
    let loaded = Stripe::load(
        &setup.js_url,
        setup.loading.clone(),
        &setup.publishable_key,
        setup.account.as_deref(),
        view.locale.lang.code(),
    )
    .await;
    clock.resume();
    let Ok(stripe) = loaded else {
        view.problem(view.t.get(Key::ProviderBlocked));
        view.offer_pay(view.t.get(Key::Retry));
        let (view2, client) = (view.clone(), client.clone());
        view.on_pay(move || {
            let setup = Setup {
                loading: None,
                ..setup.clone()
            };
            let (view, client, intent) = (view2.clone(), client.clone(), intent.clone());
            view.busy(Key::Loading);
            wasm_bindgen_futures::spawn_local(async move {
                start(&view, &client, setup, intent, &OwnTime::start()).await;
            });
        });
        return;
    };
    let stripe = Rc::new(stripe);
    let card = Rc::new(stripe.card(&view.fields, &look(view), clock));
    let label = view.pay_label(Key::Pay, &intent);
    // Reloaded in the middle of 3-D Secure: pick the challenge up again.
    let done = if intent.status == IntentStatus::RequiresAction {
        clock.pause();
        let done = settle(view, client, &stripe, intent).await;
        clock.resume();
        done
    } else {
        view.status("");
        false
    };
    if !done {
        offer(view, client, &stripe, &card, label);
    }
}

fn look(view: &View) -> Look {
    let root = view.root();
    // One computed style for the four values (one style recalculation).
    let style = crate::style::Resolved::of(root);
    let var = |p: &str| style.as_ref().and_then(|s| s.get(p));
    Look {
        theme: root.get_attribute("data-theme").unwrap_or_default(),
        variables: js_sys::Reflect::get(&view.appearance, &"variables".into())
            .unwrap_or(JsValue::UNDEFINED),
        text: var("--ec-text"),
        danger: var("--ec-danger"),
        font_family: var("--ec-font"),
        font_size: var("--ec-size"),
    }
}

/// Wires the pay button. A failed attempt leaves it ready for another card.
fn offer(
    view: &Rc<View>,
    client: &Rc<Client>,
    stripe: &Rc<Stripe>,
    card: &Rc<CardElement>,
    label: String,
) {
    view.offer_pay(&label);
    let (view2, client, stripe, card) =
        (view.clone(), client.clone(), stripe.clone(), card.clone());
    view.on_pay(move || {
        let (view, client, stripe, card, label) = (
            view2.clone(),
            client.clone(),
            stripe.clone(),
            card.clone(),
            label.clone(),
        );
        view.busy(Key::CheckingCard);
        wasm_bindgen_futures::spawn_local(async move {
            let pm = match stripe.payment_method(&card, &view.t).await {
                Ok(pm) => pm,
                Err(m) => {
                    view.problem(&m);
                    view.offer_pay(&label);
                    return;
                }
            };
            view.busy(Key::Processing);
            let fields = [("payment_method", pm.as_str())];
            let Some(intent) = crate::poll::confirm(&view, &client, &fields, &label).await else {
                return;
            };
            if !settle(&view, &client, &stripe, intent).await {
                view.offer_pay(&label);
            }
        });
    });
}

/// Drives an intent to an outcome the customer can see. `true` when nothing more
/// can be done here (paid, reserved, canceled); `false` when they may try again.
async fn settle(view: &View, client: &Client, stripe: &Stripe, mut intent: Intent) -> bool {
    if let (
        IntentStatus::RequiresAction,
        Some(NextAction::ThreeDSecure {
            provider_client_secret,
        }),
    ) = (intent.status, &intent.next_action)
    {
        view.busy(Key::ConfirmWithBank);
        // Whatever the dialog says, the Worker asks Stripe for the outcome.
        let _ = stripe.authenticate(provider_client_secret, &view.t).await;
        view.busy(Key::Processing);
        intent = match crate::poll::answer(view, client).await {
            Some(i) => i,
            None => return true,
        };
    }
    let intent = crate::poll::until(
        view,
        client,
        intent,
        &crate::poll::OUTCOME,
        |i| i.status == IntentStatus::Processing,
        |_| {},
    )
    .await;
    crate::outcome::show(view, &intent)
}
