//! The reference implementation of the Qlik Cloud OAuth API (GET /oauth/authorize, POST
//! /oauth/token, POST /oauth/revoke, RFC 8414 discovery), faithful to the vendored spec
//! and, where it is thin, to the RFCs and the recorded behaviour of the real service. The
//! conformance suite runs against it by default, and client developers can use it as a
//! local stand-in for a tenant.
//!
//! Entry points: [`router`] (in-process, no listener), [`spawn`] (a listener in the
//! current runtime), [`serve`] (the `qoauth serve` command). The [`parse`] module holds the
//! pure request parsers, for fuzzing.

// No unsafe code: the borrow checker then rules out touching a stack frame after its
// function returned, which is why local fuzzing can leave ASan's costly
// stack-use-after-return detection off (fuzz/README.md, "Sanitizer options").
#![forbid(unsafe_code)]

// First, so the `fault!` macro is visible in every module below.
#[macro_use]
mod faults;
mod app;
mod authorize;
mod client_auth;
pub mod errors;
pub mod fixture;
#[cfg(feature = "faults")]
mod injection;
pub mod parse;
mod ratelimit;
mod scope;
mod server;
mod store;
mod time_format;
mod token;
mod users;
pub mod variants;
mod varied;

pub use app::{router, AppHandle};
pub use errors::{ApiError, Error, Errors};
pub use faults::Faults;
#[cfg(feature = "faults")]
pub use faults::{Fault, FaultKind, UnknownFault};
pub use fixture::{Fixture, FixtureError, FixtureSpec};
pub use server::{
    serve, spawn, spawn_faulty, spawn_varied, spawn_with, RunningServer, ServeError, ServeOptions,
    Tls,
};
pub use store::StoreStats;
pub use variants::{UnknownVariant, Variant, Variants};
