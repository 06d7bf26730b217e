//! The reference implementation of the Qlik Cloud OAuth API (GET /oauth/authorize, POST
//! /oauth/token, POST /oauth/revoke, RFC 8414 discovery), faithful to the vendored spec
//! and, where it is thin, to the RFCs and the recorded behaviour of the real service. The
//! conformance suite runs against it by default, and client developers can use it as a
//! local stand-in for a tenant.
//!
//! Entry points: [`router`] (in-process, no listener), [`spawn`] (a listener in the
//! current runtime), [`serve`] (the `qoauth serve` command). The [`parse`] module holds the
//! pure request parsers, for fuzzing.

mod app;
mod authorize;
pub mod errors;
mod faults;
pub mod fixture;
pub mod parse;
mod ratelimit;
mod scope;
mod server;
mod store;
mod token;

pub use app::{router, AppHandle};
pub use errors::{ApiError, Error, Errors};
pub use faults::Faults;
pub use fixture::{Fixture, FixtureError, FixtureSpec};
pub use server::{serve, spawn, spawn_with, RunningServer, ServeOptions, Tls};
pub use store::StoreStats;
