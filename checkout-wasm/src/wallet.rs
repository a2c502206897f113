//! Cashcloud: no card form at all. The customer names their wallet; the Worker sends
//! a money request; the customer approves it in the Cashcloud app with their PIN.
//! The widget shows a live countdown to the request's expiry and polls the intent —
//! at most once every 2 s, backing off, and not at all while the tab is hidden.

use std::rc::Rc;

use shared::intent::IntentStatus;

use crate::api::Client;
use crate::i18n::{Key, Strings};
use crate::model::{Intent, NextAction};
use crate::poll::Every;
use crate::view::View;

const WAIT: Every = Every {
    first_ms: 2000.0,
    max_ms: 10000.0,
    // The Worker's alarm decides an expired request; keep asking until it has.
    for_ms: None,
};

/// Offers the wallet-username form (or, after a reload mid-approval, goes straight
/// back to waiting).
pub fn start(view: &Rc<View>, client: &Rc<Client>, intent: Intent) {
    if intent.status == IntentStatus::Processing {
        let (view, client) = (view.clone(), client.clone());
        wasm_bindgen_futures::spawn_local(async move {
            if !wait(&view, &client, intent).await {
                offer(&view, &client);
            }
        });
        return;
    }
    if !crate::outcome::show(view, &intent) {
        offer(view, client);
    }
}

fn offer(view: &Rc<View>, client: &Rc<Client>) {
    let Ok(input) = view.text_input(
        "ec-cashcloud-user",
        Key::WalletUsername,
        "email",
        "username",
    ) else {
        return;
    };
    view.offer_pay(view.t.get(Key::WalletPay));
    let (view2, client) = (view.clone(), client.clone());
    view.on_pay(move || {
        let username = input.value().trim().to_owned();
        if username.is_empty() {
            let _ = input.set_attribute("aria-invalid", "true");
            view2.problem(view2.t.get(Key::WalletEnterUsername));
            let _ = input.focus();
            return;
        }
        let _ = input.remove_attribute("aria-invalid");
        let (view, client) = (view2.clone(), client.clone());
        view.busy(Key::WalletSending);
        wasm_bindgen_futures::spawn_local(async move {
            // A request that may have gone out is asked about before another is offered.
            let fields = [("cashcloud_username", username.as_str())];
            let again = view.t.get(Key::WalletPay).to_owned();
            let Some(intent) = crate::poll::confirm(&view, &client, &fields, &again).await else {
                return;
            };
            if !wait(&view, &client, intent).await {
                offer(&view, &client);
            }
        });
    });
}

/// Waits for the wallet's answer. `true` when the checkout is over (paid or
/// canceled); `false` when the customer may send a new request.
async fn wait(view: &View, client: &Client, intent: Intent) -> bool {
    let expires_at = match &intent.next_action {
        Some(NextAction::AwaitWalletApproval { expires_at_ms }) => *expires_at_ms,
        _ => None,
    };
    if intent.status == IntentStatus::Processing {
        view.busy(Key::WalletApprove);
    }
    let intent = crate::poll::until(
        view,
        client,
        intent,
        &WAIT,
        |i| i.status == IntentStatus::Processing,
        |now| {
            if let Some(exp) = expires_at {
                view.countdown(&countdown_text(&view.t, exp - now));
            }
        },
    )
    .await;
    view.countdown("");
    crate::outcome::show(view, &intent)
}

/// `4:05 left to approve`, or that time is up (the Worker decides the outcome).
fn countdown_text(t: &Strings, ms_left: f64) -> String {
    if ms_left <= 0.0 {
        return t.get(Key::WalletTimeUp).to_owned();
    }
    let s = (ms_left / 1000.0).ceil() as u64;
    // `m:ss` by hand: `format!` would link core's formatting machinery into the wasm.
    let mut time = decimal(s / 60);
    time.push(':');
    time.push(char::from(b'0' + (s % 60 / 10) as u8));
    time.push(char::from(b'0' + (s % 10) as u8));
    t.fill(Key::WalletLeft, "time", &time)
}

/// `n` in decimal digits.
fn decimal(mut n: u64) -> String {
    let mut digits = vec![];
    loop {
        digits.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits.iter().rev().map(|&d| char::from(d)).collect()
}

#[cfg(test)]
mod tests {
    use super::{countdown_text, decimal};
    use crate::i18n::{Lang, Strings};

    #[test]
    fn countdown_reads_minutes_and_seconds_and_rounds_up() {
        let en = Strings::new(None);
        assert_eq!(countdown_text(&en, 299_001.0), "5:00 left to approve");
        assert_eq!(countdown_text(&en, 65_000.0), "1:05 left to approve");
        assert_eq!(countdown_text(&en, 1.0), "0:01 left to approve");
        assert!(countdown_text(&en, 0.0).starts_with("Time is up"));
        assert_eq!(
            countdown_text(&en, 3_600_000.0 * 30.0),
            "1800:00 left to approve"
        );
        for n in [0, 7, 10, 59, 60, 1234, u64::MAX] {
            assert_eq!(decimal(n), n.to_string());
        }
        let ru = Strings::new(Some(Lang::Ru.table()));
        assert_eq!(
            countdown_text(&ru, 65_000.0),
            "Осталось 1:05 на подтверждение"
        );
    }
}
