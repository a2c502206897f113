//! Says where a payment (or a card being saved) stands and tells the page, the same
//! for every way to pay.

use shared::intent::IntentStatus;

use crate::i18n::Key;
use crate::model::Intent;
use crate::view::View;

/// Shows `intent` and dispatches the contract's event for it. `true` when nothing more
/// can be done here (paid, reserved, canceled); `false` when the customer may try
/// again or the outcome is still open.
pub fn show(view: &View, intent: &Intent) -> bool {
    let _ = view.show_intent(intent);
    let (id, status) = (intent.id.as_str(), intent.status);
    match status {
        IntentStatus::Succeeded => {
            view.finished();
            view.say(Key::Succeeded);
            // Save-card mode: the card is saved (the Worker read it from Stripe).
            let (event, pm) = if view.t.setup {
                ("checkout:setup_succeeded", intent.payment_method.as_deref())
            } else {
                ("checkout:succeeded", None)
            };
            view.dispatch(event, id, status.as_str(), pm);
            true
        }
        IntentStatus::RequiresCapture => {
            view.finished();
            view.say(Key::Reserved);
            view.dispatch("checkout:requires_capture", id, status.as_str(), None);
            true
        }
        IntentStatus::Canceled => {
            view.finished();
            view.problem(view.t.get(Key::Canceled));
            view.dispatch("checkout:failed", id, status.as_str(), None);
            true
        }
        IntentStatus::RequiresPaymentMethod => {
            if let Some(reason) = &intent.last_error {
                view.problem(&view.t.fill(Key::Declined, "reason", reason));
                view.dispatch("checkout:failed", id, status.as_str(), None);
            } else {
                view.status("");
            }
            false
        }
        IntentStatus::RequiresAction | IntentStatus::Processing => {
            view.say(Key::StillProcessing);
            false
        }
    }
}
