//! Profiles for tests that point the suite at a server of their own.

use qoauth_harness::Profile;

/// The reference profile (`cases/profiles/reference.json`: the default fixture's clients,
/// users and keys, and TLS settings that verify certificates) pointed at `base_url`, for a
/// test server that serves the reference or pretends to. Loaded through the harness, as a
/// run loads it, so the test sees what a user's run would.
pub fn reference_at(base_url: &str) -> Profile {
    qoauth_harness::profile::reference_profile()
        .expect("reference profile")
        .with_base_url(base_url)
        .expect("a base URL the reference profile allows")
}
