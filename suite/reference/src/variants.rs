//! Variants: legitimate behaviours the spec and the RFCs leave to the server, each a choice
//! a correct tenant may make differently from the reference. Where faults break a rule,
//! variants stay inside it, so they are always compiled: a variant is a correct server.
//!
//! The latitude matrix (`qoauth latitude`, `reports/latitude.md`) runs the whole catalogue
//! and the properties against the reference once per variant and proves that each passes:
//! a case that fails a variant demands more than its clause. Each variant names the clause
//! that permits it and quotes it, so a reader can check the permission, not trust it.

use std::fmt;

macro_rules! catalogue {
    ($($variant:ident $name:literal
        behaviour: $behaviour:literal
        clause: $clause:literal
        quote: $quote:literal;)+) => {
        /// One permitted behaviour. The table in `reports/latitude.md` lists them with the
        /// clause that permits each and what the suite reports about it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Variant {
            $($variant,)+
        }

        impl Variant {
            /// Every variant, in catalogue order.
            pub const ALL: &'static [Variant] = &[$(Variant::$variant,)+];

            /// The name `--variant` takes.
            pub fn name(self) -> &'static str {
                match self { $(Variant::$variant => $name,)+ }
            }

            /// What the server does differently, in one line.
            pub fn behaviour(self) -> &'static str {
                match self { $(Variant::$variant => $behaviour,)+ }
            }

            /// The clause that leaves the choice to the server.
            pub fn clause(self) -> &'static str {
                match self { $(Variant::$variant => $clause,)+ }
            }

            /// The clause's own words.
            pub fn quote(self) -> &'static str {
                match self { $(Variant::$variant => $quote,)+ }
            }
        }
    };
}

