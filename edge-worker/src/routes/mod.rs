//! One file per resource: what a request may say and what it gets back. Provider
//! work goes through `crate::providers`, storage through the object's store.

pub mod balance_transactions;
pub mod checkout;
pub mod events;
pub mod intents;
pub mod merchants;
pub mod providers;
pub mod refunds;
pub mod test_helpers;
pub mod webhook_endpoints;
pub mod webhooks;
