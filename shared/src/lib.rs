//! The checkout's domain crate, shared by the Worker and the widget.
//!
//! Everything here is pure: values in, values out. I/O (HTTP, storage, clocks,
//! randomness) belongs to the callers, which pass in what they read.

pub mod error;
pub mod keys;
pub mod secrets;

pub mod accounts;
/// API.md's request and response bodies.
pub mod api;
pub mod billing;
pub mod cashcloud;
/// Platform fee, fee breakdowns, Cashcloud's fees and limits.
pub mod fees;
/// The described request, form encoding, idempotency keys, our answers for provider
/// trouble and the classification of a provider's answer: shared by every adapter.
pub mod http;
/// The payment-intent state machine and the checks on capture, cancel, refund.
#[macro_use]
pub mod intent;
/// The append-only ledger's arithmetic: an intent's amounts as sums of its entries.
pub mod ledger;
/// Currencies and non-negative amounts.
pub mod money;
/// Our API's query strings: list filters and page sizes.
pub mod query;
/// Our ledger beside the providers' records: what differs.
pub mod reconcile;
pub mod stripe;
/// Our signed events to merchants' servers: types, signature, retries, allowed URLs.
pub mod webhooks;
pub mod wire;
pub mod worldpay;
