//! Invariants live in `qoauth_fuzzgen::targets::token_body`, shared with the regression test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qoauth_fuzzgen::targets::token_body(data));
