//! Worldpay: the customer pays on Worldpay's hosted page (3-D Secure happens there)
//! and comes back to the shop page, where the widget shows the outcome as the Worker
//! learned it from Worldpay — the return itself proves nothing.

use std::rc::Rc;

use shared::api::{NextAction, PaymentIntent};
use shared::intent::IntentStatus;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::api::Client;
use crate::dom::sleep_ms;
use crate::flow::show_outcome;
use crate::view::View;

pub fn start(view: &Rc<View>, client: &Rc<Client>, intent: PaymentIntent) -> Result<(), JsValue> {
    let returned =
        page_url().is_some_and(|u| u.contains(&format!("transactionReference={}", intent.id)));
    match (intent.status, &intent.next_action) {
        (IntentStatus::RequiresAction, Some(NextAction::Redirect { url })) if returned => {
            // Back from the hosted page: wait for Worldpay's word (its notification).
            let (view, client, url) = (view.clone(), client.clone(), url.clone());
            wasm_bindgen_futures::spawn_local(async move {
                if !wait_for_outcome(&view, &client).await {
                    offer_link(&view, &url);
                }
            });
            Ok(())
        }
        (IntentStatus::RequiresAction, Some(NextAction::Redirect { url })) => {
            offer_link(view, url);
            Ok(())
        }
        _ => {
            if intent.last_error.is_some() {
                show_outcome(view, &intent, intent.status);
            } else {
                view.status("");
            }
            offer(view, client, &intent)
        }
    }
}

fn page_url() -> Option<String> {
    web_sys::window().and_then(|w| w.location().href().ok())
}

fn go(url: &str) {
    if let Some(w) = web_sys::window() {
        let _ = w.location().assign(url);
    }
}

/// The pay button: asks the Worker for a hosted page and goes there.
fn offer(view: &Rc<View>, client: &Rc<Client>, intent: &PaymentIntent) -> Result<(), JsValue> {
    let label = format!("Pay {} with Worldpay", view.formatted_amount(intent));
    view.offer_pay(&label);
    let (view2, client) = (view.clone(), client.clone());
    let on_click = Closure::<dyn FnMut()>::new(move || {
        let (view, client, label) = (view2.clone(), client.clone(), label.clone());
        wasm_bindgen_futures::spawn_local(async move {
            view.busy("Taking you to Worldpay's secure payment page…");
            let here = page_url().unwrap_or_default();
            match client.confirm(&[("return_url", &here)]).await {
                Ok(PaymentIntent {
                    next_action: Some(NextAction::Redirect { url }),
                    ..
                }) => go(&url),
                Ok(i) => {
                    show_outcome(&view, &i, i.status);
                }
                Err(m) => {
                    view.problem(&m);
                    view.offer_pay(&label);
                }
            }
        });
    });
    view.pay_button()
        .set_onclick(Some(on_click.as_ref().unchecked_ref()));
    on_click.forget();
    Ok(())
}

/// The hosted page is still open for this payment: a button back to it.
fn offer_link(view: &Rc<View>, url: &str) {
    view.status("Your payment is not finished yet.");
    view.offer_pay("Continue to Worldpay");
    let url = url.to_owned();
    let on_click = Closure::<dyn FnMut()>::new(move || go(&url));
    view.pay_button()
        .set_onclick(Some(on_click.as_ref().unchecked_ref()));
    on_click.forget();
}

/// Polls the intent (every 2 s, for up to a minute) until Worldpay's outcome arrives.
async fn wait_for_outcome(view: &View, client: &Client) -> bool {
    view.busy("Checking the payment with Worldpay…");
    for _ in 0..30 {
        if let Ok(i) = client.intent().await {
            if i.status != IntentStatus::RequiresAction {
                let _ = view.show_intent(&i);
                return show_outcome(view, &i, i.status);
            }
        }
        sleep_ms(2000).await;
    }
    false
}