catalogue! {
    // Refusal statuses.
    Forbidden403 "unauthorized-client-403"
        behaviour: "a client that may not use a grant gets 403 unauthorized_client instead of 401"
        clause: "spec POST /oauth/token 403; RFC 6749 5.2"
        quote: "unauthorized_client: The authenticated client is not authorized to use this authorization grant type.";
    InvalidClientFirst "invalid-client-first"
        behaviour: "a body that cannot be read and carries no client credentials gets 401 invalid_client, not 400"
        clause: "RFC 6749 5.2; spec POST /oauth/token 401"
        quote: "invalid_client: Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method).";
    MissingGrant401 "missing-grant-401"
        behaviour: "a request without its code or refresh token gets 401 instead of 400"
        clause: "spec POST /oauth/token 401; RFC 6749 5.2"
        quote: "invalid_grant: The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is invalid, expired, revoked ...";
    InvalidGrant400 "invalid-grant-400"
        behaviour: "a bad, used or mismatched code or refresh token gets RFC 6749's 400 invalid_grant instead of the spec's 401"
        clause: "RFC 6749 5.2; spec POST /oauth/token 400"
        quote: "The authorization server responds with an HTTP 400 (Bad Request) status code (unless specified otherwise)";
    // Client assertions.
    AssertionKidOptional "assertion-kid-optional"
        behaviour: "a client assertion without a kid, or with an unknown one, is verified with each of the client's keys of its alg"
        clause: "RFC 7515 4.1.4; RFC 7523 3"
        quote: "The \"kid\" (key ID) Header Parameter is a hint indicating which key was used to secure the JWS.";
    AssertionReplayAllowed "assertion-replay-allowed"
        behaviour: "a client assertion's jti is not remembered: the same assertion works until its exp"
        clause: "RFC 7523 3"
        quote: "The authorization server MAY ensure that JWTs are not replayed by maintaining the set of used \"jti\" values";
    AssertionJtiOptional "assertion-jti-optional"
        behaviour: "a client assertion without jti is accepted"
        clause: "RFC 7523 3"
        quote: "The JWT MAY contain a \"jti\" (JWT ID) claim that provides a unique identifier for the token.";
    // Refresh tokens.
    RefreshKeptConfidential "refresh-kept-confidential"
        behaviour: "a confidential client's refresh returns the same refresh token (no rotation)"
        clause: "RFC 6749 6; RFC 9700 4.14.2"
        quote: "The authorization server MAY issue a new refresh token, in which case the client MUST discard the old refresh token";
    RefreshNoneForPublic "refresh-none-for-public"
        behaviour: "public clients get no refresh token"
        clause: "RFC 6749 1.5; RFC 6749 5.1"
        quote: "Issuing a refresh token is optional at the discretion of the authorization server.";
    RefreshWithoutOfflineAccess "refresh-without-offline-access"
        behaviour: "a code redemption returns a refresh token whether or not offline_access was granted"
        clause: "RFC 6749 1.5; RFC 6749 5.1"
        quote: "Issuing a refresh token is optional at the discretion of the authorization server.";
    RotationWithoutFamilyRevocation "rotation-without-family-revocation"
        behaviour: "a rotated refresh token is refused on reuse, but its successor stays valid"
        clause: "RFC 9700 4.14.2"
        quote: "The authorization server cannot determine which party submitted the invalid refresh token, but it will revoke the active refresh token.";
    // Revocation.
    AccessSurvivesRefreshRevocation "access-survives-refresh-revocation"
        behaviour: "revoking a refresh token leaves the access tokens of its grant valid until they expire"
        clause: "RFC 7009 2.1"
        quote: "the authorization server SHOULD also invalidate all access tokens based on the same authorization grant";
    AccessRevocationUnsupported "access-revocation-unsupported"
        behaviour: "revoking an access token answers 200 and the token lives until it expires"
        clause: "RFC 7009 2"
        quote: "Implementations MUST support the revocation of refresh tokens and SHOULD support the revocation of access tokens";
    RevokeIgnoresClient "revoke-ignores-client"
        behaviour: "revoke reads only token and token_type_hint: client credentials are neither checked nor matched to the token"
        clause: "spec POST /oauth/revoke requestBody; RFC 7009 2.1"
        quote: "The client also includes its authentication credentials as described in Section 2.3. of [RFC6749].";
    // Token exchange.
    ExchangeAnyClient "exchange-any-client"
        behaviour: "any exchange client may exchange a live user token issued to another client"
        clause: "RFC 8693 2.1"
        quote: "the authorization server ... determines whether the client is authorized ... at the discretion of the authorization server";
    ExchangeMachineTokens "exchange-machine-tokens"
        behaviour: "a client_credentials access token may be exchanged (the subject is the client's bot user)"
        clause: "RFC 8693 2.1"
        quote: "The authorization server MUST perform the appropriate validation procedures for the indicated token type ... Any additional policy is at the discretion of the authorization server.";
    // Scope.
    ScopeNarrowing "scope-narrowing"
        behaviour: "a scope request beyond the allow list is narrowed to its allowed part, and the answer says which scope it granted"
        clause: "RFC 6749 3.3"
        quote: "The authorization server MAY fully or partially ignore the scope requested by the client ... If the issued access token scope is different from the one requested by the client, the authorization server MUST include the \"scope\" response parameter";
    // Parsing.
    DuplicateFirstWins "duplicate-first-wins"
        behaviour: "a repeated form or query parameter takes its first copy instead of refusing the request"
        clause: "RFC 6749 3.1; RFC 6749 3.2"
        quote: "Request and response parameters MUST NOT be included more than once. (a requirement on the sender)";
    OneAuthMethodUsed "one-auth-method-used"
        behaviour: "of two client authentication methods in one request, the first (Basic, then assertion, then secret) is verified and used"
        clause: "RFC 6749 2.3"
        quote: "The client MUST NOT use more than one authentication method in each request. (a requirement on the client)";
    MediaTypeSniffed "media-type-sniffed"
        behaviour: "a token or revoke body under another or no media type is read as JSON when it starts with '{', else as a form"
        clause: "RFC 6749 4.1.3; spec POST /oauth/token requestBody"
        quote: "The client makes a request to the token endpoint by sending the following parameters using the \"application/x-www-form-urlencoded\" format (a requirement on the client)";
    UserLookupJsonString "user-lookup-json-string"
        behaviour: "a form body may carry user_lookup as one JSON string besides user_lookup[field] and user_lookup[value]"
        clause: "spec POST /oauth/token requestBody"
        quote: "The spec defines user_lookup only as a JSON object; its form encoding is unspecified.";
    // Surface.
    NoDiscovery "no-discovery"
        behaviour: "no authorization server metadata: /.well-known/oauth-authorization-server answers 404"
        clause: "RFC 8414 3"
        quote: "Authorization servers supporting metadata MUST make a JSON document containing metadata ... available (support is optional)";
    Bare405 "bare-405"
        behaviour: "methods the spec does not define get a 405 with Allow and an empty body"
        clause: "RFC 9110 15.5.6"
        quote: "The origin server MUST generate an Allow header field in a 405 response (the spec defines no body for methods it does not list)";
    NoRetryAfter "no-retry-after"
        behaviour: "429 answers carry no Retry-After"
        clause: "RFC 6585 4"
        quote: "The response representations SHOULD include details explaining the condition, and MAY include a Retry-After header";
    ChallengeOptional "challenge-optional"
        behaviour: "an authorization request without code_challenge continues; its code is redeemed without a code_verifier, and refused with one"
        clause: "RFC 7636 4.4.1; RFC 9700 2.1.1"
        quote: "If the server requires Proof Key for Code Exchange (PKCE) by OAuth public clients and the client does not send the \"code_challenge\" in the request, the authorization endpoint MUST return the authorization error response";
    DisablingRevokesGrants "disabling-revokes-grants"
        behaviour: "disabling a user revokes her unredeemed codes and her refresh tokens, so their use gets 400 invalid_grant instead of 403"
        clause: "RFC 6749 5.2"
        quote: "invalid_grant: The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.";
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `--variant` name that is not in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariant(pub String);

impl fmt::Display for UnknownVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown variant {:?}; known: ", self.0)?;
        let names: Vec<&str> = Variant::ALL.iter().map(|v| v.name()).collect();
        f.write_str(&names.join(", "))
    }
}

