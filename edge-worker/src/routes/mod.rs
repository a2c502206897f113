//! One file per resource: what a request may say and what it gets back. Provider
//! work goes through `crate::providers`, storage through the object's store.

pub mod balance_transactions;
pub mod checkout;
pub mod customers;
pub mod events;
pub mod hosted_invoices;
pub mod intents;
pub mod invoices;
pub mod merchants;
pub mod platform_billing;
pub mod providers;
pub mod reconciliations;
pub mod refunds;
pub mod setup_intents;
pub mod subscriptions;
pub mod test_clocks;
pub mod test_helpers;
pub mod webhook_endpoints;
pub mod webhooks;
