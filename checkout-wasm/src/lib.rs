//! The checkout widget. A classic `<script>` tag or the ES module loads it (see
//! `js/`); `mount` renders into the merchant's target element. Card data never passes
//! through here: the provider's hosted fields own it.
//!
//! `flow` mounts and dispatches to one module per way to pay — `card` (Stripe's
//! hosted fields), `redirect` (Worldpay's hosted page), `wallet` (Cashcloud) — which
//! share `outcome` (what the customer and the page are told) and `poll` (asking the
//! Worker until an open outcome is decided).

mod api;
mod card;
mod dom;
mod flow;
/// Public so the browser test compares the amount table with Intl.
pub mod format;
mod i18n;
/// Public so the fuzz crate reads the Worker's answers with the widget's own code,
/// natively (`fuzz/fuzz_targets/widget_model.rs`).
pub mod model;
mod outcome;
mod poll;
mod redirect;
mod stripe_js;
mod style;
mod view;
mod wallet;

pub use flow::mount;

// The widget runs on one thread (no wasm threads), so a free list without locks is
// sound; it is ~2.5 KB (brotli) smaller than std's dlmalloc.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOC: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
