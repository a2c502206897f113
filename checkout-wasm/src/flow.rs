//! What the widget does, step by step: load the intent, start the provider's hosted
//! fields, confirm through the Worker, let the provider run 3-D Secure, then read the
//! outcome back from the Worker and tell the page.

use std::rc::Rc;

use shared::api::{NextAction, PaymentIntent, ProviderSetup};
use shared::intent::IntentStatus;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::api::Client;
use crate::stripe_js::{CardElement, Stripe};
use crate::view::View;

/// Mounts the checkout for one payment intent into `target`.
///
/// `api_base` is the Worker's origin (the script's own origin when loaded by tag).
/// Resolves once the widget is interactive (the provider's fields are up, or the
/// outcome is shown); rejects with a message otherwise, after dispatching
/// `checkout:failed` on the target.
#[wasm_bindgen]
pub async fn mount(
    target: web_sys::Element,
    publishable_key: String,
    client_secret: String,
    api_base: String,
) -> Result<(), JsValue> {
    let started = js_sys::Date::now();
    let view = Rc::new(View::new(&target)?);
    view.status("Loading the payment…");
    let fail = |view: &View, message: String| {
        view.error(&message);
        let _ = view.dispatch("checkout:failed", "", "error");
        Err(JsValue::from_str(&message))
    };
    let client = match Client::new(api_base, publishable_key, client_secret) {
        Ok(c) => Rc::new(c),
        Err(m) => return fail(&view, m),
    };
    let checkout = match client.checkout().await {
        Ok(c) => c,
        Err(m) => return fail(&view, m),
    };
    let intent = checkout.payment_intent;
    view.show_intent(&intent)?;
    let result = match (&checkout.provider, intent.status) {
        (
            ProviderSetup::Stripe {
                js_url,
                publishable_key,
                account,
            },
            IntentStatus::RequiresPaymentMethod | IntentStatus::RequiresAction,
        ) => match Stripe::load(js_url, publishable_key, account.as_deref()).await {
            Ok(stripe) => {
                let stripe = Rc::new(stripe);
                let card = Rc::new(stripe.card(&view.fields));
                let label = format!("Pay {}", view.formatted_amount(&intent));
                // Reloaded in the middle of 3-D Secure: pick the challenge up again.
                let done = if intent.status == IntentStatus::RequiresAction {
                    settle(&view, &client, &stripe, intent.clone()).await
                } else {
                    view.status("");
                    false
                };
                if !done {
                    offer_card_payment(&view, &client, &stripe, &card, &label);
                }
                Ok(())
            }
            Err(_) => fail(
                &view,
                "The card form could not be loaded. Reload the page to try again.".into(),
            ),
        },
        (
            ProviderSetup::Cashcloud,
            IntentStatus::RequiresPaymentMethod | IntentStatus::Processing,
        ) => crate::wallet::start(&view, &client, intent.clone()),
        (
            ProviderSetup::Worldpay,
            IntentStatus::RequiresPaymentMethod | IntentStatus::RequiresAction,
        ) => crate::redirect::start(&view, &client, intent.clone()),
        (_, status) => {
            show_outcome(&view, &intent, status);
            Ok(())
        }
    };
    view.mounted_in(js_sys::Date::now() - started);
    let _ = view.dispatch("checkout:ready", &intent.id, intent.status.as_str());
    result
}

/// Wires the pay button: card → PaymentMethod → confirm at the Worker → 3DS if the
/// bank asks → outcome. A failed attempt leaves the button ready for another card.
fn offer_card_payment(
    view: &Rc<View>,
    client: &Rc<Client>,
    stripe: &Rc<Stripe>,
    card: &Rc<CardElement>,
    label: &str,
) {
    view.offer_pay(label);
    let (view2, client, stripe, card) =
        (view.clone(), client.clone(), stripe.clone(), card.clone());
    let label = label.to_owned();
    let on_click = Closure::<dyn FnMut()>::new(move || {
        let (view, client, stripe, card, label) = (
            view2.clone(),
            client.clone(),
            stripe.clone(),
            card.clone(),
            label.clone(),
        );
        wasm_bindgen_futures::spawn_local(async move {
            view.busy("Checking your card…");
            let pm = match stripe.payment_method(&card).await {
                Ok(pm) => pm,
                Err(m) => {
                    view.problem(&m);
                    view.offer_pay(&label);
                    return;
                }
            };
            view.busy("Processing your payment…");
            match client.confirm(&[("payment_method", &pm)]).await {
                Ok(intent) => {
                    if !settle(&view, &client, &stripe, intent).await {
                        view.offer_pay(&label);
                    }
                }
                Err(m) => {
                    view.problem(&m);
                    view.offer_pay(&label);
                }
            }
        });
    });
    let _ = view
        .pay_button()
        .add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref());
    // The button lives as long as the page; so does its handler.
    on_click.forget();
}

/// Drives an intent to an outcome the customer can see. `true` when nothing more
/// can be done here (paid, reserved, canceled); `false` when they may try again.
async fn settle(view: &View, client: &Client, stripe: &Stripe, mut intent: PaymentIntent) -> bool {
    if let (
        IntentStatus::RequiresAction,
        Some(NextAction::ThreeDSecure {
            provider_client_secret,
        }),
    ) = (intent.status, &intent.next_action)
    {
        view.busy("Confirm the payment with your bank…");
        // Whatever the dialog says, the Worker asks Stripe for the outcome.
        let _ = stripe.authenticate(provider_client_secret).await;
        view.busy("Processing your payment…");
        match client.intent().await {
            Ok(i) => intent = i,
            Err(m) => {
                view.problem(&m);
                return false;
            }
        }
    }
    for _ in 0..30 {
        if intent.status != IntentStatus::Processing {
            break;
        }
        crate::dom::sleep_ms(2000).await;
        if let Ok(i) = client.intent().await {
            intent = i;
        }
    }
    let _ = view.show_intent(&intent);
    show_outcome(view, &intent, intent.status)
}

/// Says what happened and tells the page through the contract's DOM events.
pub(crate) fn show_outcome(view: &View, intent: &PaymentIntent, status: IntentStatus) -> bool {
    let id = intent.id.as_str();
    match status {
        IntentStatus::Succeeded => {
            view.finished();
            view.status("Payment received. Thank you!");
            let _ = view.dispatch("checkout:succeeded", id, status.as_str());
            true
        }
        IntentStatus::RequiresCapture => {
            view.finished();
            view.status("Your payment is reserved. You are charged when the order is completed.");
            let _ = view.dispatch("checkout:requires_capture", id, status.as_str());
            true
        }
        IntentStatus::Canceled => {
            view.finished();
            view.problem("This payment was canceled.");
            let _ = view.dispatch("checkout:failed", id, status.as_str());
            true
        }
        IntentStatus::RequiresPaymentMethod => {
            if let Some(e) = &intent.last_error {
                view.problem(&format!("{} You can try again.", e.message));
                let _ = view.dispatch("checkout:failed", id, status.as_str());
            }
            false
        }
        IntentStatus::RequiresAction | IntentStatus::Processing => {
            view.status("Your payment is still being processed. We will confirm it shortly.");
            false
        }
    }
}
