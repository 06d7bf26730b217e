//! PKCE for tests (RFC 7636): a verifier, its S256 challenge, and both at once.
//!
//! Computed here from `sha2` and `base64` directly, not through the harness's
//! `template::s256` or the reference's check, so a test of either compares it with an
//! independent transform instead of with itself.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The S256 challenge of `verifier`: BASE64URL(SHA256(ASCII(verifier))), unpadded
/// (RFC 7636 4.2).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A random verifier of 64 characters from [A-Za-z0-9], inside RFC 7636 4.1's 43 to 128
/// unreserved characters.
pub fn verifier() -> String {
    (0..64)
        .map(|_| {
            let r: u8 = rand::random::<u8>() % 62;
            (match r {
                0..=25 => b'a' + r,
                26..=51 => b'A' + r - 26,
                _ => b'0' + r - 52,
            }) as char
        })
        .collect()
}

/// A fresh verifier and its S256 challenge, as `(verifier, challenge)`.
pub fn pair() -> (String, String) {
    let v = verifier();
    let challenge = s256(&v);
    (v, challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_are_64_unreserved_characters_and_differ() {
        let (a, challenge) = pair();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()), "{a}");
        assert_eq!(challenge, s256(&a));
        assert_ne!(a, verifier());
    }
}
