//! Asking the Worker until an open outcome is decided: every way to pay ends here
//! when the provider's answer comes later than the customer's click.

use crate::api::{ApiError, Client};
use crate::dom::{sleep_ms, tab_hidden, wait_until_visible};
use crate::model::Intent;
use crate::view::View;

/// How often, and for how long, to ask.
pub struct Every {
    pub first_ms: f64,
    pub max_ms: f64,
    /// Give up after this long (the intent is shown as still open); `None`: never.
    pub for_ms: Option<f64>,
}

pub const OUTCOME: Every = Every {
    first_ms: 2000.0,
    max_ms: 10000.0,
    for_ms: Some(60_000.0),
};

/// Polls `client.intent()` while `open(&intent)` holds: first after `every.first_ms`,
/// then backing off by half each time up to `every.max_ms`, never while the tab is
/// hidden, and not at all once the widget is gone. `tick(ms_now)` runs about once a
/// second in between (a countdown). A failed poll (offline) is simply retried.
pub async fn until(
    view: &View,
    client: &Client,
    mut intent: Intent,
    every: &Every,
    open: impl Fn(&Intent) -> bool,
    tick: impl Fn(f64),
) -> Intent {
    let start = js_sys::Date::now();
    let mut delay = every.first_ms;
    let mut next = start + delay;
    while open(&intent) && !view.gone() {
        if tab_hidden() {
            wait_until_visible().await;
            next = js_sys::Date::now();
        }
        let now = js_sys::Date::now();
        if every.for_ms.is_some_and(|limit| now - start > limit) {
            break;
        }
        tick(now);
        if now >= next {
            if let Ok(i) = client.intent().await {
                intent = i;
            }
            delay = (delay * 1.5).min(every.max_ms);
            next = js_sys::Date::now() + delay;
            continue;
        }
        sleep_ms(((next - now).min(1000.0)) as i32).await;
    }
    intent
}

/// Confirms with a way to pay's `fields`. A confirm whose answer was lost may have
/// gone through: it is never shown as failed — the widget says it is checking and
/// asks the Worker until it answers. A refusal is shown, and the pay button offered
/// again with `again`. `None`: nothing more to do here (refused, or the widget is gone).
pub async fn confirm(
    view: &View,
    client: &Client,
    fields: &[(&str, &str)],
    again: &str,
) -> Option<Intent> {
    match client.confirm(fields).await {
        Ok(intent) => Some(intent),
        Err(ApiError::Unreachable) => {
            view.busy(crate::i18n::Key::UnknownOutcome);
            answer(view, client).await
        }
        Err(e) => {
            view.problem(&e.say(&view.t));
            view.offer_pay(again);
            None
        }
    }
}

/// Asks until the Worker answers at all (after a lost connection, e.g. during a
/// confirm whose outcome is unknown), backing off up to 10 s. `None` once the widget
/// is gone.
pub async fn answer(view: &View, client: &Client) -> Option<Intent> {
    let mut delay = 1000.0_f64;
    while !view.gone() {
        if let Ok(i) = client.intent().await {
            return Some(i);
        }
        if tab_hidden() {
            wait_until_visible().await;
        }
        sleep_ms(delay as i32).await;
        delay = (delay * 1.5).min(10_000.0);
    }
    None
}
