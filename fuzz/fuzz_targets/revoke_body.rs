//! Invariants live in `qoauth_fuzzgen::targets::revoke_body`, shared with the regression test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qoauth_fuzzgen::targets::revoke_body(data));
