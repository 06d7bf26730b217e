//! The `oauth2` crate, the Rust ecosystem's generic OAuth 2 client, driven against the
//! reference server the way an application would drive a Qlik Cloud tenant. The tests in
//! `tests/` start the reference in-process over TLS, run every grant the crate can send
//! through its own API, and then check with raw HTTP probes (never through the crate) that
//! the tokens it holds really work.
//!
//! Shared by the test files: [`tenant`] (the server, its endpoints and the fixture's
//! clients), [`browser`] (the user-agent part of the code flow), [`probe`] (the raw
//! liveness checks) and [`qlik_errors`] (the `Errors` envelope as an `oauth2` error type).

pub mod browser;
pub mod probe;
pub mod qlik_errors;
pub mod tenant;
