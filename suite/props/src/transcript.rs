//! Redacted transcripts of counterexamples, in the run result's format: the harness's own
//! transcript redaction, so a property's evidence is redacted exactly as a case's is.

use qoauth_harness::exec::RawExchange;
use qoauth_harness::profile::Profile;
use qoauth_harness::redact::Redactor;
use qoauth_harness::result::Exchange;

/// The exchanges as redacted transcript entries. Properties capture no named values, so
/// only what the exchanges themselves carry is registered.
pub fn redact(r: &mut Redactor, profile: &Profile, raw: &[RawExchange]) -> Vec<Exchange> {
    qoauth_harness::redact::transcript(r, profile, raw, &[])
}
