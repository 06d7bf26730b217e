//! Invariants live in `qoauth_fuzzgen::targets::redirect_uri`, shared with the regression test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qoauth_fuzzgen::targets::redirect_uri(data));
