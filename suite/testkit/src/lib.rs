//! Test support for every crate of the suite, so that each helper exists once.
//!
//! The tests of the harness, the properties, the reference, remote fuzzing, the detection
//! matrix and the `qoauth` binary all need the same few things: a server on a free
//! loopback port (an axum app, or a raw TCP target that misbehaves below HTTP), a PKCE
//! verifier and its challenge, requests to the reference on its default fixture, a check
//! that a body is the spec's `Errors` envelope, and the reference profile pointed at a
//! test server. Copies of these drift apart (the reference's tests checked an envelope's
//! title, its panic test did not); here they are written and fixed once.
//!
//! - [`server`]: serve an axum app or a raw per-connection handler on 127.0.0.1, from async
//!   or from sync code.
//! - [`pkce`]: a verifier and its S256 challenge (RFC 7636 4.1, 4.2).
//! - [`envelope`]: assert the spec's `Errors` envelope; build one for a stub server.
//! - [`profile`]: the reference profile pointed at a base URL.
//! - [`reference`](mod@reference): the reference on its default fixture: the clients tests name, a server
//!   started for a test, signed client assertions.
//! - [`request`]: the requests the reference's tests send again and again.
//! - [`paths`]: the repository root, scratch directories, and generated files that must
//!   match what is committed.
//!
//! A dev crate (`publish = false`): only `[dev-dependencies]` name it, and its helpers
//! panic with a message instead of returning errors, as a test wants.

pub mod envelope;
pub mod paths;
pub mod pkce;
pub mod profile;
pub mod reference;
pub mod request;
pub mod server;
