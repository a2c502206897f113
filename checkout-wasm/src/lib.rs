//! The checkout widget. One classic `<script>` tag loads it (see `bootstrap.js`);
//! `mount` renders into the merchant's target element. Card data never passes
//! through here: the provider's hosted fields own it.

mod api;
mod dom;
mod flow;
mod format;
mod redirect;
mod stripe_js;
mod view;
mod wallet;

pub use flow::mount;
pub use format::format_amount;