impl std::error::Error for UnknownVariant {}

impl std::str::FromStr for Variant {
    type Err = UnknownVariant;
    fn from_str(s: &str) -> Result<Variant, UnknownVariant> {
        Variant::ALL
            .iter()
            .copied()
            .find(|v| v.name() == s)
            .ok_or_else(|| UnknownVariant(s.to_owned()))
    }
}

/// The set of variants a server runs with; empty for the reference as it ships.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Variants {
    bits: u64,
}

impl Variants {
    /// A set holding the given variants.
    pub fn of<I: IntoIterator<Item = Variant>>(variants: I) -> Variants {
        let mut set = Variants::default();
        for v in variants {
            set.bits |= 1u64 << (v as u32);
        }
        set
    }

    /// Parses `--variant` names.
    pub fn parse<I: IntoIterator<Item = S>, S: AsRef<str>>(
        names: I,
    ) -> Result<Variants, UnknownVariant> {
        let variants = names
            .into_iter()
            .map(|n| n.as_ref().parse::<Variant>())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Variants::of(variants))
    }

    /// Whether a variant is on.
    #[inline]
    pub fn has(&self, v: Variant) -> bool {
        self.bits & (1u64 << (v as u32)) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// The variants on, in catalogue order.
    pub fn iter(&self) -> impl Iterator<Item = Variant> + '_ {
        Variant::ALL.iter().copied().filter(|v| self.has(*v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_fit_the_set() {
        assert!(Variant::ALL.len() <= 64);
        for v in Variant::ALL {
            assert_eq!(v.name().parse::<Variant>(), Ok(*v));
            assert!(!v.clause().is_empty() && !v.quote().is_empty());
            assert!(Variants::of([*v]).has(*v));
        }
        assert!("no-such".parse::<Variant>().is_err());
        let set = Variants::parse(["bare-405", "no-discovery"]).unwrap();
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![Variant::NoDiscovery, Variant::Bare405]
        );
    }
}
