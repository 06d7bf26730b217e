//! Invariants live in `qoauth_fuzzgen::targets::authorize_query`, shared with the regression test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qoauth_fuzzgen::targets::authorize_query(data));
