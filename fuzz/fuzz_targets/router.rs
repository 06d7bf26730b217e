//! The bytes decode through `arbitrary` into a `qoauth_fuzzgen::FuzzRequest` (method, path,
//! query, headers, authorization, content type, body from protocol tokens) that goes
//! through the reference router in process; see `qoauth_fuzzgen::targets::router`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qoauth_fuzzgen::targets::router(data));
