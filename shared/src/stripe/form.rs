//! `application/x-www-form-urlencoded`, the body format of every Stripe request.
//! The encoder lives in [`crate::http`] (Cashcloud uses it too); these re-exports
//! keep the old paths working.

pub use crate::http::{encode_component, Form};
