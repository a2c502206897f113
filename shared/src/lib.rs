//! The checkout's domain crate, shared by the Worker and the widget.
//!
//! Everything here is pure: values in, values out. I/O (HTTP, storage, clocks,
//! randomness) belongs to the callers, which pass in what they read.

pub mod error;
