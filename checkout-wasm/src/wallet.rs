//! Cashcloud: no card form at all. The customer names their wallet; the Worker sends
//! a money request; the customer approves it in the Cashcloud app with their PIN.
//! The widget shows a live countdown to the request's expiry and polls the intent —
//! at most once every 2 s, backing off, and not at all while the tab is hidden.

use std::rc::Rc;

use shared::api::{NextAction, PaymentIntent};
use shared::intent::IntentStatus;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::api::Client;
use crate::dom::{sleep_ms, tab_hidden, wait_until_visible};
use crate::flow::show_outcome;
use crate::view::View;

const FIRST_POLL_MS: f64 = 2000.0;
const MAX_POLL_MS: f64 = 10000.0;

/// Offers the wallet-username form (or, after a reload mid-approval, goes straight
/// back to waiting).
pub fn start(view: &Rc<View>, client: &Rc<Client>, intent: PaymentIntent) -> Result<(), JsValue> {
    if intent.status == IntentStatus::Processing {
        let (view, client) = (view.clone(), client.clone());
        wasm_bindgen_futures::spawn_local(async move {
            if !wait(&view, &client, intent).await {
                let _ = offer(&view, &client);
            }
        });
        return Ok(());
    }
    view.status("");
    offer(view, client)
}

fn offer(view: &Rc<View>, client: &Rc<Client>) -> Result<(), JsValue> {
    let input = view.text_input(
        "ec-cashcloud-user",
        "Cashcloud username",
        "email",
        "username",
    )?;
    view.offer_pay("Request payment in Cashcloud");
    let (view2, client) = (view.clone(), client.clone());
    let on_click = Closure::<dyn FnMut()>::new(move || {
        let username = input.value().trim().to_owned();
        if username.is_empty() {
            let _ = input.set_attribute("aria-invalid", "true");
            view2.problem("Enter the username of your Cashcloud wallet.");
            let _ = input.focus();
            return;
        }
        let _ = input.remove_attribute("aria-invalid");
        let (view, client) = (view2.clone(), client.clone());
        wasm_bindgen_futures::spawn_local(async move {
            view.busy("Sending the payment request to your Cashcloud app…");
            match client.confirm(&[("cashcloud_username", &username)]).await {
                Ok(intent) => {
                    if !wait(&view, &client, intent).await {
                        let _ = offer(&view, &client);
                    }
                }
                Err(m) => {
                    view.problem(&m);
                    view.offer_pay("Request payment in Cashcloud");
                }
            }
        });
    });
    view.pay_button()
        .set_onclick(Some(on_click.as_ref().unchecked_ref()));
    on_click.forget();
    Ok(())
}

/// Waits for the wallet's answer. `true` when the checkout is over (paid or
/// canceled); `false` when the customer may send a new request.
async fn wait(view: &View, client: &Client, mut intent: PaymentIntent) -> bool {
    let expires_at = match &intent.next_action {
        Some(NextAction::AwaitWalletApproval { expires_at }) => Some(*expires_at as f64 * 1000.0),
        _ => None,
    };
    if intent.status == IntentStatus::Processing {
        view.busy("Approve the payment in your Cashcloud app with your PIN.");
    }
    let mut delay = FIRST_POLL_MS;
    let mut next_poll = js_sys::Date::now() + delay;
    while intent.status == IntentStatus::Processing {
        if tab_hidden() {
            wait_until_visible().await;
            next_poll = js_sys::Date::now();
        }
        let now = js_sys::Date::now();
        if let Some(exp) = expires_at {
            view.countdown(&countdown_text(exp - now));
        }
        if now >= next_poll {
            if let Ok(i) = client.intent().await {
                intent = i;
            }
            delay = (delay * 1.5).min(MAX_POLL_MS);
            next_poll = js_sys::Date::now() + delay;
        }
        if intent.status == IntentStatus::Processing {
            sleep_ms(1000).await;
        }
    }
    view.countdown("");
    let _ = view.show_intent(&intent);
    show_outcome(view, &intent, intent.status)
}

/// `4:05 left to approve`, or that time is up (the Worker decides the outcome).
fn countdown_text(ms_left: f64) -> String {
    if ms_left <= 0.0 {
        return "Time is up: waiting for Cashcloud's answer…".to_owned();
    }
    let s = (ms_left / 1000.0).ceil() as u64;
    format!("{}:{:02} left to approve", s / 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::countdown_text;

    #[test]
    fn countdown_reads_minutes_and_seconds_and_rounds_up() {
        assert_eq!(countdown_text(299_001.0), "5:00 left to approve");
        assert_eq!(countdown_text(65_000.0), "1:05 left to approve");
        assert_eq!(countdown_text(1.0), "0:01 left to approve");
        assert!(countdown_text(0.0).starts_with("Time is up"));
    }
}
