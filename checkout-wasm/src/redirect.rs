//! Worldpay: the customer pays on Worldpay's hosted page (3-D Secure happens there)
//! and comes back to the shop page, where the widget shows the outcome as the Worker
//! learned it from Worldpay — the return itself proves nothing.

use std::rc::Rc;

use shared::intent::IntentStatus;

use crate::api::Client;
use crate::i18n::Key;
use crate::model::{Intent, NextAction};
use crate::view::View;

pub fn start(view: &Rc<View>, client: &Rc<Client>, intent: Intent) {
    let mark = ["transactionReference=", &intent.id].concat();
    let returned = page_url().is_some_and(|u| contains(&u, &mark));
    match (intent.status, &intent.next_action) {
        (IntentStatus::RequiresAction, Some(NextAction::Redirect { url })) if returned => {
            // Back from the hosted page: wait for Worldpay's word (its notification).
            let (view, client, url) = (view.clone(), client.clone(), url.clone());
            wasm_bindgen_futures::spawn_local(async move {
                view.busy(Key::RedirectChecking);
                if !wait_for_outcome(&view, &client, intent).await {
                    offer_link(&view, &url);
                }
            });
        }
        (IntentStatus::RequiresAction, Some(NextAction::Redirect { url })) => offer_link(view, url),
        _ => {
            crate::outcome::show(view, &intent);
            offer(view, client, &intent);
        }
    }
}

/// `haystack.contains(needle)` without `str`'s two-way searcher (which would add ~2 KB
/// to the wasm for this one look at the page's address).
fn contains(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    (0..h.len()).any(|i| h.get(i..i + n.len()) == Some(n))
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
fn offer(view: &Rc<View>, client: &Rc<Client>, intent: &Intent) {
    let label = view.pay_label(Key::RedirectPay, intent);
    view.offer_pay(&label);
    let (view2, client) = (view.clone(), client.clone());
    view.on_pay(move || {
        let (view, client, label) = (view2.clone(), client.clone(), label.clone());
        view.busy(Key::RedirectGoing);
        wasm_bindgen_futures::spawn_local(async move {
            let here = page_url().unwrap_or_default();
            // A hosted page may have been made for a lost answer: the Worker names it.
            let fields = [("return_url", here.as_str())];
            let intent = crate::poll::confirm(&view, &client, &fields, &label).await;
            match intent {
                Some(Intent {
                    next_action: Some(NextAction::Redirect { url }),
                    ..
                }) => go(&url),
                Some(i) => {
                    let settled = crate::outcome::show(&view, &i);
                    if !settled {
                        view.offer_pay(&label);
                    }
                }
                None => {}
            }
        });
    });
}

/// The hosted page is still open for this payment: a button back to it.
fn offer_link(view: &Rc<View>, url: &str) {
    view.say(Key::RedirectUnfinished);
    view.offer_pay(view.t.get(Key::RedirectContinue));
    let url = url.to_owned();
    view.on_pay(move || go(&url));
}

/// Polls the intent until Worldpay's outcome arrives (up to a minute).
async fn wait_for_outcome(view: &View, client: &Client, intent: Intent) -> bool {
    let intent = crate::poll::until(
        view,
        client,
        intent,
        &crate::poll::OUTCOME,
        |i| i.status == IntentStatus::RequiresAction,
        |_| {},
    )
    .await;
    if intent.status == IntentStatus::RequiresAction {
        return false;
    }
    crate::outcome::show(view, &intent)
}

#[cfg(test)]
mod tests {
    #[test]
    fn contains_finds_what_str_contains_finds() {
        for (h, n) in [
            (
                "https://shop.example/?transactionReference=pi_1",
                "transactionReference=pi_1",
            ),
            (
                "https://shop.example/?transactionReference=pi_12",
                "transactionReference=pi_1",
            ),
            (
                "https://shop.example/?transactionReference=pi_",
                "transactionReference=pi_1",
            ),
            ("", "x"),
            ("ab", "abc"),
            ("ёж", "ж"),
        ] {
            assert_eq!(super::contains(h, n), h.contains(n), "{h} {n}");
        }
    }
}
